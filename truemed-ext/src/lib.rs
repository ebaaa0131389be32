//! Production Rust client for [Truemed](https://www.truemed.com)'s Qualification Sessions
//! API: get a session, list sessions as a stream, update a session idempotently, and
//! verify Truemed's webhooks.
//!
//! ```
//! # #[cfg(not(feature = "testing"))] fn main() {}
//! # #[cfg(feature = "testing")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), truemed_ext::Error> {
//! # let fake = truemed_ext::testing::FakeTruemed::start().await;
//! # fake.seed(truemed_ext::testing::SessionSeed::new("qs_123"));
//! # std::env::set_var("TRUEMED_API_KEY", fake.api_key());
//! # std::env::set_var("TRUEMED_BASE_URL", fake.base_url());
//! use futures::TryStreamExt as _;
//! use truemed_ext::{Client, Status};
//!
//! let client = Client::from_env()?; // TRUEMED_API_KEY, optional TRUEMED_BASE_URL
//! let sessions = client.qualification_sessions();
//!
//! let one = sessions.get("qs_123").await?;
//! let approved: Vec<_> = sessions
//!     .list()
//!     .statuses([Status::Approved, Status::Rejected])
//!     .stream()
//!     .try_collect()
//!     .await?;
//! let out = sessions
//!     .update("qs_123")
//!     .user_id("user_42")
//!     .metadata(&serde_json::json!({"crm_id": 7}))?
//!     .send() // one idempotency key, reused on every retry
//!     .await?;
//! println!("{} {} {}", out.qualification_session_id, out.status, out.idempotency_key);
//! # let _ = (one, approved);
//! # Ok(())
//! # }
//! ```
//!
//! - [`Client`] / [`ClientBuilder`]: API key, environment or base URL, timeouts, retries.
//! - [`Error`]: one variant per documented API error, with status, code, message,
//!   request id and body; [`Error::is_retryable`].
//! - [`RetryPolicy`]: exponential backoff with jitter, `Retry-After` honoured;
//!   [`RetryBudget`]: a per-client cap on retries under a sustained outage.
//! - [`IdempotencyKey`]: random, derived from your ids, or fixed.
//! - [`webhook`]: verification of signed and unsigned webhook deliveries.
//! - `testing` (feature `testing`): a stateful fake Truemed server for your tests.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod error;
mod idempotency;
mod pagination;
mod retry;
mod sessions;
#[cfg(feature = "testing")]
pub mod testing;
pub mod webhook;

pub use client::{
    Client, ClientBuilder, Environment, API_KEY_ENV, API_KEY_HEADER, BASE_URL_ENV,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, USER_AGENT,
};
#[cfg(fuzzing)]
#[doc(hidden)]
pub use error::fuzzing;
pub use error::{
    ApiErrorResponse, Error, TransportError, UndecodableResponse, ERROR_BODY_LIMIT,
    USER_ID_ALREADY_SET,
};
pub use idempotency::{IdempotencyKey, KeyGenerator};
pub use pagination::{DEFAULT_CONCURRENCY, DEFAULT_PAGE_SIZE, MAX_PLAN_EXTENSIONS};
pub use retry::{RetryBudget, RetryPolicy, Sleeper};
pub use sessions::{
    GetRequest, ListRequest, Page, QualificationSessions, UpdateOutcome, UpdateRequest,
};

/// The generated raw client crate, for what this crate does not wrap.
pub use truemed_api as raw;
/// The model types of the API, generated from the spec.
pub use truemed_api::types::{
    ApiError, ListQualificationSessionsResponse, Pagination, QualificationSession,
    QualificationSessionCompleteWebhook, UpdateQualificationSessionResponse, WebhookEnvelope,
};
/// The status of a qualification session: an open enum, so a status Truemed adds later
/// decodes as [`Status::Unknown`] instead of failing.
pub use truemed_api::QualificationSessionStatus as Status;
/// Lenient value types of the model: timestamps and amounts that decode every readable
/// form a server sends.
pub use truemed_api::{Amount, Timestamp};

/// The workspace README's examples, compiled as doctests so the README cannot drift.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
