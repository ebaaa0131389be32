//! [`Error`]: everything a call can fail with, one variant per documented API error.
//!
//! Everything here reads what a server (or a proxy in between) sent, so it is untrusted:
//! every parse saturates instead of panicking, and no error text carries a 2xx body, the
//! URL's query string or credentials.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use truemed_api::{CallContext, Refusal, ResponseHead};

use crate::decode::describe_decode_failure;
use crate::idempotency::{IdempotencyKey, InvalidIdempotencyKey};
use crate::redact::{printable, redact_decode_message, without_query};
use crate::retry_after::retry_after;
use crate::wire::USER_ID_ALREADY_SET;

/// How much of a response body an error keeps (bytes): error bodies are read no further,
/// and an undecodable success body is cut there.
const ERROR_BODY_LIMIT: usize = truemed_api::DEFAULT_MAX_ERROR_BODY;

/// Headers that carry a request id, in the order they are looked up.
const REQUEST_ID_HEADERS: [&str; 3] = ["x-request-id", "request-id", "x-truemed-request-id"];
/// The longest request id kept; a longer header is cut (it is shown in error text).
const REQUEST_ID_LIMIT: usize = 128;
/// The longest server message shown by `Display` ([`Error::message`] has all of it).
const DISPLAY_MESSAGE_LIMIT: usize = 300;
/// The longest reason or pagination message kept for error text, in characters.
const REASON_LIMIT: usize = 500;

/// A failed call to Truemed.
///
/// Each documented API error is its own variant carrying an [`ApiErrorResponse`]
/// (status, error code, message, request id, raw body); transport failures, bodies that
/// cannot be decoded and requests refused before sending have variants of their own.
/// New variants may be added: match with a wildcard arm.
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
/// use truemed_ext::Error;
/// match client.qualification_sessions().get("qs_123").await {
///     Ok(session) => println!("{}", session.status),
///     Err(Error::NotFound(_)) => println!("no such session"),
///     Err(error) if error.is_retryable() => println!("try again later: {error}"),
///     Err(error) => eprintln!("{error}"),
/// }
/// # }
/// ```
#[non_exhaustive]
pub enum Error {
    /// 400: Truemed refused the request as invalid (`ValidationError`), including an
    /// idempotency key reused with a different payload.
    Validation(ApiErrorResponse),
    /// The session already has a `user_id` (the body's `error` or `code` is
    /// `user_id_already_set`, usually with 409); it cannot be overwritten through the API.
    UserIdAlreadySet(ApiErrorResponse),
    /// 409 for any other reason, e.g. another request with the same idempotency key is
    /// still in progress. Retried with the same key (which makes that safe), like Stripe's
    /// concurrent-use 409.
    Conflict(ApiErrorResponse),
    /// 401: the API key is missing or wrong.
    Unauthorized(ApiErrorResponse),
    /// 404: no such qualification session for this API key.
    NotFound(ApiErrorResponse),
    /// 405: the method is not allowed on this path.
    MethodNotAllowed(ApiErrorResponse),
    /// 429: too many requests. `retry_after` is the server's `Retry-After`, if any.
    RateLimited {
        /// The response.
        response: ApiErrorResponse,
        /// How long the server asked the client to wait.
        retry_after: Option<Duration>,
    },
    /// 500, 502, 503, 504 and other 5xx except 501: Truemed or a proxy failed.
    Server(ApiErrorResponse),
    /// 501: the operation is not implemented for this sales channel.
    NotImplemented(ApiErrorResponse),
    /// Any other non-success status: a 4xx without a variant of its own (403, 408,
    /// 422...), or a status outside the classes the API uses (a final 1xx, 600-999).
    UnexpectedStatus(ApiErrorResponse),
    /// A redirect, which this client never follows: a 3xx answer (its target in
    /// [`ApiErrorResponse::location`]), or a response that came from another URL because
    /// the `reqwest::Client` given to
    /// [`ClientBuilder::http_client`](crate::ClientBuilder::http_client) followed one (the
    /// URL it came from in `location`). Nothing was decoded; not retried.
    Redirect(ApiErrorResponse),
    /// No complete response within the configured timeout.
    Timeout(TransportError),
    /// The connection could not be opened, or broke before a complete response arrived,
    /// or the tokio runtime shut down while the request was in flight (not retried).
    Connection(TransportError),
    /// A success response whose body is not what the API documents, or is longer than the
    /// client's limit.
    UndecodableResponse(UndecodableResponse),
    /// Refused before sending: the request breaks a documented rule. Nothing was sent.
    InvalidRequest(String),
    /// The client is misconfigured (missing API key, bad base URL...).
    Configuration(String),
    /// A paginated listing misbehaved (a repeated page, a page count that keeps growing).
    Pagination(String),
}

