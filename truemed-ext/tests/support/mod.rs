//! What truemed-ext's tests share: the workspace's scripted server (truemed-tests) and a
//! client for it, the test key, sleepers that do not sleep, a raw server that writes bytes
//! as given, and webhook signatures computed independently of the crate.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};

// Not every test file uses each of them.
#[allow(unused_imports)]
pub use truemed_tests::{hmac_hex, Recorded, Reply, Scripted};

/// Clients for a [`Scripted`] server.
pub trait ScriptedClient {
    /// A builder of a client for this server with the test key, for the test to configure
    /// further (its retries sleep for real unless it is given a sleeper).
    fn builder(&self) -> truemed_ext::ClientBuilder;

    /// A client for this server, with retries that do not sleep but record their waits.
    fn client(&self) -> (truemed_ext::Client, Waits);
}

impl ScriptedClient for Scripted {
    fn builder(&self) -> truemed_ext::ClientBuilder {
        truemed_ext::Client::builder().api_key(API_KEY).base_url(&self.base_url)
    }

    fn client(&self) -> (truemed_ext::Client, Waits) {
        let (sleeper, waits) = recording_sleeper();
        (self.builder().sleeper(sleeper).build().unwrap(), waits)
    }
}

pub const API_KEY: &str = "sk_test_SECRET_9f8b7c6d";

pub fn session(id: &str, status: &str) -> serde_json::Value {
    serde_json::json!({"qualification_session_id": id, "status": status})
}

/// The waits a [`recording_sleeper`] was asked for, in order.
pub type Waits = Arc<Mutex<Vec<Duration>>>;

/// A sleeper that returns at once: retries happen without waiting.
pub fn no_sleep() -> truemed_ext::Sleeper {
    truemed_ext::Sleeper::from_fn(|_| Box::pin(async {}))
}

/// A sleeper that returns at once and records each wait it was asked for.
pub fn recording_sleeper() -> (truemed_ext::Sleeper, Waits) {
    let waits = Waits::default();
    let record = waits.clone();
    let sleeper = truemed_ext::Sleeper::from_fn(move |wait| {
        record.lock().unwrap().push(wait);
        Box::pin(async {})
    });
    (sleeper, waits)
}

/// A client for `base_url` with the test key and the default retries, which do not sleep.
pub fn client_to(base_url: &str) -> truemed_ext::Client {
    truemed_ext::Client::builder()
        .api_key(API_KEY)
        .base_url(base_url)
        .sleeper(no_sleep())
        .build()
        .unwrap()
}

/// A client for `base_url` with the test key that does not retry.
pub fn client_without_retries(base_url: &str) -> truemed_ext::Client {
    builder_without_retries(base_url).build().unwrap()
}

/// As [`client_without_retries`], sending through the caller's `http` client.
pub fn client_without_retries_over(base_url: &str, http: reqwest::Client) -> truemed_ext::Client {
    builder_without_retries(base_url).http_client(http).build().unwrap()
}

fn builder_without_retries(base_url: &str) -> truemed_ext::ClientBuilder {
    truemed_ext::Client::builder()
        .api_key(API_KEY)
        .base_url(base_url)
        .retry_policy(truemed_ext::RetryPolicy::none())
}

/// Gets `qs_1` with `client`, which the test expects to fail, and returns the error.
pub async fn error_getting_qs_1(client: &truemed_ext::Client) -> truemed_ext::Error {
    client.qualification_sessions().get("qs_1").await.unwrap_err()
}

/// As [`error_getting_qs_1`], with `policy` set on the call itself.
pub async fn error_getting_qs_1_under(
    client: &truemed_ext::Client,
    policy: truemed_ext::RetryPolicy,
) -> truemed_ext::Error {
    client.qualification_sessions().get("qs_1").retry_policy(policy).await.unwrap_err()
}

/// Sets the user id `u` on `qs_1` with `client`: the update most tests send.
pub async fn set_user_id_on_qs_1(
    client: &truemed_ext::Client,
) -> Result<truemed_ext::UpdateOutcome, truemed_ext::Error> {
    client.qualification_sessions().update("qs_1").user_id("u").send().await
}

