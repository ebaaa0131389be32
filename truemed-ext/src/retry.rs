//! Retries: which failures are retried and why ([`classify`], the one home of the rule),
//! how long to wait ([`RetryPolicy`]), what a retry costs ([`RetryBudget`]), how to wait
//! ([`Sleeper`]), and the loop that runs a call's attempts ([`run`]).
//!
//! The shape follows smithy-rs (the AWS SDK's runtime): a classifier gives a
//! [`RetryAction`] with its reason, and everything else reads the reason, so
//! [`Error::is_retryable`], the policy and the budget's cost (a timeout costs more) cannot
//! disagree. Changing what is retried is one arm of [`classify`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument as _;
use truemed_api::Spawned;

use crate::api_error::{ApiError, ApiErrorKind};
use crate::error::Error;
use crate::idempotency::IdempotencyKey;
use crate::telemetry::{Exchange, Telemetry};

/// What to do after a failed attempt, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetryAction {
    /// Sending the same request again may succeed.
    Retry(RetryReason),
    /// It would fail the same way, or cannot be sent again.
    Stop(StopReason),
}

/// Why a failure is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetryReason {
    /// No complete response within the timeout: the server may be slow or overloaded, so
    /// the retry costs more of the budget.
    Timeout,
    /// The connection could not be opened, or broke before a complete response.
    Connection,
    /// A 409 other than `user_id_already_set`: another request with the same
    /// idempotency key is in progress; the same key makes the retry safe.
    InProgress,
    /// A 429 that is not a quota exhausted.
    Throttled,
    /// A 500, 502, 503 or 504: Truemed or a proxy failed for now.
    ServerError,
    /// A 408: the server gave up waiting for the request.
    RequestTimeout,
    /// A status outside the classes the API uses (a final 1xx, 600-999): like a 502,
    /// something in between failed, and the update's idempotency key makes the retry safe.
    UnexpectedStatus,
}

/// Why a failure is not retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// The tokio runtime shut down: no attempt can run.
    RuntimeShutDown,
    /// Refused before sending (an invalid request, a configuration): it would be refused
    /// again.
    NotSent,
    /// A 4xx or a 501: the server refused the request as it stands.
    Refused,
    /// A 429 whose body says a quota is exhausted: waiting a few seconds does not help.
    QuotaExhausted,
    /// A redirect, never followed.
    Redirect,
    /// A 5xx the API does not answer for passing failures (505, 507, 511...).
    NotTransient,
    /// A success whose body cannot be decoded: it would decode no better again.
    Undecodable,
    /// A listing that misbehaved (a repeated page...): its error is not a request's.
    ListingMisbehaved,
}

/// Whether, and why, the request that failed with `error` is sent again: the one place
/// the rule lives, in priority order (the first arm that matches decides).
pub(crate) fn classify(error: &Error) -> RetryAction {
    use RetryAction::{Retry, Stop};
    match error {
        Error::Connection(transport) if transport.is_runtime_shutdown() => {
            Stop(StopReason::RuntimeShutDown)
        }
        Error::Timeout(_) => Retry(RetryReason::Timeout),
        Error::Connection(_) => Retry(RetryReason::Connection),
        Error::Api(answer) => classify_answer(answer),
        Error::UndecodableResponse(_) => Stop(StopReason::Undecodable),
        Error::InvalidRequest(_) | Error::Configuration(_) => Stop(StopReason::NotSent),
        Error::Pagination(_) => Stop(StopReason::ListingMisbehaved),
    }
}

