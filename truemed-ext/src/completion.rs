//! [`Completion`]: a qualification session that reached a terminal status, whichever path
//! saw it first: a webhook delivery or a reconciliation poll.
//!
//! Truemed announces each completed session once, with a webhook that it retries for days;
//! an endpoint that was down, misconfigured or rotated its secret still misses some, and
//! reconciliation finds those by polling. Both paths give a [`Completion`] with the same
//! [`CompletionKey`] (the session id and its terminal status), so one handler that
//! deduplicates on the key applies each completion once, whichever path delivered it first:
//!
//! ```
//! use std::collections::HashSet;
//! use truemed_ext::{Completion, CompletionKey};
//!
//! /// In production: a unique index on the key, inserted in the same transaction as the work.
//! fn apply(seen: &mut HashSet<CompletionKey>, completion: &Completion) -> bool {
//!     if !seen.insert(completion.key()) {
//!         return false; // already applied: answer 2xx to a webhook all the same
//!     }
//!     // ... mark the order paid, email the shopper ...
//!     true
//! }
//! # let mut seen = HashSet::new();
//! # let webhook = truemed_ext::QualificationSessionCompleteWebhook::builder()
//! #     .qualification_session_id("qs_1").status(truemed_ext::Status::Approved)
//! #     .try_into().unwrap();
//! # let from_webhook = Completion::from_webhook(&webhook, Some("whd_1")).unwrap();
//! # assert!(apply(&mut seen, &from_webhook));
//! # let mut session = truemed_ext::QualificationSession::builder()
//! #     .qualification_session_id("qs_1").status(truemed_ext::Status::Approved)
//! #     .try_into().unwrap();
//! # let from_poll = Completion::from_session(session).unwrap();
//! # assert!(!apply(&mut seen, &from_poll)); // the same completion, seen twice
//! ```

use std::fmt;

use truemed_api::types::{QualificationSession, QualificationSessionCompleteWebhook};
use truemed_api::{QualificationSessionStatus as Status, Timestamp};

/// A qualification session that reached `approved` or `rejected`.
///
/// Built by the webhook verifiers' deliveries ([`Completion::from_webhook`]) and by
/// reconciliation ([`Completion::from_session`]). Its [`key`](Self::key) is the same on both
/// paths; the other fields carry what the path saw.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Completion {
    /// The session that completed.
    pub qualification_session_id: String,
    /// Its terminal status: [`Status::Approved`] or [`Status::Rejected`].
    pub status: Status,
    /// The merchant's user id for the shopper, if the session has one.
    pub user_id: Option<String>,
    /// When the Letter of Medical Necessity expires, if known.
    pub expires_at: Option<Timestamp>,
    /// Which path saw it.
    pub source: CompletionSource,
}

/// Which path saw a [`Completion`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CompletionSource {
    /// A webhook delivery; the signed deliveries' `webhook_delivery_id` (stable across
    /// redeliveries), `None` for an unsigned delivery, which has none.
    Webhook {
        /// The delivery's id, for signed deliveries.
        webhook_delivery_id: Option<String>,
    },
    /// A reconciliation poll, with the session as the API returned it.
    Reconciliation {
        /// The session, as read.
        session: Box<QualificationSession>,
    },
}

impl Completion {
    /// The completion a webhook payload announces; `None` if its status is not terminal
    /// (Truemed sends this event only for `approved` and `rejected`).
    pub fn from_webhook(
        payload: &QualificationSessionCompleteWebhook,
        webhook_delivery_id: Option<&str>,
    ) -> Option<Self> {
        payload.status.is_terminal().then(|| Self {
            qualification_session_id: payload.qualification_session_id.clone(),
            status: payload.status.clone(),
            user_id: payload.user_id.clone(),
            expires_at: payload.expires_at,
            source: CompletionSource::Webhook {
                webhook_delivery_id: webhook_delivery_id.map(str::to_owned),
            },
        })
    }

    /// The completion a session read from the API shows; `None` while it is `pending` or
    /// `processing` (or in a status this crate does not know).
    pub fn from_session(session: QualificationSession) -> Option<Self> {
        session.status.is_terminal().then(|| Self {
            qualification_session_id: session.qualification_session_id.clone(),
            status: session.status.clone(),
            user_id: session.user_id.clone(),
            expires_at: session.expires_at,
            source: CompletionSource::Reconciliation { session: Box::new(session) },
        })
    }

    /// The deduplication key: the session id and its terminal status, the same whichever
    /// path saw the completion.
    pub fn key(&self) -> CompletionKey {
        CompletionKey {
            qualification_session_id: self.qualification_session_id.clone(),
            status: self.status.clone(),
        }
    }
}

/// The deduplication key of a [`Completion`]: the session id and its terminal status.
///
/// `Display` (and [`to_string`](ToString::to_string)) gives the form to store, e.g. in a
/// column with a unique index: `{qualification_session_id}:{status}`, such as
/// `qs_123:approved`. The status never holds a `:`, so the last `:` splits the two.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CompletionKey {
    qualification_session_id: String,
    status: Status,
}

impl CompletionKey {
    /// The session id.
    pub fn qualification_session_id(&self) -> &str {
        &self.qualification_session_id
    }

    /// The terminal status.
    pub fn status(&self) -> &Status {
        &self.status
    }
}

impl fmt::Display for CompletionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.qualification_session_id, self.status.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(id: &str, status: Status) -> QualificationSessionCompleteWebhook {
        QualificationSessionCompleteWebhook::builder()
            .qualification_session_id(id)
            .status(status)
            .try_into()
            .unwrap()
    }

    fn session(id: &str, status: Status) -> QualificationSession {
        QualificationSession::builder()
            .qualification_session_id(id)
            .status(status)
            .try_into()
            .unwrap()
    }

    #[test]
    fn a_webhook_and_a_poll_of_one_completion_have_one_key() {
        let from_webhook =
            Completion::from_webhook(&webhook("qs_1", Status::Approved), Some("whd_9")).unwrap();
        let from_poll = Completion::from_session(session("qs_1", Status::Approved)).unwrap();
        assert_eq!(from_webhook.key(), from_poll.key());
        assert_eq!(from_webhook.key().to_string(), "qs_1:approved");
    }

    #[test]
    fn the_status_is_part_of_the_key() {
        let approved = Completion::from_session(session("qs_1", Status::Approved)).unwrap();
        let rejected = Completion::from_session(session("qs_1", Status::Rejected)).unwrap();
        assert_ne!(approved.key(), rejected.key());
        assert_eq!(rejected.key().to_string(), "qs_1:rejected");
    }

    #[test]
    fn sessions_that_are_not_terminal_are_no_completion() {
        for status in [Status::Pending, Status::Processing, Status::Unknown("on_hold".into())] {
            assert!(Completion::from_session(session("qs_1", status.clone())).is_none());
            assert!(Completion::from_webhook(&webhook("qs_1", status), None).is_none());
        }
    }

    #[test]
    fn a_key_keeps_an_id_with_colons_apart_from_its_status() {
        let key = Completion::from_session(session("qs:a:b", Status::Approved)).unwrap().key();
        let text = key.to_string();
        let (id, status) = text.rsplit_once(':').unwrap();
        assert_eq!((id, status), ("qs:a:b", "approved"));
        assert_eq!(key.qualification_session_id(), "qs:a:b");
    }
}
