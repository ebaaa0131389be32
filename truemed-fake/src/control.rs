//! The control API: the fake's test controls over HTTP, under [`PREFIX`], for test suites in
//! any language. Each route is a thin layer over the operations the Rust
//! [`FakeTruemed`](super::FakeTruemed) calls ([`Shared`] and [`State`](super::state::State)),
//! described in `openapi/fake-control.yaml`.
//!
//! Every request needs the fake's API key in `x-truemed-api-key`. Bodies are JSON objects;
//! an unknown field, a wrong type or a value out of range is a `400 ValidationError` whose
//! message starts with the field's path. Control requests are not counted in the stats, not
//! hit by faults and not slowed by latency.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State as Extract};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use hyper::service::Service as _;
use hyper_util::service::TowerToHyperService;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use truemed_ext::QualificationSession;
use truemed_ext::Status;

use super::delivery::{WebhookRetries, WebhookTarget, MAX_WEBHOOK_ATTEMPTS};
use super::fault::{Chaos, Fault, FaultKind, Operation};
use super::seed::SessionSeed;
use super::shared::Shared;
use super::state::{session_json, Reply, SessionRecord, State};

/// The path prefix of the control API. The real API lives under `/api/`, so it cannot
/// collide with this.
pub(crate) const PREFIX: &str = "/_fake";

/// How many entries `GET /_fake/ledger` and `GET /_fake/webhooks` answer when the request
/// has no `limit`: the newest ones, oldest first.
pub const DEFAULT_CONTROL_LIMIT: usize = 100;
/// The largest `limit` of `GET /_fake/ledger` and `GET /_fake/webhooks`.
pub const MAX_CONTROL_LIMIT: usize = 1000;

/// The most faults that can be queued at once through the control API.
const MAX_QUEUED_FAULTS: usize = 10_000;
/// The longest `times` of one fault.
const MAX_FAULT_TIMES: u32 = 1_000_000;
/// The longest `Retry-After` a fault can ask for, in milliseconds (a day).
const MAX_RETRY_AFTER_MS: u64 = 86_400_000;
/// The longest delay or latency, in milliseconds (10 minutes).
const MAX_DELAY_MS: u64 = 600_000;
/// The longest wait between webhook attempts, in milliseconds.
const MAX_BACKOFF_MS: u64 = 60_000;
/// The longest timeout of a webhook attempt or a flush, in milliseconds.
const MAX_TIMEOUT_MS: u64 = 60_000;
/// How long a flush waits unless told otherwise, in milliseconds.
const DEFAULT_FLUSH_TIMEOUT_MS: u64 = 10_000;
/// The largest weight of a chaos fault.
const MAX_WEIGHT: f64 = 1_000_000.0;
/// The largest chaos seed: 2^53 - 1, exact in every JSON implementation.
const MAX_SEED: u64 = (1 << 53) - 1;

/// Whether `path` belongs to the control API.
pub(crate) fn is_control_path(path: &str) -> bool {
    path == PREFIX
        || path
            .strip_prefix(PREFIX)
            .is_some_and(|rest| rest.starts_with('/'))
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
        return reply(Shared::unauthorized(request.headers()));
    }
    match service.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/_fake/sessions",
            allow(get(list_sessions).post(create_session), "GET, HEAD, POST"),
        )
        .route(
            "/_fake/sessions/{qualification_session_id}",
            allow(get(get_session).delete(delete_session), "GET, HEAD, DELETE"),
        )
        .route(
            "/_fake/sessions/{qualification_session_id}/approve",
            allow(post(approve), "POST"),
        )
        .route(
            "/_fake/sessions/{qualification_session_id}/reject",
            allow(post(reject), "POST"),
        )
        .route(
            "/_fake/sessions/{qualification_session_id}/status",
            allow(post(set_status), "POST"),
        )
        .route(
            "/_fake/faults",
            allow(
                get(list_faults).post(inject_fault).delete(clear_faults),
                "GET, HEAD, POST, DELETE",
            ),
        )
        .route(
            "/_fake/chaos",
            allow(post(set_chaos).delete(clear_chaos), "POST, DELETE"),
        )
        .route(
            "/_fake/latency",
            allow(get(get_latency).put(set_latency), "GET, HEAD, PUT"),
        )
        .route("/_fake/stats", allow(get(stats), "GET, HEAD"))
        .route("/_fake/ledger", allow(get(ledger), "GET, HEAD"))
        .route(
            "/_fake/webhook_endpoint",
            allow(
                get(get_endpoint).put(set_endpoint).delete(clear_endpoint),
                "GET, HEAD, PUT, DELETE",
            ),
        )
        .route("/_fake/webhooks", allow(get(deliveries), "GET, HEAD"))
        .route("/_fake/webhooks/flush", allow(post(flush), "POST"))
        .route(
            "/_fake/webhooks/{webhook_delivery_id}",
            allow(get(delivery), "GET, HEAD"),
        )
        .route("/_fake/reset", allow(post(reset), "POST"))
        .fallback(unknown_path)
        .with_state(shared)
}

