//! Redirects, over real HTTP: a 3xx is an error, never followed, so nothing reaches a second
//! origin, even through a caller's own `reqwest::Client` that follows redirects.

mod support;

use serde_json::json;
use support::{
    all_text, client_to, client_without_retries_over, session, set_user_id_on_qs_1, Reply, Scripted,
};
use truemed_ext::{ApiErrorKind, Error};

#[tokio::test]
async fn redirects_are_errors_and_nothing_reaches_the_second_origin() {
    let elsewhere = Scripted::sequence(vec![Reply::json(200, session("qs_1", "approved"))]).await;
    for status in [301, 302, 303, 307, 308] {
        let target = format!("{}/steal?token=abc", elsewhere.base_url);
        let server =
            Scripted::sequence(vec![Reply::raw(status, "").header("location", target.clone())])
                .await;
        let client = client_to(&server.base_url);
        let sessions = client.qualification_sessions();

        let error = sessions.get("qs_1").await.unwrap_err();
        let Error::Api(response) = &error else { panic!("{status}: {error:?}") };
        assert_eq!(response.kind(), ApiErrorKind::Redirect);
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(response.location(), Some(target.as_str()));
        assert!(!error.is_retryable());
        assert!(!all_text(&error).contains("token=abc"), "{error}");

        // The update a 303 would have turned into a GET of the session: an error, not Ok.
        let error = sessions.update("qs_1").user_id("u").send().await.unwrap_err();
        assert_eq!(error.api_kind(), Some(ApiErrorKind::Redirect), "{status}: {error:?}");
        assert!(error.idempotency_key().is_some());
        assert!(error.may_have_been_applied(), "a proxy answered: unknown");
        assert_eq!(server.count(), 2, "{status}: a redirect is not retried");
    }
    assert_eq!(elsewhere.count(), 0, "nothing sent to the second origin");
}

#[tokio::test]
async fn a_callers_client_that_follows_redirects_gets_its_response_refused() {
    let elsewhere = Scripted::sequence(vec![Reply::json(
        200,
        json!({"qualification_session_id": "qs_1", "status": "approved"}),
    )])
    .await;
    let server = Scripted::sequence(vec![
        Reply::raw(303, "").header("location", format!("{}/other", elsewhere.base_url))
    ])
    .await;
    let following = reqwest::Client::builder().build().unwrap(); // follows by default
    let client = client_without_retries_over(&server.base_url, following);
    let error = set_user_id_on_qs_1(&client)
        .await
        .expect_err("a followed redirect must not decode as a successful update");
    let Error::Api(response) = &error else { panic!("{error:?}") };
    assert_eq!(response.kind(), ApiErrorKind::Redirect);
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.location().unwrap().ends_with("/other"));
    assert!(error.to_string().contains("redirect::Policy::none()"), "{error}");
}
