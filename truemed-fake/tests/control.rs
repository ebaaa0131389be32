//! The fake's control API (`/_fake/`, `openapi/fake-control.yaml`) end to end, over real
//! HTTP with reqwest against an in-process `FakeTruemed`: what a test suite in another
//! language does. Webhooks go to local receivers, verified with `WebhookVerifier` and with
//! an HMAC computed here.

mod support;

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use serde_json::{json, Value};
use sha2::Sha256;
use support::{Reply, Scripted};
use truemed_ext::webhook::{WebhookEvent, WebhookVerifier};
use truemed_ext::{ApiErrorKind, Error, RetryPolicy, Status};
use truemed_fake::{DeliveryState, FakeTruemed, SessionSeed};

/// A control-API (or API) request to `fake` with its key.
async fn call(fake: &FakeTruemed, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    call_with_key(
        fake,
        &fake.api_key(),
        method,
        path,
        body.map(|b| b.to_string()),
    )
    .await
}

thread_local! {
    /// One client per test (each test runs on its own thread and runtime).
    static HTTP: reqwest::Client = reqwest::Client::new();
}

/// A request with a raw body (or none) and any key.
async fn call_with_key(
    fake: &FakeTruemed,
    key: &str,
    method: &str,
    path: &str,
    body: Option<String>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = HTTP
        .with(reqwest::Client::clone)
        .request(method, format!("{}{path}", fake.base_url()))
        .header("x-truemed-api-key", key);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
    };
    (status, value)
}

/// The hex HMAC-SHA256 of `{t}.{body}`, computed here rather than by the crate.
fn hmac_hex(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A fake that starts empty.
async fn fake() -> FakeTruemed {
    FakeTruemed::builder()
        .api_key("sk_test_control")
        .start()
        .await
}

// ---------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_created_session_is_seen_by_the_api_and_the_control_api() {
    let fake = fake().await;
    let (status, created) = call(
        &fake,
        "POST",
        "/_fake/sessions",
        Some(json!({
            "qualification_session_id": "qs_1",
            "email": "ada@example.com",
            "user_name": "Ada Lovelace",
            "eligible_amount": 12000,
            "expires_at": "2025-06-01T00:00:00Z",
            "metadata": "{\"crm_id\":7}",
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["qualification_session_id"], "qs_1");
    assert_eq!(created["status"], "pending");
    assert_eq!(created["metadata"], "{\"crm_id\":7}");
    assert_eq!(created["idempotency_keys"], json!([]));
    assert!(created["created_at"].is_string());
    assert!(created["user_id"].is_null());

    // Defaults: a generated id, pending, created now; or no created_at when null.
    let (status, generated) = call(&fake, "POST", "/_fake/sessions", None).await;
    assert_eq!(status, 201);
    let generated_id = generated["qualification_session_id"].as_str().unwrap();
    assert!(generated_id.starts_with("qs_"), "{generated_id}");
    let (_, undated) = call(
        &fake,
        "POST",
        "/_fake/sessions",
        Some(json!({"qualification_session_id": "qs_undated", "created_at": null, "status": "processing"})),
    )
    .await;
    assert!(undated["created_at"].is_null());

    // The API serves them.
    let client = fake.client();
    let one = client.qualification_sessions().get("qs_1").await.unwrap();
    assert_eq!(one.email.as_deref(), Some("ada@example.com"));
    assert_eq!(one.eligible_amount.map(|a| a.as_f64()), Some(12000.0));
    let page = client.qualification_sessions().list().send().await.unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.items[2].qualification_session_id, "qs_undated");

    // So does the control API, and the Rust handle.
    let (status, list) = call(&fake, "GET", "/_fake/sessions", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["sessions"].as_array().unwrap().len(), 3);
    let (status, record) = call(&fake, "GET", "/_fake/sessions/qs_1", None).await;
    assert_eq!((status, &record["email"]), (200, &json!("ada@example.com")));
    assert_eq!(
        fake.record("qs_1").unwrap().metadata.as_deref(),
        Some("{\"crm_id\":7}")
    );

    // Removed: the API says 404.
    let (status, _) = call(&fake, "DELETE", "/_fake/sessions/qs_1", None).await;
    assert_eq!(status, 204);
    assert!(matches!(
        client.qualification_sessions().get("qs_1").await,
        Err(Error::Api(ref e)) if e.kind() == ApiErrorKind::NotFound
    ));
    let (status, body) = call(&fake, "DELETE", "/_fake/sessions/qs_1", None).await;
    assert_eq!((status, &body["error"]), (404, &json!("NotFound")));
}

#[tokio::test]
async fn decisions_change_the_status_and_name_the_delivery() {
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake.seed(SessionSeed::new("qs_2"));
    fake.seed(SessionSeed::new("qs_3"));

    // No endpoint: no delivery.
    let (status, decision) = call(&fake, "POST", "/_fake/sessions/qs_1/approve", None).await;
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["session"]["status"], "approved");
    assert!(decision["session"]["expires_at"].is_string());
    assert!(decision["session"]["lmn_reviewed_at"].is_string());
    assert!(decision["webhook_delivery_id"].is_null());

    let (status, decision) = call(
        &fake,
        "POST",
        "/_fake/sessions/qs_2/reject",
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, &decision["session"]["status"]),
        (200, &json!("rejected"))
    );
    let (status, decision) = call(
        &fake,
        "POST",
        "/_fake/sessions/qs_3/status",
        Some(json!({"status": "processing"})),
    )
    .await;
    assert_eq!(
        (status, &decision["session"]["status"]),
        (200, &json!("processing"))
    );
    assert_eq!(fake.session("qs_3").unwrap().status, Status::Processing);

    let (status, body) = call(&fake, "POST", "/_fake/sessions/qs_missing/approve", None).await;
    assert_eq!((status, &body["error"]), (404, &json!("NotFound")));
}

