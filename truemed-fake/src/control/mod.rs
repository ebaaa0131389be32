//! The control API: the fake's test controls over HTTP, under [`PREFIX`], for test suites in
//! any language. Each route is a thin layer over the operations the Rust
//! [`FakeTruemed`](crate::FakeTruemed) calls ([`Shared`] and [`State`](crate::state::State)),
//! described in `openapi/fake-control.yaml`; one module per resource:
//!
//! - [`sessions`]: create, list, read and remove sessions;
//! - [`decisions`]: approve, reject, or move a session to any status;
//! - [`faults`]: queued faults, chaos and latency;
//! - [`webhooks`]: the webhook endpoint, the deliveries and their flush;
//! - [`inspect`]: the counters and the ledger of applied updates;
//! - and `POST /_fake/reset`, here.
//!
//! Every request needs the fake's API key in `x-truemed-api-key`. Bodies are JSON objects,
//! each decoded by [`Body`] (or [`OptionalBody`]) into a type that checks its fields
//! ([`crate::decode`]): an unknown field, a wrong type, a value out of range or not one of a
//! field's words is a `400 ValidationError` whose message starts with the field's path.
//! Answers are `Serialize` types, the schemas of `openapi/fake-control.yaml`. Control
//! requests are not counted in the stats, not hit by faults and not slowed by latency.

mod decisions;
mod faults;
mod inspect;
mod sessions;
mod webhooks;

use std::sync::Arc;

use axum::body::{Body as AxumBody, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, Path, Request, State as Extract};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use axum::{Json, Router};
use hyper::service::Service as _;
use hyper_util::service::TowerToHyperService;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::decode::{decode, words, Refusal};
use crate::shared::Shared;
use crate::state::Reply;

/// The path prefix of the control API. The real API lives under `/api/`, so it cannot
/// collide with this.
pub(crate) const PREFIX: &str = "/_fake";

/// The shared state every handler extracts.
type Fake = Extract<Arc<Shared>>;

/// A path parameter; one that cannot be decoded (not UTF-8) matches nothing.
type PathId = Result<Path<String>, PathRejection>;

/// A control handler's answer: the resource, or why the request was refused.
type Answer = Result<Response, Reply>;

/// Whether `path` belongs to the control API.
pub(crate) fn is_control_path(path: &str) -> bool {
    path == PREFIX || path.strip_prefix(PREFIX).is_some_and(|rest| rest.starts_with('/'))
}

/// The control API's routes, as a service.
pub(crate) fn service(shared: Arc<Shared>) -> TowerToHyperService<Router> {
    TowerToHyperService::new(router(shared))
}

/// Answers a control request: the key first (401 without it), then the route.
pub(crate) async fn handle(
    service: TowerToHyperService<Router>,
    shared: &Shared,
    request: Request<hyper::body::Incoming>,
) -> Response {
    if !shared.authorized(request.headers()) {
        return Shared::unauthorized(request.headers()).into_response();
    }
    match service.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(sessions::routes())
        .merge(decisions::routes())
        .merge(faults::routes())
        .merge(webhooks::routes())
        .merge(inspect::routes())
        .route("/_fake/reset", allow(post(reset), "POST"))
        .fallback(unknown_path)
        .with_state(shared)
}

/// `route` with a JSON 405 (and its `Allow` header) for the methods it does not take.
fn allow(route: MethodRouter<Arc<Shared>>, methods: &'static str) -> MethodRouter<Arc<Shared>> {
    route.fallback(move |request: Request<AxumBody>| async move {
        let mut response = Reply::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("Method \"{}\" not allowed.", request.method()),
        )
        .into_response();
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(methods));
        response
    })
}

async fn unknown_path(request: Request<AxumBody>) -> Reply {
    Reply::error(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!(
            "No control route for {} {}; see openapi/fake-control.yaml.",
            request.method(),
            request.uri().path()
        ),
    )
}

// ---------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// The HTTP response of an API or control answer.
pub(crate) fn reply(reply: Reply) -> Response {
    reply.into_response()
}

