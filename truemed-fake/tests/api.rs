//! The API as the fake serves it, end to end: the `truemed_ext` client against
//! `truemed_fake::FakeTruemed` over real HTTP, and raw `reqwest` calls for what the client
//! refuses to send: the key, unknown ids and methods, get, list (filters, order,
//! pagination) and update (fields, idempotent replay, `user_id` set when null, limits).

mod support;

use chrono::{NaiveDate, TimeZone as _, Utc};
use futures::TryStreamExt as _;
use serde_json::{json, Value};
use support::{assert_api_kind, raw};
use truemed_ext::{ApiErrorKind, Client, Error, IdempotencyKey, QualificationSessions, Status};
use truemed_fake::{FakeTruemed, SessionSeed, DEFAULT_API_KEY};

fn at(day: u32, hour: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, day, hour, 0, 0).unwrap()
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text).unwrap()
}

/// An update of `id` setting `user_id`, which must be refused: its error.
async fn refused_user_id(sessions: &QualificationSessions, id: &str, user_id: &str) -> Error {
    sessions.update(id).user_id(user_id).send().await.unwrap_err()
}

/// A raw GET of `path` with the fake's key, answered with JSON.
async fn get_json(fake: &FakeTruemed, path: &str) -> Value {
    raw(fake, reqwest::Method::GET, path).await.json().await.unwrap()
}

/// A raw POST of `body` to the update path of `id`, with the fake's key.
async fn raw_update(fake: &FakeTruemed, id: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/qualification_session/{id}/update", fake.base_url()))
        .header("x-truemed-api-key", fake.api_key())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

// ---------------------------------------------------------------------------------------
// Authentication, unknown ids, methods
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_missing_or_wrong_key_is_401() {
    let fake = FakeTruemed::start().await;
    fake.seed(SessionSeed::new("qs_1"));
    assert_eq!(fake.api_key(), DEFAULT_API_KEY);

    let wrong = Client::builder().api_key("sk_wrong").base_url(fake.base_url()).build().unwrap();
    let error = wrong.qualification_sessions().get("qs_1").await.unwrap_err();
    assert_api_kind(&error, ApiErrorKind::Unauthorized);
    assert_eq!(error.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(error.code(), Some("Unauthorized"));
    let error = wrong.qualification_sessions().list().send().await.unwrap_err();
    assert_api_kind(&error, ApiErrorKind::Unauthorized);
    let error = refused_user_id(&wrong.qualification_sessions(), "qs_1", "u").await;
    assert_api_kind(&error, ApiErrorKind::Unauthorized);

    let response = reqwest::get(format!("{}/api/v1/qualification_session/qs_1", fake.base_url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "Unauthorized");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));

    let stats = fake.stats();
    assert_eq!(stats.unauthorized, 4);
    assert_eq!(stats.updates_applied, 0);
    assert_eq!(fake.session("qs_1").unwrap().user_id, None);
}

#[tokio::test]
async fn a_custom_key_is_the_only_one_accepted() {
    let fake = FakeTruemed::builder().api_key("sk_test_custom").start().await;
    fake.seed(SessionSeed::new("qs_1"));
    assert_eq!(fake.api_key(), "sk_test_custom");
    assert!(!format!("{fake:?}").contains("sk_test_custom"));
    assert!(fake.client().qualification_sessions().get("qs_1").await.is_ok());
    let default =
        Client::builder().api_key(DEFAULT_API_KEY).base_url(fake.base_url()).build().unwrap();
    assert!(matches!(
        default.qualification_sessions().get("qs_1").await,
        Err(Error::Api(ref e)) if e.kind() == ApiErrorKind::Unauthorized
    ));
}

#[tokio::test]
async fn an_unknown_id_is_404() {
    let fake = FakeTruemed::start().await;
    let sessions = fake.client().qualification_sessions();
    let error = sessions.get("qs_missing").await.unwrap_err();
    assert_api_kind(&error, ApiErrorKind::NotFound);
    assert_eq!(error.code(), Some("NotFound"));
    let error = refused_user_id(&sessions, "qs_missing", "u").await;
    assert_api_kind(&error, ApiErrorKind::NotFound);
    // Not retried.
    assert_eq!(fake.stats().requests, 2);

    let response = raw(&fake, reqwest::Method::GET, "/api/v1/nothing/here").await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "NotFound");
}