// ---------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn approving_delivers_a_webhook_that_verifies_both_ways() {
    let receiver = Scripted::sequence(vec![Reply::raw(204, "")]).await;
    let fake = fake().await;
    fake.seed(
        SessionSeed::new("qs_1")
            .email("ada@example.com")
            .user_id("user_42"),
    );
    let url = format!("{}/hooks/truemed", receiver.base_url);
    let (status, endpoint) = call(
        &fake,
        "PUT",
        "/_fake/webhook_endpoint",
        Some(json!({"url": url, "secret": "whsec_control"})),
    )
    .await;
    assert_eq!(status, 200, "{endpoint}");
    assert_eq!(endpoint["url"], url);
    assert_eq!(endpoint["signed"], true);
    assert_eq!(endpoint["attempts"], 5);
    assert!(endpoint.get("secret").is_none());

    let (_, decision) = call(&fake, "POST", "/_fake/sessions/qs_1/approve", None).await;
    let delivery_id = decision["webhook_delivery_id"].as_str().unwrap().to_owned();
    assert!(delivery_id.starts_with("whd_"));
    let (status, flushed) = call(&fake, "POST", "/_fake/webhooks/flush", None).await;
    assert_eq!(status, 200);
    assert_eq!(flushed["complete"], true);

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.uri.path(), "/hooks/truemed");

    // With the crate's verifier.
    let delivery = WebhookVerifier::new("whsec_control")
        .verify_signed(&request.headers, &request.body)
        .unwrap();
    assert_eq!(delivery.webhook_delivery_id, delivery_id);
    let WebhookEvent::QualificationSessionComplete(payload) = delivery.event else {
        panic!("not a completion");
    };
    assert_eq!(payload.qualification_session_id, "qs_1");
    assert_eq!(payload.status, Status::Approved);
    assert_eq!(payload.user_id.as_deref(), Some("user_42"));

    // With an HMAC computed here, from the header as sent.
    let header = request.headers["x-truemed-signature"].to_str().unwrap();
    let timestamp = header
        .split(',')
        .find_map(|part| part.strip_prefix("t="))
        .unwrap();
    let signature = header
        .split(',')
        .find_map(|part| part.strip_prefix("v1="))
        .unwrap();
    assert_eq!(
        signature,
        hmac_hex("whsec_control", timestamp, &request.body)
    );
    let envelope: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(envelope["event_type"], "qualification_session.complete");
    assert_eq!(envelope["data"]["email"], "ada@example.com");

    // The ledger of deliveries says the same.
    let (status, recorded) = call(
        &fake,
        "GET",
        &format!("/_fake/webhooks/{delivery_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(recorded["state"], "delivered");
    assert_eq!(recorded["qualification_session_id"], "qs_1");
    assert_eq!(recorded["payload"]["status"], "approved");
    assert_eq!(recorded["attempts"][0]["status"], 204);
    assert_eq!(fake.stats().webhooks_delivered, 1);

    // Already approved: no second delivery.
    let (_, decision) = call(&fake, "POST", "/_fake/sessions/qs_1/approve", None).await;
    assert!(decision["webhook_delivery_id"].is_null());
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_three_attempts_recorded() {
    let receiver = Scripted::sequence(vec![
        Reply::raw(500, "receiver down"),
        Reply::raw(500, "receiver still down"),
        Reply::raw(204, ""),
    ])
    .await;
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    let (status, _) = call(
        &fake,
        "PUT",
        "/_fake/webhook_endpoint",
        Some(json!({"url": receiver.base_url, "secret": "whsec_x", "backoff_ms": 5})),
    )
    .await;
    assert_eq!(status, 200);
    call(&fake, "POST", "/_fake/sessions/qs_1/reject", None).await;
    let (_, flushed) = call(&fake, "POST", "/_fake/webhooks/flush", None).await;
    assert_eq!(flushed["complete"], true);

    let delivery = &flushed["deliveries"][0];
    assert_eq!(delivery["state"], "delivered");
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(500), &json!(204)]);
    assert_eq!(attempts[0]["response_body"], "receiver down");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[2]["attempt"], 3);
    assert!(attempts.iter().all(|a| a["error"].is_null()));

    // Every attempt carried the same delivery id, each signed afresh and valid.
    let verifier = WebhookVerifier::new("whsec_x");
    let ids: Vec<String> = receiver
        .requests()
        .iter()
        .map(|r| {
            verifier
                .verify_signed(&r.headers, &r.body)
                .unwrap()
                .webhook_delivery_id
        })
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| id == &ids[0]));

    // The Rust handle reads the same ledger.
    let deliveries = fake.webhook_deliveries();
    assert_eq!(deliveries[0].state, DeliveryState::Delivered);
    assert_eq!(deliveries[0].attempts.len(), 3);
    assert_eq!(fake.stats().webhooks_delivered, 1);
}

#[tokio::test]
async fn a_receiver_that_never_answers_2xx_fails_after_the_attempts() {
    let receiver = Scripted::sequence(vec![Reply::raw(503, "no")]).await;
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    call(
        &fake,
        "PUT",
        "/_fake/webhook_endpoint",
        Some(json!({"url": receiver.base_url, "secret": "s", "attempts": 2, "backoff_ms": 1})),
    )
    .await;
    call(&fake, "POST", "/_fake/sessions/qs_1/approve", None).await;
    fake.flush_webhooks().await;
    let (_, list) = call(
        &fake,
        "GET",
        "/_fake/webhooks?qualification_session_id=qs_1",
        None,
    )
    .await;
    let delivery = &list["deliveries"][0];
    assert_eq!(delivery["state"], "failed");
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(receiver.count(), 2);
    assert_eq!(fake.stats().webhooks_failed, 1);
    let (_, other) = call(
        &fake,
        "GET",
        "/_fake/webhooks?qualification_session_id=qs_2",
        None,
    )
    .await;
    assert_eq!(other["deliveries"], json!([]));

    // An unreachable receiver: each attempt records why there was no answer.
    call(
        &fake,
        "PUT",
        "/_fake/webhook_endpoint",
        Some(json!({"url": "http://127.0.0.1:9/hooks", "secret": "s"})),
    )
    .await;
    fake.seed(SessionSeed::new("qs_2"));
    call(&fake, "POST", "/_fake/sessions/qs_2/approve", None).await;
    fake.flush_webhooks().await;
    let (_, list) = call(
        &fake,
        "GET",
        "/_fake/webhooks?qualification_session_id=qs_2",
        None,
    )
    .await;
    let attempt = &list["deliveries"][0]["attempts"][0];
    assert!(attempt["status"].is_null());
    assert!(
        attempt["error"].as_str().unwrap().contains("connect"),
        "{attempt}"
    );
}

