//! The fake's state and the API's semantics, without HTTP: sessions, idempotency records,
//! queued faults and counters.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, NaiveDate, Utc};
use http::StatusCode;
use serde::Serialize;
use serde_json::{json, Map, Value};
use truemed_ext::raw::types as wire;

use super::fault::{ChaosState, Fault};
use super::seed::SessionSeed;
use truemed_ext::{Amount, Operation, QualificationSession, Status, Timestamp};

/// The default page size of a listing.
pub(crate) const DEFAULT_PAGE_SIZE: u64 = 30;

/// What the fake has counted since it started (or since
/// [`reset_stats`](super::FakeTruemed::reset_stats)).
///
/// Every request is counted once in [`requests`](Self::requests) and once under its
/// operation, whether it was answered, refused or hit by a fault.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Requests received, in all.
    pub requests: u64,
    /// `get_qualification_session` requests received.
    pub get_requests: u64,
    /// `list_qualification_sessions` requests received.
    pub list_requests: u64,
    /// `update_qualification_session` requests received.
    pub update_requests: u64,
    /// Other requests received (unknown paths, wrong methods).
    pub other_requests: u64,
    /// Requests refused with 401 (missing or wrong API key).
    pub unauthorized: u64,
    /// Updates accepted and applied for the first time (one per session and
    /// idempotency key). Replays are not counted here.
    pub updates_applied: u64,
    /// Updates answered from an idempotency record (same key, same payload): the
    /// original response, nothing applied again.
    pub idempotent_replays: u64,
    /// Updates refused: validation errors (400), `user_id_already_set` (409), unknown
    /// session (404).
    pub updates_refused: u64,
    /// Faults injected, of every kind (the four counters below add up to it).
    pub faults_injected: u64,
    /// Requests answered with an injected error status.
    pub status_faults: u64,
    /// Connections closed before handling the request.
    pub dropped_connections: u64,
    /// Requests handled whose response was then lost (connection closed).
    pub lost_responses: u64,
    /// Requests delayed by a [`Fault::delay`].
    pub delayed_requests: u64,
    /// Webhook deliveries answered with a 2xx.
    pub webhooks_delivered: u64,
    /// Webhook deliveries that failed every attempt.
    pub webhooks_failed: u64,
}

impl Stats {
    /// Requests received for one operation.
    pub fn requests_for(&self, operation: Operation) -> u64 {
        match operation {
            Operation::Get => self.get_requests,
            Operation::List => self.list_requests,
            Operation::Update => self.update_requests,
            // An operation the fake does not serve: it received none.
            _ => 0,
        }
    }
}

/// A session as the fake stores it: the API's session object, plus what an update stores
/// that the API does not return.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SessionRecord {
    /// The session, as `get` returns it.
    pub session: QualificationSession,
    /// The last metadata stored by an update (or the seed).
    pub metadata: Option<String>,
    /// The last success URL stored.
    pub success_url: Option<String>,
    /// The last failure URL stored.
    pub failure_url: Option<String>,
    /// The idempotency keys of the updates applied to this session, in order.
    pub idempotency_keys: Vec<String>,
}

/// One update the fake applied.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct AppliedUpdate {
    /// The session updated.
    pub qualification_session_id: String,
    /// The update's idempotency key.
    pub idempotency_key: String,
    /// The `user_id` it set, if any.
    pub user_id: Option<String>,
    /// The metadata it stored, if any.
    pub metadata: Option<String>,
    /// The success URL it stored, if any.
    pub success_url: Option<String>,
    /// The failure URL it stored, if any.
    pub failure_url: Option<String>,
    /// When it was applied.
    pub applied_at: DateTime<Utc>,
}

/// A response, before it becomes HTTP.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
}

impl Reply {
    fn ok(body: Value) -> Self {
        Self { status: StatusCode::OK, body }
    }

    pub(crate) fn error(status: StatusCode, error: &str, message: impl Into<String>) -> Self {
        Self { status, body: json!({"error": error, "message": message.into()}) }
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::error(StatusCode::BAD_REQUEST, "ValidationError", message)
    }

