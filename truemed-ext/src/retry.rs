//! [`RetryPolicy`]: which failures are retried, and how long to wait between attempts.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument as _;

use crate::error::Error;
use crate::idempotency::IdempotencyKey;
use crate::operation::Operation;

/// How a call is retried.
///
/// Retried: connection failures, timeouts, 408, 409 other than `user_id_already_set`,
/// 429, 500, 502, 503, 504, and a status outside the classes the API uses (a final 1xx,
/// 600-999) (see [`Error::is_retryable`]). Never another 4xx, a redirect or an
/// undecodable response. The wait before retry `n` (from 0) is
/// `initial_backoff × 2ⁿ`, capped at `max_backoff`, times a random factor in
/// `[1 - jitter, 1]`; a `Retry-After` from the server (on any status) replaces it.
/// Every wait saturates instead of overflowing: any setting up to `Duration::MAX` is
/// accepted, and a wait that would exceed it is `Duration::MAX`.
///
/// A `Retry-After` longer than `max_retry_after` is not waited out: the call returns at
/// once with the error as received, [`Error::RateLimited`] for a 429 and
/// [`Error::Server`] for a 503 alike, whose [`Error::retry_after`] is the server's wait.
///
/// Retries also draw on the client's [`RetryBudget`], so a sustained outage does not
/// multiply traffic.
///
/// The default (2 retries, 0.5 s doubling to at most 8 s, jitter 0.25, `Retry-After` up to
/// 60 s) matches the best SDKs. Updates are always retried safely: each call sends one
/// idempotency key on every attempt.
///
/// ```
/// use std::time::Duration;
/// use truemed_ext::RetryPolicy;
///
/// let patient = RetryPolicy::default()
///     .max_retries(5)
///     .max_backoff(Duration::from_secs(20));
/// let none = RetryPolicy::none();
/// assert_eq!(none.get_max_retries(), 0);
/// # let _ = patient;
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
        Self::default().max_retries(0)
    }

    /// How many times a failed attempt is retried (attempts = retries + 1).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The wait before the first retry; each later wait doubles.
    pub fn initial_backoff(mut self, wait: Duration) -> Self {
        self.initial_backoff = wait;
        self
    }

    /// The longest computed wait between attempts.
    pub fn max_backoff(mut self, wait: Duration) -> Self {
        self.max_backoff = wait;
        self
    }

    /// The longest server `Retry-After` the client waits out (default 60 s); a longer one
    /// ends the call at once with the error as received ([`Error::RateLimited`] for a 429,
    /// [`Error::Server`] for a 503), carrying the server's wait.
    pub fn max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait;
        self
    }

    /// The share of each wait that is random, from 0 (none) to 1 (full jitter); values
    /// outside are clamped.
    pub fn jitter(mut self, share: f64) -> Self {
        self.jitter = if share.is_nan() {
            0.0
        } else {
            share.clamp(0.0, 1.0)
        };
        self
    }

    /// The configured number of retries.
    pub fn get_max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The computed wait before retry `retry` (from 0), before jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(31));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// What to do after `error` on retry number `retry` (from 0): wait this long and
    /// retry, or give up (`None`).
    pub fn delay_after(&self, error: &Error, retry: u32) -> Option<Duration> {
        if retry >= self.max_retries || !error.is_retryable() {
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
/// until successes refill the bucket. Clones of a client share its bucket.
///
/// ```
/// use truemed_ext::{Client, RetryBudget};
///
/// let client = Client::builder()
///     .api_key("sk_test_123")
///     .retry_budget(RetryBudget::default().capacity(1_000))
///     .build()?;
/// assert_eq!(client.retry_budget_available(), Some(1_000));
/// let unlimited = Client::builder().api_key("k").retry_budget(RetryBudget::unlimited()).build()?;
/// assert_eq!(unlimited.retry_budget_available(), None);
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
        Self {
            capacity: Some(500),
            retry_cost: 5,
            timeout_retry_cost: 10,
        }
    }
}

impl RetryBudget {
    /// No budget: every retry the [`RetryPolicy`] allows is made.
    pub fn unlimited() -> Self {
        Self {
            capacity: None,
            ..Self::default()
        }
    }