/// `route` with a JSON 405 (and its `Allow` header) for the methods it does not take.
fn allow(route: MethodRouter<Arc<Shared>>, methods: &'static str) -> MethodRouter<Arc<Shared>> {
    route.fallback(move |request: Request<Body>| async move {
        let mut response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("Method \"{}\" not allowed.", request.method()),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(methods));
        response
    })
}

async fn unknown_path(request: Request<Body>) -> Response {
    error(
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

pub(crate) fn reply(reply: Reply) -> Response {
    (reply.status, Json(reply.body)).into_response()
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

fn error(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    reply(Reply::error(status, kind, message))
}

/// A `400 ValidationError`, before it becomes HTTP.
fn invalid(message: impl Into<String>) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, "ValidationError", message)
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn session_not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("No qualification session with id {id:?}."),
    )
}

/// The id from the path; one that cannot be decoded (not UTF-8) matches nothing.
fn path_id(id: Result<Path<String>, PathRejection>) -> String {
    id.map(|Path(id)| id).unwrap_or_default()
}

/// A session as the control API shows it: every field of the API's session object (null
/// when unset), then what updates stored beside it.
fn record_json(record: &SessionRecord) -> Value {
    let mut value = session_json(&record.session);
    if let Value::Object(object) = &mut value {
        object.insert("metadata".into(), json!(record.metadata));
        object.insert("success_url".into(), json!(record.success_url));
        object.insert("failure_url".into(), json!(record.failure_url));
        object.insert("idempotency_keys".into(), json!(record.idempotency_keys));
    }
    value
}

// ---------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------

/// Decodes a JSON object body into `T`; an empty body is `{}` when `optional`. Errors name
/// the field at fault.
fn parse<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    optional: bool,
) -> Result<T, Reply> {
    let body = body.map_err(|rejection| {
        let kind = match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => "PayloadTooLarge",
            _ => "ValidationError",
        };
        Reply::error(
            rejection.status(),
            kind,
            format!("The request body cannot be read: {rejection}"),
        )
    })?;
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
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let parsed: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return invalid(format!("The request body is not valid JSON: {inner}"));
        }
        invalid(field_message(&path, &inner.to_string()))
    })?;
    deserializer
        .end()
        .map_err(|e| invalid(format!("The request body is not valid JSON: {e}")))?;
    Ok(parsed)
}

/// serde's message for `path`, rewritten to start with the field's path.
fn field_message(path: &str, message: &str) -> String {
    // serde says "... at line 1 column 20"; the field's path says more.
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    };
    let prefix = |field: &str| -> String {
        if path == "." || path.is_empty() {
            field.to_owned()
        } else if path == field || path.ends_with(&format!(".{field}")) {
            path.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    if let Some(field) = backticked(message, "missing field `") {
        return format!("{}: this field is required.", prefix(field));
    }
    if let Some(field) = backticked(message, "unknown field `") {
        let expected = message
            .split_once(", expected ")
            .map(|(_, expected)| format!(" (expected {expected})"))
            .unwrap_or_default();
        return format!("{}: unknown field{expected}.", prefix(field));
    }
    if path == "." || path.is_empty() {
        return format!("{message}.");
    }
    format!("{path}: {message}.")
}

/// The text between `start` and the next backtick.
fn backticked<'m>(message: &'m str, start: &str) -> Option<&'m str> {
    let rest = message.strip_prefix(start)?;
    rest.split_once('`').map(|(field, _)| field)
}

/// A date-time the way the API sends them: RFC 3339 (`2024-01-02T09:00:00Z`), strictly.
#[derive(Debug, Clone, Copy)]
struct Rfc3339(DateTime<Utc>);

impl<'de> Deserialize<'de> for Rfc3339 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|at| Self(at.with_timezone(&Utc)))
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "{text:?} is not an RFC 3339 date-time such as 2024-01-02T09:00:00Z ({e})"
                ))
            })
    }
}

