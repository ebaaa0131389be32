//! The production client over real HTTP: wire format, every error mapping, retries and
//! their timing rules, idempotency across retries, client-side validation, secrets.

mod support;

use std::time::Duration;

use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use serde_json::json;
use support::{session, Reply, Scripted, API_KEY};
use truemed_ext::{
    ApiErrorKind, BaseUrlProblem, Client, ConfigurationReason, Error, IdempotencyKey,
    InvalidRequestReason, KeyGenerator, RetryPolicy, Status,
};

/// The `User-Agent` the client documents: `truemed-rs/` and the crate's version.
const USER_AGENT: &str = concat!("truemed-rs/", env!("CARGO_PKG_VERSION"));

fn client_for(server: &MockServer) -> Client {
    Client::builder()
        .api_key(API_KEY)
        .base_url(server.base_url())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn get_sends_key_user_agent_and_encoded_path() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v1/qualification_session/qs%2F9%20x")
                .header("x-truemed-api-key", API_KEY)
                .header("user-agent", USER_AGENT);
            then.status(200).json_body(session("qs/9 x", "processing"));
        })
        .await;
    let got = client_for(&server)
        .qualification_sessions()
        .get("qs/9 x")
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(got.status, Status::Processing);
    assert!(USER_AGENT.starts_with("truemed-rs/"));
}

#[tokio::test]
async fn list_sends_typed_filters() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v1/qualification_sessions")
                .query_param("status", "approved,rejected,on_hold")
                .query_param("user_id", "user_42")
                .query_param("search", "ada lovelace")
                .query_param("expires_at", "2025-12-31")
                .query_param("page", "2")
                .query_param("page_size", "10");
            then.status(200).json_body(json!({
                "qualification_sessions": [session("qs_1", "approved")],
                "pagination": {"count": 11, "current_page": 2, "last_page": 2, "page_size": 10}
            }));
        })
        .await;
    let page = client_for(&server)
        .qualification_sessions()
        .list()
        .statuses([Status::Approved, Status::Rejected, Status::from("on_hold")])
        .user_id("user_42")
        .search("ada lovelace")
        .expires_at(chrono::NaiveDate::from_ymd_opt(2025, 12, 31).unwrap())
        .page(2)
        .page_size(10)
        .send()
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(page.number, 2);
    assert_eq!(page.items.len(), 1);
    assert_eq!((page.total_count(), page.last_page()), (Some(11), Some(2)));
}

#[tokio::test]
async fn single_status_filter() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.query_param("status", "approved");
            then.status(200)
                .json_body(json!({"qualification_sessions": []}));
        })
        .await;
    client_for(&server)
        .qualification_sessions()
        .list()
        .status(Status::Approved)
        .send()
        .await
        .unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn update_body_on_the_wire_and_outcome() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v1/qualification_session/qs_1/update")
                .header("x-truemed-api-key", API_KEY)
                .json_body(json!({
                    "idempotency_key": "fixed-key-1",
                    "user_id": "user_42",
                    "metadata": "{\"crm_id\":7,\"tags\":[\"a\"]}",
                    "success_url": "https://shop.example/ok",
                    "failure_url": "https://shop.example/no"
                }));
            then.status(200).json_body(session("qs_1", "pending"));
        })
        .await;
    let out = client_for(&server)
        .qualification_sessions()
        .update("qs_1")
        .user_id("user_42")
        .metadata(&json!({"crm_id": 7, "tags": ["a"]}))
        .success_url("https://shop.example/ok")
        .failure_url("https://shop.example/no")
        .idempotency_key(IdempotencyKey::new("fixed-key-1").unwrap())
        .send()
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(out.qualification_session_id, "qs_1");
    assert_eq!(out.status, Status::Pending);
    assert_eq!(out.idempotency_key.as_str(), "fixed-key-1");
}