    fn not_found(id: &str) -> Self {
        Self::error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("No qualification session with id {id:?} belongs to this API key."),
        )
    }
}

/// The fields of an update other than its key; absent and null are the same (unchanged).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct UpdateFields {
    user_id: Option<String>,
    metadata: Option<String>,
    success_url: Option<String>,
    failure_url: Option<String>,
}

struct Entry {
    seq: u64,
    record: SessionRecord,
    /// Idempotency key -> the payload first sent with it, and the response it got.
    keys: HashMap<String, (UpdateFields, Reply)>,
}

/// Everything the fake knows.
#[derive(Default)]
pub(crate) struct State {
    sessions: HashMap<String, Entry>,
    next_seq: u64,
    faults: VecDeque<(Fault, u32)>,
    chaos: Option<ChaosState>,
    pub(crate) stats: Stats,
    applied: Vec<AppliedUpdate>,
}

impl State {
    /// Adds a session, replacing any with the same id (and its idempotency records);
    /// returns the session as stored.
    pub(crate) fn seed(&mut self, seed: SessionSeed) -> &SessionRecord {
        let id = seed.session.qualification_session_id.clone();
        self.next_seq += 1;
        let entry = Entry {
            seq: self.next_seq,
            record: SessionRecord {
                session: seed.session,
                metadata: seed.metadata,
                success_url: seed.success_url,
                failure_url: seed.failure_url,
                idempotency_keys: Vec::new(),
            },
            keys: HashMap::new(),
        };
        &self.sessions.entry(id).insert_entry(entry).into_mut().record
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<SessionRecord> {
        self.sessions.remove(id).map(|entry| entry.record)
    }

    pub(crate) fn clear(&mut self) {
        self.sessions.clear();
    }

    pub(crate) fn record(&self, id: &str) -> Option<SessionRecord> {
        self.sessions.get(id).map(|entry| entry.record.clone())
    }

    pub(crate) fn sessions(&self) -> Vec<QualificationSession> {
        self.in_list_order(|_| true).into_iter().map(|entry| entry.record.session.clone()).collect()
    }

    /// Every session with what updates stored beside it, in list order.
    pub(crate) fn records(&self) -> Vec<SessionRecord> {
        self.in_list_order(|_| true).into_iter().map(|entry| entry.record.clone()).collect()
    }

    /// The entries whose session `keep` accepts, in list order.
    fn in_list_order(&self, keep: impl Fn(&QualificationSession) -> bool) -> Vec<&Entry> {
        let mut entries: Vec<&Entry> =
            self.sessions.values().filter(|entry| keep(&entry.record.session)).collect();
        sort(&mut entries);
        entries
    }

    /// The sessions the API's listing filters keep (`status`, `user_id`, `search`,
    /// `expires_at`, read as [`list`](Self::list) reads them), with what updates stored
    /// beside them, in list order and unpaged (`page` and `page_size` are ignored); or the
    /// message of a malformed filter.
    pub(crate) fn records_matching(&self, query: &str) -> Result<Vec<SessionRecord>, String> {
        let filters = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                url::form_urlencoded::parse(query.as_bytes())
                    .filter(|(name, _)| name != "page" && name != "page_size"),
            )
            .finish();
        let query = ListQuery::parse(&filters)?;
        Ok(self
            .in_list_order(|session| query.matches(session))
            .into_iter()
            .map(|entry| entry.record.clone())
            .collect())
    }

    /// Every update applied, in order.
    pub(crate) fn applied(&self) -> &[AppliedUpdate] {
        &self.applied
    }