/// Absent is `None`; present (even null) is `Some`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The names of the API's operations, as the spec's `operationId`s.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OperationName {
    GetQualificationSession,
    ListQualificationSessions,
    UpdateQualificationSession,
}

impl From<OperationName> for Operation {
    fn from(name: OperationName) -> Self {
        match name {
            OperationName::GetQualificationSession => Operation::Get,
            OperationName::ListQualificationSessions => Operation::List,
            OperationName::UpdateQualificationSession => Operation::Update,
        }
    }
}

/// A status word: lowercase letters and underscores, as the API's statuses are.
fn status_word(field: &str, text: &str) -> Result<Status, Reply> {
    let well_formed = !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if !well_formed {
        return Err(invalid(format!(
            "{field}: {text:?} is not a status; use pending, processing, approved or rejected (or another lowercase word, for a status Truemed may add)."
        )));
    }
    Ok(Status::from(text))
}

/// At most `max` characters, or a 400 naming `field`.
fn at_most(field: &str, value: &Option<String>, max: usize) -> Result<(), Reply> {
    match value {
        Some(text) if text.chars().count() > max => Err(invalid(format!(
            "{field}: at most {max} characters (it has {}).",
            text.chars().count()
        ))),
        _ => Ok(()),
    }
}

/// In `range`, or a 400 naming `field`.
fn within(
    field: &str,
    value: Option<u64>,
    range: std::ops::RangeInclusive<u64>,
) -> Result<(), Reply> {
    match value {
        Some(n) if !range.contains(&n) => Err(invalid(format!(
            "{field}: {n} is out of range; use {} to {}.",
            range.start(),
            range.end()
        ))),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------

async fn list_sessions(Extract(shared): Extract<Arc<Shared>>) -> Response {
    // Cloned under the lock, serialized outside it.
    let records = shared.state().records();
    let records: Vec<Value> = records.iter().map(record_json).collect();
    ok(json!({ "sessions": records }))
}

async fn get_session(
    Extract(shared): Extract<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = path_id(id);
    let record = shared.state().record(&id);
    match record {
        Some(record) => ok(record_json(&record)),
        None => session_not_found(&id),
    }
}

async fn delete_session(
    Extract(shared): Extract<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = path_id(id);
    match shared.state().remove(&id) {
        Some(_) => no_content(),
        None => session_not_found(&id),
    }
}

/// A session to create: the API's session fields, every one optional, and what updates
/// store beside them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSession {
    qualification_session_id: Option<String>,
    status: Option<String>,
    #[serde(default, deserialize_with = "present")]
    created_at: Option<Option<Rfc3339>>,
    charge_group_created_at: Option<Rfc3339>,
    customer_status: Option<String>,
    eligible_amount: Option<f64>,
    email: Option<String>,
    expires_at: Option<Rfc3339>,
    fee: Option<f64>,
    lmn_reviewed_at: Option<Rfc3339>,
    session_type: Option<String>,
    skus_param: Option<String>,
    source: Option<String>,
    stripe_invoice_id: Option<String>,
    stripe_invoice_number: Option<String>,
    stripe_invoice_paid_at: Option<Rfc3339>,
    user_business_id: Option<String>,
    user_id: Option<String>,
    user_name: Option<String>,
    metadata: Option<String>,
    success_url: Option<String>,
    failure_url: Option<String>,
}

impl NewSession {
    fn into_seed(self) -> Result<SessionSeed, Reply> {
        let id = match self.qualification_session_id {
            Some(id) => {
                if id.is_empty() || id.chars().count() > 255 {
                    return Err(invalid(format!(
                        "qualification_session_id: use 1 to 255 characters (it has {}).",
                        id.chars().count()
                    )));
                }
                id
            }
            None => format!("qs_{}", uuid::Uuid::new_v4()),
        };
        let status = match &self.status {
            Some(text) => status_word("status", text)?,
            None => Status::Pending,
        };
        at_most("user_id", &self.user_id, 255)?;
        at_most("metadata", &self.metadata, 4096)?;
        at_most("success_url", &self.success_url, 2048)?;
        at_most("failure_url", &self.failure_url, 2048)?;
        let time = |at: Option<Rfc3339>| at.map(|Rfc3339(at)| at.into());
        let created_at = match self.created_at {
            None => Some(Utc::now().into()),
            Some(at) => time(at),
        };
        let session = QualificationSession {
            charge_group_created_at: time(self.charge_group_created_at),
            created_at,
            customer_status: self.customer_status,
            eligible_amount: self.eligible_amount.map(Into::into),
            email: self.email,
            expires_at: time(self.expires_at),
            fee: self.fee.map(Into::into),
            lmn_reviewed_at: time(self.lmn_reviewed_at),
            qualification_session_id: id,
            session_type: self.session_type,
            skus_param: self.skus_param,
            source: self.source,
            status,
            stripe_invoice_id: self.stripe_invoice_id,
            stripe_invoice_number: self.stripe_invoice_number,
            stripe_invoice_paid_at: time(self.stripe_invoice_paid_at),
            user_business_id: self.user_business_id,
            user_id: self.user_id,
            user_name: self.user_name,
        };
        let mut seed = SessionSeed::from(session);
        seed.metadata = self.metadata;
        seed.success_url = self.success_url;
        seed.failure_url = self.failure_url;
        Ok(seed)
    }
}

async fn create_session(
    Extract(shared): Extract<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let seed = match parse::<NewSession>(body, true).and_then(NewSession::into_seed) {
        Ok(seed) => seed,
        Err(refused) => return reply(refused),
    };
    // The session as this request stored it, whatever a DELETE or reset does next.
    let record = shared.create(seed);
    (StatusCode::CREATED, Json(record_json(&record))).into_response()
}

/// The body of approve and reject: nothing, or an empty object.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

/// The body of `status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewStatus {
    status: String,
}