#[tokio::test]
async fn update_sends_only_the_fields_set_and_metadata_raw() {
    let server = Scripted::sequence(vec![Reply::json(200, session("qs_1", "approved"))]).await;
    let (client, _) = server.client();
    client
        .qualification_sessions()
        .update("qs_1")
        .metadata_raw("plain text")
        .idempotency_key(IdempotencyKey::new("k").unwrap())
        .send()
        .await
        .unwrap();
    let body = &server.requests()[0].body;
    assert_eq!(
        &body[..],
        br#"{"idempotency_key":"k","metadata":"plain text"}"#
    );
}

// ---- error mapping ----

async fn error_for(reply: Reply) -> Error {
    let server = Scripted::sequence(vec![reply]).await;
    let (client, _) = server.client();
    let error = client
        .qualification_sessions()
        .get("qs_1")
        .retry_policy(RetryPolicy::none())
        .await
        .unwrap_err();
    assert_eq!(server.count(), 1);
    error
}

#[tokio::test]
async fn each_api_error_maps_to_its_variant() {
    let cases: Vec<(Reply, &str)> = vec![
        (
            Reply::json(
                400,
                json!({"error": "ValidationError", "message": "page must be an integer"}),
            ),
            "validation",
        ),
        (
            Reply::json(401, json!({"error": "Unauthorized", "message": "bad key"})),
            "unauthorized",
        ),
        (
            Reply::json(
                404,
                json!({"error": "NotFound", "message": "no such session"}),
            ),
            "not_found",
        ),
        (
            Reply::json(405, json!({"error": "MethodNotAllowed"})),
            "method_not_allowed",
        ),
        (
            Reply::json(
                409,
                json!({"error": "user_id_already_set", "message": "set"}),
            ),
            "user_id_already_set",
        ),
        (
            Reply::json(409, json!({"code": "user_id_already_set"})),
            "user_id_already_set",
        ),
        (
            Reply::json(
                400,
                json!({"error": "ValidationError", "code": "user_id_already_set"}),
            ),
            "user_id_already_set",
        ),
        (
            Reply::json(429, json!({"error": "RateLimited"})).header("retry-after", "2"),
            "rate_limited",
        ),
        (
            Reply::json(500, json!({"error": "InternalServerError"})),
            "server_error",
        ),
        (
            Reply::raw(502, "<html><body>Bad Gateway</body></html>"),
            "server_error",
        ),
        (Reply::raw(503, ""), "server_error"),
        (Reply::json(504, json!({})), "server_error"),
        (
            Reply::json(501, json!({"error": "NotImplemented"})),
            "not_implemented",
        ),
        (
            Reply::json(403, json!({"error": "Forbidden"})),
            "unexpected_status",
        ),
        (Reply::raw(400, r#"{"error": "ValidationEr"#), "validation"),
        (Reply::raw(200, "not json at all"), "undecodable_response"),
        (
            Reply::raw(200, r#"{"qualification_session_id": "qs_1"}"#),
            "undecodable_response",
        ),
    ];
    for (reply, expected) in cases {
        let status = reply.status;
        let error = error_for(reply).await;
        assert_eq!(error.kind_name(), expected, "{status}: {error:?}");
        assert_eq!(
            error.status().map(|s| s.as_u16()),
            Some(status),
            "{error:?}"
        );
        assert!(!error.to_string().is_empty());
    }
}

#[tokio::test]
async fn error_accessors_and_display() {
    let error = error_for(
        Reply::json(
            404,
            json!({"error": "NotFound", "message": "no such session"}),
        )
        .header("x-request-id", "req_abc"),
    )
    .await;
    let Error::Api(response) = &error else {
        panic!("{error:?}")
    };
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
    let Error::UndecodableResponse(undecodable) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(undecodable.status().as_u16(), 200);
    assert_eq!(undecodable.body().len(), 5000, "the body stays reachable");
    assert!(
        !error.to_string().contains("xxx"),
        "no 2xx body in Display: {error}"
    );
    assert!(
        !format!("{error:?}").contains("xxx"),
        "nor in Debug: {error:?}"
    );

    let error = error_for(Reply::json(429, json!({})).header("retry-after", "7")).await;
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    assert!(error.to_string().contains("wait 7 s"), "{error}");
}

#[tokio::test]
async fn huge_error_body_is_bounded() {
    let error = error_for(Reply::raw(418, &"y".repeat(1_000_000))).await;
    assert!(error.body().unwrap().len() <= truemed_ext::raw::DEFAULT_MAX_ERROR_BODY + 3);
}

#[tokio::test]
async fn timeout_maps_to_timeout_and_is_retried() {
    let server = Scripted::sequence(vec![
        Reply::json(200, session("qs_1", "pending")).delay(Duration::from_millis(800)),
        Reply::json(200, session("qs_1", "pending")),
    ])
    .await;
    let build = |policy| {
        Client::builder()
            .api_key(API_KEY)
            .base_url(&server.base_url)
            .timeout(Duration::from_millis(150))
            .retry_policy(policy)
            .build()
            .unwrap()
    };
    let error = build(RetryPolicy::none())
        .qualification_sessions()
        .get("qs_1")
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    assert!(error.is_retryable());
    let ok = build(RetryPolicy::default().with_initial_backoff(Duration::from_millis(1)))
        .qualification_sessions()
        .get("qs_1")
        .await;
    assert!(ok.is_ok(), "{ok:?}");
}

#[tokio::test]
async fn connection_refused_maps_to_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(url)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let error = client
        .qualification_sessions()
        .get("qs_1")
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Connection(_)), "{error:?}");
    assert!(error.is_retryable());
    assert!(
        error
            .to_string()
            .starts_with("could not connect to Truemed"),
        "{error}"
    );
    assert!(!error.may_have_been_applied(), "nothing was sent");
    let cause = std::error::Error::source(&error).expect("reqwest's error is the source");
    assert!(
        !error.to_string().contains(&cause.to_string()),
        "cause not repeated"
    );
}

