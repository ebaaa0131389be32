//! The generated raw client over real HTTP against httpmock: what goes on the wire and
//! what comes back decodes.

use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use serde_json::json;
use truemed_api::mock::MockServerExt as _;
use truemed_api::types::{self, ApiError};
use truemed_api::{CallContext, Client, Error, QualificationSessionStatus};

const SESSION_PATH: &str = "/api/v1/qualification_session";

fn full_session() -> serde_json::Value {
    json!({
        "qualification_session_id": "qs_9f8b7c6d-1234-4e56-8a9b-0c1d2e3f4a5b",
        "status": "approved",
        "charge_group_created_at": "2024-01-15T09:30:00Z",
        "created_at": "2024-06-13T16:03:07.473Z",
        "customer_status": "active",
        "eligible_amount": 129.5,
        "email": "shopper@example.com",
        "expires_at": "2025-06-13T16:03:07Z",
        "fee": 4.25,
        "lmn_reviewed_at": "2024-06-14T10:00:00.5Z",
        "session_type": "checkout",
        "skus_param": "sku_1,sku_2",
        "source": "newsletter",
        "stripe_invoice_id": "in_123",
        "stripe_invoice_number": "INV-0001",
        "stripe_invoice_paid_at": "2024-06-15T00:00:00+00:00",
        "user_business_id": "biz_7",
        "user_id": "user_42",
        "user_name": "Ada Lovelace"
    })
}

/// A decoded answer keeps its status and headers beside the value.
#[tokio::test]
async fn a_decoded_answer_keeps_its_status_and_headers() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(format!("{SESSION_PATH}/qs_1"));
            then.status(200).header("x-request-id", "req_7").json_body(full_session());
        })
        .await;
    let client = Client::new(&server.base_url(), CallContext::new());
    let answer =
        client.get_qualification_session().qualification_session_id("qs_1").send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-request-id"], "req_7");
    assert_eq!(answer.into_inner().user_id.as_deref(), Some("user_42"));
}

/// An update's body with its idempotency key, the one field it requires, set to `key`.
fn update_body_keyed(key: &str) -> types::builder::UpdateQualificationSessionRequest {
    types::UpdateQualificationSessionRequest::builder().idempotency_key(
        key.parse::<types::UpdateQualificationSessionRequestIdempotencyKey>().unwrap(),
    )
}

#[tokio::test]
async fn get_decodes_all_nineteen_fields() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(format!("{SESSION_PATH}/qs_9f8b7c6d-1234-4e56-8a9b-0c1d2e3f4a5b"))
                .header("accept", "application/json");
            then.status(200).json_body(full_session());
        })
        .await;
    let client = Client::new(&server.base_url(), CallContext::new());
    let session = client
        .get_qualification_session()
        .qualification_session_id("qs_9f8b7c6d-1234-4e56-8a9b-0c1d2e3f4a5b")
        .send()
        .await
        .unwrap()
        .into_inner();
    mock.assert_async().await;
    assert_eq!(session.status, QualificationSessionStatus::Approved);
    assert_eq!(session.eligible_amount, Some(129.5.into()));
    assert_eq!(session.fee, Some(4.25.into()));
    assert_eq!(session.email.as_deref(), Some("shopper@example.com"));
    assert_eq!(session.user_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(session.user_id.as_deref(), Some("user_42"));
    assert_eq!(session.user_business_id.as_deref(), Some("biz_7"));
    assert_eq!(session.customer_status.as_deref(), Some("active"));
    assert_eq!(session.session_type.as_deref(), Some("checkout"));
    assert_eq!(session.skus_param.as_deref(), Some("sku_1,sku_2"));
    assert_eq!(session.source.as_deref(), Some("newsletter"));
    assert_eq!(session.stripe_invoice_id.as_deref(), Some("in_123"));
    assert_eq!(session.stripe_invoice_number.as_deref(), Some("INV-0001"));
    assert_eq!(session.created_at.unwrap().to_rfc3339(), "2024-06-13T16:03:07.473+00:00");
    assert_eq!(session.charge_group_created_at.unwrap().to_rfc3339(), "2024-01-15T09:30:00+00:00");
    assert!(session.expires_at.is_some());
    assert!(session.lmn_reviewed_at.is_some());
    assert!(session.stripe_invoice_paid_at.is_some());
    // Round trip: nothing is lost or renamed.
    let back = serde_json::to_value(&session).unwrap();
    for key in full_session().as_object().unwrap().keys() {
        assert!(back.get(key).is_some(), "{key} lost in round trip");
    }
}

