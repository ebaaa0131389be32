//! Receive Truemed's webhooks: verify signed and unsigned deliveries, then decode them into
//! typed events.
//!
//! Framework-agnostic: give the verifier the request's [`http::HeaderMap`] and its **raw**
//! body bytes, exactly as received (the signature covers those bytes, not re-serialized JSON).
//!
//! ```
//! use std::time::{SystemTime, UNIX_EPOCH};
//! use truemed_ext::webhook::{self, WebhookEvent, WebhookVerifier};
//!
//! let secret = "whsec_example";
//! let body = br#"{"webhook_delivery_id":"whd_1","event_type":"qualification_session.complete",
//!     "data":{"qualification_session_id":"qs_1","status":"approved","user_id":"user_42"}}"#;
//!
//! // What Truemed does, and what your tests can do: sign the raw body.
//! let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
//! let headers = webhook::signed_headers(secret, now, body);
//!
//! // What your receiver does: verify, then deduplicate on the delivery id and handle the event.
//! let verifier = WebhookVerifier::new(secret);
//! let delivery = verifier.verify_signed(&headers, body)?;
//! assert_eq!(delivery.webhook_delivery_id, "whd_1");
//! match delivery.event {
//!     WebhookEvent::QualificationSessionComplete(session) => {
//!         assert_eq!(session.qualification_session_id, "qs_1");
//!         assert!(session.status.is_terminal());
//!     }
//!     other => println!("ignoring {}", other.event_type()),
//! }
//!
//! // A body that is not the signed one is refused.
//! let refused = verifier.verify_signed(&headers, b"{}").unwrap_err();
//! assert_eq!(refused, webhook::WebhookError::NoValidSignature);
//! assert_eq!(refused.status_code(), 401);
//! # Ok::<(), webhook::WebhookError>(())
//! ```
//!
//! # Delivery methods
//!
//! A webhook is either **signed** (recommended) or **unsigned**, fixed when it is created:
//!
//! - Signed: [`WebhookVerifier::verify_signed`] checks the `x-truemed-signature` header (a
//!   timestamp and one or more HMAC-SHA256 signatures of `{t}.{raw_body}`; any valid `v1`
//!   signature is accepted, other versions are ignored), refuses timestamps further than the
//!   [tolerance](WebhookVerifier::tolerance) from the clock in either direction, and decodes the
//!   envelope into a [`SignedDelivery`]: its `webhook_delivery_id`, stable across redeliveries,
//!   is the receiver's idempotency key, and its [`WebhookEvent`] is typed, with event types this
//!   crate does not know kept as raw JSON.
//! - Unsigned: [`WebhookVerifier::verify_unsigned`] compares the `x-truemed-api-key` header with
//!   the shared secret in constant time and decodes the flat
//!   [`QualificationSessionCompleteWebhook`] payload.
//!
//! Every refusal is a [`WebhookError`]; nothing here panics on any input. Answer `204` to
//! accepted deliveries and [`WebhookError::status_code`] to refused ones. Truemed retries for
//! up to 7 days, so receivers must be idempotent. Cap the body size in your framework
//! (deliveries are small).
//!
//! Secret rotation on the receiving side: give the verifier every secret currently valid with
//! [`WebhookVerifier::with_secrets`] or [`WebhookVerifier::also_accept`].
//!
//! # Inferred wire format
//!
//! Truemed does not document the syntax of the signature header nor the envelope's event name
//! for this webhook. Both are defined, with every other wire-level constant, in [`wire`]; see
//! there for what is documented and what is inferred.
//!
//! # Testing your receiver
//!
//! [`sign`], [`signed_headers`], [`unsigned_headers`] and [`envelope_body`] build deliveries
//! the way Truemed does, and [`WebhookVerifier::verify_signed_at`] fixes the clock.
#![warn(missing_docs)]

mod error;
mod signature;
pub mod wire;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::wire::API_KEY_HEADER;