/// Moves the session to `status` and answers the session and the delivery started, as
/// the change left them (see [`Shared::set_status`]).
fn decide(shared: &Arc<Shared>, id: &str, status: Status) -> Response {
    match shared.set_status(id, status) {
        Some((record, delivery)) => ok(json!({
            "session": record_json(&record),
            "webhook_delivery_id": delivery,
        })),
        None => session_not_found(id),
    }
}

async fn approve(
    Extract(shared): Extract<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    decide_with_empty_body(&shared, id, body, Status::Approved)
}

async fn reject(
    Extract(shared): Extract<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    decide_with_empty_body(&shared, id, body, Status::Rejected)
}

/// `decide` for the endpoints whose body, if any, must be an empty object.
fn decide_with_empty_body(
    shared: &Arc<Shared>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
    status: Status,
) -> Response {
    if let Err(refused) = parse::<NoFields>(body, true) {
        return reply(refused);
    }
    decide(shared, &path_id(id), status)
}

async fn set_status(
    Extract(shared): Extract<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let status = match parse::<NewStatus>(body, false)
        .and_then(|body| status_word("status", &body.status))
    {
        Ok(status) => status,
        Err(refused) => return reply(refused),
    };
    decide(&shared, &path_id(id), status)
}

// ---------------------------------------------------------------------------------------
// Faults and chaos
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FaultKindName {
    Status,
    DropConnection,
    LoseResponse,
    Delay,
}

impl FaultKindName {
    fn name(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::DropConnection => "drop_connection",
            Self::LoseResponse => "lose_response",
            Self::Delay => "delay",
        }
    }
}

/// A fault, as the control API takes it. The fields of one kind are `Option<Option<_>>`:
/// given (even as null) to another kind, they are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultBody {
    kind: FaultKindName,
    #[serde(default, deserialize_with = "present")]
    status: Option<Option<u16>>,
    #[serde(default, deserialize_with = "present")]
    retry_after_ms: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    delay_ms: Option<Option<u64>>,
    times: Option<u32>,
    operation: Option<OperationName>,
}

