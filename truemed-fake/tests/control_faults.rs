//! The control API's faults, chaos and latency (`/_fake/faults`, `/_fake/chaos`,
//! `/_fake/latency`) over real HTTP, as the client meets them.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{assert_api_kind, call, client_without_retries, fake};
use truemed_ext::{ApiErrorKind, Error};
use truemed_fake::SessionSeed;

/// Queues `fault` through the control API: the status and the queue it answers.
async fn inject(fake: &truemed_fake::FakeTruemed, fault: Value) -> (u16, Value) {
    call(fake, "POST", "/_fake/faults", Some(fault)).await
}

/// Turns chaos on through the control API: the status and the answer.
async fn set_chaos(fake: &truemed_fake::FakeTruemed, chaos: Value) -> (u16, Value) {
    call(fake, "POST", "/_fake/chaos", Some(chaos)).await
}

#[tokio::test]
async fn faults_injected_over_http_reach_the_client() {
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    let once = client_without_retries(&fake);
    let sessions = once.qualification_sessions();

    let (status, queue) = inject(
        &fake,
        json!({"kind": "status", "status": 429, "retry_after_ms": 1500, "operation": "get_qualification_session"}),
    )
    .await;
    assert_eq!(status, 201, "{queue}");
    assert_eq!(queue["pending_faults"], 1);
    assert_eq!(queue["faults"][0]["kind"], "status");
    assert_eq!(queue["faults"][0]["operation"], "get_qualification_session");
    // A list does not take a fault meant for get.
    sessions.list().send().await.unwrap();
    let error = sessions.get("qs_1").await.unwrap_err();
    assert_api_kind(&error, ApiErrorKind::RateLimited);
    assert_eq!(error.retry_after(), Some(Duration::from_millis(1500)));

    inject(&fake, json!({"kind": "drop_connection"})).await;
    let error = sessions.get("qs_1").await.unwrap_err();
    assert!(matches!(error, Error::Connection(_)), "{error:?}");

    // A lost response: applied, and the answer never came.
    inject(&fake, json!({"kind": "lose_response", "operation": "update_qualification_session"}))
        .await;
    let error = sessions.update("qs_1").user_id("user_42").send().await.unwrap_err();
    assert!(error.may_have_been_applied(), "{error:?}");
    assert_eq!(fake.session("qs_1").unwrap().user_id.as_deref(), Some("user_42"));

    // Two 503s, then a patient client gets through.
    inject(&fake, json!({"kind": "status", "status": 503, "times": 2})).await;
    let (_, queue) = call(&fake, "GET", "/_fake/faults", None).await;
    assert_eq!(queue["pending_faults"], 2);
    fake.client().qualification_sessions().get("qs_1").await.unwrap();

    let (_, stats) = call(&fake, "GET", "/_fake/stats", None).await;
    assert_eq!(stats["faults_injected"], 5);
    assert_eq!(stats["status_faults"], 3);
    assert_eq!(stats["dropped_connections"], 1);
    assert_eq!(stats["lost_responses"], 1);
    assert_eq!(stats["pending_faults"], 0);
    // Control requests are not API requests.
    assert_eq!(stats["requests"], 7);

    // A delay, then cleared.
    inject(&fake, json!({"kind": "delay", "delay_ms": 300, "times": 3})).await;
    let (status, _) = call(&fake, "DELETE", "/_fake/faults", None).await;
    assert_eq!(status, 204);
    assert_eq!(fake.pending_faults(), 0);
}

#[tokio::test]
async fn seeded_chaos_over_http_is_deterministic() {
    async fn run(seed: u64) -> Vec<u16> {
        let fake = fake().await;
        fake.seed(SessionSeed::new("qs_1"));
        let (status, body) = set_chaos(
            &fake,
            json!({
                "probability": 0.5,
                "seed": seed,
                "operation": "get_qualification_session",
                "faults": [
                    {"weight": 3, "fault": {"kind": "status", "status": 503}},
                    {"weight": 1, "fault": {"kind": "status", "status": 500}},
                ],
            }),
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
    let (status, _) = set_chaos(&fake, json!({"probability": 1})).await;
    assert_eq!(status, 204);
    let error =
        client_without_retries(&fake).qualification_sessions().list().send().await.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
}

#[tokio::test]
async fn latency_over_http() {
    let fake = fake().await;
    let (status, body) =
        call(&fake, "PUT", "/_fake/latency", Some(json!({"latency_ms": 150}))).await;
    assert_eq!((status, &body["latency_ms"]), (200, &json!(150)));
    assert_eq!(fake.latency(), Duration::from_millis(150));
    let started = std::time::Instant::now();
    // Control requests are not slowed down.
    call(&fake, "GET", "/_fake/stats", None).await;
    assert!(started.elapsed() < Duration::from_millis(150));
    fake.client().qualification_sessions().list().send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    let (_, body) = call(&fake, "GET", "/_fake/latency", None).await;
    assert_eq!(body["latency_ms"], 150);
}
