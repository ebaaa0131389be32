//! [`Error`]: everything a call can fail with. Every error answer is one variant,
//! [`Error::Api`], whose [`ApiError`] says which documented error it is
//! ([`ApiErrorKind`]); the others are the transport's, the decoder's, and the client's own
//! refusals.
//!
//! Everything here reads what a server (or a proxy in between) sent, so it is untrusted:
//! every parse saturates instead of panicking, and no error text carries a 2xx body, the
//! URL's query string or credentials.

use std::fmt;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use truemed_api::{CallContext, Refusal, ResponseHead};

use crate::api_error::{
    bounded_text, request_id, request_id_hint, ApiError, ApiErrorKind, ERROR_BODY_LIMIT,
    REQUEST_ID_LIMIT,
};
use crate::decode::describe_decode_failure;
use crate::idempotency::{CallDetails, IdempotencyKey, InvalidIdempotencyKey};
use crate::redact::{printable, redact_decode_message};
use crate::refusal::{ConfigurationError, InvalidRequest, InvalidRequestReason, PaginationError};

/// The longest reason kept for error text, in characters.
const REASON_LIMIT: usize = 500;

/// A failed call to Truemed.
///
/// Every error answer is [`Api`](Self::Api), whose [`ApiError`] carries the status, the
/// documented error it is ([`ApiError::kind`]), code, message, request id and raw body;
/// transport failures, bodies that cannot be decoded and what the client refuses (a
/// request before sending, a configuration, a misbehaving listing) have variants of their
/// own, the refusals with a typed reason. New variants may be added: match with a
/// wildcard arm.
///
/// `Display` says what happened and what to do, once; the underlying cause (for
/// [`Timeout`](Self::Timeout) and [`Connection`](Self::Connection), reqwest's error) is
/// reachable through [`source`](std::error::Error::source) and not repeated, so
/// error-chain printers show each cause once. Neither `Display` nor `Debug` holds the API
/// key, URL credentials, the query string (filters carry emails and names) or a success
/// body; bodies stay reachable through [`body`](Self::body) for whoever chooses to log them.
///
/// # After an update fails
///
/// Every error of an update that reached the network carries the idempotency key it was
/// sent with ([`idempotency_key`](Self::idempotency_key)): sending the same update again
/// with that key applies it at most once. [`may_have_been_applied`](Self::may_have_been_applied)
/// tells whether it may already have been applied.
///
/// ```
/// # async fn demo(client: truemed_ext::Client) {
/// use truemed_ext::{ApiErrorKind, Error};
/// match client.qualification_sessions().get("qs_123").await {
///     Ok(session) => println!("{}", session.status),
///     Err(Error::Api(e)) if e.kind() == ApiErrorKind::NotFound => println!("no such session"),
///     Err(error) if error.is_retryable() => println!("try again later: {error}"),
///     Err(error) => eprintln!("{error}"),
/// }
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Truemed (or a proxy) answered with an error: a 4xx or 5xx, a redirect (never
    /// followed), or a status outside the classes the API uses. [`ApiError::kind`] says
    /// which documented error it is.
    Api(ApiError),
    /// No complete response within the configured timeout.
    Timeout(TransportError),
    /// The connection could not be opened, or broke before a complete response arrived,
    /// or the tokio runtime shut down while the call was in flight or waiting to retry
    /// ([`TransportError::is_runtime_shutdown`]; not retried).
    Connection(TransportError),
    /// A success response whose body is not what the API documents, or is longer than the
    /// client's limit.
    UndecodableResponse(UndecodableResponse),
    /// Refused before sending: the request breaks a documented rule
    /// ([`InvalidRequest::reason`]). Nothing was sent.
    InvalidRequest(InvalidRequest),
    /// The client is misconfigured: missing API key, bad base URL...
    /// ([`ConfigurationError::reason`]).
    Configuration(ConfigurationError),
    /// A paginated listing misbehaved: a repeated page, a page count that keeps growing...
    /// ([`PaginationError::kind`]).
    Pagination(PaginationError),
}

