//! The HTTP side: an axum router for the three operations, served connection by connection
//! with hyper so that a fault can close a connection without answering; requests under
//! the control prefix go to the [control API](super::control) instead, untouched by
//! faults, latency and counters.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State as Extract};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::control::{self, reply};
use super::dashboard;
use super::fault::{classify, Fault, FaultKind};
use super::paths::LIST_PATH;
use super::shared::Shared;
use super::state::Reply;

/// The API's routes.
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/api/v1/qualification_session/{qualification_session_id}",
            get(get_session).fallback(method_not_allowed),
        )
        .route(LIST_PATH, get(list_sessions).fallback(method_not_allowed))
        .route(
            "/api/v1/qualification_session/{qualification_session_id}/update",
            post(update_session).fallback(method_not_allowed),
        )
        .fallback(unknown_path)
        .with_state(shared)
}

type Id = Result<Path<String>, axum::extract::rejection::PathRejection>;

/// The id from the path; an id that cannot be decoded (not UTF-8) matches no session, so
/// it is looked up as-is and found missing.
fn path_id(id: Id) -> String {
    id.map(|Path(id)| id).unwrap_or_default()
}

async fn get_session(
    Extract(shared): Extract<Arc<Shared>>,
    headers: HeaderMap,
    id: Id,
) -> Response {
    if let Some(refused) = shared.refuse_unauthorized(&headers) {
        return reply(refused);
    }
    // Answered from the one locked read, serialized outside the lock.
    let answer = shared.state().get(&path_id(id));
    reply(answer)
}

async fn list_sessions(
    Extract(shared): Extract<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(refused) = shared.refuse_unauthorized(&headers) {
        return reply(refused);
    }
    let answer = shared.state().list(query.as_deref());
    reply(answer)
}

async fn update_session(
    Extract(shared): Extract<Arc<Shared>>,
    headers: HeaderMap,
    id: Id,
    body: Bytes,
) -> Response {
    if let Some(refused) = shared.refuse_unauthorized(&headers) {
        return reply(refused);
    }
    // The answer of the update that was applied (or refused), under the same lock.
    let answer = shared.state().update(&path_id(id), &body);
    reply(answer)
}

async fn method_not_allowed(
    Extract(shared): Extract<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    request: Request<Body>,
) -> Response {
    if let Some(refused) = shared.refuse_unauthorized(&headers) {
        return reply(refused);
    }
    let allow = if request.uri().path().ends_with("/update") { "POST" } else { "GET, HEAD" };
    let mut response = reply(Reply::error(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("Method \"{method}\" not allowed."),
    ));
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

async fn unknown_path(request: Request<Body>) -> Response {
    reply(Reply::error(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!(
            "No route for {} {}; the API is under /api/v1/qualification_session(s).",
            request.method(),
            request.uri().path()
        ),
    ))
}

/// A fault's answer: a JSON error body with the status, and the `Retry-After` asked for.
fn fault_response(status: u16, retry_after: Option<Duration>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let kind = match status.as_u16() {
        429 => "TooManyRequests".to_owned(),
        500 => "InternalServerError".to_owned(),
        other => status
            .canonical_reason()
            .map(|reason| reason.split_whitespace().collect::<String>())
            .unwrap_or_else(|| format!("Status{other}")),
    };
    let mut response = reply(Reply::error(
        status,
        &kind,
        format!("Injected fault: the fake answered {status} without handling the request."),
    ));
    if let Some(wait) = retry_after {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        headers.insert(
            "retry-after-ms",
            HeaderValue::from(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
        );
    }
    response
}

/// Returned by the service to make hyper close the connection without answering.
#[derive(Debug)]
struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

/// The routes of the API and of the control API.
#[derive(Clone)]
struct Services {
    api: TowerToHyperService<Router>,
    control: TowerToHyperService<Router>,
}

/// One request: a control request goes to the control API; an API request is counted,
/// hit by the fault it draws, else routed.
async fn handle(
    services: Services,
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response, DropConnection> {
    if dashboard::is_dashboard_path(request.uri().path()) {
        return Ok(dashboard::respond(request.method(), request.uri().path()));
    }
    if control::is_control_path(request.uri().path()) {
        return Ok(control::handle(services.control, &shared, request).await);
    }
    let router = services.api;
    let operation = classify(request.method(), request.uri().path());
    let fault: Option<Fault> = shared.state().receive(operation);
    let latency = shared.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut lose_response = false;
    if let Some(fault) = fault {
        tracing::debug!(operation = operation.map_or("other", |o| o.id()), fault = %fault.describe(), "fake Truemed: injecting a fault");
        match fault.kind {
            FaultKind::Status(status) => {
                // Read the body first, so the connection stays usable for the next request.
                let _ = axum::body::to_bytes(Body::new(request.into_body()), 1 << 20).await;
                return Ok(with_request_id(&shared, fault_response(status, fault.retry_after)));
            }
            FaultKind::DropConnection => return Err(DropConnection),
            FaultKind::Delay(delay) => tokio::time::sleep(delay).await,
            FaultKind::LoseResponse => lose_response = true,
        }
    }
    let response = match router.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if lose_response {
        // The handler ran to completion (its effects are kept); the answer is lost.
        return Err(DropConnection);
    }
    Ok(with_request_id(&shared, response))
}

fn with_request_id(shared: &Shared, mut response: Response) -> Response {
    let n = shared.next_request_id();
    if let Ok(value) = HeaderValue::from_str(&format!("req_fake_{n:06}")) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Accepts connections until `shutdown` changes, serving each with HTTP/1.1.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let services = Services {
        api: TowerToHyperService::new(router(shared.clone())),
        control: control::service(shared.clone()),
    };
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait, then go on.
                    tracing::warn!(%error, "fake Truemed: accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let (services, shared) = (services.clone(), shared.clone());
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                handle(services.clone(), shared.clone(), request)
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                // An error here is a dropped connection (injected or by the client).
                _ = connection => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}
