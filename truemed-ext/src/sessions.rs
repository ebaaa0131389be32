//! The qualification-session operations: [`get`](QualificationSessions::get),
//! [`list`](QualificationSessions::list) and [`update`](QualificationSessions::update).

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::Serialize;
use truemed_api::types::{
    self, GetQualificationSessionQualificationSessionId as GetId, QualificationSession,
    UpdateQualificationSessionQualificationSessionId as UpdateId,
};
use truemed_api::QualificationSessionStatus as Status;

use crate::client::Client;
use crate::error::Error;
use crate::idempotency::IdempotencyKey;
use crate::operation::Operation;
use crate::page::{ListFilters, Listing, Page};
use crate::pagination::{ItemStream, PageStream, Paginator};
use crate::reconcile::Reconciliation;
use crate::refusal::{InvalidRequestReason, MAX_API_INTEGER};
use crate::retry::RetryPolicy;

/// The spec's length limits of the update's fields, in characters (a unit test checks
/// each against the generated type that enforces it).
const USER_ID_LIMIT: usize = 255;
const URL_LIMIT: usize = 2048;
const METADATA_LIMIT: usize = 4096;

impl Client {
    /// The qualification sessions of the API key's sales channel.
    pub fn qualification_sessions(&self) -> QualificationSessions {
        QualificationSessions { client: self.clone() }
    }
}

/// The qualification sessions of the API key's sales channel; from
/// [`Client::qualification_sessions`].
#[derive(Clone, Debug)]
pub struct QualificationSessions {
    client: Client,
}

impl QualificationSessions {
    /// One session by id. Await it directly, or set a per-call retry policy first.
    ///
    /// ```no_run
    /// # async fn demo(client: truemed_ext::Client) -> Result<(), truemed_ext::Error> {
    /// let session = client.qualification_sessions().get("qs_123").await?;
    /// println!("{} is {}", session.qualification_session_id, session.status);
    /// # Ok(()) }
    /// ```
    pub fn get(&self, id: impl Into<String>) -> GetRequest {
        GetRequest { client: self.client.clone(), id: id.into(), retry: None }
    }

    /// A listing: set filters, then [`send`](ListRequest::send) (or `.await`) for one
    /// page, or [`stream`](ListRequest::stream) / [`pages`](ListRequest::pages) /
    /// [`paginate`](ListRequest::paginate) for all of them.
    pub fn list(&self) -> ListRequest {
        ListRequest { client: self.client.clone(), filters: ListFilters::default(), retry: None }
    }

    /// An update of one session: set the fields to change, then
    /// [`send`](UpdateRequest::send).
    ///
    /// ```no_run
    /// # async fn demo(client: truemed_ext::Client) -> Result<(), truemed_ext::Error> {
    /// let out = client
    ///     .qualification_sessions()
    ///     .update("qs_123")
    ///     .user_id("user_42")
    ///     .metadata(&serde_json::json!({"crm_id": 7}))
    ///     .send()
    ///     .await?;
    /// println!("{} {} {}", out.qualification_session_id, out.status, out.idempotency_key);
    /// # Ok(()) }
    /// ```
    pub fn update(&self, id: impl Into<String>) -> UpdateRequest {
        UpdateRequest {
            client: self.client.clone(),
            id: id.into(),
            key: None,
            body: Ok(types::builder::UpdateQualificationSessionRequest::default()),
            retry: None,
        }
    }

    /// Reconciliation: a stream of the sessions that reached `approved` or `rejected`,
    /// each once, found by polling, for the completions no webhook announced. Watch ids
    /// from your records with [`Reconciliation::sessions`], or (without) every session
    /// listed `pending` or `processing`; see [`reconcile`](crate::reconcile).
    pub fn reconcile(&self) -> Reconciliation {
        Reconciliation::new(self.client.clone())
    }
}

/// The id as the generated path parameter type, refusing before sending any id that
/// would not stay inside its one path segment.
///
/// The generated client percent-encodes `/`, `?`, `#`, `%`, spaces and controls, but URL
/// parsing still resolves `.` and `..` segments and reads `\` as `/`: such an id would
/// reach another path of the API with the key attached.
fn checked_id<T: FromStr>(id: &str) -> Result<T, Error> {
    let reason = match id {
        "" => InvalidRequestReason::EmptyId,
        "." | ".." => InvalidRequestReason::DotSegmentId,
        _ if id.contains('\\') => InvalidRequestReason::BackslashInId,
        _ => return T::from_str(id).map_err(|_| InvalidRequestReason::IdRefused.into()),
    };
    Err(reason.into())
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A pending [`QualificationSessions::get`]; await it.
#[derive(Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct GetRequest {
    client: Client,
    id: String,
    retry: Option<RetryPolicy>,
}

