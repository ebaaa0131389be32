#![doc = include_str!("../README.md")]
//!
//! # What it enforces
//!
//! - The `x-truemed-api-key` header: missing or wrong is `401 {"error": "Unauthorized"}`.
//! - An unknown session id is `404 {"error": "NotFound"}`; a method a path does not take
//!   is `405 {"error": "MethodNotAllowed"}` (after the key check).
//! - **List**: filters `status` (one, or several comma-joined), `user_id` (exact),
//!   `search` (case-insensitive substring of email, user name or `user_business_id`),
//!   `expires_at` (`YYYY-MM-DD`, matched against the date part); `page` and `page_size`
//!   (default 30; below 1 or not a number is `400 ValidationError`); sessions sorted by
//!   `created_at` (those without one last); a `pagination` object
//!   `{count, current_page, last_page, page_size}` with `last_page = max(1, ⌈count /
//!   page_size⌉)`. A page past the end is empty.
//! - **Update**: the body must be a JSON object (unknown fields are ignored) with an
//!   `idempotency_key` of 1 to 255 characters; `user_id` at most 255, `metadata` (a
//!   string) at most 4096, `success_url` / `failure_url` at most 2048; otherwise
//!   `400 ValidationError` with a message. The same key on the same session with the same
//!   payload returns the original response without applying anything again; with another
//!   payload it is a `400`. `user_id` is set only while the session has none, else
//!   `409 {"error": "user_id_already_set"}` (even for the same value, unless it is a
//!   replay). Only the fields sent change; the status never does. The answer is
//!   `{"qualification_session_id", "status"}`.
//! - Every session field is sent, `null` when unset, as Truemed does.
//!
//! # Test controls
//!
//! - Seeding: [`FakeTruemed::seed`] with a [`SessionSeed`]; [`demo_sessions`] for a
//!   realistic data set; [`seeds_from_json`] for sessions as the API returns them.
//! - Decisions: [`FakeTruemed::approve`], [`FakeTruemed::reject`],
//!   [`FakeTruemed::set_status`]; with a receiver configured
//!   ([`FakeTruemedBuilder::webhook`], or [`FakeTruemed::set_webhook`] at any time), a
//!   session that becomes approved or rejected is announced with a signed (or unsigned)
//!   `qualification_session_complete` delivery, retried until a 2xx as Truemed does but
//!   compressed in time ([`WebhookRetries`]: [`DEFAULT_WEBHOOK_ATTEMPTS`] attempts,
//!   [`DEFAULT_WEBHOOK_BACKOFF`] doubling); every attempt and the answer it got is kept
//!   ([`FakeTruemed::webhook_deliveries`]).
//! - Faults: [`FakeTruemed::inject`] a [`Fault`] (an error status with an optional
//!   `Retry-After`, a dropped connection, a lost response, a delay) for the next requests,
//!   or [`FakeTruemed::set_chaos`] for seeded random faults; [`FakeTruemed::set_latency`]
//!   for every request.
//! - Counters: [`FakeTruemed::stats`] (requests per operation, updates applied, replays,
//!   faults) and [`FakeTruemed::applied_updates`] (each applied update, with its key).
//! - [`FakeTruemed::reset`]: back to how it started.
//!
//! The operations faults and counters name are [`truemed_ext::Operation`]s.
//!
//! # The control API
//!
//! Each control route is a thin layer over the method above that its description in
//! `openapi/fake-control.yaml` names. `GET /_fake/ledger` and `GET /_fake/webhooks` answer
//! the newest [`DEFAULT_CONTROL_LIMIT`] entries, oldest first (`?limit=` up to
//! [`MAX_CONTROL_LIMIT`]), and how many there are in all. Every bound the control API and
//! the binary's flags apply is a constant of this crate ([`MAX_LATENCY`],
//! [`MAX_WEBHOOK_ATTEMPTS`], [`MAX_WEBHOOK_BACKOFF`], [`MAX_WEBHOOK_TIMEOUT`],
//! [`MAX_FAULT_TIMES`], [`CHAOS_PROBABILITY`], [`MAX_CHAOS_SEED`], ...).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Modules import in one direction: `paths`, `limits`, `lock`, `decode` and `dashboard` (the
// embedded page) are leaves ← `fault`, `seed`, `delivery` ← `state` ← `shared` (the state
// and configuration behind one handle) ← `control` (the control API's handlers) ← `server`.
mod control;
mod dashboard;
mod decode;
mod delivery;
mod fault;
mod limits;
mod lock;
mod paths;
mod seed;
mod server;
mod shared;
mod state;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use delivery::{
    DeliveryAttempt, DeliveryState, WebhookDelivery, WebhookRetries, WebhookTarget,
    RESPONSE_SNIPPET_BYTES,
};
pub use fault::{Chaos, Fault};
pub use limits::{
    CHAOS_PROBABILITY, DEFAULT_CONTROL_LIMIT, DEFAULT_FLUSH_TIMEOUT, DEFAULT_WEBHOOK_ATTEMPTS,
    DEFAULT_WEBHOOK_BACKOFF, DEFAULT_WEBHOOK_TIMEOUT, MAX_CHAOS_FAULTS, MAX_CHAOS_SEED,
    MAX_CHAOS_WEIGHT, MAX_CONTROL_LIMIT, MAX_FAULT_TIMES, MAX_FLUSH_TIMEOUT, MAX_LATENCY,
    MAX_QUEUED_FAULTS, MAX_RETRY_AFTER, MAX_WEBHOOK_ATTEMPTS, MAX_WEBHOOK_BACKOFF,
    MAX_WEBHOOK_TIMEOUT, MIN_WEBHOOK_TIMEOUT,
};
pub use seed::{
    demo_sessions, demo_sessions_n, seeds_from_json, SeedError, SessionSeed, DEMO_SESSION_COUNT,
    DEMO_SESSION_ID,
};
pub use state::{AppliedUpdate, SessionRecord, Stats};

