//! An [axum](https://docs.rs/axum/0.8) extractor for verified webhook deliveries (feature
//! `axum`).
//!
//! A handler takes [`VerifiedWebhook`] as an argument and gets the authenticated, decoded
//! delivery; everything else is refused before the handler runs, with a
//! [`WebhookRejection`] that answers a short plain-text reason. The extractor reads its
//! configuration, a [`WebhookConfig`], from the router's state through [`FromRef`], as axum's
//! own extractors do. On success, what Truemed gets is the handler's own answer.
//!
//! ```no_run
//! use std::collections::HashSet;
//! use std::sync::{Arc, Mutex};
//!
//! use axum::extract::{FromRef, State};
//! use axum::http::StatusCode;
//! use axum::routing::post;
//! use axum::Router;
//! use truemed_ext::webhook::axum::{VerifiedWebhook, WebhookConfig};
//! use truemed_ext::webhook::WebhookVerifier;
//! use truemed_ext::CompletionKey;
//!
//! #[derive(Clone)]
//! struct AppState {
//!     webhooks: WebhookConfig,
//!     // Stands in for your database (see "Deduplicating" below).
//!     applied: Arc<Mutex<HashSet<CompletionKey>>>,
//! }
//!
//! impl FromRef<AppState> for WebhookConfig {
//!     fn from_ref(state: &AppState) -> Self {
//!         state.webhooks.clone()
//!     }
//! }
//!
//! async fn truemed_webhook(State(state): State<AppState>, webhook: VerifiedWebhook) -> StatusCode {
//!     let Some(completion) = webhook.completion() else {
//!         // An event this receiver does not act on: 2xx, or Truemed retries it for days.
//!         return StatusCode::NO_CONTENT;
//!     };
//!     if !state.applied.lock().unwrap().insert(completion.key()) {
//!         return StatusCode::NO_CONTENT; // a redelivery: already applied
//!     }
//!     println!("{} is {}", completion.qualification_session_id, completion.status);
//!     StatusCode::NO_CONTENT
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let secret = std::env::var("TRUEMED_WEBHOOK_SECRET").expect("TRUEMED_WEBHOOK_SECRET");
//!     let state = AppState {
//!         webhooks: WebhookConfig::signed(WebhookVerifier::new(secret)),
//!         applied: Arc::default(),
//!     };
//!     let app = Router::new()
//!         .route("/hooks/truemed", post(truemed_webhook))
//!         .with_state(state);
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await
//! }
//! ```
//!
//! A router whose state is the [`WebhookConfig`] itself needs no `FromRef` impl:
//! `Router::new().route("/hooks/truemed", post(handler)).with_state(config)`.
//!
//! # What the handler gets
//!
//! One extractor for both delivery methods: the [`WebhookConfig`] says which one the
//! endpoint takes ([`WebhookConfig::signed`] or [`WebhookConfig::unsigned`], as the webhook
//! was created at Truemed), so moving a webhook from unsigned to signed is a change of
//! configuration, not of handlers. [`VerifiedWebhook`] is an enum of the two decoded forms,
//! [`SignedDelivery`] (`webhook_delivery_id`, `timestamp`, `event`) and the unsigned flat
//! [`QualificationSessionCompleteWebhook`] payload, and both give what a handler acts on:
//! [`VerifiedWebhook::completion`] (a [`Completion`], the type reconciliation gives too) and
//! [`VerifiedWebhook::key`] (its [`CompletionKey`]).
//!
//! Event types this crate does not know reach the handler too, as
//! [`WebhookEvent::Unknown`] (with no completion): the handler decides, and should answer
//! 2xx to what it ignores, or Truemed retries it.
//!
//! # Deduplicating
//!
//! Truemed delivers at least once and retries for up to 7 days, and reconciliation may find
//! a completion before or after its webhook, so the work a completion triggers must be
//! applied once per [`CompletionKey`] (the session id and its terminal status), not once
//! per request. The key is the same for a redelivery, for a second delivery of the same
//! completion, for the unsigned payload (which has no delivery id) and for the completion
//! reconciliation finds by polling. Record it with a unique index, **in the same transaction
//! as the work**, and answer 2xx on a duplicate:
//!
//! ```text
//! CREATE TABLE truemed_completions (key TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL);
//!
//! BEGIN;
//! INSERT INTO truemed_completions (key, applied_at) VALUES ($1, now())   -- completion.key().to_string()
//!     ON CONFLICT (key) DO NOTHING;
//! -- 0 rows inserted: a duplicate; ROLLBACK and answer 204.
//! UPDATE orders SET hsa_fsa_status = $2 WHERE truemed_session_id = $3;   -- the work
//! COMMIT;                                                                -- then answer 204
//! ```
//!
//! If the work fails, the transaction rolls the key back and the handler answers 5xx, so
//! Truemed's next retry applies the completion. A handler that acts on events other than
//! completions deduplicates those on [`VerifiedWebhook::webhook_delivery_id`].
//!
//! # Refusals
//!
//! In this order, each refusal a [`WebhookRejection`] whose response is `text/plain;
//! charset=utf-8` with a one-line reason that names what is wrong, never a secret, a
//! signature or anything from the body:
//!
//! | status | [`WebhookRejectionKind`] | when |
//! |---|---|---|
//! | `413` | `BodyTooLarge` | the body is over the [limit](WebhookConfig::with_body_limit) ([`DEFAULT_BODY_LIMIT`], 64 KiB, by default); the reason says the limit. A `Content-Length` over it is refused before any byte of the body is read; a body without one is read up to the limit and no further |
//! | `400` | `BodyUnreadable` | the body could not be read (the connection broke, or ended before its `Content-Length`) |
//! | `401` | `Unauthenticated` | the authenticating header is missing, repeated, malformed, or carries no valid signature under any configured secret (signed), or not the shared secret (unsigned); or the signature is valid but its timestamp is outside the [tolerance](crate::webhook::WebhookVerifier::with_tolerance) |
//! | `400` | `NotADelivery` | the delivery is authentic but its body is not a delivery (not JSON, not an envelope, a `qualification_session.complete` event whose data is not the payload) |
//! | `500` | `Misconfigured` | the [`WebhookVerifier`] holds no non-empty secret |
//!
//! Choices, and why:
//!
//! - **A malformed or repeated header is `401`**, where [`WebhookError::status_code`] says
//!   `400`: to the sender, a header that cannot be parsed authenticates nothing, like a
//!   missing one; the [`WebhookError`] ([`WebhookRejection::webhook_error`], also the
//!   rejection's [`source`](std::error::Error::source)) still says which.
//! - **The `Content-Type` is not checked.** The signature (or the shared secret)
//!   authenticates the raw bytes, and the content type is outside it: it proves nothing,
//!   and refusing an authentic delivery for its header (a proxy that rewrites it, a
//!   `charset` parameter, a change at Truemed) would have it retried for days and then lost.
//!   Truemed sends `application/json`; whatever the header says, the body is decoded as JSON
//!   and refused with `400` if it is not a delivery.
//! - **The body limit is the configuration's**: axum's `DefaultBodyLimit` layer does not
//!   change it (deliveries are small; the bound is there so that no one makes the receiver
//!   buffer megabytes before it can refuse them).
//! - Authentication comes before decoding, so an unauthenticated request learns nothing
//!   about what the receiver would decode; the tolerance is checked after the signature, so
//!   a stale-timestamp refusal is an authentic replay (or a clock to fix), not a forgery.
//!
//! To log refusals (the extractor logs them at `DEBUG`, with their kind), take
//! `Result<VerifiedWebhook, WebhookRejection>` and answer the rejection after logging it:
//!
//! ```
//! use axum::response::{IntoResponse, Response};
//! use truemed_ext::webhook::axum::{VerifiedWebhook, WebhookRejection};
//!
//! async fn truemed_webhook(webhook: Result<VerifiedWebhook, WebhookRejection>) -> Response {
//!     let webhook = match webhook {
//!         Ok(webhook) => webhook,
//!         Err(rejection) => {
//!             eprintln!("refused a webhook ({}): {rejection}", rejection.kind().as_str());
//!             return rejection.into_response();
//!         }
//!     };
//!     // ...
//!     # let _ = webhook;
//!     axum::http::StatusCode::NO_CONTENT.into_response()
//! }
//! ```

