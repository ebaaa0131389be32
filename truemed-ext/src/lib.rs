//! Production Rust client for [Truemed](https://www.truemed.com)'s Qualification Sessions
//! API: get a session, list sessions as a stream, update a session idempotently, and
//! verify Truemed's webhooks.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), truemed_ext::Error> {
//! # // The fake Truemed server (truemed-fake, a dev-dependency) stands in for Truemed.
//! # let fake = truemed_fake::FakeTruemed::start().await;
//! # fake.seed(truemed_fake::SessionSeed::new("qs_123"));
//! # std::env::set_var("TRUEMED_API_KEY", fake.api_key());
//! # std::env::set_var("TRUEMED_BASE_URL", fake.base_url());
//! use futures_util::TryStreamExt as _;
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
//!     .metadata(&serde_json::json!({"crm_id": 7}))
//!     .send() // one idempotency key, reused on every retry
//!     .await?;
//! println!("{} {} {}", out.qualification_session_id, out.status, out.idempotency_key);
//! # let _ = (one, approved);
//! # Ok(())
//! # }
//! ```
//!
//! # Crate organization
//!
//! Where to look, by what you want to do:
//!
//! | you want to | look at |
//! |---|---|
//! | configure a client: key, environment or base URL, timeouts, your own `reqwest::Client` | [`Client`], [`ClientBuilder`], [`Environment`] |
//! | get, list or update sessions | [`QualificationSessions`]: [`GetRequest`], [`ListRequest`] (one [`Page`]), [`UpdateRequest`] ([`UpdateOutcome`]) |
//! | every page or every session of a listing | [`Paginator`] (from [`ListRequest::paginate`]), [`PageStream`], [`ItemStream`] |
//! | handle failures | [`Error`]: an error answer is [`Error::Api`] ([`ApiError`], whose [`ApiErrorKind`] says which documented error), else [`TransportError`], [`UndecodableResponse`], or a refusal with a typed reason ([`InvalidRequest`], [`ConfigurationError`], [`PaginationError`]); [`Error::may_have_been_applied`] and [`Error::idempotency_key`] after a failed update |
//! | tune retries | [`RetryPolicy`] (per client or per call), [`RetryBudget`] (per client), [`Sleeper`] |
//! | make updates safe to resend | [`IdempotencyKey`], [`KeyGenerator`] |
//! | receive webhooks | [`webhook`] |
//! | find the completions no webhook announced (an endpoint down, a rotated secret) | [`reconcile`]: [`QualificationSessions::reconcile`] gives a [`Reconciliation`], whose [`ReconcileStream`] yields [`ReconcileEvent`]s: each [`Completion`] once, with the key a webhook's has |
//! | test without Truemed | the `truemed-fake` crate (a dev-dependency): the fake Truemed server in process, and from any language its control API and the `truemed-fake` binary |
//! | the model types | [`QualificationSession`], [`Status`], [`Timestamp`], [`Amount`], ...; the generated client itself: [`raw`] |
//!
//! Inside, modules import in one direction: `idempotency`, `operation`, `wire`, `redact`
//! (server text made safe to show), `retry_after` (its parser) and `completion` (leaves)
//! ← `refusal` (what the client refuses, with typed reasons), `decode` (naming decode
//! failures) ← `api_error` (an error answer and its kind) ← `error` ← `retry` (the retry
//! rule, policy, budget and loop) ← `client` ← `page` ← `pagination` ← `sessions`;
//! `webhook` builds on those, and `reconcile` (polling for completions) on `sessions` and
//! `completion`.
//!
//! # Cargo features
//!
//! | Feature | Default | What it enables |
//! |---|---|---|
//! | `rustls` | yes | HTTPS through rustls with the aws-lc-rs crypto provider and the platform's certificate verifier (reqwest's `rustls`). Building aws-lc-sys needs a C compiler. |
//! | `rustls-no-provider` | no | rustls without a crypto provider, to bring your own (ring, a FIPS build): install it with `rustls::crypto::CryptoProvider::install_default` before building a `Client`, or building panics (reqwest's `rustls-no-provider`). |
//! | `native-tls` | no | HTTPS through the platform's TLS stack: OpenSSL on Linux (building needs its headers and `pkg-config`), Security.framework on macOS, SChannel on Windows (reqwest's `native-tls`). |
//! | `http2` | yes | HTTP/2, negotiated through ALPN; without it, HTTP/1.1 only (reqwest's `http2`). |
//! | `schemars` | no | `schemars::JsonSchema` (schemars 0.8) for the model types, to generate JSON Schemas of them (truemed-api's `schemars`). |
//! | `axum` | no | `webhook::axum`: an axum 0.8 extractor that hands handlers the verified, decoded webhook delivery and refuses the rest (413, 401, 400) with a plain-text reason; axum without its default features, so no HTTP server. |
//! | `opentelemetry` | no | The `http.client.request.duration` histogram (seconds, per HTTP request, the HTTP client conventions' attributes and buckets), recorded through the OpenTelemetry metrics API (`opentelemetry` 0.33 alone: no SDK, no exporter) into the global meter provider or the one given to `ClientBuilder::meter_provider`. |
//!
//! The TLS features mirror reqwest's and enable them in truemed-api too. To pick one, turn
//! off the defaults: `truemed-ext = { version = "0.1", default-features = false, features =
//! ["native-tls", "http2"] }`. With no TLS feature only plain-`http` loopback URLs can be
//! reached (the fake, a local TLS-terminating proxy). With several, reqwest's default is
//! native-tls; to choose, build your own `reqwest::Client` (`tls_backend_rustls()` or
//! `tls_backend_native()`) and pass it to [`ClientBuilder::http_client`].
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api_error;
mod client;
mod completion;
mod decode;
mod error;
mod idempotency;
mod operation;
mod page;
mod pagination;
pub mod reconcile;
mod redact;
mod refusal;
mod retry;
mod retry_after;
mod sessions;
mod telemetry;
pub mod webhook;
mod wire;