impl Error {
    /// The error answer, when Truemed (or a proxy) answered with one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(error) => Some(error),
            _ => None,
        }
    }

    /// Which documented API error this is, when it is an error answer:
    /// `error.api_kind() == Some(ApiErrorKind::NotFound)`.
    pub fn api_kind(&self) -> Option<ApiErrorKind> {
        self.api().map(ApiError::kind)
    }

    /// The HTTP status, when a response arrived.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::UndecodableResponse(body) => Some(body.status()),
            other => other.api().map(ApiError::status),
        }
    }

    /// The request id Truemed (or a proxy) sent in a header, if any.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::UndecodableResponse(body) => body.request_id(),
            other => other.api().and_then(ApiError::request_id),
        }
    }

    /// The server's message, if the body carried one.
    pub fn message(&self) -> Option<&str> {
        self.api().and_then(ApiError::message)
    }

    /// The error code (`error` or `code` in the body), if any.
    pub fn code(&self) -> Option<&str> {
        self.api().and_then(ApiError::code)
    }

    /// The response body as received (at most 64 KiB, lossily
    /// decoded as UTF-8), when a response arrived. Never part of `Display` or `Debug`.
    pub fn body(&self) -> Option<&str> {
        match self {
            Self::UndecodableResponse(body) => Some(body.body()),
            other => other.api().map(ApiError::body),
        }
    }

    /// How long the server asked to wait (`Retry-After`), on any error answer
    /// (typically 429 and 503).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.api().and_then(ApiError::retry_after)
    }

    /// The idempotency key the failed update was sent with (given, or generated once for
    /// the call); `None` for other operations and for updates refused before sending.
    /// Send the same update again with this key to have it applied at most once.
    pub fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        self.details()?.idempotency_key.as_ref()
    }

    /// Whether the request may have been applied although the call failed, so that
    /// sending it again must use the same idempotency key:
    /// - **may have been applied**: a timeout, a connection lost after sending (the
    ///   runtime shutting down under a request in flight among them), a 5xx (except 501),
    ///   a 409 other than `user_id_already_set` (another request with the key is in
    ///   progress), a redirect, an undecodable success, a status outside the classes the
    ///   API uses (a final 1xx, 600-999), and any error after an earlier attempt of the
    ///   same call ended that way (retries exhausted);
    /// - **not applied**: refused before sending ([`InvalidRequest`](Self::InvalidRequest),
    ///   [`Configuration`](Self::Configuration)), a connection that could not be opened,
    ///   and a 4xx answer (the request was refused as it stood).
    pub fn may_have_been_applied(&self) -> bool {
        let earlier = self.details().is_some_and(|details| details.earlier_attempt_unresolved);
        earlier || self.outcome_unknown()
    }

    /// Whether this attempt's own outcome leaves the request possibly applied: the one
    /// place the rule lives. Only an answer that refused the request proves it was not
    /// applied: a 4xx (except a 409 saying another request with the key is in progress,
    /// which may still apply it) or a 501 (the operation does not exist for the sales
    /// channel). Any other status (2xx, 3xx, 5xx, a final 1xx, 600-999) may have been
    /// applied, by Truemed or behind whatever answered.
    pub(crate) fn outcome_unknown(&self) -> bool {
        match self {
            Self::Timeout(transport) | Self::Connection(transport) => !transport.is_connect(),
            Self::Api(error) => match error.kind() {
                ApiErrorKind::Conflict => true,
                ApiErrorKind::NotImplemented => false,
                _ => !error.status().is_client_error(),
            },
            Self::UndecodableResponse(body) => !body.status().is_client_error(),
            Self::InvalidRequest(_) | Self::Configuration(_) | Self::Pagination(_) => false,
        }
    }

    /// The error's name, for logs and metrics: the [`ApiErrorKind::name`] of an error
    /// answer (`not_found`, `server_error`...), else `timeout`, `connection`,
    /// `undecodable_response`, `invalid_request`, `configuration` or `pagination`. No
    /// status text, body or personal data.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Api(error) => error.kind().name(),
            Self::Timeout(_) => "timeout",
            Self::Connection(_) => "connection",
            Self::UndecodableResponse(_) => "undecodable_response",
            Self::InvalidRequest(_) => "invalid_request",
            Self::Configuration(_) => "configuration",
            Self::Pagination(_) => "pagination",
        }
    }

    fn details(&self) -> Option<&CallDetails> {
        match self {
            Self::Api(error) => Some(error.details()),
            Self::Timeout(transport) | Self::Connection(transport) => Some(&transport.0.details),
            Self::UndecodableResponse(body) => Some(&body.0.details),
            Self::InvalidRequest(_) | Self::Configuration(_) | Self::Pagination(_) => None,
        }
    }

    /// Adds what the call knows to the error of its last attempt. Errors raised before
    /// sending carry nothing: no key was sent.
    pub(crate) fn with_call_details(
        mut self,
        idempotency_key: Option<&IdempotencyKey>,
        earlier_attempt_unresolved: bool,
    ) -> Self {
        let details = match &mut self {
            Self::Api(error) => error.details_mut(),
            Self::Timeout(transport) | Self::Connection(transport) => &mut transport.0.details,
            Self::UndecodableResponse(body) => &mut body.0.details,
            Self::InvalidRequest(_) | Self::Configuration(_) | Self::Pagination(_) => return self,
        };
        details.idempotency_key = idempotency_key.cloned();
        details.earlier_attempt_unresolved = earlier_attempt_unresolved;
        self
    }

    /// Maps what the generated client returned into an [`Error`], with what the call's
    /// context recorded of the response (status, headers, the body read, a refusal).
    /// A success body that did not decode as `T` is decoded again to name the item and
    /// field at fault.
    pub(crate) fn from_generated<T: DeserializeOwned>(
        error: truemed_api::Error<truemed_api::types::ApiError>,
        context: &CallContext,
    ) -> Self {
        use truemed_api::Error as Generated;
        let head = context.last_response();
        match error {
            Generated::InvalidRequest(reason) => {
                InvalidRequestReason::Unbuildable { reason }.into()
            }
            Generated::CommunicationError(e)
            | Generated::ResponseBodyError(e)
            | Generated::InvalidUpgrade(e) => Self::from_transport(e),
            Generated::Custom(reason) => match (context.refusal(), head) {
                (Some(refusal), Some(head)) => Self::refused(refusal, &head),
                _ => InvalidRequestReason::Unbuildable { reason }.into(),
            },
            Generated::InvalidResponsePayload(bytes, reason) => match head {
                Some(head) if !head.status.is_success() => Self::from_head(&head),
                Some(head) => Self::undecodable(
                    head.status,
                    &head.headers,
                    &bytes,
                    describe_decode_failure::<T>(&bytes),
                ),
                None => Self::undecodable(
                    StatusCode::OK,
                    &HeaderMap::new(),
                    &bytes,
                    redact_decode_message(&reason.to_string()),
                ),
            },
            Generated::ErrorResponse(response) => match head {
                Some(head) => Self::from_head(&head),
                None => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let body = serde_json::to_vec(&*response).unwrap_or_default();
                    Self::from_response(status, &headers, &body)
                }
            },
            Generated::UnexpectedResponse(response) => match head {
                Some(head) => Self::from_head(&head),
                None => Self::from_response(response.status(), response.headers(), b""),
            },
        }
    }

    pub(crate) fn from_transport(mut error: reqwest::Error) -> Self {
        if let Some(url) = error.url_mut() {
            // Filters in the query carry emails and names; credentials never belong in logs.
            url.set_query(None);
            url.set_fragment(None);
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        if error.is_builder() {
            return InvalidRequestReason::Unbuildable { reason: error.to_string() }.into();
        }
        let timeout = error.is_timeout();
        let transport =
            TransportError(Box::new(TransportFields { error, details: CallDetails::default() }));
        match timeout {
            true => Self::Timeout(transport),
            false => Self::Connection(transport),
        }
    }

    /// The error of a call whose runtime shut down under it: the same
    /// [`Connection`](Self::Connection) error whether a request was in flight or the call
    /// was waiting to retry.
    pub(crate) fn runtime_shut_down(shutdown: truemed_api::RuntimeShutDown) -> Self {
        Self::from_transport(shutdown.into())
    }

    fn refused(refusal: Refusal, head: &ResponseHead) -> Self {
        match refusal {
            Refusal::RedirectFollowed { status, final_url } => {
                Self::Api(ApiError::followed_redirect(status, &head.headers, final_url.as_str()))
            }
            Refusal::BodyTooLarge { status, limit } => Self::undecodable(
                status,
                &head.headers,
                &head.body,
                format!(
                    "the body is longer than the client's limit of {limit} bytes \
                     (ClientBuilder::max_response_body)"
                ),
            ),
            other => Self::undecodable(head.status, &head.headers, &head.body, other.to_string()),
        }
    }

    fn from_head(head: &ResponseHead) -> Self {
        Self::from_response(head.status, &head.headers, &head.body)
    }

    /// An error answer: status, headers and the (bounded) body as received. A success
    /// status here is one the operation does not document.
    pub(crate) fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        if status.is_success() {
            return Self::undecodable(
                status,
                headers,
                body,
                "the status is not documented for this operation".to_owned(),
            );
        }
        Self::Api(ApiError::read(status, headers, body))
    }

    fn undecodable(status: StatusCode, headers: &HeaderMap, body: &[u8], reason: String) -> Self {
        Self::UndecodableResponse(UndecodableResponse(Box::new(UndecodableFields {
            status,
            request_id: request_id(headers),
            body: bounded_text(body, ERROR_BODY_LIMIT),
            reason: printable(&reason, REASON_LIMIT),
            details: CallDetails::default(),
        })))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Api(error) => fmt::Display::fmt(error, f),
            Self::Timeout(_) => f.write_str(
                "timed out waiting for Truemed; the request may have reached it (resend an update with the same idempotency key)",
            ),
            Self::Connection(transport) if transport.is_runtime_shutdown() => f.write_str(
                "the runtime shut down while the request was in flight; the request may have reached Truemed",
            ),
            Self::Connection(transport) if transport.is_connect() => {
                f.write_str("could not connect to Truemed; nothing was sent")
            }
            Self::Connection(_) => f.write_str(
                "the connection to Truemed broke before a complete response arrived; the request may have reached it",
            ),
            Self::UndecodableResponse(body) => write!(
                f,
                "Truemed answered {}{} with a body that cannot be decoded: {}",
                body.status(),
                request_id_hint(body.request_id()),
                body.reason()
            ),
            Self::InvalidRequest(refused) => {
                write!(f, "invalid request, nothing was sent: {refused}")
            }
            Self::Configuration(error) => write!(f, "invalid client configuration: {error}"),
            Self::Pagination(error) => write!(f, "pagination stopped: {error}"),
        }
    }
}

