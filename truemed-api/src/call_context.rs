//! The generated client's inner value, [`CallContext`], and its hand-written
//! `ClientHooks` (the xtask asks progenitor for `HooksMode::Expected`).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use progenitor_client::{ClientInfo as _, OperationInfo};

use crate::task::Spawned;

/// The longest error body (any non-2xx status) read by default: the rest is discarded.
pub const DEFAULT_MAX_ERROR_BODY: usize = 64 * 1024;
/// The longest success body read by default; a longer one is refused.
pub const DEFAULT_MAX_SUCCESS_BODY: usize = 32 * 1024 * 1024;

/// Per-call context of the generated [`Client`](crate::Client) (its inner value), and the
/// client's hooks.
///
/// - Before sending, it adds [`headers`](Self::with_headers) the request does not already
///   carry (e.g. `x-truemed-api-key`; mark secrets with `HeaderValue::set_sensitive`) and
///   applies the [timeout](Self::with_timeout), so these work with any `reqwest::Client`,
///   including one the caller built.
/// - It sends the request and reads the response in a task of its own (on the tokio runtime
///   the call runs on, which reqwest needs anyway), so a response is read as it arrives
///   even while the call is not being polled; dropping the call aborts the task. When the
///   runtime shuts down while the call is in flight, the call fails with
///   `Error::CommunicationError`, whose source is a [`RuntimeShutDown`](crate::RuntimeShutDown).
///   A call made in a task spawned by
///   [`Spawned::spawn_with_inline_calls`](crate::Spawned::spawn_with_inline_calls) does
///   this in that task.
/// - When the response arrives, it reads the body with a bound: an error body (any
///   non-2xx status) is cut at [`with_max_error_body`](Self::with_max_error_body) bytes and
///   the rest discarded, so a huge error page costs the bound, not its size; a success body
///   longer than [`with_max_success_body`](Self::with_max_success_body) is refused.
/// - A response whose final URL is not the one requested (the `reqwest::Client` followed a
///   redirect) is refused instead of decoded: build clients with
///   `reqwest::redirect::Policy::none()`. A 3xx response is left to the caller as an
///   undocumented status.
/// - It records the response's status, headers and the body read, so a caller keeps them
///   even when the body cannot be decoded (progenitor's `Error::InvalidResponsePayload`
///   carries only the bytes). A refusal is returned as `Error::Custom` and recorded as a
///   [`Refusal`].
///
/// - Once the body is read, and before it is decoded, it calls the
///   [`on_body_read`](Self::on_body_read) callback, if any, with the status.
///
/// Clones share the record: give each concurrent call its own context ([`fresh`](Self::fresh)).
#[derive(Clone, Debug)]
pub struct CallContext {
    /// Shared by every call's context: a fresh one copies no header.
    headers: Arc<reqwest::header::HeaderMap>,
    timeout: Option<Duration>,
    max_error_body: usize,
    max_success_body: usize,
    on_body_read: Option<BodyReadCallback>,
    record: Arc<Mutex<Record>>,
}

/// What [`CallContext::on_body_read`] calls.
#[derive(Clone)]
struct BodyReadCallback(Arc<dyn Fn(reqwest::StatusCode) + Send + Sync>);

impl fmt::Debug for BodyReadCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BodyReadCallback")
    }
}

#[derive(Debug, Default)]
struct Record {
    requested: Option<reqwest::Url>,
    /// Set as the response's head arrives, before its body is read.
    status: Option<reqwest::StatusCode>,
    head: Option<ResponseHead>,
    refusal: Option<Refusal>,
}

/// The status, headers and (bounded) body of a response.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ResponseHead {
    /// The HTTP status.
    pub status: reqwest::StatusCode,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// What was read of the body: all of it, or the first bytes up to the limit.
    pub body: bytes::Bytes,
    /// Whether the body was longer than what was read.
    pub truncated: bool,
}