use std::fmt;
use std::sync::Arc;

use ::axum::body::{Body, Bytes, HttpBody as _};
use ::axum::extract::{FromRef, FromRequest, Request};
use ::axum::response::{IntoResponse, Response};
use http::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::StatusCode;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use truemed_api::types::QualificationSessionCompleteWebhook;

use super::{SignedDelivery, WebhookError, WebhookEvent, WebhookVerifier};
use super::{QUALIFICATION_SESSION_COMPLETE, SIGNATURE_HEADER};
use crate::completion::{Completion, CompletionKey};
use crate::wire::API_KEY_HEADER;

/// The body limit of a [`WebhookConfig`] unless [`WebhookConfig::with_body_limit`] says
/// otherwise: 64 KiB, far above any delivery.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// How an endpoint's deliveries are authenticated, fixed when the webhook is created at
/// Truemed (see the [webhook module docs](super#delivery-methods)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryMethod {
    /// Signed deliveries: an envelope, with HMAC signatures in [`SIGNATURE_HEADER`].
    Signed,
    /// Unsigned deliveries: the flat payload, with the shared secret in [`API_KEY_HEADER`].
    Unsigned,
}

/// The configuration of the [`VerifiedWebhook`] extractor: the verifier (its secrets and
/// tolerance), the delivery method, and the body limit.
///
/// The extractor takes it from the router's state through [`FromRef`]: make it the state,
/// or a field of the state with an `impl FromRef<AppState> for WebhookConfig` (see the
/// [module docs](self)). Cheap to clone (the verifier is shared); its `Debug` output
/// redacts the secrets.
///
/// ```
/// use truemed_ext::webhook::axum::{DeliveryMethod, WebhookConfig, DEFAULT_BODY_LIMIT};
/// use truemed_ext::webhook::WebhookVerifier;
///
/// // While rotating secrets, accept deliveries signed with either.
/// let config = WebhookConfig::signed(
///     WebhookVerifier::new("whsec_current").also_accept("whsec_previous"),
/// );
/// assert_eq!(config.method(), DeliveryMethod::Signed);
/// assert_eq!(config.body_limit(), DEFAULT_BODY_LIMIT);
/// assert!(!format!("{config:?}").contains("whsec"));
///
/// let unsigned = WebhookConfig::unsigned(WebhookVerifier::new("shared-secret"))
///     .with_body_limit(16 * 1024);
/// assert_eq!(unsigned.body_limit(), 16 * 1024);
/// ```
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    verifier: Arc<WebhookVerifier>,
    method: DeliveryMethod,
    body_limit: usize,
}

