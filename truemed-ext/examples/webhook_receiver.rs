//! A Truemed webhook receiver in axum: verifies deliveries, answers `204`, and deduplicates
//! on `webhook_delivery_id`.
//!
//! ```text
//! TRUEMED_WEBHOOK_SECRET=whsec_... cargo run -p truemed-ext --example webhook_receiver
//! cargo run -p truemed-ext --example webhook_receiver -- --self-test
//! ```
//!
//! - `POST /webhooks/truemed` receives **signed** deliveries (`x-truemed-signature`).
//! - `POST /webhooks/truemed/unsigned` receives **unsigned** deliveries (`x-truemed-api-key`).
//!
//! Configuration (environment):
//! - `TRUEMED_WEBHOOK_SECRET`: the webhook's secret. When unset, the example falls back to
//!   the demo secret [`DEMO_SECRET`] and says so: never deploy with that fallback.
//! - `TRUEMED_WEBHOOK_ADDR`: where to listen, default `127.0.0.1:3000`.
//! - `RUST_LOG`: log filter, default `info`.
//!
//! With `--self-test` the example listens on `127.0.0.1:0`, sends itself one signed delivery
//! twice, a tampered one, one with a malformed and one without a signature header,
//! and two unsigned ones (right and wrong secret), prints what happened,
//! and exits 0 when every answer is the expected one (1 otherwise).
//!
//! Deduplication here is an in-memory set, which is lost on restart and grows forever. In
//! production, record delivery ids in your database (a unique constraint, kept at least as long
//! as Truemed retries: 7 days), in the same transaction as the work the event triggers.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{bail, Context as _};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use truemed_ext::webhook::{SignatureHeader, WebhookEvent, WebhookVerifier, SIGNATURE_HEADER};
use truemed_ext::{QualificationSessionCompleteWebhook, API_KEY_HEADER};

/// The secret used when `TRUEMED_WEBHOOK_SECRET` is unset: for the demo and the self-test only.
const DEMO_SECRET: &str = "whsec_demo_only_do_not_deploy";

/// Deliveries are small; refuse anything bigger before verifying it.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The receiver's state: the verifier, the delivery ids already handled, and a counter of
/// events actually processed (for the self-test).
#[derive(Debug)]
struct Receiver {
    verifier: WebhookVerifier,
    seen: Mutex<HashSet<String>>,
    processed: AtomicUsize,
}

impl Receiver {
    fn new(verifier: WebhookVerifier) -> Self {
        Self {
            verifier,
            seen: Mutex::new(HashSet::new()),
            processed: AtomicUsize::new(0),
        }
    }

