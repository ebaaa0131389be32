//! Why a webhook delivery was refused.

use std::time::Duration;

use http::StatusCode;

use super::signature::HeaderProblem;
use super::wire::SIGNATURE_HEADER;

/// The longest [`WebhookError::UndecodableBody`] message, in characters.
const MAX_MESSAGE_CHARS: usize = 240;

/// Why a webhook delivery was refused. One variant per reason; never carries a secret.
///
/// [`WebhookError::status_code`] gives the status a receiver should answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookError {
    /// The header that authenticates the delivery is absent: the request was not sent by
    /// Truemed, or the webhook uses the other delivery method (signed vs unsigned).
    MissingHeader {
        /// The missing header's name.
        header: &'static str,
    },

    /// The authenticating header is present but cannot be parsed.
    MalformedHeader {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        problem: HeaderProblem,
    },

    /// No `v1` signature matches the body under any configured secret.
    NoValidSignature,

    /// The signature is valid but its timestamp is further from the receiver's clock than the
    /// tolerance: a replay of an old delivery, or a clock that is off.
    TimestampOutOfTolerance {
        /// The delivery's timestamp, in unix seconds.
        timestamp: i64,
        /// The receiver's clock at verification, in unix seconds.
        now: i64,
        /// The configured tolerance.
        tolerance: Duration,
    },

    /// The `x-truemed-api-key` header of an unsigned delivery is not the shared secret.
    BadSharedSecret,

    /// The delivery is authentic but its body is not the expected JSON.
    UndecodableBody {
        /// What went wrong: the field and the kind of problem, bounded in length. It holds no
        /// value from the body and no control, separator or bidi character.
        message: String,
    },

    /// The verifier holds no non-empty secret, so it can authenticate nothing: a configuration
    /// error on the receiver's side.
    NoSecretConfigured,
}

impl std::fmt::Display for WebhookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingHeader { header } => write!(
                f,
                "the `{header}` header is missing: the request is not a Truemed delivery of this \
                 kind (check whether the webhook is signed or unsigned)"
            ),
            Self::MalformedHeader { header, problem } => {
                write!(f, "the `{header}` header is malformed: {problem}")
            }
            Self::NoValidSignature => write!(
                f,
                "no signature in `{SIGNATURE_HEADER}` matches the body: check the webhook secret, \
                 and verify the raw body exactly as received (not re-serialized JSON)"
            ),
            Self::TimestampOutOfTolerance { timestamp, now, tolerance } => write!(
                f,
                "the delivery's timestamp {timestamp} is {} s in the {} of the receiver's clock \
                 ({now}), beyond the tolerance of {} s: replayed delivery, or a clock to fix",
                timestamp.abs_diff(*now),
                if timestamp > now { "future" } else { "past" },
                tolerance.as_secs()
            ),
            Self::BadSharedSecret => f.write_str(
                "the `x-truemed-api-key` header does not match the webhook's shared secret: check \
                 the configured secret",
            ),
            Self::UndecodableBody { message } => {
                write!(f, "the delivery's body could not be decoded: {message}")
            }
            Self::NoSecretConfigured => f.write_str(
                "the webhook verifier has no non-empty secret: configure the webhook secret",
            ),
        }
    }
}

impl std::error::Error for WebhookError {}

impl WebhookError {
    /// The HTTP status a receiver should answer with: `401` when the delivery cannot be
    /// authenticated (its authenticating header missing, malformed, or not valid under any
    /// secret), `400` when it is authentic but its body is not a delivery, `500` when the
    /// receiver is misconfigured. The same answers as the axum extractor's
    /// (`webhook::axum`, feature `axum`): nothing about the body is
    /// told to a sender that has not authenticated.
    ///
    /// Truemed retries any non-2xx answer, so a refusal is retried until it succeeds or the
    /// retries run out.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::MissingHeader { .. }
            | Self::NoValidSignature
            | Self::TimestampOutOfTolerance { .. }
            | Self::MalformedHeader { .. }
            | Self::BadSharedSecret => StatusCode::UNAUTHORIZED,
            Self::UndecodableBody { .. } => StatusCode::BAD_REQUEST,
            Self::NoSecretConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Builds [`WebhookError::UndecodableBody`] from what was being decoded and why it failed:
    /// serde's text without any value from the body (which may hold an email or a name),
    /// safe to print, bounded in length.
    pub(crate) fn undecodable(what: &str, error: &serde_json::Error) -> Self {
        let reason = crate::redact::redact_decode_message(&error.to_string());
        let message = crate::redact::printable(&format!("{what}: {reason}"), MAX_MESSAGE_CHARS);
        Self::UndecodableBody { message }
    }
}
