//! [`SessionSeed`]: the sessions a fake starts with: [`demo_sessions`], or sessions read
//! from JSON ([`seeds_from_json`], what `truemed-fake serve --seed FILE` reads).

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Duration as Days, TimeZone as _, Utc};
use serde_json::Value;

use truemed_ext::{QualificationSession, Status};

use crate::decode::{decode, decode_value, Refusal, Shown, Unexpected};

/// A qualification session to [`seed`](super::FakeTruemed::seed) into a fake.
///
/// Starts as a realistic fresh session: `pending`, created now, every other field null
/// (the shopper has not completed the survey). Set what your test needs.
///
/// ```
/// use chrono::{TimeZone as _, Utc};
/// use truemed_fake::SessionSeed;
/// use truemed_ext::Status;
///
/// let seed = SessionSeed::new("qs_123")
///     .status(Status::Approved)
///     .email("ada@example.com")
///     .user_name("Ada Lovelace")
///     .user_business_id("biz_7")
///     .expires_at(Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap());
/// assert_eq!(seed.session().status, Status::Approved);
/// assert_eq!(seed.session().user_id, None);
/// ```
#[derive(Clone, Debug)]
#[must_use = "a seed does nothing until given to FakeTruemed::seed"]
pub struct SessionSeed {
    pub(crate) session: QualificationSession,
    pub(crate) metadata: Option<String>,
    pub(crate) success_url: Option<String>,
    pub(crate) failure_url: Option<String>,
}

macro_rules! string_setters {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            self.session.$name = Some(value.into());
            self
        }
    )*};
}

macro_rules! time_setters {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, at: DateTime<Utc>) -> Self {
            self.session.$name = Some(at.into());
            self
        }
    )*};
}

impl SessionSeed {
    /// A `pending` session with this id, created now, every other field null.
    pub fn new(id: impl Into<String>) -> Self {
        Self::from(QualificationSession {
            charge_group_created_at: None,
            created_at: Some(Utc::now().into()),
            customer_status: None,
            eligible_amount: None,
            email: None,
            expires_at: None,
            fee: None,
            lmn_reviewed_at: None,
            qualification_session_id: id.into(),
            session_type: None,
            skus_param: None,
            source: None,
            status: Status::Pending,
            stripe_invoice_id: None,
            stripe_invoice_number: None,
            stripe_invoice_paid_at: None,
            user_business_id: None,
            user_id: None,
            user_name: None,
        })
    }

    /// The status (default `pending`).
    pub fn status(mut self, status: Status) -> Self {
        self.session.status = status;
        self
    }

    string_setters! {
        /// The shopper's email.
        email;
        /// The shopper's name (null when Truemed hides personal data).
        user_name;
        /// Your `user_id` for the shopper; an update can then no longer set it.
        user_id;
        /// The user's business id.
        user_business_id;
        /// The customer's status.
        customer_status;
        /// The kind of session.
        session_type;
        /// The SKUs parameter.
        skus_param;
        /// The `source` of the redirect URL.
        source;
        /// The Stripe invoice id.
        stripe_invoice_id;
        /// The Stripe invoice number.
        stripe_invoice_number;
    }

    time_setters! {
        /// When the session was created (default: when the seed was made). Lists are
        /// sorted by it.
        created_at;
        /// When the Letter of Medical Necessity expires.
        expires_at;
        /// When the Letter of Medical Necessity was reviewed.
        lmn_reviewed_at;
        /// When the charge group was created.
        charge_group_created_at;
        /// When the Stripe invoice was paid.
        stripe_invoice_paid_at;
    }

    /// No `created_at` at all (such sessions sort last).
    pub fn without_created_at(mut self) -> Self {
        self.session.created_at = None;
        self
    }

    /// The eligible amount.
    pub fn eligible_amount(mut self, amount: f64) -> Self {
        self.session.eligible_amount = Some(amount.into());
        self
    }

    /// The fee.
    pub fn fee(mut self, fee: f64) -> Self {
        self.session.fee = Some(fee.into());
        self
    }

    /// Metadata already stored (not part of the session object the API returns; see
    /// [`FakeTruemed::record`](super::FakeTruemed::record)).
    pub fn metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }

    /// A success URL already stored.
    pub fn success_url(mut self, url: impl Into<String>) -> Self {
        self.success_url = Some(url.into());
        self
    }

    /// A failure URL already stored.
    pub fn failure_url(mut self, url: impl Into<String>) -> Self {
        self.failure_url = Some(url.into());
        self
    }

    /// The session as the API will return it.
    pub fn session(&self) -> &QualificationSession {
        &self.session
    }

    /// The session's id.
    pub fn id(&self) -> &str {
        &self.session.qualification_session_id
    }
}

impl From<QualificationSession> for SessionSeed {
    /// Seeds exactly this session (e.g. one decoded from a JSON file).
    fn from(session: QualificationSession) -> Self {
        Self { session, metadata: None, success_url: None, failure_url: None }
    }
}

