//! A Truemed webhook receiver in axum, on truemed-ext's extractor (feature `axum`): the
//! extractor verifies each delivery and refuses the rest; the handler applies each
//! completion once.
//!
//! ```text
//! TRUEMED_WEBHOOK_SECRET=whsec_... cargo run -p truemed-ext --features axum --example webhook_receiver
//! cargo run -p truemed-ext --features axum --example webhook_receiver -- --self-test
//! ```
//!
//! `POST /webhooks/truemed` takes **signed** deliveries (`x-truemed-signature`),
//! `POST /webhooks/truemed/unsigned` **unsigned** ones (`x-truemed-api-key`); a webhook is
//! one or the other, so a real service serves the one its webhook is. Environment:
//! `TRUEMED_WEBHOOK_SECRET` (when unset, a demo secret, and a warning: never deploy so),
//! `TRUEMED_WEBHOOK_ADDR` (default `127.0.0.1:3000`), `RUST_LOG` (default `info`).
//!
//! Deduplication here is an in-memory set of completion keys, lost on restart. In
//! production, insert the key into a table with a unique index, in the same transaction as
//! the work, and answer 2xx on a duplicate (see the `truemed_ext::webhook::axum` docs).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{bail, Context as _};
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use truemed_ext::webhook::axum::{VerifiedWebhook, WebhookConfig};
use truemed_ext::webhook::WebhookVerifier;
use truemed_ext::CompletionKey;

/// The secret used when `TRUEMED_WEBHOOK_SECRET` is unset: for the demo and the self-test only.
const DEMO_SECRET: &str = "whsec_demo_only_do_not_deploy";

#[derive(Clone)]
struct App {
    webhooks: WebhookConfig,
    /// The completions applied (your database's unique index).
    applied: Arc<Mutex<HashSet<CompletionKey>>>,
}

impl FromRef<App> for WebhookConfig {
    fn from_ref(app: &App) -> Self {
        app.webhooks.clone()
    }
}

/// Refused deliveries never get here: the extractor answers them (401, 400, 413).
async fn receive(State(app): State<App>, webhook: VerifiedWebhook) -> StatusCode {
    let Some(completion) = webhook.completion() else {
        tracing::info!(event_type = webhook.event_type(), "ignoring event");
        return StatusCode::NO_CONTENT; // 2xx, or Truemed retries it for days
    };
    let mut applied = app.applied.lock().unwrap_or_else(PoisonError::into_inner);
    if !applied.insert(completion.key()) {
        tracing::info!(key = %completion.key(), "duplicate, already applied");
        return StatusCode::NO_CONTENT;
    }
    // The work, in the same transaction as the insert: here, a log line.
    tracing::info!(session = %completion.qualification_session_id, status = %completion.status,
        user_id = ?completion.user_id, "qualification session complete");
    StatusCode::NO_CONTENT
}

fn app(secret: &str, applied: Arc<Mutex<HashSet<CompletionKey>>>) -> Router {
    let state = |webhooks| App { webhooks, applied: applied.clone() };
    let signed = WebhookConfig::signed(WebhookVerifier::new(secret));
    let unsigned = WebhookConfig::unsigned(WebhookVerifier::new(secret));
    Router::new().route("/webhooks/truemed", post(receive)).with_state(state(signed)).merge(
        Router::new()
            .route("/webhooks/truemed/unsigned", post(receive))
            .with_state(state(unsigned)),
    )
}

/// A Truemed webhook receiver on `POST /webhooks/truemed` (signed) and
/// `POST /webhooks/truemed/unsigned`.
#[derive(Debug, clap::Parser)]
#[command(name = "webhook_receiver", args_override_self = true)]
struct Args {
    /// Listen on 127.0.0.1:0, send the receiver good, replayed, forged, malformed, oversized
    /// and unsigned deliveries, and exit 0 when every answer is the expected one.
    #[arg(long = "self-test")]
    self_test: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = <Args as clap::Parser>::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let secret = match std::env::var("TRUEMED_WEBHOOK_SECRET") {
        Ok(secret) if !secret.is_empty() => secret,
        _ => {
            tracing::warn!("TRUEMED_WEBHOOK_SECRET is unset: using a demo secret; never deploy so");
            DEMO_SECRET.to_owned()
        }
    };
    let addr = match args.self_test {
        true => "127.0.0.1:0".to_owned(),
        false => std::env::var("TRUEMED_WEBHOOK_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into()),
    };
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let base = format!("http://{}", listener.local_addr()?);
    let applied = Arc::default();
    let server = axum::serve(listener, app(&secret, Arc::clone(&applied)));
    if !args.self_test {
        tracing::info!("listening on {base}/webhooks/truemed (and /webhooks/truemed/unsigned)");
        return Ok(server.await?);
    }
    tokio::spawn(async move { server.await });
    self_test(&base, &secret, &applied).await
}

/// POSTs a signed delivery's head announcing a body of `length` bytes, and none of it, on
/// a connection of its own; the answer's status and text. A receiver refuses a body over its
/// limit from the `Content-Length` alone, before reading a byte. (Sent whole, the refusal
/// would race the sender's writes: a server closes a connection whose body it will not
/// read, and the sender can meet a broken pipe before it reads the answer.)
async fn announce_a_body_of(
    length: usize,
    base: &str,
    signature: &str,
) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use truemed_ext::webhook::SIGNATURE_HEADER;

