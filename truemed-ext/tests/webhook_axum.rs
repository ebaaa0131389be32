//! The axum extractor of verified webhooks (`truemed_ext::webhook::axum`, feature `axum`)
//! in a real axum server on 127.0.0.1: deliveries signed by code independent of the crate
//! (the `hmac` crate in tests/support, and Python's `hmac`), deliveries from the fake
//! Truemed's webhook sender, rotation, unsigned deliveries, and hostile requests (no body, a
//! 10 MB body, lying `Content-Length`s, bad, stale and repeated signatures, wrong content
//! types, bodies that are not deliveries), each checked for its status, its plain-text
//! reason, what it does not show, and what the handler saw.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use truemed_ext::webhook::axum::{
    DeliveryMethod, VerifiedWebhook, WebhookConfig, WebhookRejection, WebhookRejectionKind,
    DEFAULT_BODY_LIMIT,
};
use truemed_ext::webhook::{WebhookError, WebhookEvent, WebhookVerifier, SIGNATURE_HEADER};
use truemed_ext::{CompletionSource, Status, API_KEY_HEADER};
use truemed_fake::{DeliveryState, FakeTruemed, SessionSeed};

use support::signature_value;

const SECRET: &str = "whsec_axum_SECRET_7d1c";
const PREVIOUS_SECRET: &str = "whsec_axum_PREVIOUS_42aa";
const SHARED_SECRET: &str = "shared_axum_SECRET_93e0";
const PATH: &str = "/hooks/truemed";

/// The body of a signed `qualification_session.complete` delivery. Its email is a marker
/// that must never come back in a refusal.
fn complete_body(delivery_id: &str, session_id: &str, status: &str) -> Vec<u8> {
    serde_json::json!({
        "webhook_delivery_id": delivery_id,
        "event_type": "qualification_session.complete",
        "data": {
            "qualification_session_id": session_id,
            "status": status,
            "email": "ada.lovelace@example.com",
            "user_id": "user_42",
        },
    })
    .to_string()
    .into_bytes()
}

/// The flat payload of an unsigned delivery.
fn unsigned_body(session_id: &str, status: &str) -> Vec<u8> {
    serde_json::json!({
        "qualification_session_id": session_id,
        "status": status,
        "email": "ada.lovelace@example.com",
    })
    .to_string()
    .into_bytes()
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs().try_into().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The receiver under test

/// The application's state: the extractor's configuration and what the handler saw.
#[derive(Clone)]
struct AppState {
    webhooks: WebhookConfig,
    seen: Arc<Mutex<Vec<VerifiedWebhook>>>,
}

impl FromRef<AppState> for WebhookConfig {
    fn from_ref(state: &AppState) -> Self {
        state.webhooks.clone()
    }
}

/// The handler: records the delivery and answers `202` with what it saw, so that the tests
/// check that the handler's own answer is what the sender gets.
async fn handler(State(state): State<AppState>, webhook: VerifiedWebhook) -> Response {
    let answer = format!(
        "handled {} {}",
        webhook.event_type(),
        webhook.key().map(|key| key.to_string()).unwrap_or_default()
    );
    state.seen.lock().unwrap().push(webhook);
    (StatusCode::ACCEPTED, answer).into_response()
}

/// A running receiver: its URL, address, and what its handler saw.
struct Receiver {
    url: String,
    addr: String,
    seen: Arc<Mutex<Vec<VerifiedWebhook>>>,
}

impl Receiver {
    /// The head of a raw POST to this receiver, with `extra` header lines.
    fn raw_head(&self, extra: &[String]) -> Vec<u8> {
        raw_head(&self.addr, extra)
    }

    /// Sends `request` as it is and reads the answer, which the test expects.
    async fn exchange(&self, request: &[u8]) -> RawAnswer {
        raw_exchange(&self.addr, request).await.unwrap()
    }

    async fn start(webhooks: WebhookConfig) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = AppState { webhooks, seen: seen.clone() };
        let app = Router::new().route(PATH, post(handler)).with_state(state);
        let (url, addr) = serve(app).await;
        Self { url, addr, seen }
    }

    fn seen(&self) -> Vec<VerifiedWebhook> {
        self.seen.lock().unwrap().clone()
    }

    /// POSTs `body` with these headers; the status, content type and text of the answer.
    async fn post(&self, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
        let mut request = reqwest::Client::new().post(&self.url).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Answer::of(request.send().await.unwrap()).await
    }

    /// A signed delivery of `body`, signed now with `secret` by tests/support.
    async fn post_signed(&self, secret: &str, body: Vec<u8>) -> Answer {
        let signature = signature_value(secret, now(), &body);
        self.post(&[(SIGNATURE_HEADER, &signature), ("content-type", "application/json")], body)
            .await
    }
}