pub use api_error::{ApiError, ApiErrorKind};
pub use client::{Client, ClientBuilder, Environment};
pub use completion::{Completion, CompletionKey, CompletionSource};
#[cfg(fuzzing)]
#[doc(hidden)]
pub use error::fuzzing;
pub use error::{Error, TransportError, UndecodableResponse};
pub use idempotency::{IdempotencyKey, InvalidIdempotencyKey, KeyGenerator};
pub use operation::Operation;
pub use page::Page;
pub use pagination::{ItemStream, PageStream, Paginator};
pub use reconcile::{PollFailure, ReconcileEvent, ReconcileStream, Reconciliation};
pub use refusal::{
    BaseUrlProblem, ConfigurationError, ConfigurationReason, InvalidRequest, InvalidRequestReason,
    PaginationError, PaginationErrorKind,
};
pub use retry::{RetryBudget, RetryPolicy, Sleeper};
pub use sessions::{GetRequest, ListRequest, QualificationSessions, UpdateOutcome, UpdateRequest};
pub use wire::{API_KEY_ENV, API_KEY_HEADER, BASE_URL_ENV, USER_ID_ALREADY_SET};

/// The generated raw client crate, for what this crate does not wrap.
pub use truemed_api as raw;
/// The model types of the API, generated from the spec. (The error body's model is
/// [`raw::types::ApiError`]; an error answer is this crate's [`ApiError`].)
pub use truemed_api::types::{
    ListQualificationSessionsResponse, Pagination, QualificationSession,
    QualificationSessionCompleteWebhook, UpdateQualificationSessionResponse, WebhookEnvelope,
};
/// The status of a qualification session: an open enum, so a status Truemed adds later
/// decodes as [`Status::Unknown`] instead of failing.
pub use truemed_api::QualificationSessionStatus as Status;
/// Lenient value types of the model: timestamps and amounts that decode every readable
/// form a server sends.
pub use truemed_api::{Amount, Timestamp};

/// This crate's README (its crates.io page), compiled as doctests so it cannot drift. The
/// workspace README's examples are doctests of the `tests` member, outside this package.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
