//! The plan of a listing: which pages may be requested, and where the listing ends, decided
//! page by page as each arrives, with no I/O. Every end-of-listing rule is here, once (the
//! docs of [`Paginator::pages`](super::Paginator::pages) list them); the
//! [scheduler](super::scheduler) only asks.

use std::hash::{Hash as _, Hasher as _};
use std::ops::RangeInclusive;

use truemed_api::types::{Pagination, QualificationSession};

use crate::page::MAX_PAGE;
use crate::refusal::PaginationErrorKind;

/// Truemed's page size when none is requested.
const DEFAULT_PAGE_SIZE: u64 = 30;
/// How many times a listing follows a `last_page` that grew while paging.
const MAX_PLAN_EXTENSIONS: u32 = 5;

/// What the plan is told of a page as it arrives, in page order.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Arrival<'a> {
    /// The page came: how many sessions it holds, the [`Fingerprint`] of their ids, and its
    /// `pagination` object as read (`None` when null or missing).
    Page { items: usize, ids: Fingerprint, pagination: Option<&'a Pagination> },
    /// The page was answered 404 Not Found.
    NotFound,
    /// The page failed otherwise (after its retries).
    Failed,
}

/// What comes after a page, as the plan decides it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Yield the page; the listing goes on, and these pages may be requested now: from the
    /// next one to yield to the last one the listing allows so far.
    More(RangeInclusive<u64>),
    /// Yield the page's first `keep` sessions (the limit may cut it): it is the last.
    Last { keep: usize },
    /// Yield the page whole, then end the listing with [`Error::Pagination`] of this kind.
    ///
    /// [`Error::Pagination`]: crate::Error::Pagination
    LastThenError(PaginationErrorKind),
    /// End the listing without yielding the page (it marks the end of the list).
    End,
    /// End the listing with [`Error::Pagination`] of this kind instead of the page.
    ///
    /// [`Error::Pagination`]: crate::Error::Pagination
    Error(PaginationErrorKind),
    /// End the listing with the page's own error.
    Failed,
}

/// What identifies a page's sessions: a hash of its first and last session ids. Ids are
/// unique and the list ordered, so a page with as many sessions that starts and ends with
/// the same ids is the same page. (Hashing every id instead cost a pass over each page,
/// about 2 % of a listing's CPU at zero latency.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint(u64);

impl Fingerprint {
    pub(crate) fn of(items: &[QualificationSession]) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        for session in [items.first(), items.last()].into_iter().flatten() {
            session.qualification_session_id.as_str().hash(&mut hasher);
        }
        Self(hasher.finish())
    }
}

/// Where a listing stands: what the server said of the page count and size, how many items
/// are still wanted, and the next page to arrive.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The first page (from 1 to [`MAX_PAGE`]).
    start: u64,
    /// Pages that may be requested past the next one to arrive while the page count is not
    /// known, the next included (the concurrency).
    lookahead: u64,
    /// Items still wanted (the limit).
    remaining: usize,
    /// Until the first page arrives, the requested page size; then the server's, when it
    /// said (it may cap the one requested).
    page_size: u64,
    /// The page size the first page's `pagination` gave.
    reported_size: Option<u64>,
    /// The last page, once the first page's `pagination` said.
    end: Option<u64>,
    /// The largest `last_page` any page reported.
    reported_last: u64,
    /// How many times `end` moved to a larger `last_page`.
    extensions: u32,
    /// The previous page with sessions: how many, and their fingerprint.
    previous: Option<(usize, Fingerprint)>,
    /// The next page to arrive; `None` once the listing is over.
    next: Option<u64>,
}

impl Plan {
    /// A listing from page `start` (1 to [`MAX_PAGE`], checked before) of pages of
    /// `page_size` (Truemed's default when `None`), at most `limit` items, and up to
    /// `lookahead` pages requested ahead while the page count is not known.
    pub(crate) fn new(
        start: u64,
        page_size: Option<u64>,
        limit: Option<usize>,
        lookahead: usize,
    ) -> Self {
        debug_assert!((1..=MAX_PAGE).contains(&start), "page {start}");
        let remaining = limit.unwrap_or(usize::MAX);
        Self {
            start,
            lookahead: u64::try_from(lookahead).unwrap_or(u64::MAX).max(1),
            remaining,
            page_size: page_size.unwrap_or(DEFAULT_PAGE_SIZE).max(1),
            reported_size: None,
            end: None,
            reported_last: 0,
            extensions: 0,
            previous: None,
            next: (remaining > 0).then_some(start),
        }
    }

