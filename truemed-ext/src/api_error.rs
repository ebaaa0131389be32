//! [`ApiError`]: an error answer from Truemed (or a proxy), one shape for every status,
//! with its [`ApiErrorKind`] derived in one place ([`ApiErrorKind::of`]).
//!
//! # Why one struct with a kind
//!
//! Before, each documented status was an [`Error`](crate::Error) variant wrapping the same
//! response, so every function over errors listed them all, and a new documented status
//! cost an edit in each. reqwest goes the other way: one opaque error with `is_*()`
//! predicates, nothing to match, every question a method. This sits between the two, as
//! `std::io::Error` does with `ErrorKind`: one struct carries what every answer has
//! (status, code, message, request id, body, `Retry-After`, `Location`), and a small
//! `#[non_exhaustive]` [`ApiErrorKind`] says which documented error it is, for `match`
//! and `==`. The kind is derived from the status and the body in one function, so a new
//! documented status is one arm there (and a new kind one more arm, in
//! [`ApiErrorKind::words`], its name and advice). Whether it is retried is decided
//! elsewhere, once (`retry::classify`).
//!
//! Everything here reads what a server sent, so it is untrusted: every parse saturates
//! instead of panicking, and no error text carries a body, the URL's query or credentials.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use crate::idempotency::CallDetails;
use crate::redact::{printable, without_query};
use crate::retry_after::retry_after;
use crate::wire::USER_ID_ALREADY_SET;

/// How much of a response body an error keeps (bytes): error bodies are read no further,
/// and an undecodable success body is cut there.
pub(crate) const ERROR_BODY_LIMIT: usize = truemed_api::DEFAULT_MAX_ERROR_BODY;

/// Headers that carry a request id, in the order they are looked up.
const REQUEST_ID_HEADERS: [&str; 3] = ["x-request-id", "request-id", "x-truemed-request-id"];
/// The longest request id kept; a longer header is cut (it is shown in error text).
pub(crate) const REQUEST_ID_LIMIT: usize = 128;
/// The longest server message shown by `Display` ([`ApiError::message`] has all of it).
const DISPLAY_MESSAGE_LIMIT: usize = 300;

/// Which documented error an [`ApiError`] is. New kinds may be added: match with a
/// wildcard arm.
///
/// ```
/// # async fn demo(client: truemed_ext::Client) {
/// use truemed_ext::{ApiErrorKind, Error};
/// match client.qualification_sessions().get("qs_123").await {
///     Ok(session) => println!("{}", session.status),
///     Err(Error::Api(e)) if e.kind() == ApiErrorKind::NotFound => println!("no such session"),
///     Err(error) => eprintln!("{error}"),
/// }
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// 400: Truemed refused the request as invalid (`ValidationError`), including an
    /// idempotency key reused with a different payload.
    Validation,
    /// The session already has a `user_id` (the body's `error` or `code` is
    /// `user_id_already_set`, usually with 409); it cannot be overwritten through the API.
    UserIdAlreadySet,
    /// 409 for any other reason, e.g. another request with the same idempotency key is
    /// still in progress. Retried with the same key (which makes that safe), like Stripe's
    /// concurrent-use 409.
    Conflict,
    /// 401: the API key is missing or wrong.
    Unauthorized,
    /// 404: no such qualification session for this API key.
    NotFound,
    /// 405: the method is not allowed on this path.
    MethodNotAllowed,
    /// 429: too many requests ([`ApiError::retry_after`] is the server's `Retry-After`).
    RateLimited,
    /// 500, 502, 503, 504 and other 5xx except 501: Truemed or a proxy failed.
    Server,
    /// 501: the operation is not implemented for this sales channel.
    NotImplemented,
    /// A redirect, which this client never follows: a 3xx answer (its target in
    /// [`ApiError::location`]), or a response that came from another URL because the
    /// `reqwest::Client` given to
    /// [`ClientBuilder::http_client`](crate::ClientBuilder::http_client) followed one (the
    /// URL it came from in `location`, the final status in [`ApiError::status`]).
    Redirect,
    /// Any other non-success status: a 4xx without a kind of its own (403, 408, 422...),
    /// or a status outside the classes the API uses (a final 1xx, 600-999).
    UnexpectedStatus,
}