impl WebhookConfig {
    /// An endpoint that takes **signed** deliveries, verified by `verifier` (every secret it
    /// holds is accepted, within its tolerance of the system clock).
    pub fn signed(verifier: WebhookVerifier) -> Self {
        Self::new(verifier, DeliveryMethod::Signed)
    }

    /// An endpoint that takes **unsigned** deliveries, whose [`API_KEY_HEADER`] must be one
    /// of `verifier`'s secrets (the shared secret; several while rotating it).
    pub fn unsigned(verifier: WebhookVerifier) -> Self {
        Self::new(verifier, DeliveryMethod::Unsigned)
    }

    fn new(verifier: WebhookVerifier, method: DeliveryMethod) -> Self {
        Self { verifier: Arc::new(verifier), method, body_limit: DEFAULT_BODY_LIMIT }
    }

    /// Sets the largest body read, in bytes ([`DEFAULT_BODY_LIMIT`] by default); a larger
    /// one is refused with `413`. A body of exactly `bytes` is read.
    #[must_use]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The body limit, in bytes.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// The delivery method the endpoint takes.
    pub fn method(&self) -> DeliveryMethod {
        self.method
    }

    /// The verifier.
    pub fn verifier(&self) -> &WebhookVerifier {
        &self.verifier
    }

