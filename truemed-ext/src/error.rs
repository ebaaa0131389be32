//! [`Error`]: everything a call can fail with, one variant per documented API error.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use truemed_api::types::ApiError;

/// How much of an undecodable body an error keeps (bytes, cut at a character boundary).
pub const BODY_SNIPPET_LIMIT: usize = 512;
/// How much of an error body an [`ApiErrorResponse`] keeps.
pub const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// The error code Truemed returns when an update tries to overwrite a `user_id`.
pub const USER_ID_ALREADY_SET: &str = "user_id_already_set";

/// Headers that carry a request id, in the order they are looked up.
const REQUEST_ID_HEADERS: [&str; 3] = ["x-request-id", "request-id", "x-truemed-request-id"];

/// A failed call to Truemed.
///
/// Each documented API error is its own variant carrying an [`ApiErrorResponse`]
/// (status, error code, message, request id, raw body); transport failures, bodies that
/// cannot be decoded and requests refused before sending have variants of their own.
/// New variants may be added: match with a wildcard arm.
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
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 400: Truemed refused the request as invalid (`ValidationError`), including an
    /// idempotency key reused with a different payload.
    #[error(
        "{0}: Truemed refused the request as invalid; fix the request before sending it again"
    )]
    Validation(ApiErrorResponse),
    /// The session already has a `user_id` (`user_id_already_set`, usually 409); it
    /// cannot be overwritten through the API.
    #[error("{0}: the session already has a user_id, which cannot be overwritten; corrections go through Truemed support")]
    UserIdAlreadySet(ApiErrorResponse),
    /// 401: the API key is missing or wrong.
    #[error("{0}: check the API key (sandbox and production keys differ)")]
    Unauthorized(ApiErrorResponse),
    /// 404: no such qualification session for this API key.
    #[error("{0}: check the id and that the session belongs to this API key's sales channel")]
    NotFound(ApiErrorResponse),
    /// 405: the method is not allowed on this path.
    #[error("{0}: the endpoint does not accept this method; the base URL may point at the wrong service")]
    MethodNotAllowed(ApiErrorResponse),
    /// 429: too many requests. `retry_after` is the server's `Retry-After`, if any.
    #[error("{response}: rate limited{}", retry_after_hint(*.retry_after))]
    RateLimited {
        /// The response.
        response: ApiErrorResponse,
        /// How long the server asked the client to wait.
        retry_after: Option<Duration>,
    },
    /// 500, 502, 503, 504 and other 5xx except 501: Truemed or a proxy failed.
    #[error("{0}: Truemed failed to handle the request; it is safe to retry")]
    Server(ApiErrorResponse),
    /// 501: the operation is not implemented for this sales channel.
    #[error("{0}: the operation is not available for this sales channel")]
    NotImplemented(ApiErrorResponse),
    /// Any other non-success status (403, 408, 422...).
    #[error("{0}")]
    UnexpectedStatus(ApiErrorResponse),
    /// No complete response within the configured timeout.
    #[error("timed out waiting for Truemed: {0}")]
    Timeout(#[source] reqwest::Error),
    /// The connection failed or broke before a complete response arrived.
    #[error("could not reach Truemed: {}", source_chain(.0))]
    Connection(#[source] reqwest::Error),
    /// A response arrived but its body is not what the API documents.
    #[error("Truemed answered {status}{} with a body that cannot be decoded ({reason}): {snippet:?}", request_id_hint(.request_id.as_deref()))]
    UndecodableResponse {
        /// The response status.
        status: StatusCode,
        /// The request id header, if any.
        request_id: Option<String>,
        /// The start of the body (at most [`BODY_SNIPPET_LIMIT`] bytes).
        snippet: String,
        /// Why decoding failed.
        reason: String,
    },
    /// Refused before sending: the request breaks a documented rule. Nothing was sent.
    #[error("invalid request, nothing was sent: {0}")]
    InvalidRequest(String),
    /// The client is misconfigured (missing API key, bad base URL...).
    #[error("invalid client configuration: {0}")]
    Configuration(String),
    /// A paginated listing misbehaved (a repeated page, a page count that keeps growing).
    #[error("pagination stopped: {0}")]
    Pagination(String),
}

impl Error {
    /// The HTTP status, when a response arrived.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::UndecodableResponse { status, .. } => Some(*status),
            other => other.api_response().map(ApiErrorResponse::status),
        }
    }

    /// The API error response, for variants that carry one.
    pub fn api_response(&self) -> Option<&ApiErrorResponse> {
        match self {
            Self::Validation(r)
            | Self::UserIdAlreadySet(r)
            | Self::Unauthorized(r)
            | Self::NotFound(r)
            | Self::MethodNotAllowed(r)
            | Self::Server(r)
            | Self::NotImplemented(r)
            | Self::UnexpectedStatus(r)
            | Self::RateLimited { response: r, .. } => Some(r),
            _ => None,
        }
    }

    /// The request id Truemed (or a proxy) sent in a header, if any.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::UndecodableResponse { request_id, .. } => request_id.as_deref(),
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

    /// The raw response body (bounded), when a response arrived.
    pub fn body(&self) -> Option<&str> {
        match self {
            Self::UndecodableResponse { snippet, .. } => Some(snippet),
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

    /// Whether sending the same request again may succeed: connection failures, timeouts,
    /// 408, 429 (unless the body says a quota is exhausted), 500, 502, 503 and 504.
    /// Never another 4xx, 501, an undecodable success, or a request refused before
    /// sending.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout(_) | Self::Connection(_) => true,
            Self::RateLimited { response, .. } => !response.says_quota_exhausted(),
            Self::Server(response) => matches!(response.status().as_u16(), 500 | 502 | 503 | 504),
            Self::UnexpectedStatus(response) => response.status() == StatusCode::REQUEST_TIMEOUT,
            _ => false,
        }
    }

    /// The variant's name, for logs: no status text, body or personal data.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation",
            Self::UserIdAlreadySet(_) => "user_id_already_set",
            Self::Unauthorized(_) => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::RateLimited { .. } => "rate_limited",
            Self::Server(_) => "server_error",
            Self::NotImplemented(_) => "not_implemented",
            Self::UnexpectedStatus(_) => "unexpected_status",
            Self::Timeout(_) => "timeout",
            Self::Connection(_) => "connection",
            Self::UndecodableResponse { .. } => "undecodable_response",
            Self::InvalidRequest(_) => "invalid_request",
            Self::Configuration(_) => "configuration",
            Self::Pagination(_) => "pagination",
        }
    }

    /// Maps what the generated client returned into an [`Error`]. `head` is the status and
    /// headers the call's context recorded, used when the generated layer kept only bytes.
    pub(crate) async fn from_generated(
        error: truemed_api::Error<ApiError>,
        head: Option<truemed_api::ResponseHead>,
    ) -> Self {
        use truemed_api::Error as Generated;
        match error {
            Generated::InvalidRequest(message) | Generated::Custom(message) => {
                Self::InvalidRequest(message)
            }
            Generated::CommunicationError(e)
            | Generated::ResponseBodyError(e)
            | Generated::InvalidUpgrade(e) => Self::from_transport(e),
            Generated::ErrorResponse(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                let api_error = response.into_inner();
                let body = serde_json::to_string(&api_error).unwrap_or_default();
                Self::from_status(ApiErrorResponse::new(status, &headers, api_error, body))
            }
            Generated::InvalidResponsePayload(bytes, reason) => match head {
                Some(head) => Self::from_body(head.status, &head.headers, &bytes, reason),
                None => Self::UndecodableResponse {
                    status: StatusCode::OK,
                    request_id: None,
                    snippet: snippet(&bytes, BODY_SNIPPET_LIMIT),
                    reason: reason.to_string(),
                },
            },
            Generated::UnexpectedResponse(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                match read_bounded(response, ERROR_BODY_LIMIT).await {
                    Ok(bytes) => {
                        let reason = serde_json::from_slice::<serde_json::Value>(&bytes)
                            .err()
                            .map(|e| e.to_string())
                            .unwrap_or_else(|| "status not documented for this operation".into());
                        Self::from_body(status, &headers, &bytes, reason)
                    }
                    Err(e) => Self::from_transport(e),
                }
            }
        }
    }

    fn from_transport(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            Self::Timeout(error)
        } else if error.is_builder() {
            Self::InvalidRequest(error.to_string())
        } else {
            Self::Connection(error)
        }
    }

    /// A response whose body the generated layer could not decode as documented.
    pub(crate) fn from_body(
        status: StatusCode,
        headers: &HeaderMap,
        bytes: &[u8],
        reason: impl fmt::Display,
    ) -> Self {
        if status.is_success() {
            return Self::UndecodableResponse {
                status,
                request_id: request_id(headers),
                snippet: snippet(bytes, BODY_SNIPPET_LIMIT),
                reason: reason.to_string(),
            };
        }
        // Error bodies are decoded leniently: any JSON object with string fields counts;
        // HTML from a proxy, an empty or a truncated body still yields the status.
        let api_error = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .map(|value| {
                let field =
                    |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
                ApiError {
                    error: field("error"),
                    code: field("code"),
                    message: field("message").or_else(|| field("detail")),
                }
            })
            .unwrap_or_default();
        let body = snippet(bytes, ERROR_BODY_LIMIT);
        Self::from_status(ApiErrorResponse::new(status, headers, api_error, body))
    }

    fn from_status(response: ApiErrorResponse) -> Self {
        if response.has_code(USER_ID_ALREADY_SET) {
            return Self::UserIdAlreadySet(response);
        }
        match response.status().as_u16() {
            400 => Self::Validation(response),
            401 => Self::Unauthorized(response),
            404 => Self::NotFound(response),
            405 => Self::MethodNotAllowed(response),
            409 => Self::UserIdAlreadySet(response),
            429 => Self::RateLimited {
                retry_after: response.retry_after(),
                response,
            },
            501 => Self::NotImplemented(response),
            500..=599 => Self::Server(response),
            _ => Self::UnexpectedStatus(response),
        }
    }
}

