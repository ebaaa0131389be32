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
//! - [`RetryPolicy`]: exponential backoff with jitter, `Retry-After` honoured.
//! - [`IdempotencyKey`]: random, derived from your ids, or fixed.
//! - [`webhook`]: verification of signed and unsigned webhook deliveries.
//! - `testing` (feature `testing`): a stateful fake Truemed server for your tests.
//!
//! # Cargo features
//!
//! | Feature | Default | What it enables |
//! |---|---|---|
//! | `rustls` | yes | HTTPS through rustls with the aws-lc-rs crypto provider and the platform's certificate verifier (reqwest's `rustls`). Building aws-lc-sys needs a C compiler. |
//! | `rustls-no-provider` | no | rustls without a crypto provider, to bring your own (ring, a FIPS build): install it with `rustls::crypto::CryptoProvider::install_default` before building a `Client`, or building panics (reqwest's `rustls-no-provider`). |
//! | `native-tls` | no | HTTPS through the platform's TLS stack: OpenSSL on Linux (building needs its headers and `pkg-config`), Security.framework on macOS, SChannel on Windows (reqwest's `native-tls`). |
//! | `http2` | yes | HTTP/2, negotiated through ALPN; without it, HTTP/1.1 only (reqwest's `http2`). |
//! | `testing` | no | `truemed_ext::testing`: the in-process fake Truemed server, with axum and hyper. |
//!
//! The TLS features mirror reqwest's and enable them in truemed-api too. To pick one, turn
//! off the defaults: `truemed-ext = { version = "0.1", default-features = false, features =
//! ["native-tls", "http2"] }`. With no TLS feature only plain-`http` loopback URLs can be
//! reached (the fake, a local TLS-terminating proxy). With several, reqwest's default is
//! native-tls; to choose, build your own `reqwest::Client` (`tls_backend_rustls()` or
//! `tls_backend_native()`) and pass it to [`ClientBuilder::http_client`].
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
pub use error::{
    ApiErrorResponse, Error, BODY_SNIPPET_LIMIT, ERROR_BODY_LIMIT, USER_ID_ALREADY_SET,
};
pub use idempotency::{IdempotencyKey, KeyGenerator};
pub use pagination::{DEFAULT_CONCURRENCY, DEFAULT_PAGE_SIZE, MAX_PLAN_EXTENSIONS};
pub use retry::{RetryPolicy, Sleeper};
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

/// This crate's README (its crates.io page), compiled as doctests so it cannot drift. The
/// workspace README's examples are doctests of the `tests` member, outside this package.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
