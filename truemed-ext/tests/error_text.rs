//! What error text may hold, over real HTTP: never the API key, a query, a success body or
//! personal data; server text bounded and without control, separator or bidi characters; the
//! decoders' own words kept readable.

mod support;
use support::ScriptedClient as _;

use std::time::Duration;

use serde_json::json;
use support::{
    all_text, client_to, client_without_retries, error_getting_qs_1, RawReply, RawServer, Reply,
    Scripted, API_KEY,
};
use truemed_ext::{ApiErrorKind, Client, Error, RetryPolicy};

#[tokio::test]
async fn the_api_key_never_appears_in_debug_display_or_errors() {
    let builder = Client::builder().api_key(API_KEY);
    assert!(!format!("{builder:?}").contains(API_KEY));
    let server = Scripted::sequence(vec![Reply::json(
        401,
        json!({"error": "Unauthorized", "message": "wrong key"}),
    )])
    .await;
    let (client, _) = server.client();
    assert!(!format!("{client:?}").contains(API_KEY));
    assert!(!format!("{:?}", client.qualification_sessions()).contains(API_KEY));
    assert!(!format!("{:?}", client.qualification_sessions().update("qs_1").user_id("u"))
        .contains(API_KEY));
    let error = error_getting_qs_1(&client).await;
    assert_eq!(error.api_kind(), Some(ApiErrorKind::Unauthorized));
    let shown = format!("{error} {error:?} {:?}", error.api());
    assert!(!shown.contains(API_KEY), "{shown}");
    // The key did go out on the wire.
    assert_eq!(server.requests()[0].headers["x-truemed-api-key"], API_KEY);
}

