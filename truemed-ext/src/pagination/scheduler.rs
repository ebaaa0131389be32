//! The requests of a listing: which are in flight, the pages held, the order they are
//! yielded in, and the tasks they decode in. Which pages to request, and when the listing
//! ends, it asks the [plan](super::plan): it knows no listing rule.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use truemed_api::Spawned;

use super::plan::{Arrival, Fingerprint, Plan, Step};
use crate::client::OnBodyRead;
use crate::error::Error;
use crate::page::{Listing, Page};

type PageFuture = Pin<Box<dyn Future<Output = Result<Page, Error>> + Send>>;

/// A listing's requests, and its [`Plan`].
pub(super) struct Scheduler {
    listing: Arc<Listing>,
    plan: Plan,
    /// Requests sent or reading their body at once, at most.
    concurrency: usize,
    /// Pages requested and not yet yielded, in page order: the first is the next to yield.
    in_flight: VecDeque<PageFuture>,
    /// How many of them are still sending or reading their body.
    wire: Arc<AtomicUsize>,
    /// The next page to request.
    next: u64,
    /// An error to yield after the page that revealed it.
    pending: Option<Error>,
    /// A task that keeps a timer registered while the listing runs: see
    /// [`Scheduler::keep_timers_awake`].
    anchor: Option<Spawned<()>>,
}

/// How often the anchor timer fires while a listing runs.
const ANCHOR_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

impl Scheduler {
    pub(super) fn new(listing: Listing, plan: Plan, concurrency: usize) -> Self {
        let next = listing.start();
        Self {
            listing: Arc::new(listing),
            plan,
            concurrency,
            in_flight: VecDeque::with_capacity(held_at_most(concurrency)),
            wire: Arc::default(),
            next,
            pending: None,
            anchor: None,
        }
    }

    /// Keeps a timer registered with the runtime while the listing runs, in a task that
    /// sleeps [`ANCHOR_PERIOD`] after [`ANCHOR_PERIOD`] (aborted when the listing ends or
    /// is dropped). Each request's timeout is a timer of its own (reqwest's), and tokio
    /// wakes its timer thread to recompute its sleep whenever a timer is registered
    /// earlier than every other: with no other timer, for each request, a thread woken
    /// per page of a listing paged one request after another. With the anchor there,
    /// timeouts longer than a second wake nobody.
    fn keep_timers_awake(&mut self) {
        if self.anchor.is_none() {
            self.anchor = Some(Spawned::spawn(async {
                loop {
                    tokio::time::sleep(ANCHOR_PERIOD).await;
                }
            }));
        }
    }