/// Serves `app` on 127.0.0.1; its URL at [`PATH`] and its address.
async fn serve(app: Router) -> (String, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}{PATH}"), addr)
}

fn signed_config() -> WebhookConfig {
    WebhookConfig::signed(WebhookVerifier::new(SECRET))
}

/// An answer of the receiver.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    text: String,
}

impl Answer {
    async fn of(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        Self { status, content_type, text }
    }

    /// A refusal: `status`, plain text that contains `reason`, and none of the secrets or
    /// the body's marker.
    #[track_caller]
    fn assert_refused(&self, status: u16, reason: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.content_type.as_deref(), Some("text/plain; charset=utf-8"), "{self:?}");
        assert!(self.text.contains(reason), "{reason:?} not in {self:?}");
        assert!(!self.text.contains('\n'), "not one line: {self:?}");
        for secret in [SECRET, PREVIOUS_SECRET, SHARED_SECRET, "whsec", "SECRET"] {
            assert!(!self.text.contains(secret), "{secret} in {self:?}");
        }
        for marker in ["ada", "lovelace", "example.com", "user_42"] {
            assert!(!self.text.contains(marker), "{marker} in {self:?}");
        }
    }
}

/// Writes `request` as raw bytes on a new connection to `addr`, and reads the answer until
/// the server closes the connection (the requests ask it to); `None` when the server closed
/// the connection without answering. Fails after 30 s.
async fn raw_exchange(addr: &str, request: &[u8]) -> Option<RawAnswer> {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket.write_all(request).await.unwrap();
    read_answer(&mut socket).await
}

/// Reads an HTTP/1.1 answer until the end of the connection (or a reset after it).
async fn read_answer(socket: &mut TcpStream) -> Option<RawAnswer> {
    let mut bytes = Vec::new();
    let read = async {
        let mut buffer = [0u8; 8192];
        loop {
            match socket.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read).await.expect("no answer within 30 s");
    RawAnswer::parse(&bytes)
}

#[derive(Debug)]
struct RawAnswer {
    status: u16,
    head: String,
    body: String,
}

impl RawAnswer {
    /// An answer with this `status` and this whole `body`.
    #[track_caller]
    fn assert_is(&self, status: u16, body: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.body, body, "{self:?}");
    }

    /// An answer with this `status` whose body begins with `start`.
    #[track_caller]
    fn assert_begins(&self, status: u16, start: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert!(self.body.starts_with(start), "{self:?}");
    }

    fn parse(bytes: &[u8]) -> Option<Self> {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let (head, rest) = text.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let length = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })?;
        Some(Self { status, head: head.to_owned(), body: rest.get(..length)?.to_owned() })
    }
}

/// The head of a raw POST to [`PATH`] that asks the server to close the connection after
/// answering; `extra` are more header lines.
/// The header line of a valid signature of `body`, for a raw request.
fn signature_line(body: &[u8]) -> String {
    format!("{SIGNATURE_HEADER}: {}", signature_value(SECRET, now(), body))
}

