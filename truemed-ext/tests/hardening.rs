//! Misbehaving servers and proxies, over real HTTP: redirects, absurd headers, huge
//! bodies, lost responses, misleading 409s, odd-but-readable values, page-size caps
//! without pagination, sustained outages. Nothing may panic, stall, leak a secret or reach
//! a second origin.

mod support;

use std::future::IntoFuture as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::json;
use support::{session, RawReply, RawServer, Reply, Scripted, API_KEY};
use truemed_ext::{
    ApiErrorKind, Client, Error, IdempotencyKey, InvalidRequestReason, RetryBudget, RetryPolicy,
};

fn no_sleep() -> truemed_ext::Sleeper {
    truemed_ext::Sleeper::from_fn(|_| Box::pin(async {}))
}

fn client_to(base_url: &str) -> Client {
    Client::builder()
        .api_key(API_KEY)
        .base_url(base_url)
        .sleeper(no_sleep())
        .build()
        .unwrap()
}

/// Everything a user could print of an error: Display, Debug and the source chain.
fn all_text(error: &Error) -> String {
    let mut text = format!("{error} {error:?}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    text
}

// ---------------------------------------------------------------- redirects

#[tokio::test]
async fn redirects_are_errors_and_nothing_reaches_the_second_origin() {
    let elsewhere = Scripted::sequence(vec![Reply::json(200, session("qs_1", "approved"))]).await;
    for status in [301, 302, 303, 307, 308] {
        let target = format!("{}/steal?token=abc", elsewhere.base_url);
        let server = Scripted::sequence(vec![
            Reply::raw(status, "").header("location", target.clone())
        ])
        .await;
        let client = client_to(&server.base_url);
        let sessions = client.qualification_sessions();

        let error = sessions.get("qs_1").await.unwrap_err();
        let Error::Api(response) = &error else {
            panic!("{status}: {error:?}")
        };
        assert_eq!(response.kind(), ApiErrorKind::Redirect);
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(response.location(), Some(target.as_str()));
        assert!(!error.is_retryable());
        assert!(!all_text(&error).contains("token=abc"), "{error}");

        // The update a 303 would have turned into a GET of the session: an error, not Ok.
        let error = sessions
            .update("qs_1")
            .user_id("u")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error.api_kind(),
            Some(ApiErrorKind::Redirect),
            "{status}: {error:?}"
        );
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
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(&server.base_url)
        .http_client(following)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let error = client
        .qualification_sessions()
        .update("qs_1")
        .user_id("u")
        .send()
        .await
        .expect_err("a followed redirect must not decode as a successful update");
    let Error::Api(response) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(response.kind(), ApiErrorKind::Redirect);
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.location().unwrap().ends_with("/other"));
    assert!(
        error.to_string().contains("redirect::Policy::none()"),
        "{error}"
    );
}

// ---------------------------------------------------------------- absurd headers