/// The session the raw client decodes from `body`, served as the answer to a GET of `id`.
async fn served_and_got(id: &str, body: serde_json::Value) -> types::QualificationSession {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(format!("{SESSION_PATH}/{id}"));
            then.status(200).json_body(body);
        })
        .await;
    Client::new(&server.base_url(), CallContext::new())
        .get_qualification_session()
        .qualification_session_id(id)
        .send()
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn get_decodes_only_required_fields_and_nulls() {
    let session = served_and_got(
        "qs_min",
        json!({
            "qualification_session_id": "qs_min",
            "status": "pending",
            "email": null,
            "user_name": null,
            "expires_at": null
        }),
    )
    .await;
    assert_eq!(session.qualification_session_id, "qs_min");
    assert_eq!(session.status, QualificationSessionStatus::Pending);
    assert!(session.email.is_none() && session.user_name.is_none() && session.expires_at.is_none());
}

#[tokio::test]
async fn unknown_status_and_unknown_fields_decode() {
    let session = served_and_got(
        "qs_new",
        json!({
            "qualification_session_id": "qs_new",
            "status": "awaiting_documents",
            "a_field_added_next_year": {"nested": [1, 2, 3]},
            "another": "value"
        }),
    )
    .await;
    assert_eq!(
        session.status,
        QualificationSessionStatus::Unknown("awaiting_documents".to_owned())
    );
    assert_eq!(session.status.to_string(), "awaiting_documents");
    assert_eq!(serde_json::to_value(&session.status).unwrap(), json!("awaiting_documents"));
}

#[tokio::test]
async fn id_is_percent_encoded_in_the_path() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path(format!("{SESSION_PATH}/qs%2F1%20a%3Fb%23c"));
            then.status(200)
                .json_body(json!({"qualification_session_id": "qs/1 a?b#c", "status": "pending"}));
        })
        .await;
    let session = Client::new(&server.base_url(), CallContext::new())
        .get_qualification_session()
        .qualification_session_id("qs/1 a?b#c")
        .send()
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(session.qualification_session_id, "qs/1 a?b#c");
}

#[tokio::test]
async fn a_status_filter_off_the_pattern_is_refused_before_sending() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200);
        })
        .await;
    for status in ["Approved", "approved,", "approved rejected", ""] {
        let error = Client::new(&server.base_url(), CallContext::new())
            .list_qualification_sessions()
            .status(status)
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(error, truemed_api::Error::InvalidRequest(ref m) if m.contains("StatusList")),
            "{status:?}: {error:?}"
        );
    }
    assert_eq!(any.calls_async().await, 0);
}