/// An error response from Truemed: status, error code, message, request id and body.
///
/// Boxed inside, so [`Error`] stays small enough to return cheaply.
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
    body: String,
}

impl ApiErrorResponse {
    fn new(status: StatusCode, headers: &HeaderMap, api_error: ApiError, body: String) -> Self {
        Self(Box::new(ApiErrorFields {
            status,
            error: api_error.error,
            code: api_error.code,
            message: api_error.message,
            request_id: request_id(headers),
            retry_after: retry_after(headers, SystemTime::now()),
            body,
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

    /// The body's `message`, for a person.
    pub fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }

    /// The request id header, if any.
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// The server's `Retry-After` (or `retry-after-ms`), if sent.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// The raw body, at most [`ERROR_BODY_LIMIT`] bytes. For a documented error status
    /// whose body decoded, it is the JSON of the documented fields (`error`, `code`,
    /// `message`) as the generated layer read them.
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
        // The body may hold personal data; Debug shows its size, not its text.
        f.debug_struct("ApiErrorResponse")
            .field("status", &self.0.status)
            .field("error", &self.0.error)
            .field("code", &self.0.code)
            .field("message", &self.0.message)
            .field("request_id", &self.0.request_id)
            .field("retry_after", &self.0.retry_after)
            .field("body_len", &self.0.body.len())
            .finish()
    }
}

impl fmt::Display for ApiErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Truemed answered {}", self.0.status)?;
        match (self.code(), self.message()) {
            (Some(code), Some(message)) => write!(f, " ({code}: {message})")?,
            (Some(code), None) => write!(f, " ({code})")?,
            (None, Some(message)) => write!(f, " ({message})")?,
            (None, None) => {}
        }
        f.write_str(&request_id_hint(self.request_id()))
    }
}