impl ApiErrorKind {
    /// The kind of an error answer: the one mapping from status and body to kind. A body
    /// saying `user_id_already_set` (in `error` or `code`) wins over the status.
    pub(crate) fn of(status: StatusCode, body: &ErrorBodyFields) -> Self {
        if body.has_code(USER_ID_ALREADY_SET) {
            return Self::UserIdAlreadySet;
        }
        match status.as_u16() {
            300..=399 => Self::Redirect,
            400 => Self::Validation,
            401 => Self::Unauthorized,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            409 => Self::Conflict,
            429 => Self::RateLimited,
            501 => Self::NotImplemented,
            500..=599 => Self::Server,
            _ => Self::UnexpectedStatus,
        }
    }

    /// The kind's name, for logs and metrics (`not_found`, `rate_limited`...): no status
    /// text, body or personal data.
    pub fn name(self) -> &'static str {
        self.words().0
    }

    /// The kind's name and what `Display` advises after the answer (empty for none): the
    /// one list of the kinds' words.
    fn words(self) -> (&'static str, &'static str) {
        match self {
            Self::Validation => (
                "validation",
                "Truemed refused the request as invalid; fix the request before sending it again",
            ),
            Self::UserIdAlreadySet => (
                "user_id_already_set",
                "the session already has a user_id, which cannot be overwritten; corrections go through Truemed support",
            ),
            Self::Conflict => (
                "conflict",
                "the request conflicts with another one in progress; sending it again with the same idempotency key is safe",
            ),
            Self::Unauthorized => (
                "unauthorized",
                "check the API key (sandbox and production keys differ)",
            ),
            Self::NotFound => (
                "not_found",
                "check the id and that the session belongs to this API key's sales channel",
            ),
            Self::MethodNotAllowed => (
                "method_not_allowed",
                "the endpoint does not accept this method; the base URL may point at the wrong service",
            ),
            Self::RateLimited => ("rate_limited", "rate limited; slow down and retry later"),
            Self::Server => (
                "server_error",
                "Truemed failed to handle the request; it is safe to retry",
            ),
            Self::NotImplemented => (
                "not_implemented",
                "the operation is not available for this sales channel",
            ),
            Self::Redirect => (
                "redirect",
                "which this client never follows (the API key would go with it); check the base URL and any proxy in between",
            ),
            Self::UnexpectedStatus => ("unexpected_status", ""),
        }
    }
}

impl fmt::Display for ApiErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error answer from Truemed (or a proxy): its [`kind`](Self::kind), status, error
/// code, message, request id and the body as received.
///
/// Boxed inside, so [`Error`](crate::Error) stays small enough to return cheaply. `Debug`
/// shows the body's length, not its text. `Display` says what happened and what to do.
///
/// Not to be confused with the generated model of the error body, `{error, message}`,
/// which is [`raw::types::ApiError`](truemed_api::types::ApiError).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiError(Box<ApiErrorFields>);

#[derive(Clone, PartialEq, Eq)]
struct ApiErrorFields {
    status: StatusCode,
    kind: ApiErrorKind,
    body_fields: ErrorBodyFields,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    location: Option<String>,
    body: String,
    details: CallDetails,
}

