//! Reconciliation: a stream of the completions no webhook announced, from
//! [`QualificationSessions::reconcile`](crate::QualificationSessions::reconcile).
//!
//! Truemed retries a webhook delivery for days, but an endpoint that was down,
//! misconfigured or rotated its secret still loses completions, and Truemed keeps no list
//! of events to replay. Reconciliation polls instead: it watches the sessions you are
//! waiting on and yields each one that reached `approved` or `rejected`, once, as a
//! [`Completion`] whose [`key`](Completion::key) is the one a webhook delivery of the same
//! completion has. Run it beside your webhook endpoint and send both paths to one handler
//! that deduplicates on the key: each completion is applied once, whichever path saw it
//! first.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # // The fake Truemed server (truemed-fake, a dev-dependency) stands in for Truemed.
//! # let fake = truemed_fake::FakeTruemed::start().await;
//! # fake.seed_all([truemed_fake::SessionSeed::new("qs_1"), truemed_fake::SessionSeed::new("qs_2")]);
//! # fake.approve("qs_1");
//! # fake.reject("qs_2");
//! # let client = fake.client();
//! # let waiting_on = vec!["qs_1".to_owned(), "qs_2".to_owned()];
//! use std::collections::HashSet;
//! use std::time::Duration;
//! use futures_util::StreamExt as _;
//! use truemed_ext::reconcile::ReconcileEvent;
//!
//! let mut applied = HashSet::new(); // in production: a unique index on the key
//! let mut events = client
//!     .qualification_sessions()
//!     .reconcile()
//!     .sessions(waiting_on) // ids from your own records; without: every pending session
//!     .interval(Duration::from_secs(60))
//!     .stream();
//! while let Some(event) = events.next().await {
//!     match event {
//!         ReconcileEvent::Completed(completion) => {
//!             if applied.insert(completion.key()) {
//!                 // ... mark the order paid, email the shopper ...
//!             }
//!         }
//!         // A failed poll does not end the stream: the next poll goes on.
//!         ReconcileEvent::PollFailed(failure) => eprintln!("{failure}"),
//!         ReconcileEvent::Gone { qualification_session_id, error } => {
//!             eprintln!("{qualification_session_id} is no longer watched: {error}")
//!         }
//!         _ => {}
//!     }
//! }
//! // With ids, the stream ends once every one of them is terminal (or gone).
//! assert_eq!(applied.len(), 2);
//! # }
//! ```
//!
//! # What is watched
//!
//! - **With ids** ([`Reconciliation::sessions`]): each poll reads every id still watched
//!   with [`get`](crate::QualificationSessions::get), up to
//!   [`concurrency`](Reconciliation::concurrency) at once. An id given twice is watched
//!   once. A session found `approved` or `rejected` is yielded, whatever its status at
//!   the start (you said you were waiting on it), and no longer watched; the stream ends
//!   when no id is left. An empty list of ids is an empty stream, never "every session":
//!   a query of your records that found nothing must not turn into a scan of the account.
//! - **Without ids**: each poll lists the sessions in `pending` or `processing` (every
//!   page, [`page_size`](Reconciliation::page_size) and
//!   [`prefetch`](Reconciliation::prefetch) as for any listing), and each one listed joins
//!   the watched set. A watched session that is no longer listed is read with `get` to
//!   learn why: `approved` or `rejected` is yielded; still `pending` or `processing` (a
//!   session can slip between two pages while the list shifts), or in a status this crate
//!   does not know, keeps it watched. A session is yielded only if some poll saw it
//!   waiting: one already terminal at the first poll, or created and completed between
//!   two polls, is not (it was never waited on; with ids from your records, nothing
//!   slips). The stream runs until dropped.
//!
//! Only a `get` decides that a session completed: a listing only says what is still
//! waiting. So nothing is yielded that is not terminal, nor anything that was not watched,
//! and each session at most once: it leaves the watched set when it is yielded. Without
//! ids, a session yielded (or gone) during the last two polls that a listing shows
//! waiting again (a stale read; Truemed's sessions never leave a terminal status) does not
//! rejoin the set. Memory is bounded by the sessions watched.
//!
//! # Failures
//!
//! Every request goes through the client's retries: the [`RetryPolicy`] (the client's, or
//! [`Reconciliation::retry_policy`]), the client's [`RetryBudget`](crate::RetryBudget),
//! `Retry-After`. What still fails is reported, and the stream goes on:
//!
//! - A poll whose requests failed yields one [`ReconcileEvent::PollFailed`] at its end,
//!   with the first error and how many requests failed. The sessions not read stay
//!   watched, and the next poll comes at the next interval. When the listing itself fails
//!   (without ids), the sessions it listed before failing join the set, and no session is
//!   read with `get` in that poll: a partial listing proves nothing absent.
//! - A watched session Truemed answers `404` for (deleted, or an id this key cannot see),
//!   or whose id the client refuses to send ([`Error::InvalidRequest`]: empty, `..`), is
//!   yielded as [`ReconcileEvent::Gone`] and no longer watched: asking again would fail
//!   again, and a stream over ids must end. It is never yielded as a completion.
//!
//! So the items are an enum, not `Result`s: with `try_next`, the first failed poll would
//! end the consumer's loop, while an outage is exactly when reconciliation must keep
//! going. An error that will not pass (a revoked key answers `401` on every poll) is
//! yours to act on: stop when you have seen enough of them.
//!
//! # Timing
//!
//! The first poll starts when the stream is first polled; each next one starts
//! [`interval`](Reconciliation::interval) after the previous one ended (tokio's timer), so
//! polls never overlap and a slow Truemed gets its interval of rest. Like every stream,
//! it does nothing while not polled, except for the `get`s already in flight, which run
//! in tasks of their own (so a consumer busy with an item does not make them time out).
//! Dropping it aborts them: nothing is sent after the drop.
//!
//! What a poll costs: with ids, one `get` per session still watched; without, one request
//! per page of waiting sessions, plus one `get` per watched session the listing no longer
//! shows. Each completion is found within about one interval (plus the poll's own time)
//! of happening.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{FusedStream, FuturesUnordered, Stream, StreamExt as _};
use truemed_api::types::QualificationSession;
use truemed_api::{QualificationSessionStatus as Status, Spawned};