    /// Moves a session to `status`; returns the session as it is now, and whether it just
    /// became terminal (approved or rejected from another status).
    pub(crate) fn set_status(
        &mut self,
        id: &str,
        status: Status,
    ) -> Option<(&SessionRecord, bool)> {
        let entry = self.sessions.get_mut(id)?;
        let session = &mut entry.record.session;
        let was_terminal = session.status.is_terminal();
        let now = Utc::now();
        if status.is_terminal() && session.lmn_reviewed_at.is_none() {
            session.lmn_reviewed_at = Some(now.into());
        }
        if status == Status::Approved && session.expires_at.is_none() {
            session.expires_at = Some((now + chrono::Duration::days(365)).into());
        }
        let became_terminal = status.is_terminal() && !was_terminal;
        session.status = status;
        Some((&entry.record, became_terminal))
    }

    pub(crate) fn inject(&mut self, fault: Fault) {
        let times = fault.times;
        self.faults.push_back((fault, times));
    }

    pub(crate) fn clear_faults(&mut self) {
        self.faults.clear();
        self.chaos = None;
    }

    /// The queued faults, in order, each with the hits it has left.
    pub(crate) fn queued_faults(&self) -> Vec<(Fault, u32)> {
        self.faults.iter().cloned().collect()
    }

    /// How many request hits the queued faults still have (saturating).
    pub(crate) fn pending_faults(&self) -> u32 {
        self.faults.iter().fold(0u32, |sum, (_, left)| sum.saturating_add(*left))
    }

    /// How many faults are queued.
    pub(crate) fn queued_fault_count(&self) -> usize {
        self.faults.len()
    }

    pub(crate) fn set_chaos(&mut self, chaos: Option<ChaosState>) {
        self.chaos = chaos;
    }

    /// Counts a request under its operation and picks the fault it hits, if any.
    pub(crate) fn receive(&mut self, operation: Option<Operation>) -> Option<Fault> {
        self.stats.requests += 1;
        match operation {
            Some(Operation::Get) => self.stats.get_requests += 1,
            Some(Operation::List) => self.stats.list_requests += 1,
            Some(Operation::Update) => self.stats.update_requests += 1,
            // classify names only the three operations above.
            Some(_) | None => self.stats.other_requests += 1,
        }
        let fault = match self.faults.iter().position(|(fault, _)| fault.applies_to(operation)) {
            Some(index) => {
                let slot = &mut self.faults[index];
                slot.1 -= 1;
                let fault = slot.0.clone();
                if slot.1 == 0 {
                    self.faults.remove(index);
                }
                Some(fault)
            }
            None => self.chaos.as_mut().and_then(|chaos| chaos.draw(operation)),
        }?;
        self.stats.faults_injected += 1;
        use super::fault::FaultKind;
        match fault.kind {
            FaultKind::Status(_) => self.stats.status_faults += 1,
            FaultKind::DropConnection => self.stats.dropped_connections += 1,
            FaultKind::LoseResponse => self.stats.lost_responses += 1,
            FaultKind::Delay(_) => self.stats.delayed_requests += 1,
        }
        Some(fault)
    }

    pub(crate) fn get(&self, id: &str) -> Reply {
        match self.sessions.get(id) {
            Some(entry) => Reply::ok(session_json(&entry.record.session)),
            None => Reply::not_found(id),
        }
    }

