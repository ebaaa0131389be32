//! [`Spawned`]: a future in a tokio task of its own, aborted when dropped, whose end by
//! the runtime's shutdown is an error ([`RuntimeShutDown`]), not a panic.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::FutureExt as _;

/// A future running in a task of its own on the tokio runtime, so it makes progress while
/// nobody polls this handle (the client's exchanges, and `truemed-ext`'s page tasks, in
/// which the exchanges run [inline](Self::spawn_with_inline_calls)).
///
/// Awaiting the handle gives the future's output, or [`RuntimeShutDown`] when the runtime
/// shut down (dropping the task) before the future finished; a panic in the task is
/// resumed in the caller. Dropping the handle aborts the task.
#[must_use = "dropping a Spawned aborts its task"]
pub struct Spawned<T>(tokio::task::JoinHandle<T>);

tokio::task_local! {
    /// Set while a future spawned by [`Spawned::spawn_with_inline_calls`] is polled.
    static CALLS_INLINE: ();
}

impl<T: Send + 'static> Spawned<T> {
    /// Spawns `future` on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as `tokio::spawn` does (so would reqwest).
    pub fn spawn(future: impl Future<Output = T> + Send + 'static) -> Self {
        Self(tokio::spawn(future))
    }

    /// Spawns `future` like [`spawn`](Self::spawn), and has each call of the generated
    /// [`Client`](crate::Client) made in it send its request and read the response in this
    /// task, instead of in a task of its own: this one already progresses while nobody
    /// polls its handle, so another would only add a hand-off between tasks per call.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as `tokio::spawn` does (so would reqwest).
    pub fn spawn_with_inline_calls(future: impl Future<Output = T> + Send + 'static) -> Self {
        Self(tokio::spawn(CALLS_INLINE.scope((), future)))
    }
}

/// Whether the future being polled was spawned by [`Spawned::spawn_with_inline_calls`].
pub(crate) fn calls_inline() -> bool {
    CALLS_INLINE.try_with(|()| ()).is_ok()
}

impl<T> Future for Spawned<T> {
    type Output = Result<T, RuntimeShutDown>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::task::ready!(self.0.poll_unpin(cx)) {
            Ok(output) => Poll::Ready(Ok(output)),
            Err(error) => match error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                // The task is aborted only when this handle is dropped, after which it is
                // never polled again: a cancelled task was dropped by the runtime's
                // shutdown.
                Err(_cancelled) => Poll::Ready(Err(RuntimeShutDown)),
            },
        }
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> fmt::Debug for Spawned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawned").finish_non_exhaustive()
    }
}

/// The tokio runtime shut down while a request was in flight (its task was dropped): the
/// request may have been sent, and no response will come.
///
/// A call of the generated [`Client`](crate::Client) that ends this way returns
/// `Error::CommunicationError` with a `reqwest::Error` whose
/// [`source`](std::error::Error::source) is this (see [`is_cause_of`](Self::is_cause_of)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeShutDown;

impl RuntimeShutDown {
    /// Whether `error`, or any error in its [`source`](std::error::Error::source) chain, is
    /// a [`RuntimeShutDown`].
    pub fn is_cause_of(error: &(dyn std::error::Error + 'static)) -> bool {
        std::iter::successors(Some(error), |error| error.source()).any(|error| error.is::<Self>())
    }
}

impl fmt::Display for RuntimeShutDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the runtime shut down while the request was in flight")
    }
}

impl std::error::Error for RuntimeShutDown {}

/// A `reqwest::Error` whose source is the [`RuntimeShutDown`], for results typed
/// `reqwest::Result` (reqwest has no public constructor: it is the error of reading a body
/// that fails with it).
impl From<RuntimeShutDown> for reqwest::Error {
    fn from(shutdown: RuntimeShutDown) -> Self {
        let failing = futures_util::stream::iter([Err::<bytes::Bytes, _>(shutdown)]);
        let body = reqwest::Body::wrap_stream(failing);
        let mut response = reqwest::Response::from(http::Response::new(body));
        match response.chunk().now_or_never() {
            Some(Err(error)) => error,
            // A body whose first chunk is an error fails its first read, at once.
            _ => unreachable!("reading a body that fails at once fails at once"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shutdown_as_a_reqwest_error_keeps_it_in_its_sources() {
        let error = reqwest::Error::from(RuntimeShutDown);
        assert!(RuntimeShutDown::is_cause_of(&error));
        assert!(!error.is_connect() && !error.is_timeout() && !error.is_builder());
        assert!(!RuntimeShutDown::is_cause_of(&std::fmt::Error));
    }
}