fn request_id_hint(request_id: Option<&str>) -> String {
    request_id
        .map(|id| format!(" [request id {id}]"))
        .unwrap_or_default()
}

fn retry_after_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!(
            "; Truemed asked to wait {} s before retrying",
            wait.as_secs_f64()
        ),
        None => "; slow down and retry later".to_owned(),
    }
}

/// The error and its sources, so "error sending request" says why.
fn source_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .map(str::to_owned)
}

/// `Retry-After` (seconds or an HTTP date) or `retry-after-ms`, relative to `now`.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// At most `limit` bytes of `bytes` as text, cut at a character boundary.
fn snippet(bytes: &[u8], limit: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(limit)]);
    let mut text = text.into_owned();
    if bytes.len() > limit {
        // A cut through a multi-byte character shows as U+FFFD; drop it.
        while text.ends_with('\u{FFFD}') {
            text.pop();
        }
        text.push('…');
    }
    text
}

/// Reads at most `limit` bytes of a body, so a huge error page cannot exhaust memory.
async fn read_bounded(mut response: reqwest::Response, limit: usize) -> reqwest::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit + 1 - bytes.len().min(limit + 1);
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if bytes.len() > limit {
            break;
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    reqwest::header::HeaderName::from_static(k),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn retry_after_seconds_date_and_ms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after-ms", "1500"), ("retry-after", "9")]),
                now
            ),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-3")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn snippet_is_bounded_at_a_char_boundary() {
        assert_eq!(snippet(b"short", 10), "short");
        assert_eq!(snippet("ééé".as_bytes(), 3), "é…");
        assert_eq!(
            snippet(&[b'a'; 600], BODY_SNIPPET_LIMIT).chars().count(),
            BODY_SNIPPET_LIMIT + 1
        );
    }

    #[test]
    fn user_id_already_set_wins_over_status_in_either_field() {
        for body in [
            r#"{"error":"user_id_already_set","message":"m"}"#,
            r#"{"error":"ValidationError","code":"user_id_already_set"}"#,
        ] {
            let error = Error::from_body(
                StatusCode::BAD_REQUEST,
                &HeaderMap::new(),
                body.as_bytes(),
                "x",
            );
            assert!(
                matches!(error, Error::UserIdAlreadySet(_)),
                "{body}: {error:?}"
            );
        }
    }

    #[test]
    fn quota_exhausted_429_is_not_retryable() {
        let quota = Error::from_body(
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            br#"{"error":"QuotaExceeded"}"#,
            "x",
        );
        assert!(matches!(quota, Error::RateLimited { .. }));
        assert!(!quota.is_retryable());
        let plain = Error::from_body(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), b"", "x");
        assert!(plain.is_retryable());
    }
}
