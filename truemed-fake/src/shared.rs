//! What the fake's server, its control API and its [`FakeTruemed`](super::FakeTruemed)
//! handle share: the API key, the state, the latency, request ids and the webhook
//! deliveries; and the operations on them that both the Rust handle and the control API
//! call, so that each is implemented once.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use truemed_ext::QualificationSession;
use truemed_ext::Status;

use super::delivery::{WebhookRetries, WebhookTarget, Webhooks};
use super::fault::Chaos;
use super::lock::lock;
use super::seed::SessionSeed;
use super::state::{Reply, SessionRecord, State};

/// What a fake starts with, and returns to when reset.
#[derive(Debug, Default)]
pub(crate) struct Initial {
    pub(crate) seeds: Vec<SessionSeed>,
    pub(crate) chaos: Option<Chaos>,
    pub(crate) webhook: Option<WebhookTarget>,
    pub(crate) retries: WebhookRetries,
    pub(crate) latency: Duration,
}

/// What the server and the [`FakeTruemed`](super::FakeTruemed) handle share.
pub(crate) struct Shared {
    pub(crate) api_key: String,
    state: Mutex<State>,
    latency: Mutex<Duration>,
    request_ids: AtomicU64,
    pub(crate) webhooks: Webhooks,
    runtime: tokio::runtime::Handle,
    initial: Initial,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("api_key", &"[redacted]")
            .field("latency", &*lock(&self.latency))
            .field("webhooks", &self.webhooks)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The shared part of a fake starting with `initial`; deliveries run on `runtime`.
    pub(crate) fn new(api_key: String, initial: Initial, runtime: tokio::runtime::Handle) -> Self {
        Self {
            api_key,
            state: Mutex::new(Self::initial_state(&initial, true)),
            latency: Mutex::new(initial.latency),
            request_ids: AtomicU64::new(0),
            webhooks: Webhooks::new(initial.webhook.clone(), initial.retries),
            runtime,
            initial,
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn latency(&self) -> Duration {
        *lock(&self.latency)
    }

    pub(crate) fn set_latency(&self, latency: Duration) {
        *lock(&self.latency) = latency;
    }

    /// The next `x-request-id`.
    pub(crate) fn next_request_id(&self) -> u64 {
        self.request_ids.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Whether `headers` carry the right key (compared in constant time).
    pub(crate) fn authorized(&self, headers: &HeaderMap) -> bool {
        use subtle::ConstantTimeEq as _;
        headers
            .get(truemed_ext::API_KEY_HEADER)
            .map(HeaderValue::as_bytes)
            .is_some_and(|given| bool::from(given.ct_eq(self.api_key.as_bytes())))
    }

    /// The 401 for a request without the right key.
    pub(crate) fn unauthorized(headers: &HeaderMap) -> Reply {
        let message = match headers.get(truemed_ext::API_KEY_HEADER) {
            None => "Missing x-truemed-api-key header.",
            Some(_) => "Invalid API key.",
        };
        Reply::error(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    /// `None` when an API request carries the right key; the 401 otherwise (counted).
    pub(crate) fn refuse_unauthorized(&self, headers: &HeaderMap) -> Option<Reply> {
        if self.authorized(headers) {
            return None;
        }
        self.state().stats.unauthorized += 1;
        Some(Self::unauthorized(headers))
    }

    /// Adds sessions, replacing those with the same ids.
    pub(crate) fn seed_all(&self, seeds: impl IntoIterator<Item = SessionSeed>) {
        let mut state = self.state();
        for seed in seeds {
            state.seed(seed);
        }
    }

    /// Adds a session, replacing any with the same id; returns it as stored, read in the
    /// same locked operation (a DELETE or reset racing it comes wholly before or after).
    pub(crate) fn create(&self, seed: SessionSeed) -> SessionRecord {
        self.state().seed(seed).clone()
    }

    /// Moves a session to `status`; when that completes it (approved or rejected from
    /// another status) and a receiver is configured, the completion is delivered in the
    /// background. Returns the session as it is now and the delivery's id, or `None` for
    /// an unknown id.
    ///
    /// The change, the delivery it starts and the answer are one locked operation: a
    /// DELETE or reset racing it comes wholly before (nothing changed: `None`) or wholly
    /// after (the answer names the delivery, which a reset then stops).
    pub(crate) fn set_status(
        self: &Arc<Self>,
        id: &str,
        status: Status,
    ) -> Option<(SessionRecord, Option<String>)> {
        let mut state = self.state();
        let (record, completed) = state.set_status(id, status)?;
        let record = record.clone();
        let delivery = if completed { self.deliver(&record.session) } else { None };
        drop(state);
        Some((record, delivery))
    }

    /// Starts delivering the completion of `session`, if a receiver is configured; returns
    /// the delivery's id. Called with the state locked (see [`set_status`](Self::set_status)).
    /// The outcome is recorded in the ledger and counted in the stats.
    fn deliver(self: &Arc<Self>, session: &QualificationSession) -> Option<String> {
        let prepared = self.webhooks.prepare(session)?;
        let id = prepared.id.clone();
        let shared = Arc::clone(self);
        let task = self.runtime.spawn(async move {
            let finished = shared.webhooks.run(prepared).await;
            // The state before the ledger, the order set_status and reset lock them in.
            let mut state = shared.state();
            shared.webhooks.finish(finished, |delivered| {
                if delivered {
                    state.stats.webhooks_delivered += 1;
                } else {
                    state.stats.webhooks_failed += 1;
                }
            });
        });
        self.webhooks.track(task);
        Some(id)
    }

    /// Back to how the fake started: its initial sessions (or none), no idempotency
    /// records, faults, counters, applied updates or deliveries; the initial chaos,
    /// latency and webhook receiver.
    ///
    /// Under the state lock throughout, as [`set_status`](Self::set_status) is: a decision
    /// and the delivery it starts come wholly before the reset (stopped and forgotten) or
    /// wholly after it.
    pub(crate) fn reset(&self, initial_sessions: bool) {
        let mut state = self.state();
        self.webhooks.reset();
        self.webhooks.set_target(self.initial.webhook.clone());
        self.webhooks.set_retries(self.initial.retries);
        self.set_latency(self.initial.latency);
        *state = Self::initial_state(&self.initial, initial_sessions);
        self.request_ids.store(0, Ordering::Relaxed);
    }

    /// Stops everything the fake started but its server (which the handle stops): the
    /// deliveries in flight and their retries; none starts from now on. Under the state
    /// lock, as [`set_status`](Self::set_status) starts deliveries.
    pub(crate) fn stop(&self) {
        let _state = self.state();
        self.webhooks.close();
    }

    /// The state a fake starting with `initial` has: its sessions (or none) and chaos.
    fn initial_state(initial: &Initial, initial_sessions: bool) -> State {
        let mut state = State::default();
        if initial_sessions {
            for seed in &initial.seeds {
                state.seed(seed.clone());
            }
        }
        state.set_chaos(initial.chaos.clone().map(Chaos::start));
        state
    }
}