use crate::api_error::ApiErrorKind;
use crate::client::Client;
use crate::completion::Completion;
use crate::error::Error;
use crate::pagination::{ItemStream, Paginator, DEFAULT_CONCURRENCY};
use crate::retry::RetryPolicy;

/// A reconciliation to configure, then [`stream`](Self::stream); from
/// [`QualificationSessions::reconcile`](crate::QualificationSessions::reconcile). See the
/// [module documentation](crate::reconcile) for how it proceeds.
///
/// ```no_run
/// # async fn demo(client: truemed_ext::Client) {
/// use std::time::Duration;
/// use futures_util::StreamExt as _;
///
/// // Without ids: every session the key lists as pending or processing.
/// let mut events = client
///     .qualification_sessions()
///     .reconcile()
///     .interval(Duration::from_secs(300))
///     .page_size(100)
///     .stream();
/// while let Some(event) = events.next().await {
///     if let Some(completion) = event.into_completion() {
///         println!("{}", completion.key());
///     }
/// }
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a reconciliation does nothing until streamed"]
pub struct Reconciliation {
    client: Client,
    ids: Option<Vec<String>>,
    interval: Duration,
    concurrency: usize,
    page_size: Option<u64>,
    prefetch: usize,
    retry: Option<RetryPolicy>,
}

impl Reconciliation {
    /// The wait between polls unless [`interval`](Self::interval) says otherwise: 60 s.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

    /// The `get` requests sent at once unless [`concurrency`](Self::concurrency) says
    /// otherwise: 4.
    pub const DEFAULT_CONCURRENCY: usize = DEFAULT_CONCURRENCY;

    /// The most `get` requests sent at once: a larger [`concurrency`](Self::concurrency)
    /// counts as this (the same bound as a listing's,
    /// [`Paginator::MAX_CONCURRENCY`]).
    pub const MAX_CONCURRENCY: usize = Paginator::MAX_CONCURRENCY;

    pub(crate) fn new(client: Client) -> Self {
        Self {
            client,
            ids: None,
            interval: Self::DEFAULT_INTERVAL,
            concurrency: Self::DEFAULT_CONCURRENCY,
            page_size: None,
            prefetch: 1,
            retry: None,
        }
    }