/// What a call adds to the error of its last attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CallDetails {
    /// The key the update was sent with.
    idempotency_key: Option<IdempotencyKey>,
    /// An earlier attempt ended in a way that may have applied the request.
    earlier_attempt_unresolved: bool,
}

impl Error {
    /// The HTTP status, when a response arrived.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::UndecodableResponse(body) => Some(body.status()),
            other => other.api_response().map(ApiErrorResponse::status),
        }
    }

    /// The API error response, for variants that carry one.
    pub fn api_response(&self) -> Option<&ApiErrorResponse> {
        match self {
            Self::Validation(r)
            | Self::UserIdAlreadySet(r)
            | Self::Conflict(r)
            | Self::Unauthorized(r)
            | Self::NotFound(r)
            | Self::MethodNotAllowed(r)
            | Self::Server(r)
            | Self::NotImplemented(r)
            | Self::UnexpectedStatus(r)
            | Self::Redirect(r)
            | Self::RateLimited { response: r, .. } => Some(r),
            _ => None,
        }
    }

    /// The request id Truemed (or a proxy) sent in a header, if any.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::UndecodableResponse(body) => body.request_id(),
            other => other.api_response().and_then(ApiErrorResponse::request_id),
        }
    }

    /// The server's message, if the body carried one.
    pub fn message(&self) -> Option<&str> {
        self.api_response().and_then(ApiErrorResponse::message)
    }

    /// The error code (`error` or `code` in the body), if any.
    pub fn code(&self) -> Option<&str> {
        self.api_response().and_then(ApiErrorResponse::code)
    }

    /// The response body as received (at most 64 KiB, lossily
    /// decoded as UTF-8), when a response arrived. Never part of `Display` or `Debug`.
    pub fn body(&self) -> Option<&str> {
        match self {
            Self::UndecodableResponse(body) => Some(body.body()),
            other => other.api_response().map(ApiErrorResponse::body),
        }
    }

    /// How long the server asked to wait (`Retry-After`), on any error response
    /// (typically 429 and 503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            other => other.api_response().and_then(ApiErrorResponse::retry_after),
        }
    }

    /// The idempotency key the failed update was sent with (given, or generated once for
    /// the call); `None` for other operations and for updates refused before sending.
    /// Send the same update again with this key to have it applied at most once.
    pub fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        self.details()?.idempotency_key.as_ref()
    }

    /// Whether the request may have been applied although the call failed, so that
    /// sending it again must use the same idempotency key:
    /// - **may have been applied**: a timeout, a connection lost after sending, a 5xx
    ///   (except 501), a 409 other than `user_id_already_set` (another request with the
    ///   key is in progress), a redirect, an undecodable success, a status outside the
    ///   classes the API uses (a final 1xx, 600-999), and any error after an earlier
    ///   attempt of the same call ended that way (retries exhausted);
    /// - **not applied**: refused before sending ([`InvalidRequest`](Self::InvalidRequest),
    ///   [`Configuration`](Self::Configuration)), a connection that could not be opened,
    ///   and a 4xx answer (the request was refused as it stood).
    pub fn may_have_been_applied(&self) -> bool {
        let earlier = self
            .details()
            .is_some_and(|details| details.earlier_attempt_unresolved);
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
            Self::Conflict(_) => true,
            Self::NotImplemented(_) => false,
            other => other
                .status()
                .is_some_and(|status| !status.is_client_error()),
        }
    }

    /// Whether sending the same request again may succeed: connection failures, timeouts,
    /// 408, 409 other than `user_id_already_set`, 429 (unless the body says a quota is
    /// exhausted), 500, 502, 503 and 504, and a status outside the classes the API uses
    /// (a final 1xx, 600-999: like a 502, something in between failed, and the update's
    /// idempotency key makes the retry safe). Never another 4xx, 501, a redirect, an
    /// undecodable success, or a request refused before sending.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connection(transport) if transport.is_runtime_shutdown() => false,
            Self::Timeout(_) | Self::Connection(_) | Self::Conflict(_) => true,
            Self::RateLimited { response, .. } => !response.says_quota_exhausted(),
            Self::Server(response) => matches!(response.status().as_u16(), 500 | 502 | 503 | 504),
            Self::UnexpectedStatus(response) => {
                let status = response.status();
                status == StatusCode::REQUEST_TIMEOUT || !status.is_client_error()
            }
            _ => false,
        }
    }

    /// The variant's name, for logs: no status text, body or personal data.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation",
            Self::UserIdAlreadySet(_) => "user_id_already_set",
            Self::Conflict(_) => "conflict",
            Self::Unauthorized(_) => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::RateLimited { .. } => "rate_limited",
            Self::Server(_) => "server_error",
            Self::NotImplemented(_) => "not_implemented",
            Self::UnexpectedStatus(_) => "unexpected_status",
            Self::Redirect(_) => "redirect",
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
            Self::Timeout(transport) | Self::Connection(transport) => Some(&transport.0.details),
            Self::UndecodableResponse(body) => Some(&body.0.details),
            other => other.api_response().map(|response| &response.0.details),
        }
    }

    fn details_mut(&mut self) -> Option<&mut CallDetails> {
        match self {
            Self::Validation(r)
            | Self::UserIdAlreadySet(r)
            | Self::Conflict(r)
            | Self::Unauthorized(r)
            | Self::NotFound(r)
            | Self::MethodNotAllowed(r)
            | Self::Server(r)
            | Self::NotImplemented(r)
            | Self::UnexpectedStatus(r)
            | Self::Redirect(r)
            | Self::RateLimited { response: r, .. } => Some(&mut r.0.details),
            Self::Timeout(transport) | Self::Connection(transport) => {
                Some(&mut transport.0.details)
            }
            Self::UndecodableResponse(body) => Some(&mut body.0.details),
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
        if let Some(details) = self.details_mut() {
            details.idempotency_key = idempotency_key.cloned();
            details.earlier_attempt_unresolved = earlier_attempt_unresolved;
        }
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
            Generated::InvalidRequest(message) => Self::InvalidRequest(message),
            Generated::CommunicationError(e)
            | Generated::ResponseBodyError(e)
            | Generated::InvalidUpgrade(e) => Self::from_transport(e),
            Generated::Custom(message) => match (context.refusal(), head) {
                (Some(refusal), Some(head)) => Self::refused(refusal, &head),
                _ => Self::InvalidRequest(message),
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
            return Self::InvalidRequest(format!("the request could not be built: {error}"));
        }
        let timeout = error.is_timeout();
        let transport = TransportError(Box::new(TransportFields {
            error,
            details: CallDetails::default(),
        }));
        match timeout {
            true => Self::Timeout(transport),
            false => Self::Connection(transport),
        }
    }

    fn refused(refusal: Refusal, head: &ResponseHead) -> Self {
        match refusal {
            Refusal::RedirectFollowed { status, final_url } => {
                let mut response = ApiErrorResponse::read(status, &head.headers, b"");
                response.0.location = Some(final_url.to_string());
                Self::Redirect(response)
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

    /// An error response: status, headers and the (bounded) body as received. Error
    /// bodies are decoded leniently: any JSON object with string fields counts; HTML from
    /// a proxy, an empty or a truncated body still yields the status.
    pub(crate) fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        if status.is_success() {
            return Self::undecodable(
                status,
                headers,
                body,
                "the status is not documented for this operation".to_owned(),
            );
        }
        let response = ApiErrorResponse::read(status, headers, body);
        if response.has_code(USER_ID_ALREADY_SET) {
            return Self::UserIdAlreadySet(response);
        }
        match status.as_u16() {
            300..=399 => Self::Redirect(response),
            400 => Self::Validation(response),
            401 => Self::Unauthorized(response),
            404 => Self::NotFound(response),
            405 => Self::MethodNotAllowed(response),
            409 => Self::Conflict(response),
            429 => Self::RateLimited {
                retry_after: response.retry_after(),
                response,
            },
            501 => Self::NotImplemented(response),
            500..=599 => Self::Server(response),
            _ => Self::UnexpectedStatus(response),
        }
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
            Self::Validation(r) => write!(
                f,
                "{r}: Truemed refused the request as invalid; fix the request before sending it again"
            ),
            Self::UserIdAlreadySet(r) => write!(
                f,
                "{r}: the session already has a user_id, which cannot be overwritten; corrections go through Truemed support"
            ),
            Self::Conflict(r) => write!(
                f,
                "{r}: the request conflicts with another one in progress; sending it again with the same idempotency key is safe"
            ),
            Self::Unauthorized(r) => {
                write!(f, "{r}: check the API key (sandbox and production keys differ)")
            }
            Self::NotFound(r) => write!(
                f,
                "{r}: check the id and that the session belongs to this API key's sales channel"
            ),
            Self::MethodNotAllowed(r) => write!(
                f,
                "{r}: the endpoint does not accept this method; the base URL may point at the wrong service"
            ),
            Self::RateLimited {
                response,
                retry_after,
            } => match retry_after {
                Some(wait) => write!(
                    f,
                    "{response}: rate limited; Truemed asked to wait {} s before retrying",
                    wait.as_secs_f64()
                ),
                None => write!(f, "{response}: rate limited; slow down and retry later"),
            },
            Self::Server(r) => write!(f, "{r}: Truemed failed to handle the request; it is safe to retry"),
            Self::NotImplemented(r) => {
                write!(f, "{r}: the operation is not available for this sales channel")
            }
            Self::UnexpectedStatus(r) => write!(f, "{r}"),
            Self::Redirect(r) => {
                let target = r
                    .location()
                    .map(|location| printable(without_query(location), 200))
                    .unwrap_or_else(|| "nowhere stated".to_owned());
                if r.status().is_redirection() {
                    write!(
                        f,
                        "{r}: a redirect to {target}, which this client never follows (the API key would go with it); check the base URL and any proxy in between"
                    )
                } else {
                    write!(
                        f,
                        "the HTTP client followed a redirect and the response ({}) came from {target}; it was refused: build the reqwest::Client given to http_client with redirect::Policy::none()",
                        r.status()
                    )
                }
            }
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
            Self::InvalidRequest(message) => write!(f, "invalid request, nothing was sent: {message}"),
            Self::Configuration(message) => write!(f, "invalid client configuration: {message}"),
            Self::Pagination(message) => {
                write!(f, "pagination stopped: {}", printable(message, REASON_LIMIT))
            }
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Each payload's Debug is written to leave out bodies and query strings.
        let name = match self {
            Self::RateLimited {
                response,
                retry_after,
            } => {
                return f
                    .debug_struct("RateLimited")
                    .field("response", response)
                    .field("retry_after", retry_after)
                    .finish()
            }
            Self::Validation(_) => "Validation",
            Self::UserIdAlreadySet(_) => "UserIdAlreadySet",
            Self::Conflict(_) => "Conflict",
            Self::Unauthorized(_) => "Unauthorized",
            Self::NotFound(_) => "NotFound",
            Self::MethodNotAllowed(_) => "MethodNotAllowed",
            Self::Server(_) => "Server",
            Self::NotImplemented(_) => "NotImplemented",
            Self::UnexpectedStatus(_) => "UnexpectedStatus",
            Self::Redirect(_) => "Redirect",
            Self::Timeout(t) => return f.debug_tuple("Timeout").field(t).finish(),
            Self::Connection(t) => return f.debug_tuple("Connection").field(t).finish(),
            Self::UndecodableResponse(b) => {
                return f.debug_tuple("UndecodableResponse").field(b).finish()
            }
            Self::InvalidRequest(m) => return f.debug_tuple("InvalidRequest").field(m).finish(),
            Self::Configuration(m) => return f.debug_tuple("Configuration").field(m).finish(),
            Self::Pagination(m) => {
                return f
                    .debug_tuple("Pagination")
                    .field(&printable(m, REASON_LIMIT))
                    .finish()
            }
        };
        let response = self
            .api_response()
            .expect("API error variants carry a response");
        f.debug_tuple(name).field(response).finish()
    }
}

impl From<InvalidIdempotencyKey> for Error {
    fn from(error: InvalidIdempotencyKey) -> Self {
        Self::InvalidRequest(error.to_string())
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

/// An error response from Truemed (or a proxy): status, error code, message, request id
/// and the body as received.
///
/// Boxed inside, so [`Error`] stays small enough to return cheaply. `Debug` shows the
/// body's length, not its text.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiErrorResponse(Box<ApiErrorFields>);

#[derive(Clone, PartialEq, Eq)]
struct ApiErrorFields {
    status: StatusCode,
    error: Option<String>,
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    location: Option<String>,
    body: String,
    details: CallDetails,
}

impl ApiErrorResponse {
    fn read(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        let fields = ErrorBodyFields::parse(body);
        Self(Box::new(ApiErrorFields {
            status,
            error: fields.error,
            code: fields.code,
            message: fields.message,
            request_id: request_id(headers),
            retry_after: retry_after(headers, SystemTime::now()),
            location: headers
                .get(reqwest::header::LOCATION)
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned()),
            body: bounded_text(body, ERROR_BODY_LIMIT),
            details: CallDetails::default(),
        }))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The error code: the body's `code` if present, else its `error` (e.g.
    /// `ValidationError`, `user_id_already_set`).
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref().or(self.0.error.as_deref())
    }

    /// The body's `error` field, as sent.
    pub fn error_kind(&self) -> Option<&str> {
        self.0.error.as_deref()
    }

    /// The body's `message` (or `detail`), for a person.
    pub fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }

    /// The request id header, if any (at most 128 characters).
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// The server's `Retry-After` (or `retry-after-ms`), if sent and readable.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// Where a redirect pointed: the `Location` header of a 3xx answer, or the URL a
    /// followed redirect ended at. Not followed, and not shown whole in `Display`.
    pub fn location(&self) -> Option<&str> {
        self.0.location.as_deref()
    }

    /// The body as received: at most 64 KiB, lossily decoded as
    /// UTF-8 (the rest was never read).
    pub fn body(&self) -> &str {
        &self.0.body
    }

    fn has_code(&self, code: &str) -> bool {
        self.0.error.as_deref() == Some(code) || self.0.code.as_deref() == Some(code)
    }

    fn says_quota_exhausted(&self) -> bool {
        [&self.0.error, &self.0.code]
            .into_iter()
            .flatten()
            .any(|c| c.to_ascii_lowercase().contains("quota"))
    }
}

impl fmt::Debug for ApiErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |text: &Option<String>, limit| text.as_deref().map(|t| printable(t, limit));
        f.debug_struct("ApiErrorResponse")
            .field("status", &self.0.status)
            .field("error", &shown(&self.0.error, 100))
            .field("code", &shown(&self.0.code, 100))
            .field("message", &shown(&self.0.message, DISPLAY_MESSAGE_LIMIT))
            .field("request_id", &shown(&self.0.request_id, REQUEST_ID_LIMIT))
            .field("retry_after", &self.0.retry_after)
            .field(
                "location",
                &self
                    .0
                    .location
                    .as_deref()
                    .map(|location| printable(without_query(location), 200)),
            )
            .field("body_len", &self.0.body.len())
            .field("idempotency_key", &self.0.details.idempotency_key)
            .finish()
    }
}