#[tokio::test]
async fn error_text_holds_no_key_query_or_success_body() {
    // A timeout and a broken connection, with a search filter carrying an email.
    let slow = Scripted::sequence(vec![
        Reply::json(200, json!({"qualification_sessions": []})).delay(Duration::from_secs(2))
    ])
    .await;
    let broken = RawServer::start(|_, _| RawReply::new(200, &[], b"")).await;
    for (url, timeout) in [(&slow.base_url, 100), (&broken.base_url, 5_000)] {
        let client = Client::builder()
            .api_key(API_KEY)
            .base_url(url)
            .timeout(Duration::from_millis(timeout))
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let error = client
            .qualification_sessions()
            .list()
            .search("ada@example.com")
            .user_id("ada lovelace")
            .send()
            .await
            .unwrap_err();
        let text = all_text(&error);
        for secret in [API_KEY, "ada", "search=", "lovelace"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        // Display says its own message once; the cause is the source, not repeated.
        let cause = std::error::Error::source(&error).map(|c| c.to_string());
        if let Some(cause) = cause {
            assert!(!error.to_string().contains(&cause), "{error}");
        }
    }

    // A 200 whose body cannot be decoded: the body is reachable, never displayed.
    let server = Scripted::sequence(vec![Reply::json(
        200,
        json!({"qualification_sessions": [
            {"qualification_session_id": "qs_1", "status": "approved", "email": "ada@example.com",
             "user_name": "Ada Lovelace", "created_at": "ada@example.com"}
        ]}),
    )])
    .await;
    let error =
        client_to(&server.base_url).qualification_sessions().list().send().await.unwrap_err();
    let text = all_text(&error);
    assert!(!text.contains("ada") && !text.contains("Lovelace"), "{text}");
    assert!(error.body().unwrap().contains("Ada Lovelace"));

    let error = Client::builder()
        .api_key(API_KEY)
        .base_url("https://user:hunter2@proxy.example.com/?token=t0ken")
        .build()
        .unwrap_err();
    let text = all_text(&error);
    assert!(!text.contains("hunter2") && !text.contains("t0ken"), "{text}");
}

#[tokio::test]
async fn huge_request_ids_and_control_characters_are_bounded_in_error_text() {
    let id = format!("req_{}", "x".repeat(10_000));
    let server = Scripted::sequence(vec![Reply::json(
        400,
        json!({"error": "ValidationError", "message": format!("bad\n\u{1b}[31mred {}", "m".repeat(5000))}),
    )
    .header("x-request-id", id.clone())])
    .await;
    let error = error_getting_qs_1(&client_to(&server.base_url)).await;
    let text = error.to_string();
    assert!(text.len() < 1_000, "{} bytes", text.len());
    assert!(!text.contains('\n') && !text.contains('\u{1b}'), "{text:?}");
    assert_eq!(error.request_id().unwrap().len(), 128);
    assert!(error.message().unwrap().len() > 5000, "the whole message stays reachable");
}

#[tokio::test]
async fn a_mistyped_value_in_a_success_body_shows_in_no_error_text() {
    let bodies = [
        r#"{"qualification_session_id":"qs_1","status":"pending","user_name":5551234567}"#,
        r#"{"qualification_session_id":"qs_1","status":"pending","user_name":-5551234567}"#,
        r#"{"qualification_session_id":"qs_1","status":"pending","user_name":5551234567.25}"#,
        r#"{"qualification_session_id":"qs_1","status":"pending","created_at":5551234567}"#,
        r#"{"qualification_session_id":"qs_1","status":"pending","email":["ada@example.com"],"user_name":{"5551234567":1}}"#,
        r#"{"qualification_session_id":"qs_1","status":"pending","eligible_amount":"5551234567x"}"#,
        r#"{"qualification_session_id":"qs_1","status":"pending","5551234567":[1,}"#,
        r#"{"qualification_session_id":"qs_1","status":"pending","ada@example.com":[1,}"#,
    ];
    for body in bodies {
        let server = Scripted::sequence(vec![Reply::raw(200, body)
            .header("content-type", "application/json")
            .header("x-request-id", "req_7")])
        .await;
        let error = error_getting_qs_1(&client_to(&server.base_url)).await;
        let Error::UndecodableResponse(undecodable) = &error else { panic!("{body}: {error:?}") };
        let text = all_text(&error);
        for value in ["5551234567", "555123", "ada@example.com", "ada"] {
            assert!(!text.contains(value), "{body}: {value} in {text}");
            assert!(!undecodable.reason().contains(value), "{body}: {value}");
        }
        assert_eq!(error.request_id(), Some("req_7"));
        assert_eq!(undecodable.body(), body, "the body stays reachable");
    }

    // The field path and the kind of problem stay.
    let server = Scripted::sequence(vec![Reply::raw(200, bodies[0])]).await;
    let error = error_getting_qs_1(&client_to(&server.base_url)).await;
    let Error::UndecodableResponse(undecodable) = &error else { panic!("{error:?}") };
    assert!(
        undecodable
            .reason()
            .starts_with("user_name (session qs_1): invalid type: integer `…`, expected a string"),
        "{}",
        undecodable.reason()
    );
}

/// The library's own words keep their numbers ("RFC 3339", "the years 0000 to 9999"):
/// only what serde quotes from the body is redacted.
#[tokio::test]
async fn a_decoders_own_words_stay_readable_in_error_text() {
    for (created_at, expected) in [
        (
            "ada@example.com",
            "created_at (session qs_1): not a timestamp: expected RFC 3339, a date and time without offset, or a date, in the years 0000 to 9999",
        ),
        (
            "9999-12-31T23:00:00-05:00",
            "created_at (session qs_1): timestamp out of range: only the years 0000 to 9999 (in UTC) are accepted",
        ),
    ] {
        let body = json!({"qualification_session_id": "qs_1", "status": "pending", "created_at": created_at});
        let server = Scripted::sequence(vec![Reply::json(200, body)]).await;
        let error = error_getting_qs_1(&client_to(&server.base_url)).await;
        let Error::UndecodableResponse(undecodable) = &error else {
            panic!("{error:?}")
        };
        assert!(
            undecodable.reason().starts_with(expected),
            "{}",
            undecodable.reason()
        );
        assert!(error.to_string().contains(expected), "{error}");
        assert!(!all_text(&error).contains("ada"), "{error}");
    }
}

/// Characters a server's text must not bring into error text: line and paragraph
/// separators, bidi controls and other invisible format characters, C0 and C1 controls.
const UNPRINTABLE: [char; 14] = [
    '\u{2028}', '\u{2029}', '\u{85}', '\u{202E}', '\u{202A}', '\u{2066}', '\u{2069}', '\u{200E}',
    '\u{200F}', '\u{61C}', '\u{200B}', '\u{FEFF}', '\u{1b}', '\n',
];

#[tokio::test]
async fn separators_and_bidi_controls_from_a_server_reach_no_error_text() {
    let message = "refused\u{2028}forged line\u{2029}\u{85}\u{202E}txt.exe\u{202C} \u{2066}x\u{2069}\u{200E}\u{200F}\u{61C}\u{200B}\u{FEFF}\u{1b}[31m\nend";
    let replies = [
        Reply::json(400, json!({"error": "ValidationError", "message": message})),
        Reply::json(
            404,
            json!({"error": {"type": "x\u{202E}y", "code": "c\u{2028}d", "message": message}}),
        ),
        Reply::json(503, json!({"detail": message})),
        Reply::json(422, json!({"error": format!("E{message}")})),
        Reply::json(600, json!({"message": message})),
    ];
    for reply in replies {
        let status = reply.status;
        let server = Scripted::sequence(vec![reply.header("x-request-id", "req_\t1")]).await;
        let error = error_getting_qs_1(&client_without_retries(&server.base_url)).await;
        let text = all_text(&error);
        for c in UNPRINTABLE.into_iter().chain(['\t']) {
            assert!(!text.contains(c), "{status}: {:?} in {text:?}", c);
        }
        assert!(text.contains("refused forged line"), "{status}: {text}");
        assert!(error.body().unwrap().contains('\u{202E}'), "the body is as sent");
    }
}