/// [`classify`] for an error answer, by its kind, then its status.
fn classify_answer(answer: &ApiError) -> RetryAction {
    use RetryAction::{Retry, Stop};
    let status = answer.status();
    match answer.kind() {
        ApiErrorKind::Conflict => Retry(RetryReason::InProgress),
        ApiErrorKind::RateLimited if says_quota_exhausted(answer) => {
            Stop(StopReason::QuotaExhausted)
        }
        ApiErrorKind::RateLimited => Retry(RetryReason::Throttled),
        ApiErrorKind::Server if matches!(status.as_u16(), 500 | 502 | 503 | 504) => {
            Retry(RetryReason::ServerError)
        }
        ApiErrorKind::Server => Stop(StopReason::NotTransient),
        ApiErrorKind::UnexpectedStatus if status.as_u16() == 408 => {
            Retry(RetryReason::RequestTimeout)
        }
        ApiErrorKind::UnexpectedStatus if !status.is_client_error() => {
            Retry(RetryReason::UnexpectedStatus)
        }
        ApiErrorKind::Redirect => Stop(StopReason::Redirect),
        _ => Stop(StopReason::Refused),
    }
}

/// Whether a 429's body says a quota is exhausted (its `error` or `code` names one).
fn says_quota_exhausted(answer: &ApiError) -> bool {
    [answer.code(), answer.error_field()]
        .into_iter()
        .flatten()
        .any(|code| code.to_ascii_lowercase().contains("quota"))
}

impl Error {
    /// Whether sending the same request again may succeed: connection failures, timeouts,
    /// 408, 409 other than `user_id_already_set`, 429 (unless the body says a quota is
    /// exhausted), 500, 502, 503 and 504, and a status outside the classes the API uses
    /// (a final 1xx, 600-999: like a 502, something in between failed, and the update's
    /// idempotency key makes the retry safe). Never another 4xx, 501 or 5xx, a redirect,
    /// an undecodable success, a request refused before sending, nor a runtime that shut
    /// down under the call ([`TransportError::is_runtime_shutdown`](crate::TransportError::is_runtime_shutdown)).
    pub fn is_retryable(&self) -> bool {
        matches!(classify(self), RetryAction::Retry(_))
    }
}

/// How a call is retried.
///
/// Retried: connection failures, timeouts, 408, 409 other than `user_id_already_set`,
/// 429, 500, 502, 503, 504, and a status outside the classes the API uses (a final 1xx,
/// 600-999) (see [`Error::is_retryable`]). Never another 4xx or 5xx, a redirect, an
/// undecodable response, nor a call whose tokio runtime shut down. The wait before retry
/// `n` (from 0) is `initial_backoff × 2ⁿ`, capped at `max_backoff`, times a random factor
/// in `[1 - jitter, 1]`; a `Retry-After` from the server (on any status) replaces it.
/// Every wait saturates instead of overflowing: any setting up to `Duration::MAX` is
/// accepted, and a wait that would exceed it is `Duration::MAX`.
///
/// A `Retry-After` longer than `max_retry_after` is not waited out: the call returns at
/// once with the error as received (a 429 and a 503 alike), whose
/// [`Error::retry_after`] is the server's wait.
///
/// Retries also draw on the client's [`RetryBudget`], so a sustained outage does not
/// multiply traffic.
///
/// The default (2 retries, 0.5 s doubling to at most 8 s, jitter 0.25, `Retry-After` up to
/// 60 s) matches the best SDKs. Updates are always retried safely: each call sends one
/// idempotency key on every attempt. Each setting is set with `with_x(value)` and read
/// with `x()`.
///
/// ```
/// use std::time::Duration;
/// use truemed_ext::RetryPolicy;
///
/// let patient = RetryPolicy::default()
///     .with_max_retries(5)
///     .with_max_backoff(Duration::from_secs(20));
/// assert_eq!(patient.max_retries(), 5);
/// assert_eq!(RetryPolicy::none().max_retries(), 0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
    jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            jitter: 0.25,
        }
    }
}

impl RetryPolicy {
    /// No retries: every call makes exactly one attempt.
    pub fn none() -> Self {
        Self::default().with_max_retries(0)
    }

    /// How many times a failed attempt is retried (attempts = retries + 1; default 2).
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The wait before the first retry; each later wait doubles (default 0.5 s).
    pub fn with_initial_backoff(mut self, wait: Duration) -> Self {
        self.initial_backoff = wait;
        self
    }