impl ApiError {
    /// An error answer: status, headers and the (bounded) body as received. The body is
    /// decoded leniently: any JSON object with string fields counts; HTML from a proxy,
    /// an empty or a truncated body still yields the status.
    pub(crate) fn read(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        let body_fields = ErrorBodyFields::parse(body);
        Self(Box::new(ApiErrorFields {
            status,
            kind: ApiErrorKind::of(status, &body_fields),
            body_fields,
            request_id: request_id(headers),
            retry_after: retry_after(headers, SystemTime::now()),
            location: headers
                .get(reqwest::header::LOCATION)
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned()),
            body: bounded_text(body, ERROR_BODY_LIMIT),
            details: CallDetails::default(),
        }))
    }

    /// A response that came from `final_url` because the HTTP client followed a redirect:
    /// refused, whatever its status.
    pub(crate) fn followed_redirect(
        status: StatusCode,
        headers: &HeaderMap,
        final_url: &str,
    ) -> Self {
        let mut error = Self::read(status, headers, b"");
        error.0.kind = ApiErrorKind::Redirect;
        error.0.location = Some(final_url.to_owned());
        error
    }

    /// Which documented error this is.
    pub fn kind(&self) -> ApiErrorKind {
        self.0.kind
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The error code: the body's `code` if present, else its `error` (e.g.
    /// `ValidationError`, `user_id_already_set`).
    pub fn code(&self) -> Option<&str> {
        let fields = &self.0.body_fields;
        fields.code.as_deref().or(fields.error.as_deref())
    }

    /// The body's `error` field as sent (or, for an `error` object, its `type`).
    pub fn error_field(&self) -> Option<&str> {
        self.0.body_fields.error.as_deref()
    }

    /// The body's `message` (or `detail`), for a person.
    pub fn message(&self) -> Option<&str> {
        self.0.body_fields.message.as_deref()
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

    /// The body as received: at most 64 KiB, lossily decoded as UTF-8 (the rest was never
    /// read). Never part of `Display` or `Debug`.
    pub fn body(&self) -> &str {
        &self.0.body
    }

    pub(crate) fn details(&self) -> &CallDetails {
        &self.0.details
    }

    pub(crate) fn details_mut(&mut self) -> &mut CallDetails {
        &mut self.0.details
    }

    /// `Truemed answered 404 Not Found (code: message) [request id …]`.
    fn write_answer(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Truemed answered {}", self.0.status)?;
        let message = self.message().map(|message| printable(message, DISPLAY_MESSAGE_LIMIT));
        match (self.code().map(|code| printable(code, 100)), message) {
            (Some(code), Some(message)) => write!(f, " ({code}: {message})")?,
            (Some(code), None) => write!(f, " ({code})")?,
            (None, Some(message)) => write!(f, " ({message})")?,
            (None, None) => {}
        }
        f.write_str(&request_id_hint(self.request_id()))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind();
        let target = || {
            self.location()
                .map(|location| printable(without_query(location), 200))
                .unwrap_or_else(|| "nowhere stated".to_owned())
        };
        if kind == ApiErrorKind::Redirect && !self.status().is_redirection() {
            return write!(
                f,
                "the HTTP client followed a redirect and the response ({}) came from {}; it was refused: build the reqwest::Client given to http_client with redirect::Policy::none()",
                self.status(),
                target()
            );
        }
        self.write_answer(f)?;
        match (kind, self.retry_after()) {
            (ApiErrorKind::RateLimited, Some(wait)) => write!(
                f,
                ": rate limited; Truemed asked to wait {} s before retrying",
                wait.as_secs_f64()
            ),
            (ApiErrorKind::Redirect, _) => {
                write!(f, ": a redirect to {}, {}", target(), kind.words().1)
            }
            (_, _) => match kind.words().1 {
                "" => Ok(()),
                advice => write!(f, ": {advice}"),
            },
        }
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |text: &Option<String>, limit| text.as_deref().map(|t| printable(t, limit));
        let fields = &self.0.body_fields;
        f.debug_struct("ApiError")
            .field("kind", &self.0.kind)
            .field("status", &self.0.status)
            .field("error", &shown(&fields.error, 100))
            .field("code", &shown(&fields.code, 100))
            .field("message", &shown(&fields.message, DISPLAY_MESSAGE_LIMIT))
            .field("request_id", &shown(&self.0.request_id, REQUEST_ID_LIMIT))
            .field("retry_after", &self.0.retry_after)
            .field(
                "location",
                &self.0.location.as_deref().map(|location| printable(without_query(location), 200)),
            )
            .field("body_len", &self.0.body.len())
            .field("idempotency_key", &self.0.details.idempotency_key)
            .finish()
    }
}

/// The fields of an error body, read leniently: `{"error", "code", "message"}`,
/// `detail` for the message, or an `error` object holding them (Stripe's shape).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct ErrorBodyFields {
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
            map.get(name).and_then(|value| value.as_str()).map(str::to_owned)
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

    fn has_code(&self, code: &str) -> bool {
        self.error.as_deref() == Some(code) || self.code.as_deref() == Some(code)
    }
}