fn raw_head(addr: &str, extra: &[String]) -> Vec<u8> {
    let mut head = format!("POST {PATH} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Authentic deliveries

#[tokio::test]
async fn a_delivery_signed_by_independent_code_reaches_the_handler_whose_answer_is_returned() {
    let receiver = Receiver::start(signed_config()).await;
    let answer = receiver.post_signed(SECRET, complete_body("whd_1", "qs_1", "approved")).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(answer.text, "handled qualification_session.complete qs_1:approved");

    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    let webhook = &seen[0];
    assert_eq!(webhook.method(), DeliveryMethod::Signed);
    assert_eq!(webhook.webhook_delivery_id(), Some("whd_1"));
    let VerifiedWebhook::Signed(delivery) = webhook else {
        panic!("not signed: {webhook:?}");
    };
    assert!((delivery.timestamp - now()).abs() < 600);
    let completion = webhook.completion().unwrap();
    assert_eq!(completion.qualification_session_id, "qs_1");
    assert_eq!(completion.status, Status::Approved);
    assert_eq!(completion.user_id.as_deref(), Some("user_42"));
    assert!(matches!(
        completion.source,
        CompletionSource::Webhook { webhook_delivery_id: Some(ref id) } if id == "whd_1"
    ));
    assert_eq!(webhook.key(), Some(completion.key()));
    assert_eq!(webhook.payload().unwrap().email.as_deref(), Some("ada.lovelace@example.com"));
}

#[tokio::test]
async fn a_delivery_signed_by_python_reaches_the_handler() {
    let receiver = Receiver::start(signed_config()).await;
    let body = complete_body("whd_py", "qs_py", "rejected");
    // Python's own hmac, at Python's clock: nothing of this crate or of Rust's hmac crate.
    let script = "import hashlib, hmac, sys, time\n\
                  secret, body = sys.argv[1].encode(), sys.stdin.buffer.read()\n\
                  t = str(int(time.time()))\n\
                  mac = hmac.new(secret, t.encode() + b'.' + body, hashlib.sha256)\n\
                  print('t=' + t + ',v1=' + mac.hexdigest(), end='')\n";
    let mut python = std::process::Command::new("python3")
        .args(["-c", script, SECRET])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("this test needs python3 on the PATH (as scripts/conformance does)");
    std::io::Write::write_all(&mut python.stdin.take().unwrap(), &body).unwrap();
    let output = python.wait_with_output().unwrap();
    assert!(output.status.success());
    let signature = String::from_utf8(output.stdout).unwrap();

    let answer = receiver.post(&[(SIGNATURE_HEADER, &signature)], body).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(answer.text, "handled qualification_session.complete qs_py:rejected");
    assert_eq!(receiver.seen()[0].webhook_delivery_id(), Some("whd_py"));
}

#[tokio::test]
async fn deliveries_from_the_fake_truemed_reach_the_handler_with_their_completions() {
    let receiver = Receiver::start(signed_config()).await;
    let fake = FakeTruemed::builder().webhook(&receiver.url, SECRET).start().await;
    fake.seed_all([SessionSeed::new("qs_a"), SessionSeed::new("qs_b")]);
    fake.approve("qs_a");
    fake.reject("qs_b");
    fake.flush_webhooks().await;

    let deliveries = fake.webhook_deliveries();
    assert_eq!(deliveries.len(), 2);
    for delivery in &deliveries {
        assert_eq!(delivery.state, DeliveryState::Delivered, "{delivery:?}");
        assert_eq!(delivery.attempts.len(), 1, "{delivery:?}");
        assert_eq!(delivery.attempts[0].status, Some(202));
    }
    let mut keys: Vec<String> =
        receiver.seen().iter().map(|webhook| webhook.key().unwrap().to_string()).collect();
    keys.sort();
    assert_eq!(keys, ["qs_a:approved", "qs_b:rejected"]);
    let mut ids: Vec<String> = receiver
        .seen()
        .iter()
        .map(|webhook| webhook.webhook_delivery_id().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut sent: Vec<String> = deliveries.iter().map(|d| d.webhook_delivery_id.clone()).collect();
    sent.sort();
    assert_eq!(ids, sent);
}

#[tokio::test]
async fn unsigned_deliveries_from_the_fake_truemed_reach_the_handler() {
    let receiver =
        Receiver::start(WebhookConfig::unsigned(WebhookVerifier::new(SHARED_SECRET))).await;
    let fake = FakeTruemed::builder().unsigned_webhook(&receiver.url, SHARED_SECRET).start().await;
    fake.seed(SessionSeed::new("qs_u"));
    fake.approve("qs_u");
    fake.flush_webhooks().await;

    assert_eq!(fake.webhook_deliveries()[0].state, DeliveryState::Delivered);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method(), DeliveryMethod::Unsigned);
    assert_eq!(seen[0].webhook_delivery_id(), None);
    assert_eq!(seen[0].key().unwrap().to_string(), "qs_u:approved");
}

#[tokio::test]
async fn while_rotating_either_secret_is_accepted_and_a_third_is_refused() {
    let receiver = Receiver::start(WebhookConfig::signed(WebhookVerifier::from_secrets([
        SECRET,
        PREVIOUS_SECRET,
    ])))
    .await;
    let current = receiver.post_signed(SECRET, complete_body("whd_c", "qs_c", "approved")).await;
    let previous =
        receiver.post_signed(PREVIOUS_SECRET, complete_body("whd_p", "qs_p", "approved")).await;
    assert_eq!((current.status, previous.status), (202, 202));
    let other = receiver
        .post_signed("whsec_someone_else", complete_body("whd_o", "qs_o", "approved"))
        .await;
    other.assert_refused(401, "no valid signature in `x-truemed-signature`");

    // A header with one signature per secret, as a sender that rotates its own sends.
    let body = complete_body("whd_both", "qs_both", "approved");
    let t = now().to_string();
    let both = format!(
        "t={t},v1={},v1={}",
        support::hmac_hex("whsec_retired", &t, &body),
        support::hmac_hex(PREVIOUS_SECRET, &t, &body)
    );
    let answer = receiver.post(&[(SIGNATURE_HEADER, &both)], body).await;
    assert_eq!(answer.status, 202, "{answer:?}");

    let ids: Vec<_> =
        receiver.seen().iter().map(|w| w.webhook_delivery_id().unwrap().to_owned()).collect();
    assert_eq!(ids, ["whd_c", "whd_p", "whd_both"]);
}

#[tokio::test]
async fn an_unsigned_delivery_needs_the_shared_secret() {
    let verifier = WebhookVerifier::from_secrets([SHARED_SECRET, "shared_next"]);
    let receiver = Receiver::start(WebhookConfig::unsigned(verifier)).await;

    let answer =
        receiver.post(&[(API_KEY_HEADER, SHARED_SECRET)], unsigned_body("qs_1", "rejected")).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(answer.text, "handled qualification_session.complete qs_1:rejected");
    let rotated =
        receiver.post(&[(API_KEY_HEADER, "shared_next")], unsigned_body("qs_2", "approved")).await;
    assert_eq!(rotated.status, 202, "{rotated:?}");

    receiver
        .post(&[(API_KEY_HEADER, "shared_wrong")], unsigned_body("qs_3", "approved"))
        .await
        .assert_refused(401, "wrong shared secret in `x-truemed-api-key`");
    receiver
        .post(&[], unsigned_body("qs_4", "approved"))
        .await
        .assert_refused(401, "missing `x-truemed-api-key` header");
    // A signed delivery at an unsigned endpoint: its signature is not the shared secret.
    receiver
        .post_signed(SHARED_SECRET, complete_body("whd_5", "qs_5", "approved"))
        .await
        .assert_refused(401, "missing `x-truemed-api-key` header");
    receiver
        .post(
            &[(API_KEY_HEADER, SHARED_SECRET), (API_KEY_HEADER, SHARED_SECRET)],
            unsigned_body("qs_6", "approved"),
        )
        .await
        .assert_refused(401, "malformed `x-truemed-api-key` header");
    receiver
        .post(&[(API_KEY_HEADER, SHARED_SECRET)], b"not json".to_vec())
        .await
        .assert_refused(400, "body is not a Truemed webhook delivery");

    let seen: Vec<_> = receiver.seen().iter().map(|w| w.key().unwrap().to_string()).collect();
    assert_eq!(seen, ["qs_1:rejected", "qs_2:approved"]);
}

#[tokio::test]
async fn an_unsigned_endpoint_ignores_the_signature_header_and_a_signed_one_the_api_key() {
    let signed = Receiver::start(signed_config()).await;
    signed
        .post(&[(API_KEY_HEADER, SECRET)], unsigned_body("qs_1", "approved"))
        .await
        .assert_refused(401, "missing `x-truemed-signature` header");
    assert!(signed.seen().is_empty());
}

#[tokio::test]
async fn an_unknown_event_type_reaches_the_handler_which_decides() {
    let receiver = Receiver::start(signed_config()).await;
    let body = br#"{"webhook_delivery_id":"whd_u","event_type":"payment.refunded","data":{"amount":1200}}"#;
    let answer = receiver.post_signed(SECRET, body.to_vec()).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(answer.text, "handled payment.refunded ");

    let seen = receiver.seen();
    let webhook = &seen[0];
    assert_eq!(webhook.event_type(), "payment.refunded");
    assert!(webhook.completion().is_none());
    assert!(webhook.key().is_none());
    assert!(webhook.payload().is_none());
    assert_eq!(webhook.webhook_delivery_id(), Some("whd_u"));
    let VerifiedWebhook::Signed(delivery) = webhook else {
        panic!("not signed");
    };
    let WebhookEvent::Unknown { data, .. } = &delivery.event else {
        panic!("not unknown: {delivery:?}");
    };
    assert_eq!(data["amount"], 1200);
}

#[tokio::test]
async fn the_content_type_is_not_what_authenticates_a_delivery() {
    let receiver = Receiver::start(signed_config()).await;
    let content_types: [Option<&str>; 4] = [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/json; charset=utf-8"),
    ];
    for (n, content_type) in content_types.into_iter().enumerate() {
        let body = complete_body(&format!("whd_{n}"), &format!("qs_{n}"), "approved");
        let signature = signature_value(SECRET, now(), &body);
        let mut headers = vec![(SIGNATURE_HEADER, signature.as_str())];
        headers.extend(content_type.map(|c| ("content-type", c)));
        let answer = receiver.post(&headers, body.clone()).await;
        assert_eq!(answer.status, 202, "{content_type:?}: {answer:?}");

        // ... and a wrong content type does not make a forgery pass either.
        let forged = signature_value("whsec_forger", now(), &body);
        let mut headers = vec![(SIGNATURE_HEADER, forged.as_str())];
        headers.extend(content_type.map(|c| ("content-type", c)));
        receiver.post(&headers, body).await.assert_refused(401, "no valid signature");
    }
    assert_eq!(receiver.seen().len(), 4);
}

#[tokio::test]
async fn a_config_that_is_the_router_state_needs_no_from_ref_impl() {
    async fn handle(webhook: VerifiedWebhook) -> String {
        webhook.key().unwrap().to_string()
    }
    let app = Router::new().route(PATH, post(handle)).with_state(signed_config());
    let (url, _) = serve(app).await;
    let body = complete_body("whd_s", "qs_s", "approved");
    let response = reqwest::Client::new()
        .post(&url)
        .header(SIGNATURE_HEADER, signature_value(SECRET, now(), &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "qs_s:approved");
}

#[tokio::test]
async fn a_handler_that_takes_the_result_sees_the_rejection_kind_status_and_source() {
    async fn handle(webhook: Result<VerifiedWebhook, WebhookRejection>) -> Response {
        match webhook {
            Ok(_) => StatusCode::NO_CONTENT.into_response(),
            Err(rejection) => {
                let source = std::error::Error::source(&rejection).map(ToString::to_string);
                assert_eq!(
                    source,
                    rejection.webhook_error().map(ToString::to_string),
                    "source and webhook_error differ"
                );
                let status = rejection.status();
                assert_eq!(status, rejection.kind().status());
                let logged = format!(
                    "{} {} {}",
                    rejection.kind(),
                    rejection.webhook_error().is_some(),
                    rejection
                );
                (status, logged).into_response()
            }
        }
    }
    let app =
        Router::new().route(PATH, post(handle)).with_state(signed_config().with_body_limit(1024));
    let (url, _) = serve(app).await;
    let http = reqwest::Client::new();
    let body = complete_body("whd_r", "qs_r", "approved");

    let forged = http
        .post(&url)
        .header(SIGNATURE_HEADER, signature_value("whsec_x", now(), &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert_eq!(
        forged.text().await.unwrap(),
        "unauthenticated true no valid signature in `x-truemed-signature`"
    );

    let large = http.post(&url).body(vec![b' '; 2048]).send().await.unwrap();
    assert_eq!(large.status(), 413);
    assert_eq!(
        large.text().await.unwrap(),
        "body_too_large false webhook body is over the limit of 1024 bytes"
    );

    let ok = http
        .post(&url)
        .header(SIGNATURE_HEADER, signature_value(SECRET, now(), &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 204);
}

#[tokio::test]
async fn a_verifier_without_a_secret_answers_500_without_reaching_the_handler() {
    let receiver = Receiver::start(WebhookConfig::signed(WebhookVerifier::new(""))).await;
    receiver
        .post_signed("", complete_body("whd_1", "qs_1", "approved"))
        .await
        .assert_refused(500, "webhook receiver is misconfigured");
    assert!(receiver.seen().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Hostile requests

#[tokio::test]
async fn a_request_without_a_body_or_with_an_empty_one_is_refused() {
    let receiver = Receiver::start(signed_config()).await;
    let signature = signature_value(SECRET, now(), b"");

    // No body at all: no Content-Length, no Transfer-Encoding.
    let head = receiver.raw_head(&[signature_line(b"")]);
    let answer = receiver.exchange(&head).await;
    answer.assert_begins(400, "body is not a Truemed webhook delivery");
    let unsigned = receiver.exchange(&receiver.raw_head(&[])).await;
    unsigned.assert_is(401, "missing `x-truemed-signature` header");

    // An empty body, signed or not.
    receiver
        .post(&[(SIGNATURE_HEADER, &signature)], Vec::new())
        .await
        .assert_refused(400, "body is not a Truemed webhook delivery");
    receiver
        .post(&[], Vec::new())
        .await
        .assert_refused(401, "missing `x-truemed-signature` header");
    assert!(receiver.seen().is_empty());
}

#[tokio::test]
async fn a_10_mb_body_announced_by_its_content_length_is_refused_before_it_is_sent() {
    let receiver = Receiver::start(signed_config()).await;
    let body_length = 10 * 1024 * 1024;
    let body = vec![b'x'; body_length];
    // The head only: an answer proves the server did not wait for (or read) the body.
    let head = receiver.raw_head(&[
        signature_line(&body),
        "content-type: application/json".to_owned(),
        format!("content-length: {body_length}"),
    ]);
    let answer = receiver.exchange(&head).await;
    assert_eq!(answer.status, 413, "{answer:?}");
    assert!(answer.head.to_ascii_lowercase().contains("content-type: text/plain; charset=utf-8"));
    assert_eq!(answer.body, "webhook body is over the limit of 65536 bytes");
    assert!(receiver.seen().is_empty());
}

#[tokio::test]
async fn a_10_mb_body_sent_whole_is_refused_with_413() {
    let receiver = Receiver::start(signed_config()).await;
    let body = vec![b'x'; 10 * 1024 * 1024];
    let signature = signature_value(SECRET, now(), &body);
    let answer = receiver.post(&[(SIGNATURE_HEADER, &signature)], body).await;
    answer.assert_refused(413, "webhook body is over the limit of 65536 bytes");
    assert!(receiver.seen().is_empty());
}

#[tokio::test]
async fn a_chunked_body_is_refused_once_past_the_limit_without_reading_the_rest() {
    let receiver = Receiver::start(signed_config()).await;
    let mut socket = TcpStream::connect(&receiver.addr).await.unwrap();
    let head = receiver.raw_head(&[signature_line(b"{}"), "transfer-encoding: chunked".to_owned()]);
    socket.write_all(&head).await.unwrap();
    // Twice the limit in 8 KiB chunks, then nothing: the body never ends, so an answer
    // proves the server stopped reading at the limit.
    let chunk = [b'x'; 8192];
    for _ in 0..(2 * DEFAULT_BODY_LIMIT / chunk.len()) {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(b"\r\n");
        if socket.write_all(&frame).await.is_err() {
            break; // the server has answered and closed
        }
    }
    let answer = read_answer(&mut socket).await.unwrap();
    answer.assert_is(413, "webhook body is over the limit of 65536 bytes");
    assert!(receiver.seen().is_empty());
}

#[tokio::test]
async fn the_body_limit_is_configurable_and_a_body_at_the_limit_is_read() {
    let body = complete_body("whd_l", "qs_l", "approved");
    let at_limit = Receiver::start(signed_config().with_body_limit(body.len())).await;
    let answer = at_limit.post_signed(SECRET, body.clone()).await;
    assert_eq!(answer.status, 202, "{answer:?}");

    let below = Receiver::start(signed_config().with_body_limit(body.len() - 1)).await;
    below.post_signed(SECRET, body.clone()).await.assert_refused(
        413,
        &format!("webhook body is over the limit of {} bytes", body.len() - 1),
    );
    assert!(below.seen().is_empty());
}

#[tokio::test]
async fn a_content_length_shorter_than_the_body_leaves_the_signature_unmatched() {
    let receiver = Receiver::start(signed_config()).await;
    let body = complete_body("whd_cl", "qs_cl", "approved");
    let mut request =
        receiver.raw_head(&[signature_line(&body), format!("content-length: {}", body.len() - 10)]);
    request.extend_from_slice(&body);
    let answer = receiver.exchange(&request).await;
    answer.assert_is(401, "no valid signature in `x-truemed-signature`");
    assert!(receiver.seen().is_empty());
}

#[tokio::test]
async fn a_content_length_longer_than_the_body_never_reaches_the_handler() {
    let receiver = Receiver::start(signed_config()).await;
    let body = complete_body("whd_cl", "qs_cl", "approved");
    let mut socket = TcpStream::connect(&receiver.addr).await.unwrap();
    let mut request =
        receiver.raw_head(&[signature_line(&body), format!("content-length: {}", body.len() + 10)]);
    request.extend_from_slice(&body);
    socket.write_all(&request).await.unwrap();
    // The client stops sending: the body ends 10 bytes short of its Content-Length.
    socket.shutdown().await.unwrap();
    // The server answers 400 or closes the connection without an answer: never 2xx.
    if let Some(answer) = read_answer(&mut socket).await {
        answer.assert_is(400, "webhook body could not be read");
    }
    assert!(receiver.seen().is_empty());
}

#[tokio::test]
async fn bad_signatures_are_refused_with_401() {
    let receiver = Receiver::start(signed_config()).await;
    let body = complete_body("whd_b", "qs_b", "approved");
    let t = now();
    let tampered =
        String::from_utf8(body.clone()).unwrap().replace("approved", "rejected").into_bytes();
    let cases: [(String, Vec<u8>); 4] = [
        // Another secret.
        (signature_value("whsec_wrong", t, &body), body.clone()),
        // The right secret, another body.
        (signature_value(SECRET, t, &body), tampered),
        // The right signature, another timestamp.
        (
            format!("t={},v1={}", t + 1, support::hmac_hex(SECRET, &t.to_string(), &body)),
            body.clone(),
        ),
        // Valid hex that is no one's signature.
        (format!("t={t},v1={}", "0".repeat(64)), body.clone()),
    ];
    for (signature, body) in cases {
        let answer = receiver.post(&[(SIGNATURE_HEADER, &signature)], body).await;
        answer.assert_refused(401, "no valid signature in `x-truemed-signature`");
        let digest = signature.rsplit_once("v1=").unwrap().1;
        assert!(!answer.text.contains(digest), "{answer:?}");
    }
    assert!(receiver.seen().is_empty());
}

#[tokio::test]
async fn stale_and_future_timestamps_are_refused_with_401() {
    let receiver = Receiver::start(signed_config()).await;
    for (offset, direction) in [(-3600, "past"), (3600, "future")] {
        let body = complete_body("whd_t", "qs_t", "approved");
        let signature = signature_value(SECRET, now() + offset, &body);
        receiver
            .post(&[(SIGNATURE_HEADER, &signature)], body)
            .await
            .assert_refused(401, &format!("in the {direction}, beyond the tolerance of 300 s"));
    }
    // Within a configured tolerance, the same hour-old delivery is accepted.
    let lenient = Receiver::start(WebhookConfig::signed(
        WebhookVerifier::new(SECRET).with_tolerance(Duration::from_secs(7200)),
    ))
    .await;
    let body = complete_body("whd_t", "qs_t", "approved");
    let signature = signature_value(SECRET, now() - 3600, &body);
    let answer = lenient.post(&[(SIGNATURE_HEADER, &signature)], body).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert!(receiver.seen().is_empty());
}

#[tokio::test]
async fn malformed_signature_headers_are_refused_with_401() {
    let receiver = Receiver::start(signed_config()).await;
    let body = complete_body("whd_m", "qs_m", "approved");
    let t = now();
    let digest = support::hmac_hex(SECRET, &t.to_string(), &body);
    let cases = [
        ("".to_owned(), "it is empty"),
        ("garbage".to_owned(), "not of the form `key=value`"),
        (format!("t=soon,v1={digest}"), "not unix seconds"),
        (format!("t={t}"), "no `v1=` signature"),
        (format!("v1={digest}"), "no `t=` timestamp"),
        (format!("t={t},v1={}", &digest[..63]), "odd number of hex digits"),
        (format!("t={t},v1={}", &digest[..62]), "62 hex digits"),
        (format!("t={t},t={t},v1={digest}"), "second `t=` timestamp"),
    ];
    for (value, problem) in cases {
        let answer = receiver.post(&[(SIGNATURE_HEADER, &value)], body.clone()).await;
        answer.assert_refused(401, "malformed `x-truemed-signature` header");
        assert!(answer.text.contains(problem), "{value:?}: {answer:?}");
        assert!(!answer.text.contains(&digest[..62]), "{answer:?}");
    }

    // Bytes that are not visible ASCII, sent raw.
    let mut request = receiver.raw_head(&[format!("content-length: {}", body.len())]);
    let at = request.len() - 2; // before the blank line
    let mut line = format!("{SIGNATURE_HEADER}: t={t},v1=").into_bytes();
    line.extend_from_slice(b"\xff\xfe\r\n");
    request.splice(at..at, line);
    request.extend_from_slice(&body);
    let answer = receiver.exchange(&request).await;
    answer.assert_begins(401, "malformed `x-truemed-signature` header");
    assert!(receiver.seen().is_empty());
}

#[tokio::test]
async fn a_repeated_signature_header_is_refused_even_when_each_copy_is_valid() {
    let receiver = Receiver::start(signed_config()).await;
    let body = complete_body("whd_d", "qs_d", "approved");
    let signature = signature_value(SECRET, now(), &body);
    receiver
        .post(&[(SIGNATURE_HEADER, &signature), (SIGNATURE_HEADER, &signature)], body)
        .await
        .assert_refused(
            401,
            "malformed `x-truemed-signature` header: it appears 2 times instead of once",
        );
    assert!(receiver.seen().is_empty());
}

#[tokio::test]
async fn an_authentic_body_that_is_not_a_delivery_is_refused_with_400() {
    let receiver = Receiver::start(signed_config()).await;
    let bodies: [&[u8]; 6] = [
        b"ada.lovelace@example.com is not JSON",
        b"\xff\xfe\x00 binary",
        br#"["ada.lovelace@example.com"]"#,
        br#"{"ada.lovelace@example.com": 1}"#,
        br#"{"webhook_delivery_id":"whd_x","event_type":"qualification_session.complete","data":{"status":"approved","email":"ada.lovelace@example.com"}}"#,
        br#"{"webhook_delivery_id":"whd_x","event_type":"qualification_session.complete","data":{"qualification_session_id":"qs_1","status":"approved","user_id":5551234567}}"#,
    ];
    for body in bodies {
        let answer = receiver.post_signed(SECRET, body.to_vec()).await;
        answer.assert_refused(400, "body is not a Truemed webhook delivery");
        assert!(!answer.text.contains("5551234567"), "{answer:?}");
    }
    assert!(receiver.seen().is_empty());
}

#[test]
fn the_defaults_and_the_kinds_are_as_documented() {
    assert_eq!(DEFAULT_BODY_LIMIT, 64 * 1024);
    assert_eq!(signed_config().body_limit(), DEFAULT_BODY_LIMIT);
    assert_eq!(WebhookRejectionKind::Unauthenticated.status(), StatusCode::UNAUTHORIZED);
    let rejection = WebhookRejection::from(WebhookError::NoValidSignature);
    assert_eq!(rejection.kind(), WebhookRejectionKind::Unauthenticated);
    assert_eq!(rejection.kind().as_str(), "unauthenticated");
}
