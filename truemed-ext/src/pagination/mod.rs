//! Whole listings: [`Paginator`], and the streams it makes, [`PageStream`] and
//! [`ItemStream`].
//!
//! Inside, two parts that know nothing of each other's work: the [`plan`] (synchronous, no
//! I/O) takes each page as it arrives and decides what may be requested and where the
//! listing ends, with every end-of-listing rule in it; the [`scheduler`] owns the requests
//! in flight (the pages held, the order pages are yielded in, the tasks pages decode in)
//! and asks the plan what to request.

mod plan;
mod scheduler;

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::Stream;
use truemed_api::types::QualificationSession;

use crate::api_error::ApiErrorKind;
use crate::error::Error;
use crate::page::{Listing, Page};
use plan::Plan;
use scheduler::Scheduler;

/// Page requests sent at once by default.
pub(crate) const DEFAULT_CONCURRENCY: usize = 4;

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
    /// flight takes a connection of its own, and up to this many pages are held in memory.
    pub const MAX_CONCURRENCY: usize = 64;

    pub(crate) fn new(listing: Listing) -> Self {
        Self { listing, limit: None, concurrency: DEFAULT_CONCURRENCY }
    }

    /// At most this many sessions in all (pages fetched stop there too).
    pub fn limit(mut self, items: usize) -> Self {
        self.limit = Some(items);
        self
    }

    /// How many page requests are sent at once (default 4; 1 is one after another; 0
    /// counts as 1, and anything above [`MAX_CONCURRENCY`](Self::MAX_CONCURRENCY), 64,
    /// as 64). At most this many pages are held, requested and not yet yielded, as
    /// `futures`' `buffered` holds them: the next page is requested as soon as one is
    /// yielded. With 1, two: the next request goes out once a page's body is read, while
    /// that page decodes and is consumed.
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
        ItemStream { pages: self.pages(), items: Vec::new().into_iter() }
    }

    /// Every page, in order. With [`limit`](Self::limit), the last page
    /// yielded is cut to the limit.
    ///
    /// How a listing proceeds:
    /// - Up to [`concurrency`](Self::concurrency) requests are sent at once from the start,
    ///   without waiting for the first page to tell the page count, and pages are yielded in
    ///   page order. At most `concurrency` pages are held, requested and not yet yielded:
    ///   each page yielded lets the next request out, before the page is consumed. With
    ///   `concurrency(1)`, two: the next request goes out once a page's body is read, while
    ///   the page decodes.
    ///   Past the first `concurrency` pages, nothing is requested until the first page has
    ///   told its `pagination`; once it gives a `last_page`, nothing past it is requested,
    ///   and pages already requested past it are dropped unread: a listing shorter than the
    ///   prefetch costs up to `concurrency - 1` extra requests (with `concurrency(1)`, none:
    ///   one request at a time, and none past a page that could be the last). With a
    ///   [`limit`](Self::limit), nothing is requested past the pages it needs.
    /// - If `pagination` is null, missing or has no `last_page`, pages are fetched one by one
    ///   until a page comes back empty, or a page past the first answers 404. When the
    ///   `pagination` object gives the server's `page_size`, a page shorter than that ends
    ///   the listing without the extra request. Without it, a short page is not trusted to
    ///   be the last (a server may cap the page size it was asked for, e.g. 100 of 500), so
    ///   a listing costs one request more than its pages. Only the first page's
    ///   `pagination` plans the listing; a `pagination` number that cannot be read counts
    ///   as absent.
    /// - An empty first page is yielded (the listing is empty); an empty page after it ends
    ///   the listing early, unyielded (the list shrank while paging).
    /// - Sessions created while paging sort last (the list is in `created_at` order): if the
    ///   planned last page reports a larger `last_page`, the listing goes on to it, up to
    ///   5 times; a `last_page` that keeps growing past that ends the
    ///   stream with [`Error::Pagination`] after that page. Sessions deleted while paging
    ///   shift later ones back a page, and such a session may then be skipped: list again
    ///   for an exact snapshot.
    /// - A page that repeats the page before (as many sessions, starting and ending with the
    ///   same ids: a server ignoring `page`), or whose `current_page` is not the page asked
    ///   for, ends the stream with [`Error::Pagination`] in its place instead of looping.
    /// - The listing ends at page [`ListRequest::MAX_PAGE`](crate::ListRequest::MAX_PAGE),
    ///   the last page the API can have, whatever the server reports.
    /// - Each page is retried per the call's [`RetryPolicy`](crate::RetryPolicy); a page that
    ///   still fails ends the stream with its error, after everything before it was yielded.
    pub fn pages(self) -> PageStream {
        let Paginator { listing, limit, concurrency } = self;
        if let Err(error) = listing.validate() {
            return PageStream(Box::new(Inner::Refused(Some(error))));
        }
        let plan = Plan::new(listing.start(), listing.filters.page_size, limit, concurrency);
        PageStream(Box::new(Inner::Listing(Scheduler::new(listing, plan, concurrency))))
    }
}

/// Whether a page's error is a 404 Not Found.
fn is_not_found(error: &Error) -> bool {
    error.api_kind() == Some(ApiErrorKind::NotFound)
}

/// The pages of a listing, in order: a [`Stream`] of `Result<Page, Error>`, from
/// [`Paginator::pages`] or [`ListRequest::pages`](crate::ListRequest::pages).
#[must_use = "streams do nothing unless polled"]
pub struct PageStream(Box<Inner>);

enum Inner {
    /// The listing's filters were refused: the error, then nothing.
    Refused(Option<Error>),
    Listing(Scheduler),
}

/// The sessions of a listing, in order: a [`Stream`] of
/// `Result<QualificationSession, Error>`, from [`Paginator::items`] or
/// [`ListRequest::stream`](crate::ListRequest::stream).
#[must_use = "streams do nothing unless polled"]
pub struct ItemStream {
    pages: PageStream,
    /// The rest of the page being consumed.
    items: std::vec::IntoIter<QualificationSession>,
}

impl Stream for PageStream {
    type Item = Result<Page, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut *self.get_mut().0 {
            Inner::Refused(error) => Poll::Ready(error.take().map(Err)),
            Inner::Listing(scheduler) => scheduler.poll_page(cx),
        }
    }
}

impl Stream for ItemStream {
    type Item = Result<QualificationSession, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.items.next() {
                return Poll::Ready(Some(Ok(item)));
            }
            match std::task::ready!(Pin::new(&mut this.pages).poll_next(cx)) {
                Some(Ok(page)) => this.items = page.items.into_iter(),
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => return Poll::Ready(None),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.items.len(), None)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streams_are_small_and_can_move_between_tasks() {
        fn send_unpin<T: Send + Unpin + 'static>() {}
        send_unpin::<PageStream>();
        send_unpin::<ItemStream>();
        // Held in other state machines (a reconciliation's phases, say): the listing
        // itself is on the heap.
        assert!(std::mem::size_of::<PageStream>() <= 8);
        assert!(std::mem::size_of::<ItemStream>() <= 48);
    }
}