use shared::{Initial, Shared};

use truemed_ext::{Client, ClientBuilder, QualificationSession, RetryPolicy, Status};

/// The API key a fake accepts unless [`FakeTruemedBuilder::api_key`] says otherwise.
pub const DEFAULT_API_KEY: &str = "sk_test_fake_truemed";

/// A stateful fake Truemed server, listening on `127.0.0.1` until dropped.
///
/// See the [module documentation](self) for what it enforces and an example.
pub struct FakeTruemed {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl fmt::Debug for FakeTruemed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeTruemed")
            .field("base_url", &self.base_url())
            .field("api_key", &"[redacted]")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Stops everything the fake started: the server and its connections, and the webhook
/// deliveries in flight with their retries.
impl Drop for FakeTruemed {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.shared.stop();
    }
}

impl FakeTruemed {
    /// Starts a fake with no sessions on a random port of `127.0.0.1`, accepting
    /// [`DEFAULT_API_KEY`]. Must be called within a tokio runtime.
    ///
    /// # Panics
    ///
    /// If no port can be bound (use [`FakeTruemedBuilder::try_start`] to handle that).
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// A builder, to choose the key, port, latency, seeds or webhook receiver.
    pub fn builder() -> FakeTruemedBuilder {
        FakeTruemedBuilder::default()
    }

    /// The base URL to give a client, e.g. `http://127.0.0.1:49152` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API key the fake accepts.
    pub fn api_key(&self) -> String {
        self.shared.api_key.clone()
    }

    /// A [`Client`] for this fake, with a fast retry policy (3 retries, 1 ms doubling to at
    /// most 10 ms) so tests that inject faults stay fast.
    pub fn client(&self) -> Client {
        match self.client_builder().build() {
            Ok(client) => client,
            // The key and the loopback URL are always valid; this is unreachable.
            Err(error) => panic!("cannot build a client for the fake: {error}"),
        }
    }