/// Everything an error shows: its `Display` and `Debug`, and those of each of its sources.
pub fn all_text(error: &truemed_ext::Error) -> String {
    let mut text = format!("{error} {error:?}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    text
}

/// What a [`RawServer`] writes back: bytes exactly as given (any header, any body), then
/// an optional body of `repeat` copies of `chunk` streamed without buffering it whole.
#[derive(Clone, Debug)]
pub struct RawReply {
    pub head: Vec<u8>,
    pub chunk: &'static [u8],
    pub repeat: usize,
}

impl RawReply {
    /// A response with `status`, extra raw header lines, and `body`.
    pub fn new(status: u16, headers: &[&[u8]], body: &[u8]) -> Self {
        let mut head = format!("HTTP/1.1 {status} X\r\nconnection: close\r\n").into_bytes();
        for line in headers {
            head.extend_from_slice(line);
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        head.extend_from_slice(body);
        Self { head, chunk: b"", repeat: 0 }
    }

    /// A response whose body is `chunk` repeated `repeat` times, with or without a
    /// `content-length` (without: the end of the connection ends the body).
    pub fn streamed(
        status: u16,
        content_type: &str,
        chunk: &'static [u8],
        repeat: usize,
        with_length: bool,
    ) -> Self {
        let length = match with_length {
            true => format!("content-length: {}\r\n", chunk.len() * repeat),
            false => String::new(),
        };
        let head = format!(
            "HTTP/1.1 {status} X\r\nconnection: close\r\ncontent-type: {content_type}\r\n{length}\r\n"
        )
        .into_bytes();
        Self { head, chunk, repeat }
    }
}

/// A bare TCP server speaking just enough HTTP/1.1 to send [`RawReply`]s: each connection
/// gets one reply, then is closed. Records each request (head and body, lossily) and how
/// many body bytes it managed to write.
pub struct RawServer {
    pub base_url: String,
    requests: Arc<Mutex<Vec<String>>>,
    written: Arc<AtomicUsize>,
}

impl RawServer {
    pub async fn start(reply: impl Fn(usize, &str) -> RawReply + Send + Sync + 'static) -> Self {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let written = Arc::new(AtomicUsize::new(0));
        let (log, count) = (requests.clone(), written.clone());
        let reply = Arc::new(reply);
        tokio::spawn(async move {
            let counter = AtomicUsize::new(0);
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let (log, count, reply) = (log.clone(), count.clone(), reply.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 4096];
                    // Read the head, then the body its content-length announces.
                    loop {
                        let Ok(read) = socket.read(&mut buffer).await else {
                            return;
                        };
                        if read == 0 {
                            return;
                        }
                        request.extend_from_slice(&buffer[..read]);
                        let text = String::from_utf8_lossy(&request).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text[..end]
                                .lines()
                                .find_map(|line| {
                                    let (name, value) = line.split_once(':')?;
                                    name.eq_ignore_ascii_case("content-length")
                                        .then(|| value.trim().parse::<usize>().ok())?
                                })
                                .unwrap_or(0);
                            if request.len() >= end + 4 + length {
                                break;
                            }
                        }
                    }
                    let text = String::from_utf8_lossy(&request).to_string();
                    log.lock().unwrap().push(text.clone());
                    let answer = reply(n, &text);
                    if socket.write_all(&answer.head).await.is_err() {
                        return;
                    }
                    for _ in 0..answer.repeat {
                        if socket.write_all(answer.chunk).await.is_err() {
                            return;
                        }
                        count.fetch_add(answer.chunk.len(), Ordering::SeqCst);
                    }
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { base_url, requests, written }
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// Body bytes written before the client stopped reading (or all of them).
    pub fn body_bytes_written(&self) -> usize {
        self.written.load(Ordering::SeqCst)
    }

    /// A client for this server, with retries that do not sleep.
    pub fn client_builder(&self) -> truemed_ext::ClientBuilder {
        truemed_ext::Client::builder().api_key(API_KEY).base_url(&self.base_url).sleeper(no_sleep())
    }
}

/// An `x-truemed-signature` value, `t=<timestamp>,v1=<hmac_hex>`, formatted here rather
/// than by truemed-ext.
pub fn signature_value(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    format!("t={t},v1={}", hmac_hex(secret, &t, body))
}

/// The one handler of a merchant that receives completions from both paths, webhooks and
/// reconciliation: it applies each completion once, deduplicating on its
/// [`CompletionKey`](truemed_ext::CompletionKey), and records which path saw what.
#[derive(Clone, Default)]
pub struct CompletionHandler(Arc<Mutex<HandlerLog>>);

/// What a [`CompletionHandler`] saw and applied.
#[derive(Clone, Debug, Default)]
pub struct HandlerLog {
    /// Each completion applied, in order, with the path that delivered it first.
    pub applied: Vec<(truemed_ext::CompletionKey, &'static str)>,
    /// Every completion received, in order, with its path (duplicates included).
    pub received: Vec<(truemed_ext::CompletionKey, &'static str)>,
    seen: std::collections::HashSet<truemed_ext::CompletionKey>,
}

impl CompletionHandler {
    /// Applies `completion` unless its key was applied before; `true` if applied now.
    pub fn apply(&self, completion: &truemed_ext::Completion) -> bool {
        let path = match completion.source {
            truemed_ext::CompletionSource::Webhook { .. } => "webhook",
            truemed_ext::CompletionSource::Reconciliation { .. } => "reconciliation",
            _ => "other",
        };
        let key = completion.key();
        let mut log = self.0.lock().unwrap();
        log.received.push((key.clone(), path));
        let fresh = log.seen.insert(key.clone());
        if fresh {
            log.applied.push((key, path));
        }
        fresh
    }

    pub fn log(&self) -> HandlerLog {
        self.0.lock().unwrap().clone()
    }

    /// The keys one path delivered, in order.
    pub fn received_by(&self, path: &str) -> Vec<truemed_ext::CompletionKey> {
        let log = self.0.lock().unwrap();
        log.received.iter().filter(|(_, p)| *p == path).map(|(k, _)| k.clone()).collect()
    }
}

/// A merchant's webhook endpoint on 127.0.0.1 (`POST /hooks`): it verifies signed
/// deliveries with its secret and hands each completion to a [`CompletionHandler`],
/// answering 204; while [`set_up(false)`](Self::set_up), it answers 500 to every
/// delivery without reading it (an endpoint that is down).
pub struct WebhookEndpoint {
    pub url: String,
    up: Arc<std::sync::atomic::AtomicBool>,
    deliveries: Arc<AtomicUsize>,
}

impl WebhookEndpoint {
    pub async fn start(secret: &str, handler: CompletionHandler, up: bool) -> Self {
        use std::sync::atomic::AtomicBool;
        let verifier = Arc::new(truemed_ext::webhook::WebhookVerifier::new(secret));
        let up = Arc::new(AtomicBool::new(up));
        let deliveries = Arc::new(AtomicUsize::new(0));
        let (state_up, state_deliveries) = (up.clone(), deliveries.clone());
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (verifier, handler) = (verifier.clone(), handler.clone());
                let (up, deliveries) = (state_up.clone(), state_deliveries.clone());
                async move {
                    deliveries.fetch_add(1, Ordering::SeqCst);
                    if !up.load(Ordering::SeqCst) {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let Ok(delivery) = verifier.verify_signed(&headers, &body) else {
                        return StatusCode::UNAUTHORIZED;
                    };
                    if let truemed_ext::webhook::WebhookEvent::QualificationSessionComplete(
                        payload,
                    ) = &delivery.event
                    {
                        let id = delivery.webhook_delivery_id.as_str();
                        if let Some(completion) =
                            truemed_ext::Completion::from_webhook(payload, Some(id))
                        {
                            handler.apply(&completion);
                        }
                    }
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, up, deliveries }
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// Delivery attempts received, answered or not.
    pub fn deliveries(&self) -> usize {
        self.deliveries.load(Ordering::SeqCst)
    }
}

/// A URL on 127.0.0.1 where nothing listens (a port bound, then released).
pub fn unreachable_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}/hooks")
}
