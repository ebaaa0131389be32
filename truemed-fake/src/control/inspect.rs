//! What the fake saw and did: `GET /_fake/stats`, `GET /_fake/ledger`; and the `limit` and
//! session filter that the ledger and `GET /_fake/webhooks` take.

use std::sync::Arc;

use axum::extract::{RawQuery, State as Extract};
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use super::{allow, invalid, ok, Answer, Fake};
use crate::limits::{DEFAULT_CONTROL_LIMIT, MAX_CONTROL_LIMIT};
use crate::shared::Shared;
use crate::state::{AppliedUpdate, Reply, Stats};

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_fake/stats", allow(get(stats), "GET, HEAD"))
        .route("/_fake/ledger", allow(get(ledger), "GET, HEAD"))
}

/// The counters, and the hits the queued faults still have (`Stats`).
#[derive(Debug, Serialize)]
struct StatsView {
    #[serde(flatten)]
    stats: Stats,
    pending_faults: u32,
}

async fn stats(Extract(shared): Fake) -> Answer {
    let view = {
        let state = shared.state();
        StatsView { stats: state.stats.clone(), pending_faults: state.pending_faults() }
    };
    ok(view)
}

/// What `GET /_fake/ledger` and `GET /_fake/webhooks` take: a session to keep the
/// entries of, and how many of the newest to answer.
#[derive(Debug)]
pub(super) struct Listing {
    qualification_session_id: Option<String>,
    limit: usize,
}

impl Listing {
    /// The query string's `qualification_session_id` and `limit` (the first of each);
    /// other parameters are ignored. A `limit` that is not a whole number from 1 to
    /// [`MAX_CONTROL_LIMIT`] is a 400.
    pub(super) fn parse(query: Option<&str>) -> Result<Self, Reply> {
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
        Ok(Self { qualification_session_id, limit: limit.unwrap_or(DEFAULT_CONTROL_LIMIT) })
    }

    /// The newest `limit` of `items` (oldest first) of the session asked for, if any,
    /// cloned; and how many of the session's there are in all. Only those answered are
    /// cloned, so that the caller can hold a lock on `items` and serialize outside it.
    pub(super) fn select<T: Clone>(
        &self,
        items: &[T],
        session_of: impl Fn(&T) -> &str,
    ) -> (Vec<T>, usize) {
        let wanted = |item: &&T| {
            self.qualification_session_id.as_deref().is_none_or(|id| session_of(item) == id)
        };
        let total = items.iter().filter(wanted).count();
        let mut newest: Vec<T> =
            items.iter().rev().filter(wanted).take(self.limit).cloned().collect();
        newest.reverse();
        (newest, total)
    }
}

/// The applied updates (`Ledger`).
#[derive(Debug, Serialize)]
struct Ledger {
    applied_updates: Vec<AppliedUpdate>,
    total: usize,
}

async fn ledger(Extract(shared): Fake, RawQuery(query): RawQuery) -> Answer {
    let listing = Listing::parse(query.as_deref())?;
    let (applied_updates, total) =
        listing.select(shared.state().applied(), |update| &update.qualification_session_id);
    ok(Ledger { applied_updates, total })
}