#[tokio::test]
async fn a_wrong_method_is_405() {
    let fake = FakeTruemed::start().await;
    fake.seed(SessionSeed::new("qs_1"));
    let one = "/api/v1/qualification_session/qs_1";
    let list = "/api/v1/qualification_sessions";
    let update = "/api/v1/qualification_session/qs_1/update";
    for (method, path, allow) in [
        (reqwest::Method::DELETE, one, "GET, HEAD"),
        (reqwest::Method::POST, one, "GET, HEAD"),
        (reqwest::Method::PUT, list, "GET, HEAD"),
        (reqwest::Method::GET, update, "POST"),
        (reqwest::Method::PATCH, update, "POST"),
    ] {
        let response = raw(&fake, method.clone(), path).await;
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "MethodNotAllowed");
    }
    let stats = fake.stats();
    assert_eq!(stats.other_requests, 5);
    assert_eq!(stats.requests, 5);
}

// ---------------------------------------------------------------------------------------
// Get and list
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn get_returns_the_seeded_session_with_every_field() {
    let fake = FakeTruemed::start().await;
    fake.seed(
        SessionSeed::new("qs_9f8b7c6d-1234-4e56-8a9b-0c1d2e3f4a5b")
            .status(Status::Approved)
            .email("ada@example.com")
            .user_name("Ada Lovelace")
            .expires_at(at(30, 12))
            .eligible_amount(12_500.0),
    );
    let session = fake
        .client()
        .qualification_sessions()
        .get("qs_9f8b7c6d-1234-4e56-8a9b-0c1d2e3f4a5b")
        .await
        .unwrap();
    assert_eq!(session.status, Status::Approved);
    assert_eq!(session.email.as_deref(), Some("ada@example.com"));
    assert_eq!(session.expires_at, Some(at(30, 12).into()));
    assert_eq!(session.eligible_amount, Some(12_500.0.into()));

    // On the wire every documented field is present; unset ones are null.
    let body: Value =
        get_json(&fake, "/api/v1/qualification_session/qs_9f8b7c6d-1234-4e56-8a9b-0c1d2e3f4a5b")
            .await;
    assert_eq!(body["user_id"], Value::Null);
    assert!(body.as_object().unwrap().contains_key("user_id"));
    assert_eq!(body.as_object().unwrap().len(), 19);
    assert_eq!(body["expires_at"], "2024-03-30T12:00:00Z");
    assert_eq!(fake.stats().get_requests, 2);
}

#[tokio::test]
async fn ids_are_percent_decoded() {
    let fake = FakeTruemed::start().await;
    fake.seed(SessionSeed::new("qs odd/id"));
    let session = fake.client().qualification_sessions().get("qs odd/id").await.unwrap();
    assert_eq!(session.qualification_session_id, "qs odd/id");
}

/// Six sessions, seeded out of `created_at` order.
fn list_fixture() -> Vec<SessionSeed> {
    vec![
        SessionSeed::new("qs_c")
            .created_at(at(3, 9))
            .status(Status::Approved)
            .email("Carol@Example.com")
            .user_id("u_1")
            .expires_at(at(20, 23)),
        SessionSeed::new("qs_a").created_at(at(1, 9)).status(Status::Pending),
        SessionSeed::new("qs_e")
            .created_at(at(5, 9))
            .status(Status::Rejected)
            .user_name("Eve Adams")
            .user_id("u_2"),
        SessionSeed::new("qs_b")
            .created_at(at(2, 9))
            .status(Status::Processing)
            .user_business_id("BIZ-carol-77"),
        SessionSeed::new("qs_d")
            .created_at(at(4, 9))
            .status(Status::Approved)
            .user_name("Dan")
            .user_id("u_1")
            .expires_at(at(21, 0)),
        SessionSeed::new("qs_f")
            .created_at(at(6, 9))
            .status(Status::Approved)
            .email("frank@example.com")
            .expires_at(at(20, 1)),
    ]
}

fn ids(sessions: &[truemed_ext::QualificationSession]) -> Vec<&str> {
    sessions.iter().map(|s| s.qualification_session_id.as_str()).collect()
}