    /// Watch these sessions (ids from your own records) instead of every pending one; the
    /// stream then ends when each is terminal or gone. Called again, adds to the ids. An
    /// id given more than once is watched once; no ids at all make an empty stream.
    pub fn sessions<I>(mut self, ids: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.ids.get_or_insert_with(Vec::new).extend(ids.into_iter().map(Into::into));
        self
    }

    /// The wait from the end of one poll to the start of the next (default
    /// [`DEFAULT_INTERVAL`](Self::DEFAULT_INTERVAL), 60 s). The first poll does not wait.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// How many sessions are read with `get` at once (default 4; 0 counts as 1, and
    /// anything above [`MAX_CONCURRENCY`](Self::MAX_CONCURRENCY), 64, as 64).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests.clamp(1, Self::MAX_CONCURRENCY);
        self
    }

    /// Without ids: sessions per page of each poll's listing (default: Truemed's, 30),
    /// from 1 to [`ListRequest::MAX_PAGE_SIZE`](crate::ListRequest::MAX_PAGE_SIZE); 0
    /// counts as 1, and anything larger as the largest.
    pub fn page_size(mut self, size: u64) -> Self {
        self.page_size = Some(size.clamp(1, crate::ListRequest::MAX_PAGE_SIZE));
        self
    }

    /// Without ids: how many pages of each poll's listing are requested at once, as
    /// [`Paginator::concurrency`] takes it (0 counts as 1, at most 64). The default, 1,
    /// asks one page after another and never past the last one: a listing that fits one
    /// page costs one request per poll, where a prefetch of `n` costs up to `n` (the pages
    /// are requested before the first tells how many there are). Raise it when the
    /// sessions waiting span many pages.
    pub fn prefetch(mut self, pages: usize) -> Self {
        self.prefetch = pages.clamp(1, Paginator::MAX_CONCURRENCY);
        self
    }

    /// The retry policy of every request of the reconciliation, instead of the client's.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The stream of [`ReconcileEvent`]s. Its first poll starts when it is first polled.
    pub fn stream(self) -> ReconcileStream {
        let (listing, watched) = match self.ids {
            Some(ids) => (None, ids.into_iter().collect()),
            None => (
                Some(ListingMode {
                    page_size: self.page_size,
                    prefetch: self.prefetch,
                    retired: [HashSet::new(), HashSet::new()],
                }),
                HashSet::new(),
            ),
        };
        ReconcileStream {
            client: self.client,
            retry: self.retry,
            interval: self.interval,
            concurrency: self.concurrency,
            listing,
            watched,
            phase: Phase::Start,
            polls: 0,
            failure: None,
        }
    }
}

/// What a [`ReconcileStream`] yields.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReconcileEvent {
    /// A watched session reached `approved` or `rejected`. Apply it deduplicating on
    /// [`Completion::key`]: a webhook delivery of the same completion has the same key.
    Completed(Completion),
    /// A poll in which requests failed after the client's retries. The stream goes on:
    /// the sessions not read stay watched, for the next poll.
    PollFailed(PollFailure),
    /// A watched session that cannot be read: Truemed answered `404` (`error.api_kind()
    /// == Some(ApiErrorKind::NotFound)`), or the client refuses its id
    /// ([`Error::InvalidRequest`]). It is no longer watched, and never yielded as a
    /// completion.
    Gone {
        /// The session's id, as watched.
        qualification_session_id: String,
        /// Why it cannot be read.
        error: Error,
    },
}

impl ReconcileEvent {
    /// The completion, if this is one.
    pub fn completion(&self) -> Option<&Completion> {
        match self {
            Self::Completed(completion) => Some(completion),
            _ => None,
        }
    }

    /// The completion, if this is one: `events.filter_map(|e| ready(e.into_completion()))`
    /// keeps the completions only.
    pub fn into_completion(self) -> Option<Completion> {
        match self {
            Self::Completed(completion) => Some(completion),
            _ => None,
        }
    }
}

/// A poll in which requests failed after the client's retries: the
/// [`ReconcileEvent::PollFailed`] item, yielded at the end of the poll.
#[derive(Debug)]
#[non_exhaustive]
pub struct PollFailure {
    /// Which poll, from 1.
    pub poll: u64,
    /// How many of its requests failed (at least 1). When the listing failed, it counts
    /// as one, and no `get` was sent in that poll.
    pub failed_requests: usize,
    /// The first error of the poll.
    pub error: Error,
}