    /// The longest computed wait between attempts (default 8 s).
    pub fn with_max_backoff(mut self, wait: Duration) -> Self {
        self.max_backoff = wait;
        self
    }

    /// The longest server `Retry-After` the client waits out (default 60 s); a longer one
    /// ends the call at once with the error as received (a 429 and a 503 alike), carrying
    /// the server's wait.
    pub fn with_max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait;
        self
    }

    /// The share of each wait that is random, from 0 (none) to 1 (full jitter; default
    /// 0.25); values outside are clamped, NaN is 0.
    pub fn with_jitter(mut self, share: f64) -> Self {
        self.jitter = if share.is_nan() { 0.0 } else { share.clamp(0.0, 1.0) };
        self
    }

    /// How many times a failed attempt is retried.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The wait before the first retry.
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The longest computed wait between attempts.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The longest server `Retry-After` the client waits out.
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// The share of each wait that is random, from 0 to 1.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// The computed wait before retry `retry` (from 0), before jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(31));
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// What to do after `error` on retry number `retry` (from 0): wait this long and
    /// retry, or give up (`None`).
    pub fn delay_after(&self, error: &Error, retry: u32) -> Option<Duration> {
        match classify(error) {
            RetryAction::Retry(_) => self.wait_before(error, retry),
            RetryAction::Stop(_) => None,
        }
    }

    /// The wait before retry `retry` (from 0) after a retryable `error`: the server's
    /// `Retry-After` if any, else the jittered backoff; `None` when the retries are spent
    /// or the server asked for longer than [`max_retry_after`](Self::max_retry_after).
    fn wait_before(&self, error: &Error, retry: u32) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        match error.retry_after() {
            Some(wait) if wait > self.max_retry_after => None,
            Some(wait) => Some(wait),
            None => Some(jittered(self.backoff(retry), self.jitter * unit_random())),
        }
    }
}

/// `base` less the share `cut` (in `[0, 1]`) of it, never more than `base` and never
/// panicking: any `base` up to `Duration::MAX` works, and a cut of 0 leaves it exact (a
/// float round trip would round it).
fn jittered(base: Duration, cut: f64) -> Duration {
    if cut <= 0.0 {
        return base;
    }
    let removed = Duration::try_from_secs_f64(base.as_secs_f64() * cut.min(1.0)).unwrap_or(base);
    base.saturating_sub(removed)
}

/// Whole milliseconds of `duration` for a log field, saturating at `u64::MAX`.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A per-client budget of retries, on by default, so that under a sustained outage a busy
/// service stops multiplying its traffic (the AWS SDK's standard retry mode).
///
/// The client holds a bucket of tokens, full at the start. Each retry takes
/// [`retry_cost`](Self::retry_cost) tokens (after a timeout,
/// [`timeout_retry_cost`](Self::timeout_retry_cost)); a call that succeeds without
/// retrying returns one token, and a call that succeeds after retrying returns what its
/// last retry took. When the bucket cannot pay for a retry, the call returns its retryable
/// error at once. Defaults: 500 tokens, 5 per retry, 10 per retry after a timeout: 100
/// retries in a row with no success in between, after which each call makes one attempt
/// until successes refill the bucket. Clones of a client share its bucket. Each setting is
/// set with `with_x(value)` and read with `x()`.
///
/// ```
/// use truemed_ext::{Client, RetryBudget};
///
/// let client = Client::builder()
///     .api_key("sk_test_123")
///     .retry_budget(RetryBudget::default().with_capacity(1_000))
///     .build()?;
/// assert_eq!(client.retry_budget_available(), Some(1_000));
/// let unlimited = Client::builder().api_key("k").retry_budget(RetryBudget::unlimited()).build()?;
/// assert_eq!(unlimited.retry_budget_available(), None);
/// assert_eq!(RetryBudget::unlimited().capacity(), None);
/// # Ok::<(), truemed_ext::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryBudget {
    capacity: Option<u32>,
    retry_cost: u32,
    timeout_retry_cost: u32,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self { capacity: Some(500), retry_cost: 5, timeout_retry_cost: 10 }
    }
}