// ---- retries ----

#[tokio::test]
async fn retries_503_503_then_succeeds_with_backoff_in_bounds() {
    let server = Scripted::sequence(vec![
        Reply::json(503, json!({"error": "Unavailable"})),
        Reply::raw(503, "upstream down"),
        Reply::json(200, session("qs_1", "approved")),
    ])
    .await;
    let (client, waits) = server.client();
    let got = client.qualification_sessions().get("qs_1").await.unwrap();
    assert_eq!(got.status, Status::Approved);
    assert_eq!(server.count(), 3);
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 2);
    assert!(
        waits[0] >= Duration::from_millis(375) && waits[0] <= Duration::from_millis(500),
        "{waits:?}"
    );
    assert!(
        waits[1] >= Duration::from_millis(750) && waits[1] <= Duration::from_millis(1000),
        "{waits:?}"
    );
}

#[tokio::test]
async fn gives_up_after_max_retries_with_the_last_error() {
    let server = Scripted::sequence(vec![Reply::json(
        500,
        json!({"error": "Boom", "message": "third"}),
    )])
    .await;
    let (client, waits) = server.client();
    let error = client
        .qualification_sessions()
        .get("qs_1")
        .await
        .unwrap_err();
    assert_eq!(error.api_kind(), Some(ApiErrorKind::Server), "{error:?}");
    assert_eq!(server.count(), 3, "default: 2 retries");
    assert_eq!(waits.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn never_retries_other_4xx_or_501() {
    for status in [400, 401, 403, 404, 405, 422, 501] {
        let server = Scripted::sequence(vec![Reply::json(status, json!({"error": "X"}))]).await;
        let (client, waits) = server.client();
        client
            .qualification_sessions()
            .get("qs_1")
            .await
            .unwrap_err();
        assert_eq!(server.count(), 1, "{status} was retried");
        assert!(waits.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn retries_408_429_500_502_503_504() {
    for status in [408, 429, 500, 502, 503, 504] {
        let server = Scripted::sequence(vec![
            Reply::json(status, json!({})),
            Reply::json(200, session("qs_1", "pending")),
        ])
        .await;
        let (client, _) = server.client();
        client.qualification_sessions().get("qs_1").await.unwrap();
        assert_eq!(server.count(), 2, "{status} was not retried");
    }
}

#[tokio::test]
async fn retry_after_is_honoured_in_seconds_and_http_date() {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
    let server = Scripted::sequence(vec![
        Reply::json(429, json!({"error": "RateLimited"})).header("retry-after", "3"),
        Reply::json(503, json!({})).header("retry-after", date),
        Reply::json(200, session("qs_1", "pending")),
    ])
    .await;
    let (client, waits) = server.client();
    client.qualification_sessions().get("qs_1").await.unwrap();
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits[0], Duration::from_secs(3));
    assert!(
        waits[1] > Duration::from_secs(27) && waits[1] <= Duration::from_secs(30),
        "{waits:?}"
    );
}

#[tokio::test]
async fn retry_after_over_the_cap_returns_rate_limited_at_once() {
    let server = Scripted::sequence(vec![
        Reply::json(429, json!({"error": "RateLimited", "message": "slow down"}))
            .header("retry-after", "3600"),
        Reply::json(200, session("qs_1", "pending")),
    ])
    .await;
    let (client, waits) = server.client();
    let error = client
        .qualification_sessions()
        .get("qs_1")
        .await
        .unwrap_err();
    assert_eq!(server.count(), 1);
    assert!(waits.lock().unwrap().is_empty());
    assert_eq!(
        error.api_kind(),
        Some(ApiErrorKind::RateLimited),
        "{error:?}"
    );
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
}

#[tokio::test]
async fn quota_exhausted_429_is_not_retried() {
    let server =
        Scripted::sequence(vec![Reply::json(429, json!({"error": "quota_exceeded"}))]).await;
    let (client, _) = server.client();
    let error = client
        .qualification_sessions()
        .get("qs_1")
        .await
        .unwrap_err();
    assert_eq!(error.api_kind(), Some(ApiErrorKind::RateLimited));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn per_call_and_per_client_retry_overrides() {
    let server = Scripted::sequence(vec![Reply::json(503, json!({}))]).await;
    let (client, _) = server.client();
    client
        .qualification_sessions()
        .get("qs_1")
        .retry_policy(RetryPolicy::none())
        .await
        .unwrap_err();
    assert_eq!(server.count(), 1);
    client
        .qualification_sessions()
        .get("qs_1")
        .retry_policy(RetryPolicy::default().with_max_retries(4))
        .await
        .unwrap_err();
    assert_eq!(server.count(), 1 + 5);

    let server = Scripted::sequence(vec![Reply::json(503, json!({}))]).await;
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(&server.base_url)
        .retry_policy(
            RetryPolicy::default()
                .with_max_retries(1)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .build()
        .unwrap();
    client
        .qualification_sessions()
        .list()
        .send()
        .await
        .unwrap_err();
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn real_sleep_between_attempts() {
    // The default sleeper really waits: 20 ms, then 40 ms (no jitter).
    let server = Scripted::sequence(vec![
        Reply::json(503, json!({})),
        Reply::json(503, json!({})),
        Reply::json(200, session("qs_1", "pending")),
    ])
    .await;
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(&server.base_url)
        .retry_policy(
            RetryPolicy::default()
                .with_initial_backoff(Duration::from_millis(20))
                .with_jitter(0.0),
        )
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    client.qualification_sessions().get("qs_1").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(60));
}

// ---- idempotency across retries ----

#[tokio::test]
async fn update_retries_send_identical_bytes_and_return_the_key() {
    let server = Scripted::sequence(vec![
        Reply::json(503, json!({})),
        Reply::raw(502, "proxy"),
        Reply::json(200, session("qs_1", "pending")),
    ])
    .await;
    let (client, _) = server.client();
    let out = client
        .qualification_sessions()
        .update("qs_1")
        .user_id("user_42")
        .metadata(&json!({"crm_id": 7}))
        .send()
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests.iter().all(|r| r.body == requests[0].body),
        "bodies differ across attempts"
    );
    let sent: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(sent["idempotency_key"], out.idempotency_key.as_str());
    assert_eq!(out.idempotency_key.as_str().len(), 36, "a UUID v4");
    assert_eq!(sent["metadata"], "{\"crm_id\":7}");
}

#[tokio::test]
async fn each_update_call_gets_its_own_generated_key() {
    let server = Scripted::sequence(vec![Reply::json(200, session("qs_1", "pending"))]).await;
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let next = counter.clone();
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(&server.base_url)
        .idempotency_keys(KeyGenerator::from_fn(move || {
            let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            IdempotencyKey::new(format!("test-key-{n}")).unwrap()
        }))
        .build()
        .unwrap();
    let a = client
        .qualification_sessions()
        .update("qs_1")
        .user_id("u")
        .send()
        .await
        .unwrap();
    let b = client
        .qualification_sessions()
        .update("qs_1")
        .user_id("u")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (a.idempotency_key.as_str(), b.idempotency_key.as_str()),
        ("test-key-0", "test-key-1")
    );
}

// ---- client-side validation sends nothing ----

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let server = Scripted::sequence(vec![Reply::json(200, session("qs_1", "pending"))]).await;
    let (client, _) = server.client();
    let qs = client.qualification_sessions();
    type Is = fn(&InvalidRequestReason) -> bool;
    let cases: Vec<(Error, &str, Is)> = vec![
        (
            qs.update("qs_1")
                .user_id("u".repeat(256))
                .send()
                .await
                .unwrap_err(),
            "user_id is 256 characters long; Truemed refuses it (longer than 255 characters)",
            |reason| {
                matches!(
                    reason,
                    InvalidRequestReason::FieldTooLong {
                        field: "user_id",
                        length: 256,
                        limit: 255,
                        ..
                    }
                )
            },
        ),
        (
            qs.update("qs_1")
                .metadata_raw("m".repeat(4097))
                .send()
                .await
                .unwrap_err(),
            "metadata is 4097",
            |reason| {
                matches!(
                    reason,
                    InvalidRequestReason::FieldTooLong {
                        field: "metadata",
                        length: 4097,
                        limit: 4096,
                        ..
                    }
                )
            },
        ),
        (
            qs.update("qs_1")
                .success_url("s".repeat(2049))
                .send()
                .await
                .unwrap_err(),
            "success_url is 2049",
            |reason| {
                matches!(
                    reason,
                    InvalidRequestReason::FieldTooLong {
                        field: "success_url",
                        length: 2049,
                        limit: 2048,
                        ..
                    }
                )
            },
        ),
        (
            qs.update("qs_1")
                .failure_url("f".repeat(2049))
                .send()
                .await
                .unwrap_err(),
            "failure_url is 2049",
            |reason| {
                matches!(
                    reason,
                    InvalidRequestReason::FieldTooLong {
                        field: "failure_url",
                        length: 2049,
                        limit: 2048,
                        ..
                    }
                )
            },
        ),
        (
            qs.update("").user_id("u").send().await.unwrap_err(),
            "id is empty",
            |reason| matches!(reason, InvalidRequestReason::EmptyId),
        ),
        (qs.get("").await.unwrap_err(), "id is empty", |reason| {
            matches!(reason, InvalidRequestReason::EmptyId)
        }),
        (
            qs.list().page(0).send().await.unwrap_err(),
            "start at 1",
            |reason| matches!(reason, InvalidRequestReason::PageOutOfRange { page: 0, .. }),
        ),
        (
            qs.list().page_size(0).send().await.unwrap_err(),
            "at least 1",
            |reason| {
                matches!(
                    reason,
                    InvalidRequestReason::PageSizeOutOfRange { page_size: 0, .. }
                )
            },
        ),
        (
            qs.list()
                .status(Status::from("a,b"))
                .send()
                .await
                .unwrap_err(),
            "lowercase word",
            |reason| matches!(reason, InvalidRequestReason::InvalidStatusFilter { .. }),
        ),
        (
            qs.list()
                .status(Status::from("Approved"))
                .send()
                .await
                .unwrap_err(),
            "lowercase word",
            |reason| matches!(reason, InvalidRequestReason::InvalidStatusFilter { .. }),
        ),
        (
            qs.list()
                .statuses([Status::Approved, Status::from("")])
                .send()
                .await
                .unwrap_err(),
            "lowercase word",
            |reason| matches!(reason, InvalidRequestReason::InvalidStatusFilter { .. }),
        ),
        (
            qs.update("qs_1")
                .metadata(&std::collections::HashMap::from([(
                    (1, 2),
                    "tuple keys are not JSON",
                )]))
                .user_id("later setters keep the first error")
                .send()
                .await
                .unwrap_err(),
            "cannot be encoded",
            |reason| matches!(reason, InvalidRequestReason::MetadataNotSerializable { .. }),
        ),
    ];
    for (error, expected, is) in cases {
        let Error::InvalidRequest(refused) = &error else {
            panic!("{error:?}")
        };
        assert!(is(refused.reason()), "{error:?}");
        assert!(
            error.to_string().contains(expected),
            "{error} lacks {expected:?}"
        );
        assert!(!error.is_retryable());
    }
    assert_eq!(server.count(), 0, "something was sent");
    // Limits are inclusive.
    qs.update("qs_1")
        .user_id("u".repeat(255))
        .metadata_raw("m".repeat(4096))
        .send()
        .await
        .unwrap();
    assert_eq!(server.count(), 1);
}

// ---- configuration ----

#[test]
fn build_refuses_bad_configuration() {
    let refused = |builder: truemed_ext::ClientBuilder,
                   expected: &str,
                   is: fn(&ConfigurationReason) -> bool| {
        let error = builder.build().unwrap_err();
        let Error::Configuration(refused) = &error else {
            panic!("{error:?}")
        };
        assert!(is(refused.reason()), "{error:?}");
        assert!(
            error.to_string().contains(expected),
            "{error} lacks {expected}"
        );
    };
    let missing: fn(&ConfigurationReason) -> bool =
        |reason| matches!(reason, ConfigurationReason::MissingApiKey);
    refused(Client::builder(), "no API key", missing);
    refused(Client::builder().api_key(""), "no API key", missing);
    refused(Client::builder().api_key("   "), "no API key", missing);
    refused(
        Client::builder().api_key("sk_live_abc\n"),
        "header cannot carry",
        |reason| matches!(reason, ConfigurationReason::ApiKeyNotHeaderValue),
    );
    refused(
        Client::builder()
            .api_key("k")
            .base_url("http://api.truemed.com"),
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
    refused(
        Client::builder().api_key("k").base_url("::not a url::"),
        "base URL",
        |reason| {
            matches!(
                reason,
                ConfigurationReason::InvalidBaseUrl {
                    problem: BaseUrlProblem::Unparsable { .. },
                    ..
                }
            )
        },
    );
    let error = Client::builder()
        .api_key("sk_live_abc\n")
        .build()
        .unwrap_err();
    assert!(!format!("{error} {error:?}").contains("sk_live_abc"));
}

#[test]
fn environments_and_base_url() {
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
async fn caller_supplied_reqwest_client_still_sends_key_and_user_agent() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.header("x-truemed-api-key", API_KEY)
                .header("user-agent", USER_AGENT);
            then.status(200).json_body(session("qs_1", "pending"));
        })
        .await;
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(server.base_url())
        .http_client(reqwest::Client::new())
        .build()
        .unwrap();
    client.qualification_sessions().get("qs_1").await.unwrap();
    mock.assert_async().await;
}

// ---- secrets ----

#[tokio::test]
async fn api_key_never_appears_in_debug_display_or_errors() {
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
    assert!(!format!(
        "{:?}",
        client.qualification_sessions().update("qs_1").user_id("u")
    )
    .contains(API_KEY));
    let error = client
        .qualification_sessions()
        .get("qs_1")
        .await
        .unwrap_err();
    assert_eq!(error.api_kind(), Some(ApiErrorKind::Unauthorized));
    let shown = format!("{error} {error:?} {:?}", error.api());
    assert!(!shown.contains(API_KEY), "{shown}");
    // The key did go out on the wire.
    assert_eq!(server.requests()[0].headers["x-truemed-api-key"], API_KEY);
}