pub use error::WebhookError;
pub use signature::{HeaderProblem, SignatureHeader};
pub use truemed_api::types::{QualificationSessionCompleteWebhook, WebhookEnvelope};
pub use wire::{DEFAULT_TOLERANCE, QUALIFICATION_SESSION_COMPLETE, SIGNATURE_HEADER};

/// A webhook secret: the HMAC key of signed deliveries, or the shared secret of unsigned ones.
///
/// Its `Debug` output is redacted. Build one from a `&str`, `String`, `&[u8]` or `Vec<u8>`;
/// the bytes are used as they are (see [`wire`]).
#[derive(Clone)]
pub struct WebhookSecret(Box<[u8]>);

impl WebhookSecret {
    /// Whether the secret is empty (an empty secret never authenticates anything).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl From<&str> for WebhookSecret {
    fn from(secret: &str) -> Self {
        Self(secret.as_bytes().into())
    }
}

impl From<String> for WebhookSecret {
    fn from(secret: String) -> Self {
        Self(secret.into_bytes().into_boxed_slice())
    }
}

impl From<&String> for WebhookSecret {
    fn from(secret: &String) -> Self {
        Self::from(secret.as_str())
    }
}

impl From<&[u8]> for WebhookSecret {
    fn from(secret: &[u8]) -> Self {
        Self(secret.into())
    }
}

impl From<Vec<u8>> for WebhookSecret {
    fn from(secret: Vec<u8>) -> Self {
        Self(secret.into_boxed_slice())
    }
}

/// Verifies webhook deliveries against one or more secrets.
///
/// Cheap to clone; its `Debug` output redacts the secrets.
///
/// ```
/// use std::time::Duration;
/// use truemed_ext::webhook::WebhookVerifier;
///
/// let verifier = WebhookVerifier::new("whsec_current")
///     .also_accept("whsec_previous") // while rotating secrets
///     .tolerance(Duration::from_secs(120));
/// assert!(!format!("{verifier:?}").contains("whsec"));
/// ```
#[derive(Clone)]
pub struct WebhookVerifier {
    secrets: Vec<WebhookSecret>,
    tolerance: Duration,
}

