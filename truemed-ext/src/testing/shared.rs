//! What the fake's server and its [`FakeTruemed`](super::FakeTruemed) handle share: the
//! API key, the state, the latency, request ids and the webhook deliveries.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use truemed_api::types::QualificationSession;

use super::delivery::Webhooks;
use super::lock::lock;
use super::state::{Reply, State};

/// What the server and the [`FakeTruemed`](super::FakeTruemed) handle share.
pub(crate) struct Shared {
    pub(crate) api_key: String,
    state: Mutex<State>,
    pub(crate) latency: Mutex<Duration>,
    pub(crate) request_ids: AtomicU64,
    pub(crate) webhooks: Webhooks,
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
    pub(crate) fn new(api_key: String, latency: Duration, webhooks: Webhooks) -> Self {
        Self {
            api_key,
            state: Mutex::new(State::default()),
            latency: Mutex::new(latency),
            request_ids: AtomicU64::new(0),
            webhooks,
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn set_latency(&self, latency: Duration) {
        *lock(&self.latency) = latency;
    }

    /// `None` when the request carries the right key; the 401 otherwise.
    pub(crate) fn refuse_unauthorized(&self, headers: &HeaderMap) -> Option<Reply> {
        use subtle::ConstantTimeEq as _;
        let given = headers
            .get(crate::wire::API_KEY_HEADER)
            .map(HeaderValue::as_bytes);
        let ok = given.is_some_and(|given| bool::from(given.ct_eq(self.api_key.as_bytes())));
        if ok {
            return None;
        }
        self.state().stats.unauthorized += 1;
        let message = match given {
            None => "Missing x-truemed-api-key header.",
            Some(_) => "Invalid API key.",
        };
        Some(Reply::error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            message,
        ))
    }

    /// Starts delivering the completion of `session`, if a receiver is configured; the
    /// outcome is counted in the stats.
    pub(crate) fn deliver(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        session: QualificationSession,
    ) {
        let Some(delivery) = self.webhooks.prepare(session) else {
            return;
        };
        let shared = Arc::clone(self);
        let task = runtime.spawn(async move {
            let delivered = delivery.send().await;
            let mut state = shared.state();
            if delivered {
                state.stats.webhooks_delivered += 1;
            } else {
                state.stats.webhooks_failed += 1;
            }
        });
        self.webhooks.track(task);
    }
}