impl fmt::Display for ApiErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Truemed answered {}", self.0.status)?;
        let message = self
            .message()
            .map(|message| printable(message, DISPLAY_MESSAGE_LIMIT));
        match (self.code().map(|code| printable(code, 100)), message) {
            (Some(code), Some(message)) => write!(f, " ({code}: {message})")?,
            (Some(code), None) => write!(f, " ({code})")?,
            (None, Some(message)) => write!(f, " ({message})")?,
            (None, None) => {}
        }
        f.write_str(&request_id_hint(self.request_id()))
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

    /// The underlying reqwest error.
    pub fn reqwest_error(&self) -> &reqwest::Error {
        &self.0.error
    }

    /// Whether the tokio runtime shut down while the request was in flight.
    pub(crate) fn is_runtime_shutdown(&self) -> bool {
        truemed_api::RuntimeShutDown::is_cause_of(&self.0.error)
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
                &self
                    .0
                    .request_id
                    .as_deref()
                    .map(|id| printable(id, REQUEST_ID_LIMIT)),
            )
            .field("reason", &self.0.reason)
            .field("body_len", &self.0.body.len())
            .field("idempotency_key", &self.0.details.idempotency_key)
            .finish()
    }
}

/// The fields of an error body, read leniently: `{"error", "code", "message"}`,
/// `detail` for the message, or an `error` object holding them (Stripe's shape).
#[derive(Default)]
struct ErrorBodyFields {
    error: Option<String>,
    code: Option<String>,
    message: Option<String>,
}