#[tokio::test]
async fn list_sends_every_query_parameter() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v1/qualification_sessions")
                .query_param("page", "3")
                .query_param("page_size", "50")
                .query_param("user_id", "user 42")
                .query_param("status", "approved,rejected")
                .query_param("expires_at", "2025-06-30")
                .query_param("search", "ada@example.com");
            then.status(200).json_body(json!({
                "qualification_sessions": [full_session(), {"qualification_session_id": "qs_2", "status": "rejected"}],
                "pagination": {"count": 102, "current_page": 3, "last_page": 3, "page_size": 50}
            }));
        })
        .await;
    let page = Client::new(&server.base_url(), CallContext::new())
        .list_qualification_sessions()
        .page(std::num::NonZeroU64::new(3).unwrap())
        .page_size(std::num::NonZeroU64::new(50).unwrap())
        .user_id("user 42")
        .status("approved,rejected")
        .expires_at(chrono::NaiveDate::from_ymd_opt(2025, 6, 30).unwrap())
        .search("ada@example.com")
        .send()
        .await
        .unwrap()
        .into_inner();
    mock.assert_async().await;
    assert_eq!(page.qualification_sessions.len(), 2);
    let pagination = page.pagination.unwrap();
    assert_eq!(
        (pagination.count, pagination.current_page, pagination.last_page, pagination.page_size),
        (Some(102), Some(3), Some(3), Some(50))
    );
}

#[tokio::test]
async fn list_sends_no_query_when_no_filter() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v1/qualification_sessions")
                .query_param_missing("page")
                .query_param_missing("status")
                .query_param_missing("search");
            then.status(200).json_body(json!({"qualification_sessions": []}));
        })
        .await;
    let page = Client::new(&server.base_url(), CallContext::new())
        .list_qualification_sessions()
        .send()
        .await
        .unwrap();
    mock.assert_async().await;
    assert!(page.qualification_sessions.is_empty());
    assert!(page.pagination.is_none(), "missing pagination decodes as None");
}

#[tokio::test]
async fn list_page_with_null_pagination_and_unknown_status_item() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/qualification_sessions");
            then.status(200).json_body(json!({
                "qualification_sessions": [
                    {"qualification_session_id": "qs_1", "status": "approved"},
                    {"qualification_session_id": "qs_2", "status": "on_hold", "brand_new": true}
                ],
                "pagination": null,
                "next_cursor": "ignored"
            }));
        })
        .await;
    let page = Client::new(&server.base_url(), CallContext::new())
        .list_qualification_sessions()
        .send()
        .await
        .unwrap();
    assert!(page.pagination.is_none());
    assert_eq!(
        page.qualification_sessions[1].status,
        QualificationSessionStatus::Unknown("on_hold".into())
    );
}

#[tokio::test]
async fn update_sends_json_body_and_decodes_response() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(format!("{SESSION_PATH}/qs_1/update"))
                .header("content-type", "application/json")
                .json_body(json!({
                    "idempotency_key": "update-session-20240601-001",
                    "user_id": "user_42",
                    "metadata": "{\"crm_id\":7}",
                    "success_url": "https://shop.example/ok",
                    "failure_url": "https://shop.example/fail"
                }));
            then.status(200)
                .json_body(json!({"qualification_session_id": "qs_1", "status": "pending"}));
        })
        .await;
    let body = update_body_keyed("update-session-20240601-001")
        .user_id(Some("user_42".parse().unwrap()))
        .metadata(Some("{\"crm_id\":7}".parse().unwrap()))
        .success_url(Some("https://shop.example/ok".parse().unwrap()))
        .failure_url(Some("https://shop.example/fail".parse().unwrap()));
    let out = Client::new(&server.base_url(), CallContext::new())
        .update_qualification_session()
        .qualification_session_id("qs_1")
        .body(body)
        .send()
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(out.qualification_session_id, "qs_1");
    assert_eq!(out.status, QualificationSessionStatus::Pending);
}

#[tokio::test]
async fn update_omits_fields_not_set() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(format!("{SESSION_PATH}/qs_1/update"))
                .body(r#"{"idempotency_key":"k1"}"#);
            then.status(200)
                .json_body(json!({"qualification_session_id": "qs_1", "status": "approved"}));
        })
        .await;
    Client::new(&server.base_url(), CallContext::new())
        .update_qualification_session()
        .qualification_session_id("qs_1")
        .body(update_body_keyed("k1"))
        .send()
        .await
        .unwrap();
    mock.assert_async().await;
}