#[tokio::test]
async fn absurd_retry_headers_never_panic_nor_stall() {
    let values: Vec<&[u8]> = vec![
        b"retry-after-ms: 1e30",
        b"retry-after-ms: inf",
        b"retry-after-ms: NaN",
        b"retry-after-ms: -5",
        b"retry-after-ms: 99999999999999999999999999",
        b"retry-after: 99999999999999999999999999",
        b"retry-after: 1e308",
        b"retry-after: -1",
        b"retry-after: Fri, 31 Dec 9999 23:59:59 GMT",
        b"retry-after: \xff\xfe garbage",
        b"retry-after-ms: \xc3\x28",
        b"x-request-id: \xff\xff\xff",
    ];
    for line in values {
        for status in [429, 503] {
            let headers = [line];
            let server =
                RawServer::start(move |_, _| RawReply::new(status, &headers, br#"{"error":"X"}"#))
                    .await;
            let client = server.client_builder().build().unwrap();
            let outcome = tokio::time::timeout(
                Duration::from_secs(10),
                client.qualification_sessions().get("qs_1").into_future(),
            )
            .await
            .expect("no stall");
            let error = outcome.unwrap_err();
            assert_eq!(error.status().map(|s| s.as_u16()), Some(status));
            // Attempts: at most the default 3, and 1 when the wait is over the cap.
            assert!(server.count() <= 3, "{}", String::from_utf8_lossy(line));

            // The same in a listing, whose pages run in tasks of their own.
            let listed: Vec<_> = client
                .qualification_sessions()
                .list()
                .pages()
                .collect()
                .await;
            assert!(matches!(listed.as_slice(), [Err(_)]), "{listed:?}");
        }
    }
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
    let error = client_to(&server.base_url)
        .qualification_sessions()
        .get("qs_1")
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.len() < 1_000, "{} bytes", text.len());
    assert!(!text.contains('\n') && !text.contains('\u{1b}'), "{text:?}");
    assert_eq!(error.request_id().unwrap().len(), 128);
    assert!(
        error.message().unwrap().len() > 5000,
        "the whole message stays reachable"
    );
}

// ---------------------------------------------------------------- bounded reads

static HTML: &[u8] = &[b'<'; 64 * 1024];

#[tokio::test]
async fn a_huge_error_body_is_read_to_the_bound_only() {
    // 20 MB of HTML answering 500, with and without a content-length.
    for with_length in [true, false] {
        let server = RawServer::start(move |_, _| {
            RawReply::streamed(500, "text/html", HTML, 320, with_length)
        })
        .await;
        let client = server
            .client_builder()
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let error = client
            .qualification_sessions()
            .get("qs_1")
            .await
            .unwrap_err();
        assert_eq!(error.api_kind(), Some(ApiErrorKind::Server), "{error:?}");
        assert_eq!(
            error.body().unwrap().len(),
            truemed_ext::raw::DEFAULT_MAX_ERROR_BODY
        );
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
        let server = RawServer::start(move |_, _| {
            RawReply::streamed(200, "application/json", HTML, 80, with_length)
        })
        .await;
        let client = server
            .client_builder()
            .max_response_body(1024 * 1024)
            .build()
            .unwrap();
        let error = client
            .qualification_sessions()
            .get("qs_1")
            .await
            .unwrap_err();
        let Error::UndecodableResponse(body) = &error else {
            panic!("{error:?}")
        };
        assert!(body.reason().contains("limit of 1048576 bytes"), "{error}");
        assert_eq!(server.count(), 1, "not retried");
        assert!(error.may_have_been_applied(), "a 2xx was sent");
    }
}

// ---------------------------------------------------------------- idempotency keys

mod with_the_fake {
    use super::*;
    use truemed_ext::Operation;
    use truemed_fake::{FakeTruemed, Fault, SessionSeed};

    #[tokio::test]
    async fn after_a_lost_response_the_same_key_applies_the_update_once() {
        let fake = FakeTruemed::start().await;
        fake.seed(SessionSeed::new("qs_1"));
        fake.inject(Fault::lose_response().on(Operation::Update));
        let client = fake
            .client_builder()
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let update = || {
            client
                .qualification_sessions()
                .update("qs_1")
                .user_id("u_1")
        };

        let error = update().send().await.unwrap_err();
        assert!(matches!(error, Error::Connection(_)), "{error:?}");
        assert!(error.may_have_been_applied());
        let key = error
            .idempotency_key()
            .cloned()
            .expect("the key is carried");
        assert_eq!(fake.stats().updates_applied, 1, "the fake applied it");

        let outcome = update().idempotency_key(key.clone()).send().await.unwrap();
        assert_eq!(outcome.idempotency_key, key);
        let stats = fake.stats();
        assert_eq!((stats.updates_applied, stats.idempotent_replays), (1, 1));
    }

    #[tokio::test]
    async fn exhausted_retries_keep_the_key_and_say_it_may_have_applied() {
        let fake = FakeTruemed::start().await;
        fake.seed(SessionSeed::new("qs_1"));
        fake.inject(Fault::lose_response().on(Operation::Update));
        fake.inject(Fault::status(503).times(5).on(Operation::Update));
        let client = fake
            .client_builder()
            .retry_policy(FakeTruemed::fast_retry_policy().with_max_retries(2))
            .build()
            .unwrap();
        let key = IdempotencyKey::new("job-7").unwrap();
        let error = client
            .qualification_sessions()
            .update("qs_1")
            .user_id("u_1")
            .idempotency_key(key.clone())
            .send()
            .await
            .unwrap_err();
        assert_eq!(error.api_kind(), Some(ApiErrorKind::Server), "{error:?}");
        assert_eq!(error.idempotency_key(), Some(&key));
        assert!(
            error.may_have_been_applied(),
            "the first attempt's response was lost"
        );
    }
}

#[tokio::test]
async fn errors_say_whether_the_update_may_have_been_applied() {
    let cases = [
        (Reply::json(400, json!({"error": "ValidationError"})), false),
        (Reply::json(404, json!({"error": "NotFound"})), false),
        (
            Reply::json(429, json!({})).header("retry-after", "3600"),
            false,
        ),
        (
            Reply::json(409, json!({"error": "user_id_already_set"})),
            false,
        ),
        (Reply::json(500, json!({})), true),
        (Reply::raw(502, "<html>"), true),
    ];
    for (reply, applied) in cases {
        let status = reply.status;
        let server = Scripted::sequence(vec![reply]).await;
        let client = Client::builder()
            .api_key(API_KEY)
            .base_url(&server.base_url)
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let error = client
            .qualification_sessions()
            .update("qs_1")
            .user_id("u")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error.may_have_been_applied(),
            applied,
            "{status}: {error:?}"
        );
        let sent: serde_json::Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
        assert_eq!(
            error.idempotency_key().map(IdempotencyKey::as_str),
            sent["idempotency_key"].as_str(),
            "{status}"
        );
    }
    // Refused before sending: no key was sent.
    let refused = client_to("http://127.0.0.1:9")
        .qualification_sessions()
        .update("..")
        .send()
        .await
        .unwrap_err();
    assert!(!refused.may_have_been_applied());
    assert_eq!(refused.idempotency_key(), None);
}

