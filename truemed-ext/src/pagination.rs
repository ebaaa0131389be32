//! Whole listings: [`Paginator`], and the streams it makes, [`PageStream`] and
//! [`ItemStream`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::{self, FuturesOrdered, Stream, StreamExt as _, TryStreamExt as _};
use futures_util::task::AtomicWaker;
use truemed_api::types::QualificationSession;
use truemed_api::Spawned;

use crate::api_error::ApiErrorKind;
use crate::client::OnBodyRead;
use crate::error::Error;
use crate::page::{Listing, Page, MAX_PAGE};
use crate::refusal::PaginationErrorKind;

/// Page requests sent at once by default.
pub(crate) const DEFAULT_CONCURRENCY: usize = 4;
/// Truemed's page size when none is requested.
pub(crate) const DEFAULT_PAGE_SIZE: u64 = 30;
/// How many times a listing follows a `last_page` that grew while paging.
pub(crate) const MAX_PLAN_EXTENSIONS: u32 = 5;

/// Every page of a listing, from [`ListRequest::paginate`](crate::ListRequest::paginate):
/// set an item limit and the prefetch, then stream [`pages`](Self::pages) or
/// [`items`](Self::items).
#[derive(Clone, Debug)]
#[must_use = "a paginator does nothing until streamed"]
pub struct Paginator {
    listing: Listing,
    limit: Option<usize>,
    concurrency: usize,
}

impl Paginator {
    /// The most page requests a listing sends at once: a larger
    /// [`concurrency`](Self::concurrency) counts as this. Over HTTP/1 each request in
    /// flight takes a connection of its own, and up to twice this many pages are held in
    /// memory.
    pub const MAX_CONCURRENCY: usize = 64;