impl From<ApiError> for Error {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<InvalidRequestReason> for Error {
    fn from(reason: InvalidRequestReason) -> Self {
        Self::InvalidRequest(reason.into())
    }
}

impl From<InvalidIdempotencyKey> for Error {
    fn from(error: InvalidIdempotencyKey) -> Self {
        InvalidRequestReason::InvalidIdempotencyKey(error).into()
    }
}

impl From<crate::refusal::ConfigurationReason> for Error {
    fn from(reason: crate::refusal::ConfigurationReason) -> Self {
        Self::Configuration(reason.into())
    }
}

impl From<crate::refusal::PaginationErrorKind> for Error {
    fn from(kind: crate::refusal::PaginationErrorKind) -> Self {
        Self::Pagination(kind.into())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Timeout(transport) | Self::Connection(transport) => Some(&transport.0.error),
            _ => None,
        }
    }
}

/// A transport failure: the connection, or a timeout. The underlying reqwest error is
/// the error's [`source`](std::error::Error::source); its URL carries no query string.
pub struct TransportError(Box<TransportFields>);

struct TransportFields {
    error: reqwest::Error,
    details: CallDetails,
}

impl TransportError {
    /// Whether the connection could not be opened (nothing was sent).
    pub fn is_connect(&self) -> bool {
        self.0.error.is_connect()
    }