    pub(crate) fn list(&self, query: Option<&str>) -> Reply {
        let query = match ListQuery::parse(query.unwrap_or_default()) {
            Ok(query) => query,
            Err(message) => return Reply::validation(message),
        };
        let matching = self.in_list_order(|session| query.matches(session));
        let count = matching.len() as u64;
        let last_page = count.div_ceil(query.page_size).max(1);
        let skip = (query.page - 1).saturating_mul(query.page_size);
        let items: Vec<Value> = matching
            .into_iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(query.page_size).unwrap_or(usize::MAX))
            .map(|entry| session_json(&entry.record.session))
            .collect();
        Reply::ok(json!({
            "qualification_sessions": items,
            "pagination": {
                "count": count,
                "current_page": query.page,
                "last_page": last_page,
                "page_size": query.page_size,
            },
        }))
    }

    pub(crate) fn update(&mut self, id: &str, body: &[u8]) -> Reply {
        let reply = self.update_inner(id, body);
        if reply.status != StatusCode::OK {
            self.stats.updates_refused += 1;
        }
        reply
    }

    fn update_inner(&mut self, id: &str, body: &[u8]) -> Reply {
        let Some(entry) = self.sessions.get_mut(id) else {
            return Reply::not_found(id);
        };
        let (key, fields) = match parse_update(body) {
            Ok(parsed) => parsed,
            Err(message) => return Reply::validation(message),
        };
        if let Some((original, reply)) = entry.keys.get(&key) {
            if *original == fields {
                self.stats.idempotent_replays += 1;
                return reply.clone();
            }
            return Reply::validation(format!(
                "idempotency_key {key:?} was already used on this qualification session with a different payload; use a new key for a different update"
            ));
        }
        let record = &mut entry.record;
        if fields.user_id.is_some() && record.session.user_id.is_some() {
            return Reply::error(
                StatusCode::CONFLICT,
                truemed_ext::USER_ID_ALREADY_SET,
                "This qualification session already has a user_id; it cannot be overwritten. Contact Truemed support to correct it.",
            );
        }
        if let Some(user_id) = &fields.user_id {
            record.session.user_id = Some(user_id.clone());
        }
        if let Some(metadata) = &fields.metadata {
            record.metadata = Some(metadata.clone());
        }
        if let Some(url) = &fields.success_url {
            record.success_url = Some(url.clone());
        }
        if let Some(url) = &fields.failure_url {
            record.failure_url = Some(url.clone());
        }
        record.idempotency_keys.push(key.clone());
        let reply = Reply::ok(json!({
            "qualification_session_id": record.session.qualification_session_id,
            "status": record.session.status,
        }));
        self.applied.push(AppliedUpdate {
            qualification_session_id: id.to_owned(),
            idempotency_key: key.clone(),
            user_id: fields.user_id.clone(),
            metadata: fields.metadata.clone(),
            success_url: fields.success_url.clone(),
            failure_url: fields.failure_url.clone(),
            applied_at: Utc::now(),
        });
        entry.keys.insert(key, (fields, reply.clone()));
        self.stats.updates_applied += 1;
        reply
    }
}

/// `created_at` ascending (sessions without one last), then in seeding order.
fn sort(entries: &mut [&Entry]) {
    entries.sort_by_key(|entry| {
        let created = entry.record.session.created_at;
        (created.is_none(), created, entry.seq)
    });
}

/// The session object as the API returns it: every field present, null when unset, as
/// Truemed does (the model type leaves unset fields out).
#[derive(Debug, Serialize)]
pub(crate) struct SessionObject<'a> {
    charge_group_created_at: Option<&'a Timestamp>,
    created_at: Option<&'a Timestamp>,
    customer_status: Option<&'a str>,
    eligible_amount: Option<&'a Amount>,
    email: Option<&'a str>,
    expires_at: Option<&'a Timestamp>,
    fee: Option<&'a Amount>,
    lmn_reviewed_at: Option<&'a Timestamp>,
    qualification_session_id: &'a str,
    session_type: Option<&'a str>,
    skus_param: Option<&'a str>,
    source: Option<&'a str>,
    status: &'a Status,
    stripe_invoice_id: Option<&'a str>,
    stripe_invoice_number: Option<&'a str>,
    stripe_invoice_paid_at: Option<&'a Timestamp>,
    user_business_id: Option<&'a str>,
    user_id: Option<&'a str>,
    user_name: Option<&'a str>,
}

