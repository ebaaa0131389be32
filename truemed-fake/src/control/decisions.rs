//! Decisions: `POST /_fake/sessions/{id}/approve`, `/reject` and `/status`.

use std::sync::Arc;

use axum::extract::State as Extract;
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};
use truemed_ext::Status;

use super::sessions::{session_not_found, ControlSession, StatusWord};
use super::{allow, ok, path_id, Answer, Body, Fake, OptionalBody, PathId};
use crate::shared::Shared;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_fake/sessions/{qualification_session_id}/approve", allow(post(approve), "POST"))
        .route("/_fake/sessions/{qualification_session_id}/reject", allow(post(reject), "POST"))
        .route("/_fake/sessions/{qualification_session_id}/status", allow(post(set_status), "POST"))
}

/// The body of approve and reject (`NoFields`): nothing, or an empty object.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

/// The body of `status` (`StatusChange`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewStatus {
    status: StatusWord,
}

/// What a decision did (`Decision`): the session as the change left it, and the delivery
/// it started, if any.
#[derive(Debug, Serialize)]
struct Decision<'a> {
    session: ControlSession<'a>,
    webhook_delivery_id: Option<&'a str>,
}

/// Moves the session to `status` and answers the session and the delivery started, as
/// the change left them (see [`Shared::set_status`]).
fn decide(shared: &Arc<Shared>, id: PathId, status: Status) -> Answer {
    let id = path_id(id);
    match shared.set_status(&id, status) {
        Some((record, delivery)) => ok(Decision {
            session: ControlSession::from(&record),
            webhook_delivery_id: delivery.as_deref(),
        }),
        None => Err(session_not_found(&id)),
    }
}

async fn approve(Extract(shared): Fake, id: PathId, _: OptionalBody<NoFields>) -> Answer {
    decide(&shared, id, Status::Approved)
}

async fn reject(Extract(shared): Fake, id: PathId, _: OptionalBody<NoFields>) -> Answer {
    decide(&shared, id, Status::Rejected)
}

async fn set_status(Extract(shared): Fake, id: PathId, Body(body): Body<NewStatus>) -> Answer {
    let StatusWord(status) = body.status;
    decide(&shared, id, status)
}
