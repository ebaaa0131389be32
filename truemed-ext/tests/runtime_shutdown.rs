//! A runtime shut down while a call is in flight, over real HTTP: every call returns an
//! error, as plain reqwest does, and none panics in the caller's thread. A call dropped
//! while in flight stops its request (its tasks are aborted, the connection closed).

use std::future::{Future, IntoFuture as _};
use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt as _, TryStreamExt as _};
use truemed_ext::{Client, ClientBuilder, Error, RetryPolicy, Sleeper, UpdateOutcome};

/// A server on 127.0.0.1 that reads requests and never answers (or answers each with one
/// fixed response), on threads of its own (no runtime of the test's): it counts the
/// requests received and the connections the client closed.
struct Silent {
    base_url: String,
    requests: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
}

impl Silent {
    fn start() -> Self {
        Self::answering(None)
    }

    /// A server that answers every request with `reply` (a whole HTTP/1.1 response).
    fn answering(reply: Option<&'static [u8]>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let (received, gone) = (requests.clone(), closed.clone());
        std::thread::spawn(move || {
            for connection in listener.incoming() {
                let Ok(mut connection) = connection else {
                    continue;
                };
                let (received, gone) = (received.clone(), gone.clone());
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    let mut buffer = [0u8; 4096];
                    let mut counted = false;
                    // Read until the client closes the connection; answer each request
                    // (its head: they have no body) with the reply, if any.
                    while let Ok(read @ 1..) = connection.read(&mut buffer) {
                        seen.extend_from_slice(&buffer[..read]);
                        if !counted && seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            counted = true;
                            received.fetch_add(1, Ordering::SeqCst);
                            if let Some(reply) = reply {
                                let _ = connection.write_all(reply);
                                seen.clear();
                                counted = false;
                            }
                        }
                    }
                    gone.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Self { base_url, requests, closed }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }

    fn client(&self) -> Client {
        self.client_builder().build().unwrap()
    }

    fn client_builder(&self) -> ClientBuilder {
        Client::builder().api_key("sk_test_shutdown").base_url(&self.base_url)
    }
}

/// Waits (generously) until `done`, checking every few milliseconds.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[derive(Clone, Copy, Debug)]
enum Flavor {
    MultiThread,
    CurrentThread,
}

/// Runs `call` in a thread of its own through `Handle::block_on`, against a server that
/// never answers; once its `requests` requests are on the wire (and at least 300 ms in),
/// shuts the runtime down by dropping it. Returns what the thread returned, or how it
/// panicked, and the server.
fn shut_down_while_in_flight<T, F>(
    flavor: Flavor,
    requests: usize,
    call: impl FnOnce(Client) -> F + Send + 'static,
) -> (Result<T, String>, Silent)
where
    F: Future<Output = T>,
    T: Send + 'static,
{
    let server = Silent::start();
    let client = server.client();
    let started = Instant::now();
    let outcome = shut_down_once(
        flavor,
        client,
        || server.requests() >= requests && started.elapsed() >= Duration::from_millis(300),
        call,
    );
    (outcome, server)
}

/// Runs `call` with `client` in a thread of its own through `Handle::block_on`; once
/// `ready`, shuts the runtime down by dropping it. Returns what the thread returned, or
/// how it panicked.
fn shut_down_once<T, F>(
    flavor: Flavor,
    client: Client,
    ready: impl Fn() -> bool,
    call: impl FnOnce(Client) -> F + Send + 'static,
) -> Result<T, String>
where
    F: Future<Output = T>,
    T: Send + 'static,
{
    let runtime = match flavor {
        Flavor::MultiThread => {
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
        }
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread().enable_all().build(),
    }
    .unwrap();
    let handle = runtime.handle().clone();
    let caller = std::thread::spawn(move || handle.block_on(call(client)));
    match flavor {
        Flavor::MultiThread => wait_until("the call is ready to be shut down", &ready),
        // Only `Runtime::block_on` drives a current-thread runtime's tasks.
        Flavor::CurrentThread => runtime.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !ready() {
                assert!(Instant::now() < deadline, "the call never got ready");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }),
    }
    drop(runtime);
    caller.join().map_err(|panic| {
        if let Some(text) = panic.downcast_ref::<String>() {
            text.clone()
        } else if let Some(text) = panic.downcast_ref::<&str>() {
            (*text).to_owned()
        } else if panic.is::<futures::channel::oneshot::Canceled>() {
            "futures::channel::oneshot::Canceled".to_owned()
        } else {
            "a payload of another type".to_owned()
        }
    })
}

/// The error a call in flight gets when the runtime shuts down.
fn assert_shutdown_error<T: std::fmt::Debug>(
    what: &str,
    flavor: Flavor,
    outcome: Result<Result<T, Error>, String>,
) -> Error {
    let error = match outcome {
        Ok(Err(error)) => error,
        Ok(Ok(value)) => panic!("{what} ({flavor:?}) succeeded: {value:?}"),
        Err(panic) => panic!("{what} ({flavor:?}) panicked in the caller's thread: {panic}"),
    };
    assert!(matches!(error, Error::Connection(_)), "{what} ({flavor:?}): {error:?}");
    let text = error.to_string();
    assert!(
        text.contains("the runtime shut down while the request was in flight"),
        "{what} ({flavor:?}): {text}"
    );
    assert!(!error.is_retryable(), "{what} ({flavor:?}): a dead runtime cannot retry");
    error
}

const FLAVORS: [Flavor; 2] = [Flavor::MultiThread, Flavor::CurrentThread];

#[test]
fn a_get_in_flight_when_the_runtime_shuts_down_returns_an_error() {
    for flavor in FLAVORS {
        let (outcome, server) = shut_down_while_in_flight(flavor, 1, |client| async move {
            client.qualification_sessions().get("qs_1").await
        });
        assert_shutdown_error("get", flavor, outcome);
        assert_eq!(server.requests(), 1, "{flavor:?}: not retried");
    }
}

#[test]
fn a_list_send_in_flight_when_the_runtime_shuts_down_returns_an_error() {
    for flavor in FLAVORS {
        let (outcome, _) = shut_down_while_in_flight(flavor, 1, |client| async move {
            client.qualification_sessions().list().send().await
        });
        assert_shutdown_error("list().send()", flavor, outcome);
    }
}

#[test]
fn a_listing_in_flight_when_the_runtime_shuts_down_ends_with_an_error() {
    for flavor in FLAVORS {
        // The default prefetch (page tasks of their own) and one page at a time (the
        // page fetched on the stream's own task).
        for concurrency in [4, 1] {
            let (outcome, _) =
                shut_down_while_in_flight(flavor, concurrency, move |client| async move {
                    client
                        .qualification_sessions()
                        .list()
                        .page_size(10)
                        .paginate()
                        .concurrency(concurrency)
                        .items()
                        .try_collect::<Vec<_>>()
                        .await
                });
            assert_shutdown_error(
                &format!("list().stream() at concurrency {concurrency}"),
                flavor,
                outcome,
            );
        }
        let (outcome, _) = shut_down_while_in_flight(flavor, 4, |client| async move {
            client.qualification_sessions().list().stream().try_collect::<Vec<_>>().await
        });
        assert_shutdown_error("list().stream()", flavor, outcome);
    }
}

/// The update the shutdown tests send: one that may have been applied when it fails.
async fn update_qs_1(client: Client) -> Result<UpdateOutcome, Error> {
    client.qualification_sessions().update("qs_1").user_id("user_42").send().await
}

#[test]
fn an_update_in_flight_when_the_runtime_shuts_down_may_have_been_applied() {
    for flavor in FLAVORS {
        let (outcome, server) = shut_down_while_in_flight(flavor, 1, update_qs_1);
        let error = assert_shutdown_error("update", flavor, outcome);
        assert!(error.may_have_been_applied(), "{flavor:?}: the request was sent");
        assert!(error.idempotency_key().is_some(), "{flavor:?}: the key to resend it with");
        assert_eq!(server.requests(), 1, "{flavor:?}: not retried");
    }
}

/// A call waiting between retries (a 503 answered, a 5 s backoff) when the runtime shuts
/// down ends with the same error as a call in flight, not a panic in the caller's thread:
/// with the default sleeper as it is, and wrapped to say when the wait has begun.
#[test]
fn a_call_waiting_to_retry_when_the_runtime_shuts_down_returns_an_error() {
    const UNAVAILABLE: &[u8] =
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nretry-after: 5\r\n\r\n";
    for flavor in FLAVORS {
        for announced in [true, false] {
            let server = Silent::answering(Some(UNAVAILABLE));
            let waiting = Arc::new(AtomicUsize::new(0));
            let mut builder = server
                .client_builder()
                .retry_policy(RetryPolicy::default().with_max_retries(2).with_jitter(0.0));
            if announced {
                let waits = waiting.clone();
                builder = builder.sleeper(Sleeper::from_fn(move |wait| {
                    waits.fetch_add(1, Ordering::SeqCst);
                    Sleeper::tokio().sleep(wait)
                }));
            }
            let client = builder.build().unwrap();
            let started = Instant::now();
            let ready = || match announced {
                true => waiting.load(Ordering::SeqCst) == 1,
                // Answered at once on loopback: by then the call is waiting out the 5 s.
                false => server.requests() == 1 && started.elapsed() >= Duration::from_millis(500),
            };
            let outcome = shut_down_once(flavor, client, ready, update_qs_1);
            let what = format!("an update waiting to retry (sleeper announced: {announced})");
            let error = assert_shutdown_error(&what, flavor, outcome);
            assert!(error.may_have_been_applied(), "{what} ({flavor:?}): a 503 answered");
            assert!(error.idempotency_key().is_some(), "{what} ({flavor:?})");
            assert_eq!(server.requests(), 1, "{what} ({flavor:?}): not retried");
        }
    }
}

/// Dropping a call in flight aborts the task its exchange runs in: the connection closes
/// at once (a task left running would hold it open until the 60 s timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_call_in_flight_closes_its_connection() {
    let server = Silent::start();
    let client = server.client();
    let mut call = Box::pin(client.qualification_sessions().get("qs_1").into_future());
    while server.requests() < 1 {
        assert!(futures::poll!(call.as_mut()).is_pending());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(call);
    tokio::task::spawn_blocking(move || {
        wait_until("the connection closed", || server.closed() == 1)
    })
    .await
    .unwrap();
}

/// Dropping a listing with pages in flight aborts every page task and its exchange: each
/// connection closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_listing_in_flight_aborts_its_page_requests() {
    for concurrency in [4, 1] {
        let server = Silent::start();
        let client = server.client();
        let mut pages =
            client.qualification_sessions().list().paginate().concurrency(concurrency).pages();
        while server.requests() < concurrency {
            assert!(futures::poll!(pages.next()).is_pending());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(pages);
        tokio::task::spawn_blocking(move || {
            wait_until("every connection closed", || {
                server.closed() == concurrency && server.requests() == concurrency
            })
        })
        .await
        .unwrap();
    }
}
