//! Webhook deliveries: when a session becomes `approved` or `rejected`, the fake POSTs
//! `qualification_session_complete` to the configured receiver, signed or unsigned, the way
//! [`truemed_ext::webhook`] expects, retrying with a compressed backoff until a 2xx, and records
//! every attempt in a ledger. [`WebhookTarget::send_once`] is one such attempt on its own
//! (what `truemed-fake trigger` does).

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use truemed_ext::webhook::{
    SignatureHeader, WebhookEvent, QUALIFICATION_SESSION_COMPLETE, SIGNATURE_HEADER,
};
use truemed_ext::API_KEY_HEADER;
use truemed_ext::{QualificationSession, QualificationSessionCompleteWebhook};

use crate::limits::{
    DEFAULT_WEBHOOK_ATTEMPTS, DEFAULT_WEBHOOK_BACKOFF, DEFAULT_WEBHOOK_TIMEOUT,
    MAX_WEBHOOK_ATTEMPTS, MAX_WEBHOOK_BACKOFF, MIN_WEBHOOK_TIMEOUT,
};
use crate::lock::lock;

/// How much of a receiver's answer an attempt keeps, in bytes.
pub const RESPONSE_SNIPPET_BYTES: usize = 2048;

/// Where completion webhooks go, and how they are authenticated.
///
/// Its `Debug` output redacts the secret.
///
/// ```
/// use truemed_fake::WebhookTarget;
///
/// let signed = WebhookTarget::signed("http://127.0.0.1:3000/hooks/truemed", "whsec_test");
/// assert!(signed.is_signed());
/// assert!(!format!("{signed:?}").contains("whsec_test"));
/// let unsigned = WebhookTarget::unsigned("http://127.0.0.1:3000/hooks/truemed", "shared");
/// assert_eq!(unsigned.url(), "http://127.0.0.1:3000/hooks/truemed");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    url: String,
    secret: String,
    signed: bool,
}

impl fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("secret", &"[redacted]")
            .field("signed", &self.signed)
            .finish()
    }
}

impl WebhookTarget {
    /// Signed deliveries to `url`: a JSON envelope (`webhook_delivery_id`, `event_type`,
    /// `data`) with an `x-truemed-signature` made with `secret`, as
    /// [`WebhookVerifier::verify_signed`](truemed_ext::webhook::WebhookVerifier::verify_signed)
    /// checks them.
    pub fn signed(url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self { url: url.into(), secret: secret.into(), signed: true }
    }

    /// Unsigned deliveries to `url`: the flat payload with `secret` in the
    /// `x-truemed-api-key` header, as
    /// [`WebhookVerifier::verify_unsigned`](truemed_ext::webhook::WebhookVerifier::verify_unsigned)
    /// checks them.
    pub fn unsigned(url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self { url: url.into(), secret: secret.into(), signed: false }
    }

    /// The receiver's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether deliveries are signed.
    pub fn is_signed(&self) -> bool {
        self.signed
    }

    /// Sends one delivery of `payload` with this id, once, with no retry, and reports what
    /// happened: the receiver's status and the start of its answer, or why there was none.
    /// A signed delivery is signed now.
    ///
    /// This is what the fake does for each attempt, and what `truemed-fake trigger` does.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// use std::time::Duration;
    /// use truemed_fake::WebhookTarget;
    /// use truemed_ext::{QualificationSessionCompleteWebhook, Status};
    ///
    /// let payload = QualificationSessionCompleteWebhook {
    ///     qualification_session_id: "qs_123".into(),
    ///     status: Status::Approved,
    ///     email: None,
    ///     expires_at: None,
    ///     source: None,
    ///     user_id: Some("user_42".into()),
    /// };
    /// let target = WebhookTarget::signed("http://127.0.0.1:3000/hooks/truemed", "whsec_test");
    /// let attempt = target.send_once("whd_1", &payload, Duration::from_secs(5)).await;
    /// assert!(attempt.is_success(), "{attempt:?}");
    /// # }
    /// ```
    pub async fn send_once(
        &self,
        webhook_delivery_id: &str,
        payload: &QualificationSessionCompleteWebhook,
        timeout: Duration,
    ) -> DeliveryAttempt {
        let http = match http_client() {
            Ok(http) => http,
            Err(error) => {
                return DeliveryAttempt::failed(1, Utc::now(), Duration::ZERO, error);
            }
        };
        attempt(&http, self, webhook_delivery_id, payload, 1, timeout).await
    }
}