impl fmt::Display for PollFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.failed_requests == 1 { "" } else { "s" };
        write!(
            f,
            "reconciliation poll {} failed ({} request{plural}; the sessions not read stay watched for the next poll): {}",
            self.poll, self.failed_requests, self.error
        )
    }
}

impl std::error::Error for PollFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

type GetFuture =
    Pin<Box<dyn Future<Output = (String, Result<QualificationSession, Error>)> + Send>>;

/// The stream of a [`Reconciliation`]: a [`Stream`] of [`ReconcileEvent`], whose
/// [`PollFailed`](ReconcileEvent::PollFailed) items do not end it. With ids, it ends when
/// each is terminal or gone; without, it runs until dropped. Dropping it aborts the
/// requests in flight.
#[must_use = "streams do nothing unless polled"]
pub struct ReconcileStream {
    client: Client,
    retry: Option<RetryPolicy>,
    interval: Duration,
    concurrency: usize,
    /// `None` with ids.
    listing: Option<ListingMode>,
    watched: HashSet<String>,
    phase: Phase,
    polls: u64,
    /// The current poll's first error and how many requests failed.
    failure: Option<(Error, usize)>,
}

/// Without ids: the listing's settings, and the sessions retired (yielded or gone) during
/// this poll and the one before, which a stale listing must not bring back.
struct ListingMode {
    page_size: Option<u64>,
    prefetch: usize,
    retired: [HashSet<String>; 2],
}

enum Phase {
    /// Before the first poll.
    Start,
    Sleeping(Pin<Box<tokio::time::Sleep>>),
    /// Without ids: the poll's listing, and the waiting sessions it listed so far.
    Listing {
        items: ItemStream,
        listed: HashSet<String>,
    },
    /// The poll's `get`s: those still to send, and those in flight.
    Reading {
        queue: Vec<String>,
        in_flight: FuturesUnordered<GetFuture>,
    },
    Done,
}

impl ReconcileStream {
    /// How many sessions are watched now.
    pub fn watched(&self) -> usize {
        self.watched.len()
    }

    /// How many polls have started.
    pub fn polls(&self) -> u64 {
        self.polls
    }

    /// Starts a poll: the listing, or (with ids) a `get` of every watched session.
    fn start_poll(&mut self) {
        self.polls += 1;
        self.failure = None;
        self.phase = match &mut self.listing {
            Some(mode) => {
                let [now, before] = &mut mode.retired;
                std::mem::swap(now, before);
                now.clear();
                let mut list = self
                    .client
                    .qualification_sessions()
                    .list()
                    .statuses([Status::Pending, Status::Processing]);
                if let Some(size) = mode.page_size {
                    list = list.page_size(size);
                }
                if let Some(policy) = &self.retry {
                    list = list.retry_policy(policy.clone());
                }
                Phase::Listing {
                    items: list.paginate().concurrency(mode.prefetch).items(),
                    listed: HashSet::new(),
                }
            }
            None => Phase::Reading {
                queue: self.watched.iter().cloned().collect(),
                in_flight: FuturesUnordered::new(),
            },
        };
    }

    /// The listing is over: the sessions it listed join the watched set, and the watched
    /// ones it did not list are read (only after a listing that completed).
    fn listing_done(&mut self, listed: HashSet<String>, complete: bool) {
        let mut queue = Vec::new();
        if complete {
            queue.extend(self.watched.iter().filter(|id| !listed.contains(*id)).cloned());
        }
        if let Some(mode) = &self.listing {
            let [now, before] = &mode.retired;
            self.watched
                .extend(listed.into_iter().filter(|id| !now.contains(id) && !before.contains(id)));
        }
        self.phase = Phase::Reading { queue, in_flight: FuturesUnordered::new() };
    }

    /// The poll is over: its failure, if any, is the item to yield; then the wait before
    /// the next poll, or (with ids, none left) the end.
    fn end_poll(&mut self) -> Option<ReconcileEvent> {
        let ids_done = self.listing.is_none() && self.watched.is_empty();
        self.phase = if ids_done {
            Phase::Done
        } else {
            Phase::Sleeping(Box::pin(tokio::time::sleep(self.interval)))
        };
        let failure = self.failure.take();
        tracing::debug!(
            poll = self.polls,
            watched = self.watched.len(),
            failed_requests = failure.as_ref().map_or(0, |(_, n)| *n),
            "reconciliation poll done"
        );
        failure.map(|(error, failed_requests)| {
            ReconcileEvent::PollFailed(PollFailure { poll: self.polls, failed_requests, error })
        })
    }