/// Why a response was refused instead of decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The HTTP client followed a redirect: the response came from another URL than the
    /// one requested.
    RedirectFollowed {
        /// The status of the final response.
        status: reqwest::StatusCode,
        /// The URL the response came from.
        final_url: reqwest::Url,
    },
    /// A success body longer than the limit.
    BodyTooLarge {
        /// The response status.
        status: reqwest::StatusCode,
        /// The limit, in bytes.
        limit: usize,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RedirectFollowed { status, final_url } => write!(
                f,
                "the HTTP client followed a redirect; the response ({status}) came from {}{}",
                final_url.origin().ascii_serialization(),
                final_url.path()
            ),
            Self::BodyTooLarge { status, limit } => {
                write!(f, "the {status} response body is longer than the limit of {limit} bytes")
            }
        }
    }
}

impl Default for CallContext {
    fn default() -> Self {
        Self {
            headers: Arc::default(),
            timeout: None,
            max_error_body: DEFAULT_MAX_ERROR_BODY,
            max_success_body: DEFAULT_MAX_SUCCESS_BODY,
            on_body_read: None,
            record: Default::default(),
        }
    }
}

impl CallContext {
    /// A context that adds nothing, with the default body limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Headers added to every request that does not already carry them.
    pub fn with_headers(mut self, headers: reqwest::header::HeaderMap) -> Self {
        self.headers = Arc::new(headers);
        self
    }

    /// The total time allowed for each request, from sending to the end of the body.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How much of an error body (any non-2xx status) is read; the rest is discarded.
    /// Default [`DEFAULT_MAX_ERROR_BODY`].
    pub fn with_max_error_body(mut self, bytes: usize) -> Self {
        self.max_error_body = bytes;
        self
    }

    /// The longest success body accepted; a longer one is refused
    /// ([`Refusal::BodyTooLarge`]). Default [`DEFAULT_MAX_SUCCESS_BODY`].
    pub fn with_max_success_body(mut self, bytes: usize) -> Self {
        self.max_success_body = bytes;
        self
    }

    /// Calls `callback` with the status once a response's body has been read within the
    /// limits (or refused), before the body is decoded: the connection is then free for
    /// another request while this one decodes.
    pub fn on_body_read(
        mut self,
        callback: impl Fn(reqwest::StatusCode) + Send + Sync + 'static,
    ) -> Self {
        self.on_body_read = Some(BodyReadCallback(Arc::new(callback)));
        self
    }

    /// The same settings with a fresh, empty record, for another call.
    pub fn fresh(&self) -> Self {
        Self { record: Default::default(), ..self.clone() }
    }

    /// Adds the headers and the timeout to `request` (the pre hook), and records its URL
    /// ([`requested_url`](Self::requested_url)).
    pub fn prepare(&self, request: &mut reqwest::Request) {
        self.lock().requested = Some(request.url().clone());
        for (name, value) in self.headers.iter() {
            if !request.headers().contains_key(name) {
                request.headers_mut().insert(name.clone(), value.clone());
            }
        }
        if let Some(timeout) = self.timeout {
            *request.timeout_mut() = Some(timeout);
        }
    }

    /// The URL of the latest request prepared with this context (query included: redact it
    /// before logging it), if any.
    pub fn requested_url(&self) -> Option<reqwest::Url> {
        self.lock().requested.clone()
    }

    /// The status of the latest response received with this context, if any, its body read
    /// or not: a response whose body failed to arrive has a status and no
    /// [`last_response`](Self::last_response).
    pub fn last_status(&self) -> Option<reqwest::StatusCode> {
        self.lock().status
    }

    /// The latest response received with this context, if any.
    pub fn last_response(&self) -> Option<ResponseHead> {
        self.lock().head.clone()
    }

    /// Why the latest response was refused, if it was.
    pub fn refusal(&self) -> Option<Refusal> {
        self.lock().refusal.clone()
    }