impl RetryBudget {
    /// No budget: every retry the [`RetryPolicy`] allows is made.
    pub fn unlimited() -> Self {
        Self { capacity: None, ..Self::default() }
    }

    /// The tokens in a full bucket (default 500).
    pub fn with_capacity(mut self, tokens: u32) -> Self {
        self.capacity = Some(tokens);
        self
    }

    /// The tokens a retry takes (default 5).
    pub fn with_retry_cost(mut self, tokens: u32) -> Self {
        self.retry_cost = tokens;
        self
    }

    /// The tokens a retry after a timeout takes (default 10).
    pub fn with_timeout_retry_cost(mut self, tokens: u32) -> Self {
        self.timeout_retry_cost = tokens;
        self
    }

    /// The tokens in a full bucket; `None` for [`unlimited`](Self::unlimited).
    pub fn capacity(&self) -> Option<u32> {
        self.capacity
    }

    /// The tokens a retry takes.
    pub fn retry_cost(&self) -> u32 {
        self.retry_cost
    }

    /// The tokens a retry after a timeout takes.
    pub fn timeout_retry_cost(&self) -> u32 {
        self.timeout_retry_cost
    }

    /// What a retry for `reason` takes.
    fn cost(&self, reason: RetryReason) -> u32 {
        match reason {
            RetryReason::Timeout => self.timeout_retry_cost,
            _ => self.retry_cost,
        }
    }
}

/// A client's bucket of retry tokens (see [`RetryBudget`]).
#[derive(Debug)]
pub(crate) struct TokenBucket {
    budget: RetryBudget,
    tokens: AtomicU32,
}

impl TokenBucket {
    pub(crate) fn new(budget: RetryBudget) -> Self {
        let tokens = AtomicU32::new(budget.capacity.unwrap_or(0));
        Self { budget, tokens }
    }

    /// The tokens left, or `None` without a budget.
    pub(crate) fn available(&self) -> Option<u32> {
        self.budget.capacity.map(|_| self.tokens.load(Ordering::Relaxed))
    }

    /// Takes the cost of a retry for `reason`: the tokens taken, or `None` when the
    /// bucket cannot pay.
    fn withdraw(&self, reason: RetryReason) -> Option<u32> {
        if self.budget.capacity.is_none() {
            return Some(0);
        }
        let cost = self.budget.cost(reason);
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tokens| tokens.checked_sub(cost))
            .ok()
            .map(|_| cost)
    }

    /// Returns tokens after a success, never above the capacity. A full bucket, the usual
    /// case, is only read: a write per call would move the counter's cache line between
    /// the cores of every call in flight.
    fn deposit(&self, tokens: u32) {
        if let Some(capacity) = self.budget.capacity {
            let _ = self.tokens.fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                (current < capacity).then(|| current.saturating_add(tokens).min(capacity))
            });
        }
    }
}

/// A random number in `[0, 1)`.
fn unit_random() -> f64 {
    let bits = u64::from_le_bytes(crate::idempotency::random_bytes::<8>());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Waits between attempts. The default is `tokio::time::sleep`; tests can install one that
/// records the waits and returns at once (like the AWS SDK's `AsyncSleep`).
///
/// Each wait runs in a task of its own on the tokio runtime: if the runtime shuts down
/// meanwhile, the call ends with [`Error::Connection`] (its
/// [`TransportError::is_runtime_shutdown`](crate::TransportError::is_runtime_shutdown)),
/// as when a request is in flight.
#[derive(Clone)]
pub struct Sleeper(Arc<dyn Fn(Duration) -> SleepFuture + Send + Sync>);

impl Sleeper {
    /// `tokio::time::sleep`.
    pub fn tokio() -> Self {
        Self::from_fn(|wait| Box::pin(tokio::time::sleep(wait)))
    }

    /// Waits with your function.
    pub fn from_fn(sleep: impl Fn(Duration) -> SleepFuture + Send + Sync + 'static) -> Self {
        Self(Arc::new(sleep))
    }

    /// Waits `wait`.
    pub fn sleep(&self, wait: Duration) -> SleepFuture {
        (self.0)(wait)
    }
}

impl Default for Sleeper {
    fn default() -> Self {
        Self::tokio()
    }
}

impl fmt::Debug for Sleeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sleeper(..)")
    }
}