    /// Authenticates and decodes a delivery's raw body.
    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<VerifiedWebhook, WebhookError> {
        match self.method {
            DeliveryMethod::Signed => {
                self.verifier.verify_signed(headers, body).map(VerifiedWebhook::Signed)
            }
            DeliveryMethod::Unsigned => {
                self.verifier.verify_unsigned(headers, body).map(VerifiedWebhook::Unsigned)
            }
        }
    }
}

/// An authenticated, decoded webhook delivery: the extractor (see the
/// [module docs](self)).
///
/// Which variant a handler gets is fixed by its endpoint's [`WebhookConfig`]; the methods
/// give what both have.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum VerifiedWebhook {
    /// A signed delivery ([`WebhookConfig::signed`]).
    Signed(SignedDelivery),
    /// An unsigned delivery ([`WebhookConfig::unsigned`]): always a completed session.
    Unsigned(QualificationSessionCompleteWebhook),
}

impl VerifiedWebhook {
    /// The completion the delivery announces: `None` for an event that is not a
    /// `qualification_session.complete` (an [`WebhookEvent::Unknown`]), or whose status is
    /// not terminal (Truemed sends it only for `approved` and `rejected`).
    pub fn completion(&self) -> Option<Completion> {
        Completion::from_webhook(self.payload()?, self.webhook_delivery_id())
    }

    /// The deduplication key of the [completion](Self::completion): the same for every
    /// delivery of one completion, signed or not, and for the completion reconciliation
    /// finds by polling (see [Deduplicating](self#deduplicating)). `None` when there is no
    /// completion.
    pub fn key(&self) -> Option<CompletionKey> {
        self.completion().map(|completion| completion.key())
    }

    /// The payload of a completed session, if the delivery is one: the unsigned payload, or
    /// the data of a signed [`WebhookEvent::QualificationSessionComplete`].
    pub fn payload(&self) -> Option<&QualificationSessionCompleteWebhook> {
        match self {
            Self::Signed(delivery) => match &delivery.event {
                WebhookEvent::QualificationSessionComplete(payload) => Some(payload),
                WebhookEvent::Unknown { .. } => None,
            },
            Self::Unsigned(payload) => Some(payload),
        }
    }

    /// The signed delivery's `webhook_delivery_id` (stable across redeliveries); `None` for
    /// an unsigned delivery, which has none.
    pub fn webhook_delivery_id(&self) -> Option<&str> {
        match self {
            Self::Signed(delivery) => Some(&delivery.webhook_delivery_id),
            Self::Unsigned(_) => None,
        }
    }

    /// The event type: [`QUALIFICATION_SESSION_COMPLETE`] for a completed session (and for
    /// every unsigned delivery), the type as sent for an unknown event.
    pub fn event_type(&self) -> &str {
        match self {
            Self::Signed(delivery) => delivery.event.event_type(),
            Self::Unsigned(_) => QUALIFICATION_SESSION_COMPLETE,
        }
    }

    /// How the delivery was authenticated.
    pub fn method(&self) -> DeliveryMethod {
        match self {
            Self::Signed(_) => DeliveryMethod::Signed,
            Self::Unsigned(_) => DeliveryMethod::Unsigned,
        }
    }
}

