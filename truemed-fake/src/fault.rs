//! Fault injection: [`Fault`], [`Chaos`], and which [`Operation`] a request is.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use super::paths::{LIST_PATH, SESSION_PREFIX};
use truemed_ext::Operation;

/// The operation of a request, from its method and path; `None` for anything else (an
/// unknown path, or a method the path does not take).
pub(crate) fn classify(method: &http::Method, path: &str) -> Option<Operation> {
    let Some(rest) = path.strip_prefix(SESSION_PREFIX) else {
        return (path == LIST_PATH && method == http::Method::GET).then_some(Operation::List);
    };
    match rest.split_once('/') {
        None if !rest.is_empty() && method == http::Method::GET => Some(Operation::Get),
        Some((id, "update")) if !id.is_empty() && method == http::Method::POST => {
            Some(Operation::Update)
        }
        _ => None,
    }
}

/// What an injected fault does to the request it hits.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FaultKind {
    /// Answer this status without handling the request.
    Status(u16),
    /// Close the connection without answering, before handling the request.
    DropConnection,
    /// Handle the request (its effects are kept), then close the connection without
    /// sending the response: the "committed but the answer was lost" case.
    LoseResponse,
    /// Wait, then handle the request normally.
    Delay(Duration),
}

/// A fault to inject into the next requests of a [`FakeTruemed`](super::FakeTruemed).
///
/// Queued faults are used in order: each request takes the first queued fault that
/// applies to its [`Operation`], and a fault stays queued until it has hit
/// [`times`](Self::times) requests (default 1).
///
/// ```
/// use std::time::Duration;
/// use truemed_ext::Operation;
/// use truemed_fake::Fault;
///
/// let outage = Fault::status(503).times(2);
/// let throttle = Fault::status(429).retry_after(Duration::from_millis(20));
/// let flaky = Fault::drop_connection().on(Operation::Update);
/// let lost = Fault::lose_response(); // applied, but the client never hears back
/// let slow = Fault::delay(Duration::from_millis(50)).times(3);
/// # let _ = (outage, throttle, flaky, lost, slow);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use = "a fault does nothing until given to FakeTruemed::inject"]
pub struct Fault {
    pub(crate) kind: FaultKind,
    pub(crate) times: u32,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) on: Option<Operation>,
}

impl Fault {
    fn new(kind: FaultKind) -> Self {
        Self { kind, times: 1, retry_after: None, on: None }
    }

    /// Answer `status` (e.g. 500, 503, 429) with a JSON error body, without handling the
    /// request: nothing is applied.
    pub fn status(status: u16) -> Self {
        Self::new(FaultKind::Status(status))
    }

    /// Close the connection without answering, before the request is handled: nothing is
    /// applied, and the client sees a connection error.
    pub fn drop_connection() -> Self {
        Self::new(FaultKind::DropConnection)
    }

    /// Handle the request normally (an update is applied), then close the connection
    /// without sending the response. A client that retries with the same idempotency key
    /// must get the original response back, and the update must stay applied once.
    pub fn lose_response() -> Self {
        Self::new(FaultKind::LoseResponse)
    }

    /// Wait `delay` before handling the request normally (on top of any global latency).
    pub fn delay(delay: Duration) -> Self {
        Self::new(FaultKind::Delay(delay))
    }

    /// Hit this many requests (default 1); 0 is treated as 1.
    pub fn times(mut self, times: u32) -> Self {
        self.times = times.max(1);
        self
    }

    /// With a status fault, send `Retry-After` (whole seconds, rounded up) and
    /// `retry-after-ms` (exact milliseconds) headers asking the client to wait this long.
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// Hit only requests of this operation; others pass through untouched.
    pub fn on(mut self, operation: Operation) -> Self {
        self.on = Some(operation);
        self
    }

    pub(crate) fn applies_to(&self, operation: Option<Operation>) -> bool {
        self.on.is_none_or(|on| Some(on) == operation)
    }

    /// A short description, for stats and logs.
    pub(crate) fn describe(&self) -> String {
        match &self.kind {
            FaultKind::Status(status) => format!("status {status}"),
            FaultKind::DropConnection => "dropped connection".into(),
            FaultKind::LoseResponse => "lost response".into(),
            FaultKind::Delay(delay) => format!("delay {delay:?}"),
        }
    }
}