    /// A [`ClientBuilder`] set up like [`client`](Self::client), to adjust before building.
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .api_key(self.api_key())
            .base_url(self.base_url())
            .retry_policy(Self::fast_retry_policy())
    }

    /// The retry policy of [`client`](Self::client): 3 retries, 1 ms doubling to 10 ms.
    pub fn fast_retry_policy() -> RetryPolicy {
        RetryPolicy::default()
            .with_max_retries(3)
            .with_initial_backoff(Duration::from_millis(1))
            .with_max_backoff(Duration::from_millis(10))
    }

    /// Adds a session, replacing any with the same id (and forgetting its idempotency
    /// records). Control API: `POST /_fake/sessions`.
    pub fn seed(&self, seed: SessionSeed) {
        self.shared.seed_all([seed]);
    }

    /// Adds several sessions.
    pub fn seed_all(&self, seeds: impl IntoIterator<Item = SessionSeed>) {
        self.shared.seed_all(seeds);
    }

    /// Removes a session; later calls with its id get 404. Control API:
    /// `DELETE /_fake/sessions/{id}`.
    pub fn remove(&self, id: &str) -> Option<SessionRecord> {
        self.shared.state().remove(id)
    }

    /// Removes every session.
    pub fn clear(&self) {
        self.shared.state().clear();
    }

    /// The session as `get` would return it now.
    pub fn session(&self, id: &str) -> Option<QualificationSession> {
        self.record(id).map(|record| record.session)
    }

    /// Every session, in list order (`created_at`).
    pub fn sessions(&self) -> Vec<QualificationSession> {
        self.shared.state().sessions()
    }

    /// The session with what updates stored beside it (metadata, URLs, applied keys).
    /// Control API: `GET /_fake/sessions/{id}`.
    pub fn record(&self, id: &str) -> Option<SessionRecord> {
        self.shared.state().record(id)
    }

    /// Every session with what updates stored beside it, in list order. Control API:
    /// `GET /_fake/sessions`.
    pub fn records(&self) -> Vec<SessionRecord> {
        self.shared.state().records()
    }

    /// Approves a session, as Truemed's reviewers would: status `approved`, reviewed now,
    /// and an LMN expiring in a year unless the seed set one. Returns the session, or
    /// `None` for an unknown id. Control API: `POST /_fake/sessions/{id}/approve`.
    pub fn approve(&self, id: &str) -> Option<QualificationSession> {
        self.set_status(id, Status::Approved)
    }

    /// Rejects a session: status `rejected`, reviewed now. Returns the session, or `None`
    /// for an unknown id. Control API: `POST /_fake/sessions/{id}/reject`.
    pub fn reject(&self, id: &str) -> Option<QualificationSession> {
        self.set_status(id, Status::Rejected)
    }

    /// Moves a session to any status. When it becomes `approved` or `rejected` from
    /// another status and a webhook receiver is configured, the completion is delivered
    /// (in the background, retried as [`WebhookRetries`] says; see
    /// [`flush_webhooks`](Self::flush_webhooks) and
    /// [`webhook_deliveries`](Self::webhook_deliveries)). Control API:
    /// `POST /_fake/sessions/{id}/status`.
    pub fn set_status(&self, id: &str, status: Status) -> Option<QualificationSession> {
        self.shared.set_status(id, status).map(|(record, _delivery)| record.session)
    }

    /// Waits until every webhook delivery started so far has been delivered or given up
    /// (after [`WebhookRetries::max_attempts`] attempts). Control API:
    /// `POST /_fake/webhooks/flush`.
    pub async fn flush_webhooks(&self) {
        self.shared.webhooks.flush().await;
    }

    /// Every webhook delivery since the start (or the last [`reset`](Self::reset)), oldest
    /// first, each with its attempts and the answers they got. Control API:
    /// `GET /_fake/webhooks` (the newest [`DEFAULT_CONTROL_LIMIT`] unless `?limit=` says
    /// otherwise).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use truemed_fake::{DeliveryState, FakeTruemed, SessionSeed};
    ///
    /// // Nothing listens on port 9: every attempt fails.
    /// let fake = FakeTruemed::builder()
    ///     .webhook("http://127.0.0.1:9/hooks", "whsec_test")
    ///     .start()
    ///     .await;
    /// fake.seed(SessionSeed::new("qs_1"));
    /// fake.approve("qs_1");
    /// fake.flush_webhooks().await;
    /// let deliveries = fake.webhook_deliveries();
    /// assert_eq!(deliveries[0].state, DeliveryState::Failed);
    /// assert_eq!(deliveries[0].attempts.len(), 5);
    /// assert!(deliveries[0].attempts[0].error.is_some());
    /// # }
    /// ```
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.shared.webhooks.deliveries()
    }

    /// One webhook delivery, by its `webhook_delivery_id`. Control API:
    /// `GET /_fake/webhooks/{id}`.
    pub fn webhook_delivery(&self, webhook_delivery_id: &str) -> Option<WebhookDelivery> {
        self.shared.webhooks.delivery(webhook_delivery_id)
    }

    /// Where completions are delivered from now on (`None`: nowhere). Deliveries already
    /// started keep their receiver. Control API: `PUT` and `DELETE /_fake/webhook_endpoint`.
    pub fn set_webhook(&self, target: Option<WebhookTarget>) {
        self.shared.webhooks.set_target(target);
    }

    /// Where completions are delivered, if anywhere. Control API:
    /// `GET /_fake/webhook_endpoint`.
    pub fn webhook(&self) -> Option<WebhookTarget> {
        self.shared.webhooks.target()
    }

    /// How deliveries started from now on are retried.
    pub fn set_webhook_retries(&self, retries: WebhookRetries) {
        self.shared.webhooks.set_retries(retries);
    }

    /// How deliveries are retried.
    pub fn webhook_retries(&self) -> WebhookRetries {
        self.shared.webhooks.retries()
    }

    /// Queues a fault for the next requests it applies to (see [`Fault`]). Control API:
    /// `POST /_fake/faults`.
    pub fn inject(&self, fault: Fault) {
        self.shared.state().inject(fault);
    }

    /// How many request hits the queued faults still have.
    pub fn pending_faults(&self) -> u32 {
        self.shared.state().pending_faults()
    }

    /// Random faults for requests no queued fault hits, replacing earlier chaos. Control
    /// API: `POST /_fake/chaos`.
    pub fn set_chaos(&self, chaos: Chaos) {
        self.shared.state().set_chaos(Some(chaos.start()));
    }

    /// Stops chaos; queued faults stay. Control API: `DELETE /_fake/chaos`.
    pub fn clear_chaos(&self) {
        self.shared.state().set_chaos(None);
    }

    /// Removes queued faults and chaos. Control API: `DELETE /_fake/faults`.
    pub fn clear_faults(&self) {
        self.shared.state().clear_faults();
    }

    /// Latency added to every request from now on (zero for none). Control API:
    /// `PUT /_fake/latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.set_latency(latency);
    }

    /// The latency added to every request.
    pub fn latency(&self) -> Duration {
        self.shared.latency()
    }

    /// The counters. Control API: `GET /_fake/stats`.
    pub fn stats(&self) -> Stats {
        self.shared.state().stats.clone()
    }

    /// Resets the counters to zero (sessions and idempotency records are kept).
    pub fn reset_stats(&self) {
        self.shared.state().stats = Stats::default();
    }

    /// Every update applied, in order: exactly one per session and idempotency key.
    /// Control API: `GET /_fake/ledger` (the newest [`DEFAULT_CONTROL_LIMIT`] unless
    /// `?limit=` says otherwise).
    pub fn applied_updates(&self) -> Vec<AppliedUpdate> {
        self.shared.state().applied().to_vec()
    }

    /// Back to how the fake started: the builder's sessions (and no others), no
    /// idempotency records, queued faults, counters, applied updates or webhook
    /// deliveries (those in flight are stopped); the builder's chaos (from its seed again),
    /// latency, webhook receiver and retries. The API key and the address stay. Control
    /// API: `POST /_fake/reset` (with `{"sessions": "none"}` it also clears the sessions).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use truemed_fake::{FakeTruemed, Fault, SessionSeed};
    ///
    /// let fake = FakeTruemed::builder().seed(SessionSeed::new("qs_1")).start().await;
    /// fake.seed(SessionSeed::new("qs_2"));
    /// fake.inject(Fault::status(503));
    /// fake.reset();
    /// assert_eq!(fake.sessions().len(), 1);
    /// assert_eq!(fake.pending_faults(), 0);
    /// # }
    /// ```
    pub fn reset(&self) {
        self.shared.reset(true);
    }
}