impl FaultBody {
    /// The fault, checked; `path` is where it sits in the body (`""` at the top).
    fn into_fault(self, path: &str) -> Result<Fault, Reply> {
        let field = |name: &str| format!("{path}{name}");
        let kind = self.kind;
        let forbid = |name: &str, given: bool| -> Result<(), Reply> {
            if given {
                return Err(invalid(format!(
                    "{}: not allowed with kind {:?}.",
                    field(name),
                    kind.name()
                )));
            }
            Ok(())
        };
        let require = |name: &str, value: Option<Option<u64>>| -> Result<u64, Reply> {
            value.flatten().ok_or_else(|| {
                invalid(format!(
                    "{}: this field is required with kind {:?}.",
                    field(name),
                    kind.name()
                ))
            })
        };
        forbid(
            "status",
            self.status.is_some() && kind != FaultKindName::Status,
        )?;
        forbid(
            "retry_after_ms",
            self.retry_after_ms.is_some() && kind != FaultKindName::Status,
        )?;
        forbid(
            "delay_ms",
            self.delay_ms.is_some() && kind != FaultKindName::Delay,
        )?;
        let retry_after_ms = self.retry_after_ms.flatten();
        within(
            &field("retry_after_ms"),
            retry_after_ms,
            0..=MAX_RETRY_AFTER_MS,
        )?;
        within(
            &field("delay_ms"),
            self.delay_ms.flatten(),
            0..=MAX_DELAY_MS,
        )?;
        within(
            &field("times"),
            self.times.map(u64::from),
            1..=u64::from(MAX_FAULT_TIMES),
        )?;
        let mut fault = match kind {
            FaultKindName::Status => {
                let status = require("status", self.status.map(|s| s.map(u64::from)))?;
                if !(300..=599).contains(&status) {
                    return Err(invalid(format!(
                        "{}: {status} is not an error status; use 300 to 599.",
                        field("status")
                    )));
                }
                let fault = Fault::status(u16::try_from(status).unwrap_or(503));
                match retry_after_ms {
                    Some(ms) => fault.retry_after(Duration::from_millis(ms)),
                    None => fault,
                }
            }
            FaultKindName::DropConnection => Fault::drop_connection(),
            FaultKindName::LoseResponse => Fault::lose_response(),
            FaultKindName::Delay => {
                Fault::delay(Duration::from_millis(require("delay_ms", self.delay_ms)?))
            }
        };
        if let Some(times) = self.times {
            fault = fault.times(times);
        }
        if let Some(operation) = self.operation {
            fault = fault.on(operation.into());
        }
        Ok(fault)
    }
}

/// A queued fault as the control API shows it.
fn fault_json(fault: &Fault, remaining: u32) -> Value {
    let mut object = Map::new();
    let kind = match &fault.kind {
        FaultKind::Status(status) => {
            object.insert("status".into(), json!(status));
            if let Some(wait) = fault.retry_after {
                object.insert(
                    "retry_after_ms".into(),
                    json!(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
                );
            }
            "status"
        }
        FaultKind::DropConnection => "drop_connection",
        FaultKind::LoseResponse => "lose_response",
        FaultKind::Delay(delay) => {
            object.insert(
                "delay_ms".into(),
                json!(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
            );
            "delay"
        }
    };
    object.insert("kind".into(), json!(kind));
    object.insert("times".into(), json!(fault.times));
    object.insert("remaining".into(), json!(remaining));
    object.insert("operation".into(), json!(fault.on.map(Operation::id)));
    Value::Object(object)
}

/// The queued faults and their pending hits, read together under the lock.
fn queued(state: &State) -> (Vec<(Fault, u32)>, u32) {
    (state.queued_faults(), state.pending_faults())
}

fn faults_json((faults, pending): (Vec<(Fault, u32)>, u32)) -> Value {
    let faults: Vec<Value> = faults
        .iter()
        .map(|(fault, remaining)| fault_json(fault, *remaining))
        .collect();
    json!({ "pending_faults": pending, "faults": faults })
}

async fn list_faults(Extract(shared): Extract<Arc<Shared>>) -> Response {
    let queued = queued(&shared.state());
    ok(faults_json(queued))
}

async fn inject_fault(
    Extract(shared): Extract<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let fault = match parse::<FaultBody>(body, false).and_then(|body| body.into_fault("")) {
        Ok(fault) => fault,
        Err(refused) => return reply(refused),
    };
    // The queue as this fault left it, read under the same lock.
    let queued = {
        let mut state = shared.state();
        if state.queued_fault_count() >= MAX_QUEUED_FAULTS {
            return reply(invalid(format!(
                "kind: at most {MAX_QUEUED_FAULTS} faults can be queued; clear them with DELETE /_fake/faults."
            )));
        }
        state.inject(fault);
        queued(&state)
    };
    (StatusCode::CREATED, Json(faults_json(queued))).into_response()
}

async fn clear_faults(Extract(shared): Extract<Arc<Shared>>) -> Response {
    shared.state().clear_faults();
    no_content()
}

/// One fault of a chaos mix, with its weight.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WeightedFault {
    weight: f64,
    fault: FaultBody,
}

/// Seeded random faults, as the control API takes them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChaosBody {
    probability: f64,
    seed: Option<u64>,
    operation: Option<OperationName>,
    faults: Option<Vec<WeightedFault>>,
}

