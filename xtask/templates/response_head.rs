/// The status and headers of the latest response a [`Client`](crate::Client) received.
///
/// The generated client's inner value: a post hook records every response's head here,
/// so a caller keeps the status and headers even when progenitor cannot decode the body
/// (its `Error::InvalidResponsePayload` carries only the bytes). Clones share the record;
/// give each concurrent call a client with its own `ResponseHead`.
///
/// Emitted by `cargo xtask codegen` from `xtask/templates/response_head.rs`.
#[derive(Clone, Debug, Default)]
pub struct ResponseHead(
    ::std::sync::Arc<
        ::std::sync::Mutex<::std::option::Option<(::reqwest::StatusCode, ::reqwest::header::HeaderMap)>>,
    >,
);

impl ResponseHead {
    /// Records the head of `result` when it is a response (the generated post hook).
    pub fn record(&self, result: &::reqwest::Result<::reqwest::Response>) {
        if let Ok(response) = result {
            *self.lock() = Some((response.status(), response.headers().clone()));
        }
    }

    /// The latest response's status, if a response arrived.
    pub fn status(&self) -> ::std::option::Option<::reqwest::StatusCode> {
        self.lock().as_ref().map(|(status, _)| *status)
    }

    /// The latest response's headers, if a response arrived.
    pub fn headers(&self) -> ::std::option::Option<::reqwest::header::HeaderMap> {
        self.lock().as_ref().map(|(_, headers)| headers.clone())
    }

    fn lock(
        &self,
    ) -> ::std::sync::MutexGuard<'_, ::std::option::Option<(::reqwest::StatusCode, ::reqwest::header::HeaderMap)>>
    {
        // A panic elsewhere cannot leave a half-written head: the value is replaced whole.
        self.0.lock().unwrap_or_else(::std::sync::PoisonError::into_inner)
    }
}
