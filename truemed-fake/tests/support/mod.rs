//! What the fake's tests share: requests to the control API (or the API) with a key, the
//! HMAC of a signed delivery computed here rather than by the crates, and a scripted HTTP
//! server on 127.0.0.1 (every request is recorded, and a closure decides each reply), used
//! as a webhook receiver.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;

thread_local! {
    /// One client per test (each test runs on its own thread and runtime).
    static HTTP: reqwest::Client = reqwest::Client::new();
}

/// A request to `base_url` + `path` with `key` and a JSON body (or none); the status and
/// the JSON answer (null when empty, or not JSON).
pub async fn request(
    base_url: &str,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    request_raw(base_url, key, method, path, body.map(|b| b.to_string())).await
}

/// A request with a raw body (or none); the status and the JSON answer (null when empty;
/// a body that is not JSON fails the test).
pub async fn request_raw(
    base_url: &str,
    key: &str,
    method: &str,
    path: &str,
    body: Option<String>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = HTTP
        .with(reqwest::Client::clone)
        .request(method, format!("{base_url}{path}"))
        .header("x-truemed-api-key", key);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body);
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

/// A control-API (or API) request to `fake` with its key.
pub async fn call(
    fake: &truemed_fake::FakeTruemed,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    request(&fake.base_url(), &fake.api_key(), method, path, body).await
}

/// A request to `fake` with a raw body (or none) and any key.
pub async fn call_with_key(
    fake: &truemed_fake::FakeTruemed,
    key: &str,
    method: &str,
    path: &str,
    body: Option<String>,
) -> (u16, Value) {
    request_raw(&fake.base_url(), key, method, path, body).await
}

/// A fake that starts empty, with a key of its own.
pub async fn fake() -> truemed_fake::FakeTruemed {
    builder().start().await
}

/// The builder of [`fake`], for a test that configures more before it starts.
pub fn builder() -> truemed_fake::FakeTruemedBuilder {
    truemed_fake::FakeTruemed::builder().api_key("sk_test_control")
}

// Not every test file uses each of them.
#[allow(unused_imports)]
pub use truemed_tests::{hmac_hex, Recorded, Reply, Scripted};

/// A receiver that answers every delivery 204, and a fake that sends it its webhooks,
/// signed with `secret`, in one attempt each.
pub async fn fake_delivering_once(secret: &str) -> (truemed_fake::FakeTruemed, Scripted) {
    let receiver = Scripted::sequence(vec![Reply::raw(204, "")]).await;
    let fake = builder()
        .webhook(format!("{}/hooks", receiver.base_url), secret)
        .webhook_retries(truemed_fake::WebhookRetries::default().with_max_attempts(1))
        .start()
        .await;
    (fake, receiver)
}

/// The `truemed-fake` binary, as built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_truemed-fake");

/// A running `truemed-fake serve`, killed when dropped.
pub struct Served {
    child: std::process::Child,
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// The running process.
    pub fn child(&mut self) -> &mut std::process::Child {
        &mut self.child
    }
}

/// Starts `truemed-fake serve --port 0 --api-key KEY ARGS` and waits for `listening on`.
pub fn serve(key: &str, args: &[&str]) -> Served {
    use std::io::{BufRead as _, BufReader};
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--port", "0", "--api-key", key])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if send.send(line.unwrap_or_default()).is_err() {
                return;
            }
        }
    });
    let line =
        lines.recv_timeout(Duration::from_secs(30)).expect("no `listening on` line within 30 s");
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(!url.ends_with(":0"), "{url}");
    Served { child, url }
}

/// Runs the binary with these arguments until it exits; `None` if it is still running
/// after `limit` (then it is killed): a `serve` that should have refused its flags.
pub fn run_until(args: &[&str], limit: Duration) -> Option<std::process::Output> {
    let mut child = std::process::Command::new(BIN)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Runs the binary to completion with these arguments.
pub async fn run(args: &[&str]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN).args(args).output().unwrap()
    })
    .await
    .unwrap()
}

/// Checks a signed delivery with the crate's verifier and with an HMAC computed here;
/// returns the envelope.
pub fn verify_both_ways(secret: &str, request: &Recorded) -> Value {
    truemed_ext::webhook::WebhookVerifier::new(secret)
        .verify_signed(&request.headers, &request.body)
        .unwrap();
    let header = request.headers["x-truemed-signature"].to_str().unwrap();
    let t = header.split(',').find_map(|p| p.strip_prefix("t=")).unwrap();
    let v1 = header.split(',').find_map(|p| p.strip_prefix("v1=")).unwrap();
    assert_eq!(v1, hmac_hex(secret, t, &request.body));
    serde_json::from_slice(&request.body).unwrap()
}

/// A raw request to `fake` with its key (no body).
pub async fn raw(
    fake: &truemed_fake::FakeTruemed,
    method: reqwest::Method,
    path: &str,
) -> reqwest::Response {
    HTTP.with(reqwest::Client::clone)
        .request(method, format!("{}{path}", fake.base_url()))
        .header("x-truemed-api-key", fake.api_key())
        .send()
        .await
        .unwrap()
}

/// Fails unless `error` is an API error of `kind`, printing the whole error otherwise.
#[track_caller]
pub fn assert_api_kind(error: &truemed_ext::Error, kind: truemed_ext::ApiErrorKind) {
    assert_eq!(error.api_kind(), Some(kind), "{error:?}");
}

/// A client of `fake` that tries each call once, so that each error reaches the test.
pub fn client_without_retries(fake: &truemed_fake::FakeTruemed) -> truemed_ext::Client {
    fake.client_builder().retry_policy(truemed_ext::RetryPolicy::none()).build().unwrap()
}

/// A client of `fake` that retries up to `max_retries` times, backing off from 1 ms to
/// `max_backoff`: patient, yet quick, against injected faults.
pub fn patient_client(
    fake: &truemed_fake::FakeTruemed,
    max_retries: u32,
    max_backoff: Duration,
) -> truemed_ext::Client {
    fake.client_builder()
        .retry_policy(
            truemed_ext::RetryPolicy::default()
                .with_max_retries(max_retries)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(max_backoff),
        )
        .build()
        .unwrap()
}