/// How a delivery is retried: up to [`max_attempts`](Self::max_attempts) attempts until one
/// gets a 2xx, waiting [`initial_backoff`](Self::initial_backoff) before the second and
/// twice as long before each next one (at most [`MAX_WEBHOOK_BACKOFF`](crate::MAX_WEBHOOK_BACKOFF)): Truemed's retries, compressed in
/// time.
///
/// ```
/// use std::time::Duration;
/// use truemed_fake::WebhookRetries;
///
/// let retries = WebhookRetries::default()
///     .with_max_attempts(3)
///     .with_initial_backoff(Duration::from_millis(10))
///     .with_attempt_timeout(Duration::from_secs(1));
/// assert_eq!(retries.max_attempts(), 3);
/// assert_eq!(retries.delay_before(2), Duration::from_millis(10));
/// assert_eq!(retries.delay_before(3), Duration::from_millis(20));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct WebhookRetries {
    attempts: u32,
    backoff: Duration,
    timeout: Duration,
}

impl Default for WebhookRetries {
    /// [`DEFAULT_WEBHOOK_ATTEMPTS`] attempts, [`DEFAULT_WEBHOOK_BACKOFF`] doubling,
    /// [`DEFAULT_WEBHOOK_TIMEOUT`] per attempt.
    fn default() -> Self {
        Self {
            attempts: DEFAULT_WEBHOOK_ATTEMPTS,
            backoff: DEFAULT_WEBHOOK_BACKOFF,
            timeout: DEFAULT_WEBHOOK_TIMEOUT,
        }
    }
}

impl WebhookRetries {
    /// At most this many attempts (1 for no retry; clamped to 1..=[`MAX_WEBHOOK_ATTEMPTS`]).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.clamp(1, MAX_WEBHOOK_ATTEMPTS);
        self
    }

    /// The wait before the second attempt; it doubles after each attempt.
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// How long one attempt may take (zero is taken as 1 ms).
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(MIN_WEBHOOK_TIMEOUT);
        self
    }

    /// The most attempts a delivery gets.
    pub fn max_attempts(&self) -> u32 {
        self.attempts
    }

    /// The wait before the second attempt.
    pub fn initial_backoff(&self) -> Duration {
        self.backoff
    }

    /// How long one attempt may take.
    pub fn attempt_timeout(&self) -> Duration {
        self.timeout
    }

    /// The wait before attempt `attempt` (counting from 1): none before the first,
    /// `backoff · 2^(attempt - 2)` before the others, at most [`MAX_WEBHOOK_BACKOFF`](crate::MAX_WEBHOOK_BACKOFF).
    pub fn delay_before(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let factor = 1u32 << (attempt - 2).min(20);
        self.backoff.saturating_mul(factor).min(MAX_WEBHOOK_BACKOFF)
    }
}

/// Where a [`WebhookDelivery`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliveryState {
    /// Attempts are still being made.
    Pending,
    /// An attempt got a 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
}

/// One attempt of a webhook delivery, and the answer it got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeliveryAttempt {
    /// Which attempt this was, counting from 1.
    pub attempt: u32,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// How long it took, until the answer was read or the attempt failed, in milliseconds.
    pub duration_ms: u64,
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// Why there was no answer (connection refused, timeout, ...), if there was none.
    pub error: Option<String>,
    /// The start of the receiver's answer (at most [`RESPONSE_SNIPPET_BYTES`] bytes, as
    /// UTF-8 with invalid bytes replaced), if it answered.
    pub response_body: Option<String>,
}

impl DeliveryAttempt {
    /// Whether the receiver answered with a 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_some_and(|status| (200..300).contains(&status))
    }

    fn failed(attempt: u32, sent_at: DateTime<Utc>, took: Duration, error: String) -> Self {
        Self {
            attempt,
            sent_at,
            duration_ms: millis(took),
            status: None,
            error: Some(error),
            response_body: None,
        }
    }
}

/// One completion the fake announced (or is announcing) to the webhook receiver, with every
/// attempt made.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct WebhookDelivery {
    /// The delivery's id (`whd_…`), the same on every attempt: the receiver's idempotency
    /// key.
    pub webhook_delivery_id: String,
    /// The event type of the signed envelope (`qualification_session.complete`).
    pub event_type: String,
    /// The session that completed.
    pub qualification_session_id: String,
    /// The receiver's URL.
    pub url: String,
    /// Whether the delivery is signed.
    pub signed: bool,
    /// Where the delivery is.
    pub state: DeliveryState,
    /// When the session completed (and the delivery was queued).
    pub created_at: DateTime<Utc>,
    /// What is delivered: the flat payload (the envelope's `data` when signed).
    pub payload: QualificationSessionCompleteWebhook,
    /// The attempts made so far, in order.
    pub attempts: Vec<DeliveryAttempt>,
}