impl ErrorBodyFields {
    fn parse(body: &[u8]) -> Self {
        let Ok(serde_json::Value::Object(object)) = serde_json::from_slice(body) else {
            return Self::default();
        };
        let text = |map: &serde_json::Map<String, serde_json::Value>, name: &str| {
            map.get(name)
                .and_then(|value| value.as_str())
                .map(str::to_owned)
        };
        let nested = object.get("error").and_then(|value| value.as_object());
        let from = nested.unwrap_or(&object);
        Self {
            error: match nested {
                Some(inner) => text(inner, "type").or_else(|| text(inner, "error")),
                None => text(&object, "error"),
            },
            code: text(from, "code"),
            message: text(from, "message").or_else(|| text(from, "detail")),
        }
    }
}

/// The request id from the first header that has a readable one, cut to 128 characters.
fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .map(|id| id.trim().chars().take(REQUEST_ID_LIMIT).collect::<String>())
        .filter(|id| !id.is_empty())
}

/// At most `limit` bytes of `bytes` as text, cut at a character boundary.
fn bounded_text(bytes: &[u8], limit: usize) -> String {
    let cut = &bytes[..bytes.len().min(limit)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if cut.len() < bytes.len() {
        // A cut through a multi-byte character shows as U+FFFD; drop it.
        while text.ends_with('\u{FFFD}') {
            text.pop();
        }
    }
    text
}

fn request_id_hint(request_id: Option<&str>) -> String {
    request_id
        .map(|id| format!(" [request id {}]", printable(id, REQUEST_ID_LIMIT)))
        .unwrap_or_default()
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
    fn bounded_text_cuts_at_a_char_boundary() {
        assert_eq!(bounded_text(b"short", 10), "short");
        assert_eq!(bounded_text("ééé".as_bytes(), 3), "é");
        assert_eq!(bounded_text(&[0xff, b'a'], 10), "\u{FFFD}a");
    }

    #[test]
    fn user_id_already_set_only_when_the_body_says_so() {
        for body in [
            r#"{"error":"user_id_already_set","message":"m"}"#,
            r#"{"error":"ValidationError","code":"user_id_already_set"}"#,
        ] {
            for status in [StatusCode::BAD_REQUEST, StatusCode::CONFLICT] {
                let error = Error::from_response(status, &HeaderMap::new(), body.as_bytes());
                assert!(
                    matches!(error, Error::UserIdAlreadySet(_)),
                    "{body}: {error:?}"
                );
            }
        }
        let other = Error::from_response(
            StatusCode::CONFLICT,
            &HeaderMap::new(),
            br#"{"error":"Conflict","message":"another request with this key is in progress"}"#,
        );
        assert!(matches!(other, Error::Conflict(_)), "{other:?}");
        assert_eq!(other.code(), Some("Conflict"));
        assert!(other.is_retryable());
    }

    #[test]
    fn quota_exhausted_429_is_not_retryable() {
        let quota = Error::from_response(
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            br#"{"error":"QuotaExceeded"}"#,
        );
        assert!(matches!(quota, Error::RateLimited { .. }));
        assert!(!quota.is_retryable());
        let plain = Error::from_response(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), b"");
        assert!(plain.is_retryable());
    }

    #[test]
    fn error_bodies_are_read_leniently() {
        let nested = Error::from_response(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            br#"{"error":{"type":"invalid_request","code":"bad_id","message":"m"}}"#,
        );
        assert_eq!(nested.code(), Some("bad_id"));
        assert_eq!(nested.message(), Some("m"));
        let detail = Error::from_response(
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            br#"{"detail":"gone"}"#,
        );
        assert_eq!(detail.message(), Some("gone"));
        for garbage in [
            &b"\xff\xfe\x00"[..],
            b"[1,2]",
            b"<html>",
            b"",
            b"{\"error\":7}",
        ] {
            let error = Error::from_response(StatusCode::BAD_GATEWAY, &HeaderMap::new(), garbage);
            assert_eq!(error.status(), Some(StatusCode::BAD_GATEWAY));
        }
    }
}