    /// Whether the tokio runtime shut down while the call was in flight or waiting to
    /// retry (its tasks were dropped): no response will come, and the call is not retried.
    pub fn is_runtime_shutdown(&self) -> bool {
        truemed_api::RuntimeShutDown::is_cause_of(&self.0.error)
    }

    /// The underlying reqwest error.
    pub fn reqwest_error(&self) -> &reqwest::Error {
        &self.0.error
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("error", &self.0.error)
            .field("idempotency_key", &self.0.details.idempotency_key)
            .finish()
    }
}

/// A success response whose body could not be decoded: its status, request id, why (the
/// item and field at fault), and the body (reachable, never displayed).
pub struct UndecodableResponse(Box<UndecodableFields>);

struct UndecodableFields {
    status: StatusCode,
    request_id: Option<String>,
    body: String,
    reason: String,
    details: CallDetails,
}

impl UndecodableResponse {
    /// The response status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The request id header, if any.
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// Why decoding failed: the item and field path at fault and what was expected. Holds
    /// no value from the body.
    pub fn reason(&self) -> &str {
        &self.0.reason
    }

    /// The start of the body (at most 64 KiB, lossily decoded). It may
    /// hold personal data: it is never part of `Display` or `Debug`.
    pub fn body(&self) -> &str {
        &self.0.body
    }
}