/// The receiver and the retries, as configured now.
#[derive(Debug, Default)]
struct Config {
    target: Option<WebhookTarget>,
    retries: WebhookRetries,
}

/// Every delivery; `generation` changes on reset, so that deliveries of before are not
/// recorded into the new ledger.
#[derive(Debug, Default)]
struct Ledger {
    generation: u64,
    deliveries: Vec<WebhookDelivery>,
}

/// The webhook configuration, the delivery ledger and the deliveries in flight.
#[derive(Debug, Default)]
pub(crate) struct Webhooks {
    config: Mutex<Config>,
    http: OnceLock<reqwest::Client>,
    ledger: Mutex<Ledger>,
    /// The tasks delivering, to stop them on reset and when the fake stops.
    tasks: Mutex<Tasks>,
    /// How many deliveries are not finished yet (see [`InFlight`]).
    in_flight: Arc<watch::Sender<usize>>,
}

/// The tasks delivering, and whether the fake has stopped (then no delivery starts).
#[derive(Debug, Default)]
struct Tasks {
    running: Vec<JoinHandle<()>>,
    closed: bool,
}

/// Counts a delivery in flight from when it is recorded until it is dropped: finished, or
/// its task stopped.
struct InFlight(Arc<watch::Sender<usize>>);

impl InFlight {
    fn new(count: &Arc<watch::Sender<usize>>) -> Self {
        count.send_modify(|n| *n += 1);
        Self(Arc::clone(count))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A delivery recorded in the ledger, ready to run.
pub(crate) struct Prepared {
    http: reqwest::Client,
    generation: u64,
    target: WebhookTarget,
    retries: WebhookRetries,
    pub(crate) id: String,
    payload: QualificationSessionCompleteWebhook,
    _in_flight: InFlight,
}

/// A delivery whose attempts are over, to be marked delivered or failed.
pub(crate) struct Finished {
    generation: u64,
    id: String,
    delivered: bool,
    _in_flight: InFlight,
}

/// The payload announcing that `session` completed.
pub(crate) fn payload_for(session: &QualificationSession) -> QualificationSessionCompleteWebhook {
    QualificationSessionCompleteWebhook {
        email: session.email.clone(),
        expires_at: session.expires_at,
        qualification_session_id: session.qualification_session_id.clone(),
        source: session.source.clone(),
        status: session.status.clone(),
        user_id: session.user_id.clone(),
    }
}

/// A new delivery id.
pub(crate) fn new_delivery_id() -> String {
    format!("whd_{}", uuid::Uuid::new_v4().simple())
}

impl Webhooks {
    pub(crate) fn new(target: Option<WebhookTarget>, retries: WebhookRetries) -> Self {
        Self { config: Mutex::new(Config { target, retries }), ..Self::default() }
    }

    pub(crate) fn target(&self) -> Option<WebhookTarget> {
        lock(&self.config).target.clone()
    }

    pub(crate) fn set_target(&self, target: Option<WebhookTarget>) {
        lock(&self.config).target = target;
    }

    pub(crate) fn retries(&self) -> WebhookRetries {
        lock(&self.config).retries
    }

    pub(crate) fn set_retries(&self, retries: WebhookRetries) {
        lock(&self.config).retries = retries;
    }

    /// The receiver and the retries, read together.
    pub(crate) fn config(&self) -> (Option<WebhookTarget>, WebhookRetries) {
        let config = lock(&self.config);
        (config.target.clone(), config.retries)
    }

    /// Changes the receiver and the retries in one locked operation; returns them as
    /// `change` left them.
    pub(crate) fn configure(
        &self,
        change: impl FnOnce(&mut Option<WebhookTarget>, &mut WebhookRetries),
    ) -> (Option<WebhookTarget>, WebhookRetries) {
        let mut config = lock(&self.config);
        let Config { target, retries } = &mut *config;
        change(target, retries);
        (target.clone(), *retries)
    }

    /// Records a pending delivery announcing that `session` completed, if a receiver is
    /// configured and the fake has not stopped ([`close`](Self::close)).
    pub(crate) fn prepare(&self, session: &QualificationSession) -> Option<Prepared> {
        if lock(&self.tasks).closed {
            return None;
        }
        let (target, retries) = {
            let config = lock(&self.config);
            (config.target.clone()?, config.retries)
        };
        let http = match self.http.get() {
            Some(http) => http.clone(),
            None => match http_client() {
                Ok(http) => self.http.get_or_init(|| http).clone(),
                Err(error) => {
                    tracing::warn!(%error, "fake Truemed: cannot deliver webhooks");
                    return None;
                }
            },
        };
        let payload = payload_for(session);
        let id = new_delivery_id();
        let mut ledger = lock(&self.ledger);
        ledger.deliveries.push(WebhookDelivery {
            webhook_delivery_id: id.clone(),
            event_type: QUALIFICATION_SESSION_COMPLETE.to_owned(),
            qualification_session_id: payload.qualification_session_id.clone(),
            url: target.url.clone(),
            signed: target.signed,
            state: DeliveryState::Pending,
            created_at: Utc::now(),
            payload: payload.clone(),
            attempts: Vec::new(),
        });
        Some(Prepared {
            http,
            generation: ledger.generation,
            target,
            retries,
            id,
            payload,
            _in_flight: InFlight::new(&self.in_flight),
        })
    }

    /// Runs `f` on the delivery `id` if it is still in this generation's ledger, while the
    /// ledger is locked.
    fn with_delivery(&self, generation: u64, id: &str, f: impl FnOnce(&mut WebhookDelivery)) {
        let mut ledger = lock(&self.ledger);
        if ledger.generation != generation {
            return;
        }
        if let Some(delivery) =
            ledger.deliveries.iter_mut().rev().find(|d| d.webhook_delivery_id == id)
        {
            f(delivery);
        }
    }

    /// Sends `prepared`, attempt after attempt, recording each; returns the outcome, for
    /// [`finish`](Self::finish). Still counted in flight until then.
    pub(crate) async fn run(&self, prepared: Prepared) -> Finished {
        let Prepared { http, generation, target, retries, id, payload, _in_flight } = prepared;
        let mut delivered = false;
        for number in 1..=retries.max_attempts() {
            let wait = retries.delay_before(number);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            let attempt = attempt(&http, &target, &id, &payload, number, retries.timeout).await;
            delivered = attempt.is_success();
            if !delivered {
                tracing::debug!(?attempt, "fake Truemed: webhook attempt failed");
            }
            self.with_delivery(generation, &id, |delivery| delivery.attempts.push(attempt));
            if delivered {
                break;
            }
        }
        Finished { generation, id, delivered, _in_flight }
    }

    /// Marks a delivery that [`run`](Self::run) finished as delivered or failed and, if it
    /// is still in the ledger (no reset since), calls `count` with the outcome while the
    /// ledger is locked. Then it is no longer in flight.
    pub(crate) fn finish(&self, finished: Finished, count: impl FnOnce(bool)) {
        let delivered = finished.delivered;
        self.with_delivery(finished.generation, &finished.id, |delivery| {
            delivery.state =
                if delivered { DeliveryState::Delivered } else { DeliveryState::Failed };
            count(delivered);
        });
    }

    /// Every delivery, oldest first.
    pub(crate) fn deliveries(&self) -> Vec<WebhookDelivery> {
        lock(&self.ledger).deliveries.clone()
    }

    /// `f` of every delivery, oldest first, while the ledger is locked.
    pub(crate) fn with_deliveries<R>(&self, f: impl FnOnce(&[WebhookDelivery]) -> R) -> R {
        f(&lock(&self.ledger).deliveries)
    }

    /// One delivery.
    pub(crate) fn delivery(&self, id: &str) -> Option<WebhookDelivery> {
        lock(&self.ledger).deliveries.iter().find(|d| d.webhook_delivery_id == id).cloned()
    }

    /// Keeps `task`, to stop it on reset or close (and forgets finished ones); after
    /// [`close`](Self::close), stops it at once.
    pub(crate) fn track(&self, task: JoinHandle<()>) {
        let mut tasks = lock(&self.tasks);
        if tasks.closed {
            task.abort();
            return;
        }
        tasks.running.retain(|task| !task.is_finished());
        tasks.running.push(task);
    }

    /// Waits until no delivery is in flight (each delivered or given up). Cancel-safe: a
    /// flush that is dropped (e.g. by a timeout) leaves the deliveries running.
    pub(crate) async fn flush(&self) {
        let mut count = self.in_flight.subscribe();
        let _ = count.wait_for(|n| *n == 0).await;
    }

    /// Forgets every delivery and stops those in flight; the configuration is kept.
    pub(crate) fn reset(&self) {
        for task in std::mem::take(&mut lock(&self.tasks).running) {
            task.abort();
        }
        let mut ledger = lock(&self.ledger);
        ledger.generation += 1;
        ledger.deliveries.clear();
    }

    /// Stops every delivery in flight, with its retries, and starts none from now on: the
    /// fake has stopped. The ledger is kept.
    pub(crate) fn close(&self) {
        let running = {
            let mut tasks = lock(&self.tasks);
            tasks.closed = true;
            std::mem::take(&mut tasks.running)
        };
        for task in running {
            task.abort();
        }
    }
}

/// The HTTP client of deliveries: no redirects followed (a 3xx is an answer like another).
fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| format!("cannot build an HTTP client: {}", error_chain(&error)))
}