    pub(crate) fn new(listing: Listing) -> Self {
        Self {
            listing,
            limit: None,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// At most this many sessions in all (pages fetched stop there too).
    pub fn limit(mut self, items: usize) -> Self {
        self.limit = Some(items);
        self
    }

    /// How many page requests are sent at once (default 4; 1 is one after another; 0
    /// counts as 1, and anything above [`MAX_CONCURRENCY`](Self::MAX_CONCURRENCY), 64,
    /// as 64). A request's turn ends when its body has been read, so the next goes out
    /// while that page decodes; at most twice this many pages are held ahead of the one
    /// being consumed.
    ///
    /// Responses are read as they arrive, whether or not the stream is being polled. Above
    /// 1, each page is then decoded in a task of its own, so pages decode in parallel on
    /// every worker thread; with 1, on the task that polls the stream (there is nothing to
    /// decode in parallel, and it saves two hand-offs between threads per page).
    pub fn concurrency(mut self, pages: usize) -> Self {
        self.concurrency = pages.clamp(1, Self::MAX_CONCURRENCY);
        self
    }

    /// Every session on every page, in order.
    pub fn items(self) -> ItemStream {
        let items = self
            .pages()
            .map_ok(|page| stream::iter(page.items.into_iter().map(Ok)))
            .try_flatten();
        ItemStream(Box::pin(items))
    }

    /// Every page, in order. With [`limit`](Self::limit), the last page
    /// yielded is cut to the limit.
    ///
    /// How a listing proceeds:
    /// - Up to [`concurrency`](Self::concurrency) requests are sent at once from the start,
    ///   without waiting for the first page to tell the page count, and pages are yielded in
    ///   page order. A request's turn ends once its body is read, so the next request goes
    ///   out while the page decodes; at most twice `concurrency` pages are held ahead of
    ///   the one being consumed.
    ///   Past the first `concurrency` pages, nothing is requested until the first page has
    ///   told its `pagination`; once it gives a `last_page`, nothing past it is requested,
    ///   and pages already requested past it are dropped unread: a listing shorter than the
    ///   prefetch costs up to `concurrency - 1` extra requests (with `concurrency(1)`, none:
    ///   one request at a time, and none past a page that could be the last).
    /// - If `pagination` is null, missing or has no `last_page`, pages are fetched one by one
    ///   until a page comes back empty, or a page past the first answers 404. When the
    ///   `pagination` object gives the server's `page_size`, a page shorter than that ends
    ///   the listing without the extra request. Without it, a short page is not trusted to
    ///   be the last (a server may cap the page size it was asked for, e.g. 100 of 500), so
    ///   a listing costs one request more than its pages.
    /// - An empty page ends the listing early (the list shrank while paging).
    /// - Sessions created while paging sort last (the list is in `created_at` order): if the
    ///   planned last page reports a larger `last_page`, the listing goes on to it, up to
    ///   5 times; a `last_page` that keeps growing past that ends the
    ///   stream with [`Error::Pagination`]. Sessions deleted while paging shift later ones
    ///   back a page, and such a session may then be skipped: list again for an exact
    ///   snapshot.
    /// - A page that repeats the page before (as many sessions, starting and ending with the
    ///   same ids: a server ignoring `page`), or whose `current_page` is not the page asked
    ///   for, ends the stream with [`Error::Pagination`] instead of looping.
    /// - Each page is retried per the call's [`RetryPolicy`](crate::RetryPolicy); a page that
    ///   still fails ends the stream with its error, after everything before it was yielded.
    pub fn pages(self) -> PageStream {
        let Paginator {
            listing,
            limit,
            concurrency,
        } = self;
        if let Err(error) = listing.validate() {
            return PageStream(Box::pin(stream::once(async { Err(error) })));
        }
        let walk = Walk::new(listing, limit, concurrency);
        let pages = stream::try_unfold(walk, |mut walk| async move {
            Ok(walk.next_page().await?.map(|page| (page, walk)))
        });
        PageStream(Box::pin(pages))
    }
}

type PageFuture = Pin<Box<dyn Future<Output = Result<Page, Error>> + Send>>;

/// Where a listing stands: the pages in flight, what the server said of the page count
/// and size, and how many items are still wanted.
struct Walk {
    listing: Arc<Listing>,
    concurrency: usize,
    /// Items still wanted (the limit).
    remaining: usize,
    start: u64,
    /// Until the first page answers, the requested page size; then the server's own,
    /// which wins (it may cap the one requested).
    page_size: u64,
    reported_size: Option<u64>,
    /// The last page to fetch, once the first page's `pagination` says.
    plan_end: Option<u64>,
    reported_last: u64,
    extensions: u32,
    guard: RepeatGuard,
    /// Pages requested and not yet yielded, in page order.
    in_flight: FuturesOrdered<PageFuture>,
    /// How many of them are still sending or reading their body.
    wire: Arc<Wire>,
    /// The next page to request, and the next to yield.
    next: u64,
    expected: u64,
    finished: bool,
    /// An error to yield after the page that revealed it.
    pending: Option<Error>,
}

impl Walk {
    fn new(listing: Listing, limit: Option<usize>, concurrency: usize) -> Self {
        let start = listing.start();
        let page_size = listing
            .filters
            .page_size
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .max(1);
        let remaining = limit.unwrap_or(usize::MAX);
        Self {
            listing: Arc::new(listing),
            concurrency,
            remaining,
            start,
            page_size,
            reported_size: None,
            plan_end: None,
            reported_last: 0,
            extensions: 0,
            guard: RepeatGuard::default(),
            in_flight: FuturesOrdered::new(),
            wire: Arc::default(),
            next: start,
            expected: start,
            finished: remaining == 0,
            pending: None,
        }
    }

    /// The next page to yield, `None` at the end of the listing.
    async fn next_page(&mut self) -> Result<Option<Page>, Error> {
        if let Some(error) = self.pending.take() {
            return Err(error);
        }
        if self.finished {
            return Ok(None);
        }
        let Some(result) = std::future::poll_fn(|cx| self.poll_next_in_order(cx)).await else {
            return Ok(self.finish(None));
        };
        let number = self.expected;
        // At most MAX_PAGE + 1: nothing is requested past MAX_PAGE.
        self.expected = number.saturating_add(1);
        let page = match result {
            // Without pagination, a 404 past the first page is the end of the list.
            Err(Error::Api(e))
                if e.kind() == ApiErrorKind::NotFound
                    && number > self.start
                    && self.plan_end.is_none() =>
            {
                return Ok(self.finish(None))
            }
            other => other?,
        };
        self.guard.check(&page, number)?;
        if number == self.start {
            self.reported_size = page
                .pagination
                .as_ref()
                .and_then(|p| p.page_size)
                .and_then(|n| u64::try_from(n).ok())
                .filter(|n| *n > 0);
            self.page_size = self.reported_size.unwrap_or(self.page_size);
            self.plan_end = page.last_page();
            self.reported_last = self.plan_end.unwrap_or(0);
        } else {
            self.reported_last = self.reported_last.max(page.last_page().unwrap_or(0));
        }
        let len = page.items.len() as u64;
        if len == 0 {
            // An empty first page is the (empty) listing; a later one, its end.
            let first = (number == self.start).then_some(page);
            return Ok(self.finish(first));
        }
        let (page, done) = cut(page, &mut self.remaining);
        // No page can follow the last page the API can have, whatever the server says.
        if done || number >= MAX_PAGE {
            return Ok(self.finish(Some(page)));
        }
        match self.plan_end {
            Some(end) if number >= end => {
                if self.reported_last <= end {
                    return Ok(self.finish(Some(page)));
                }
                self.extensions += 1;
                if self.extensions > MAX_PLAN_EXTENSIONS {
                    self.pending = Some(
                        PaginationErrorKind::LastPageKeepsGrowing {
                            last_page: self.reported_last,
                            planned: end,
                            extensions: MAX_PLAN_EXTENSIONS,
                        }
                        .into(),
                    );
                    return Ok(self.finish(Some(page)));
                }
                self.plan_end = Some(self.reported_last);
            }
            Some(_) => {}
            // No usable pagination: a short page ends the listing only when the server said
            // its page size; otherwise go on to an empty page (or a 404).
            None if self.reported_size.is_some_and(|size| len < size) => {
                return Ok(self.finish(Some(page)))
            }
            None => {}
        }
        Ok(Some(page))
    }

    /// The next page in order, requesting more pages while waiting for it: whenever a
    /// request's turn ends (its body is read), another goes out.
    fn poll_next_in_order(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Page, Error>>> {
        loop {
            while self.can_request() {
                let slot = Slot::take(&self.wire);
                let spawn = self.concurrency > 1;
                let mut page = fetch_page(self.listing.clone(), self.next, slot, spawn);
                // Polled once now, the request goes out before the page whose body was just
                // read decodes (the pages in flight are polled in the order they woke).
                if let Poll::Ready(result) = page.as_mut().poll(cx) {
                    page = Box::pin(std::future::ready(result));
                }
                self.in_flight.push_back(page);
                // At most MAX_PAGE + 1 (see `last_to_request`).
                self.next = self.next.saturating_add(1);
            }
            if let Poll::Ready(page) = self.in_flight.poll_next_unpin(cx) {
                return Poll::Ready(page);
            }
            self.wire.waker.register(cx.waker());
            // A turn that ended before the waker was registered would wake nobody.
            if !self.can_request() {
                return Poll::Pending;
            }
        }
    }

    /// Whether another page may be requested now: a turn is free, memory allows, and the
    /// page is within the listing as far as it is known.
    fn can_request(&self) -> bool {
        self.wire.sending.load(Ordering::Acquire) < self.concurrency
            && self.in_flight.len() < self.concurrency.saturating_mul(2)
            && self.next <= self.last_to_request()
    }

    /// The last page that may be requested now: none past what the limit needs, nor past
    /// the planned end; without a plan (before the first page, or when the server gives
    /// none), none past the next `concurrency` pages to yield; never one past
    /// [`MAX_PAGE`].
    fn last_to_request(&self) -> u64 {
        let needed = (self.remaining as u64).div_ceil(self.page_size).max(1);
        let by_limit = self.expected.saturating_add(needed - 1);
        let by_plan = match self.plan_end {
            Some(end) => end,
            None => self.expected.saturating_add(self.concurrency as u64 - 1),
        };
        by_limit.min(by_plan).min(MAX_PAGE)
    }

    /// Ends the listing after `last`: pages still in flight are dropped (their tasks
    /// aborted).
    fn finish(&mut self, last: Option<Page>) -> Option<Page> {
        self.finished = true;
        self.in_flight = FuturesOrdered::new();
        last
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Error>> + Send>>;

/// The pages of a listing, in order: a [`Stream`] of `Result<Page, Error>`, from
/// [`Paginator::pages`] or [`ListRequest::pages`](crate::ListRequest::pages).
#[must_use = "streams do nothing unless polled"]
pub struct PageStream(BoxStream<Page>);

/// The sessions of a listing, in order: a [`Stream`] of
/// `Result<QualificationSession, Error>`, from [`Paginator::items`] or
/// [`ListRequest::stream`](crate::ListRequest::stream).
#[must_use = "streams do nothing unless polled"]
pub struct ItemStream(BoxStream<QualificationSession>);

impl Stream for PageStream {
    type Item = Result<Page, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.as_mut().poll_next(cx)
    }
}

impl Stream for ItemStream {
    type Item = Result<QualificationSession, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for PageStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageStream").finish_non_exhaustive()
    }
}

impl fmt::Debug for ItemStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItemStream").finish_non_exhaustive()
    }
}

/// Fetches a page; with `spawn`, in a task of its own, so pages fetched at once also
/// decode at once on every core (the task is aborted when the future is dropped: the
/// listing ended or was dropped; a runtime shutting down under it is an
/// [`Error::Connection`]). Either way the response itself is read in a task of its own (the
/// generated client's hooks do that). `slot` is given back once the page's body is read
/// (or the fetch ends).
fn fetch_page(listing: Arc<Listing>, number: u64, slot: Slot, spawn: bool) -> PageFuture {
    // The callback owns the slot, and the fetch owns the callback: when the fetch ends (or
    // is aborted) without a body read, dropping it gives the turn back.
    let on_body_read: OnBodyRead = Arc::new(move |status: reqwest::StatusCode| {
        // An error response keeps its turn through the retries.
        if status.is_success() {
            slot.give_back();
        }
    });
    let fetch = async move { listing.fetch(number, Some(on_body_read)).await };
    if !spawn {
        return Box::pin(fetch);
    }
    let page = Spawned::spawn(fetch);
    Box::pin(async move {
        match page.await {
            Ok(page) => page,
            Err(shutdown) => Err(Error::from_transport(shutdown.into())),
        }
    })
}

/// The requests of a listing that are sending or reading their body, and the listing's
/// waker, woken when one of them is done.
#[derive(Default)]
struct Wire {
    sending: AtomicUsize,
    waker: AtomicWaker,
}

/// One request's turn on the [`Wire`], given back once: when its body is read, or when
/// dropped.
struct Slot {
    wire: Arc<Wire>,
    held: AtomicBool,
}

impl Slot {
    fn take(wire: &Arc<Wire>) -> Self {
        wire.sending.fetch_add(1, Ordering::AcqRel);
        Self {
            wire: wire.clone(),
            held: AtomicBool::new(true),
        }
    }

