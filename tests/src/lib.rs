//! What the workspace's tests share, and the workspace README's examples as doctests.
//!
//! - [`Scripted`]: an HTTP server on 127.0.0.1 whose every request is recorded and whose
//!   replies a closure decides (status, headers, body, delay), so a test can script
//!   sequences (503, 503, 200) and per-request delays that httpmock cannot express.
//! - [`hmac_hex`]: a `v1` webhook signature computed with the `hmac` crate, independently
//!   of truemed-ext's signer.
//!
//! truemed-ext's and truemed-fake's tests depend on this library by path (a
//! dev-dependency `cargo package` leaves out); it depends on no crate of the workspace, so
//! no test links a second truemed-ext. Its own integration tests in `tests/` are the
//! cross-crate ones.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// The workspace README's examples, compiled as doctests so the README cannot drift. (The
/// README is outside every published package, so no published crate can include it.)
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct WorkspaceReadmeDoctests;

/// The hex HMAC-SHA256 of `{timestamp}.{body}` under `secret`: a `v1` signature, computed
/// here with the `hmac` crate rather than by truemed-ext's signer.
pub fn hmac_hex(secret: &str, timestamp: &str, body: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    /// The query parameter `name`, decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.uri.query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The `page` query parameter (1 without it).
    pub fn page(&self) -> u64 {
        self.query("page").map(|p| p.parse().unwrap()).unwrap_or(1)
    }
}

/// A reply: status, headers, body, and how long to wait before sending it.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    /// A JSON body with its content type.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    /// A body as given, with no content type.
    pub fn raw(status: u16, body: &str) -> Self {
        Self { status, headers: vec![], body: body.into(), delay: Duration::ZERO }
    }

    /// One more header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Waits `delay` before answering.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Script = dyn Fn(usize, &Recorded) -> Reply + Send + Sync;

/// The running server (it runs until the test's runtime stops).
#[derive(Debug)]
pub struct Scripted {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Scripted {
    /// Serves `script(n, request)` for the n-th request (from 0).
    pub async fn start(script: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let counter = Arc::new(AtomicUsize::new(0));
        let script: Arc<Script> = Arc::new(script);
        let log = requests.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (log, counter, script) = (log.clone(), counter.clone(), script.clone());
                async move {
                    let recorded = Recorded { method, uri, headers, body };
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let reply = script(n, &recorded);
                    log.lock().unwrap().push(recorded);
                    tokio::time::sleep(reply.delay).await;
                    let mut response: Response =
                        (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
                    for (name, value) in reply.headers {
                        response.headers_mut().insert(name, value.parse().unwrap());
                    }
                    response
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base_url, requests }
    }

    /// The same reply sequence for every path: the n-th request gets `replies[n]`, later
    /// ones the last reply.
    pub async fn sequence(replies: Vec<Reply>) -> Self {
        Self::start(move |n, _| replies[n.min(replies.len() - 1)].clone()).await
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// How many requests arrived.
    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}