impl<'a> From<&'a QualificationSession> for SessionObject<'a> {
    fn from(session: &'a QualificationSession) -> Self {
        // Every field, by name: a field the model gains is a compile error here.
        let QualificationSession {
            charge_group_created_at,
            created_at,
            customer_status,
            eligible_amount,
            email,
            expires_at,
            fee,
            lmn_reviewed_at,
            qualification_session_id,
            session_type,
            skus_param,
            source,
            status,
            stripe_invoice_id,
            stripe_invoice_number,
            stripe_invoice_paid_at,
            user_business_id,
            user_id,
            user_name,
        } = session;
        Self {
            charge_group_created_at: charge_group_created_at.as_ref(),
            created_at: created_at.as_ref(),
            customer_status: customer_status.as_deref(),
            eligible_amount: eligible_amount.as_ref(),
            email: email.as_deref(),
            expires_at: expires_at.as_ref(),
            fee: fee.as_ref(),
            lmn_reviewed_at: lmn_reviewed_at.as_ref(),
            qualification_session_id,
            session_type: session_type.as_deref(),
            skus_param: skus_param.as_deref(),
            source: source.as_deref(),
            status,
            stripe_invoice_id: stripe_invoice_id.as_deref(),
            stripe_invoice_number: stripe_invoice_number.as_deref(),
            stripe_invoice_paid_at: stripe_invoice_paid_at.as_ref(),
            user_business_id: user_business_id.as_deref(),
            user_id: user_id.as_deref(),
            user_name: user_name.as_deref(),
        }
    }
}

/// The session object as the API returns it, as JSON.
fn session_json(session: &QualificationSession) -> Value {
    serde_json::to_value(SessionObject::from(session)).unwrap_or(Value::Null)
}

/// The filters and page of a listing.
#[derive(Debug, PartialEq)]
struct ListQuery {
    statuses: Vec<Status>,
    user_id: Option<String>,
    search: Option<String>,
    expires_at: Option<NaiveDate>,
    page: u64,
    page_size: u64,
}

impl ListQuery {
    fn parse(query: &str) -> Result<Self, String> {
        let mut parsed = Self {
            statuses: Vec::new(),
            user_id: None,
            search: None,
            expires_at: None,
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
        };
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "page" => parsed.page = positive("page", &value)?,
                "page_size" => parsed.page_size = positive("page_size", &value)?,
                "status" => {
                    // The spec's pattern: lowercase words joined by commas. A well-formed
                    // status the fake does not know (one Truemed may add) matches nothing.
                    let well_formed = value.split(',').all(|word| {
                        !word.is_empty()
                            && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    });
                    if !well_formed {
                        return Err(format!(
                            "status: {value:?} is not a status; use pending, processing, approved or rejected, or several joined by commas"
                        ));
                    }
                    parsed.statuses.extend(value.split(',').map(Status::from));
                }
                "user_id" if !value.is_empty() => parsed.user_id = Some(value.into_owned()),
                "search" if !value.trim().is_empty() => {
                    parsed.search = Some(value.trim().to_lowercase())
                }
                "expires_at" => {
                    let date = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
                        .ok()
                        .filter(|_| value.trim().len() == 10)
                        .ok_or_else(|| {
                            format!("expires_at: {value:?} is not a date in YYYY-MM-DD format")
                        })?;
                    parsed.expires_at = Some(date);
                }
                _ => {}
            }
        }
        Ok(parsed)
    }

    fn matches(&self, session: &QualificationSession) -> bool {
        if !self.statuses.is_empty() && !self.statuses.contains(&session.status) {
            return false;
        }
        if let Some(user_id) = &self.user_id {
            if session.user_id.as_ref() != Some(user_id) {
                return false;
            }
        }
        if let Some(date) = self.expires_at {
            if session.expires_at.map(|at| at.date_naive()) != Some(date) {
                return false;
            }
        }
        if let Some(needle) = &self.search {
            let found = [&session.email, &session.user_name, &session.user_business_id]
                .into_iter()
                .flatten()
                .any(|haystack| haystack.to_lowercase().contains(needle.as_str()));
            if !found {
                return false;
            }
        }
        true
    }
}

fn positive(name: &str, value: &str) -> Result<u64, String> {
    value.trim().parse::<u64>().ok().filter(|n| (1..=i64::MAX as u64).contains(n)).ok_or_else(
        || format!("{name}: {value:?} is not a valid page number; use an integer of at least 1"),
    )
}

