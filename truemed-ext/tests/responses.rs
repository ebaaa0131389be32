//! Reading what a server answers, over real HTTP: bodies read to a bound only, odd but
//! readable values decoded, and a value that cannot be read named with its item and field.

mod support;

use std::time::Duration;

use futures::TryStreamExt as _;
use serde_json::json;
use support::{client_to, error_getting_qs_1, session, RawReply, RawServer, Reply, Scripted};
use truemed_ext::{ApiErrorKind, Error, RetryPolicy};

static HTML: &[u8] = &[b'<'; 64 * 1024];

/// A server answering `status` with `copies` of [`HTML`] (64 KiB each) as `content_type`,
/// streamed with or without a content-length.
async fn html_streamed(
    status: u16,
    content_type: &'static str,
    copies: usize,
    with_length: bool,
) -> RawServer {
    RawServer::start(move |_, _| {
        RawReply::streamed(status, content_type, HTML, copies, with_length)
    })
    .await
}

#[tokio::test]
async fn a_huge_error_body_is_read_to_the_bound_only() {
    // 20 MB of HTML answering 500, with and without a content-length.
    for with_length in [true, false] {
        let server = html_streamed(500, "text/html", 320, with_length).await;
        let client = server.client_builder().retry_policy(RetryPolicy::none()).build().unwrap();
        let error = error_getting_qs_1(&client).await;
        assert_eq!(error.api_kind(), Some(ApiErrorKind::Server), "{error:?}");
        assert_eq!(error.body().unwrap().len(), truemed_ext::raw::DEFAULT_MAX_ERROR_BODY);
        // The server could write what fits the socket buffers, never the whole 20 MB.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            server.body_bytes_written() < 8 * 1024 * 1024,
            "{} bytes written",
            server.body_bytes_written()
        );
    }
}

#[tokio::test]
async fn a_success_body_over_the_cap_is_refused() {
    for with_length in [true, false] {
        let server = html_streamed(200, "application/json", 80, with_length).await;
        let client = server.client_builder().max_response_body(1024 * 1024).build().unwrap();
        let error = error_getting_qs_1(&client).await;
        let Error::UndecodableResponse(body) = &error else { panic!("{error:?}") };
        assert!(body.reason().contains("limit of 1048576 bytes"), "{error}");
        assert_eq!(server.count(), 1, "not retried");
        assert!(error.may_have_been_applied(), "a 2xx was sent");
    }
}

#[tokio::test]
async fn odd_but_readable_timestamps_and_amounts_decode() {
    let odd = json!({
        "qualification_session_id": "qs_1", "status": "approved",
        "expires_at": "2026-01-31",
        "created_at": "2025-06-13T16:03:07",
        "lmn_reviewed_at": "2025-06-13T18:03:07.25+02:00",
        "charge_group_created_at": "2025-06-13 16:03:07",
        "stripe_invoice_paid_at": "2025-06-13T16:03:07.473Z",
        "eligible_amount": "12.50",
        "fee": 3
    });
    let server = Scripted::start(move |_, request| match request.uri.path() {
        "/api/v1/qualification_sessions" => Reply::json(
            200,
            json!({"qualification_sessions": [odd.clone(), odd.clone()], "pagination": null}),
        ),
        _ if request.page() > 1 => Reply::json(200, json!({"qualification_sessions": []})),
        _ => Reply::json(200, odd.clone()),
    })
    .await;
    let sessions = client_to(&server.base_url).qualification_sessions();
    let one = sessions.get("qs_1").await.unwrap();
    let utc = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc();
    assert_eq!(one.expires_at.unwrap(), utc("2026-01-31T00:00:00Z"));
    assert_eq!(one.created_at.unwrap(), utc("2025-06-13T16:03:07Z"));
    assert_eq!(one.lmn_reviewed_at.unwrap(), utc("2025-06-13T16:03:07.25Z"));
    assert_eq!(one.charge_group_created_at.unwrap(), utc("2025-06-13T16:03:07Z"));
    assert_eq!(one.eligible_amount.unwrap(), 12.5);
    assert_eq!(one.fee.unwrap(), 3.0);

    // Serialization stays RFC 3339 and numbers.
    let back = serde_json::to_value(&one).unwrap();
    assert_eq!(back["expires_at"], "2026-01-31T00:00:00Z");
    assert_eq!(back["lmn_reviewed_at"], "2025-06-13T16:03:07.250Z");
    assert_eq!(back["eligible_amount"], json!(12.5));

    let page = sessions.list().send().await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[1].eligible_amount.unwrap(), 12.5);
}

#[tokio::test]
async fn an_unreadable_value_names_the_item_and_field_and_keeps_the_status() {
    let server = Scripted::sequence(vec![Reply::json(
        200,
        json!({"qualification_sessions": [
            session("qs_1", "approved"),
            {"qualification_session_id": "qs_2", "status": "approved", "eligible_amount": "twelve"}
        ]}),
    )
    .header("x-request-id", "req_9")])
    .await;
    let error = client_to(&server.base_url)
        .qualification_sessions()
        .list()
        .stream()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    let Error::UndecodableResponse(body) = &error else { panic!("{error:?}") };
    assert_eq!(body.status().as_u16(), 200);
    assert!(
        body.reason().starts_with("qualification_sessions[1].eligible_amount (session qs_2): "),
        "{}",
        body.reason()
    );
    assert!(!error.to_string().contains("twelve"), "{error}");
    assert_eq!(error.request_id(), Some("req_9"));
}