/// Sends one attempt of a delivery. Redeliveries are signed afresh but keep the delivery
/// id, as Truemed's do.
async fn attempt(
    http: &reqwest::Client,
    target: &WebhookTarget,
    delivery_id: &str,
    payload: &QualificationSessionCompleteWebhook,
    number: u32,
    timeout: Duration,
) -> DeliveryAttempt {
    let sent_at = Utc::now();
    let started = Instant::now();
    let (body, headers) = if target.signed {
        let body = envelope_body(delivery_id, payload);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let signature = SignatureHeader::sign(&target.secret, now, &body).to_string();
        let mut headers = json_headers();
        // A formatted signature header is ASCII digits, letters, `=` and `,`: always valid.
        if let Ok(value) = HeaderValue::from_str(&signature) {
            headers.insert(SIGNATURE_HEADER, value);
        }
        (body, headers)
    } else {
        let body = serde_json::to_vec(payload).unwrap_or_default();
        match HeaderValue::from_str(&target.secret) {
            Ok(mut value) => {
                value.set_sensitive(true);
                let mut headers = json_headers();
                headers.insert(API_KEY_HEADER, value);
                (body, headers)
            }
            Err(_) => {
                return DeliveryAttempt::failed(
                    number,
                    sent_at,
                    started.elapsed(),
                    "the webhook secret is not a valid header value, so it cannot be sent in x-truemed-api-key".into(),
                )
            }
        }
    };
    let sent = http.post(&target.url).headers(headers).timeout(timeout).body(body).send().await;
    let mut response = match sent {
        Ok(response) => response,
        Err(error) => {
            let error = describe(&error, timeout);
            return DeliveryAttempt::failed(number, sent_at, started.elapsed(), error);
        }
    };
    let status = response.status().as_u16();
    let mut snippet = Vec::new();
    // The status came; a body cut short is kept as far as it went.
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = RESPONSE_SNIPPET_BYTES - snippet.len();
        snippet.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if snippet.len() >= RESPONSE_SNIPPET_BYTES {
            break;
        }
    }
    DeliveryAttempt {
        attempt: number,
        sent_at,
        duration_ms: millis(started.elapsed()),
        status: Some(status),
        error: None,
        response_body: Some(String::from_utf8_lossy(&snippet).into_owned()),
    }
}