/// Sessions read from JSON: an array of session objects as the API returns them (each with
/// at least `qualification_session_id` and `status`; timestamps and amounts read as
/// leniently as the client reads them), or a whole list response
/// (`{"qualification_sessions": [...]}`). What `truemed-fake serve --seed FILE` reads.
///
/// Each id may be given once. A refusal names the entry (its index, and its id when it
/// has one) and the field at fault.
///
/// ```
/// use truemed_fake::seeds_from_json;
///
/// let seeds = seeds_from_json(r#"[{"qualification_session_id": "qs_1", "status": "approved"}]"#)
///     .unwrap();
/// assert_eq!(seeds[0].id(), "qs_1");
///
/// let refused = seeds_from_json(r#"[{"status": "pending"}]"#).unwrap_err();
/// assert_eq!(
///     refused.to_string(),
///     "entry 0: qualification_session_id: this field is required."
/// );
/// ```
pub fn seeds_from_json(json: &str) -> Result<Vec<SessionSeed>, SeedError> {
    let refused = |message: String| SeedError { message };
    let value: Value = decode(json.as_bytes()).map_err(|refusal| match refusal {
        Refusal::Syntax(message) | Refusal::Field(message) => {
            refused(format!("not valid JSON: {message}"))
        }
    })?;
    let entries = match value {
        Value::Array(entries) => entries,
        Value::Object(mut object) if object.contains_key("qualification_sessions") => {
            match object.remove("qualification_sessions") {
                Some(Value::Array(entries)) => entries,
                other => {
                    return Err(refused(format!(
                        "qualification_sessions: expected an array of sessions, got {}",
                        shown(other.as_ref().unwrap_or(&Value::Null))
                    )))
                }
            }
        }
        other => {
            return Err(refused(format!(
                "expected an array of qualification sessions, or a list response with qualification_sessions, got {}",
                shown(&other)
            )))
        }
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut seeds = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let id = entry.get("qualification_session_id").and_then(Value::as_str).map(str::to_owned);
        let entry_name = match &id {
            Some(id) => format!("entry {index} ({id:?})"),
            None => format!("entry {index}"),
        };
        if !entry.is_object() {
            return Err(refused(format!(
                "{entry_name}: expected a session object, got {}",
                shown(&entry)
            )));
        }
        let session: QualificationSession =
            decode_value(entry).map_err(|message| refused(format!("{entry_name}: {message}")))?;
        let id = session.qualification_session_id.clone();
        if let Some(first) = seen.insert(id.clone(), index) {
            return Err(refused(format!(
                "entries {first} and {index} have the same qualification_session_id {id:?}; give each session once"
            )));
        }
        seeds.push(SessionSeed::from(session));
    }
    Ok(seeds)
}

/// A JSON value, shown short in a message.
fn shown(value: &Value) -> String {
    let unexpected = match value {
        Value::Null => Unexpected::Null,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Unexpected::Unsigned(u),
            (_, Some(i), _) => Unexpected::Signed(i),
            (_, _, x) => Unexpected::Float(x.unwrap_or(f64::NAN)),
        },
        Value::String(text) => Unexpected::Str(text),
        Value::Array(_) => Unexpected::Array,
        Value::Object(_) => Unexpected::Object,
    };
    Shown(unexpected).to_string()
}

/// Why [`seeds_from_json`] refused its input: which entry and field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeedError {
    message: String,
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SeedError {}

/// The id of the first of [`demo_sessions`]: the example id of Truemed's API reference, a
/// `pending` session without a `user_id`.
pub const DEMO_SESSION_ID: &str = "qs_9f8b7c6d-1234-4e56-8a9b-0c1d2e3f4a5b";

const FIRST_NAMES: [&str; 16] = [
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Radia",
    "Dennis",
    "Margaret",
    "John",
    "Hedy",
    "Tim",
    "Shafi",
];
const LAST_NAMES: [&str; 16] = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Johnson",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
    "Ritchie",
    "Hamilton",
    "McCarthy",
    "Lamarr",
    "Berners-Lee",
    "Goldwasser",
];
const SOURCES: [&str; 4] = ["checkout", "quiz", "email_campaign", "partner_portal"];
const SKUS: [&str; 5] = [
    "sku_treadmill_01",
    "sku_sauna_02",
    "sku_protein_03,sku_shaker_04",
    "sku_bike_05",
    "sku_massage_06",
];

/// How many sessions [`demo_sessions`] makes.
pub const DEMO_SESSION_COUNT: usize = 50;