#[tokio::test]
async fn a_timeout_then_a_4xx_still_may_have_been_applied() {
    let server = Scripted::sequence(vec![
        Reply::json(
            200,
            json!({"qualification_session_id": "qs_1", "status": "pending"}),
        )
        .delay(Duration::from_secs(2)),
        Reply::json(409, json!({"error": "user_id_already_set"})),
    ])
    .await;
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(&server.base_url)
        .timeout(Duration::from_millis(200))
        .sleeper(no_sleep())
        .build()
        .unwrap();
    let error = client
        .qualification_sessions()
        .update("qs_1")
        .user_id("u")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error.api_kind(),
        Some(ApiErrorKind::UserIdAlreadySet),
        "{error:?}"
    );
    assert!(
        error.may_have_been_applied(),
        "the timed-out attempt may have applied it"
    );
}

// ---------------------------------------------------------------- paths and filters

#[tokio::test]
async fn dot_segments_empty_ids_and_backslashes_are_refused_before_sending() {
    let server = Scripted::sequence(vec![Reply::json(200, session("x", "approved"))]).await;
    let sessions = client_to(&server.base_url).qualification_sessions();
    let reason = |error: &Error| match error {
        Error::InvalidRequest(refused) => Some(refused.reason().clone()),
        _ => None,
    };
    for (id, expected) in [
        ("", InvalidRequestReason::EmptyId),
        (".", InvalidRequestReason::DotSegmentId),
        ("..", InvalidRequestReason::DotSegmentId),
        ("a\\..\\b", InvalidRequestReason::BackslashInId),
        ("\\", InvalidRequestReason::BackslashInId),
    ] {
        let got = sessions.get(id).await.unwrap_err();
        assert_eq!(reason(&got), Some(expected.clone()), "{id:?}: {got:?}");
        let updated = sessions.update(id).user_id("u").send().await.unwrap_err();
        assert_eq!(reason(&updated), Some(expected), "{id:?}");
    }
    for (name, request) in [
        ("user_id", sessions.list().user_id("")),
        ("user_id", sessions.list().user_id(" \t")),
        ("search", sessions.list().search("")),
        ("search", sessions.list().search("   ")),
    ] {
        let error = request.send().await.unwrap_err();
        assert!(
            matches!(
                reason(&error),
                Some(InvalidRequestReason::BlankFilter { filter, .. }) if filter == name
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains(name), "{error}");
    }
    let streamed: Vec<_> = sessions.list().user_id("").stream().collect().await;
    assert!(matches!(
        streamed.as_slice(),
        [Err(Error::InvalidRequest(refused))]
            if matches!(refused.reason(), InvalidRequestReason::BlankFilter { filter: "user_id", .. })
    ));
    assert_eq!(server.count(), 0, "nothing was sent");
}

#[tokio::test]
async fn every_other_id_stays_inside_its_one_path_segment() {
    let server = Scripted::start(|_, request| {
        let id = request.uri.path().rsplit('/').next().unwrap();
        let id = percent_encoding::percent_decode_str(id)
            .decode_utf8()
            .unwrap();
        Reply::json(200, session(&id, "approved"))
    })
    .await;
    let sessions = client_to(&server.base_url).qualification_sessions();
    let ids = [
        "qs_1",
        "a/b",
        "../admin",
        "a?b=c",
        "a#b",
        "%2e%2e",
        "%2F",
        "a b",
        "ümlaut/ß",
        "...",
        ".hidden",
        "a.",
        "x%",
        "\u{202e}rtl",
        "tab\there",
    ];
    for id in ids {
        let got = sessions.get(id).await.unwrap();
        assert_eq!(got.qualification_session_id, id, "{id:?} came back changed");
    }
    let prefix = "/api/v1/qualification_session/";
    for (request, id) in server.requests().iter().zip(ids) {
        let path = request.uri.path();
        let segment = path
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{id:?}: {path}"));
        assert!(!segment.contains('/'), "{id:?} left its segment: {path}");
        assert_eq!(request.uri.query(), None, "{id:?} reached the query");
    }
}

// ---------------------------------------------------------------- 409

#[tokio::test]
async fn a_conflict_other_than_user_id_already_set_is_retried_with_the_same_key() {
    let busy =
        json!({"error": "Conflict", "message": "another request with this key is in progress"});
    let server = Scripted::sequence(vec![
        Reply::json(409, busy.clone()),
        Reply::json(409, busy),
        Reply::json(
            200,
            json!({"qualification_session_id": "qs_1", "status": "pending"}),
        ),
    ])
    .await;
    let outcome = client_to(&server.base_url)
        .qualification_sessions()
        .update("qs_1")
        .user_id("u")
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = server
        .requests()
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            body["idempotency_key"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k == outcome.idempotency_key.as_str()));

    let server = Scripted::sequence(vec![Reply::json(
        409,
        json!({"error": "Conflict", "message": "another request with this key is in progress"}),
    )])
    .await;
    let error = client_to(&server.base_url)
        .qualification_sessions()
        .update("qs_1")
        .user_id("u")
        .send()
        .await
        .unwrap_err();
    let Error::Api(response) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(response.kind(), ApiErrorKind::Conflict);
    assert_eq!(response.code(), Some("Conflict"));
    assert!(error.to_string().contains("another request"), "{error}");
    assert_ne!(error.api_kind(), Some(ApiErrorKind::UserIdAlreadySet));
}

