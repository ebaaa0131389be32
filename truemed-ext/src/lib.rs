#![doc = include_str!("../README.md")]
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