impl ChaosBody {
    fn into_chaos(self) -> Result<Chaos, Reply> {
        if !(0.0..=1.0).contains(&self.probability) {
            return Err(invalid(format!(
                "probability: {} is out of range; use 0 to 1.",
                self.probability
            )));
        }
        within("seed", self.seed, 0..=MAX_SEED)?;
        let mut chaos = Chaos::seeded(self.seed.unwrap_or(0));
        match self.faults {
            None => chaos = chaos.mixed(self.probability),
            Some(faults) => {
                if faults.is_empty() || faults.len() > 100 {
                    return Err(invalid(
                        "faults: give 1 to 100 faults, or leave it out for the default mix.",
                    ));
                }
                let mut weighted = Vec::with_capacity(faults.len());
                for (index, entry) in faults.into_iter().enumerate() {
                    if !(entry.weight > 0.0 && entry.weight <= MAX_WEIGHT) {
                        return Err(invalid(format!(
                            "faults[{index}].weight: {} is out of range; use a number above 0 and at most {MAX_WEIGHT}.",
                            entry.weight
                        )));
                    }
                    let fault = entry.fault.into_fault(&format!("faults[{index}].fault."))?;
                    weighted.push((entry.weight, fault));
                }
                let total: f64 = weighted.iter().map(|(weight, _)| weight).sum();
                for (weight, fault) in weighted {
                    chaos = chaos.with(self.probability * weight / total, fault);
                }
            }
        }
        if let Some(operation) = self.operation {
            chaos = chaos.on(operation.into());
        }
        Ok(chaos)
    }
}

async fn set_chaos(
    Extract(shared): Extract<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match parse::<ChaosBody>(body, false).and_then(ChaosBody::into_chaos) {
        Ok(chaos) => {
            shared.state().set_chaos(Some(chaos.start()));
            no_content()
        }
        Err(refused) => reply(refused),
    }
}

async fn clear_chaos(Extract(shared): Extract<Arc<Shared>>) -> Response {
    shared.state().set_chaos(None);
    no_content()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyBody {
    latency_ms: u64,
}

fn latency_json(latency: Duration) -> Value {
    json!({ "latency_ms": u64::try_from(latency.as_millis()).unwrap_or(u64::MAX) })
}

async fn get_latency(Extract(shared): Extract<Arc<Shared>>) -> Response {
    ok(latency_json(shared.latency()))
}

async fn set_latency(
    Extract(shared): Extract<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match parse::<LatencyBody>(body, false) {
        Ok(body) => body,
        Err(refused) => return reply(refused),
    };
    if let Err(refused) = within("latency_ms", Some(body.latency_ms), 0..=MAX_DELAY_MS) {
        return reply(refused);
    }
    // The latency this request set, whatever a later one sets.
    let latency = Duration::from_millis(body.latency_ms);
    shared.set_latency(latency);
    ok(latency_json(latency))
}

// ---------------------------------------------------------------------------------------
// What the fake saw and did
// ---------------------------------------------------------------------------------------

async fn stats(Extract(shared): Extract<Arc<Shared>>) -> Response {
    let (stats, pending) = {
        let state = shared.state();
        (state.stats.clone(), state.pending_faults())
    };
    let mut value = serde_json::to_value(&stats).unwrap_or_else(|_| json!({}));
    if let Value::Object(object) = &mut value {
        object.insert("pending_faults".into(), json!(pending));
    }
    ok(value)
}

/// What `GET /_fake/ledger` and `GET /_fake/webhooks` take: a session to keep the
/// entries of, and how many of the newest to answer.
#[derive(Debug)]
struct Listing {
    qualification_session_id: Option<String>,
    limit: usize,
}

impl Listing {
    /// The query string's `qualification_session_id` and `limit` (the first of each);
    /// other parameters are ignored. A `limit` that is not a whole number from 1 to
    /// [`MAX_CONTROL_LIMIT`] is a 400.
    fn parse(query: Option<&str>) -> Result<Self, Reply> {
        let mut qualification_session_id = None;
        let mut limit = None;
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match name.as_ref() {
                "qualification_session_id" if qualification_session_id.is_none() => {
                    qualification_session_id = Some(value.into_owned());
                }
                "limit" if limit.is_none() => {
                    let n = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_CONTROL_LIMIT).contains(n))
                        .ok_or_else(|| {
                            invalid(format!(
                                "limit: {value:?} is not a whole number from 1 to {MAX_CONTROL_LIMIT}."
                            ))
                        })?;
                    limit = Some(n);
                }
                _ => {}
            }
        }
        Ok(Self {
            qualification_session_id,
            limit: limit.unwrap_or(DEFAULT_CONTROL_LIMIT),
        })
    }

    /// The newest `limit` of `items` (oldest first) of the session asked for, if any,
    /// cloned; and how many of the session's there are in all. Only those answered are
    /// cloned, so that the caller can hold a lock on `items` and serialize outside it.
    fn select<T: Clone>(&self, items: &[T], session_of: impl Fn(&T) -> &str) -> (Vec<T>, usize) {
        let wanted = |item: &&T| {
            self.qualification_session_id
                .as_deref()
                .is_none_or(|id| session_of(item) == id)
        };
        let total = items.iter().filter(wanted).count();
        let mut newest: Vec<T> = items
            .iter()
            .rev()
            .filter(wanted)
            .take(self.limit)
            .cloned()
            .collect();
        newest.reverse();
        (newest, total)
    }
}