impl GetRequest {
    /// This call's retry policy, instead of the client's.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Sends the request.
    pub async fn send(self) -> Result<QualificationSession, Error> {
        let id: GetId = checked_id(&self.id)?;
        self.client
            .execute(Operation::Get, self.retry.as_ref(), None, None, |raw| {
                let id = id.clone();
                async move {
                    raw.get_qualification_session()
                        .qualification_session_id(id)
                        .send()
                        .await
                }
            })
            .await
    }
}

impl IntoFuture for GetRequest {
    type Output = Result<QualificationSession, Error>;
    type IntoFuture = BoxFuture<Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// A listing of qualification sessions, sorted by `created_at`; from
/// [`QualificationSessions::list`].
///
/// ```no_run
/// # async fn demo(client: truemed_ext::Client) -> Result<(), truemed_ext::Error> {
/// use truemed_ext::Status;
/// let page = client
///     .qualification_sessions()
///     .list()
///     .statuses([Status::Approved, Status::Rejected])
///     .search("ada@example.com")
///     .page_size(100)
///     .send()
///     .await?;
/// println!("{} sessions on this page", page.items.len());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until sent"]
pub struct ListRequest {
    client: Client,
    filters: ListFilters,
    retry: Option<RetryPolicy>,
}

impl ListRequest {
    /// The largest [`page`](Self::page) the API can have (`i64::MAX`: its page numbers
    /// are 64-bit signed integers). A listing ends there.
    pub const MAX_PAGE: u64 = MAX_API_INTEGER;

    /// The largest [`page_size`](Self::page_size) the API can take (`i64::MAX`: its page
    /// sizes are 64-bit signed integers).
    pub const MAX_PAGE_SIZE: u64 = MAX_API_INTEGER;

    /// Only sessions in this status (replaces earlier status filters).
    pub fn status(self, status: Status) -> Self {
        self.statuses([status])
    }

    /// Only sessions in any of these statuses (sent comma-joined; replaces earlier ones).
    pub fn statuses(mut self, statuses: impl IntoIterator<Item = Status>) -> Self {
        self.filters.statuses = statuses.into_iter().collect();
        self
    }

    /// Only sessions carrying this `user_id`. An empty or blank one is refused at
    /// [`send`](Self::send) (it would match every shopper's sessions).
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.filters.user_id = Some(user_id.into());
        self
    }

    /// Free text matched against user name, email, `user_business_id`, UTM and external
    /// user id. An empty or blank one is refused at [`send`](Self::send).
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.filters.search = Some(text.into());
        self
    }

    /// Only sessions whose Letter of Medical Necessity expires on this date.
    pub fn expires_at(mut self, date: NaiveDate) -> Self {
        self.filters.expires_at = Some(date);
        self
    }

    /// The page to fetch, from 1 (default 1) to [`MAX_PAGE`](Self::MAX_PAGE). When
    /// paginating, the first page fetched. A page outside that range is refused at
    /// [`send`](Self::send) (and by a listing's first poll), sending nothing.
    pub fn page(mut self, page: u64) -> Self {
        self.filters.page = Some(page);
        self
    }

    /// Sessions per page (Truemed's default is 30), from 1 to
    /// [`MAX_PAGE_SIZE`](Self::MAX_PAGE_SIZE). A size outside that range is refused at
    /// [`send`](Self::send) (and by a listing's first poll), sending nothing.
    pub fn page_size(mut self, size: u64) -> Self {
        self.filters.page_size = Some(size);
        self
    }

    /// This call's retry policy (every page's, when streaming), instead of the client's.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Fetches one page (the one [`page`](Self::page) set, else the first). Awaiting the
    /// request does the same.
    pub async fn send(self) -> Result<Page, Error> {
        let listing = self.into_listing();
        listing.fetch(listing.start(), None).await
    }

    /// Every page: a [`Paginator`] whose item limit and prefetch can be set before
    /// streaming, like the AWS SDK's `into_paginator()`.
    ///
    /// ```no_run
    /// # async fn demo(client: truemed_ext::Client) -> Result<(), truemed_ext::Error> {
    /// use futures_util::TryStreamExt as _;
    /// let approved: Vec<_> = client
    ///     .qualification_sessions()
    ///     .list()
    ///     .status(truemed_ext::Status::Approved)
    ///     .page_size(100)
    ///     .paginate()
    ///     .limit(5_000)
    ///     .concurrency(8)
    ///     .items()
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn paginate(self) -> Paginator {
        Paginator::new(self.into_listing())
    }

    /// Every page, in order, with the default prefetch: `self.paginate().pages()`. See
    /// [`Paginator::pages`] for how a listing proceeds.
    pub fn pages(self) -> PageStream {
        self.paginate().pages()
    }

    /// Every session on every page, in order, with the default prefetch:
    /// `self.paginate().items()`.
    pub fn stream(self) -> ItemStream {
        self.paginate().items()
    }

    fn into_listing(self) -> Listing {
        Listing { client: self.client, filters: self.filters, retry: self.retry }
    }
}

