//! Faults injected with the Rust handle (error statuses with `Retry-After`, dropped
//! connections, lost responses, delays, latency, seeded chaos), as the client meets them
//! over real HTTP.

mod support;

use std::time::{Duration, Instant};

use support::{assert_api_kind, client_without_retries, patient_client, raw};
use truemed_ext::Operation;
use truemed_ext::{ApiErrorKind, Error, RetryPolicy, Status, UpdateOutcome};
use truemed_fake::{Chaos, FakeTruemed, Fault, SessionSeed};

/// Sets `user_id` on `qs_1` with the fake's own client (retries on), which must succeed.
async fn set_user_id(fake: &FakeTruemed, user_id: &str) -> UpdateOutcome {
    fake.client().qualification_sessions().update("qs_1").user_id(user_id).send().await.unwrap()
}

#[tokio::test]
async fn two_503s_then_success_is_retried_and_applied_once() {
    let fake = FakeTruemed::start().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake.inject(Fault::status(503).times(2));
    assert_eq!(fake.pending_faults(), 2);
    let out = set_user_id(&fake, "user_42").await;
    assert_eq!(out.status, Status::Pending);
    let stats = fake.stats();
    assert_eq!(stats.update_requests, 3);
    assert_eq!(stats.status_faults, 2);
    assert_eq!(stats.faults_injected, 2);
    assert_eq!(stats.updates_applied, 1);
    assert_eq!(stats.idempotent_replays, 0);
    assert_eq!(fake.pending_faults(), 0);
    assert_eq!(fake.applied_updates()[0].idempotency_key, out.idempotency_key.as_str());
}

#[tokio::test]
async fn an_injected_error_without_retries_is_typed() {
    let fake = FakeTruemed::start().await;
    fake.seed(SessionSeed::new("qs_1"));
    let once = client_without_retries(&fake);
    let sessions = once.qualification_sessions();

    fake.inject(Fault::status(503).times(1));
    let error = sessions.get("qs_1").await.unwrap_err();
    assert!(error.api_kind() == Some(ApiErrorKind::Server) && error.is_retryable(), "{error:?}");
    assert_eq!(error.code(), Some("ServiceUnavailable"));
    assert!(error.request_id().is_some_and(|id| id.starts_with("req_fake_")));

    fake.inject(Fault::status(501).times(1));
    let error = fake.client().qualification_sessions().get("qs_1").await.unwrap_err();
    assert_api_kind(&error, ApiErrorKind::NotImplemented);

    fake.inject(Fault::status(429).retry_after(Duration::from_millis(1500)));
    let error = sessions.get("qs_1").await.unwrap_err();
    assert_api_kind(&error, ApiErrorKind::RateLimited);
    assert_eq!(error.retry_after(), Some(Duration::from_millis(1500)));
    // One request each: 501 is not retried.
    assert_eq!(fake.stats().get_requests, 3);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let fake = FakeTruemed::start().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake.inject(Fault::status(429).times(1).retry_after(Duration::from_millis(300)));
    let started = Instant::now();
    fake.client().qualification_sessions().update("qs_1").metadata_raw("m").send().await.unwrap();
    // The client's own backoff is 1 ms: the wait is the server's.
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    let stats = fake.stats();
    assert_eq!((stats.update_requests, stats.updates_applied, stats.status_faults), (2, 1, 1));

    // The raw headers: whole seconds rounded up, and exact milliseconds.
    fake.inject(Fault::status(429).retry_after(Duration::from_millis(300)));
    let response = raw(&fake, reqwest::Method::GET, "/api/v1/qualification_session/qs_1").await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(response.headers()["retry-after-ms"], "300");
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let fake = FakeTruemed::start().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake.inject(Fault::drop_connection().times(2));
    let out = set_user_id(&fake, "u").await;
    assert_eq!(out.qualification_session_id, "qs_1");
    let stats = fake.stats();
    assert_eq!(stats.dropped_connections, 2);
    assert_eq!(stats.update_requests, 3);
    assert_eq!(stats.updates_applied, 1);

    // Without retries the client reports a connection error.
    fake.inject(Fault::drop_connection().times(1));
    let once = client_without_retries(&fake);
    let error = once.qualification_sessions().get("qs_1").await.unwrap_err();
    assert!(matches!(error, Error::Connection(_)), "{error:?}");
}

