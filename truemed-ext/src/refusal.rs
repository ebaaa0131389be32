//! What the client refuses, each with a typed reason: a request that breaks a rule the
//! client checks before sending ([`InvalidRequest`]), a configuration it cannot build a
//! client from ([`ConfigurationError`]), and a listing it stops because the server
//! misbehaves ([`PaginationError`]).
//!
//! Each reason is an enum to match on (new reasons may be added), with a `Display` that
//! says what is wrong and what to do; the text is for people, the enum for code.

use std::fmt;

use crate::idempotency::InvalidIdempotencyKey;

/// The largest page number and page size the API takes: its integers are `int64`.
pub(crate) const MAX_API_INTEGER: u64 = i64::MAX as u64;

/// A request refused before sending: it breaks a rule of the API that the client checks
/// (its [`reason`](Self::reason)). Nothing was sent.
///
/// ```
/// # async fn demo(client: truemed_ext::Client) {
/// use truemed_ext::{Error, InvalidRequestReason};
/// let error = client.qualification_sessions().get("..").await.unwrap_err();
/// assert!(matches!(
///     error,
///     Error::InvalidRequest(ref refused) if refused.reason() == &InvalidRequestReason::DotSegmentId
/// ));
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct InvalidRequest(Box<InvalidRequestReason>);

impl InvalidRequest {
    /// Which rule the request breaks.
    pub fn reason(&self) -> &InvalidRequestReason {
        &self.0
    }
}

impl From<InvalidRequestReason> for InvalidRequest {
    fn from(reason: InvalidRequestReason) -> Self {
        Self(Box::new(reason))
    }
}

impl fmt::Debug for InvalidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("InvalidRequest").field(&self.0).finish()
    }
}

impl fmt::Display for InvalidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The rule an [`InvalidRequest`] breaks: one per check the client makes before sending.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidRequestReason {
    /// The qualification session id is empty.
    EmptyId,
    /// The id is `.` or `..`: URL parsing would resolve it as a path segment, reaching
    /// another path of the API with the key attached.
    DotSegmentId,
    /// The id contains a backslash, which URL parsing reads as a path separator.
    BackslashInId,
    /// The id breaks another of the spec's rules for it.
    IdRefused,
    /// A text filter of a listing (`user_id` or `search`) is empty or blank: it would
    /// match every session.
    #[non_exhaustive]
    BlankFilter {
        /// The filter's query parameter.
        filter: &'static str,
    },
    /// A status filter whose statuses are not each one lowercase word (letters and
    /// underscores), as the spec's pattern requires.
    #[non_exhaustive]
    InvalidStatusFilter {
        /// The statuses as they would have been sent, comma-joined.
        filter: String,
    },
    /// A page number outside 1 to [`ListRequest::MAX_PAGE`](crate::ListRequest::MAX_PAGE)
    /// (the API's page numbers are 64-bit signed integers).
    #[non_exhaustive]
    PageOutOfRange {
        /// The page asked for.
        page: u64,
    },
    /// A page size outside 1 to [`ListRequest::MAX_PAGE_SIZE`](crate::ListRequest::MAX_PAGE_SIZE).
    #[non_exhaustive]
    PageSizeOutOfRange {
        /// The page size asked for.
        page_size: u64,
    },
    /// A field of an update is longer than the spec allows.
    #[non_exhaustive]
    FieldTooLong {
        /// The field's name in the request body.
        field: &'static str,
        /// Its length, in characters.
        length: usize,
        /// The most characters the spec allows.
        limit: usize,
    },
    /// The metadata given to [`UpdateRequest::metadata`](crate::UpdateRequest::metadata)
    /// cannot be serialized to JSON (a map with non-string keys, a failing `Serialize`).
    #[non_exhaustive]
    MetadataNotSerializable {
        /// serde_json's message.
        reason: String,
    },
    /// The idempotency key is not one the API takes.
    InvalidIdempotencyKey(InvalidIdempotencyKey),
    /// The HTTP request could not be built from the settings given (the generated
    /// client's or reqwest's message).
    #[non_exhaustive]
    Unbuildable {
        /// Why.
        reason: String,
    },
}