    /// Marks `key` as seen; `false` if it already was.
    fn first_time(&self, key: &str) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned())
    }

    /// Forgets `key`, so that Truemed's next retry is processed again.
    fn forget(&self, key: &str) {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// The application's work: here, a log line and a counter.
    fn process(&self, session: &QualificationSessionCompleteWebhook) -> anyhow::Result<()> {
        tracing::info!(
            qualification_session_id = %session.qualification_session_id,
            status = %session.status,
            user_id = ?session.user_id,
            "qualification session complete"
        );
        self.processed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// `POST /webhooks/truemed`: a signed delivery.
async fn receive_signed(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let delivery = match receiver.verifier.verify_signed(&headers, &body) {
        Ok(delivery) => delivery,
        Err(error) => {
            tracing::warn!(%error, "refused a webhook delivery");
            return error.status_code();
        }
    };
    let id = delivery.webhook_delivery_id;
    if !receiver.first_time(&id) {
        tracing::info!(webhook_delivery_id = %id, "duplicate delivery, already handled");
        return StatusCode::NO_CONTENT;
    }
    let outcome = match &delivery.event {
        WebhookEvent::QualificationSessionComplete(session) => receiver.process(session),
        other => {
            // Answer 204 so that Truemed does not retry an event this receiver ignores.
            tracing::info!(event_type = other.event_type(), "ignoring event");
            Ok(())
        }
    };
    match outcome {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(error) => {
            tracing::error!(%error, webhook_delivery_id = %id, "processing failed; Truemed will retry");
            receiver.forget(&id);
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// `POST /webhooks/truemed/unsigned`: an unsigned delivery. It has no delivery id; the event is
/// sent once per session, so the session id is the idempotency key.
async fn receive_unsigned(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let session = match receiver.verifier.verify_unsigned(&headers, &body) {
        Ok(session) => session,
        Err(error) => {
            tracing::warn!(%error, "refused an unsigned webhook delivery");
            return error.status_code();
        }
    };
    let key = format!("unsigned:{}", session.qualification_session_id);
    if !receiver.first_time(&key) {
        return StatusCode::NO_CONTENT;
    }
    match receiver.process(&session) {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(error) => {
            tracing::error!(%error, "processing failed; Truemed will retry");
            receiver.forget(&key);
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

fn app(receiver: Arc<Receiver>) -> Router {
    Router::new()
        .route("/webhooks/truemed", post(receive_signed))
        .route("/webhooks/truemed/unsigned", post(receive_unsigned))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(receiver)
}

/// The secret from `TRUEMED_WEBHOOK_SECRET`, or the demo secret.
fn secret_from_env() -> String {
    match std::env::var("TRUEMED_WEBHOOK_SECRET") {
        Ok(secret) if !secret.is_empty() => secret,
        _ => {
            tracing::warn!(
                "TRUEMED_WEBHOOK_SECRET is unset: using the demo secret {DEMO_SECRET:?}; \
                 never deploy like this"
            );
            DEMO_SECRET.to_owned()
        }
    }
}

/// A Truemed webhook receiver: verifies deliveries on `POST /webhooks/truemed` (signed) and
/// `POST /webhooks/truemed/unsigned`, answers 204, and deduplicates on
/// `webhook_delivery_id`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "webhook_receiver",
    args_override_self = true,
    after_help = "Environment: TRUEMED_WEBHOOK_SECRET (the webhook's secret; a demo secret \
                  when unset), TRUEMED_WEBHOOK_ADDR (default 127.0.0.1:3000), RUST_LOG \
                  (default info)."
)]
struct Args {
    /// Listen on 127.0.0.1:0, send the receiver good, replayed, tampered and unsigned
    /// deliveries, print what happened, and exit 0 when every answer is the expected one.
    #[arg(long = "self-test")]
    self_test: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Exits 2 with a message on a bad flag, 0 after `--help`.
    let args = <Args as clap::Parser>::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let secret = secret_from_env();
    let receiver = Arc::new(Receiver::new(WebhookVerifier::new(secret.as_str())));

    if args.self_test {
        return self_test(receiver, &secret).await;
    }

    let addr: SocketAddr = std::env::var("TRUEMED_WEBHOOK_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        .parse()
        .context("TRUEMED_WEBHOOK_ADDR is not an address like 127.0.0.1:3000")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(
        "listening on http://{}/webhooks/truemed (signed) and /webhooks/truemed/unsigned",
        listener.local_addr()?
    );
    axum::serve(listener, app(receiver)).await?;
    Ok(())
}

/// Starts the receiver on an ephemeral port, sends it deliveries, and checks the answers.
async fn self_test(receiver: Arc<Receiver>, secret: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = app(receiver.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    println!("self-test: receiver listening on {base}");

    let http = reqwest::Client::new();
    let body = br#"{"webhook_delivery_id":"whd_selftest_1","event_type":"qualification_session.complete","data":{"qualification_session_id":"qs_selftest","status":"approved","user_id":"user_42"}}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        .try_into()?;
    let signature = SignatureHeader::sign(secret, now, body).to_string();
    let tampered = String::from_utf8_lossy(body)
        .replace("approved", "rejected")
        .into_bytes();
    let unsigned_body = br#"{"qualification_session_id":"qs_unsigned","status":"rejected"}"#;

    let mut failures = 0;
    let mut check = |what: &str, got: StatusCode, want: StatusCode| {
        let verdict = if got == want { "ok" } else { "UNEXPECTED" };
        println!("self-test: {what}: {got} (expected {want}) {verdict}");
        if got != want {
            failures += 1;
        }
    };

    let url = format!("{base}/webhooks/truemed");
    for attempt in ["first", "second (redelivery)"] {
        let status = http
            .post(&url)
            .header(SIGNATURE_HEADER, &signature)
            .body(body.to_vec())
            .send()
            .await?
            .status();
        check(
            &format!("signed delivery, {attempt}"),
            status,
            StatusCode::NO_CONTENT,
        );
    }
    let status = http
        .post(&url)
        .header(SIGNATURE_HEADER, &signature)
        .body(tampered)
        .send()
        .await?
        .status();
    check("tampered signed delivery", status, StatusCode::UNAUTHORIZED);
    let status = http
        .post(&url)
        .header(SIGNATURE_HEADER, "t=not-a-time,v1=abc")
        .body(body.to_vec())
        .send()
        .await?
        .status();
    check(
        "malformed signature header",
        status,
        StatusCode::BAD_REQUEST,
    );
    let status = http.post(&url).body(body.to_vec()).send().await?.status();
    check(
        "delivery without signature header",
        status,
        StatusCode::UNAUTHORIZED,
    );

    let unsigned_url = format!("{base}/webhooks/truemed/unsigned");
    let status = http
        .post(&unsigned_url)
        .header(API_KEY_HEADER, secret)
        .body(unsigned_body.to_vec())
        .send()
        .await?
        .status();
    check(
        "unsigned delivery, right secret",
        status,
        StatusCode::NO_CONTENT,
    );
    let status = http
        .post(&unsigned_url)
        .header(API_KEY_HEADER, "not-the-secret")
        .body(unsigned_body.to_vec())
        .send()
        .await?
        .status();
    check(
        "unsigned delivery, wrong secret",
        status,
        StatusCode::UNAUTHORIZED,
    );

    let processed = receiver.processed.load(Ordering::SeqCst);
    println!("self-test: events processed: {processed} (expected 2: one signed, one unsigned)");
    server.abort();
    if processed != 2 {
        failures += 1;
    }
    if failures > 0 {
        bail!("self-test failed: {failures} unexpected outcome(s)");
    }
    println!("self-test: passed");
    Ok(())
}