// ---------------------------------------------------------------- error text

#[tokio::test]
async fn error_text_holds_no_key_query_or_success_body() {
    // A timeout and a broken connection, with a search filter carrying an email.
    let slow = Scripted::sequence(vec![Reply::json(
        200,
        json!({"qualification_sessions": []}),
    )
    .delay(Duration::from_secs(2))])
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
    let error = client_to(&server.base_url)
        .qualification_sessions()
        .list()
        .send()
        .await
        .unwrap_err();
    let text = all_text(&error);
    assert!(
        !text.contains("ada") && !text.contains("Lovelace"),
        "{text}"
    );
    assert!(error.body().unwrap().contains("Ada Lovelace"));

    let error = Client::builder()
        .api_key(API_KEY)
        .base_url("https://user:hunter2@proxy.example.com/?token=t0ken")
        .build()
        .unwrap_err();
    let text = all_text(&error);
    assert!(
        !text.contains("hunter2") && !text.contains("t0ken"),
        "{text}"
    );
}

// ---------------------------------------------------------------- listing without pagination

#[tokio::test]
async fn a_capped_page_size_without_pagination_loses_nothing() {
    // Asked for 500 a page, the server sends at most 100, of 250, with no pagination.
    let server = Scripted::start(|_, request| {
        let page = request.page() as usize;
        let items: Vec<_> = ((page - 1) * 100..(page * 100).min(250))
            .map(|n| session(&format!("qs_{n:03}"), "approved"))
            .collect();
        Reply::json(200, json!({ "qualification_sessions": items }))
    })
    .await;
    let client = client_to(&server.base_url);
    for concurrency in [1, 4] {
        let before = server.count();
        let ids: Vec<String> = client
            .qualification_sessions()
            .list()
            .page_size(500)
            .paginate()
            .concurrency(concurrency)
            .items()
            .map_ok(|s| s.qualification_session_id)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(ids.len(), 250);
        assert_eq!(ids.last().unwrap(), "qs_249");
        let requests = server.count() - before;
        match concurrency {
            1 => assert_eq!(requests, 4, "100, 100, 50, then the empty end"),
            c => assert!(
                requests <= 4 + (c - 1),
                "{requests} requests: at most c-1 wasted"
            ),
        }
    }
}