/// Configures a [`FakeTruemed`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use truemed_fake::{demo_sessions_n, FakeTruemed};
///
/// let fake = FakeTruemed::builder()
///     .api_key("sk_test_mine")
///     .latency(Duration::from_millis(5))
///     .seed_all(demo_sessions_n(10))
///     .start()
///     .await;
/// assert_eq!(fake.api_key(), "sk_test_mine");
/// assert_eq!(fake.sessions().len(), 10);
/// assert!(!format!("{fake:?}").contains("sk_test_mine"));
/// # }
/// ```
#[must_use = "a builder does nothing until started"]
pub struct FakeTruemedBuilder {
    api_key: String,
    addr: SocketAddr,
    latency: Duration,
    seeds: Vec<SessionSeed>,
    webhook: Option<WebhookTarget>,
    retries: WebhookRetries,
    chaos: Option<Chaos>,
}

impl Default for FakeTruemedBuilder {
    fn default() -> Self {
        Self {
            api_key: DEFAULT_API_KEY.to_owned(),
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            latency: Duration::ZERO,
            seeds: Vec::new(),
            webhook: None,
            retries: WebhookRetries::default(),
            chaos: None,
        }
    }
}

impl fmt::Debug for FakeTruemedBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeTruemedBuilder")
            .field("api_key", &"[redacted]")
            .field("addr", &self.addr)
            .field("latency", &self.latency)
            .field("seeds", &self.seeds.len())
            .field("webhook", &self.webhook)
            .field("retries", &self.retries)
            .field("chaos", &self.chaos)
            .finish()
    }
}