#[tokio::test]
async fn unsigned_endpoints_send_the_shared_secret() {
    let receiver = Scripted::sequence(vec![Reply::raw(200, "ok")]).await;
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    call(
        &fake,
        "PUT",
        "/_fake/webhook_endpoint",
        Some(json!({"url": receiver.base_url, "secret": "shared_secret", "signed": false})),
    )
    .await;
    call(&fake, "POST", "/_fake/sessions/qs_1/approve", None).await;
    fake.flush_webhooks().await;
    let request = &receiver.requests()[0];
    assert_eq!(request.headers["x-truemed-api-key"], "shared_secret");
    let payload = WebhookVerifier::new("shared_secret")
        .verify_unsigned(&request.headers, &request.body)
        .unwrap();
    assert_eq!(payload.qualification_session_id, "qs_1");

    // No endpoint: no delivery.
    let (status, _) = call(&fake, "DELETE", "/_fake/webhook_endpoint", None).await;
    assert_eq!(status, 204);
    let (_, endpoint) = call(&fake, "GET", "/_fake/webhook_endpoint", None).await;
    assert!(endpoint["url"].is_null());
    fake.seed(SessionSeed::new("qs_2"));
    let (_, decision) = call(&fake, "POST", "/_fake/sessions/qs_2/approve", None).await;
    assert!(decision["webhook_delivery_id"].is_null());
}

#[tokio::test]
async fn a_flush_stops_waiting_at_its_timeout() {
    let receiver =
        Scripted::sequence(vec![Reply::raw(204, "").delay(Duration::from_millis(800))]).await;
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    call(
        &fake,
        "PUT",
        "/_fake/webhook_endpoint",
        Some(json!({"url": receiver.base_url, "secret": "s"})),
    )
    .await;
    call(&fake, "POST", "/_fake/sessions/qs_1/approve", None).await;
    let (_, flushed) = call(
        &fake,
        "POST",
        "/_fake/webhooks/flush",
        Some(json!({"timeout_ms": 50})),
    )
    .await;
    assert_eq!(flushed["complete"], false);
    assert_eq!(flushed["deliveries"][0]["state"], "pending");
    let (_, flushed) = call(&fake, "POST", "/_fake/webhooks/flush", None).await;
    assert_eq!(flushed["complete"], true);
    assert_eq!(flushed["deliveries"][0]["state"], "delivered");
}

// ---------------------------------------------------------------------------------------
// Faults, chaos, latency
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn faults_injected_over_http_reach_the_client() {
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    let once = fake
        .client_builder()
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let sessions = once.qualification_sessions();

    let (status, queue) = call(
        &fake,
        "POST",
        "/_fake/faults",
        Some(json!({"kind": "status", "status": 429, "retry_after_ms": 1500, "operation": "get_qualification_session"})),
    )
    .await;
    assert_eq!(status, 201, "{queue}");
    assert_eq!(queue["pending_faults"], 1);
    assert_eq!(queue["faults"][0]["kind"], "status");
    assert_eq!(queue["faults"][0]["operation"], "get_qualification_session");
    // A list does not take a fault meant for get.
    sessions.list().send().await.unwrap();
    let error = sessions.get("qs_1").await.unwrap_err();
    assert_eq!(
        error.api_kind(),
        Some(ApiErrorKind::RateLimited),
        "{error:?}"
    );
    assert_eq!(error.retry_after(), Some(Duration::from_millis(1500)));

    call(
        &fake,
        "POST",
        "/_fake/faults",
        Some(json!({"kind": "drop_connection"})),
    )
    .await;
    let error = sessions.get("qs_1").await.unwrap_err();
    assert!(matches!(error, Error::Connection(_)), "{error:?}");

    // A lost response: applied, and the answer never came.
    call(
        &fake,
        "POST",
        "/_fake/faults",
        Some(json!({"kind": "lose_response", "operation": "update_qualification_session"})),
    )
    .await;
    let error = sessions
        .update("qs_1")
        .user_id("user_42")
        .send()
        .await
        .unwrap_err();
    assert!(error.may_have_been_applied(), "{error:?}");
    assert_eq!(
        fake.session("qs_1").unwrap().user_id.as_deref(),
        Some("user_42")
    );

    // Two 503s, then a patient client gets through.
    call(
        &fake,
        "POST",
        "/_fake/faults",
        Some(json!({"kind": "status", "status": 503, "times": 2})),
    )
    .await;
    let (_, queue) = call(&fake, "GET", "/_fake/faults", None).await;
    assert_eq!(queue["pending_faults"], 2);
    fake.client()
        .qualification_sessions()
        .get("qs_1")
        .await
        .unwrap();

    let (_, stats) = call(&fake, "GET", "/_fake/stats", None).await;
    assert_eq!(stats["faults_injected"], 5);
    assert_eq!(stats["status_faults"], 3);
    assert_eq!(stats["dropped_connections"], 1);
    assert_eq!(stats["lost_responses"], 1);
    assert_eq!(stats["pending_faults"], 0);
    // Control requests are not API requests.
    assert_eq!(stats["requests"], 7);

    // A delay, then cleared.
    call(
        &fake,
        "POST",
        "/_fake/faults",
        Some(json!({"kind": "delay", "delay_ms": 300, "times": 3})),
    )
    .await;
    let (status, _) = call(&fake, "DELETE", "/_fake/faults", None).await;
    assert_eq!(status, 204);
    assert_eq!(fake.pending_faults(), 0);
}

