//! `Client::from_env`, in a test binary of its own: it changes the process environment.

mod support;

use support::{session, Reply, Scripted};
use truemed_ext::{BaseUrlProblem, Client, ConfigurationReason, Error};

#[tokio::test]
async fn from_env_reads_key_and_optional_base_url() {
    let server = Scripted::sequence(vec![Reply::json(200, session("qs_1", "pending"))]).await;
    // SAFETY of set_var: this binary has this one test, so no other thread reads the env.
    std::env::remove_var("TRUEMED_API_KEY");
    std::env::remove_var("TRUEMED_BASE_URL");
    let error = Client::from_env().unwrap_err();
    assert!(
        matches!(&error, Error::Configuration(refused)
            if refused.reason() == &ConfigurationReason::MissingApiKey),
        "{error:?}"
    );
    assert!(error.to_string().contains("TRUEMED_API_KEY"), "{error}");

    std::env::set_var("TRUEMED_API_KEY", "sk_from_env");
    assert_eq!(Client::from_env().unwrap().base_url(), "https://api.truemed.com");

    std::env::set_var("TRUEMED_BASE_URL", &server.base_url);
    let client = Client::from_env().unwrap();
    assert_eq!(client.base_url(), server.base_url);
    client.qualification_sessions().get("qs_1").await.unwrap();
    assert_eq!(server.requests()[0].headers["x-truemed-api-key"], "sk_from_env");

    std::env::set_var("TRUEMED_BASE_URL", "http://example.com");
    assert!(matches!(
        Client::from_env(),
        Err(Error::Configuration(refused)) if matches!(
            refused.reason(),
            ConfigurationReason::InvalidBaseUrl { problem: BaseUrlProblem::PlainHttpNotLoopback, .. }
        )
    ));

    // Explicit settings after from_env win.
    std::env::set_var("TRUEMED_BASE_URL", &server.base_url);
    let client = Client::builder().from_env().api_key("sk_explicit").build().unwrap();
    client.qualification_sessions().get("qs_1").await.unwrap();
    assert_eq!(server.requests()[1].headers["x-truemed-api-key"], "sk_explicit");
    std::env::remove_var("TRUEMED_API_KEY");
    std::env::remove_var("TRUEMED_BASE_URL");
}