/// Each of `items` as JSON.
fn json_list<T: serde::Serialize>(items: &[T]) -> Vec<Value> {
    items
        .iter()
        .map(|item| serde_json::to_value(item).unwrap_or(Value::Null))
        .collect()
}

async fn ledger(Extract(shared): Extract<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let listing = match Listing::parse(query.as_deref()) {
        Ok(listing) => listing,
        Err(refused) => return reply(refused),
    };
    let (applied, total) = listing.select(shared.state().applied(), |update| {
        &update.qualification_session_id
    });
    ok(json!({ "applied_updates": json_list(&applied), "total": total }))
}

// ---------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------

/// Where and how webhooks are delivered, as the control API takes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointBody {
    url: String,
    secret: String,
    signed: Option<bool>,
    attempts: Option<u32>,
    backoff_ms: Option<u64>,
    timeout_ms: Option<u64>,
}

impl EndpointBody {
    /// Checks the body, then sets the receiver and the retries in one locked operation;
    /// returns them as this request left them.
    fn apply(self, shared: &Shared) -> Result<(Option<WebhookTarget>, WebhookRetries), Reply> {
        let url_ok = self.url.chars().count() <= 2048
            && url_shape(&self.url)
            && url::Url::parse(&self.url).is_ok_and(|url| {
                matches!(url.scheme(), "http" | "https") && url.host_str().is_some()
            });
        if !url_ok {
            return Err(invalid(format!(
                "url: {:?} is not an http or https URL (at most 2048 characters), e.g. http://127.0.0.1:3000/hooks/truemed.",
                self.url
            )));
        }
        let secret_ok = !self.secret.is_empty()
            && self.secret.len() <= 1024
            && self.secret.bytes().all(|b| b.is_ascii_graphic());
        if !secret_ok {
            return Err(invalid(
                "secret: use 1 to 1024 visible ASCII characters (no spaces).",
            ));
        }
        within(
            "attempts",
            self.attempts.map(u64::from),
            1..=u64::from(MAX_WEBHOOK_ATTEMPTS),
        )?;
        within("backoff_ms", self.backoff_ms, 0..=MAX_BACKOFF_MS)?;
        within("timeout_ms", self.timeout_ms, 1..=MAX_TIMEOUT_MS)?;
        let new_target = if self.signed.unwrap_or(true) {
            WebhookTarget::signed(self.url, self.secret)
        } else {
            WebhookTarget::unsigned(self.url, self.secret)
        };
        Ok(shared.webhooks.configure(|target, retries| {
            // Omitted settings keep their values, read under the same lock.
            if let Some(attempts) = self.attempts {
                *retries = retries.attempts(attempts);
            }
            if let Some(ms) = self.backoff_ms {
                *retries = retries.backoff(Duration::from_millis(ms));
            }
            if let Some(ms) = self.timeout_ms {
                *retries = retries.timeout(Duration::from_millis(ms));
            }
            *target = Some(new_target);
        }))
    }
}

/// The spec's pattern for a webhook URL,
/// `^https?://[^\x00-\x20/?#@\x7f]+([/?#][^\x00-\x20\x7f]*)?$`: an http(s) scheme, an
/// authority without user info, and no space or control character.
fn url_shape(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let plain = |c: char| !c.is_ascii_control() && c != ' ';
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    !authority.is_empty()
        && authority.chars().all(|c| plain(c) && c != '@')
        && tail.chars().all(plain)
}

fn endpoint_json((target, retries): (Option<WebhookTarget>, WebhookRetries)) -> Value {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    json!({
        "url": target.as_ref().map(WebhookTarget::url),
        "signed": target.as_ref().map(WebhookTarget::is_signed),
        "attempts": retries.max_attempts(),
        "backoff_ms": ms(retries.initial_backoff()),
        "timeout_ms": ms(retries.attempt_timeout()),
    })
}