#[tokio::test]
async fn seeded_chaos_over_http_is_deterministic() {
    async fn run(seed: u64) -> Vec<u16> {
        let fake = fake().await;
        fake.seed(SessionSeed::new("qs_1"));
        let (status, body) = call(
            &fake,
            "POST",
            "/_fake/chaos",
            Some(json!({
                "probability": 0.5,
                "seed": seed,
                "operation": "get_qualification_session",
                "faults": [
                    {"weight": 3, "fault": {"kind": "status", "status": 503}},
                    {"weight": 1, "fault": {"kind": "status", "status": 500}},
                ],
            })),
        )
        .await;
        assert_eq!(status, 204, "{body}");
        let mut statuses = Vec::new();
        for _ in 0..40 {
            let (status, _) = call(&fake, "GET", "/api/v1/qualification_session/qs_1", None).await;
            statuses.push(status);
        }
        // Off again.
        let (status, _) = call(&fake, "DELETE", "/_fake/chaos", None).await;
        assert_eq!(status, 204);
        for _ in 0..5 {
            let (status, _) = call(&fake, "GET", "/api/v1/qualification_session/qs_1", None).await;
            assert_eq!(status, 200);
        }
        statuses
    }
    let (a, b) = (run(11).await, run(11).await);
    assert_eq!(a, b);
    let faults = a.iter().filter(|s| **s != 200).count();
    assert!((8..=32).contains(&faults), "{a:?}");
    assert!(a.contains(&503));

    // The default mix.
    let fake = fake().await;
    let (status, _) = call(
        &fake,
        "POST",
        "/_fake/chaos",
        Some(json!({"probability": 1})),
    )
    .await;
    assert_eq!(status, 204);
    let error = fake
        .client_builder()
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
        .qualification_sessions()
        .list()
        .send()
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
}

#[tokio::test]
async fn latency_over_http() {
    let fake = fake().await;
    let (status, body) = call(
        &fake,
        "PUT",
        "/_fake/latency",
        Some(json!({"latency_ms": 150})),
    )
    .await;
    assert_eq!((status, &body["latency_ms"]), (200, &json!(150)));
    assert_eq!(fake.latency(), Duration::from_millis(150));
    let started = std::time::Instant::now();
    // Control requests are not slowed down.
    call(&fake, "GET", "/_fake/stats", None).await;
    assert!(started.elapsed() < Duration::from_millis(150));
    fake.client()
        .qualification_sessions()
        .list()
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    let (_, body) = call(&fake, "GET", "/_fake/latency", None).await;
    assert_eq!(body["latency_ms"], 150);
}

// ---------------------------------------------------------------------------------------
// Ledger, stats, reset
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_ledger_lists_each_applied_update_once() {
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake.seed(SessionSeed::new("qs_2"));
    let path = "/api/v1/qualification_session/qs_1/update";
    let update = json!({"idempotency_key": "k1", "user_id": "user_42", "metadata": "{\"n\":1}"});
    for _ in 0..2 {
        let (status, _) = call(&fake, "POST", path, Some(update.clone())).await;
        assert_eq!(status, 200);
    }
    let (status, _) = call(
        &fake,
        "POST",
        path,
        Some(json!({"idempotency_key": "k2", "user_id": "other"})),
    )
    .await;
    assert_eq!(status, 409);
    call(
        &fake,
        "POST",
        "/api/v1/qualification_session/qs_2/update",
        Some(json!({"idempotency_key": "k1", "success_url": "https://shop.example/ok"})),
    )
    .await;

    let (status, ledger) = call(&fake, "GET", "/_fake/ledger", None).await;
    assert_eq!(status, 200);
    let applied = ledger["applied_updates"].as_array().unwrap();
    assert_eq!(applied.len(), 2);
    assert_eq!(applied[0]["qualification_session_id"], "qs_1");
    assert_eq!(applied[0]["idempotency_key"], "k1");
    assert_eq!(applied[0]["user_id"], "user_42");
    assert_eq!(applied[0]["metadata"], "{\"n\":1}");
    assert!(applied[0]["applied_at"].is_string());
    assert_eq!(applied[1]["success_url"], "https://shop.example/ok");
    let (_, only) = call(
        &fake,
        "GET",
        "/_fake/ledger?qualification_session_id=qs_2",
        None,
    )
    .await;
    assert_eq!(only["applied_updates"].as_array().unwrap().len(), 1);

    let (_, record) = call(&fake, "GET", "/_fake/sessions/qs_1", None).await;
    assert_eq!(record["idempotency_keys"], json!(["k1"]));
    assert_eq!(record["user_id"], "user_42");

    let (_, stats) = call(&fake, "GET", "/_fake/stats", None).await;
    assert_eq!(stats["updates_applied"], 2);
    assert_eq!(stats["idempotent_replays"], 1);
    assert_eq!(stats["updates_refused"], 1);
    assert_eq!(stats["update_requests"], 4);
}