#[tokio::test]
async fn list_filters_and_orders_by_created_at() {
    let fake = FakeTruemed::start().await;
    fake.seed_all(list_fixture());
    let sessions = fake.client().qualification_sessions();

    let all = sessions.list().send().await.unwrap();
    assert_eq!(ids(&all.items), ["qs_a", "qs_b", "qs_c", "qs_d", "qs_e", "qs_f"]);

    let approved = sessions.list().status(Status::Approved).send().await.unwrap();
    assert_eq!(ids(&approved.items), ["qs_c", "qs_d", "qs_f"]);
    assert_eq!(approved.total_count(), Some(3));

    let decided =
        sessions.list().statuses([Status::Rejected, Status::Pending]).send().await.unwrap();
    assert_eq!(ids(&decided.items), ["qs_a", "qs_e"]);

    let user = sessions.list().user_id("u_1").send().await.unwrap();
    assert_eq!(ids(&user.items), ["qs_c", "qs_d"]);

    // Search: case-insensitive substring of email, user name or business id.
    let carol = sessions.list().search("CAROL").send().await.unwrap();
    assert_eq!(ids(&carol.items), ["qs_b", "qs_c"]);
    let adams = sessions.list().search("adams").send().await.unwrap();
    assert_eq!(ids(&adams.items), ["qs_e"]);
    let none = sessions.list().search("nobody").send().await.unwrap();
    assert!(none.items.is_empty());
    assert_eq!(none.total_count(), Some(0));
    assert_eq!(none.last_page(), Some(1));

    // Expiry date: the date part of expires_at.
    let expiring = sessions
        .list()
        .expires_at(NaiveDate::from_ymd_opt(2024, 3, 20).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ids(&expiring.items), ["qs_c", "qs_f"]);

    // Filters combine.
    let both =
        sessions.list().status(Status::Approved).user_id("u_1").search("dan").send().await.unwrap();
    assert_eq!(ids(&both.items), ["qs_d"]);

    // Several statuses, raw: comma-joined, as the spec's pattern says.
    let body: Value =
        get_json(&fake, "/api/v1/qualification_sessions?status=approved,rejected&user_id=u_2")
            .await;
    assert_eq!(body["qualification_sessions"][0]["qualification_session_id"], "qs_e");
    assert_eq!(fake.stats().list_requests, 10);
}