impl fmt::Debug for UndecodableResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UndecodableResponse")
            .field("status", &self.0.status)
            .field(
                "request_id",
                &self.0.request_id.as_deref().map(|id| printable(id, REQUEST_ID_LIMIT)),
            )
            .field("reason", &self.0.reason)
            .field("body_len", &self.0.body.len())
            .field("idempotency_key", &self.0.details.idempotency_key)
            .finish()
    }
}

#[cfg(fuzzing)]
/// Entry points for the fuzz targets: everything read from a response head or error body.
pub mod fuzzing {
    use super::*;

    /// Reads a response as an error would (status, headers and body) and returns the
    /// error's `Display`, after formatting its `Debug` and naming a decode failure.
    pub fn read_response(status: u16, headers: &HeaderMap, body: &[u8]) -> String {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        let error = Error::from_response(status, headers, body);
        let _ = (error.retry_after(), error.is_retryable(), error.code());
        let _ = format!("{error:?}");
        let _ =
            describe_decode_failure::<truemed_api::types::ListQualificationSessionsResponse>(body);
        error.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_two_words() {
        assert!(std::mem::size_of::<Error>() <= 2 * std::mem::size_of::<usize>());
    }

    #[test]
    fn user_id_already_set_only_when_the_body_says_so() {
        for body in [
            r#"{"error":"user_id_already_set","message":"m"}"#,
            r#"{"error":"ValidationError","code":"user_id_already_set"}"#,
        ] {
            for status in [StatusCode::BAD_REQUEST, StatusCode::CONFLICT] {
                let error = Error::from_response(status, &HeaderMap::new(), body.as_bytes());
                assert_eq!(
                    error.api_kind(),
                    Some(ApiErrorKind::UserIdAlreadySet),
                    "{body}: {error:?}"
                );
                assert!(!error.may_have_been_applied());
            }
        }
        let other = Error::from_response(
            StatusCode::CONFLICT,
            &HeaderMap::new(),
            br#"{"error":"Conflict","message":"another request with this key is in progress"}"#,
        );
        assert_eq!(other.api_kind(), Some(ApiErrorKind::Conflict), "{other:?}");
        assert_eq!(other.code(), Some("Conflict"));
        assert_eq!(other.kind_name(), "conflict");
        assert!(other.may_have_been_applied());
    }

    #[test]
    fn a_success_status_without_a_documented_body_is_undecodable() {
        let error = Error::from_response(StatusCode::ACCEPTED, &HeaderMap::new(), b"{}");
        let Error::UndecodableResponse(body) = &error else { panic!("{error:?}") };
        assert_eq!(body.status(), StatusCode::ACCEPTED);
        assert!(error.may_have_been_applied());
        assert_eq!(error.api(), None);
    }

    #[test]
    fn display_says_what_happened_and_what_to_do() {
        let headers: HeaderMap =
            [(reqwest::header::RETRY_AFTER, reqwest::header::HeaderValue::from_static("2"))]
                .into_iter()
                .collect();
        let limited = Error::from_response(StatusCode::TOO_MANY_REQUESTS, &headers, b"");
        assert_eq!(
            limited.to_string(),
            "Truemed answered 429 Too Many Requests: rate limited; Truemed asked to wait 2 s before retrying"
        );
        let odd = Error::from_response(StatusCode::from_u16(600).unwrap(), &HeaderMap::new(), b"");
        assert_eq!(odd.to_string(), "Truemed answered 600 <unknown status code>");
        let refused = Error::from(InvalidRequestReason::EmptyId);
        assert_eq!(
            refused.to_string(),
            "invalid request, nothing was sent: the qualification session id is empty"
        );
    }
}