#[tokio::test]
async fn the_ledger_answers_its_newest_updates_up_to_a_limit() {
    use truemed_fake::DEFAULT_CONTROL_LIMIT;
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake.seed(SessionSeed::new("qs_2"));
    let all = DEFAULT_CONTROL_LIMIT + 5;
    for n in 0..all {
        let id = if n % 2 == 0 { "qs_1" } else { "qs_2" };
        let path = format!("/api/v1/qualification_session/{id}/update");
        let body = json!({"idempotency_key": format!("k{n}"), "metadata": format!("{n}")});
        let (status, _) = call(&fake, "POST", &path, Some(body)).await;
        assert_eq!(status, 200);
    }
    let keys = |ledger: &Value| -> Vec<String> {
        ledger["applied_updates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["idempotency_key"].as_str().unwrap().to_owned())
            .collect()
    };
    let expected =
        |range: std::ops::Range<usize>| -> Vec<String> { range.map(|n| format!("k{n}")).collect() };

    // Without a limit: the newest DEFAULT_CONTROL_LIMIT, oldest first; `total` counts all.
    let (status, ledger) = call(&fake, "GET", "/_fake/ledger", None).await;
    assert_eq!(status, 200);
    assert_eq!(keys(&ledger), expected(5..all));
    assert_eq!(ledger["total"], all);
    let (_, ledger) = call(&fake, "GET", "/_fake/ledger?limit=3", None).await;
    assert_eq!(keys(&ledger), expected(all - 3..all));
    assert_eq!(ledger["total"], all);
    let (_, ledger) = call(&fake, "GET", "/_fake/ledger?limit=1000", None).await;
    assert_eq!(keys(&ledger), expected(0..all));
    // The limit applies after the filter.
    let (_, ledger) = call(
        &fake,
        "GET",
        "/_fake/ledger?qualification_session_id=qs_2&limit=2",
        None,
    )
    .await;
    assert_eq!(
        keys(&ledger),
        [format!("k{}", all - 4), format!("k{}", all - 2)]
    );
    assert_eq!(ledger["total"], all / 2);
    assert_eq!(fake.applied_updates().len(), all);
}

#[tokio::test]
async fn the_deliveries_answer_the_newest_up_to_a_limit() {
    use truemed_fake::{WebhookRetries, DEFAULT_CONTROL_LIMIT};
    let receiver = Scripted::sequence(vec![Reply::raw(204, "")]).await;
    let fake = FakeTruemed::builder()
        .api_key("sk_test_control")
        .webhook(format!("{}/hooks", receiver.base_url), "whsec_limit")
        .webhook_retries(WebhookRetries::default().with_max_attempts(1))
        .start()
        .await;
    let all = DEFAULT_CONTROL_LIMIT + 1;
    for n in 0..all {
        let id = format!("qs_{n}");
        fake.seed(SessionSeed::new(&id));
        fake.approve(&id);
    }
    fake.flush_webhooks().await;
    let sessions = |list: &Value| -> Vec<String> {
        list["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["qualification_session_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let expected = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|n| format!("qs_{n}")).collect()
    };

    let (status, list) = call(&fake, "GET", "/_fake/webhooks", None).await;
    assert_eq!(status, 200);
    assert_eq!(sessions(&list), expected(1..all));
    assert_eq!(list["total"], all);
    let (_, list) = call(&fake, "GET", "/_fake/webhooks?limit=2", None).await;
    assert_eq!(sessions(&list), expected(all - 2..all));
    assert_eq!(list["deliveries"][1]["state"], "delivered");
    let (_, list) = call(
        &fake,
        "GET",
        "/_fake/webhooks?limit=5&qualification_session_id=qs_0",
        None,
    )
    .await;
    assert_eq!(sessions(&list), ["qs_0"]);
    assert_eq!(list["total"], 1);
    assert_eq!(fake.webhook_deliveries().len(), all);
}

#[tokio::test]
async fn a_limit_out_of_range_is_a_400_naming_it() {
    let fake = fake().await;
    for path in ["/_fake/ledger", "/_fake/webhooks"] {
        for bad in ["0", "1001", "-1", "x", "", "1.5", "99999999999999999999"] {
            let (status, body) = call(&fake, "GET", &format!("{path}?limit={bad}"), None).await;
            assert_eq!(status, 400, "{path}?limit={bad}: {body}");
            assert_eq!(body["error"], "ValidationError");
            let message = body["message"].as_str().unwrap();
            assert!(message.starts_with("limit: "), "{message}");
            assert!(message.contains("1 to 1000"), "{message}");
        }
    }
}

#[test]
fn the_spec_documents_the_limits_the_code_applies() {
    use truemed_fake::{DEFAULT_CONTROL_LIMIT, MAX_CONTROL_LIMIT};
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/fake-control.yaml"
    ))
    .unwrap();
    // One parameter, components/parameters/Limit (its lines indented deeper than
    // `    Limit:`), used by both listings.
    let at = spec
        .find("\n    Limit:\n")
        .expect("components.parameters.Limit");
    let block: Vec<&str> = spec[at..]
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with("      "))
        .map(str::trim)
        .collect();
    for line in [
        "name: limit".to_owned(),
        "in: query".to_owned(),
        "minimum: 1".to_owned(),
        format!("maximum: {MAX_CONTROL_LIMIT}"),
        format!("default: {DEFAULT_CONTROL_LIMIT}"),
    ] {
        assert!(block.contains(&line.as_str()), "{line:?} not in {block:#?}");
    }
    for operation in [
        "operationId: get_ledger",
        "operationId: list_webhook_deliveries",
    ] {
        let at = spec.find(operation).unwrap();
        let rest = &spec[at..];
        let end = rest.find("responses:").unwrap();
        assert!(
            rest[..end].contains("$ref: \"#/components/parameters/Limit\""),
            "{operation} does not take components/parameters/Limit"
        );
    }
}