#[tokio::test]
async fn a_lost_response_is_replayed_not_applied_twice() {
    let fake = FakeTruemed::start().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake.inject(Fault::lose_response().on(Operation::Update));
    let out = set_user_id(&fake, "u").await;
    assert_eq!(out.status, Status::Pending);
    let stats = fake.stats();
    assert_eq!(stats.lost_responses, 1);
    assert_eq!(stats.update_requests, 2);
    assert_eq!(stats.updates_applied, 1);
    assert_eq!(stats.idempotent_replays, 1);
    assert_eq!(fake.applied_updates().len(), 1);
}

#[tokio::test]
async fn faults_can_target_one_operation_and_run_in_order() {
    let fake = FakeTruemed::start().await;
    fake.seed(SessionSeed::new("qs_1"));
    let client = client_without_retries(&fake);
    let sessions = client.qualification_sessions();
    fake.inject(Fault::status(500).on(Operation::Update));
    fake.inject(Fault::status(502));
    // The get skips the update-only fault and takes the 502.
    assert!(
        matches!(sessions.get("qs_1").await, Err(Error::Api(r)) if r.kind() == ApiErrorKind::Server && r.status() == 502)
    );
    assert!(sessions.get("qs_1").await.is_ok());
    assert!(
        matches!(sessions.update("qs_1").user_id("u").send().await, Err(Error::Api(r)) if r.kind() == ApiErrorKind::Server && r.status() == 500)
    );
    assert_eq!(fake.pending_faults(), 0);

    fake.inject(Fault::status(503).times(5));
    fake.clear_faults();
    assert!(sessions.get("qs_1").await.is_ok());
}

#[tokio::test]
async fn latency_and_delays_slow_requests_down() {
    let fake = FakeTruemed::builder().latency(Duration::from_millis(120)).start().await;
    fake.seed(SessionSeed::new("qs_1"));
    let sessions = fake.client().qualification_sessions();
    let started = Instant::now();
    sessions.get("qs_1").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(120));

    fake.set_latency(Duration::ZERO);
    fake.inject(Fault::delay(Duration::from_millis(150)).times(2));
    let started = Instant::now();
    sessions.get("qs_1").await.unwrap();
    sessions.get("qs_1").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(fake.stats().delayed_requests, 2);

    // A client timeout shorter than the delay: a timeout error, retried, then success.
    fake.inject(Fault::delay(Duration::from_millis(2_000)));
    let impatient = fake.client_builder().timeout(Duration::from_millis(400)).build().unwrap();
    impatient.qualification_sessions().get("qs_1").await.unwrap();
    let once = fake
        .client_builder()
        .timeout(Duration::from_millis(400))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    fake.inject(Fault::delay(Duration::from_millis(2_000)));
    assert!(matches!(once.qualification_sessions().get("qs_1").await, Err(Error::Timeout(_))));
}

#[tokio::test]
async fn chaos_is_survived_with_retries() {
    let fake = FakeTruemed::builder()
        .chaos(Chaos::seeded(3).with(0.5, Fault::status(503)).on(Operation::Get))
        .start()
        .await;
    fake.seed(SessionSeed::new("qs_1"));
    let patient = patient_client(&fake, 20, Duration::from_millis(2));
    for _ in 0..20 {
        patient.qualification_sessions().get("qs_1").await.unwrap();
    }
    let stats = fake.stats();
    assert!(stats.status_faults > 0);
    assert_eq!(stats.get_requests, 20 + stats.status_faults);
}