async fn get_endpoint(Extract(shared): Extract<Arc<Shared>>) -> Response {
    ok(endpoint_json(shared.webhooks.config()))
}

async fn set_endpoint(
    Extract(shared): Extract<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match parse::<EndpointBody>(body, false).and_then(|body| body.apply(&shared)) {
        Ok(config) => ok(endpoint_json(config)),
        Err(refused) => reply(refused),
    }
}

async fn clear_endpoint(Extract(shared): Extract<Arc<Shared>>) -> Response {
    shared.webhooks.set_target(None);
    no_content()
}

async fn deliveries(Extract(shared): Extract<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let listing = match Listing::parse(query.as_deref()) {
        Ok(listing) => listing,
        Err(refused) => return reply(refused),
    };
    let (deliveries, total) = shared
        .webhooks
        .with_deliveries(|all| listing.select(all, |delivery| &delivery.qualification_session_id));
    ok(json!({ "deliveries": json_list(&deliveries), "total": total }))
}

async fn delivery(
    Extract(shared): Extract<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = path_id(id);
    match shared.webhooks.delivery(&id) {
        Some(delivery) => ok(serde_json::to_value(delivery).unwrap_or(Value::Null)),
        None => error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("No webhook delivery with id {id:?}."),
        ),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlushBody {
    timeout_ms: Option<u64>,
}

async fn flush(
    Extract(shared): Extract<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match parse::<FlushBody>(body, true) {
        Ok(body) => body,
        Err(refused) => return reply(refused),
    };
    if let Err(refused) = within("timeout_ms", body.timeout_ms, 0..=MAX_TIMEOUT_MS) {
        return reply(refused);
    }
    let wait = Duration::from_millis(body.timeout_ms.unwrap_or(DEFAULT_FLUSH_TIMEOUT_MS));
    let complete = tokio::time::timeout(wait, shared.webhooks.flush())
        .await
        .is_ok();
    let deliveries = shared.webhooks.deliveries();
    ok(json!({ "complete": complete, "deliveries": json_list(&deliveries) }))
}

// ---------------------------------------------------------------------------------------
// Reset
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ResetSessions {
    Initial,
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    sessions: Option<ResetSessions>,
}

async fn reset(
    Extract(shared): Extract<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match parse::<ResetBody>(body, true) {
        Ok(body) => body,
        Err(refused) => return reply(refused),
    };
    let initial = !matches!(body.sessions, Some(ResetSessions::None));
    shared.reset(initial);
    no_content()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> String {
        let refused = parse::<T>(Ok(Bytes::from(body.to_owned())), false).unwrap_err();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(refused.body["error"], "ValidationError");
        refused.body["message"].as_str().unwrap().to_owned()
    }

    #[test]
    fn errors_name_the_field() {
        let m = message::<NewStatus>(r#"{"status": 5}"#);
        assert!(m.starts_with("status: "), "{m}");
        let m = message::<NewStatus>(r#"{}"#);
        assert_eq!(m, "status: this field is required.");
        let m = message::<NewStatus>(r#"{"status": "approved", "colour": 1}"#);
        assert!(m.starts_with("colour: unknown field"), "{m}");
        let m = message::<ChaosBody>(
            r#"{"probability": 0.5, "faults": [{"weight": 1, "fault": {"kind": "status", "bogus": 1}}]}"#,
        );
        assert!(m.starts_with("faults[0].fault.bogus: unknown field"), "{m}");
        let m = message::<ChaosBody>(
            r#"{"probability": 0.5, "faults": [{"weight": 1, "fault": {"kind": "nope"}}]}"#,
        );
        assert!(
            m.starts_with("faults[0].fault.kind: unknown variant"),
            "{m}"
        );
        let m = message::<FaultBody>(r#"{"kind": "status", "status": 70000}"#);
        assert!(m.starts_with("status: "), "{m}");
        let m = message::<NewSession>(r#"{"created_at": "yesterday"}"#);
        assert!(m.starts_with("created_at: "), "{m}");
        let m = message::<NewSession>(r#"[]"#);
        assert!(m.contains("JSON object"), "{m}");
        let m = message::<NewSession>(r#"{"email": "a"} x"#);
        assert!(m.contains("not valid JSON"), "{m}");
        let m = message::<NewSession>(r#"{"email": "#);
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