    let addr = base.strip_prefix("http://").context("an http:// base URL")?;
    let mut socket = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST /webhooks/truemed HTTP/1.1\r\nhost: {addr}\r\n{SIGNATURE_HEADER}: {signature}\r\n\
         content-length: {length}\r\nconnection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await?;
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .context("no status line in the answer")?;
    let text = answer.split_once("\r\n\r\n").map_or("", |(_, text)| text);
    Ok((status, text.to_owned()))
}

/// What the self-test sends, and the status it expects: (what, URL, header, body, status).
type Case<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>, Vec<u8>, u16);

/// Sends the receiver at `base` deliveries and checks each answer, and what was applied.
async fn self_test(
    base: &str,
    secret: &str,
    applied: &Mutex<HashSet<CompletionKey>>,
) -> anyhow::Result<()> {
    use truemed_ext::webhook::{SignatureHeader, SIGNATURE_HEADER};
    use truemed_ext::API_KEY_HEADER;

    println!("self-test: receiver listening on {base}");
    let body = br#"{"webhook_delivery_id":"whd_selftest_1","event_type":"qualification_session.complete","data":{"qualification_session_id":"qs_selftest","status":"approved","user_id":"user_42"}}"#;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs().try_into()?;
    let signature = SignatureHeader::sign(secret, now, body).to_string();
    let tampered = String::from_utf8_lossy(body).replace("approved", "rejected");
    let unsigned_body = r#"{"qualification_session_id":"qs_unsigned","status":"rejected"}"#;
    let (signed_url, unsigned_url) =
        (format!("{base}/webhooks/truemed"), format!("{base}/webhooks/truemed/unsigned"));

    let http = reqwest::Client::new();
    let cases: [Case; 7] = [
        ("signed delivery", &signed_url, Some((SIGNATURE_HEADER, &signature)), body.to_vec(), 204),
        ("its redelivery", &signed_url, Some((SIGNATURE_HEADER, &signature)), body.to_vec(), 204),
        (
            "tampered body",
            &signed_url,
            Some((SIGNATURE_HEADER, &signature)),
            tampered.into_bytes(),
            401,
        ),
        (
            "malformed signature",
            &signed_url,
            Some((SIGNATURE_HEADER, "t=soon,v1=abc")),
            body.to_vec(),
            401,
        ),
        ("no signature", &signed_url, None, body.to_vec(), 401),
        (
            "unsigned, right secret",
            &unsigned_url,
            Some((API_KEY_HEADER, secret)),
            unsigned_body.into(),
            204,
        ),
        (
            "unsigned, wrong secret",
            &unsigned_url,
            Some((API_KEY_HEADER, "nope")),
            unsigned_body.into(),
            401,
        ),
    ];
    let mut failures = 0;
    let mut check = |what: &str, status: u16, reason: &str, expected: u16| {
        let verdict = if status == expected { "ok" } else { "UNEXPECTED" };
        println!("self-test: {what}: {status} {reason:?} (expected {expected}) {verdict}");
        failures += usize::from(status != expected);
    };
    for (what, url, header, body, expected) in cases {
        let mut request = http.post(url).body(body);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        check(what, status, &response.text().await?, expected);
    }
    let (status, reason) = announce_a_body_of(1 << 20, base, &signature).await?;
    check("a 1 MiB body announced", status, &reason, 413);
    let mut keys: Vec<String> = applied
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(ToString::to_string)
        .collect();
    keys.sort();
    println!("self-test: applied {keys:?}");
    if keys != ["qs_selftest:approved", "qs_unsigned:rejected"] {
        failures += 1;
    }
    if failures > 0 {
        bail!("self-test failed: {failures} unexpected outcome(s)");
    }
    println!("self-test: passed");
    Ok(())
}