#[test]
fn length_limits_are_enforced_by_generated_types() {
    use types::*;
    assert!("".parse::<UpdateQualificationSessionRequestIdempotencyKey>().is_err());
    assert!("k".repeat(255).parse::<UpdateQualificationSessionRequestIdempotencyKey>().is_ok());
    assert!("k".repeat(256).parse::<UpdateQualificationSessionRequestIdempotencyKey>().is_err());
    assert!("u".repeat(255).parse::<UpdateQualificationSessionRequestUserId>().is_ok());
    assert!("u".repeat(256).parse::<UpdateQualificationSessionRequestUserId>().is_err());
    assert!("m".repeat(4096).parse::<UpdateQualificationSessionRequestMetadata>().is_ok());
    assert!("m".repeat(4097).parse::<UpdateQualificationSessionRequestMetadata>().is_err());
    assert!("s".repeat(2048).parse::<UpdateQualificationSessionRequestSuccessUrl>().is_ok());
    assert!("s".repeat(2049).parse::<UpdateQualificationSessionRequestSuccessUrl>().is_err());
    assert!("f".repeat(2048).parse::<UpdateQualificationSessionRequestFailureUrl>().is_ok());
    assert!("f".repeat(2049).parse::<UpdateQualificationSessionRequestFailureUrl>().is_err());
}

/// An error body as Truemed documents it: an `error` name and a `message`.
fn error_body(error: &str, message: &str) -> serde_json::Value {
    json!({"error": error, "message": message})
}

/// Every documented error status decodes into the typed `ApiError` body.
#[tokio::test]
async fn each_documented_error_status_decodes_into_api_error() {
    let cases: [(u16, &str, serde_json::Value); 7] = [
        (400, "get", error_body("ValidationError", "bad page")),
        (401, "get", error_body("Unauthorized", "missing key")),
        (404, "get", error_body("NotFound", "no such session")),
        (405, "get", error_body("MethodNotAllowed", "nope")),
        (409, "update", json!({"code": "user_id_already_set", "message": "already set"})),
        (500, "update", error_body("InternalServerError", "boom")),
        (501, "list", error_body("NotImplemented", "later")),
    ];
    for (status, operation, body) in cases {
        let server = MockServer::start_async().await;
        server
            .mock_async(|_when, then| {
                then.status(status).json_body(body.clone());
            })
            .await;
        let client = Client::new(&server.base_url(), CallContext::new());
        let error = match operation {
            "get" => client
                .get_qualification_session()
                .qualification_session_id("qs_1")
                .send()
                .await
                .map(|_| ()),
            "list" => client.list_qualification_sessions().send().await.map(|_| ()),
            _ => client
                .update_qualification_session()
                .qualification_session_id("qs_1")
                .body(update_body_keyed("k"))
                .send()
                .await
                .map(|_| ()),
        }
        .unwrap_err();
        let Error::ErrorResponse(response) = error else {
            panic!("{status}: expected a typed error body, got {error:?}");
        };
        assert_eq!(response.status().as_u16(), status);
        let api_error: &ApiError = &response;
        assert_eq!(serde_json::to_value(api_error).unwrap(), body, "{status}");
    }
}

#[tokio::test]
async fn typed_mock_helpers_drive_the_client() {
    let server = MockServer::start_async().await;
    let mock = server.get_qualification_session(|when, then| {
        when.qualification_session_id(&"qs_typed".parse().unwrap());
        then.not_found(&ApiError {
            error: Some("NotFound".into()),
            message: Some("no such session".into()),
            code: None,
        });
    });
    let error = Client::new(&server.base_url(), CallContext::new())
        .get_qualification_session()
        .qualification_session_id("qs_typed")
        .send()
        .await
        .unwrap_err();
    mock.assert();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404));
}