/// The request id from the first header that has a readable one, cut to 128 characters.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .map(|id| id.trim().chars().take(REQUEST_ID_LIMIT).collect::<String>())
        .filter(|id| !id.is_empty())
}

/// ` [request id …]`, shown safely, or nothing.
pub(crate) fn request_id_hint(request_id: Option<&str>) -> String {
    request_id
        .map(|id| format!(" [request id {}]", printable(id, REQUEST_ID_LIMIT)))
        .unwrap_or_default()
}

/// At most `limit` bytes of `bytes` as text, cut at a character boundary.
pub(crate) fn bounded_text(bytes: &[u8], limit: usize) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(status: u16, body: &str) -> ApiErrorKind {
        let status = StatusCode::from_u16(status).unwrap();
        ApiError::read(status, &HeaderMap::new(), body.as_bytes()).kind()
    }

    /// The one mapping from status and body to kind, as a table.
    #[test]
    fn each_status_and_body_maps_to_one_kind() {
        use ApiErrorKind::*;
        let plain = r#"{"error":"E","message":"m"}"#;
        let already_set = r#"{"error":"user_id_already_set","message":"m"}"#;
        let already_set_code = r#"{"error":"ValidationError","code":"user_id_already_set"}"#;
        for (status, body, kind) in [
            (100, plain, UnexpectedStatus),
            (101, "", UnexpectedStatus),
            (300, "", Redirect),
            (301, plain, Redirect),
            (308, "", Redirect),
            (400, plain, Validation),
            (400, already_set_code, UserIdAlreadySet),
            (401, plain, Unauthorized),
            (403, plain, UnexpectedStatus),
            (404, plain, NotFound),
            (405, "", MethodNotAllowed),
            (408, "", UnexpectedStatus),
            (409, plain, Conflict),
            (409, already_set, UserIdAlreadySet),
            (409, already_set_code, UserIdAlreadySet),
            (422, plain, UnexpectedStatus),
            (429, "", RateLimited),
            (429, r#"{"error":"QuotaExceeded"}"#, RateLimited),
            (500, "<html>", Server),
            (501, plain, NotImplemented),
            (502, "", Server),
            (503, "", Server),
            (504, "", Server),
            (505, "", Server),
            (599, "", Server),
            (600, "", UnexpectedStatus),
            (999, "", UnexpectedStatus),
        ] {
            assert_eq!(kind_of(status, body), kind, "{status} {body}");
        }
    }

    #[test]
    fn kinds_have_names_for_logs() {
        assert_eq!(ApiErrorKind::NotFound.name(), "not_found");
        assert_eq!(ApiErrorKind::Server.to_string(), "server_error");
        assert_eq!(ApiErrorKind::UserIdAlreadySet.name(), USER_ID_ALREADY_SET);
    }

    #[test]
    fn bounded_text_cuts_at_a_char_boundary() {
        assert_eq!(bounded_text(b"short", 10), "short");
        assert_eq!(bounded_text("ééé".as_bytes(), 3), "é");
        assert_eq!(bounded_text(&[0xff, b'a'], 10), "\u{FFFD}a");
    }

    #[test]
    fn error_bodies_are_read_leniently() {
        let read = |status: u16, body: &[u8]| {
            ApiError::read(StatusCode::from_u16(status).unwrap(), &HeaderMap::new(), body)
        };
        let nested =
            read(400, br#"{"error":{"type":"invalid_request","code":"bad_id","message":"m"}}"#);
        assert_eq!(nested.code(), Some("bad_id"));
        assert_eq!(nested.error_field(), Some("invalid_request"));
        assert_eq!(nested.message(), Some("m"));
        assert_eq!(read(404, br#"{"detail":"gone"}"#).message(), Some("gone"));
        for garbage in [&b"\xff\xfe\x00"[..], b"[1,2]", b"<html>", b"", b"{\"error\":7}"] {
            let error = read(502, garbage);
            assert_eq!(error.status(), StatusCode::BAD_GATEWAY);
            assert_eq!(error.kind(), ApiErrorKind::Server);
            assert_eq!(error.code(), None);
        }
    }
}