/// Parses and checks an update body: the key and the fields to change.
fn parse_update(body: &[u8]) -> Result<(String, UpdateFields), String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("The request body is not valid JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err("The request body must be a JSON object.".into());
    };
    let key = match string_field::<wire::UpdateQualificationSessionRequestIdempotencyKey>(
        &object,
        "idempotency_key",
    )? {
        Some(key) => key,
        None => return Err("idempotency_key: this field is required.".into()),
    };
    let fields = UpdateFields {
        user_id: string_field::<wire::UpdateQualificationSessionRequestUserId>(&object, "user_id")?,
        metadata: string_field::<wire::UpdateQualificationSessionRequestMetadata>(
            &object, "metadata",
        )?,
        success_url: string_field::<wire::UpdateQualificationSessionRequestSuccessUrl>(
            &object,
            "success_url",
        )?,
        failure_url: string_field::<wire::UpdateQualificationSessionRequestFailureUrl>(
            &object,
            "failure_url",
        )?,
    };
    Ok((key, fields))
}

/// A string field: absent or null is `None`; another type, or a string its generated type
/// `T` refuses (the spec's length limits), is an error.
fn string_field<T>(object: &Map<String, Value>, name: &str) -> Result<Option<String>, String>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => match T::from_str(text) {
            Ok(_) => Ok(Some(text.clone())),
            Err(limit) => Err(format!(
                "{name}: refused, {limit} (it has {} characters).",
                text.chars().count()
            )),
        },
        Some(other) => {
            let hint = if name == "metadata" {
                " (metadata is a JSON-encoded string, not an object)"
            } else {
                ""
            };
            Err(format!("{name}: expected a string, got {}{hint}.", json_type(other)))
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query() {
        let q = ListQuery::parse(
            "status=approved%2Crejected&page=2&page_size=5&search=ADA&expires_at=2025-01-31&x=1",
        )
        .unwrap();
        assert_eq!(q.statuses, vec![Status::Approved, Status::Rejected]);
        assert_eq!((q.page, q.page_size), (2, 5));
        assert_eq!(q.search.as_deref(), Some("ada"));
        assert_eq!(q.expires_at, NaiveDate::from_ymd_opt(2025, 1, 31));
        for bad in [
            "page=0",
            "page=-1",
            "page=x",
            "page_size=0",
            "page_size=1.5",
            "status=Approved",
            "status=approved,,rejected",
            "status=",
            "expires_at=",
            "expires_at=2025-1-1",
            "expires_at=tomorrow",
        ] {
            assert!(ListQuery::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ListQuery::parse("").unwrap().page_size, DEFAULT_PAGE_SIZE);
        // A well-formed status the fake does not know (one Truemed may add) matches nothing.
        assert_eq!(
            ListQuery::parse("status=on_hold").unwrap().statuses,
            vec![Status::from("on_hold")]
        );
    }

    #[test]
    fn update_bodies() {
        assert!(parse_update(b"{").is_err());
        assert!(parse_update(b"[]").is_err());
        assert!(parse_update(b"{}").is_err());
        assert!(parse_update(br#"{"idempotency_key":""}"#).is_err());
        assert!(parse_update(br#"{"idempotency_key":"k","metadata":{"a":1}}"#).is_err());
        let (key, fields) =
            parse_update(br#"{"idempotency_key":"k","user_id":null,"extra":[1],"metadata":"{}"}"#)
                .unwrap();
        assert_eq!(key, "k");
        assert_eq!(fields.user_id, None);
        assert_eq!(fields.metadata.as_deref(), Some("{}"));
        let long = format!(r#"{{"idempotency_key":"{}"}}"#, "é".repeat(255));
        assert!(parse_update(long.as_bytes()).is_ok());
        let long = format!(r#"{{"idempotency_key":"{}"}}"#, "é".repeat(256));
        assert!(parse_update(long.as_bytes()).is_err());
    }
}
