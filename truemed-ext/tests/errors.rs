//! How each answer and each failure becomes an [`Error`](truemed_ext::Error), over real
//! HTTP: every documented API error's kind, the accessors and `Display`, timeouts and refused
//! connections.

mod support;
use support::ScriptedClient as _;

use std::time::Duration;

use serde_json::json;
use support::{
    client_without_retries, error_getting_qs_1, error_getting_qs_1_under, session, Reply, Scripted,
};
use truemed_ext::{ApiErrorKind, Error, RetryPolicy};

async fn error_for(reply: Reply) -> Error {
    let server = Scripted::sequence(vec![reply]).await;
    let (client, _) = server.client();
    let error = error_getting_qs_1_under(&client, RetryPolicy::none()).await;
    assert_eq!(server.count(), 1);
    error
}

/// A reply with the documented error body: an `error` name and a `message`.
fn error_reply(status: u16, error: &str, message: &str) -> Reply {
    Reply::json(status, json!({"error": error, "message": message}))
}

#[tokio::test]
async fn each_api_error_maps_to_its_variant() {
    let cases: Vec<(Reply, &str)> = vec![
        (error_reply(400, "ValidationError", "page must be an integer"), "validation"),
        (error_reply(401, "Unauthorized", "bad key"), "unauthorized"),
        (error_reply(404, "NotFound", "no such session"), "not_found"),
        (Reply::json(405, json!({"error": "MethodNotAllowed"})), "method_not_allowed"),
        (error_reply(409, "user_id_already_set", "set"), "user_id_already_set"),
        (Reply::json(409, json!({"code": "user_id_already_set"})), "user_id_already_set"),
        (
            Reply::json(400, json!({"error": "ValidationError", "code": "user_id_already_set"})),
            "user_id_already_set",
        ),
        (
            Reply::json(429, json!({"error": "RateLimited"})).header("retry-after", "2"),
            "rate_limited",
        ),
        (Reply::json(500, json!({"error": "InternalServerError"})), "server_error"),
        (Reply::raw(502, "<html><body>Bad Gateway</body></html>"), "server_error"),
        (Reply::raw(503, ""), "server_error"),
        (Reply::json(504, json!({})), "server_error"),
        (Reply::json(501, json!({"error": "NotImplemented"})), "not_implemented"),
        (Reply::json(403, json!({"error": "Forbidden"})), "unexpected_status"),
        (Reply::raw(400, r#"{"error": "ValidationEr"#), "validation"),
        (Reply::raw(200, "not json at all"), "undecodable_response"),
        (Reply::raw(200, r#"{"qualification_session_id": "qs_1"}"#), "undecodable_response"),
    ];
    for (reply, expected) in cases {
        let status = reply.status;
        let error = error_for(reply).await;
        assert_eq!(error.kind_name(), expected, "{status}: {error:?}");
        assert_eq!(error.status().map(|s| s.as_u16()), Some(status), "{error:?}");
        assert!(!error.to_string().is_empty());
    }
}

#[tokio::test]
async fn an_api_errors_accessors_and_display_show_what_the_server_said() {
    let error = error_for(
        error_reply(404, "NotFound", "no such session").header("x-request-id", "req_abc"),
    )
    .await;
    let Error::Api(response) = &error else { panic!("{error:?}") };
    assert_eq!(response.kind(), ApiErrorKind::NotFound);
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(error.code(), Some("NotFound"));
    assert_eq!(error.message(), Some("no such session"));
    assert_eq!(error.request_id(), Some("req_abc"));
    assert!(error.body().unwrap().contains("no such session"));
    assert!(!error.is_retryable());
    let text = error.to_string();
    assert!(
        text.contains("404") && text.contains("no such session") && text.contains("req_abc"),
        "{text}"
    );

    let error =
        error_for(Reply::raw(502, "<html>Bad Gateway</html>").header("request-id", "r2")).await;
    assert_eq!(error.body(), Some("<html>Bad Gateway</html>"));
    assert_eq!(error.request_id(), Some("r2"));
    assert!(error.is_retryable());

    let error = error_for(Reply::raw(200, &"x".repeat(5000))).await;
    let Error::UndecodableResponse(undecodable) = &error else { panic!("{error:?}") };
    assert_eq!(undecodable.status().as_u16(), 200);
    assert_eq!(undecodable.body().len(), 5000, "the body stays reachable");
    assert!(!error.to_string().contains("xxx"), "no 2xx body in Display: {error}");
    assert!(!format!("{error:?}").contains("xxx"), "nor in Debug: {error:?}");

    let error = error_for(Reply::json(429, json!({})).header("retry-after", "7")).await;
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    assert!(error.to_string().contains("wait 7 s"), "{error}");
}

#[tokio::test]
async fn a_huge_error_body_is_bounded_in_the_error() {
    let error = error_for(Reply::raw(418, &"y".repeat(1_000_000))).await;
    assert!(error.body().unwrap().len() <= truemed_ext::raw::DEFAULT_MAX_ERROR_BODY + 3);
}

#[tokio::test]
async fn a_timeout_is_a_timeout_error_and_is_retried() {
    let server = Scripted::sequence(vec![
        Reply::json(200, session("qs_1", "pending")).delay(Duration::from_millis(800)),
        Reply::json(200, session("qs_1", "pending")),
    ])
    .await;
    let build = |policy| {
        server.builder().timeout(Duration::from_millis(150)).retry_policy(policy).build().unwrap()
    };
    let error = build(RetryPolicy::none()).qualification_sessions().get("qs_1").await.unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    assert!(error.is_retryable());
    let ok = build(RetryPolicy::default().with_initial_backoff(Duration::from_millis(1)))
        .qualification_sessions()
        .get("qs_1")
        .await;
    assert!(ok.is_ok(), "{ok:?}");
}

#[tokio::test]
async fn a_refused_connection_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = client_without_retries(&url);
    let error = error_getting_qs_1(&client).await;
    assert!(matches!(error, Error::Connection(_)), "{error:?}");
    assert!(error.is_retryable());
    assert!(error.to_string().starts_with("could not connect to Truemed"), "{error}");
    assert!(!error.may_have_been_applied(), "nothing was sent");
    let cause = std::error::Error::source(&error).expect("reqwest's error is the source");
    assert!(!error.to_string().contains(&cause.to_string()), "cause not repeated");
}