/// progenitor's `InvalidResponsePayload` keeps only the body; the inner `CallContext`
/// keeps the status and headers for the caller.
#[tokio::test]
async fn undecodable_error_body_keeps_status_and_headers_in_response_head() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|_when, then| {
            then.status(500).header("x-request-id", "req_123").body("<html>Bad Gateway</html>");
        })
        .await;
    let context = CallContext::new();
    let error = Client::new(&server.base_url(), context.clone())
        .get_qualification_session()
        .qualification_session_id("qs_1")
        .send()
        .await
        .unwrap_err();
    let Error::InvalidResponsePayload(bytes, _) = error else {
        panic!("expected InvalidResponsePayload, got {error:?}");
    };
    assert_eq!(&bytes[..], b"<html>Bad Gateway</html>");
    let head = context.last_response().expect("a response arrived");
    assert_eq!(head.status.as_u16(), 500);
    assert_eq!(head.headers["x-request-id"], "req_123");
}

/// Bodies are decoded as text after one UTF-8 check (faster than serde_json's byte
/// parser): non-ASCII text decodes, and a body that is not UTF-8 fails as it did with
/// the byte parser, with serde_json's own error and the bytes kept.
#[tokio::test]
async fn bodies_decode_as_utf8_text_and_other_bytes_get_serde_jsons_error() {
    let server = MockServer::start_async().await;
    let mut named = full_session();
    named["user_name"] = json!("Zoë Ångström 日本");
    server
        .mock_async(|when, then| {
            when.path(format!("{SESSION_PATH}/qs_text"));
            then.status(200).body(serde_json::to_vec(&named).unwrap());
        })
        .await;
    let not_utf8 = b"{\"qualification_session_id\": \"qs_1\", \"status\": \"approved\", \"user_name\": \"Zo\xeb\"}".to_vec();
    let sent = not_utf8.clone();
    server
        .mock_async(|when, then| {
            when.path(format!("{SESSION_PATH}/qs_bytes"));
            then.status(200).body(sent);
        })
        .await;
    let client = Client::new(&server.base_url(), CallContext::new());
    let get =
        |id: &'static str| client.get_qualification_session().qualification_session_id(id).send();

    let session = get("qs_text").await.unwrap().into_inner();
    assert_eq!(session.user_name.as_deref(), Some("Zoë Ångström 日本"));

    let error = get("qs_bytes").await.unwrap_err();
    let Error::InvalidResponsePayload(bytes, reason) = error else {
        panic!("expected InvalidResponsePayload, got {error:?}");
    };
    assert_eq!(&bytes[..], &not_utf8[..]);
    let byte_parser = serde_json::from_slice::<types::QualificationSession>(&not_utf8).unwrap_err();
    assert_eq!(reason.to_string(), byte_parser.to_string());
}

/// The context's headers and timeout reach the wire with any reqwest client.
#[tokio::test]
async fn call_context_adds_headers_without_overriding_the_request() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.header("x-truemed-api-key", "sk_test").header("accept", "application/json");
            then.status(200).json_body(json!({"qualification_sessions": []}));
        })
        .await;
    let mut headers = reqwest::header::HeaderMap::new();
    let mut key = reqwest::header::HeaderValue::from_static("sk_test");
    key.set_sensitive(true);
    headers.insert("x-truemed-api-key", key);
    headers.insert("accept", reqwest::header::HeaderValue::from_static("text/plain"));
    let context =
        CallContext::new().with_headers(headers).with_timeout(std::time::Duration::from_secs(5));
    assert!(!format!("{context:?}").contains("sk_test"), "sensitive header printed");
    Client::new_with_client(&server.base_url(), reqwest::Client::new(), context)
        .list_qualification_sessions()
        .send()
        .await
        .unwrap();
    mock.assert_async().await;
}