/// What one call brings to [`run`]: its operation, policy, the client's budget, sleeper
/// and telemetry, and the idempotency key it sends, if any.
pub(crate) struct Call<'a> {
    pub(crate) operation: crate::operation::Operation,
    pub(crate) telemetry: &'a Telemetry,
    pub(crate) policy: &'a RetryPolicy,
    pub(crate) budget: &'a TokenBucket,
    pub(crate) sleeper: &'a Sleeper,
    pub(crate) idempotency_key: Option<&'a IdempotencyKey>,
}

impl Call<'_> {
    /// After `error` on attempt `number` (from 1): how long to wait before the next
    /// attempt, its cost paid from the budget; `None` to give up.
    fn next_retry(
        &self,
        error: &Error,
        number: u32,
        attempt: &tracing::Span,
    ) -> Option<(Duration, u32)> {
        let RetryAction::Retry(reason) = classify(error) else {
            return None;
        };
        let wait = self.policy.wait_before(error, number - 1)?;
        let Some(cost) = self.budget.withdraw(reason) else {
            tracing::info!(
                parent: attempt,
                error = %error.kind_name(),
                "retry budget exhausted; not retrying"
            );
            return None;
        };
        tracing::info!(
            parent: attempt,
            error = %error.kind_name(),
            reason = ?reason,
            wait_ms = millis(wait),
            "retrying"
        );
        Some((wait, cost))
    }

    /// Waits `wait` with the client's sleeper, in a task of its own on the runtime (as the
    /// requests are): a runtime shutting down meanwhile ends the call with the error of a
    /// call whose request was in flight, instead of panicking in the caller's thread.
    async fn sleep(&self, wait: Duration) -> Result<(), Error> {
        Spawned::spawn(self.sleeper.sleep(wait)).await.map_err(Error::runtime_shut_down)
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the policy or the budget gives up,
/// in a span per call and a client span per attempt (see [`crate::telemetry`]). `attempt`
/// gets the attempt number (from 1) and gives its result with what its request saw. The
/// error returned carries the call's idempotency key and whether an earlier attempt may
/// have applied the request.
pub(crate) async fn run<T, F, Fut>(call: Call<'_>, mut attempt: F) -> Result<T, Error>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = (Result<T, Error>, Exchange)>,
{
    let call_span = call.telemetry.call_span(call.operation, call.idempotency_key);
    async {
        let mut number = 1;
        // Whether an attempt so far may have applied the request, and what the last
        // retry cost.
        let mut unresolved = false;
        let mut last_retry_cost = None;
        let outcome = loop {
            let (result, span) = attempt_in_span(&call, number, &mut attempt).await;
            let error = match result {
                Ok(value) => {
                    call.budget.deposit(last_retry_cost.unwrap_or(1));
                    break Ok(value);
                }
                Err(error) => error,
            };
            let Some((wait, cost)) = call.next_retry(&error, number, &span) else {
                break Err(error);
            };
            unresolved |= error.outcome_unknown();
            last_retry_cost = Some(cost);
            if let Err(shutdown) = call.sleep(wait).await {
                break Err(shutdown);
            }
            number += 1;
        };
        let outcome =
            outcome.map_err(|error| error.with_call_details(call.idempotency_key, unresolved));
        Telemetry::end_call(&tracing::Span::current(), &outcome, number);
        if let Err(error) = &outcome {
            tracing::warn!(
                error = %error.kind_name(),
                attempts = i64::from(number),
                "call failed"
            );
        }
        outcome
    }
    .instrument(call_span)
    .await
}

/// Makes attempt `number` in a client span of its own, which records how it went (and the
/// request's duration in the metric).
async fn attempt_in_span<T, F, Fut>(
    call: &Call<'_>,
    number: u32,
    attempt: &mut F,
) -> (Result<T, Error>, tracing::Span)
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = (Result<T, Error>, Exchange)>,
{
    let started = Instant::now();
    let span = call.telemetry.attempt_span(call.operation, number, call.idempotency_key);
    let (result, exchange) = attempt(number).instrument(span.clone()).await;
    call.telemetry.end_attempt(&span, call.operation, &result, &exchange, started.elapsed());
    (result, span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderName};
    use reqwest::StatusCode;

    fn answer(status: u16, headers: &[(&'static str, &str)], body: &str) -> Error {
        let headers: HeaderMap =
            headers.iter().map(|(k, v)| (HeaderName::from_static(k), v.parse().unwrap())).collect();
        Error::from_response(StatusCode::from_u16(status).unwrap(), &headers, body.as_bytes())
    }

    fn status_error(status: u16, headers: &[(&'static str, &str)]) -> Error {
        answer(status, headers, "")
    }

    /// A transport error of reqwest's own, from a connection to a port nothing listens on.
    async fn refused_connection() -> Error {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let error = reqwest::get(format!("http://{address}/")).await.unwrap_err();
        Error::from_transport(error)
    }

    /// The one rule, as a table: each case's action and its reason.
    #[tokio::test]
    async fn classify_gives_each_failure_one_action_and_reason() {
        use RetryAction::{Retry, Stop};
        let quota = r#"{"error":"QuotaExceeded"}"#;
        let quota_code = r#"{"error":"RateLimited","code":"monthly_quota"}"#;
        let already_set = r#"{"error":"user_id_already_set"}"#;
        let in_progress = r#"{"error":"Conflict","message":"in progress"}"#;
        for (status, body, action) in [
            (101, "", Retry(RetryReason::UnexpectedStatus)),
            (600, "", Retry(RetryReason::UnexpectedStatus)),
            (999, "", Retry(RetryReason::UnexpectedStatus)),
            (301, "", Stop(StopReason::Redirect)),
            (302, "", Stop(StopReason::Redirect)),
            (400, "", Stop(StopReason::Refused)),
            (401, "", Stop(StopReason::Refused)),
            (403, "", Stop(StopReason::Refused)),
            (404, "", Stop(StopReason::Refused)),
            (405, "", Stop(StopReason::Refused)),
            (408, "", Retry(RetryReason::RequestTimeout)),
            (408, already_set, Stop(StopReason::Refused)),
            (409, in_progress, Retry(RetryReason::InProgress)),
            (409, "", Retry(RetryReason::InProgress)),
            (409, already_set, Stop(StopReason::Refused)),
            (422, "", Stop(StopReason::Refused)),
            (429, "", Retry(RetryReason::Throttled)),
            (429, quota, Stop(StopReason::QuotaExhausted)),
            (429, quota_code, Stop(StopReason::QuotaExhausted)),
            (500, "", Retry(RetryReason::ServerError)),
            (501, "", Stop(StopReason::Refused)),
            (502, "<html>", Retry(RetryReason::ServerError)),
            (503, "", Retry(RetryReason::ServerError)),
            (503, already_set, Stop(StopReason::Refused)),
            (504, "", Retry(RetryReason::ServerError)),
            (505, "", Stop(StopReason::NotTransient)),
            (507, "", Stop(StopReason::NotTransient)),
        ] {
            let error = answer(status, &[], body);
            assert_eq!(classify(&error), action, "{status} {body}");
            assert_eq!(error.is_retryable(), matches!(action, Retry(_)), "{status} {body}");
        }
        let undecodable = answer(200, &[], "");
        assert_eq!(classify(&undecodable), Stop(StopReason::Undecodable));
        let refused = Error::from(crate::refusal::InvalidRequestReason::EmptyId);
        assert_eq!(classify(&refused), Stop(StopReason::NotSent));
        let configuration = Error::from(crate::refusal::ConfigurationReason::MissingApiKey);
        assert_eq!(classify(&configuration), Stop(StopReason::NotSent));
        let listing = Error::from(crate::refusal::PaginationErrorKind::RepeatedPage { page: 2 });
        assert_eq!(classify(&listing), Stop(StopReason::ListingMisbehaved));
        let shutdown = Error::runtime_shut_down(truemed_api::RuntimeShutDown::default());
        assert_eq!(classify(&shutdown), Stop(StopReason::RuntimeShutDown));
        assert!(!shutdown.is_retryable());
        let connection = refused_connection().await;
        assert!(matches!(connection, Error::Connection(_)), "{connection:?}");
        assert_eq!(classify(&connection), Retry(RetryReason::Connection));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(0), Duration::from_millis(500));
        assert_eq!(policy.backoff(1), Duration::from_secs(1));
        assert_eq!(policy.backoff(3), Duration::from_secs(4));
        assert_eq!(policy.backoff(4), Duration::from_secs(8));
        assert_eq!(policy.backoff(40), Duration::from_secs(8));
    }

    #[test]
    fn each_setting_reads_what_was_set() {
        let policy = RetryPolicy::default()
            .with_max_retries(7)
            .with_initial_backoff(Duration::from_millis(3))
            .with_max_backoff(Duration::from_secs(4))
            .with_max_retry_after(Duration::from_secs(5))
            .with_jitter(0.5);
        assert_eq!(policy.max_retries(), 7);
        assert_eq!(policy.initial_backoff(), Duration::from_millis(3));
        assert_eq!(policy.max_backoff(), Duration::from_secs(4));
        assert_eq!(policy.max_retry_after(), Duration::from_secs(5));
        assert_eq!(policy.jitter(), 0.5);
        let budget =
            RetryBudget::default().with_capacity(9).with_retry_cost(2).with_timeout_retry_cost(3);
        assert_eq!(budget.capacity(), Some(9));
        assert_eq!(budget.retry_cost(), 2);
        assert_eq!(budget.timeout_retry_cost(), 3);
    }

    #[test]
    fn jitter_stays_within_its_share() {
        let policy = RetryPolicy::default().with_max_retries(10);
        let error = status_error(503, &[]);
        for retry in 0..6 {
            let base = policy.backoff(retry);
            for _ in 0..100 {
                let wait = policy.delay_after(&error, retry).unwrap();
                assert!(
                    wait <= base && wait >= base.mul_f64(0.75),
                    "{retry}: {wait:?} vs {base:?}"
                );
            }
        }
        let no_jitter = policy.clone().with_jitter(0.0);
        assert_eq!(no_jitter.delay_after(&error, 2), Some(Duration::from_secs(2)));
    }

    #[test]
    fn gives_up_after_max_retries_and_on_non_retryable() {
        let policy = RetryPolicy::default();
        assert!(policy.delay_after(&status_error(503, &[]), 1).is_some());
        assert!(policy.delay_after(&status_error(503, &[]), 2).is_none());
        for status in [400, 401, 403, 404, 405, 422, 501, 302] {
            assert!(policy.delay_after(&status_error(status, &[]), 0).is_none(), "{status}");
        }
        for status in [408, 409, 429, 500, 502, 503, 504] {
            assert!(policy.delay_after(&status_error(status, &[]), 0).is_some(), "{status}");
        }
        assert!(RetryPolicy::none().delay_after(&status_error(503, &[]), 0).is_none());
    }

    #[test]
    fn retry_after_replaces_backoff_unless_over_the_cap() {
        let policy = RetryPolicy::default();
        let asked = status_error(429, &[("retry-after", "3")]);
        assert_eq!(policy.delay_after(&asked, 0), Some(Duration::from_secs(3)));
        let too_long = status_error(429, &[("retry-after", "61")]);
        assert_eq!(policy.delay_after(&too_long, 0), None);
        let raised = policy.with_max_retry_after(Duration::from_secs(120));
        assert_eq!(raised.delay_after(&too_long, 0), Some(Duration::from_secs(61)));
    }

    #[test]
    fn retry_after_over_the_cap_gives_up_for_429_and_503_alike() {
        let policy = RetryPolicy::default();
        for status in [429, 503] {
            let error = status_error(status, &[("retry-after", "3600")]);
            assert_eq!(policy.delay_after(&error, 0), None, "{status}");
            assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
        }
    }

    #[test]
    fn budget_pays_for_retries_until_empty_and_successes_refill_it() {
        let bucket = TokenBucket::new(RetryBudget::default().with_capacity(12));
        let reason = RetryReason::ServerError;
        assert_eq!(bucket.withdraw(reason), Some(5));
        assert_eq!(bucket.withdraw(reason), Some(5));
        assert_eq!(bucket.withdraw(reason), None);
        assert_eq!(bucket.available(), Some(2));
        bucket.deposit(5);
        assert_eq!(bucket.available(), Some(7));
        bucket.deposit(100);
        assert_eq!(bucket.available(), Some(12), "never above the capacity");
        bucket.deposit(1);
        assert_eq!(bucket.available(), Some(12), "a full bucket stays full");
        let unlimited = TokenBucket::new(RetryBudget::unlimited());
        assert_eq!(unlimited.withdraw(reason), Some(0));
        assert_eq!(unlimited.available(), None);
    }

    /// The cost follows from the reason: a timeout costs more, every other reason the same.
    #[test]
    fn a_retry_after_a_timeout_costs_more() {
        let budget = RetryBudget::default();
        assert_eq!(budget.cost(RetryReason::Timeout), 10);
        for reason in [
            RetryReason::Connection,
            RetryReason::InProgress,
            RetryReason::Throttled,
            RetryReason::ServerError,
            RetryReason::RequestTimeout,
            RetryReason::UnexpectedStatus,
        ] {
            assert_eq!(budget.cost(reason), 5, "{reason:?}");
        }
    }

    #[test]
    fn jittered_waits_stay_within_the_base_at_any_size() {
        for base in [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_nanos(123_456_789),
            Duration::from_secs(u64::MAX / 2),
            Duration::MAX,
        ] {
            assert_eq!(jittered(base, 0.0), base, "no jitter is exact");
            assert_eq!(jittered(base, -1.0), base);
            assert_eq!(jittered(base, 1.0), Duration::ZERO, "{base:?}");
            assert_eq!(jittered(base, 7.0), Duration::ZERO, "{base:?}");
            let half = jittered(base, 0.5);
            assert!(half <= base, "{base:?}: {half:?}");
            // Within float precision of half the base.
            let slack = base / (1 << 30) + Duration::from_micros(1);
            assert!(half + slack >= base / 2, "{base:?}: {half:?}");
        }
        let policy = RetryPolicy::default()
            .with_initial_backoff(Duration::MAX)
            .with_max_backoff(Duration::MAX);
        let error = status_error(503, &[]);
        assert_eq!(policy.clone().with_jitter(0.0).delay_after(&error, 0), Some(Duration::MAX));
        assert!(policy.with_jitter(1.0).delay_after(&error, 1).is_some());
        assert_eq!(millis(Duration::MAX), u64::MAX);
        assert_eq!(millis(Duration::from_millis(7)), 7);
    }

    #[test]
    fn jitter_is_clamped() {
        assert_eq!(RetryPolicy::default().with_jitter(7.0).jitter(), 1.0);
        assert_eq!(RetryPolicy::default().with_jitter(-1.0).jitter(), 0.0);
        assert_eq!(RetryPolicy::default().with_jitter(f64::NAN).jitter(), 0.0);
    }
}