#[tokio::test]
async fn reset_returns_to_how_the_fake_started() {
    let receiver = Scripted::sequence(vec![Reply::raw(204, "")]).await;
    let fake = FakeTruemed::builder()
        .api_key("sk_test_control")
        .seed(SessionSeed::new("qs_initial"))
        .start()
        .await;
    call(
        &fake,
        "POST",
        "/_fake/sessions",
        Some(json!({"qualification_session_id": "qs_new"})),
    )
    .await;
    call(
        &fake,
        "POST",
        "/api/v1/qualification_session/qs_initial/update",
        Some(json!({"idempotency_key": "k", "user_id": "u"})),
    )
    .await;
    call(
        &fake,
        "POST",
        "/_fake/faults",
        Some(json!({"kind": "drop_connection", "times": 9})),
    )
    .await;
    call(
        &fake,
        "PUT",
        "/_fake/webhook_endpoint",
        Some(json!({"url": receiver.base_url, "secret": "s"})),
    )
    .await;
    call(
        &fake,
        "PUT",
        "/_fake/latency",
        Some(json!({"latency_ms": 20})),
    )
    .await;
    call(&fake, "POST", "/_fake/sessions/qs_new/approve", None).await;
    fake.flush_webhooks().await;
    assert_eq!(fake.webhook_deliveries().len(), 1);

    let (status, _) = call(&fake, "POST", "/_fake/reset", None).await;
    assert_eq!(status, 204);
    let (_, list) = call(&fake, "GET", "/_fake/sessions", None).await;
    let ids: Vec<&Value> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["qualification_session_id"])
        .collect();
    assert_eq!(ids, [&json!("qs_initial")]);
    assert!(list["sessions"][0]["user_id"].is_null());
    let (_, stats) = call(&fake, "GET", "/_fake/stats", None).await;
    assert_eq!(stats["requests"], 0);
    assert_eq!(stats["pending_faults"], 0);
    let (_, ledger) = call(&fake, "GET", "/_fake/ledger", None).await;
    assert_eq!(ledger["applied_updates"], json!([]));
    let (_, deliveries) = call(&fake, "GET", "/_fake/webhooks", None).await;
    assert_eq!(deliveries["deliveries"], json!([]));
    let (_, endpoint) = call(&fake, "GET", "/_fake/webhook_endpoint", None).await;
    assert!(endpoint["url"].is_null());
    assert_eq!(fake.latency(), Duration::ZERO);
    // The update can be made again: the idempotency records are gone.
    let (status, _) = call(
        &fake,
        "POST",
        "/api/v1/qualification_session/qs_initial/update",
        Some(json!({"idempotency_key": "k", "user_id": "u2"})),
    )
    .await;
    assert_eq!(status, 200);

    let (status, _) = call(
        &fake,
        "POST",
        "/_fake/reset",
        Some(json!({"sessions": "none"})),
    )
    .await;
    assert_eq!(status, 204);
    assert!(fake.sessions().is_empty());
}

// ---------------------------------------------------------------------------------------
// Concurrency: each answer comes from the change it reports
// ---------------------------------------------------------------------------------------

/// What one racing request got: its status and body.
type Answer = (u16, Value);