impl IntoFuture for ListRequest {
    type Output = Result<Page, Error>;
    type IntoFuture = BoxFuture<Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// A pending [`QualificationSessions::update`].
///
/// Only the fields set are sent; the others keep their values at Truemed. The length
/// limits of the spec are checked as each field is set, and [`send`](Self::send) refuses
/// the request, sending nothing, if any was broken.
#[derive(Debug)]
#[must_use = "a request does nothing until sent"]
pub struct UpdateRequest {
    client: Client,
    id: String,
    key: Option<IdempotencyKey>,
    body: Result<types::builder::UpdateQualificationSessionRequest, Error>,
    retry: Option<RetryPolicy>,
}

/// What an update returns.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdateOutcome {
    /// The session that was updated.
    pub qualification_session_id: String,
    /// Its status (an update never changes it).
    pub status: Status,
    /// The key the update was sent with (given, or generated once for this call). Send
    /// the same update again with this key to have it applied at most once.
    pub idempotency_key: IdempotencyKey,
}

impl UpdateRequest {
    /// Sets a field through its generated type, which checks the spec's length limit
    /// (`limit` characters).
    fn set<T>(
        mut self,
        field: &'static str,
        limit: usize,
        value: String,
        apply: impl FnOnce(
            types::builder::UpdateQualificationSessionRequest,
            T,
        ) -> types::builder::UpdateQualificationSessionRequest,
    ) -> Self
    where
        T: FromStr,
    {
        self.body = self.body.and_then(|body| match T::from_str(&value) {
            Ok(typed) => Ok(apply(body, typed)),
            Err(_) => Err(InvalidRequestReason::FieldTooLong {
                field,
                length: value.chars().count(),
                limit,
            }
            .into()),
        });
        self
    }

    /// Your stable id for the shopper. Truemed sets it only while the session has none:
    /// otherwise the update fails with an [`Error::Api`] of kind
    /// [`ApiErrorKind::UserIdAlreadySet`](crate::ApiErrorKind::UserIdAlreadySet). At most
    /// 255 characters.
    pub fn user_id(self, user_id: impl Into<String>) -> Self {
        let user_id = user_id.into();
        self.set("user_id", USER_ID_LIMIT, user_id, |b, v| b.user_id(Some(v)))
    }

    /// Where the shopper goes after qualifying. At most 2048 characters.
    pub fn success_url(self, url: impl Into<String>) -> Self {
        self.set("success_url", URL_LIMIT, url.into(), |b, v| b.success_url(Some(v)))
    }

    /// Where the shopper goes after failing to qualify. At most 2048 characters.
    pub fn failure_url(self, url: impl Into<String>) -> Self {
        self.set("failure_url", URL_LIMIT, url.into(), |b, v| b.failure_url(Some(v)))
    }

    /// Metadata, serialized to the JSON string the API expects. At most 4096 characters
    /// once encoded. A value that cannot be serialized to JSON fails the request at
    /// [`send`](Self::send), like every other setter's bad input.
    pub fn metadata(mut self, value: &impl Serialize) -> Self {
        match serde_json::to_string(value) {
            Ok(json) => self.metadata_raw(json),
            Err(e) => {
                if self.body.is_ok() {
                    self.body = Err(InvalidRequestReason::MetadataNotSerializable {
                        reason: e.to_string(),
                    }
                    .into());
                }
                self
            }
        }
    }