    /// Reads the body of `response` within the limits, records the response, and returns
    /// it rebuilt around the bytes read (empty when refused).
    async fn receive(
        &self,
        requested: &reqwest::Url,
        mut response: reqwest::Response,
    ) -> reqwest::Result<reqwest::Response> {
        let status = response.status();
        self.lock().status = Some(status);
        // Taken, not copied: the body is read without them, and the response rebuilt with them.
        let headers = std::mem::take(response.headers_mut());
        let version = response.version();
        let refusal = if response.url() != requested {
            Some(Refusal::RedirectFollowed { status, final_url: response.url().clone() })
        } else if status.is_success()
            && response.content_length().is_some_and(|length| length > self.max_success_body as u64)
        {
            Some(Refusal::BodyTooLarge { status, limit: self.max_success_body })
        } else {
            None
        };
        let (body, truncated) = match refusal {
            Some(_) => (bytes::Bytes::new(), true),
            None => {
                let limit = match status.is_success() {
                    true => self.max_success_body,
                    false => self.max_error_body,
                };
                read_bounded(&mut response, limit).await?
            }
        };
        let refusal = refusal.or_else(|| {
            (truncated && status.is_success())
                .then_some(Refusal::BodyTooLarge { status, limit: self.max_success_body })
        });
        {
            let mut record = self.lock();
            record.head = Some(ResponseHead {
                status,
                headers: headers.clone(),
                body: body.clone(),
                truncated,
            });
            record.refusal = refusal;
        }
        if let Some(BodyReadCallback(callback)) = &self.on_body_read {
            callback(status);
        }
        let mut rebuilt = http::Response::new(body);
        *rebuilt.status_mut() = status;
        *rebuilt.version_mut() = version;
        *rebuilt.headers_mut() = headers;
        Ok(reqwest::Response::from(rebuilt))
    }

    fn lock(&self) -> MutexGuard<'_, Record> {
        // Each field is replaced whole, so a poisoned lock still holds a consistent value.
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads at most `limit` bytes of the body; `true` when more was there (the rest is left
/// unread and the connection discarded). A body that arrives in one chunk is kept as it
/// came; only one in several chunks is copied, into one buffer.
async fn read_bounded(
    response: &mut reqwest::Response,
    limit: usize,
) -> reqwest::Result<(bytes::Bytes, bool)> {
    // Never trust a declared length for the allocation.
    let expected = response.content_length().unwrap_or(0).min(64 * 1024) as usize;
    let mut body = Body::default();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.push(chunk.slice(..room), expected.min(limit));
            return Ok((body.into_bytes(), true));
        }
        body.push(chunk, expected.min(limit));
    }
    Ok((body.into_bytes(), false))
}

/// A body as it is read: its first chunk as it came, or every chunk so far in one buffer.
enum Body {
    One(bytes::Bytes),
    Joined(bytes::BytesMut),
}

impl Default for Body {
    fn default() -> Self {
        Self::One(bytes::Bytes::new())
    }
}

impl Body {
    fn len(&self) -> usize {
        match self {
            Self::One(chunk) => chunk.len(),
            Self::Joined(buffer) => buffer.len(),
        }
    }

    /// Adds `chunk`; a buffer is made for two chunks, of at least `capacity` bytes.
    fn push(&mut self, chunk: bytes::Bytes, capacity: usize) {
        match self {
            Self::One(first) if first.is_empty() => *first = chunk,
            _ if chunk.is_empty() => {}
            Self::One(first) => {
                let mut buffer =
                    bytes::BytesMut::with_capacity(capacity.max(first.len() + chunk.len()));
                buffer.extend_from_slice(first);
                buffer.extend_from_slice(&chunk);
                *self = Self::Joined(buffer);
            }
            Self::Joined(buffer) => buffer.extend_from_slice(&chunk),
        }
    }

    fn into_bytes(self) -> bytes::Bytes {
        match self {
            Self::One(chunk) => chunk,
            Self::Joined(buffer) => buffer.freeze(),
        }
    }
}

