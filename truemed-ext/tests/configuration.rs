//! Building a client: configurations it refuses with their typed reason, environments and
//! base URLs, and extreme timeouts that never panic.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{
    error_getting_qs_1, no_sleep, session, set_user_id_on_qs_1, Reply, Scripted,
    ScriptedClient as _,
};
use truemed_ext::{BaseUrlProblem, Client, ConfigurationReason, Error, RetryPolicy};

#[test]
fn building_refuses_a_bad_configuration() {
    let refused = |builder: truemed_ext::ClientBuilder,
                   expected: &str,
                   is: fn(&ConfigurationReason) -> bool| {
        let error = builder.build().unwrap_err();
        let Error::Configuration(refused) = &error else { panic!("{error:?}") };
        assert!(is(refused.reason()), "{error:?}");
        assert!(error.to_string().contains(expected), "{error} lacks {expected}");
    };
    let missing: fn(&ConfigurationReason) -> bool =
        |reason| matches!(reason, ConfigurationReason::MissingApiKey);
    refused(Client::builder(), "no API key", missing);
    refused(Client::builder().api_key(""), "no API key", missing);
    refused(Client::builder().api_key("   "), "no API key", missing);
    refused(Client::builder().api_key("sk_live_abc\n"), "header cannot carry", |reason| {
        matches!(reason, ConfigurationReason::ApiKeyNotHeaderValue)
    });
    refused(
        Client::builder().api_key("k").base_url("http://api.truemed.com"),
        "loopback",
        |reason| {
            matches!(
                reason,
                ConfigurationReason::InvalidBaseUrl {
                    problem: BaseUrlProblem::PlainHttpNotLoopback,
                    ..
                }
            )
        },
    );
    refused(Client::builder().api_key("k").base_url("::not a url::"), "base URL", |reason| {
        matches!(
            reason,
            ConfigurationReason::InvalidBaseUrl { problem: BaseUrlProblem::Unparsable { .. }, .. }
        )
    });
    let error = Client::builder().api_key("sk_live_abc\n").build().unwrap_err();
    assert!(!format!("{error} {error:?}").contains("sk_live_abc"));
}

#[test]
fn each_environment_has_its_base_url_and_an_explicit_base_url_wins() {
    let prod = Client::builder().api_key("k").build().unwrap();
    assert_eq!(prod.base_url(), "https://api.truemed.com");
    let dev = Client::builder()
        .api_key("k")
        .environment(truemed_ext::Environment::Development)
        .build()
        .unwrap();
    assert_eq!(dev.base_url(), "https://dev-api.truemed.com");
    let custom = Client::builder()
        .api_key("k")
        .environment(truemed_ext::Environment::Development)
        .base_url("https://proxy.internal/truemed/")
        .build()
        .unwrap();
    assert_eq!(custom.base_url(), "https://proxy.internal/truemed");
}

#[tokio::test]
async fn extreme_timeouts_never_panic() {
    let server = Scripted::sequence(vec![
        Reply::json(503, json!({})),
        Reply::json(200, session("qs_1", "approved")),
    ])
    .await;
    let client = server
        .builder()
        .timeout(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .retry_policy(
            RetryPolicy::default()
                .with_initial_backoff(Duration::MAX)
                .with_max_backoff(Duration::MAX)
                .with_max_retry_after(Duration::MAX)
                .with_jitter(0.0),
        )
        .sleeper(no_sleep())
        .build()
        .unwrap();
    client.qualification_sessions().get("qs_1").await.unwrap();
    set_user_id_on_qs_1(&client).await.unwrap();

    // A zero timeout fails each attempt at once, as a timeout.
    let client = server
        .builder()
        .timeout(Duration::ZERO)
        .connect_timeout(Duration::ZERO)
        .sleeper(no_sleep())
        .build()
        .unwrap();
    let error = error_getting_qs_1(&client).await;
    assert!(matches!(error, Error::Timeout(_) | Error::Connection(_)), "{error:?}");
}
