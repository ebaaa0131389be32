//! The control API's webhooks (`/_fake/webhook_endpoint`, `/_fake/webhooks`, flush) over
//! real HTTP: deliveries to local receivers, verified with `WebhookVerifier` and with an HMAC
//! computed here, their attempts as recorded.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{call, fake, verify_both_ways, Reply, Scripted};
use truemed_ext::webhook::{WebhookEvent, WebhookVerifier};
use truemed_ext::Status;
use truemed_fake::{DeliveryState, SessionSeed};

/// Points the fake's webhooks at `endpoint` (its URL, secret and retry settings).
async fn set_webhook_endpoint(fake: &truemed_fake::FakeTruemed, endpoint: Value) -> (u16, Value) {
    call(fake, "PUT", "/_fake/webhook_endpoint", Some(endpoint)).await
}

/// Approves session `id` through the control API and waits for its delivery to settle.
async fn approve_and_flush(fake: &truemed_fake::FakeTruemed, id: &str) {
    call(fake, "POST", &format!("/_fake/sessions/{id}/approve"), None).await;
    fake.flush_webhooks().await;
}

/// The control path listing the webhook deliveries of session `id`.
fn deliveries_of(id: &str) -> String {
    format!("/_fake/webhooks?qualification_session_id={id}")
}

#[tokio::test]
async fn approving_delivers_a_webhook_that_verifies_both_ways() {
    let receiver = Scripted::sequence(vec![Reply::raw(204, "")]).await;
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1").email("ada@example.com").user_id("user_42"));
    let url = format!("{}/hooks/truemed", receiver.base_url);
    let (status, endpoint) =
        set_webhook_endpoint(&fake, json!({"url": url, "secret": "whsec_control"})).await;
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
    verify_both_ways("whsec_control", request);
    let envelope: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(envelope["event_type"], "qualification_session.complete");
    assert_eq!(envelope["data"]["email"], "ada@example.com");

    // The ledger of deliveries says the same.
    let (status, recorded) =
        call(&fake, "GET", &format!("/_fake/webhooks/{delivery_id}"), None).await;
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
    let (status, _) = set_webhook_endpoint(
        &fake,
        json!({"url": receiver.base_url, "secret": "whsec_x", "backoff_ms": 5}),
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
        .map(|r| verifier.verify_signed(&r.headers, &r.body).unwrap().webhook_delivery_id)
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
    set_webhook_endpoint(
        &fake,
        json!({"url": receiver.base_url, "secret": "s", "attempts": 2, "backoff_ms": 1}),
    )
    .await;
    approve_and_flush(&fake, "qs_1").await;
    let (_, list) = call(&fake, "GET", &deliveries_of("qs_1"), None).await;
    let delivery = &list["deliveries"][0];
    assert_eq!(delivery["state"], "failed");
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(receiver.count(), 2);
    assert_eq!(fake.stats().webhooks_failed, 1);
    let (_, other) = call(&fake, "GET", &deliveries_of("qs_2"), None).await;
    assert_eq!(other["deliveries"], json!([]));

    // An unreachable receiver: each attempt records why there was no answer.
    set_webhook_endpoint(&fake, json!({"url": "http://127.0.0.1:9/hooks", "secret": "s"})).await;
    fake.seed(SessionSeed::new("qs_2"));
    approve_and_flush(&fake, "qs_2").await;
    let (_, list) = call(&fake, "GET", &deliveries_of("qs_2"), None).await;
    let attempt = &list["deliveries"][0]["attempts"][0];
    assert!(attempt["status"].is_null());
    assert!(attempt["error"].as_str().unwrap().contains("connect"), "{attempt}");
}

#[tokio::test]
async fn unsigned_endpoints_send_the_shared_secret() {
    let receiver = Scripted::sequence(vec![Reply::raw(200, "ok")]).await;
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    set_webhook_endpoint(
        &fake,
        json!({"url": receiver.base_url, "secret": "shared_secret", "signed": false}),
    )
    .await;
    approve_and_flush(&fake, "qs_1").await;
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
    set_webhook_endpoint(&fake, json!({"url": receiver.base_url, "secret": "s"})).await;
    call(&fake, "POST", "/_fake/sessions/qs_1/approve", None).await;
    let (_, flushed) =
        call(&fake, "POST", "/_fake/webhooks/flush", Some(json!({"timeout_ms": 50}))).await;
    assert_eq!(flushed["complete"], false);
    assert_eq!(flushed["deliveries"][0]["state"], "pending");
    let (_, flushed) = call(&fake, "POST", "/_fake/webhooks/flush", None).await;
    assert_eq!(flushed["complete"], true);
    assert_eq!(flushed["deliveries"][0]["state"], "delivered");
}
