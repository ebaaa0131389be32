/// Per-call context of the generated [`Client`](crate::Client) (its inner value).
///
/// - Before sending, a pre hook adds [`headers`](Self::with_headers) the request does not
///   already carry (e.g. `x-truemed-api-key`; mark secrets with
///   `HeaderValue::set_sensitive`) and applies the [timeout](Self::with_timeout), so these
///   work with any `reqwest::Client`, including one the caller built.
/// - After sending, a post hook records the response's status and headers, so a caller
///   keeps them even when the body cannot be decoded (progenitor's
///   `Error::InvalidResponsePayload` carries only the bytes).
///
/// Clones share the recorded head: give each concurrent call its own context.
///
/// Emitted by `cargo xtask codegen` from `xtask/templates/call_context.rs`.
#[derive(Clone, Debug, Default)]
pub struct CallContext {
    headers: ::reqwest::header::HeaderMap,
    timeout: ::std::option::Option<::std::time::Duration>,
    head: ::std::sync::Arc<::std::sync::Mutex<::std::option::Option<ResponseHead>>>,
}

/// The status and headers of a response.
#[derive(Clone, Debug)]
pub struct ResponseHead {
    /// The HTTP status.
    pub status: ::reqwest::StatusCode,
    /// The response headers.
    pub headers: ::reqwest::header::HeaderMap,
}

impl CallContext {
    /// A context that adds nothing and records the response head.
    pub fn new() -> Self {
        Self::default()
    }

    /// Headers added to every request that does not already carry them.
    pub fn with_headers(mut self, headers: ::reqwest::header::HeaderMap) -> Self {
        self.headers = headers;
        self
    }

    /// The total time allowed for each request, from sending to the end of the body.
    pub fn with_timeout(mut self, timeout: ::std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The same settings with a fresh, empty response record, for another call.
    pub fn fresh(&self) -> Self {
        Self {
            headers: self.headers.clone(),
            timeout: self.timeout,
            head: ::std::default::Default::default(),
        }
    }

    /// The pre hook: adds the headers and the timeout to `request`.
    pub fn prepare(&self, request: &mut ::reqwest::Request) {
        for (name, value) in &self.headers {
            if !request.headers().contains_key(name) {
                request.headers_mut().insert(name.clone(), value.clone());
            }
        }
        if let Some(timeout) = self.timeout {
            *request.timeout_mut() = Some(timeout);
        }
    }

    /// The post hook: records the head of `result` when it is a response.
    pub fn record(&self, result: &::reqwest::Result<::reqwest::Response>) {
        if let Ok(response) = result {
            *self.lock() = Some(ResponseHead {
                status: response.status(),
                headers: response.headers().clone(),
            });
        }
    }

    /// The head of the latest response received with this context, if any.
    pub fn last_response(&self) -> ::std::option::Option<ResponseHead> {
        self.lock().clone()
    }

    fn lock(&self) -> ::std::sync::MutexGuard<'_, ::std::option::Option<ResponseHead>> {
        // The record is replaced whole, so a poisoned lock still holds a consistent value.
        self.head.lock().unwrap_or_else(::std::sync::PoisonError::into_inner)
    }
}