    /// The next page to yield, `None` at the end of the listing.
    pub(super) fn poll_page(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Page, Error>>> {
        if let Some(error) = self.pending.take() {
            return Poll::Ready(Some(Err(error)));
        }
        let Some(number) = self.plan.next_page() else {
            return Poll::Ready(None);
        };
        self.keep_timers_awake();
        let result = std::task::ready!(self.poll_next_in_order(cx));
        let step = match &result {
            Ok(page) => self.plan.arrive(
                number,
                Arrival::Page {
                    items: page.items.len(),
                    ids: Fingerprint::of(&page.items),
                    pagination: page.pagination.as_ref(),
                },
            ),
            Err(error) if super::is_not_found(error) => self.plan.arrive(number, Arrival::NotFound),
            Err(_) => self.plan.arrive(number, Arrival::Failed),
        };
        if matches!(step, Step::More(_)) {
            // The page's place is free: the next request goes out before the consumer takes
            // this page, which the plan now knows.
            self.request_more(cx);
        } else {
            // The listing is over: pages still in flight are dropped (their tasks aborted).
            self.in_flight.clear();
            self.anchor = None;
        }
        let yielded = match step {
            Step::More(_) | Step::Failed => result,
            Step::Last { keep } => result.map(|mut page| {
                page.items.truncate(keep);
                page
            }),
            Step::LastThenError(kind) => {
                self.pending = Some(kind.into());
                result
            }
            Step::End => return Poll::Ready(None),
            Step::Error(kind) => Err(kind.into()),
        };
        Poll::Ready(Some(yielded))
    }

    /// The next page in order, requesting more pages first.
    fn poll_next_in_order(&mut self, cx: &mut Context<'_>) -> Poll<Result<Page, Error>> {
        // With concurrency 1, woken once the page polled is read (its exchange's task ends),
        // its turn over: the next request goes out here, before that page decodes.
        self.request_more(cx);
        let front = self.in_flight.front_mut().expect("the plan's next page is requested");
        // Only the next page to yield is polled: the others progress in tasks of their own
        // (their exchanges, and above concurrency 1 their decode), and a later page waking
        // the listing would only have it poll the first again.
        let result = std::task::ready!(front.as_mut().poll(cx));
        self.in_flight.pop_front();
        Poll::Ready(result)
    }

    /// Requests every page it may now, in order.
    fn request_more(&mut self, cx: &mut Context<'_>) {
        while self.can_request() {
            let slot = Slot::take(&self.wire);
            let spawn = self.concurrency > 1;
            let mut page = fetch_page(self.listing.clone(), self.next, slot, spawn);
            if !spawn {
                // Polled once now, the request goes out before the page whose body was just
                // read decodes (in the poll after this one, on this task).
                if let Poll::Ready(result) = page.as_mut().poll(cx) {
                    page = Box::pin(std::future::ready(result));
                }
            }
            self.in_flight.push_back(page);
            // At most MAX_PAGE + 1: the plan allows no page past MAX_PAGE.
            self.next += 1;
        }
    }

    /// Whether another page may be requested now: a turn on the wire is free, fewer than
    /// [`held_at_most`] pages are held, and the plan allows the page. Above concurrency 1
    /// the held bound is the one that binds (each page held holds at most one turn); the
    /// turns decide with 1, where two pages are held and one may be on the wire.
    fn can_request(&self) -> bool {
        self.wire.load(Ordering::Acquire) < self.concurrency
            && self.in_flight.len() < held_at_most(self.concurrency)
            && self.plan.requestable().is_some_and(|pages| pages.contains(&self.next))
    }
}

/// The most pages a listing with `concurrency` holds, requested and not yet yielded. Above
/// 1, `concurrency`, as `futures`' `buffered(concurrency)` holds: a page is requested once
/// the page `concurrency` before it is yielded. Holding more read ahead no faster and cost
/// CPU: at concurrency 8 in `pagination_bench`, 8 + 2 pages held took 1 to 2 % more CPU per
/// listing than 8 (pages decoded in tasks and consumed in one), and 16 took 3 to 4 % more.
/// With 1, two: the next request goes out once the page before is read, while it decodes
/// and is consumed, where holding one would leave the wire idle meanwhile (0.46x the
/// throughput).
fn held_at_most(concurrency: usize) -> usize {
    concurrency.max(2)
}

/// Fetches a page; with `spawn`, in a task of its own, so pages fetched at once also
/// decode at once on every core (the task is aborted when the future is dropped: the
/// listing ended or was dropped; a runtime shutting down under it is an
/// [`Error::Connection`]). Either way the response is read as it arrives: in that task,
/// else in one of its own (the generated client's hooks see to it). `slot` is given back
/// once the page's body is read (or the fetch ends).
fn fetch_page(listing: Arc<Listing>, number: u64, slot: Slot, spawn: bool) -> PageFuture {
    // The callback owns the slot, and the fetch owns the callback: when the fetch ends (or
    // is aborted) without a body read, dropping it gives the turn back.
    let on_body_read: OnBodyRead = Arc::new(move |status: reqwest::StatusCode| {
        // An error response keeps its turn through the retries.
        if status.is_success() {
            slot.give_back();
        }
    });
    let fetch = Box::pin(async move { listing.fetch(number, Some(on_body_read)).await });
    if !spawn {
        return fetch;
    }
    // The task reads the response itself: the exchange needs no task of its own. Boxed
    // first, the fetch (about 5.5 KiB of state) is moved into the task as a pointer.
    let page = Spawned::spawn_with_inline_calls(fetch);
    Box::pin(async move {
        match page.await {
            Ok(page) => page,
            Err(shutdown) => Err(Error::runtime_shut_down(shutdown)),
        }
    })
}

/// One request's turn on the wire (the listing's count of requests sending or reading
/// their body), given back once: when its body is read, or when dropped.
struct Slot {
    wire: Arc<AtomicUsize>,
    held: AtomicBool,
}

impl Slot {
    fn take(wire: &Arc<AtomicUsize>) -> Self {
        wire.fetch_add(1, Ordering::AcqRel);
        Self { wire: wire.clone(), held: AtomicBool::new(true) }
    }

    fn give_back(&self) {
        if self.held.swap(false, Ordering::AcqRel) {
            self.wire.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.give_back();
    }
}
