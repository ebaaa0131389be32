//! The wire format of Truemed's webhooks, in one place.
//!
//! Everything the rest of [`crate::webhook`] assumes about bytes on the wire is defined here,
//! so that a correction is a one-line change. What is documented by Truemed and what is
//! **\[INFERRED\]** is said for users in the [webhook module docs](super#inferred-wire-format)
//! and, per constant, below. Only [`SIGNATURE_HEADER`] and [`QUALIFICATION_SESSION_COMPLETE`]
//! are public (re-exported from [`crate::webhook`]): receivers and fakes need them; the
//! header's syntax stays private to the parser and formatter in `signature.rs`.

/// Header of a signed delivery that carries the timestamp and the signatures (documented name;
/// its syntax is **\[INFERRED\]**, see the [module docs](super#inferred-wire-format)).
pub const SIGNATURE_HEADER: &str = "x-truemed-signature";

/// **\[INFERRED\]** Separator between the elements of [`SIGNATURE_HEADER`].
pub(super) const ELEMENT_SEPARATOR: char = ',';

/// **\[INFERRED\]** Separator between the key and the value of one element of
/// [`SIGNATURE_HEADER`].
pub(super) const KEY_VALUE_SEPARATOR: char = '=';

/// **\[INFERRED\]** Key of the element of [`SIGNATURE_HEADER`] that holds the timestamp, in unix
/// seconds, as ASCII digits.
pub(super) const TIMESTAMP_KEY: &str = "t";

/// **\[INFERRED\]** Key of an element of [`SIGNATURE_HEADER`] that holds one HMAC-SHA256
/// signature, as 64 hex digits. Several may appear (while the sender rotates its secret).
pub(super) const V1_KEY: &str = "v1";

/// Separator between the timestamp and the raw body in the signed string `{t}.{raw_body}`
/// (documented).
pub(super) const SIGNED_PAYLOAD_SEPARATOR: u8 = b'.';

/// **\[INFERRED\]** The `event_type` of the `qualification_session_complete` webhook in a signed
/// envelope: what [`WebhookEvent::to_envelope`](super::WebhookEvent::to_envelope) writes and
/// [`WebhookEvent::event_type`](super::WebhookEvent::event_type) answers.
pub const QUALIFICATION_SESSION_COMPLETE: &str = "qualification_session.complete";

/// Every `event_type` decoded as
/// [`WebhookEvent::QualificationSessionComplete`](super::WebhookEvent::QualificationSessionComplete):
/// the inferred [`QUALIFICATION_SESSION_COMPLETE`] and the webhook's documented name,
/// `qualification_session_complete`, in case Truemed uses the latter in the envelope.
pub(super) const QUALIFICATION_SESSION_COMPLETE_ALIASES: &[&str] =
    &[QUALIFICATION_SESSION_COMPLETE, "qualification_session_complete"];