/// [`DEMO_SESSION_COUNT`] realistic sessions, the same on every call; see
/// [`demo_sessions_n`].
///
/// ```
/// use truemed_fake::{demo_sessions, DEMO_SESSION_ID};
/// use truemed_ext::Status;
///
/// let seeds = demo_sessions();
/// assert_eq!(seeds.len(), 50);
/// assert_eq!(seeds[0].id(), DEMO_SESSION_ID);
/// assert!(seeds.iter().any(|s| s.session().status == Status::Approved));
/// assert!(seeds.iter().any(|s| s.session().status == Status::Rejected));
/// assert!(seeds.iter().any(|s| s.session().user_name.is_none()));
/// ```
pub fn demo_sessions() -> Vec<SessionSeed> {
    demo_sessions_n(DEMO_SESSION_COUNT)
}

/// `count` realistic sessions, the same on every call (the first `n` of a longer run are
/// the same as those of a shorter one): mixed statuses (about half
/// `approved`, a fifth each `pending` and `rejected`, the rest `processing`), some with
/// hidden personal data (null name and email), some with a `user_id` already set (never
/// the `pending` ones),
/// approved ones with an LMN expiry and an invoice, created a few hours apart from
/// 2024-01-02. The first is [`DEMO_SESSION_ID`], `pending` with no `user_id`.
///
/// ```
/// use truemed_fake::{demo_sessions, demo_sessions_n, DEMO_SESSION_ID};
///
/// let seeds = demo_sessions_n(200);
/// assert_eq!(seeds.len(), 200);
/// assert_eq!(seeds[0].id(), DEMO_SESSION_ID);
/// assert_eq!(seeds[7].id(), demo_sessions()[7].id());
/// ```
pub fn demo_sessions_n(count: usize) -> Vec<SessionSeed> {
    let base = Utc.with_ymd_and_hms(2024, 1, 2, 9, 0, 0).single().unwrap_or_default();
    let expiry_base = Utc.with_ymd_and_hms(2025, 1, 15, 23, 59, 59).single().unwrap_or_default();
    let namespace = uuid::Uuid::from_u128(0x7275_6d65_642d_7273_2d64_656d_6f2d_7173);
    (0..count)
        .map(|i| {
            let n = i as i64;
            let id = if i == 0 {
                DEMO_SESSION_ID.to_owned()
            } else {
                format!(
                    "qs_{}",
                    uuid::Uuid::new_v5(&namespace, format!("demo session {i}").as_bytes())
                )
            };
            // A fixed pseudo-random mix, so neighbours differ.
            let mix = (i * 7 + 3) % 10;
            let status = match (i, mix) {
                (0, _) => Status::Pending,
                (_, 0 | 1) => Status::Pending,
                (_, 2) => Status::Processing,
                (_, 3 | 4) => Status::Rejected,
                _ => Status::Approved,
            };
            let created = base
                + Days::hours(7 * n)
                + Days::minutes((13 * n) % 60)
                + Days::seconds((29 * n) % 60);
            let first = FIRST_NAMES[i % FIRST_NAMES.len()];
            let last = LAST_NAMES[(i * 5 + 1) % LAST_NAMES.len()];
            let mut seed = SessionSeed::new(id)
                .status(status.clone())
                .created_at(created)
                .session_type(if i % 6 == 5 { "subscription" } else { "one_time" })
                .skus_param(SKUS[i % SKUS.len()])
                .source(SOURCES[i % SOURCES.len()]);
            if i == 0 {
                return seed;
            }
            // Every fifth session hides personal data.
            if i % 5 != 4 && status != Status::Pending {
                seed = seed
                    .user_name(format!("{first} {last}"))
                    .email(format!(
                        "{}.{}{}@example.com",
                        first.to_lowercase(),
                        last.to_lowercase(),
                        i
                    ))
                    .user_business_id(format!("biz_{:04}", 1000 + i));
            }
            // Pending sessions have no user_id yet, so demos can set one.
            if i % 3 == 1 && status != Status::Pending {
                seed = seed.user_id(format!("user_{:04}", 100 + i));
            }
            if status != Status::Pending {
                seed = seed.customer_status(if status == Status::Processing {
                    "survey_complete"
                } else {
                    "reviewed"
                });
            }
            if status.is_terminal() {
                let reviewed = created + Days::hours(20);
                seed = seed.lmn_reviewed_at(reviewed);
            }
            if status == Status::Approved {
                let reviewed = created + Days::hours(20);
                let amount = 5_000.0 + ((i * 1_237) % 90_000) as f64;
                seed = seed
                    // Letters last a year; expiry dates repeat across sessions so the
                    // date filter has something to find.
                    .expires_at(expiry_base + Days::days((n % 4) * 30))
                    .eligible_amount(amount)
                    .fee((amount * 0.065).round())
                    .charge_group_created_at(reviewed + Days::minutes(5))
                    .stripe_invoice_id(format!("in_1P{:020}", 4_000_000_017u64 * (i as u64 + 1)))
                    .stripe_invoice_number(format!("TM-{:06}", 10_000 + i))
                    .stripe_invoice_paid_at(reviewed + Days::hours(1));
            }
            seed
        })
        .collect()
}