/// The request an exchange's task sends.
///
/// When the request's body, if any, is bytes, the caller keeps the request it built and the
/// task sends a copy it makes itself, so each is freed on the thread that allocated it.
/// glibc's allocator gives each thread an arena, and a block freed by another thread goes
/// back to its own arena under that arena's lock: a request built by the caller and freed
/// in the task returned its blocks to the caller's arena while the caller allocated (a
/// listing's consumer decoding the page before), and the two threads took turns on the
/// lock. A listing at concurrency 1 took 1.4x as long as with the request freed where it
/// was built (BENCHMARKS.md, "The plan and scheduler against plain reqwest").
enum HandedRequest {
    /// Shared with the caller; the task sends a copy.
    Copy(Arc<reqwest::Request>),
    /// A request whose body is a stream, which cannot be copied: the task takes it.
    Whole(Box<reqwest::Request>),
}

impl HandedRequest {
    /// What the task sends, and what the caller keeps until the exchange is over.
    fn hand_over(request: reqwest::Request) -> (Self, Option<Arc<reqwest::Request>>) {
        if request.body().is_some_and(|body| body.as_bytes().is_none()) {
            return (Self::Whole(Box::new(request)), None);
        }
        let kept = Arc::new(request);
        (Self::Copy(Arc::clone(&kept)), Some(kept))
    }

    /// The request to send, made in the task.
    fn into_request(self) -> reqwest::Request {
        match self {
            Self::Copy(shared) => match shared.try_clone() {
                Some(copy) => copy,
                // `hand_over` shares only requests whose body is bytes, which copy.
                None => unreachable!("a request without a streamed body copies"),
            },
            Self::Whole(request) => *request,
        }
    }
}

impl progenitor_client::ClientHooks<CallContext> for crate::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        self.inner().prepare(request);
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let (client, context) = (self.client().clone(), self.inner().clone());
        let exchange = |request: reqwest::Request| async move {
            let requested = request.url().clone();
            let response = client.execute(request).await?;
            context.receive(&requested, response).await
        };
        // In a task of its own, the response is read as it arrives, however busy the caller
        // is (a listing's consumer, say, with the page before), so a slow caller neither
        // holds the response up nor runs its timeout down. Dropping the call aborts the
        // task; a runtime shutting down under it is an error, as in reqwest. A call made in
        // a task spawned for it already has that.
        if crate::task::calls_inline() {
            return exchange(request).await;
        }
        let url = request.url().clone();
        let (handed, kept) = HandedRequest::hand_over(request);
        let result =
            match Spawned::spawn(async move { exchange(handed.into_request()).await }).await {
                Ok(response) => response,
                Err(shutdown) => Err(reqwest::Error::from(shutdown).with_url(url)),
            };
        // Freed here, where it was built, after the task let go of its share.
        drop(kept);
        result
    }

    async fn post<E>(
        &self,
        _result: &reqwest::Result<reqwest::Response>,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        match self.inner().refusal() {
            Some(refusal) => Err(progenitor_client::Error::Custom(refusal.to_string())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Option<&'static str>) -> reqwest::Request {
        let url = "http://127.0.0.1:9/api/v1/qualification_session/qs_1".parse().unwrap();
        let mut request = reqwest::Request::new(reqwest::Method::POST, url);
        request.headers_mut().insert("idempotency-key", "key-1".parse().unwrap());
        *request.timeout_mut() = Some(Duration::from_secs(7));
        *request.body_mut() = body.map(reqwest::Body::from);
        request
    }

    /// The task sends a copy equal to the request built, and the caller keeps the original
    /// (the only holder once the task has its copy).
    #[test]
    fn a_request_with_a_body_of_bytes_or_none_is_copied_in_the_task_and_kept_by_the_caller() {
        for body in [Some(r#"{"user_id":"user_42"}"#), None] {
            let (handed, kept) = HandedRequest::hand_over(request(body));
            let kept = kept.expect("the caller keeps the request");
            let sent = handed.into_request();
            assert_eq!(Arc::strong_count(&kept), 1, "the task let go of its share");
            assert_eq!(sent.method(), kept.method());
            assert_eq!(sent.url(), kept.url());
            assert_eq!(sent.headers(), kept.headers());
            assert_eq!(sent.timeout(), kept.timeout());
            assert_eq!(sent.body().and_then(reqwest::Body::as_bytes), body.map(str::as_bytes));
        }
    }
}