#[tokio::test]
async fn a_404_past_the_first_page_ends_a_listing_without_pagination() {
    let server = Scripted::start(|_, request| match request.page() {
        1 => Reply::json(
            200,
            json!({"qualification_sessions": [session("qs_1", "approved"), session("qs_2", "approved")]}),
        ),
        _ => Reply::json(404, json!({"error": "NotFound"})),
    })
    .await;
    let all: Vec<_> = client_to(&server.base_url)
        .qualification_sessions()
        .list()
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    // A 404 on the first page is still an error.
    let server = Scripted::sequence(vec![Reply::json(404, json!({"error": "NotFound"}))]).await;
    let first: Result<Vec<_>, _> = client_to(&server.base_url)
        .qualification_sessions()
        .list()
        .stream()
        .try_collect()
        .await;
    assert!(
        matches!(first, Err(Error::Api(ref e)) if e.kind() == ApiErrorKind::NotFound),
        "{first:?}"
    );
}

// ---------------------------------------------------------------- lenient values

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
    assert_eq!(
        one.charge_group_created_at.unwrap(),
        utc("2025-06-13T16:03:07Z")
    );
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
    let Error::UndecodableResponse(body) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(body.status().as_u16(), 200);
    assert!(
        body.reason()
            .starts_with("qualification_sessions[1].eligible_amount (session qs_2): "),
        "{}",
        body.reason()
    );
    assert!(!error.to_string().contains("twelve"), "{error}");
    assert_eq!(error.request_id(), Some("req_9"));
}

// ---------------------------------------------------------------- budget and caps

#[tokio::test]
async fn under_a_sustained_outage_the_budget_stops_multiplying_traffic() {
    let server = Scripted::sequence(vec![Reply::json(503, json!({"error": "Unavailable"}))]).await;
    let client = client_to(&server.base_url);
    let wave = |client: Client| async move {
        let calls = (0..50).map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.qualification_sessions().get("qs_1").await })
        });
        for call in futures::future::join_all(calls).await {
            let error = call.unwrap().unwrap_err();
            assert!(
                error.is_retryable(),
                "the retryable error is returned as is"
            );
        }
    };
    wave(client.clone()).await; // drains the budget: 100 retries
    let drained = server.count();
    assert_eq!(
        client.retry_budget_available(),
        Some(0),
        "{drained} requests"
    );
    wave(client.clone()).await;
    let second = server.count() - drained;
    println!("first wave {drained} requests, second {second} for 50 calls");
    assert!(second <= 60, "{second} requests for 50 calls once drained");

    // Successes refill it: a recovered server brings retries back.
    let unlimited = Client::builder()
        .api_key(API_KEY)
        .base_url(&server.base_url)
        .retry_budget(RetryBudget::unlimited())
        .sleeper(no_sleep())
        .build()
        .unwrap();
    let before = server.count();
    wave(unlimited).await;
    assert_eq!(
        server.count() - before,
        150,
        "no budget: every retry is made"
    );
}

#[tokio::test]
async fn a_retry_after_over_the_cap_returns_at_once_for_429_and_503_alike() {
    for status in [429, 503] {
        let waits = Arc::new(Mutex::new(Vec::new()));
        let record = waits.clone();
        let server = Scripted::sequence(vec![
            Reply::json(status, json!({})).header("retry-after", "3600")
        ])
        .await;
        let client = Client::builder()
            .api_key(API_KEY)
            .base_url(&server.base_url)
            .sleeper(truemed_ext::Sleeper::from_fn(move |wait| {
                record.lock().unwrap().push(wait);
                Box::pin(async {})
            }))
            .build()
            .unwrap();
        let error = client
            .qualification_sessions()
            .get("qs_1")
            .await
            .unwrap_err();
        match status {
            429 => assert_eq!(
                error.api_kind(),
                Some(ApiErrorKind::RateLimited),
                "{error:?}"
            ),
            _ => assert_eq!(error.api_kind(), Some(ApiErrorKind::Server), "{error:?}"),
        }
        assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
        assert_eq!(server.count(), 1, "{status}");
        assert!(waits.lock().unwrap().is_empty());
    }
}