/// One request over a shared client, with the fake's key.
async fn send(
    http: reqwest::Client,
    url: String,
    method: reqwest::Method,
    body: Option<Value>,
) -> Answer {
    let mut request = http
        .request(method, url)
        .header("x-truemed-api-key", "sk_test_control");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creates_and_approves_racing_deletes_and_resets_answer_what_they_changed() {
    use futures::StreamExt as _;
    use reqwest::Method;
    use truemed_fake::WebhookRetries;

    const ITERATIONS: usize = 500;
    let receiver = Scripted::sequence(vec![Reply::raw(204, "")]).await;
    let fake = FakeTruemed::builder()
        .api_key("sk_test_control")
        .webhook(format!("{}/hooks", receiver.base_url), "whsec_race")
        .webhook_retries(WebhookRetries::default().with_max_attempts(1))
        .start()
        .await;
    let http = reqwest::Client::new();
    let base = fake.base_url();

    // Each iteration creates one session, approves it and deletes it at once, on three
    // connections; every tenth also resets the fake (its sessions: none).
    let outcomes: Vec<(String, Answer, Answer)> = futures::stream::iter(0..ITERATIONS)
        .map(|i| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let id = format!("qs_race_{i}");
                let create = tokio::spawn(send(
                    http.clone(),
                    format!("{base}/_fake/sessions"),
                    Method::POST,
                    Some(json!({"qualification_session_id": id, "email": format!("{id}@example.com")})),
                ));
                let approve = tokio::spawn(send(
                    http.clone(),
                    format!("{base}/_fake/sessions/{id}/approve"),
                    Method::POST,
                    None,
                ));
                let delete = tokio::spawn(send(
                    http.clone(),
                    format!("{base}/_fake/sessions/{id}"),
                    Method::DELETE,
                    None,
                ));
                let reset = (i % 10 == 0).then(|| {
                    tokio::spawn(send(
                        http.clone(),
                        format!("{base}/_fake/reset"),
                        Method::POST,
                        Some(json!({"sessions": "none"})),
                    ))
                });
                let (create, approve, delete) =
                    (create.await.unwrap(), approve.await.unwrap(), delete.await.unwrap());
                assert!(matches!(delete.0, 204 | 404), "{id}: DELETE {delete:?}");
                if let Some(reset) = reset {
                    assert_eq!(reset.await.unwrap().0, 204, "{id}: reset");
                }
                (id, create, approve)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    fake.flush_webhooks().await;

    let mut approved = std::collections::HashMap::new();
    for (id, (status, created), (approve_status, decision)) in &outcomes {
        // A create always succeeds, and answers the session it created, untouched by the
        // approve and the DELETE racing it.
        assert_eq!(*status, 201, "{id}: create answered {created}");
        assert_eq!(created["qualification_session_id"], *id, "{created}");
        assert_eq!(created["email"], format!("{id}@example.com"), "{created}");
        assert_eq!(created["status"], "pending", "{id}: {created}");
        match approve_status {
            // The status changed: the answer is the approved session and its delivery.
            200 => {
                assert_eq!(decision["session"]["qualification_session_id"], *id);
                assert_eq!(decision["session"]["status"], "approved", "{decision}");
                let delivery = decision["webhook_delivery_id"].as_str();
                assert!(
                    delivery.is_some_and(|d| d.starts_with("whd_")),
                    "{id}: approved without naming its delivery: {decision}"
                );
                approved.insert(id.clone(), delivery.unwrap().to_owned());
            }
            404 => assert_eq!(decision["error"], "NotFound", "{decision}"),
            other => panic!("{id}: approve answered {other}: {decision}"),
        }
    }
    // Every delivery the receiver got was announced by the approve that started it: an
    // approve that answered 404 changed nothing and started nothing.
    for request in receiver.requests() {
        let envelope: Value = serde_json::from_slice(&request.body).unwrap();
        let id = envelope["data"]["qualification_session_id"]
            .as_str()
            .unwrap();
        let delivery = envelope["webhook_delivery_id"].as_str().unwrap();
        assert_eq!(
            approved.get(id).map(String::as_str),
            Some(delivery),
            "{id}: delivery {delivery} was sent, but its approve did not name it"
        );
    }
    // The race was run: some approves landed, some found nothing.
    let landed = approved.len();
    assert!(
        landed > 0 && landed < ITERATIONS,
        "{landed} of {ITERATIONS} approved"
    );
}

// ---------------------------------------------------------------------------------------
// Refusals: key, bad input, methods, paths
// ---------------------------------------------------------------------------------------

/// Every control operation: method, path, a valid body.
fn operations() -> Vec<(&'static str, &'static str, Option<Value>)> {
    vec![
        ("GET", "/_fake/sessions", None),
        ("POST", "/_fake/sessions", Some(json!({}))),
        ("GET", "/_fake/sessions/qs_1", None),
        ("DELETE", "/_fake/sessions/qs_1", None),
        ("POST", "/_fake/sessions/qs_1/approve", None),
        ("POST", "/_fake/sessions/qs_1/reject", None),
        (
            "POST",
            "/_fake/sessions/qs_1/status",
            Some(json!({"status": "processing"})),
        ),
        ("GET", "/_fake/faults", None),
        (
            "POST",
            "/_fake/faults",
            Some(json!({"kind": "drop_connection"})),
        ),
        ("DELETE", "/_fake/faults", None),
        ("POST", "/_fake/chaos", Some(json!({"probability": 0.1}))),
        ("DELETE", "/_fake/chaos", None),
        ("GET", "/_fake/latency", None),
        ("PUT", "/_fake/latency", Some(json!({"latency_ms": 0}))),
        ("GET", "/_fake/stats", None),
        ("GET", "/_fake/ledger", None),
        ("GET", "/_fake/webhook_endpoint", None),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            Some(json!({"url": "http://127.0.0.1:9/", "secret": "s"})),
        ),
        ("DELETE", "/_fake/webhook_endpoint", None),
        ("GET", "/_fake/webhooks", None),
        ("POST", "/_fake/webhooks/flush", None),
        ("GET", "/_fake/webhooks/whd_1", None),
        ("POST", "/_fake/reset", None),
    ]
}

#[tokio::test]
async fn every_control_operation_needs_the_key() {
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    for (method, path, body) in operations() {
        for key in ["", "sk_wrong"] {
            let (status, refused) = call_with_key(
                &fake,
                key,
                method,
                path,
                body.as_ref().map(Value::to_string),
            )
            .await;
            assert_eq!(status, 401, "{method} {path} with {key:?}");
            assert_eq!(refused["error"], "Unauthorized", "{method} {path}");
        }
    }
    // Nothing happened, and control refusals are not counted as API requests.
    assert_eq!(fake.sessions().len(), 1);
    assert_eq!(fake.stats().unauthorized, 0);
    let response = reqwest::get(format!("{}/_fake/stats", fake.base_url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // With the key, each answers (404 for the unknown delivery).
    for (method, path, body) in operations() {
        fake.seed(SessionSeed::new("qs_1"));
        let (status, answer) = call_with_key(
            &fake,
            &fake.api_key(),
            method,
            path,
            body.as_ref().map(Value::to_string),
        )
        .await;
        assert!(
            (200..300).contains(&status) || (status == 404 && path.contains("whd_")),
            "{method} {path}: {status} {answer}"
        );
    }
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "POST",
            "/_fake/sessions",
            json!({"colour": "red"}),
            "colour",
        ),
        (
            "POST",
            "/_fake/sessions",
            json!({"qualification_session_id": ""}),
            "qualification_session_id",
        ),
        (
            "POST",
            "/_fake/sessions",
            json!({"qualification_session_id": 7}),
            "qualification_session_id",
        ),
        (
            "POST",
            "/_fake/sessions",
            json!({"status": "Approved"}),
            "status",
        ),
        (
            "POST",
            "/_fake/sessions",
            json!({"created_at": "yesterday"}),
            "created_at",
        ),
        (
            "POST",
            "/_fake/sessions",
            json!({"expires_at": "2025-06-01"}),
            "expires_at",
        ),
        (
            "POST",
            "/_fake/sessions",
            json!({"eligible_amount": "a lot"}),
            "eligible_amount",
        ),
        (
            "POST",
            "/_fake/sessions",
            json!({"user_id": "u".repeat(256)}),
            "user_id",
        ),
        (
            "POST",
            "/_fake/sessions",
            json!({"metadata": {"crm_id": 7}}),
            "metadata",
        ),
        (
            "POST",
            "/_fake/sessions/qs_1/approve",
            json!({"expires_at": "x"}),
            "expires_at",
        ),
        (
            "POST",
            "/_fake/sessions/qs_1/reject",
            json!({"why": "x"}),
            "why",
        ),
        ("POST", "/_fake/sessions/qs_1/status", json!({}), "status"),
        (
            "POST",
            "/_fake/sessions/qs_1/status",
            json!({"status": "APPROVED"}),
            "status",
        ),
        ("POST", "/_fake/faults", json!({}), "kind"),
        ("POST", "/_fake/faults", json!({"kind": "explode"}), "kind"),
        ("POST", "/_fake/faults", json!({"kind": "status"}), "status"),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "status", "status": 200}),
            "status",
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "status", "status": 70000}),
            "status",
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "status", "status": 503, "retry_after_ms": -1}),
            "retry_after_ms",
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "drop_connection", "status": 503}),
            "status",
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "drop_connection", "delay_ms": null}),
            "delay_ms",
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "delay"}),
            "delay_ms",
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "delay", "delay_ms": 600001}),
            "delay_ms",
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "lose_response", "times": 0}),
            "times",
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "lose_response", "operation": "delete_everything"}),
            "operation",
        ),
        ("POST", "/_fake/chaos", json!({}), "probability"),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 1.5}),
            "probability",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.5, "seed": -1}),
            "seed",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.5, "faults": []}),
            "faults",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.5, "faults": [{"weight": 0, "fault": {"kind": "drop_connection"}}]}),
            "faults[0].weight",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.5, "faults": [{"weight": 1, "fault": {"kind": "status"}}]}),
            "faults[0].fault.status",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.5, "faults": [{"weight": 1}]}),
            "faults[0].fault",
        ),
        (
            "PUT",
            "/_fake/latency",
            json!({"latency_ms": "slow"}),
            "latency_ms",
        ),
        (
            "PUT",
            "/_fake/latency",
            json!({"latency_ms": 600001}),
            "latency_ms",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            json!({"secret": "s"}),
            "url",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            json!({"url": "ftp://x", "secret": "s"}),
            "url",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            json!({"url": "http://user@host/", "secret": "s"}),
            "url",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            json!({"url": "http://127.0.0.1/"}),
            "secret",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            json!({"url": "http://127.0.0.1/", "secret": "has space"}),
            "secret",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            json!({"url": "http://127.0.0.1/", "secret": "s", "attempts": 21}),
            "attempts",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            json!({"url": "http://127.0.0.1/", "secret": "s", "timeout_ms": 0}),
            "timeout_ms",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            json!({"url": "http://127.0.0.1/", "secret": "s", "signed": "yes"}),
            "signed",
        ),
        (
            "POST",
            "/_fake/webhooks/flush",
            json!({"timeout_ms": 60001}),
            "timeout_ms",
        ),
        (
            "POST",
            "/_fake/reset",
            json!({"sessions": "some"}),
            "sessions",
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, refused) = call(&fake, method, path, Some(body.clone())).await;
        assert_eq!(status, 400, "{method} {path} {body}: {refused}");
        assert_eq!(
            refused["error"], "ValidationError",
            "{method} {path} {body}"
        );
        let message = refused["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field}: ")),
            "{method} {path} {body}: {message:?} should start with {field:?}"
        );
    }
    // Bodies that are not JSON objects.
    for (method, path) in [
        ("POST", "/_fake/sessions"),
        ("POST", "/_fake/faults"),
        ("POST", "/_fake/chaos"),
        ("PUT", "/_fake/latency"),
        ("PUT", "/_fake/webhook_endpoint"),
        ("POST", "/_fake/sessions/qs_1/status"),
        ("POST", "/_fake/reset"),
    ] {
        for body in ["[]", "null", "7", "{", "not json", "{} {}", "\u{0}"] {
            let (status, refused) =
                call_with_key(&fake, &fake.api_key(), method, path, Some(body.into())).await;
            assert_eq!(status, 400, "{method} {path} {body:?}");
            assert_eq!(refused["error"], "ValidationError");
        }
    }
    // Bodies are bounded.
    let huge = format!("{{\"email\": \"{}\"}}", "x".repeat(3 << 20));
    let (status, refused) = call_with_key(
        &fake,
        &fake.api_key(),
        "POST",
        "/_fake/sessions",
        Some(huge),
    )
    .await;
    assert_eq!(
        (status, &refused["error"]),
        (413, &json!("PayloadTooLarge"))
    );
    // Required bodies cannot be empty.
    let (status, refused) = call_with_key(
        &fake,
        &fake.api_key(),
        "POST",
        "/_fake/faults",
        Some(String::new()),
    )
    .await;
    assert_eq!(status, 400);
    assert!(refused["message"].as_str().unwrap().contains("empty"));
    // Nothing was changed by any of it.
    assert_eq!(fake.pending_faults(), 0);
    assert_eq!(fake.sessions().len(), 1);
    assert_eq!(fake.session("qs_1").unwrap().status, Status::Pending);
    assert!(fake.webhook().is_none());
}

