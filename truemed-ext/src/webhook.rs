//! Receive Truemed's webhooks: verify signed and unsigned deliveries, then decode them into
//! typed events.
//!
//! Framework-agnostic: give the verifier the request's [`http::HeaderMap`] (or the value of
//! the one header that authenticates the delivery) and its **raw** body bytes, exactly as
//! received (the signature covers those bytes, not re-serialized JSON).
//!
//! ```
//! use std::time::{SystemTime, UNIX_EPOCH};
//! use http::{HeaderMap, HeaderValue};
//! use truemed_ext::webhook::{SignatureHeader, WebhookError, WebhookEvent, WebhookVerifier};
//! use truemed_ext::webhook::SIGNATURE_HEADER;
//!
//! let secret = "whsec_example";
//! let body = br#"{"webhook_delivery_id":"whd_1","event_type":"qualification_session.complete",
//!     "data":{"qualification_session_id":"qs_1","status":"approved","user_id":"user_42"}}"#;
//!
//! // What Truemed does, and what your tests can do: sign the raw body.
//! let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
//! let signature = SignatureHeader::sign(secret, now, body).to_string();
//! let mut headers = HeaderMap::new();
//! headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(&signature).unwrap());
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
//! assert_eq!(refused, WebhookError::NoValidSignature);
//! assert_eq!(refused.status_code(), 401);
//! # Ok::<(), WebhookError>(())
//! ```
//!
//! # Delivery methods
//!
//! A webhook is either **signed** (recommended) or **unsigned**, fixed when it is created:
//!
//! - Signed: the [`SIGNATURE_HEADER`] (`x-truemed-signature`) carries a timestamp and one or
//!   more HMAC-SHA256 signatures of `{t}.{raw_body}`; any valid `v1` signature is accepted,
//!   other versions are ignored. Timestamps further than the
//!   [tolerance](WebhookVerifier::with_tolerance) from the clock, in either direction, are
//!   refused. The body is an envelope, decoded into a [`SignedDelivery`]: its
//!   `webhook_delivery_id`, stable across redeliveries, is the receiver's idempotency key, and
//!   its [`WebhookEvent`] is typed, with event types this crate does not know kept as raw JSON.
//! - Unsigned: the [`API_KEY_HEADER`] (`x-truemed-api-key`) carries the shared secret, compared
//!   in constant time; the body is the flat [`QualificationSessionCompleteWebhook`] payload.
//!
//! # Verifying
//!
//! [`WebhookVerifier`] has one method per delivery method and per input, all alike: the
//! credential first, the raw body second, the clock (`_at`, unix seconds) last where it
//! matters; each authenticates, then checks the timestamp (signed deliveries), then decodes,
//! and returns `Result<the decoded delivery, WebhookError>`.
//!
//! | you have | signed delivery | unsigned delivery |
//! |---|---|---|
//! | the request's [`HeaderMap`] | [`verify_signed`](WebhookVerifier::verify_signed)`(headers, body)`, [`verify_signed_at`](WebhookVerifier::verify_signed_at)`(headers, body, now)` | [`verify_unsigned`](WebhookVerifier::verify_unsigned)`(headers, body)` |
//! | the authenticating header's value (other header types) | [`verify_signature`](WebhookVerifier::verify_signature)`(value, body)`, [`verify_signature_at`](WebhookVerifier::verify_signature_at)`(value, body, now)` | [`verify_shared_secret`](WebhookVerifier::verify_shared_secret)`(value, body)` |
//! | it decodes into | [`SignedDelivery`] | [`QualificationSessionCompleteWebhook`] |
//!
//! The [`HeaderMap`] methods read the one value of the header (missing:
//! [`WebhookError::MissingHeader`]; repeated or, for the signature, not visible ASCII:
//! [`WebhookError::MalformedHeader`]) and go on as the value methods do.
//!
//! Every refusal is a [`WebhookError`]; nothing here panics on any input. Answer `204` to
//! accepted deliveries and [`WebhookError::status_code`] to refused ones. Truemed retries for
//! up to 7 days, so receivers must be idempotent. Cap the body size in your framework
//! (deliveries are small).
//!
//! Secret rotation on the receiving side: give the verifier every secret currently valid with
//! [`WebhookVerifier::from_secrets`] or [`WebhookVerifier::also_accept`].
//!
//! # Inferred wire format
//!
//! **Documented** by Truemed's API reference:
//! - unsigned deliveries carry the webhook's shared secret in [`API_KEY_HEADER`], the header
//!   API calls carry the key in;
//! - signed deliveries carry a timestamp and one or more versioned signatures in
//!   [`SIGNATURE_HEADER`]; each signature is HMAC-SHA256, keyed with the webhook secret, over
//!   the string `{t}.{raw_body}`;
//! - the signed body is an envelope `{webhook_delivery_id, event_type, data}` whose
//!   `event_type` is a dot-separated name.
//!
//! **\[INFERRED\]**, not documented by Truemed (each is one constant of this crate, so a
//! correction is a one-line change):
//! - the syntax of [`SIGNATURE_HEADER`]: `t=<unix seconds>,v1=<hex digest>[,v1=<hex
//!   digest>...]`, comma-separated `key=value` elements, the common convention for this scheme.
//!   The parser also tolerates spaces or tabs around elements and empty elements (a trailing
//!   comma), accepts upper- or lower-case hex, and ignores elements with any other key (`v0`,
//!   `v2`, ...) so that new signature versions do not break receivers;
//! - the secret is used as HMAC key as the bytes it is written with (no base64 decoding of the
//!   secret, no prefix stripped);
//! - the `event_type` of the `qualification_session_complete` webhook in the signed envelope:
//!   [`QUALIFICATION_SESSION_COMPLETE`] (`qualification_session.complete`). The webhook's own
//!   name, `qualification_session_complete`, is decoded as the same event too.
//!
//! # Testing your receiver
//!
//! Build deliveries the way Truemed does: the body of a signed one with
//! [`WebhookEvent::to_envelope`] (serialize the [`WebhookEnvelope`] with `serde_json`), its
//! [`SIGNATURE_HEADER`] value with [`SignatureHeader::sign`]; an unsigned one is the payload as
//! JSON with the secret in [`API_KEY_HEADER`]. Fix the clock with
//! [`WebhookVerifier::verify_signed_at`].
//!
//! ```
//! use http::{HeaderMap, HeaderValue};
//! use truemed_ext::webhook::{SignatureHeader, WebhookEvent, WebhookVerifier, SIGNATURE_HEADER};
//! use truemed_ext::{QualificationSessionCompleteWebhook, Status};
//!
//! let payload: QualificationSessionCompleteWebhook =
//!     QualificationSessionCompleteWebhook::builder()
//!         .qualification_session_id("qs_1")
//!         .status(Status::Approved)
//!         .try_into()
//!         .unwrap();
//! let envelope = WebhookEvent::QualificationSessionComplete(payload).to_envelope("whd_1");
//! let body = serde_json::to_vec(&envelope).unwrap();
//! let signature = SignatureHeader::sign("whsec_test", 1_700_000_000, &body);
//! let mut headers = HeaderMap::new();
//! headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(&signature.to_string()).unwrap());
//!
//! let delivery = WebhookVerifier::new("whsec_test")
//!     .verify_signed_at(&headers, &body, 1_700_000_000)
//!     .unwrap();
//! assert_eq!(delivery.webhook_delivery_id, "whd_1");
//! ```
#![warn(missing_docs)]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod error;
mod signature;
mod wire;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use truemed_api::types::{QualificationSessionCompleteWebhook, WebhookEnvelope};