impl WebhookVerifier {
    /// A verifier for one secret, with the [default tolerance](DEFAULT_TOLERANCE) of 300 s.
    pub fn new(secret: impl Into<WebhookSecret>) -> Self {
        Self {
            secrets: vec![secret.into()],
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// A verifier that accepts deliveries authenticated by any of `secrets`.
    pub fn with_secrets<S: Into<WebhookSecret>>(secrets: impl IntoIterator<Item = S>) -> Self {
        Self {
            secrets: secrets.into_iter().map(Into::into).collect(),
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// Also accepts deliveries authenticated by `secret` (secret rotation on the receiving
    /// side).
    #[must_use]
    pub fn also_accept(mut self, secret: impl Into<WebhookSecret>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// How far a signed delivery's timestamp may be from the clock, in either direction, in
    /// whole seconds (fractions are dropped). A delivery exactly at the tolerance is accepted.
    /// The default is [`DEFAULT_TOLERANCE`].
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The configured tolerance.
    pub fn current_tolerance(&self) -> Duration {
        self.tolerance
    }

    /// Verifies a signed delivery against the system clock, then decodes it.
    pub fn verify_signed(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<SignedDelivery, WebhookError> {
        self.verify_signed_at(headers, body, unix_now())
    }

    /// Verifies a signed delivery as if the clock read `now` (unix seconds), then decodes it.
    pub fn verify_signed_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<SignedDelivery, WebhookError> {
        let value = single_header(headers, SIGNATURE_HEADER)?;
        let value = value.to_str().map_err(|_| WebhookError::MalformedHeader {
            header: SIGNATURE_HEADER,
            problem: HeaderProblem::NotVisibleAscii,
        })?;
        self.verify_signature(value, body, now)
    }

    /// Verifies a signed delivery given the value of its `x-truemed-signature` header, as if the
    /// clock read `now` (unix seconds), then decodes it. For frameworks whose header types are
    /// not [`http::HeaderMap`].
    ///
    /// The signature is checked before the timestamp, so
    /// [`WebhookError::TimestampOutOfTolerance`] means an authentic but old (or future)
    /// delivery.
    pub fn verify_signature(
        &self,
        signature_header: &str,
        body: &[u8],
        now: i64,
    ) -> Result<SignedDelivery, WebhookError> {
        self.ensure_configured()?;
        let header = SignatureHeader::parse(signature_header).map_err(|problem| {
            WebhookError::MalformedHeader {
                header: SIGNATURE_HEADER,
                problem,
            }
        })?;
        if !header.matches_any(self.secrets.iter().map(WebhookSecret::bytes), body) {
            return Err(WebhookError::NoValidSignature);
        }
        let timestamp = header.timestamp();
        let tolerance = i128::from(self.tolerance.as_secs());
        if (i128::from(now) - i128::from(timestamp)).abs() > tolerance {
            return Err(WebhookError::TimestampOutOfTolerance {
                timestamp,
                now,
                tolerance: self.tolerance,
            });
        }
        decode_envelope(body, timestamp)
    }

    /// Verifies an unsigned delivery (shared secret in `x-truemed-api-key`), then decodes its
    /// flat payload.
    pub fn verify_unsigned(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<QualificationSessionCompleteWebhook, WebhookError> {
        let value = single_header(headers, API_KEY_HEADER)?;
        self.verify_api_key(value.as_bytes(), body)
    }

    /// Verifies an unsigned delivery given the value of its `x-truemed-api-key` header, then
    /// decodes its flat payload. For frameworks whose header types are not
    /// [`http::HeaderMap`].
    ///
    /// The comparison runs in constant time, including in the secret's length (both sides are
    /// hashed first), and against every configured secret.
    pub fn verify_api_key(
        &self,
        api_key: &[u8],
        body: &[u8],
    ) -> Result<QualificationSessionCompleteWebhook, WebhookError> {
        self.ensure_configured()?;
        let presented = Sha256::digest(api_key);
        let mut matched = Choice::from(0u8);
        for secret in self.secrets.iter().filter(|s| !s.is_empty()) {
            matched |= Sha256::digest(secret.bytes()).ct_eq(&presented);
        }
        if !bool::from(matched) {
            return Err(WebhookError::BadSharedSecret);
        }
        serde_json::from_slice(body)
            .map_err(|e| WebhookError::undecodable("unsigned `qualification_session_complete`", &e))
    }

    fn ensure_configured(&self) -> Result<(), WebhookError> {
        if self.secrets.iter().all(WebhookSecret::is_empty) {
            return Err(WebhookError::NoSecretConfigured);
        }
        Ok(())
    }
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("secrets", &self.secrets)
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

/// An authenticated signed delivery.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SignedDelivery {
    /// Stable across redeliveries of one event: the receiver's idempotency key.
    pub webhook_delivery_id: String,
    /// When Truemed signed this attempt, in unix seconds.
    pub timestamp: i64,
    /// The event.
    pub event: WebhookEvent,
}

/// The event of a signed delivery.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// A qualification session became `approved` or `rejected` (event type
    /// [`QUALIFICATION_SESSION_COMPLETE`]).
    QualificationSessionComplete(QualificationSessionCompleteWebhook),
    /// An event type this version of the crate does not know, kept as sent.
    Unknown {
        /// The event type, as sent.
        event_type: String,
        /// The event's `data`, as sent.
        data: serde_json::Value,
    },
}

impl WebhookEvent {
    /// The event type: [`QUALIFICATION_SESSION_COMPLETE`] for a completed session, the type as
    /// sent for unknown events.
    pub fn event_type(&self) -> &str {
        match self {
            Self::QualificationSessionComplete(_) => QUALIFICATION_SESSION_COMPLETE,
            Self::Unknown { event_type, .. } => event_type,
        }
    }
}

/// Decodes an authenticated envelope.
fn decode_envelope(body: &[u8], timestamp: i64) -> Result<SignedDelivery, WebhookError> {
    let envelope: WebhookEnvelope = serde_json::from_slice(body)
        .map_err(|e| WebhookError::undecodable("webhook envelope", &e))?;
    let WebhookEnvelope {
        data,
        event_type,
        webhook_delivery_id,
    } = envelope;
    let event = if wire::QUALIFICATION_SESSION_COMPLETE_ALIASES.contains(&event_type.as_str()) {
        let payload = serde_json::from_value(serde_json::Value::Object(data)).map_err(|e| {
            WebhookError::undecodable("`data` of a `qualification_session.complete` event", &e)
        })?;
        WebhookEvent::QualificationSessionComplete(payload)
    } else {
        WebhookEvent::Unknown {
            event_type,
            data: serde_json::Value::Object(data),
        }
    };
    Ok(SignedDelivery {
        webhook_delivery_id,
        timestamp,
        event,
    })
}

/// The single value of `name` in `headers`.
fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<&'h HeaderValue, WebhookError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Err(WebhookError::MissingHeader { header: name });
    };
    let extra = values.count();
    if extra > 0 {
        return Err(WebhookError::MalformedHeader {
            header: name,
            problem: HeaderProblem::Repeated { count: extra + 1 },
        });
    }
    Ok(first)
}

/// The system clock in unix seconds (negative before 1970).
fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Signs `body` at `timestamp` (unix seconds) with `secret` the way Truemed does, and returns
/// the value of the `x-truemed-signature` header, e.g. `t=1700000000,v1=5f3c...`.
///
/// For tests of receivers. Several signatures (sender-side rotation):
/// [`SignatureHeader::add_signature`].
pub fn sign(secret: impl AsRef<[u8]>, timestamp: i64, body: &[u8]) -> String {
    SignatureHeader::sign(secret, timestamp, body).to_string()
}

/// The headers of a signed delivery of `body` at `timestamp` (unix seconds):
/// `x-truemed-signature` and `content-type: application/json`.
pub fn signed_headers(secret: impl AsRef<[u8]>, timestamp: i64, body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // A formatted signature header is ASCII digits, letters, `=` and `,`: always valid.
    if let Ok(value) = HeaderValue::from_str(&sign(secret, timestamp, body)) {
        headers.insert(SIGNATURE_HEADER, value);
    }
    headers
}

/// The headers of an unsigned delivery: `x-truemed-api-key` (marked sensitive) and
/// `content-type: application/json`. Fails if the secret is not a valid header value.
pub fn unsigned_headers(
    secret: impl AsRef<[u8]>,
) -> Result<HeaderMap, http::header::InvalidHeaderValue> {
    let mut value = HeaderValue::from_bytes(secret.as_ref())?;
    value.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(API_KEY_HEADER, value);
    Ok(headers)
}

/// The JSON body of a signed `qualification_session.complete` delivery, as Truemed would send
/// it. For tests of receivers; sign it with [`sign`] or [`signed_headers`].
pub fn envelope_body(
    webhook_delivery_id: impl Into<String>,
    payload: &QualificationSessionCompleteWebhook,
) -> Vec<u8> {
    let data = match serde_json::to_value(payload) {
        Ok(serde_json::Value::Object(map)) => map,
        // A struct always serializes to an object.
        _ => serde_json::Map::new(),
    };
    let envelope = WebhookEnvelope {
        data,
        event_type: QUALIFICATION_SESSION_COMPLETE.to_owned(),
        webhook_delivery_id: webhook_delivery_id.into(),
    };
    serde_json::to_vec(&envelope).unwrap_or_default()
}