// ---------------------------------------------------------------- extreme settings

/// A client to `base_url` with `policy`, whose sleeper records each wait and returns at
/// once.
fn recording_client(base_url: &str, policy: RetryPolicy) -> (Client, Arc<Mutex<Vec<Duration>>>) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let record = waits.clone();
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(base_url)
        .retry_policy(policy)
        .retry_budget(RetryBudget::unlimited())
        .sleeper(truemed_ext::Sleeper::from_fn(move |wait| {
            record.lock().unwrap().push(wait);
            Box::pin(async {})
        }))
        .build()
        .unwrap();
    (client, waits)
}

#[tokio::test]
async fn extreme_backoff_settings_never_panic_and_sleep_the_saturated_wait() {
    let extremes = [
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::from_secs(u64::MAX / 2),
        Duration::MAX,
    ];
    for initial in extremes {
        for max_backoff in extremes {
            for jitter in [0.0, 1.0] {
                let server = Scripted::sequence(vec![
                    Reply::json(503, json!({})),
                    Reply::json(503, json!({})),
                    Reply::json(503, json!({})),
                    Reply::json(200, session("qs_1", "approved")),
                ])
                .await;
                let policy = RetryPolicy::default()
                    .with_max_retries(3)
                    .with_initial_backoff(initial)
                    .with_max_backoff(max_backoff)
                    .with_jitter(jitter);
                let (client, waits) = recording_client(&server.base_url, policy);
                let got = client.qualification_sessions().get("qs_1").await;
                let case = format!("{initial:?} {max_backoff:?} jitter {jitter}");
                assert_eq!(got.unwrap().qualification_session_id, "qs_1", "{case}");
                assert_eq!(server.count(), 4, "{case}");
                let waits = waits.lock().unwrap().clone();
                assert_eq!(waits.len(), 3, "{case}");
                for (retry, wait) in waits.iter().enumerate() {
                    let doubled = initial.saturating_mul(1 << retry);
                    let capped = doubled.min(max_backoff);
                    match jitter {
                        0.0 => assert_eq!(*wait, capped, "{case}, retry {retry}"),
                        _ => assert!(*wait <= capped, "{case}, retry {retry}: {wait:?}"),
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn a_huge_retry_after_is_waited_saturated_when_the_cap_allows_it() {
    for (header, value) in [
        ("retry-after", "99999999999999999999999999"),
        ("retry-after", "1e308"),
        ("retry-after-ms", "1e30"),
        ("retry-after-ms", "18446744073709551615999"),
    ] {
        for status in [429, 503] {
            let server = Scripted::sequence(vec![
                Reply::json(status, json!({})).header(header, value),
                Reply::json(200, session("qs_1", "approved")),
            ])
            .await;
            let policy = RetryPolicy::default().with_max_retry_after(Duration::MAX);
            let (client, waits) = recording_client(&server.base_url, policy);
            client.qualification_sessions().get("qs_1").await.unwrap();
            assert_eq!(
                waits.lock().unwrap().as_slice(),
                [Duration::MAX],
                "{status} {header}: {value}"
            );

            // A cap of zero waits out nothing but an immediate retry.
            let server = Scripted::sequence(vec![
                Reply::json(status, json!({})).header(header, value),
                Reply::json(200, session("qs_1", "approved")),
            ])
            .await;
            let policy = RetryPolicy::default().with_max_retry_after(Duration::ZERO);
            let (client, waits) = recording_client(&server.base_url, policy);
            let error = client
                .qualification_sessions()
                .get("qs_1")
                .await
                .unwrap_err();
            assert_eq!(
                error.retry_after(),
                Some(Duration::MAX),
                "{header}: {value}"
            );
            assert_eq!(server.count(), 1);
            assert!(waits.lock().unwrap().is_empty());
        }
    }
    let server = Scripted::sequence(vec![
        Reply::json(503, json!({})).header("retry-after", "0"),
        Reply::json(200, session("qs_1", "approved")),
    ])
    .await;
    let policy = RetryPolicy::default().with_max_retry_after(Duration::ZERO);
    let (client, waits) = recording_client(&server.base_url, policy);
    client.qualification_sessions().get("qs_1").await.unwrap();
    assert_eq!(waits.lock().unwrap().as_slice(), [Duration::ZERO]);
}

#[tokio::test]
async fn extreme_timeouts_never_panic() {
    let server = Scripted::sequence(vec![
        Reply::json(503, json!({})),
        Reply::json(200, session("qs_1", "approved")),
    ])
    .await;
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(&server.base_url)
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
    client
        .qualification_sessions()
        .update("qs_1")
        .user_id("u")
        .send()
        .await
        .unwrap();

    // A zero timeout fails each attempt at once, as a timeout.
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(&server.base_url)
        .timeout(Duration::ZERO)
        .connect_timeout(Duration::ZERO)
        .sleeper(no_sleep())
        .build()
        .unwrap();
    let error = client
        .qualification_sessions()
        .get("qs_1")
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Timeout(_) | Error::Connection(_)),
        "{error:?}"
    );
}

// ---------------------------------------------------------------- statuses outside the classes

#[tokio::test]
async fn only_a_4xx_proves_an_update_was_not_applied_whatever_the_status() {
    // (status, may have been applied, attempts with the default 2 retries)
    let cases = [
        (101, true, 3),
        (600, true, 3),
        (799, true, 3),
        (999, true, 3),
        (300, true, 1),
        (302, true, 1),
        (304, true, 1),
        (400, false, 1),
        (403, false, 1),
        (404, false, 1),
        (422, false, 1),
        (451, false, 1),
        (499, false, 1),
        (408, false, 3),
        (500, true, 3),
        (503, true, 3),
        (501, false, 1),
        (505, true, 1),
        (599, true, 1),
    ];
    for (status, applied, attempts) in cases {
        let server = RawServer::start(move |_, _| {
            RawReply::new(
                status,
                &[b"content-type: application/json"],
                br#"{"error":"X"}"#,
            )
        })
        .await;
        let client = server.client_builder().build().unwrap();
        let outcome = tokio::time::timeout(
            Duration::from_secs(30),
            client
                .qualification_sessions()
                .update("qs_1")
                .user_id("u")
                .send(),
        )
        .await
        .expect("no stall");
        let error = outcome.unwrap_err();
        assert_eq!(
            error.may_have_been_applied(),
            applied,
            "{status}: {error:?}"
        );
        assert_eq!(server.count(), attempts, "{status}: {error:?}");
        assert!(error.idempotency_key().is_some(), "{status}");
        assert_eq!(
            error.status().map(|s| s.as_u16()),
            Some(status),
            "{error:?}"
        );
        // Every attempt carried the same key.
        let keys: std::collections::HashSet<String> = server
            .requests()
            .iter()
            .map(|request| {
                let body = &request[request.find("\r\n\r\n").unwrap() + 4..];
                let sent: serde_json::Value = serde_json::from_str(body).unwrap();
                sent["idempotency_key"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(keys.len(), 1, "{status}");
    }
}

// ---------------------------------------------------------------- personal data and controls

/// Characters a server's text must not bring into error text: line and paragraph
/// separators, bidi controls and other invisible format characters, C0 and C1 controls.
const UNPRINTABLE: [char; 14] = [
    '\u{2028}', '\u{2029}', '\u{85}', '\u{202E}', '\u{202A}', '\u{2066}', '\u{2069}', '\u{200E}',
    '\u{200F}', '\u{61C}', '\u{200B}', '\u{FEFF}', '\u{1b}', '\n',
];

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
        let error = client_to(&server.base_url)
            .qualification_sessions()
            .get("qs_1")
            .await
            .unwrap_err();
        let Error::UndecodableResponse(undecodable) = &error else {
            panic!("{body}: {error:?}")
        };
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
    let error = client_to(&server.base_url)
        .qualification_sessions()
        .get("qs_1")
        .await
        .unwrap_err();
    let Error::UndecodableResponse(undecodable) = &error else {
        panic!("{error:?}")
    };
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
        let error = client_to(&server.base_url)
            .qualification_sessions()
            .get("qs_1")
            .await
            .unwrap_err();
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
        let error = Client::builder()
            .api_key(API_KEY)
            .base_url(&server.base_url)
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap()
            .qualification_sessions()
            .get("qs_1")
            .await
            .unwrap_err();
        let text = all_text(&error);
        for c in UNPRINTABLE.into_iter().chain(['\t']) {
            assert!(!text.contains(c), "{status}: {:?} in {text:?}", c);
        }
        assert!(text.contains("refused forged line"), "{status}: {text}");
        assert!(
            error.body().unwrap().contains('\u{202E}'),
            "the body is as sent"
        );
    }
}
