//! The wire format of Truemed's webhooks, in one place.
//!
//! Everything the rest of [`crate::webhook`] assumes about bytes on the wire is defined here,
//! so that a correction is a one-line change.
//!
//! **Documented** by Truemed's API reference:
//! - unsigned deliveries carry the webhook's shared secret in
//!   [`API_KEY_HEADER`](crate::API_KEY_HEADER), the header API calls carry the key in;
//! - signed deliveries carry a timestamp and one or more versioned signatures in
//!   [`SIGNATURE_HEADER`]; each signature is HMAC-SHA256, keyed with the webhook secret, over
//!   the string `{t}.{raw_body}`;
//! - the signed body is an envelope `{webhook_delivery_id, event_type, data}` whose
//!   `event_type` is a dot-separated name.
//!
//! **\[INFERRED\]**, not documented by Truemed:
//! - the syntax of [`SIGNATURE_HEADER`]:
//!   `t=<unix seconds>,v1=<hex digest>[,v1=<hex digest>...]`, i.e. comma-separated
//!   ([`ELEMENT_SEPARATOR`]) `key=value` ([`KEY_VALUE_SEPARATOR`]) elements, the timestamp under
//!   [`TIMESTAMP_KEY`] and each HMAC-SHA256 digest, as hex, under [`V1_KEY`]. This is the common
//!   convention for this scheme. The parser also tolerates spaces or tabs around elements and
//!   empty elements (a trailing comma), accepts upper- or lower-case hex, and ignores elements
//!   with any other key (`v0`, `v2`, ...) so that new signature versions do not break
//!   receivers;
//! - the secret is used as HMAC key as the bytes it is written with (no base64 decoding of
//!   the secret, no prefix stripped);
//! - the `event_type` of the `qualification_session_complete` webhook in the signed envelope:
//!   [`QUALIFICATION_SESSION_COMPLETE`] (`qualification_session.complete`). The webhook's own
//!   name, `qualification_session_complete`, is accepted too (see
//!   [`QUALIFICATION_SESSION_COMPLETE_ALIASES`]).

use std::time::Duration;

/// Header of a signed delivery that carries the timestamp and the signatures (documented name;
/// its syntax is **\[INFERRED\]**, see the [module docs](self)).
pub const SIGNATURE_HEADER: &str = "x-truemed-signature";

/// **\[INFERRED\]** Separator between the elements of [`SIGNATURE_HEADER`].
pub const ELEMENT_SEPARATOR: char = ',';

/// **\[INFERRED\]** Separator between the key and the value of one element of
/// [`SIGNATURE_HEADER`].
pub const KEY_VALUE_SEPARATOR: char = '=';

/// **\[INFERRED\]** Key of the element of [`SIGNATURE_HEADER`] that holds the timestamp, in unix
/// seconds, as ASCII digits.
pub const TIMESTAMP_KEY: &str = "t";

/// **\[INFERRED\]** Key of an element of [`SIGNATURE_HEADER`] that holds one HMAC-SHA256
/// signature, as 64 hex digits. Several may appear (while the sender rotates its secret).
pub const V1_KEY: &str = "v1";

/// Separator between the timestamp and the raw body in the signed string `{t}.{raw_body}`
/// (documented).
pub const SIGNED_PAYLOAD_SEPARATOR: u8 = b'.';

/// **\[INFERRED\]** The `event_type` of the `qualification_session_complete` webhook in a signed
/// envelope. Used when this crate signs or builds an envelope.
pub const QUALIFICATION_SESSION_COMPLETE: &str = "qualification_session.complete";

/// Every `event_type` decoded as
/// [`WebhookEvent::QualificationSessionComplete`](super::WebhookEvent::QualificationSessionComplete):
/// the inferred [`QUALIFICATION_SESSION_COMPLETE`] and the webhook's documented name,
/// `qualification_session_complete`, in case Truemed uses the latter in the envelope.
pub const QUALIFICATION_SESSION_COMPLETE_ALIASES: &[&str] = &[
    QUALIFICATION_SESSION_COMPLETE,
    "qualification_session_complete",
];

/// How far a signed delivery's timestamp may be from the receiver's clock, in either direction,
/// unless configured otherwise with
/// [`WebhookVerifier::tolerance`](super::WebhookVerifier::tolerance).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