/// The body of a signed delivery: the `qualification_session.complete` envelope of
/// `payload`, as Truemed sends it.
fn envelope_body(delivery_id: &str, payload: &QualificationSessionCompleteWebhook) -> Vec<u8> {
    let event = WebhookEvent::QualificationSessionComplete(payload.clone());
    serde_json::to_vec(&event.to_envelope(delivery_id)).unwrap_or_default()
}

/// `content-type: application/json`, the header every delivery has.
fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers
}

/// What went wrong, with its causes.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {} ms (timed out)", millis(timeout));
    }
    let kind = if error.is_connect() {
        "cannot connect"
    } else if error.is_builder() {
        "cannot send to this URL"
    } else {
        "the request failed"
    };
    format!("{kind}: {}", error_chain(error))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let retries = WebhookRetries::default();
        assert_eq!(retries.delay_before(1), Duration::ZERO);
        assert_eq!(retries.delay_before(2), Duration::from_millis(50));
        assert_eq!(retries.delay_before(5), Duration::from_millis(400));
        let slow =
            retries.with_initial_backoff(Duration::from_secs(50)).with_max_attempts(u32::MAX);
        assert_eq!(slow.max_attempts(), MAX_WEBHOOK_ATTEMPTS);
        assert_eq!(slow.delay_before(MAX_WEBHOOK_ATTEMPTS), MAX_WEBHOOK_BACKOFF);
        assert_eq!(retries.with_max_attempts(0).max_attempts(), 1);
    }
}