impl fmt::Display for InvalidRequestReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = "the qualification session id";
        match self {
            Self::EmptyId => write!(f, "{id} is empty"),
            Self::DotSegmentId => write!(f, "{id} is `.` or `..`, a path segment, not an id"),
            Self::BackslashInId => write!(
                f,
                "{id} contains a backslash, which URL parsing reads as a path separator"
            ),
            Self::IdRefused => write!(f, "{id} is refused by the spec's rules"),
            Self::BlankFilter { filter } => write!(
                f,
                "the {filter} filter is empty; an empty filter would match every session, so leave it unset instead"
            ),
            Self::InvalidStatusFilter { filter } => write!(
                f,
                "status filter {filter:?}: each status is one lowercase word (letters and underscores)"
            ),
            Self::PageOutOfRange { page: 0 } => f.write_str("page numbers start at 1"),
            Self::PageOutOfRange { page } => write!(
                f,
                "page {page} is past the last page the API can have, {MAX_API_INTEGER} (its page numbers are 64-bit signed integers)"
            ),
            Self::PageSizeOutOfRange { page_size: 0 } => f.write_str("page size must be at least 1"),
            Self::PageSizeOutOfRange { page_size } => write!(
                f,
                "page size {page_size} is over the largest the API can take, {MAX_API_INTEGER} (its page sizes are 64-bit signed integers)"
            ),
            Self::FieldTooLong {
                field,
                length,
                limit,
            } => write!(
                f,
                "{field} is {length} characters long; Truemed refuses it (longer than {limit} characters)"
            ),
            Self::MetadataNotSerializable { reason } => {
                write!(f, "metadata cannot be encoded as JSON: {reason}")
            }
            Self::InvalidIdempotencyKey(error) => fmt::Display::fmt(error, f),
            Self::Unbuildable { reason } => write!(f, "the request could not be built: {reason}"),
        }
    }
}

/// A client configuration that cannot work (its [`reason`](Self::reason)), from
/// [`ClientBuilder::build`](crate::ClientBuilder::build) or
/// [`Client::from_env`](crate::Client::from_env). Its text never shows the API key, nor URL
/// credentials, query or fragment.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigurationError(Box<ConfigurationReason>);

impl ConfigurationError {
    /// What is wrong with the configuration.
    pub fn reason(&self) -> &ConfigurationReason {
        &self.0
    }
}

impl From<ConfigurationReason> for ConfigurationError {
    fn from(reason: ConfigurationReason) -> Self {
        Self(Box::new(reason))
    }
}

impl fmt::Debug for ConfigurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ConfigurationError").field(&self.0).finish()
    }
}

impl fmt::Display for ConfigurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What is wrong with a client's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigurationReason {
    /// No API key was given (or it is blank), and `TRUEMED_API_KEY` has none.
    MissingApiKey,
    /// The API key holds characters an HTTP header cannot carry (control characters,
    /// non-ASCII): often a stray newline.
    ApiKeyNotHeaderValue,
    /// An environment variable the client reads is not valid UTF-8.
    #[non_exhaustive]
    EnvNotUnicode {
        /// The variable.
        variable: &'static str,
    },
    /// The base URL cannot be used.
    #[non_exhaustive]
    InvalidBaseUrl {
        /// The URL as given, without credentials, query or fragment.
        url: String,
        /// What is wrong with it.
        problem: BaseUrlProblem,
    },
    /// reqwest could not build its HTTP client (a TLS backend that failed to start).
    #[non_exhaustive]
    HttpClient {
        /// reqwest's message.
        reason: String,
    },
}

impl fmt::Display for ConfigurationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingApiKey => write!(
                f,
                "no API key: call `.api_key(...)` or set {}",
                crate::wire::API_KEY_ENV
            ),
            Self::ApiKeyNotHeaderValue => f.write_str(
                "the API key contains characters an HTTP header cannot carry (control characters or non-ASCII); check for a stray newline",
            ),
            Self::EnvNotUnicode { variable } => write!(f, "{variable} is not valid UTF-8"),
            Self::InvalidBaseUrl { url, problem } => write!(f, "base URL {url:?}: {problem}"),
            Self::HttpClient { reason } => write!(f, "cannot build the HTTP client: {reason}"),
        }
    }
}

/// What is wrong with a base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BaseUrlProblem {
    /// It does not parse as a URL.
    #[non_exhaustive]
    Unparsable {
        /// The URL parser's message.
        reason: String,
    },
    /// It has no host.
    NoHost,
    /// Its scheme is neither `https` nor `http`.
    #[non_exhaustive]
    UnsupportedScheme {
        /// The scheme.
        scheme: String,
    },
    /// Plain `http` to a host that is not loopback: the API key would cross the network
    /// unencrypted.
    PlainHttpNotLoopback,
    /// It carries a query or a fragment.
    QueryOrFragment,
    /// It carries credentials (`user:password@`).
    Credentials,
}