impl<S> FromRequest<S> for VerifiedWebhook
where
    WebhookConfig: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let config = WebhookConfig::from_ref(state);
        let (parts, body) = request.into_parts();
        let outcome = match read_body(&parts.headers, body, config.body_limit).await {
            Ok(body) => {
                config.verify(&parts.headers, &body).map_err(WebhookRejection::from_webhook_error)
            }
            Err(rejection) => Err(rejection),
        };
        if let Err(rejection) = &outcome {
            tracing::debug!(
                status = rejection.status().as_u16(),
                kind = rejection.kind().as_str(),
                reason = %rejection,
                content_type = parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
                "refused a webhook delivery"
            );
        }
        outcome
    }
}

/// Reads the body, at most `limit` bytes: refused from its `Content-Length` before reading
/// when that says more, and as soon as the bytes read go past it otherwise.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, WebhookRejection> {
    let too_large = || WebhookRejection::new(Reason::BodyTooLarge { limit });
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    if announced_length(headers).is_some_and(|length| length > limit_u64)
        || body.size_hint().lower() > limit_u64
    {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(_) => Err(WebhookRejection::new(Reason::BodyUnreadable)),
    }
}

/// The largest `Content-Length` the request announces, if any parses.
fn announced_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get_all(CONTENT_LENGTH)
        .iter()
        .filter_map(|value| value.to_str().ok()?.trim().parse::<u64>().ok())
        .max()
}

/// What kind of refusal a [`WebhookRejection`] is, for logs and metrics; each kind has one
/// status (see the table in the [module docs](self#refusals)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WebhookRejectionKind {
    /// `413`: the body is over the configured limit.
    BodyTooLarge,
    /// `400`: the body could not be read.
    BodyUnreadable,
    /// `401`: the delivery is not authenticated (the authenticating header is missing,
    /// repeated or malformed, no signature or secret matches, or the timestamp is outside
    /// the tolerance).
    Unauthenticated,
    /// `400`: the delivery is authentic but its body is not a delivery.
    NotADelivery,
    /// `500`: the receiver's verifier has no non-empty secret.
    Misconfigured,
}

impl WebhookRejectionKind {
    /// The kind in `snake_case` (`body_too_large`, `unauthenticated`, ...), for structured
    /// logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BodyTooLarge => "body_too_large",
            Self::BodyUnreadable => "body_unreadable",
            Self::Unauthenticated => "unauthenticated",
            Self::NotADelivery => "not_a_delivery",
            Self::Misconfigured => "misconfigured",
        }
    }

    /// The status a refusal of this kind answers.
    pub fn status(self) -> StatusCode {
        match self {
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyUnreadable | Self::NotADelivery => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for WebhookRejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why [`VerifiedWebhook`] refused a request, and the response it answers.
///
/// Its [`IntoResponse`] is its [`status`](Self::status) with its `Display` (a one-line
/// reason naming what is wrong, never a secret, a signature or anything from the body) as a
/// `text/plain; charset=utf-8` body. Where verification refused the delivery, the
/// [`WebhookError`] is its [`source`](std::error::Error::source) and
/// [`webhook_error`](Self::webhook_error).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookRejection {
    reason: Reason,
}

/// What a [`WebhookRejection`] holds.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Reason {
    BodyTooLarge { limit: usize },
    BodyUnreadable,
    Verification(WebhookError),
}

impl WebhookRejection {
    fn new(reason: Reason) -> Self {
        Self { reason }
    }

    fn from_webhook_error(error: WebhookError) -> Self {
        Self::new(Reason::Verification(error))
    }

    /// The kind of refusal.
    pub fn kind(&self) -> WebhookRejectionKind {
        match &self.reason {
            Reason::BodyTooLarge { .. } => WebhookRejectionKind::BodyTooLarge,
            Reason::BodyUnreadable => WebhookRejectionKind::BodyUnreadable,
            Reason::Verification(error) => match error {
                WebhookError::MissingHeader { .. }
                | WebhookError::MalformedHeader { .. }
                | WebhookError::NoValidSignature
                | WebhookError::TimestampOutOfTolerance { .. }
                | WebhookError::BadSharedSecret => WebhookRejectionKind::Unauthenticated,
                WebhookError::UndecodableBody { .. } => WebhookRejectionKind::NotADelivery,
                WebhookError::NoSecretConfigured => WebhookRejectionKind::Misconfigured,
            },
        }
    }