#[tokio::test]
async fn garbage_never_breaks_the_server() {
    use rand::{Rng as _, SeedableRng as _};
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let fragments = [
        "{",
        "}",
        "[",
        "]",
        "\"",
        ":",
        ",",
        "null",
        "true",
        "-1",
        "1e999",
        "18446744073709551616",
        "\"kind\"",
        "\"status\"",
        "\"faults\"",
        "\"probability\"",
        "\"url\"",
        "\u{1F600}",
        "\\u0000",
        "\"sessions\"",
        "0.5",
        " ",
    ];
    let mut codes = std::collections::BTreeMap::new();
    for round in 0..300 {
        let (method, path, _) = operations()[round % operations().len()].clone();
        let body: String = (0..rng.gen_range(0..12))
            .map(|_| fragments[rng.gen_range(0..fragments.len())])
            .collect();
        let (status, _) = call_with_key(&fake, &fake.api_key(), method, path, Some(body)).await;
        assert!(status < 500, "{method} {path}: {status}");
        *codes.entry(status).or_insert(0) += 1;
    }
    assert!(codes.contains_key(&400), "{codes:?}");
    // Still serving.
    let (status, _) = call(&fake, "GET", "/_fake/stats", None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn wrong_methods_and_unknown_paths() {
    let fake = fake().await;
    for (method, path, allow) in [
        ("DELETE", "/_fake/stats", "GET, HEAD"),
        ("PUT", "/_fake/sessions", "GET, HEAD, POST"),
        ("GET", "/_fake/sessions/qs_1/approve", "POST"),
        ("GET", "/_fake/reset", "POST"),
        ("GET", "/_fake/chaos", "POST, DELETE"),
        ("GET", "/_fake/webhooks/flush", "POST"),
    ] {
        let response = reqwest::Client::new()
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", fake.base_url()),
            )
            .header("x-truemed-api-key", fake.api_key())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "MethodNotAllowed");
    }
    for path in [
        "/_fake",
        "/_fake/",
        "/_fake/nothing",
        "/_fake/sessions/qs_1/explode",
    ] {
        let (status, body) = call(&fake, "GET", path, None).await;
        assert_eq!(
            (status, &body["error"]),
            (404, &json!("NotFound")),
            "{path}"
        );
    }
    assert_eq!(fake.stats().requests, 0);
}
