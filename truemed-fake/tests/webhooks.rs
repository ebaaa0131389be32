//! Webhook deliveries started by the Rust handle's decisions: signed and unsigned, to local
//! receivers over real HTTP, to an unreachable one, and stopped when the fake is dropped.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use truemed_ext::Status;
use truemed_fake::{FakeTruemed, SessionSeed};

/// The raw deliveries a receiver recorded: (headers, body).
type Deliveries = Arc<Mutex<Vec<(http::HeaderMap, Vec<u8>)>>>;

/// A receiver recording raw deliveries.
async fn receiver() -> (String, Deliveries) {
    let received: Deliveries = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hooks/truemed",
        axum::routing::post(move |headers: http::HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push((headers, body.to_vec()));
                http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/truemed", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[tokio::test]
async fn approving_delivers_a_signed_webhook_once() {
    use truemed_ext::webhook::{WebhookEvent, WebhookVerifier};
    let (url, received) = receiver().await;
    let fake = FakeTruemed::builder().webhook(&url, "whsec_fake").start().await;
    assert!(!format!("{fake:?}").contains("whsec_fake"));
    fake.seed(SessionSeed::new("qs_1").email("ada@example.com").user_id("user_42"));
    fake.seed(SessionSeed::new("qs_2"));
    fake.approve("qs_1");
    fake.approve("qs_1"); // already terminal: no second delivery
    fake.reject("qs_2");
    fake.flush_webhooks().await;

    let deliveries = received.lock().unwrap().clone();
    assert_eq!(deliveries.len(), 2);
    let verifier = WebhookVerifier::new("whsec_fake");
    let mut seen = Vec::new();
    for (headers, body) in &deliveries {
        let delivery = verifier.verify_signed(headers, body).unwrap();
        assert!(delivery.webhook_delivery_id.starts_with("whd_"));
        match delivery.event {
            WebhookEvent::QualificationSessionComplete(payload) => {
                seen.push((payload.qualification_session_id.clone(), payload.status.clone()));
                if payload.qualification_session_id == "qs_1" {
                    assert_eq!(payload.email.as_deref(), Some("ada@example.com"));
                    assert_eq!(payload.user_id.as_deref(), Some("user_42"));
                    assert!(payload.expires_at.is_some());
                }
            }
            other => panic!("unexpected event {}", other.event_type()),
        }
    }
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        [("qs_1".to_owned(), Status::Approved), ("qs_2".to_owned(), Status::Rejected)]
    );
    let stats = fake.stats();
    assert_eq!((stats.webhooks_delivered, stats.webhooks_failed), (2, 0));
}

#[tokio::test]
async fn unsigned_webhooks_carry_the_shared_secret() {
    use truemed_ext::webhook::WebhookVerifier;
    let (url, received) = receiver().await;
    let fake = FakeTruemed::builder().unsigned_webhook(&url, "shared_secret").start().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake.approve("qs_1");
    fake.flush_webhooks().await;
    let deliveries = received.lock().unwrap().clone();
    assert_eq!(deliveries.len(), 1);
    let payload = WebhookVerifier::new("shared_secret")
        .verify_unsigned(&deliveries[0].0, &deliveries[0].1)
        .unwrap();
    assert_eq!(payload.qualification_session_id, "qs_1");
    assert_eq!(payload.status, Status::Approved);
}

#[tokio::test]
async fn an_unreachable_receiver_counts_as_failed() {
    let fake = FakeTruemed::builder().webhook("http://127.0.0.1:9/nowhere", "s").start().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake.reject("qs_1");
    fake.flush_webhooks().await;
    assert_eq!(fake.stats().webhooks_failed, 1);
}

#[tokio::test]
async fn dropping_the_fake_stops_its_webhook_deliveries_and_their_retries() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use truemed_fake::WebhookRetries;

    // A receiver that always fails: every delivery is retried, 20 ms doubling, 20 times.
    let posts = Arc::new(AtomicUsize::new(0));
    let count = posts.clone();
    let app = axum::Router::new().route(
        "/hooks/truemed",
        axum::routing::post(move || {
            count.fetch_add(1, Ordering::SeqCst);
            async { http::StatusCode::INTERNAL_SERVER_ERROR }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/truemed", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let fake = FakeTruemed::builder()
        .webhook(&url, "whsec_fake")
        .webhook_retries(
            WebhookRetries::default()
                .with_max_attempts(20)
                .with_initial_backoff(Duration::from_millis(20)),
        )
        .start()
        .await;
    for id in ["qs_1", "qs_2", "qs_3"] {
        fake.seed(SessionSeed::new(id));
        fake.approve(id);
    }
    // Wait until every delivery is under way (its first attempt made).
    let started = Instant::now();
    while posts.load(Ordering::SeqCst) < 3 {
        assert!(started.elapsed() < Duration::from_secs(30), "no deliveries");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    drop(fake);
    // An attempt already on the wire may still land: a generous grace, then nothing more.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_drop = posts.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        posts.load(Ordering::SeqCst),
        after_drop,
        "deliveries went on after the fake was dropped"
    );
}