/// `200` with `body`.
fn ok(body: impl Serialize) -> Answer {
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// `201` with `body`.
fn created(body: impl Serialize) -> Answer {
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `204`.
fn no_content() -> Answer {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A `400 ValidationError`, before it becomes HTTP.
fn invalid(message: impl Into<String>) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, "ValidationError", message)
}

/// A `404 NotFound` naming what was not found.
fn not_found(message: impl Into<String>) -> Reply {
    Reply::error(StatusCode::NOT_FOUND, "NotFound", message)
}

/// The id from the path; one that cannot be decoded (not UTF-8) matches nothing.
fn path_id(id: PathId) -> String {
    id.map(|Path(id)| id).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------

/// A request body that must be there: a JSON object decoded into `T` by the one path every
/// body takes ([`decode_body`]); refused with a `400` naming the field at fault.
#[derive(Debug)]
struct Body<T>(T);

/// A request body that may be left out: an empty body is read as `{}`.
#[derive(Debug)]
struct OptionalBody<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Reply;

    async fn from_request(request: Request, state: &S) -> Result<Self, Reply> {
        let bytes = read_body(request, state).await?;
        decode_body(&bytes, false).map(Body)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalBody<T> {
    type Rejection = Reply;

    async fn from_request(request: Request, state: &S) -> Result<Self, Reply> {
        let bytes = read_body(request, state).await?;
        decode_body(&bytes, true).map(OptionalBody)
    }
}

/// The body's bytes (at most axum's 2 MiB; more is a `413`).
async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, Reply> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        let kind = match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => "PayloadTooLarge",
            _ => "ValidationError",
        };
        Reply::error(
            rejection.status(),
            kind,
            format!("The request body cannot be read: {rejection}"),
        )
    })
}

/// Decodes a JSON object body into `T`; an empty body is `{}` when `optional`. Every
/// refusal is a `400` naming the field at fault.
fn decode_body<T: DeserializeOwned>(body: &[u8], optional: bool) -> Result<T, Reply> {
    let trimmed = body.trim_ascii();
    let text: &[u8] = if trimmed.is_empty() {
        if !optional {
            return Err(invalid(
                "The request body is empty; send a JSON object (see openapi/fake-control.yaml).",
            ));
        }
        b"{}"
    } else {
        trimmed
    };
    if text.first() != Some(&b'{') {
        return Err(invalid("The request body must be a JSON object."));
    }
    decode(text).map_err(|refusal| match refusal {
        Refusal::Syntax(message) => {
            invalid(format!("The request body is not valid JSON: {message}"))
        }
        Refusal::Field(message) => invalid(message),
    })
}

// ---------------------------------------------------------------------------------------
// Reset
// ---------------------------------------------------------------------------------------

words! {
    /// Which sessions a reset returns to.
    enum ResetSessions {
        /// The sessions the fake started with.
        Initial = "initial",
        /// None at all.
        None = "none",
    }
}

/// The body of `POST /_fake/reset`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    sessions: Option<ResetSessions>,
}

async fn reset(Extract(shared): Fake, OptionalBody(body): OptionalBody<ResetBody>) -> Answer {
    let initial = body.sessions != Some(ResetSessions::None);
    shared.reset(initial);
    no_content()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> String {
        let refused = decode_body::<T>(body.as_bytes(), false).unwrap_err();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(refused.body["error"], "ValidationError");
        refused.body["message"].as_str().unwrap().to_owned()
    }

    #[test]
    fn errors_name_the_field() {
        let m = message::<decisions::NewStatus>(r#"{"status": 5}"#);
        assert!(m.starts_with("status: "), "{m}");
        let m = message::<decisions::NewStatus>(r#"{}"#);
        assert_eq!(m, "status: this field is required.");
        let m = message::<decisions::NewStatus>(r#"{"status": "approved", "colour": 1}"#);
        assert!(m.starts_with("colour: unknown field"), "{m}");
        let m = message::<faults::ChaosBody>(
            r#"{"probability": 0.5, "faults": [{"weight": 1, "fault": {"kind": "status", "bogus": 1}}]}"#,
        );
        assert!(m.starts_with("faults[0].fault.bogus: unknown field"), "{m}");
        let m = message::<faults::ChaosBody>(
            r#"{"probability": 0.5, "faults": [{"weight": 1, "fault": {"kind": "nope"}}]}"#,
        );
        assert!(m.starts_with("faults[0].fault.kind: expected one of"), "{m}");
        let m = message::<faults::FaultBody>(r#"{"kind": "status", "status": 70000}"#);
        assert!(m.starts_with("status: "), "{m}");
        let m = message::<sessions::NewSession>(r#"{"created_at": "yesterday"}"#);
        assert!(m.starts_with("created_at: "), "{m}");
        let m = message::<sessions::NewSession>(r#"[]"#);
        assert!(m.contains("JSON object"), "{m}");
        let m = message::<sessions::NewSession>(r#"{"email": "a"} x"#);
        assert!(m.contains("not valid JSON"), "{m}");
        let m = message::<sessions::NewSession>(r#"{"email": "#);
        assert!(m.contains("not valid JSON"), "{m}");
    }

    #[test]
    fn control_paths() {
        assert!(is_control_path("/_fake"));
        assert!(is_control_path("/_fake/stats"));
        assert!(!is_control_path("/_fakes"));
        assert!(!is_control_path("/api/v1/qualification_sessions"));
    }
}