use crate::wire::API_KEY_HEADER;

pub use error::WebhookError;
pub use signature::{HeaderProblem, SignatureHeader};
pub use wire::{QUALIFICATION_SESSION_COMPLETE, SIGNATURE_HEADER};

/// How far a signed delivery's timestamp may be from the receiver's clock, in either direction,
/// unless configured otherwise with [`WebhookVerifier::with_tolerance`].
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// A webhook secret: the HMAC key of signed deliveries, or the shared secret of unsigned ones.
///
/// Its `Debug` output is redacted. Build one from a `&str`, `String`, `&[u8]` or `Vec<u8>`;
/// the bytes are used as they are (see the [module docs](self#inferred-wire-format)).
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
/// Cheap to clone; its `Debug` output redacts the secrets. Its methods are described, side by
/// side, in the [module docs](self#verifying).
///
/// ```
/// use std::time::Duration;
/// use truemed_ext::webhook::WebhookVerifier;
///
/// let verifier = WebhookVerifier::new("whsec_current")
///     .also_accept("whsec_previous") // while rotating secrets
///     .with_tolerance(Duration::from_secs(120));
/// assert_eq!(verifier.tolerance(), Duration::from_secs(120));
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
        Self::from_secrets([secret])
    }

    /// A verifier that accepts deliveries authenticated by any of `secrets`, with the
    /// [default tolerance](DEFAULT_TOLERANCE).
    pub fn from_secrets<S: Into<WebhookSecret>>(secrets: impl IntoIterator<Item = S>) -> Self {
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

    /// Sets how far a signed delivery's timestamp may be from the clock, in either direction,
    /// in whole seconds (fractions are dropped). A delivery exactly at the tolerance is
    /// accepted. The default is [`DEFAULT_TOLERANCE`]; read it back with
    /// [`tolerance`](Self::tolerance).
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The tolerance set with [`with_tolerance`](Self::with_tolerance).
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// Verifies a signed delivery, given its headers and raw body, against the system clock,
    /// then decodes it: [`verify_signed_at`](Self::verify_signed_at) at the current time.
    pub fn verify_signed(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<SignedDelivery, WebhookError> {
        self.verify_signed_at(headers, body, unix_now())
    }

    /// Verifies a signed delivery, given its headers and raw body, as if the clock read `now`
    /// (unix seconds), then decodes it.
    ///
    /// The [`SIGNATURE_HEADER`] must appear once, as visible ASCII; its value is then checked
    /// as [`verify_signature_at`](Self::verify_signature_at) does.
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
        self.verify_signature_at(value, body, now)
    }

    /// Verifies a signed delivery, given the value of its [`SIGNATURE_HEADER`] and its raw
    /// body, against the system clock, then decodes it:
    /// [`verify_signature_at`](Self::verify_signature_at) at the current time. For frameworks
    /// whose header types are not [`http::HeaderMap`].
    pub fn verify_signature(
        &self,
        signature: impl AsRef<[u8]>,
        body: &[u8],
    ) -> Result<SignedDelivery, WebhookError> {
        self.verify_signature_at(signature, body, unix_now())
    }

    /// Verifies a signed delivery, given the value of its [`SIGNATURE_HEADER`] (text or
    /// bytes, e.g. an [`http::HeaderValue`]) and its raw body, as if the clock read `now` (unix
    /// seconds), then decodes it.
    ///
    /// The value must be UTF-8 and parse as a [`SignatureHeader`] (elements the parser does
    /// not know are ignored, whatever their characters). The signature is checked before the
    /// timestamp, so [`WebhookError::TimestampOutOfTolerance`] means an authentic but old (or
    /// future) delivery.
    pub fn verify_signature_at(
        &self,
        signature: impl AsRef<[u8]>,
        body: &[u8],
        now: i64,
    ) -> Result<SignedDelivery, WebhookError> {
        self.ensure_configured()?;
        let malformed =
            |problem| WebhookError::MalformedHeader { header: SIGNATURE_HEADER, problem };
        let text = std::str::from_utf8(signature.as_ref())
            .map_err(|_| malformed(HeaderProblem::NotVisibleAscii))?;
        let header = SignatureHeader::parse(text).map_err(malformed)?;
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

    /// Verifies an unsigned delivery, given its headers and raw body, then decodes its flat
    /// payload.
    ///
    /// The [`API_KEY_HEADER`] must appear once; its value is then checked as
    /// [`verify_shared_secret`](Self::verify_shared_secret) does.
    pub fn verify_unsigned(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<QualificationSessionCompleteWebhook, WebhookError> {
        let value = single_header(headers, API_KEY_HEADER)?;
        self.verify_shared_secret(value, body)
    }

    /// Verifies an unsigned delivery, given the value of its [`API_KEY_HEADER`] (text or
    /// bytes, e.g. an [`http::HeaderValue`]) and its raw body, then decodes its flat payload.
    /// For frameworks whose header types are not [`http::HeaderMap`].
    ///
    /// The comparison runs in constant time, including in the secret's length (both sides are
    /// hashed first), and against every configured secret. The secret is checked before the
    /// body is read.
    pub fn verify_shared_secret(
        &self,
        shared_secret: impl AsRef<[u8]>,
        body: &[u8],
    ) -> Result<QualificationSessionCompleteWebhook, WebhookError> {
        self.ensure_configured()?;
        let presented = Sha256::digest(shared_secret.as_ref());
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
        /// The event's `data` object, as sent.
        data: serde_json::Map<String, serde_json::Value>,
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

    /// The envelope of a signed delivery of this event with this id, as Truemed sends it: the
    /// body of the delivery is its JSON (`serde_json::to_vec(&envelope)`), which
    /// [`SignatureHeader::sign`] signs. For tests of receivers, and for fakes of Truemed.
    ///
    /// Verifying the signed body gives this event back.
    pub fn to_envelope(&self, webhook_delivery_id: impl Into<String>) -> WebhookEnvelope {
        let data = match self {
            Self::QualificationSessionComplete(payload) => match serde_json::to_value(payload) {
                Ok(serde_json::Value::Object(map)) => map,
                // A struct always serializes to an object.
                _ => serde_json::Map::new(),
            },
            Self::Unknown { data, .. } => data.clone(),
        };
        WebhookEnvelope {
            data,
            event_type: self.event_type().to_owned(),
            webhook_delivery_id: webhook_delivery_id.into(),
        }
    }
}

/// Decodes an authenticated envelope.
fn decode_envelope(body: &[u8], timestamp: i64) -> Result<SignedDelivery, WebhookError> {
    let envelope: WebhookEnvelope = serde_json::from_slice(body)
        .map_err(|e| WebhookError::undecodable("webhook envelope", &e))?;
    let WebhookEnvelope { data, event_type, webhook_delivery_id } = envelope;
    let event = if wire::QUALIFICATION_SESSION_COMPLETE_ALIASES.contains(&event_type.as_str()) {
        let payload = serde_json::from_value(serde_json::Value::Object(data)).map_err(|e| {
            WebhookError::undecodable("`data` of a `qualification_session.complete` event", &e)
        })?;
        WebhookEvent::QualificationSessionComplete(payload)
    } else {
        WebhookEvent::Unknown { event_type, data }
    };
    Ok(SignedDelivery { webhook_delivery_id, timestamp, event })
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