    fn record_failure(&mut self, error: Error) {
        match &mut self.failure {
            Some((_, count)) => *count += 1,
            None => self.failure = Some((error, 1)),
        }
    }

    fn retire(&mut self, id: &str) {
        self.watched.remove(id);
        if let Some(mode) = &mut self.listing {
            mode.retired[0].insert(id.to_owned());
        }
    }

    /// What a `get` of watched session `id` tells, as an item if there is one to yield.
    fn read(
        &mut self,
        id: String,
        result: Result<QualificationSession, Error>,
    ) -> Option<ReconcileEvent> {
        match result {
            Ok(session) if session.qualification_session_id != id => {
                // Never yield a session that was not watched; keep watching this one.
                tracing::warn!("reconciliation: a get answered another session's id");
                None
            }
            Ok(session) => {
                let completion = Completion::from_session(session)?;
                self.retire(&id);
                Some(ReconcileEvent::Completed(completion))
            }
            Err(error)
                if matches!(error, Error::InvalidRequest(_))
                    || error.api_kind() == Some(ApiErrorKind::NotFound) =>
            {
                self.retire(&id);
                Some(ReconcileEvent::Gone { qualification_session_id: id, error })
            }
            Err(error) => {
                self.record_failure(error);
                None
            }
        }
    }
}

/// A `get` of `id` with the reconciliation's retry policy, in a task of its own: it goes on
/// while the consumer handles an item, and is aborted when dropped.
fn get_in_task(client: &Client, retry: Option<&RetryPolicy>, id: String) -> GetFuture {
    let mut get = client.qualification_sessions().get(id.clone());
    if let Some(policy) = retry {
        get = get.retry_policy(policy.clone());
    }
    let task = Spawned::spawn(get.send());
    Box::pin(async move {
        let result = match task.await {
            Ok(result) => result,
            Err(shutdown) => Err(Error::runtime_shut_down(shutdown)),
        };
        (id, result)
    })
}

impl Stream for ReconcileStream {
    type Item = ReconcileEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ReconcileEvent>> {
        let this = self.get_mut();
        loop {
            match &mut this.phase {
                Phase::Done => return Poll::Ready(None),
                Phase::Start => this.start_poll(),
                Phase::Sleeping(sleep) => {
                    std::task::ready!(sleep.as_mut().poll(cx));
                    this.start_poll();
                }
                Phase::Listing { items, listed } => {
                    match std::task::ready!(items.poll_next_unpin(cx)) {
                        Some(Ok(session)) => {
                            // Only what is still waiting; a terminal session listed by a
                            // misbehaving filter is read with `get` like any other.
                            if !session.status.is_terminal() {
                                listed.insert(session.qualification_session_id);
                            }
                        }
                        Some(Err(error)) => {
                            let listed = std::mem::take(listed);
                            this.record_failure(error);
                            this.listing_done(listed, false);
                        }
                        None => {
                            let listed = std::mem::take(listed);
                            this.listing_done(listed, true);
                        }
                    }
                }
                Phase::Reading { queue, in_flight } => {
                    while in_flight.len() < this.concurrency {
                        let Some(id) = queue.pop() else { break };
                        in_flight.push(get_in_task(&this.client, this.retry.as_ref(), id));
                    }
                    match std::task::ready!(in_flight.poll_next_unpin(cx)) {
                        Some((id, result)) => {
                            if let Some(event) = this.read(id, result) {
                                return Poll::Ready(Some(event));
                            }
                        }
                        None => {
                            if let Some(event) = this.end_poll() {
                                return Poll::Ready(Some(event));
                            }
                        }
                    }
                }
            }
        }
    }
}

impl FusedStream for ReconcileStream {
    fn is_terminated(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }
}

impl fmt::Debug for ReconcileStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconcileStream")
            .field("mode", &if self.listing.is_some() { "listing" } else { "ids" })
            .field("watched", &self.watched.len())
            .field("polls", &self.polls)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}