/// The raw client reads error bodies to the bound, refuses success bodies over the limit,
/// and records what it read.
#[tokio::test]
async fn raw_client_bounds_bodies_and_records_what_it_read() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.path("/api/v1/qualification_session/big_error");
            then.status(500).body("<".repeat(300 * 1024));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/api/v1/qualification_session/big_success");
            then.status(200).body(" ".repeat(2048));
        })
        .await;
    let context = CallContext::new().with_max_success_body(1024);
    let client = Client::new(&server.base_url(), context.clone());
    let error = client
        .get_qualification_session()
        .qualification_session_id("big_error")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidResponsePayload(..)), "{error:?}");
    let head = context.last_response().unwrap();
    assert_eq!(head.body.len(), truemed_api::DEFAULT_MAX_ERROR_BODY);
    assert!(head.truncated);

    let context = context.fresh();
    let error = Client::new(&server.base_url(), context.clone())
        .get_qualification_session()
        .qualification_session_id("big_success")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Custom(_)), "{error:?}");
    assert_eq!(
        context.refusal(),
        Some(truemed_api::Refusal::BodyTooLarge { status: reqwest::StatusCode::OK, limit: 1024 })
    );
}

/// A client that follows a redirect gets the response refused, not decoded.
#[tokio::test]
async fn raw_client_refuses_a_response_from_a_followed_redirect() {
    let elsewhere = MockServer::start_async().await;
    elsewhere
        .mock_async(|_when, then| {
            then.status(200)
                .json_body(json!({"qualification_session_id": "qs_1", "status": "approved"}));
        })
        .await;
    let server = MockServer::start_async().await;
    server
        .mock_async(|_when, then| {
            then.status(302).header("location", elsewhere.url("/moved"));
        })
        .await;
    let context = CallContext::new();
    let error =
        Client::new_with_client(&server.base_url(), reqwest::Client::new(), context.clone())
            .get_qualification_session()
            .qualification_session_id("qs_1")
            .send()
            .await
            .unwrap_err();
    assert!(matches!(error, Error::Custom(_)), "{error:?}");
    assert!(matches!(context.refusal(), Some(truemed_api::Refusal::RedirectFollowed { .. })));
}

/// Odd-but-readable timestamps and amounts decode in the generated types themselves.
#[test]
fn generated_types_decode_lenient_values() {
    let session: truemed_api::types::QualificationSession = serde_json::from_value(json!({
        "qualification_session_id": "qs_1", "status": "approved",
        "expires_at": "2026-01-31", "created_at": "2025-06-13T16:03:07",
        "eligible_amount": "12.50", "fee": 1
    }))
    .unwrap();
    assert_eq!(session.expires_at.unwrap().to_string(), "2026-01-31T00:00:00Z");
    assert_eq!(session.created_at.unwrap().to_string(), "2025-06-13T16:03:07Z");
    assert_eq!(session.eligible_amount.unwrap(), 12.5);
    let back = serde_json::to_value(&session).unwrap();
    assert_eq!(back["eligible_amount"], json!(12.5));
    assert_eq!(back["fee"], json!(1.0));
}

/// `on_body_read` is called once per response with its status, after the body is read
/// and before it is decoded: an undecodable success body still calls it.
#[tokio::test]
async fn on_body_read_reports_each_response_before_decoding() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.path(format!("{SESSION_PATH}/qs_ok"));
            then.status(200).json_body(full_session());
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path(format!("{SESSION_PATH}/qs_garbled"));
            then.status(200).body("{not json");
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path(format!("{SESSION_PATH}/qs_missing"));
            then.status(404).json_body(json!({"error": "not found"}));
        })
        .await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let context = CallContext::new().on_body_read(move |status| {
        record.lock().unwrap().push(status.as_u16());
    });
    let client = Client::new_with_client(&server.base_url(), reqwest::Client::new(), context);
    let get =
        |id: &'static str| client.get_qualification_session().qualification_session_id(id).send();
    assert!(get("qs_ok").await.is_ok());
    assert!(matches!(get("qs_garbled").await, Err(Error::InvalidResponsePayload(..))));
    assert!(get("qs_missing").await.is_err());
    assert_eq!(*seen.lock().unwrap(), vec![200, 200, 404]);
}