#[tokio::test]
async fn pagination_object_and_pages() {
    let fake = FakeTruemed::start().await;
    fake.seed_all((0..65).map(|i| {
        SessionSeed::new(format!("qs_{i:03}")).created_at(at(1, 0) + chrono::Duration::minutes(i))
    }));
    let sessions = fake.client().qualification_sessions();

    // Default page size 30.
    let body: Value = get_json(&fake, "/api/v1/qualification_sessions").await;
    assert_eq!(
        body["pagination"],
        json!({"count": 65, "current_page": 1, "last_page": 3, "page_size": 30})
    );
    assert_eq!(body["qualification_sessions"].as_array().unwrap().len(), 30);

    let third = sessions.list().page(3).send().await.unwrap();
    assert_eq!(third.items.len(), 5);
    assert_eq!(third.items[0].qualification_session_id, "qs_060");
    let p = third.pagination.unwrap();
    assert_eq!(
        (p.count, p.current_page, p.last_page, p.page_size),
        (Some(65), Some(3), Some(3), Some(30))
    );

    let body: Value = get_json(&fake, "/api/v1/qualification_sessions?page=2&page_size=13").await;
    assert_eq!(
        body["pagination"],
        json!({"count": 65, "current_page": 2, "last_page": 5, "page_size": 13})
    );
    assert_eq!(body["qualification_sessions"][0]["qualification_session_id"], "qs_013");

    // Past the end: an empty page.
    let past = sessions.list().page(9).send().await.unwrap();
    assert!(past.items.is_empty());
    assert_eq!(past.last_page(), Some(3));

    // Streaming walks every page, in order.
    let all: Vec<_> = sessions.list().page_size(7).stream().try_collect().await.unwrap();
    assert_eq!(all.len(), 65);
    assert!(all.windows(2).all(|w| w[0].created_at < w[1].created_at));

    // Bad page parameters are validation errors.
    for query in [
        "page=0",
        "page=-1",
        "page=two",
        "page_size=0",
        "page_size=x",
        "page_size=",
        "status=Approved",
        "status=approved,%20rejected",
        "status=",
        "expires_at=",
        "expires_at=20-03-2024",
    ] {
        let response =
            raw(&fake, reqwest::Method::GET, &format!("/api/v1/qualification_sessions?{query}"))
                .await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "ValidationError", "{query}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // A well-formed status the fake does not know (one Truemed may add later) matches nothing.
    let body: Value = get_json(&fake, "/api/v1/qualification_sessions?status=on_hold").await;
    assert_eq!(body["qualification_sessions"], serde_json::json!([]));
}

// ---------------------------------------------------------------------------------------
// Update
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn update_changes_only_the_fields_sent_and_never_the_status() {
    let fake = FakeTruemed::start().await;
    fake.seed(
        SessionSeed::new("qs_1").status(Status::Approved).success_url("https://old.example/ok"),
    );
    let sessions = fake.client().qualification_sessions();

    let out = sessions.update("qs_1").metadata(&json!({"crm_id": 7})).send().await.unwrap();
    assert_eq!(out.qualification_session_id, "qs_1");
    assert_eq!(out.status, Status::Approved);
    let record = fake.record("qs_1").unwrap();
    assert_eq!(record.metadata.as_deref(), Some(r#"{"crm_id":7}"#));
    assert_eq!(record.success_url.as_deref(), Some("https://old.example/ok"));
    assert_eq!(record.session.user_id, None);
    assert_eq!(record.session.status, Status::Approved);

    sessions
        .update("qs_1")
        .user_id("user_42")
        .failure_url("https://shop.example/no")
        .send()
        .await
        .unwrap();
    let record = fake.record("qs_1").unwrap();
    assert_eq!(record.session.user_id.as_deref(), Some("user_42"));
    assert_eq!(record.metadata.as_deref(), Some(r#"{"crm_id":7}"#));
    assert_eq!(record.failure_url.as_deref(), Some("https://shop.example/no"));
    assert_eq!(record.success_url.as_deref(), Some("https://old.example/ok"));
    assert_eq!(record.idempotency_keys.len(), 2);

    // A null field is the same as an absent one; a status in the body is ignored.
    let (status, body) = raw_update(
        &fake,
        "qs_1",
        r#"{"idempotency_key":"k-null","metadata":null,"status":"rejected","unknown":{"a":[1,2]}}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"qualification_session_id": "qs_1", "status": "approved"}));
    assert_eq!(fake.record("qs_1").unwrap().metadata.as_deref(), Some(r#"{"crm_id":7}"#));
    assert_eq!(fake.session("qs_1").unwrap().status, Status::Approved);
    assert_eq!(fake.stats().updates_applied, 3);
}

#[tokio::test]
async fn an_idempotent_replay_returns_the_original_response_and_applies_once() {
    let fake = FakeTruemed::start().await;
    fake.seed(SessionSeed::new("qs_1"));
    let sessions = fake.client().qualification_sessions();
    let send = || {
        sessions
            .update("qs_1")
            .user_id("user_42")
            .metadata_raw(r#"{"n":1}"#)
            .idempotency_key(key("update-session-20240601-001"))
            .send()
    };
    let first = send().await.unwrap();
    // Approved meanwhile: the replay still answers what the first call answered.
    fake.approve("qs_1");
    let second = send().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(second.status, Status::Pending);

    let stats = fake.stats();
    assert_eq!(stats.update_requests, 2);
    assert_eq!(stats.updates_applied, 1);
    assert_eq!(stats.idempotent_replays, 1);
    let applied = fake.applied_updates();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].idempotency_key, "update-session-20240601-001");
    assert_eq!(applied[0].user_id.as_deref(), Some("user_42"));

    // Keys are scoped per session: the same key on another session is a new update.
    fake.seed(SessionSeed::new("qs_2"));
    sessions
        .update("qs_2")
        .user_id("user_42")
        .metadata_raw(r#"{"n":1}"#)
        .idempotency_key(key("update-session-20240601-001"))
        .send()
        .await
        .unwrap();
    assert_eq!(fake.stats().updates_applied, 2);
}

#[tokio::test]
async fn reusing_a_key_with_another_payload_is_a_validation_error() {
    let fake = FakeTruemed::start().await;
    fake.seed(SessionSeed::new("qs_1"));
    let sessions = fake.client().qualification_sessions();
    sessions.update("qs_1").metadata_raw("a").idempotency_key(key("k1")).send().await.unwrap();
    let error = sessions
        .update("qs_1")
        .metadata_raw("b")
        .idempotency_key(key("k1"))
        .send()
        .await
        .unwrap_err();
    assert_api_kind(&error, ApiErrorKind::Validation);
    assert_eq!(error.code(), Some("ValidationError"));
    assert!(error.message().unwrap().contains("different payload"));
    assert_eq!(fake.record("qs_1").unwrap().metadata.as_deref(), Some("a"));
    let stats = fake.stats();
    assert_eq!((stats.updates_applied, stats.updates_refused, stats.update_requests), (1, 1, 2));
}

#[tokio::test]
async fn user_id_is_set_when_null_only() {
    let fake = FakeTruemed::start().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake.seed(SessionSeed::new("qs_2").user_id("preset"));
    let sessions = fake.client().qualification_sessions();

    let error = refused_user_id(&sessions, "qs_2", "other").await;
    assert_api_kind(&error, ApiErrorKind::UserIdAlreadySet);
    assert_eq!(error.status().map(|s| s.as_u16()), Some(409));
    assert_eq!(error.code(), Some("user_id_already_set"));
    // The same value again is refused too.
    let error = refused_user_id(&sessions, "qs_2", "preset").await;
    assert_api_kind(&error, ApiErrorKind::UserIdAlreadySet);
    assert_eq!(fake.session("qs_2").unwrap().user_id.as_deref(), Some("preset"));

    // Set once; a replay of that update is fine, a new update setting it is not.
    for _first_then_replay in 0..2 {
        sessions
            .update("qs_1")
            .user_id("first")
            .idempotency_key(key("set-1"))
            .send()
            .await
            .unwrap();
    }
    let error = refused_user_id(&sessions, "qs_1", "second").await;
    assert_api_kind(&error, ApiErrorKind::UserIdAlreadySet);
    // Other fields can still change.
    sessions.update("qs_1").metadata_raw("m").send().await.unwrap();
    assert_eq!(fake.session("qs_1").unwrap().user_id.as_deref(), Some("first"));

    let (status, body) =
        raw_update(&fake, "qs_1", r#"{"idempotency_key":"raw","user_id":"third"}"#).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"], "user_id_already_set");
    assert!(body["message"].is_string());
}

#[tokio::test]
async fn length_limits_and_malformed_bodies_are_400() {
    let fake = FakeTruemed::start().await;
    fake.seed(SessionSeed::new("qs_1"));
    let long = |n: usize| "x".repeat(n);
    let cases = [
        json!({}),
        json!({"idempotency_key": null}),
        json!({"idempotency_key": ""}),
        json!({"idempotency_key": long(256)}),
        json!({"idempotency_key": 42}),
        json!({"idempotency_key": "k", "user_id": long(256)}),
        json!({"idempotency_key": "k", "metadata": long(4097)}),
        json!({"idempotency_key": "k", "metadata": {"crm_id": 7}}),
        json!({"idempotency_key": "k", "success_url": long(2049)}),
        json!({"idempotency_key": "k", "failure_url": long(2049)}),
        json!({"idempotency_key": "k", "user_id": 12}),
        json!(["idempotency_key"]),
    ];
    for case in cases {
        let (status, body) = raw_update(&fake, "qs_1", case.to_string()).await;
        assert_eq!(status, 400, "{case}");
        assert_eq!(body["error"], "ValidationError", "{case}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{case}");
    }
    for malformed in ["{", "", "not json", "{\"idempotency_key\": \"k\",}"] {
        let (status, body) = raw_update(&fake, "qs_1", malformed).await;
        assert_eq!(status, 400, "{malformed:?}");
        assert_eq!(body["error"], "ValidationError");
    }
    let message = raw_update(
        &fake,
        "qs_1",
        json!({"idempotency_key": "k", "metadata": long(4097)}).to_string(),
    )
    .await
    .1;
    assert!(message["message"].as_str().unwrap().contains("4096"), "{message}");
    assert_eq!(fake.stats().updates_applied, 0);
    assert_eq!(fake.record("qs_1").unwrap().metadata, None);

    // Exactly at the limits (in characters, not bytes) is accepted.
    let at_limits = json!({
        "idempotency_key": "é".repeat(255),
        "user_id": "ü".repeat(255),
        "metadata": "m".repeat(4096),
        "success_url": "s".repeat(2048),
        "failure_url": "f".repeat(2048),
    });
    let (status, body) = raw_update(&fake, "qs_1", at_limits.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fake.stats().updates_applied, 1);
}