    fn give_back(&self) {
        if self.held.swap(false, Ordering::AcqRel) {
            self.wire.sending.fetch_sub(1, Ordering::AcqRel);
            self.wire.waker.wake();
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.give_back();
    }
}

/// Cuts `page` to the items still wanted; `true` when the limit is reached.
fn cut(mut page: Page, remaining: &mut usize) -> (Page, bool) {
    page.items.truncate(*remaining);
    *remaining -= page.items.len();
    (page, *remaining == 0)
}

/// Detects a server that serves the same page again, or another page than asked for.
#[derive(Default)]
struct RepeatGuard {
    /// The previous page's length and a hash of its first and last session ids. Ids are
    /// unique and the list ordered, so a page with as many sessions that starts and ends
    /// with the same ids is the same page. Hashing every id instead cost a pass over each
    /// page on the consumer's task, about 2 % of a listing's CPU at zero latency.
    previous: Option<(usize, u64)>,
}

impl RepeatGuard {
    fn check(&mut self, page: &Page, asked: u64) -> Result<(), Error> {
        if let Some(current) = page.pagination.as_ref().and_then(|p| p.current_page) {
            if u64::try_from(current).ok() != Some(asked) {
                return Err(PaginationErrorKind::PageMismatch {
                    requested: asked,
                    answered: current,
                }
                .into());
            }
        }
        let (Some(first), Some(last)) = (page.items.first(), page.items.last()) else {
            return Ok(());
        };
        let mut hasher = std::hash::DefaultHasher::new();
        for session in [first, last] {
            std::hash::Hash::hash(session.qualification_session_id.as_str(), &mut hasher);
        }
        let fingerprint = (page.items.len(), std::hash::Hasher::finish(&hasher));
        if self.previous == Some(fingerprint) {
            return Err(PaginationErrorKind::RepeatedPage { page: asked }.into());
        }
        self.previous = Some(fingerprint);
        Ok(())
    }
}