/// Random faults, for soak tests: each request that no queued [`Fault`] hit draws one of
/// the configured faults with its probability, from a seeded random generator (the same
/// seed gives the same sequence of draws).
///
/// ```
/// use std::time::Duration;
/// use truemed_ext::Operation;
/// use truemed_fake::{Chaos, Fault};
///
/// let chaos = Chaos::seeded(7)
///     .with(0.15, Fault::status(503))
///     .with(0.10, Fault::status(429).retry_after(Duration::ZERO))
///     .with(0.05, Fault::drop_connection())
///     .on(Operation::Update);
/// # let _ = chaos;
/// ```
#[derive(Clone, Debug)]
#[must_use = "chaos does nothing until given to FakeTruemed::set_chaos"]
pub struct Chaos {
    seed: u64,
    faults: Vec<(f64, Fault)>,
    on: Option<Operation>,
}

impl Chaos {
    /// No faults yet, drawing from a generator seeded with `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self { seed, faults: Vec::new(), on: None }
    }

    /// Inject `fault` (its `times` and `on` are ignored) with this probability per
    /// request. Probabilities add up; their sum is capped at 1.
    pub fn with(mut self, probability: f64, fault: Fault) -> Self {
        let probability = if probability.is_nan() { 0.0 } else { probability.clamp(0.0, 1.0) };
        self.faults.push((probability, fault));
        self
    }

    /// Only requests of this operation draw faults.
    pub fn on(mut self, operation: Operation) -> Self {
        self.on = Some(operation);
        self
    }

    /// A fault with probability `probability` per request, drawn from a mix of the faults
    /// a client meets in production: a `503` (40 % of the faults), a `429` with
    /// `Retry-After: 0` (20 %), a dropped connection (20 %) and a lost response (20 %: the
    /// request is handled, an update applied, but the answer never arrives). What
    /// `truemed-fake serve --chaos P` uses.
    ///
    /// ```
    /// use truemed_fake::Chaos;
    ///
    /// let chaos = Chaos::seeded(7).mixed(0.2); // one request in five hits a fault
    /// # let _ = chaos;
    /// ```
    pub fn mixed(self, probability: f64) -> Self {
        let p = if probability.is_nan() { 0.0 } else { probability.clamp(0.0, 1.0) };
        self.with(p * 0.4, Fault::status(503))
            .with(p * 0.2, Fault::status(429).retry_after(Duration::ZERO))
            .with(p * 0.2, Fault::drop_connection())
            .with(p * 0.2, Fault::lose_response())
    }

    pub(crate) fn start(self) -> ChaosState {
        ChaosState { rng: StdRng::seed_from_u64(self.seed), chaos: self }
    }
}

/// A [`Chaos`] with its generator.
#[derive(Debug)]
pub(crate) struct ChaosState {
    chaos: Chaos,
    rng: StdRng,
}

impl ChaosState {
    pub(crate) fn draw(&mut self, operation: Option<Operation>) -> Option<Fault> {
        if self.chaos.on.is_some_and(|on| Some(on) != operation) {
            return None;
        }
        let roll: f64 = self.rng.gen();
        let mut acc = 0.0;
        for (probability, fault) in &self.chaos.faults {
            acc += probability;
            if roll < acc {
                return Some(fault.clone());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_requests() {
        use http::Method;
        let c = super::classify;
        assert_eq!(c(&Method::GET, "/api/v1/qualification_sessions"), Some(Operation::List));
        assert_eq!(c(&Method::POST, "/api/v1/qualification_sessions"), None);
        assert_eq!(c(&Method::GET, "/api/v1/qualification_session/qs_1"), Some(Operation::Get));
        assert_eq!(c(&Method::GET, "/api/v1/qualification_session/"), None);
        assert_eq!(
            c(&Method::POST, "/api/v1/qualification_session/qs_1/update"),
            Some(Operation::Update)
        );
        assert_eq!(c(&Method::GET, "/api/v1/qualification_session/qs_1/update"), None);
        assert_eq!(c(&Method::POST, "/api/v1/qualification_session//update"), None);
        assert_eq!(c(&Method::GET, "/elsewhere"), None);
    }

    #[test]
    fn chaos_is_deterministic() {
        let make = || {
            Chaos::seeded(1)
                .with(0.3, Fault::status(503))
                .with(0.1, Fault::drop_connection())
                .start()
        };
        let (mut a, mut b) = (make(), make());
        let draws_a: Vec<_> = (0..100).map(|_| a.draw(Some(Operation::Update))).collect();
        let draws_b: Vec<_> = (0..100).map(|_| b.draw(Some(Operation::Update))).collect();
        assert_eq!(draws_a, draws_b);
        let hits = draws_a.iter().filter(|d| d.is_some()).count();
        assert!((20..=60).contains(&hits), "{hits}");
    }
}