/// A response is read as it arrives, in a task of its own, even while the call is not
/// being polled: a body far larger than the socket buffers is read whole before the
/// caller comes back to it (the server's write finishes), so a busy caller neither holds
/// the server up nor runs the call's timeout down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_is_read_while_the_caller_is_busy() {
    use std::io::{Read as _, Write as _};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let mut session = full_session();
    session["skus_param"] = json!("x".repeat(16 * 1024 * 1024));
    let body = serde_json::to_vec(&session).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let written = Arc::new(AtomicBool::new(false));
    let done = written.clone();
    std::thread::spawn(move || {
        let (mut connection, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            connection.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let response_head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        connection.write_all(response_head.as_bytes()).unwrap();
        connection.write_all(&body).unwrap();
        done.store(true, Ordering::SeqCst);
    });

    let client = Client::new(&base_url, CallContext::new());
    let mut call =
        Box::pin(client.get_qualification_session().qualification_session_id("qs_big").send());
    // Polled once, the request goes out; then the caller is busy elsewhere.
    assert!(futures::poll!(call.as_mut()).is_pending());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !written.load(Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "the server could not write the body while the call was not polled"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let session = call.await.unwrap().into_inner();
    assert_eq!(session.skus_param.map(|s| s.len()), Some(16 * 1024 * 1024));
}

/// The runtime shut down while a call is in flight (a thread awaiting it through
/// `Handle::block_on`, the server silent): the call returns a communication error, as
/// plain reqwest does, and does not panic in the caller's thread. The error's source is
/// `truemed_api::RuntimeShutDown`.
#[test]
fn a_call_in_flight_when_the_runtime_shuts_down_returns_an_error() {
    use std::io::Read as _;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    for multi_thread in [true, false] {
        // A server that reads the request and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(AtomicUsize::new(0));
        let count = received.clone();
        std::thread::spawn(move || {
            let (mut connection, _) = listener.accept().unwrap();
            let (mut seen, mut buffer) = (Vec::new(), [0u8; 4096]);
            while let Ok(read @ 1..) = connection.read(&mut buffer) {
                seen.extend_from_slice(&buffer[..read]);
                if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    count.store(1, Ordering::SeqCst);
                }
            }
        });
        let runtime = match multi_thread {
            true => {
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
            }
            false => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        }
        .unwrap();
        let handle = runtime.handle().clone();
        // The caller's thread gives back the communication error, or what it got instead.
        let caller = std::thread::spawn(move || {
            let client = Client::new(&base_url, CallContext::new());
            let outcome = handle.block_on(
                client.get_qualification_session().qualification_session_id("qs_1").send(),
            );
            match outcome {
                Err(Error::CommunicationError(error)) => Some(error),
                _ => None,
            }
        });
        // Shut down once the request is on the wire, and at least 300 ms in (only
        // `Runtime::block_on` drives a current-thread runtime's tasks).
        let started = Instant::now();
        runtime.block_on(async {
            while received.load(Ordering::SeqCst) == 0
                || started.elapsed() < Duration::from_millis(300)
            {
                assert!(started.elapsed() < Duration::from_secs(30), "never sent");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        drop(runtime);
        let Ok(outcome) = caller.join() else {
            panic!("multi-thread {multi_thread}: the caller panicked")
        };
        let error = outcome
            .unwrap_or_else(|| panic!("multi-thread {multi_thread}: no communication error"));
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        let mut shut_down = false;
        while let Some(cause) = source {
            shut_down |= cause.is::<truemed_api::RuntimeShutDown>();
            source = cause.source();
        }
        assert!(shut_down, "multi-thread {multi_thread}: {error:?}");
        assert!(!error.is_connect() && !error.is_timeout(), "the request was sent: {error:?}");
    }
}