impl FakeTruemedBuilder {
    /// The API key to accept (default [`DEFAULT_API_KEY`]).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// The port on `127.0.0.1` (default 0: a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.addr.set_port(port);
        self
    }

    /// The address to listen on (default `127.0.0.1:0`). Clients accept plain `http` for
    /// loopback addresses only.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Latency added to every request (default none).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// A session to start with.
    pub fn seed(mut self, seed: SessionSeed) -> Self {
        self.seeds.push(seed);
        self
    }

    /// Sessions to start with.
    pub fn seed_all(mut self, seeds: impl IntoIterator<Item = SessionSeed>) -> Self {
        self.seeds.extend(seeds);
        self
    }

    /// Seeded random faults from the start (see [`Chaos`]).
    pub fn chaos(mut self, chaos: Chaos) -> Self {
        self.chaos = Some(chaos);
        self
    }

    /// Deliver signed `qualification_session_complete` webhooks to `url` when a session
    /// becomes approved or rejected: a JSON envelope (`webhook_delivery_id`, `event_type`,
    /// `data`) with an `x-truemed-signature` made with `secret`, as
    /// [`truemed_ext::webhook::WebhookVerifier::verify_signed`] checks them.
    pub fn webhook(mut self, url: impl Into<String>, secret: impl Into<String>) -> Self {
        self.webhook = Some(WebhookTarget::signed(url, secret));
        self
    }

    /// Deliver unsigned webhooks instead: the flat payload with `secret` in the
    /// `x-truemed-api-key` header (see [`truemed_ext::webhook::WebhookVerifier::verify_unsigned`]).
    pub fn unsigned_webhook(mut self, url: impl Into<String>, secret: impl Into<String>) -> Self {
        self.webhook = Some(WebhookTarget::unsigned(url, secret));
        self
    }

    /// Deliver webhooks to this receiver (signed or unsigned, as it says).
    pub fn webhook_target(mut self, target: WebhookTarget) -> Self {
        self.webhook = Some(target);
        self
    }

    /// How deliveries are retried (default: [`DEFAULT_WEBHOOK_ATTEMPTS`] attempts,
    /// [`DEFAULT_WEBHOOK_BACKOFF`] doubling).
    pub fn webhook_retries(mut self, retries: WebhookRetries) -> Self {
        self.retries = retries;
        self
    }

    /// Binds and starts serving. Must be called within a tokio runtime.
    ///
    /// # Panics
    ///
    /// If the address cannot be bound.
    pub async fn start(self) -> FakeTruemed {
        let addr = self.addr;
        match self.try_start().await {
            Ok(fake) => fake,
            Err(error) => panic!("cannot start the fake Truemed server on {addr}: {error}"),
        }
    }

    /// Binds and starts serving; fails if the address cannot be bound.
    pub async fn try_start(self) -> std::io::Result<FakeTruemed> {
        let listener = TcpListener::bind(self.addr).await?;
        let addr = listener.local_addr()?;
        let initial = Initial {
            seeds: self.seeds,
            chaos: self.chaos,
            webhook: self.webhook,
            retries: self.retries,
            latency: self.latency,
        };
        let runtime = tokio::runtime::Handle::current();
        let shared = Arc::new(Shared::new(self.api_key, initial, runtime.clone()));
        let (shutdown, receiver) = watch::channel(false);
        runtime.spawn(server::serve(listener, Arc::clone(&shared), receiver));
        Ok(FakeTruemed { shared, addr, shutdown })
    }
}
