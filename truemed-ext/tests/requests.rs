//! What the client sends, over real HTTP: the key, the `User-Agent`, each id in one
//! encoded path segment, typed filters, and update bodies with only the fields set.

mod support;
use support::ScriptedClient as _;

use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use serde_json::json;
use support::{client_to, client_without_retries, session, Reply, Scripted, API_KEY};
use truemed_ext::{Client, IdempotencyKey, Status};

/// The `User-Agent` the client documents: `truemed-rs/` and the crate's version.
const USER_AGENT: &str = concat!("truemed-rs/", env!("CARGO_PKG_VERSION"));

#[tokio::test]
async fn a_get_sends_the_key_the_user_agent_and_an_encoded_path() {
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
    let got = client_without_retries(&server.base_url())
        .qualification_sessions()
        .get("qs/9 x")
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(got.status, Status::Processing);
    assert!(USER_AGENT.starts_with("truemed-rs/"));
}

#[tokio::test]
async fn a_list_sends_its_typed_filters() {
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
    let page = client_without_retries(&server.base_url())
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
async fn a_single_status_filter_is_sent_as_one_status_parameter() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.query_param("status", "approved");
            then.status(200).json_body(json!({"qualification_sessions": []}));
        })
        .await;
    client_without_retries(&server.base_url())
        .qualification_sessions()
        .list()
        .status(Status::Approved)
        .send()
        .await
        .unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn every_other_id_stays_inside_its_one_path_segment() {
    let server = Scripted::start(|_, request| {
        let id = request.uri.path().rsplit('/').next().unwrap();
        let id = percent_encoding::percent_decode_str(id).decode_utf8().unwrap();
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
        let segment = path.strip_prefix(prefix).unwrap_or_else(|| panic!("{id:?}: {path}"));
        assert!(!segment.contains('/'), "{id:?} left its segment: {path}");
        assert_eq!(request.uri.query(), None, "{id:?} reached the query");
    }
}

#[tokio::test]
async fn an_update_sends_every_field_set_and_returns_the_outcome_with_its_key() {
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
    let out = client_without_retries(&server.base_url())
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
async fn an_update_sends_only_the_fields_set_and_raw_metadata_as_given() {
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
    assert_eq!(&body[..], br#"{"idempotency_key":"k","metadata":"plain text"}"#);
}

#[tokio::test]
async fn a_callers_reqwest_client_still_sends_the_key_and_the_user_agent() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.header("x-truemed-api-key", API_KEY).header("user-agent", USER_AGENT);
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