    /// The status the rejection answers: `413`, `401`, `400` or `500` (see the table in the
    /// [module docs](self#refusals)).
    pub fn status(&self) -> StatusCode {
        self.kind().status()
    }

    /// The verifier's refusal, when verification refused the delivery (not for a body that
    /// is too large or unreadable).
    pub fn webhook_error(&self) -> Option<&WebhookError> {
        match &self.reason {
            Reason::Verification(error) => Some(error),
            Reason::BodyTooLarge { .. } | Reason::BodyUnreadable => None,
        }
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            Reason::BodyTooLarge { limit } => {
                write!(f, "webhook body is over the limit of {limit} bytes")
            }
            Reason::BodyUnreadable => f.write_str("webhook body could not be read"),
            Reason::Verification(error) => match error {
                WebhookError::MissingHeader { header } => write!(f, "missing `{header}` header"),
                WebhookError::MalformedHeader { header, problem } => {
                    write!(f, "malformed `{header}` header: {problem}")
                }
                WebhookError::NoValidSignature => {
                    write!(f, "no valid signature in `{SIGNATURE_HEADER}`")
                }
                WebhookError::TimestampOutOfTolerance { timestamp, now, tolerance } => write!(
                    f,
                    "signature timestamp is {} s in the {}, beyond the tolerance of {} s",
                    timestamp.abs_diff(*now),
                    if timestamp > now { "future" } else { "past" },
                    tolerance.as_secs()
                ),
                WebhookError::BadSharedSecret => {
                    write!(f, "wrong shared secret in `{API_KEY_HEADER}`")
                }
                // The message holds no value from the body (see `WebhookError`).
                WebhookError::UndecodableBody { message } => {
                    write!(f, "body is not a Truemed webhook delivery: {message}")
                }
                WebhookError::NoSecretConfigured => {
                    f.write_str("webhook receiver is misconfigured")
                }
            },
        }
    }
}

impl std::error::Error for WebhookRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.webhook_error().map(|error| error as &(dyn std::error::Error + 'static))
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        let content_type = HeaderValue::from_static("text/plain; charset=utf-8");
        (self.status(), [(CONTENT_TYPE, content_type)], self.to_string()).into_response()
    }
}

impl From<WebhookError> for WebhookRejection {
    /// The rejection of a delivery the verifier refused: for handlers that verify some other
    /// way and answer as the extractor does.
    fn from(error: WebhookError) -> Self {
        Self::from_webhook_error(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::HeaderProblem;

    /// The extractor answers what `WebhookError::status_code` tells a hand-written
    /// receiver to answer, for every verification error.
    #[test]
    fn a_refused_verification_answers_the_errors_own_status_code() {
        let errors = [
            WebhookError::MissingHeader { header: "x" },
            WebhookError::MalformedHeader { header: "x", problem: HeaderProblem::Empty },
            WebhookError::NoValidSignature,
            WebhookError::TimestampOutOfTolerance {
                timestamp: 0,
                now: 1_000,
                tolerance: std::time::Duration::from_secs(300),
            },
            WebhookError::BadSharedSecret,
            WebhookError::UndecodableBody { message: "data: missing field".into() },
            WebhookError::NoSecretConfigured,
        ];
        for error in errors {
            let status = error.status_code();
            let rejection = WebhookRejection::from_webhook_error(error.clone());
            assert_eq!(rejection.kind().status(), status, "{error:?}");
            assert_eq!(rejection.status(), status, "{error:?}");
        }
    }
}