    /// The pages that may be requested now, from the next one to arrive; `None` once the
    /// listing is over.
    pub(crate) fn requestable(&self) -> Option<RangeInclusive<u64>> {
        self.next.map(|next| self.window(next))
    }

    /// The next page to arrive; `None` once the listing is over.
    pub(crate) fn next_page(&self) -> Option<u64> {
        self.next
    }

    /// Takes page `number` (the next one to arrive) and says what comes next. After any
    /// step but [`Step::More`] the listing is over.
    pub(crate) fn arrive(&mut self, number: u64, arrival: Arrival<'_>) -> Step {
        debug_assert_eq!(self.next, Some(number), "pages arrive in order");
        let step = self.decide(number, arrival);
        self.next = match step {
            // `number` < MAX_PAGE here: no page follows the last page the API can have.
            Step::More(ref pages) => Some(*pages.start()),
            _ => None,
        };
        step
    }

    fn decide(&mut self, number: u64, arrival: Arrival<'_>) -> Step {
        let first = number == self.start;
        let (items, ids, pagination) = match arrival {
            Arrival::Page { items, ids, pagination } => (items, ids, pagination),
            // Without a page count, a 404 past the first page is the end of the list.
            Arrival::NotFound if !first && self.end.is_none() => return Step::End,
            Arrival::NotFound | Arrival::Failed => return Step::Failed,
        };
        // Another page than the one asked for, or the one before again: the server is not
        // paging (it may be ignoring `page`), and following it would loop.
        if let Some(answered) = pagination.and_then(|p| p.current_page) {
            if u64::try_from(answered).ok() != Some(number) {
                return Step::Error(PaginationErrorKind::PageMismatch {
                    requested: number,
                    answered,
                });
            }
        }
        if items > 0 {
            if self.previous == Some((items, ids)) {
                return Step::Error(PaginationErrorKind::RepeatedPage { page: number });
            }
            self.previous = Some((items, ids));
        }
        let whole = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok());
        let last_page = whole(pagination.and_then(|p| p.last_page));
        if first {
            self.reported_size = whole(pagination.and_then(|p| p.page_size)).filter(|n| *n > 0);
            self.page_size = self.reported_size.unwrap_or(self.page_size);
            self.end = last_page;
            self.reported_last = last_page.unwrap_or(0);
        } else {
            self.reported_last = self.reported_last.max(last_page.unwrap_or(0));
        }
        // An empty first page is the (empty) listing; a later one, its end (the list shrank
        // while paging).
        if items == 0 {
            return match first {
                true => Step::Last { keep: 0 },
                false => Step::End,
            };
        }
        let keep = items.min(self.remaining);
        self.remaining -= keep;
        // The limit is reached; or no page can follow: the last page the API can have.
        if self.remaining == 0 || number >= MAX_PAGE {
            return Step::Last { keep };
        }
        match self.end {
            // The planned end: sessions created while paging sort last, so a larger
            // `last_page` is followed, a few times.
            Some(end) if number >= end => {
                if self.reported_last <= end {
                    return Step::Last { keep };
                }
                self.extensions += 1;
                if self.extensions > MAX_PLAN_EXTENSIONS {
                    return Step::LastThenError(PaginationErrorKind::LastPageKeepsGrowing {
                        last_page: self.reported_last,
                        planned: end,
                        extensions: MAX_PLAN_EXTENSIONS,
                    });
                }
                self.end = Some(self.reported_last);
            }
            Some(_) => {}
            // No page count: a short page ends the listing only when the server said its
            // page size (it may cap the size asked for); otherwise go on to an empty page
            // (or a 404).
            None if self.reported_size.is_some_and(|size| (keep as u64) < size) => {
                return Step::Last { keep };
            }
            None => {}
        }
        Step::More(self.window(number + 1))
    }

    /// The pages that may be requested from `next`: none past what the limit needs, nor
    /// past the planned end; without a page count, none past the `lookahead` pages from
    /// `next`; never one past [`MAX_PAGE`]. Never empty: `next` itself may be.
    fn window(&self, next: u64) -> RangeInclusive<u64> {
        let remaining = u64::try_from(self.remaining).unwrap_or(u64::MAX);
        let needed = remaining.div_ceil(self.page_size).max(1);
        let by_limit = next.saturating_add(needed - 1);
        let by_plan = match self.end {
            Some(end) => end.max(next),
            None => next.saturating_add(self.lookahead - 1),
        };
        next..=by_limit.min(by_plan).min(MAX_PAGE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A page as a test writes it: its sessions, their fingerprint, its `pagination`.
    #[derive(Clone)]
    struct TestPage {
        items: usize,
        ids: u64,
        pagination: Option<Pagination>,
    }

    /// A page of `items` sessions (a fingerprint of its own) with this `pagination` JSON
    /// (`null` for none).
    fn page(items: usize, pagination: serde_json::Value) -> TestPage {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        TestPage {
            items,
            ids: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            pagination: serde_json::from_value(pagination).expect("a pagination object"),
        }
    }

    /// The same sessions as `earlier`, with this `pagination`.
    fn again(earlier: &TestPage, pagination: serde_json::Value) -> TestPage {
        TestPage { pagination: serde_json::from_value(pagination).unwrap(), ..earlier.clone() }
    }

    /// A full pagination object.
    fn full(current: u64, last: u64, size: u64) -> serde_json::Value {
        json!({"count": last * size, "current_page": current, "last_page": last, "page_size": size})
    }

    enum Got {
        Page(TestPage),
        NotFound,
        Failed,
    }

    use Got::{Failed, NotFound};

    fn got(page: TestPage) -> Got {
        Got::Page(page)
    }

    fn more(pages: RangeInclusive<u64>) -> Step {
        Step::More(pages)
    }

    fn last(keep: usize) -> Step {
        Step::Last { keep }
    }

    /// A listing from `start`: the pages it may request first, then each page in order and
    /// the step the plan takes after it.
    struct Case {
        name: &'static str,
        start: u64,
        page_size: Option<u64>,
        limit: Option<usize>,
        lookahead: usize,
        first: Option<RangeInclusive<u64>>,
        pages: Vec<(Got, Step)>,
    }

    impl Default for Case {
        fn default() -> Self {
            Self {
                name: "",
                start: 1,
                page_size: Some(10),
                limit: None,
                lookahead: 1,
                first: Some(1..=1),
                pages: Vec::new(),
            }
        }
    }

    fn run(case: Case) {
        let name = case.name;
        let mut plan = Plan::new(case.start, case.page_size, case.limit, case.lookahead);
        assert_eq!(plan.requestable(), case.first, "{name}: before the first page");
        let last = case.start + case.pages.len() as u64 - 1;
        for (number, (got, expected)) in (case.start..).zip(case.pages) {
            assert_eq!(plan.next_page(), Some(number), "{name}: page {number}");
            let arrival = match &got {
                Got::Page(page) => Arrival::Page {
                    items: page.items,
                    ids: Fingerprint(page.ids),
                    pagination: page.pagination.as_ref(),
                },
                Got::NotFound => Arrival::NotFound,
                Got::Failed => Arrival::Failed,
            };
            let step = plan.arrive(number, arrival);
            assert_eq!(step, expected, "{name}: after page {number}");
            match step {
                Step::More(pages) => {
                    assert_eq!(plan.requestable(), Some(pages.clone()), "{name}");
                    assert!(!pages.is_empty(), "{name}: an empty window");
                }
                _ => {
                    assert_eq!(number, last, "{name}: pages after the end");
                    assert_eq!(plan.requestable(), None, "{name}: over after {number}");
                }
            }
        }
    }

    #[test]
    fn an_empty_first_page_is_the_whole_empty_listing() {
        for pagination in [full(1, 0, 10), json!(null), json!({}), json!({"page_size": 10})] {
            run(Case {
                name: "empty",
                pages: vec![(got(page(0, pagination)), last(0))],
                ..Case::default()
            });
        }
    }

    #[test]
    fn one_page_ends_where_the_pagination_says() {
        run(Case {
            name: "one short page, last_page 1",
            pages: vec![(got(page(5, full(1, 1, 10))), last(5))],
            ..Case::default()
        });
        run(Case {
            name: "one full page, last_page 1",
            lookahead: 4,
            first: Some(1..=4),
            pages: vec![(got(page(10, full(1, 1, 10))), last(10))],
            ..Case::default()
        });
        run(Case {
            name: "one short page, page size given",
            pages: vec![(got(page(5, json!({"page_size": 10}))), last(5))],
            ..Case::default()
        });
    }

    #[test]
    fn a_known_page_count_is_followed_to_its_last_page() {
        run(Case {
            name: "exact multiple of the page size",
            page_size: Some(30),
            lookahead: 4,
            first: Some(1..=4),
            pages: vec![
                (got(page(30, full(1, 3, 30))), more(2..=3)),
                (got(page(30, full(2, 3, 30))), more(3..=3)),
                (got(page(30, full(3, 3, 30))), last(30)),
            ],
            ..Case::default()
        });
        run(Case {
            name: "short last page",
            pages: vec![
                (got(page(10, full(1, 3, 10))), more(2..=3)),
                (got(page(10, full(2, 3, 10))), more(3..=3)),
                (got(page(5, full(3, 3, 10))), last(5)),
            ],
            ..Case::default()
        });
        run(Case {
            name: "from page 3",
            start: 3,
            lookahead: 2,
            first: Some(3..=4),
            pages: vec![
                (got(page(10, full(3, 5, 10))), more(4..=5)),
                (got(page(10, full(4, 5, 10))), more(5..=5)),
                (got(page(10, full(5, 5, 10))), last(10)),
            ],
            ..Case::default()
        });
        run(Case {
            name: "a first page past the last page",
            start: 7,
            first: Some(7..=7),
            pages: vec![(got(page(2, full(7, 3, 10))), last(2))],
            ..Case::default()
        });
    }

    #[test]
    fn without_a_page_count_pages_go_on_to_an_empty_one() {
        for pagination in [json!(null), json!({}), json!({"count": 25})] {
            run(Case {
                name: "no last_page, no page_size: a short page is not trusted",
                lookahead: 3,
                first: Some(1..=3),
                pages: vec![
                    (got(page(10, pagination.clone())), more(2..=4)),
                    (got(page(10, pagination.clone())), more(3..=5)),
                    (got(page(5, pagination.clone())), more(4..=6)),
                    (got(page(0, pagination.clone())), Step::End),
                ],
                ..Case::default()
            });
        }
        run(Case {
            name: "page_size only: a short page is the last",
            pages: vec![
                (got(page(10, json!({"page_size": 10}))), more(2..=2)),
                (got(page(3, json!({"page_size": 10}))), last(3)),
            ],
            ..Case::default()
        });
        run(Case {
            name: "page_size only: full pages to the empty end",
            pages: vec![
                (got(page(10, json!({"page_size": 10}))), more(2..=2)),
                (got(page(10, json!({"page_size": 10}))), more(3..=3)),
                (got(page(0, json!({"page_size": 10}))), Step::End),
            ],
            ..Case::default()
        });
        run(Case {
            name: "the server's page size wins over the one asked for",
            page_size: Some(500),
            pages: vec![
                (got(page(100, json!({"page_size": 100}))), more(2..=2)),
                (got(page(99, json!({"page_size": 100}))), last(99)),
            ],
            ..Case::default()
        });
        run(Case {
            name: "a page size of 0 is not one",
            pages: vec![
                (got(page(3, json!({"page_size": 0}))), more(2..=2)),
                (got(page(0, json!({"page_size": 0}))), Step::End),
            ],
            ..Case::default()
        });
        run(Case {
            name: "only the first page's pagination counts",
            pages: vec![
                (got(page(10, json!(null))), more(2..=2)),
                (got(page(3, full(2, 2, 10))), more(3..=3)),
                (got(page(0, json!(null))), Step::End),
            ],
            ..Case::default()
        });
    }

    #[test]
    fn a_404_past_the_first_page_ends_a_listing_without_a_page_count() {
        run(Case {
            name: "404 after page 1",
            pages: vec![(got(page(10, json!(null))), more(2..=2)), (NotFound, Step::End)],
            ..Case::default()
        });
        run(Case {
            name: "404 on the first page",
            pages: vec![(NotFound, Step::Failed)],
            ..Case::default()
        });
        run(Case {
            name: "404 on the first page asked for, not page 1",
            start: 4,
            first: Some(4..=4),
            pages: vec![(NotFound, Step::Failed)],
            ..Case::default()
        });
        run(Case {
            name: "404 with a page count",
            pages: vec![(got(page(10, full(1, 3, 10))), more(2..=3)), (NotFound, Step::Failed)],
            ..Case::default()
        });
        run(Case {
            name: "any other failure",
            pages: vec![(got(page(10, json!(null))), more(2..=2)), (Failed, Step::Failed)],
            ..Case::default()
        });
    }

    #[test]
    fn a_repeated_page_ends_with_an_error_instead_of_looping() {
        let first = page(10, json!(null));
        run(Case {
            name: "the same sessions again",
            pages: vec![
                (got(first.clone()), more(2..=2)),
                (
                    got(again(&first, json!(null))),
                    Step::Error(PaginationErrorKind::RepeatedPage { page: 2 }),
                ),
            ],
            ..Case::default()
        });
        let first = page(10, json!({"current_page": null, "last_page": 9}));
        run(Case {
            name: "the same sessions with a page count",
            pages: vec![
                (got(first.clone()), more(2..=9)),
                (
                    got(again(&first, json!({"last_page": 9}))),
                    Step::Error(PaginationErrorKind::RepeatedPage { page: 2 }),
                ),
            ],
            ..Case::default()
        });
        let one = page(10, json!(null));
        let mut fewer = again(&one, json!(null));
        fewer.items = 9;
        run(Case {
            name: "as many sessions are needed for a repeat",
            pages: vec![
                (got(one), more(2..=2)),
                (got(fewer), more(3..=3)),
                (got(page(0, json!(null))), Step::End),
            ],
            ..Case::default()
        });
    }

    #[test]
    fn a_page_that_says_it_is_another_ends_with_an_error() {
        run(Case {
            name: "current_page 1 on page 2",
            pages: vec![
                (got(page(10, full(1, 5, 10))), more(2..=5)),
                (
                    got(page(10, full(1, 5, 10))),
                    Step::Error(PaginationErrorKind::PageMismatch { requested: 2, answered: 1 }),
                ),
            ],
            ..Case::default()
        });
        run(Case {
            name: "on the first page",
            start: 2,
            first: Some(2..=2),
            pages: vec![(
                got(page(10, full(9, 9, 10))),
                Step::Error(PaginationErrorKind::PageMismatch { requested: 2, answered: 9 }),
            )],
            ..Case::default()
        });
        run(Case {
            name: "no current_page: nothing to check",
            pages: vec![
                (got(page(10, json!({"last_page": 2}))), more(2..=2)),
                (got(page(4, json!({"last_page": 2}))), last(4)),
            ],
            ..Case::default()
        });
    }

    #[test]
    fn a_growing_last_page_is_followed_up_to_the_limit_and_past_it_is_an_error() {
        run(Case {
            name: "grows once: followed",
            pages: vec![
                (got(page(10, full(1, 2, 10))), more(2..=2)),
                (got(page(10, full(2, 3, 10))), more(3..=3)),
                (got(page(5, full(3, 3, 10))), last(5)),
            ],
            ..Case::default()
        });
        run(Case {
            name: "the plan's last page reports a larger one",
            lookahead: 4,
            first: Some(1..=4),
            pages: vec![
                (got(page(10, full(1, 2, 10))), more(2..=2)),
                (got(page(10, full(2, 6, 10))), more(3..=6)),
                (got(page(10, full(3, 6, 10))), more(4..=6)),
                (got(page(10, full(4, 6, 10))), more(5..=6)),
                (got(page(10, full(5, 6, 10))), more(6..=6)),
                (got(page(1, full(6, 6, 10))), last(1)),
            ],
            ..Case::default()
        });
        // Every page claims one more: 5 extensions are followed, the 6th is an error after
        // its page.
        let mut pages = vec![(got(page(10, full(1, 2, 10))), more(2..=2))];
        for n in 2..=6 {
            pages.push((got(page(10, full(n, n + 1, 10))), more(n + 1..=n + 1)));
        }
        pages.push((
            got(page(10, full(7, 8, 10))),
            Step::LastThenError(PaginationErrorKind::LastPageKeepsGrowing {
                last_page: 8,
                planned: 7,
                extensions: MAX_PLAN_EXTENSIONS,
            }),
        ));
        run(Case { name: "keeps growing", pages, ..Case::default() });
        run(Case {
            name: "a larger last_page before the planned end is kept for it",
            pages: vec![
                (got(page(10, full(1, 3, 10))), more(2..=3)),
                (got(page(10, full(2, 4, 10))), more(3..=3)),
                (got(page(10, full(3, 3, 10))), more(4..=4)),
                (got(page(0, full(4, 3, 10))), Step::End),
            ],
            ..Case::default()
        });
    }

    #[test]
    fn a_limit_cuts_the_listing_and_its_requests() {
        run(Case {
            name: "25 of 100",
            limit: Some(25),
            lookahead: 8,
            first: Some(1..=3),
            pages: vec![
                (got(page(10, full(1, 10, 10))), more(2..=3)),
                (got(page(10, full(2, 10, 10))), more(3..=3)),
                (got(page(10, full(3, 10, 10))), last(5)),
            ],
            ..Case::default()
        });
        run(Case {
            name: "a limit of one page, no pagination",
            limit: Some(10),
            lookahead: 4,
            pages: vec![(got(page(10, json!(null))), last(10))],
            ..Case::default()
        });
        run(Case {
            name: "a limit past the listing",
            limit: Some(1000),
            lookahead: 4,
            first: Some(1..=4),
            pages: vec![(got(page(7, full(1, 1, 10))), last(7))],
            ..Case::default()
        });
        run(Case {
            name: "the server's page size counts for the limit",
            page_size: None,
            limit: Some(100),
            lookahead: 8,
            first: Some(1..=4),
            pages: vec![
                (got(page(50, json!({"page_size": 50}))), more(2..=2)),
                (got(page(50, json!({"page_size": 50}))), last(50)),
            ],
            ..Case::default()
        });
        run(Case {
            name: "limit 0: nothing at all",
            limit: Some(0),
            first: None,
            ..Case::default()
        });
    }

    #[test]
    fn page_numbers_never_overflow_nor_pass_the_last_page_the_api_can_have() {
        let huge = i64::MAX;
        let endless = |page: u64| json!({"count": huge, "current_page": page, "last_page": huge, "page_size": 2});
        run(Case {
            name: "from MAX_PAGE - 1, last_page at int64's maximum",
            start: MAX_PAGE - 1,
            page_size: Some(2),
            lookahead: 4,
            first: Some(MAX_PAGE - 1..=MAX_PAGE),
            pages: vec![
                (got(page(2, endless(MAX_PAGE - 1))), more(MAX_PAGE..=MAX_PAGE)),
                (got(page(2, endless(MAX_PAGE))), last(2)),
            ],
            ..Case::default()
        });
        run(Case {
            name: "from MAX_PAGE - 1, no pagination",
            start: MAX_PAGE - 1,
            page_size: Some(2),
            lookahead: 4,
            first: Some(MAX_PAGE - 1..=MAX_PAGE),
            pages: vec![
                (got(page(2, json!(null))), more(MAX_PAGE..=MAX_PAGE)),
                (got(page(2, json!(null))), last(2)),
            ],
            ..Case::default()
        });
        run(Case {
            name: "from MAX_PAGE",
            start: MAX_PAGE,
            lookahead: 64,
            first: Some(MAX_PAGE..=MAX_PAGE),
            pages: vec![(got(page(10, json!(null))), last(10))],
            ..Case::default()
        });
        run(Case {
            name: "last_page at int64's maximum from page 1, as far as the limit",
            page_size: Some(2),
            limit: Some(5),
            lookahead: 4,
            first: Some(1..=3),
            pages: vec![
                (got(page(2, endless(1))), more(2..=3)),
                (got(page(2, endless(2))), more(3..=3)),
                (got(page(2, endless(3))), last(1)),
            ],
            ..Case::default()
        });
        run(Case {
            name: "a huge limit and lookahead",
            page_size: Some(1),
            limit: Some(usize::MAX),
            lookahead: usize::MAX,
            first: Some(1..=MAX_PAGE),
            pages: vec![(got(page(1, endless(1))), more(2..=MAX_PAGE))],
            ..Case::default()
        });
    }

    #[test]
    fn a_fingerprint_is_of_the_first_and_last_ids() {
        let session = |id: &str| -> QualificationSession {
            serde_json::from_value(json!({"qualification_session_id": id, "status": "approved"}))
                .unwrap()
        };
        let [a, b, c, d] = ["qs_a", "qs_b", "qs_c", "qs_d"].map(session);
        let of = |items: &[&QualificationSession]| {
            Fingerprint::of(&items.iter().map(|s| (*s).clone()).collect::<Vec<_>>())
        };
        assert_eq!(of(&[&a, &b, &d]), of(&[&a, &c, &d]), "the middle is not hashed");
        assert_ne!(of(&[&a, &b]), of(&[&b, &a]));
        assert_ne!(of(&[&a, &d]), of(&[&a, &c]));
        assert_eq!(of(&[]), of(&[]));
    }
}