    /// The tokens in a full bucket (default 500).
    pub fn capacity(mut self, tokens: u32) -> Self {
        self.capacity = Some(tokens);
        self
    }

    /// The tokens a retry takes (default 5).
    pub fn retry_cost(mut self, tokens: u32) -> Self {
        self.retry_cost = tokens;
        self
    }

    /// The tokens a retry after a timeout takes (default 10).
    pub fn timeout_retry_cost(mut self, tokens: u32) -> Self {
        self.timeout_retry_cost = tokens;
        self
    }

    fn cost(&self, error: &Error) -> u32 {
        match error {
            Error::Timeout(_) => self.timeout_retry_cost,
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
        self.budget
            .capacity
            .map(|_| self.tokens.load(Ordering::Relaxed))
    }

    /// Takes the cost of retrying after `error`: the tokens taken, or `None` when the
    /// bucket cannot pay.
    fn withdraw(&self, error: &Error) -> Option<u32> {
        if self.budget.capacity.is_none() {
            return Some(0);
        }
        let cost = self.budget.cost(error);
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tokens| {
                tokens.checked_sub(cost)
            })
            .ok()
            .map(|_| cost)
    }

    /// Returns tokens after a success, never above the capacity.
    fn deposit(&self, tokens: u32) {
        if let Some(capacity) = self.budget.capacity {
            let _ = self
                .tokens
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                    Some(current.saturating_add(tokens).min(capacity))
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

/// What one call brings to [`run`]: its operation, policy, the client's budget and
/// sleeper, and the idempotency key it sends, if any.
pub(crate) struct Call<'a> {
    pub(crate) operation: Operation,
    pub(crate) policy: &'a RetryPolicy,
    pub(crate) budget: &'a TokenBucket,
    pub(crate) sleeper: &'a Sleeper,
    pub(crate) idempotency_key: Option<&'a IdempotencyKey>,
}

/// Runs `attempt` until it succeeds, fails for good, or the policy or the budget gives up,
/// in a span per call and a span per attempt. `attempt` gets the attempt number (from 1).
/// The error returned carries the call's idempotency key and whether an earlier attempt
/// may have applied the request.
pub(crate) async fn run<T, F, Fut>(call: Call<'_>, mut attempt: F) -> Result<T, Error>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let operation = call.operation.id();
    let call_span = tracing::info_span!(
        "truemed.call",
        operation,
        attempts = tracing::field::Empty,
        status = tracing::field::Empty,
        elapsed_ms = tracing::field::Empty,
    );
    async {
        let started = Instant::now();
        let mut number = 1;
        let mut unresolved = false;
        let mut last_retry_cost = None;
        loop {
            let attempt_started = Instant::now();
            let span = tracing::debug_span!(
                "truemed.attempt",
                operation,
                attempt = number,
                status = tracing::field::Empty,
                elapsed_ms = tracing::field::Empty,
            );
            let result = attempt(number).instrument(span.clone()).await;
            let status = match &result {
                Ok(_) => Some(200),
                Err(error) => error.status().map(|s| s.as_u16()),
            };
            if let Some(status) = status {
                span.record("status", status);
            }
            span.record("elapsed_ms", millis(attempt_started.elapsed()));
            let outcome = match result {
                Ok(value) => {
                    call.budget.deposit(last_retry_cost.unwrap_or(1));
                    Ok(value)
                }
                Err(error) => match call.policy.delay_after(&error, number - 1) {
                    Some(wait) => match call.budget.withdraw(&error) {
                        Some(cost) => {
                            tracing::info!(
                                parent: &span,
                                error = %error.kind_name(),
                                wait_ms = millis(wait),
                                "retrying"
                            );
                            unresolved |= error.outcome_unknown();
                            last_retry_cost = Some(cost);
                            call.sleeper.sleep(wait).await;
                            number += 1;
                            continue;
                        }
                        None => {
                            tracing::info!(
                                parent: &span,
                                error = %error.kind_name(),
                                "retry budget exhausted; not retrying"
                            );
                            Err(error)
                        }
                    },
                    None => Err(error),
                },
            };
            let outcome =
                outcome.map_err(|error| error.with_call_details(call.idempotency_key, unresolved));
            let current = tracing::Span::current();
            current.record("attempts", number);
            if let Some(status) = status {
                current.record("status", status);
            }
            current.record("elapsed_ms", millis(started.elapsed()));
            if let Err(error) = &outcome {
                tracing::warn!(error = %error.kind_name(), attempts = number, "call failed");
            }
            return outcome;
        }
    }
    .instrument(call_span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(0), Duration::from_millis(500));
        assert_eq!(policy.backoff(1), Duration::from_secs(1));
        assert_eq!(policy.backoff(3), Duration::from_secs(4));
        assert_eq!(policy.backoff(4), Duration::from_secs(8));
        assert_eq!(policy.backoff(40), Duration::from_secs(8));
    }

    fn status_error(status: u16, headers: &[(&'static str, &str)]) -> Error {
        let headers: reqwest::header::HeaderMap = headers
            .iter()
            .map(|(k, v)| {
                (
                    reqwest::header::HeaderName::from_static(k),
                    v.parse().unwrap(),
                )
            })
            .collect();
        Error::from_response(
            reqwest::StatusCode::from_u16(status).unwrap(),
            &headers,
            b"",
        )
    }

    #[test]
    fn jitter_stays_within_its_share() {
        let policy = RetryPolicy::default().max_retries(10);
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
        let no_jitter = policy.clone().jitter(0.0);
        assert_eq!(
            no_jitter.delay_after(&error, 2),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn gives_up_after_max_retries_and_on_non_retryable() {
        let policy = RetryPolicy::default();
        assert!(policy.delay_after(&status_error(503, &[]), 1).is_some());
        assert!(policy.delay_after(&status_error(503, &[]), 2).is_none());
        for status in [400, 401, 403, 404, 405, 422, 501, 302] {
            assert!(
                policy.delay_after(&status_error(status, &[]), 0).is_none(),
                "{status}"
            );
        }
        for status in [408, 409, 429, 500, 502, 503, 504] {
            assert!(
                policy.delay_after(&status_error(status, &[]), 0).is_some(),
                "{status}"
            );
        }
        assert!(RetryPolicy::none()
            .delay_after(&status_error(503, &[]), 0)
            .is_none());
    }

    #[test]
    fn retry_after_replaces_backoff_unless_over_the_cap() {
        let policy = RetryPolicy::default();
        let asked = status_error(429, &[("retry-after", "3")]);
        assert_eq!(policy.delay_after(&asked, 0), Some(Duration::from_secs(3)));
        let too_long = status_error(429, &[("retry-after", "61")]);
        assert_eq!(policy.delay_after(&too_long, 0), None);
        let raised = policy.max_retry_after(Duration::from_secs(120));
        assert_eq!(
            raised.delay_after(&too_long, 0),
            Some(Duration::from_secs(61))
        );
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
        let bucket = TokenBucket::new(RetryBudget::default().capacity(12));
        let error = status_error(503, &[]);
        assert_eq!(bucket.withdraw(&error), Some(5));
        assert_eq!(bucket.withdraw(&error), Some(5));
        assert_eq!(bucket.withdraw(&error), None);
        assert_eq!(bucket.available(), Some(2));
        bucket.deposit(5);
        assert_eq!(bucket.available(), Some(7));
        bucket.deposit(100);
        assert_eq!(bucket.available(), Some(12), "never above the capacity");
        let unlimited = TokenBucket::new(RetryBudget::unlimited());
        assert_eq!(unlimited.withdraw(&error), Some(0));
        assert_eq!(unlimited.available(), None);
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
            .initial_backoff(Duration::MAX)
            .max_backoff(Duration::MAX);
        let error = status_error(503, &[]);
        assert_eq!(
            policy.clone().jitter(0.0).delay_after(&error, 0),
            Some(Duration::MAX)
        );
        assert!(policy.jitter(1.0).delay_after(&error, 1).is_some());
        assert_eq!(millis(Duration::MAX), u64::MAX);
        assert_eq!(millis(Duration::from_millis(7)), 7);
    }

    #[test]
    fn jitter_is_clamped() {
        assert_eq!(RetryPolicy::default().jitter(7.0).jitter, 1.0);
        assert_eq!(RetryPolicy::default().jitter(-1.0).jitter, 0.0);
        assert_eq!(RetryPolicy::default().jitter(f64::NAN).jitter, 0.0);
    }
}
