//! Sessions: `POST`/`GET /_fake/sessions` (filtered as the API's listing is),
//! `GET`/`DELETE /_fake/sessions/{id}`.

use std::sync::Arc;

use axum::extract::{RawQuery, State as Extract};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde::{Deserialize, Deserializer, Serialize};
use truemed_ext::raw::types as wire;
use truemed_ext::{QualificationSession, Status};

use super::{
    allow, created, no_content, not_found, ok, path_id, Answer, Fake, OptionalBody, PathId,
};
use crate::decode::{present, Rfc3339};
use crate::seed::SessionSeed;
use crate::shared::Shared;
use crate::state::{SessionObject, SessionRecord};

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_fake/sessions", allow(get(list_sessions).post(create_session), "GET, HEAD, POST"))
        .route(
            "/_fake/sessions/{qualification_session_id}",
            allow(get(get_session).delete(delete_session), "GET, HEAD, DELETE"),
        )
}

/// A session as the control API shows it (`ControlSession`): every field of the API's
/// session object (null when unset), then what updates stored beside it.
#[derive(Debug, Serialize)]
pub(super) struct ControlSession<'a> {
    #[serde(flatten)]
    session: SessionObject<'a>,
    metadata: Option<&'a str>,
    success_url: Option<&'a str>,
    failure_url: Option<&'a str>,
    idempotency_keys: &'a [String],
}

impl<'a> From<&'a SessionRecord> for ControlSession<'a> {
    fn from(record: &'a SessionRecord) -> Self {
        Self {
            session: SessionObject::from(&record.session),
            metadata: record.metadata.as_deref(),
            success_url: record.success_url.as_deref(),
            failure_url: record.failure_url.as_deref(),
            idempotency_keys: &record.idempotency_keys,
        }
    }
}

/// `SessionList`.
#[derive(Debug, Serialize)]
struct SessionList<'a> {
    sessions: Vec<ControlSession<'a>>,
}

/// The `404` of an unknown session.
pub(super) fn session_not_found(id: &str) -> crate::state::Reply {
    not_found(format!("No qualification session with id {id:?}."))
}

async fn list_sessions(Extract(shared): Fake, RawQuery(query): RawQuery) -> Answer {
    // The API's filters, read as the API reads them; cloned under the lock, serialized
    // outside it.
    let records = shared
        .state()
        .records_matching(query.as_deref().unwrap_or_default())
        .map_err(super::invalid)?;
    ok(SessionList { sessions: records.iter().map(ControlSession::from).collect() })
}

async fn get_session(Extract(shared): Fake, id: PathId) -> Answer {
    let id = path_id(id);
    let record = shared.state().record(&id);
    match record {
        Some(record) => ok(ControlSession::from(&record)),
        None => Err(session_not_found(&id)),
    }
}

async fn delete_session(Extract(shared): Fake, id: PathId) -> Answer {
    let id = path_id(id);
    match shared.state().remove(&id) {
        Some(_) => no_content(),
        None => Err(session_not_found(&id)),
    }
}

async fn create_session(
    Extract(shared): Fake,
    OptionalBody(body): OptionalBody<NewSession>,
) -> Answer {
    // The session as this request stored it, whatever a DELETE or reset does next.
    let record = shared.create(body.into_seed());
    created(ControlSession::from(&record))
}

/// A session id: 1 to 255 characters.
#[derive(Debug)]
struct SessionId(String);

impl<'de> Deserialize<'de> for SessionId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        let count = id.chars().count();
        if !(1..=255).contains(&count) {
            return Err(serde::de::Error::custom(format!(
                "use 1 to 255 characters (it has {count})"
            )));
        }
        Ok(Self(id))
    }
}

/// A status word: lowercase letters and underscores, as the API's statuses are (a status
/// the fake does not know is one Truemed may add).
#[derive(Debug)]
pub(super) struct StatusWord(pub(super) Status);

impl<'de> Deserialize<'de> for StatusWord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let well_formed = !text.is_empty()
            && text.len() <= 64
            && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if !well_formed {
            let shown: String = text.chars().take(64).collect();
            return Err(serde::de::Error::custom(format!(
                "{shown:?} is not a status; use pending, processing, approved or rejected (or another lowercase word, for a status Truemed may add)"
            )));
        }
        Ok(Self(Status::from(text.as_str())))
    }
}

/// A session to create (`NewSession`): the API's session fields, every one optional, and
/// what updates store beside them, each checked as it is read (the lengths are the API's,
/// from its generated types).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewSession {
    qualification_session_id: Option<SessionId>,
    status: Option<StatusWord>,
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
    user_id: Option<wire::UpdateQualificationSessionRequestUserId>,
    user_name: Option<String>,
    metadata: Option<wire::UpdateQualificationSessionRequestMetadata>,
    success_url: Option<wire::UpdateQualificationSessionRequestSuccessUrl>,
    failure_url: Option<wire::UpdateQualificationSessionRequestFailureUrl>,
}

impl NewSession {
    /// The seed: the id defaults to a new `qs_<uuid>`, the status to `pending`, `created_at`
    /// to now (null: none).
    fn into_seed(self) -> SessionSeed {
        let id = match self.qualification_session_id {
            Some(SessionId(id)) => id,
            None => format!("qs_{}", uuid::Uuid::new_v4()),
        };
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
            status: self.status.map_or(Status::Pending, |StatusWord(status)| status),
            stripe_invoice_id: self.stripe_invoice_id,
            stripe_invoice_number: self.stripe_invoice_number,
            stripe_invoice_paid_at: time(self.stripe_invoice_paid_at),
            user_business_id: self.user_business_id,
            user_id: self.user_id.map(String::from),
            user_name: self.user_name,
        };
        let mut seed = SessionSeed::from(session);
        seed.metadata = self.metadata.map(String::from);
        seed.success_url = self.success_url.map(String::from);
        seed.failure_url = self.failure_url.map(String::from);
        seed
    }
}