    /// Metadata as a string you already encoded. At most 4096 characters.
    pub fn metadata_raw(self, metadata: impl Into<String>) -> Self {
        self.set("metadata", METADATA_LIMIT, metadata.into(), |b, v| b.metadata(Some(v)))
    }

    /// The idempotency key; by default one is generated once for this call.
    pub fn idempotency_key(mut self, key: IdempotencyKey) -> Self {
        self.key = Some(key);
        self
    }

    /// This call's retry policy, instead of the client's.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Sends the update. Every attempt sends the same body, with the same idempotency key,
    /// so retries never apply it twice.
    ///
    /// When it fails, the error carries the key ([`Error::idempotency_key`]) and says
    /// whether the update may have been applied ([`Error::may_have_been_applied`]): send
    /// the same update again with that key, and it is applied at most once.
    ///
    /// ```no_run
    /// # async fn demo(client: truemed_ext::Client) -> Result<(), truemed_ext::Error> {
    /// let sessions = client.qualification_sessions();
    /// let update = || sessions.update("qs_123").user_id("user_42");
    /// let outcome = match update().send().await {
    ///     Err(error) if error.may_have_been_applied() => {
    ///         let key = error.idempotency_key().cloned().expect("sent updates carry their key");
    ///         update().idempotency_key(key).send().await?
    ///     }
    ///     other => other?,
    /// };
    /// # let _ = outcome; Ok(()) }
    /// ```
    pub async fn send(self) -> Result<UpdateOutcome, Error> {
        let id: UpdateId = checked_id(&self.id)?;
        let key = self.key.unwrap_or_else(|| self.client.next_idempotency_key());
        let body: types::UpdateQualificationSessionRequest =
            self.body?.idempotency_key(key.to_wire()).try_into().map_err(
                |e: types::error::ConversionError| {
                    Error::from(InvalidRequestReason::Unbuildable { reason: e.to_string() })
                },
            )?;
        let response = self
            .client
            .execute(Operation::Update, self.retry.as_ref(), Some(&key), None, |raw| {
                let (id, body) = (id.clone(), body.clone());
                async move {
                    raw.update_qualification_session()
                        .qualification_session_id(id)
                        .body(body)
                        .send()
                        .await
                }
            })
            .await?;
        Ok(UpdateOutcome {
            qualification_session_id: response.qualification_session_id,
            status: response.status,
            idempotency_key: key,
        })
    }
}

impl IntoFuture for UpdateRequest {
    type Output = Result<UpdateOutcome, Error>;
    type IntoFuture = BoxFuture<Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limits named in refusals are the generated types': accepted at the limit,
    /// refused one character over.
    #[test]
    fn field_limits_are_the_specs() {
        fn check<T: FromStr>(field: &str, limit: usize) {
            assert!(T::from_str(&"é".repeat(limit)).is_ok(), "{field}");
            assert!(T::from_str(&"é".repeat(limit + 1)).is_err(), "{field}");
        }
        check::<types::UpdateQualificationSessionRequestUserId>("user_id", USER_ID_LIMIT);
        check::<types::UpdateQualificationSessionRequestSuccessUrl>("success_url", URL_LIMIT);
        check::<types::UpdateQualificationSessionRequestFailureUrl>("failure_url", URL_LIMIT);
        check::<types::UpdateQualificationSessionRequestMetadata>("metadata", METADATA_LIMIT);
    }

    #[test]
    fn ids_that_leave_their_path_segment_are_refused_with_their_reason() {
        for (id, reason) in [
            ("", InvalidRequestReason::EmptyId),
            (".", InvalidRequestReason::DotSegmentId),
            ("..", InvalidRequestReason::DotSegmentId),
            ("a\\b", InvalidRequestReason::BackslashInId),
        ] {
            let Err(Error::InvalidRequest(refused)) = checked_id::<GetId>(id) else {
                panic!("{id:?}")
            };
            assert_eq!(refused.reason(), &reason, "{id:?}");
        }
        assert!(checked_id::<GetId>("qs_1").is_ok());
    }
}