impl fmt::Display for BaseUrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unparsable { reason } => f.write_str(reason),
            Self::NoHost => f.write_str("no host"),
            Self::UnsupportedScheme { scheme } => write!(f, "scheme {scheme:?} is not http(s)"),
            Self::PlainHttpNotLoopback => f.write_str(
                "plain http is allowed only for loopback hosts (127.0.0.1, ::1, localhost); use https",
            ),
            Self::QueryOrFragment => f.write_str("a base URL cannot carry a query or a fragment"),
            Self::Credentials => {
                f.write_str("credentials in the URL are not supported; use the API key")
            }
        }
    }
}

/// A listing stopped because the server misbehaved (its [`kind`](Self::kind)): instead of
/// looping or yielding sessions twice, the stream ends with this error.
#[derive(Clone, PartialEq, Eq)]
pub struct PaginationError(Box<PaginationErrorKind>);

impl PaginationError {
    /// How the server misbehaved.
    pub fn kind(&self) -> &PaginationErrorKind {
        &self.0
    }
}

impl From<PaginationErrorKind> for PaginationError {
    fn from(kind: PaginationErrorKind) -> Self {
        Self(Box::new(kind))
    }
}

impl fmt::Debug for PaginationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PaginationError").field(&self.0).finish()
    }
}

impl fmt::Display for PaginationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// How a server misbehaved during a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PaginationErrorKind {
    /// The server answered with another page than the one asked for (its
    /// `pagination.current_page`).
    #[non_exhaustive]
    PageMismatch {
        /// The page asked for.
        requested: u64,
        /// The page the server said it answered.
        answered: i64,
    },
    /// A page holds the same sessions as the page before it: the server may be ignoring
    /// the `page` parameter.
    #[non_exhaustive]
    RepeatedPage {
        /// The page that repeats the one before it.
        page: u64,
    },
    /// `last_page` kept growing as the listing reached it, more times than the listing
    /// follows (sessions added while paging move it a few times, not without end).
    #[non_exhaustive]
    LastPageKeepsGrowing {
        /// The last `last_page` reported.
        last_page: u64,
        /// The end the listing had planned.
        planned: u64,
        /// How many times the listing had followed a larger `last_page`.
        extensions: u32,
    },
}

impl fmt::Display for PaginationErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PageMismatch {
                requested,
                answered,
            } => write!(
                f,
                "asked for page {requested}, the server answered with page {answered}"
            ),
            Self::RepeatedPage { page } => write!(
                f,
                "page {page} repeats the sessions of page {}; the server may be ignoring the page parameter",
                page.saturating_sub(1)
            ),
            Self::LastPageKeepsGrowing {
                last_page,
                planned,
                extensions,
            } => write!(
                f,
                "last_page kept growing (now {last_page}, planned {planned}) after {extensions} extensions; the server may be misreporting it"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_say_what_is_wrong() {
        for (reason, text) in [
            (InvalidRequestReason::EmptyId, "the qualification session id is empty"),
            (
                InvalidRequestReason::PageOutOfRange { page: 0 },
                "page numbers start at 1",
            ),
            (
                InvalidRequestReason::PageOutOfRange { page: u64::MAX },
                "page 18446744073709551615 is past the last page the API can have, 9223372036854775807",
            ),
            (
                InvalidRequestReason::PageSizeOutOfRange { page_size: 0 },
                "page size must be at least 1",
            ),
            (
                InvalidRequestReason::PageSizeOutOfRange {
                    page_size: MAX_API_INTEGER + 1,
                },
                "page size 9223372036854775808 is over the largest the API can take, 9223372036854775807",
            ),
            (
                InvalidRequestReason::FieldTooLong {
                    field: "user_id",
                    length: 256,
                    limit: 255,
                },
                "user_id is 256 characters long; Truemed refuses it (longer than 255 characters)",
            ),
        ] {
            let shown = InvalidRequest::from(reason).to_string();
            assert!(shown.starts_with(text), "{shown}");
        }
        let url = ConfigurationReason::InvalidBaseUrl {
            url: "http://10.0.0.1".into(),
            problem: BaseUrlProblem::PlainHttpNotLoopback,
        };
        assert!(ConfigurationError::from(url)
            .to_string()
            .starts_with("base URL \"http://10.0.0.1\": plain http is allowed only"));
        let repeated = PaginationError::from(PaginationErrorKind::RepeatedPage { page: 3 });
        assert!(repeated.to_string().starts_with("page 3 repeats the sessions of page 2"));
    }
}
