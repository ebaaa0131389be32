//! Pagination over real HTTP: every edge, ordering under concurrent prefetch, the cap.

mod support;
use support::ScriptedClient as _;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::json;
use support::{client_to, session, Recorded, Reply, Scripted};
use truemed_ext::{ApiErrorKind, Error, InvalidRequestReason, PaginationErrorKind, Status};

#[derive(Clone, Copy, PartialEq)]
enum Meta {
    Full,
    Null,
    Missing,
    /// A pagination object with the page size only: no `last_page`.
    SizeOnly,
}

fn id(n: usize) -> String {
    format!("qs_{n:05}")
}

/// The page a well-behaved server returns for `request` over `total` sessions.
fn page_reply(total: usize, meta: Meta, request: &Recorded) -> Reply {
    let size = request.query("page_size").map(|s| s.parse::<usize>().unwrap()).unwrap_or(30);
    let page = request.page() as usize;
    let items: Vec<_> = (((page - 1) * size).min(total)..(page * size).min(total))
        .map(|n| session(&id(n), "approved"))
        .collect();
    let mut body = json!({ "qualification_sessions": items });
    match meta {
        Meta::Full => {
            body["pagination"] = json!({
                "count": total, "current_page": page,
                "last_page": total.div_ceil(size).max(1), "page_size": size
            })
        }
        Meta::Null => body["pagination"] = serde_json::Value::Null,
        Meta::SizeOnly => body["pagination"] = json!({ "page_size": size }),
        Meta::Missing => {}
    }
    Reply::json(200, body)
}

async fn listing(total: usize, meta: Meta) -> Scripted {
    Scripted::start(move |_, request| page_reply(total, meta, request)).await
}

/// Every id of the listing, fetching pages one after another (so request counts are exact).
async fn collect_ids(server: &Scripted, page_size: u64) -> Result<Vec<String>, Error> {
    collect_ids_with(server, page_size, 1).await
}

/// The first `limit` items of an unfiltered listing, by a client for `server`.
async fn first_items(server: &Scripted, limit: usize) -> Vec<truemed_ext::QualificationSession> {
    let (client, _) = server.client();
    client
        .qualification_sessions()
        .list()
        .paginate()
        .limit(limit)
        .items()
        .try_collect()
        .await
        .unwrap()
}

async fn collect_ids_with(
    server: &Scripted,
    page_size: u64,
    concurrency: usize,
) -> Result<Vec<String>, Error> {
    paginate(server, page_size, concurrency)
        .items()
        .map_ok(|s| s.qualification_session_id)
        .try_collect()
        .await
}

/// The server's whole listing at `page_size`, `concurrency` requests at a time.
fn paginate(server: &Scripted, page_size: u64, concurrency: usize) -> truemed_ext::Paginator {
    let (client, _) = server.client();
    client.qualification_sessions().list().page_size(page_size).paginate().concurrency(concurrency)
}

fn expected(total: usize) -> Vec<String> {
    (0..total).map(id).collect()
}

#[tokio::test]
async fn every_listing_ends_after_its_last_item_with_every_kind_of_pagination_object() {
    // (total, page size, meta, requests expected). Without a usable pagination object a
    // short page is not trusted to be the last: one more request finds the empty end.
    let cases = [
        (0, 10, Meta::Full, 1),
        (0, 10, Meta::Null, 1),
        (0, 10, Meta::Missing, 1),
        (0, 10, Meta::SizeOnly, 1),
        (5, 10, Meta::Full, 1),
        (5, 10, Meta::Null, 2),
        (5, 10, Meta::SizeOnly, 1), // the server said its page size: 5 < 10 is the end
        (10, 10, Meta::Full, 1),
        (10, 10, Meta::Null, 2),
        (10, 10, Meta::SizeOnly, 2),
        (30, 10, Meta::Full, 3),
        (30, 10, Meta::Null, 4),
        (30, 10, Meta::Missing, 4),
        (30, 10, Meta::SizeOnly, 4),
        (25, 10, Meta::Full, 3),
        (25, 10, Meta::Null, 4),
        (25, 10, Meta::Missing, 4),
        (25, 10, Meta::SizeOnly, 3),
        (1, 1, Meta::Full, 1),
        (3, 1, Meta::Null, 4),
    ];
    for (total, size, meta, requests) in cases {
        let server = listing(total, meta).await;
        let ids = collect_ids(&server, size).await.unwrap();
        assert_eq!(ids, expected(total), "total {total}, size {size}");
        assert_eq!(server.count(), requests, "total {total}, size {size}");
        // With prefetch, the same items; at most `concurrency - 1` requests more.
        for concurrency in [2, 4, 8] {
            let server = listing(total, meta).await;
            let ids = collect_ids_with(&server, size, concurrency).await.unwrap();
            assert_eq!(ids, expected(total), "total {total}, size {size}, c {concurrency}");
            let extra = server.count() - requests;
            assert!(
                server.count() >= requests && extra < concurrency,
                "total {total}, size {size}, c {concurrency}: {} requests",
                server.count()
            );
        }
    }
}

#[tokio::test]
async fn without_pagination_a_short_page_is_not_trusted() {
    let server = listing(45, Meta::Null).await;
    let (client, _) = server.client();
    let all: Vec<_> = client
        .qualification_sessions()
        .list()
        .paginate()
        .concurrency(1)
        .items()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 45);
    assert_eq!(server.count(), 3, "30, 15, then the empty end");
}

#[tokio::test]
async fn every_filter_is_sent_on_every_page() {
    let server = listing(25, Meta::Full).await;
    let (client, _) = server.client();
    let n = client
        .qualification_sessions()
        .list()
        .statuses([Status::Approved, Status::Rejected])
        .user_id("user_42")
        .search("ada")
        .expires_at(chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap())
        .page_size(10)
        .paginate()
        .concurrency(1)
        .items()
        .count()
        .await;
    assert_eq!(n, 25);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for (i, request) in requests.iter().enumerate() {
        assert_eq!(request.query("status").as_deref(), Some("approved,rejected"));
        assert_eq!(request.query("user_id").as_deref(), Some("user_42"));
        assert_eq!(request.query("search").as_deref(), Some("ada"));
        assert_eq!(request.query("expires_at").as_deref(), Some("2026-01-31"));
        assert_eq!(request.query("page_size").as_deref(), Some("10"));
        assert!(request.page() >= 1 && request.page() <= 3, "{i}");
    }
}

#[tokio::test]
async fn starting_page_is_honoured() {
    let server = listing(50, Meta::Full).await;
    let (client, _) = server.client();
    let pages: Vec<_> = client
        .qualification_sessions()
        .list()
        .page(3)
        .page_size(10)
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.iter().map(|p| p.number).collect::<Vec<_>>(), [3, 4, 5]);
    assert_eq!(pages[0].items[0].qualification_session_id, id(20));
}

#[tokio::test]
async fn repeated_page_stops_with_an_error_after_yielding_the_first() {
    // A server that ignores `page`: always the first page, no pagination object.
    let server = Scripted::start(|_, request| {
        let mut first = request.clone();
        first.uri = "/?page=1&page_size=10".parse().unwrap();
        page_reply(100, Meta::Null, &first)
    })
    .await;
    let (client, _) = server.client();
    let mut stream = Box::pin(
        client.qualification_sessions().list().page_size(10).paginate().concurrency(1).items(),
    );
    let mut yielded = 0;
    let error = loop {
        match stream.next().await {
            Some(Ok(_)) => yielded += 1,
            Some(Err(error)) => break error,
            None => panic!("ended without an error"),
        }
    };
    assert_eq!(yielded, 10);
    assert!(
        matches!(&error, Error::Pagination(stopped)
            if matches!(stopped.kind(), PaginationErrorKind::RepeatedPage { page: 2, .. })),
        "{error:?}"
    );
    assert!(error.to_string().contains("repeats"), "{error}");
    assert!(stream.next().await.is_none(), "the stream ends after its error");
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn wrong_current_page_stops_with_an_error() {
    let server = Scripted::start(|_, request| {
        let mut reply = page_reply(100, Meta::Full, request);
        let mut body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        body["pagination"]["current_page"] = json!(1);
        reply.body = body.to_string();
        reply
    })
    .await;
    let result: Result<Vec<_>, _> = paginate(&server, 10, 1).items().try_collect().await;
    let error = result.unwrap_err();
    assert!(error.to_string().contains("asked for page 2"), "{error}");
}

#[tokio::test]
async fn last_page_that_keeps_growing_stops_with_an_error() {
    // Every page claims there is one more.
    let server = Scripted::start(|_, request| {
        let page = request.page() as usize;
        let items: Vec<_> = (0..10).map(|n| session(&id(page * 10 + n), "approved")).collect();
        Reply::json(200, json!({
            "qualification_sessions": items,
            "pagination": {"count": (page + 1) * 10, "current_page": page, "last_page": page + 1, "page_size": 10}
        }))
    })
    .await;
    let (client, _) = server.client();
    let result: Result<Vec<_>, _> =
        client.qualification_sessions().list().page_size(10).stream().try_collect().await;
    let error = result.unwrap_err();
    assert!(
        matches!(&error, Error::Pagination(stopped)
            if matches!(stopped.kind(), PaginationErrorKind::LastPageKeepsGrowing { extensions: 5, .. })),
        "{error:?}"
    );
    assert!(error.to_string().contains("kept growing"), "{error}");
    assert_eq!(server.count(), 2 + 5, "the documented 5 extensions");
}

/// A full listing of `before` sessions that holds `from_page_3` once page 3 is asked for.
async fn listing_changing_at_page_3(before: usize, from_page_3: usize) -> Scripted {
    Scripted::start(move |_, request| {
        let total = if request.page() >= 3 { from_page_3 } else { before };
        page_reply(total, Meta::Full, request)
    })
    .await
}

#[tokio::test]
async fn sessions_added_while_paging_are_followed_to_the_new_end() {
    // 30 sessions when paging starts; 5 more exist by the time page 3 is served.
    let server = listing_changing_at_page_3(30, 35).await;
    let ids = collect_ids(&server, 10).await.unwrap();
    assert_eq!(ids, expected(35));
    assert_eq!(server.count(), 4);
}

#[tokio::test]
async fn list_shrinking_while_paging_ends_at_the_empty_page() {
    let server = listing_changing_at_page_3(50, 20).await;
    let ids = collect_ids(&server, 10).await.unwrap();
    assert_eq!(ids, expected(20));
}

/// Counts a request out of `in_flight` halfway to its reply (sent after `delay`), so the
/// next request of a client waiting for that reply can never find it still counted: the
/// two timers are half the delay apart, which a busy machine's late wake-ups do not undo
/// (5 ms apart, they did).
fn leave_before_reply(in_flight: Arc<AtomicUsize>, delay: Duration) {
    if delay < Duration::from_millis(10) {
        // An immediate reply leaves now: a task spawned for it may run only after the
        // client, already answered, has sent its next request.
        in_flight.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    tokio::spawn(async move {
        tokio::time::sleep(delay / 2).await;
        in_flight.fetch_sub(1, Ordering::SeqCst);
    });
}

/// The requests a server is answering at once, and the most it ever answered at once.
#[derive(Clone, Default)]
struct InFlight {
    now: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl InFlight {
    /// Counts a request in, and out again as [`leave_before_reply`] says for `reply_delay`.
    fn arrive(&self, reply_delay: Duration) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        leave_before_reply(self.now.clone(), reply_delay);
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn prefetch_keeps_order_when_pages_complete_out_of_order() {
    let in_flight = InFlight::default();
    let counted = in_flight.clone();
    // Later pages answer faster, so completions arrive out of order.
    let server = Scripted::start(move |_, request| {
        let page = request.page();
        let delay = Duration::from_millis(if page == 1 { 0 } else { 20 * (12 - page) });
        counted.arrive(delay);
        page_reply(100, Meta::Full, request).delay(delay)
    })
    .await;
    let pages: Vec<_> = paginate(&server, 10, 4).pages().try_collect().await.unwrap();
    assert_eq!(pages.iter().map(|p| p.number).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    let ids: Vec<_> =
        pages.into_iter().flat_map(|p| p.items).map(|s| s.qualification_session_id).collect();
    assert_eq!(ids, expected(100));
    let peak = in_flight.peak();
    assert!((2..=4).contains(&peak), "peak in-flight {peak}, expected 2..=4");
}

/// While one page is slow, the pages after it are read, up to the concurrency in pages held,
/// and no further (not the concurrency plus two, nor twice it).
#[tokio::test]
async fn a_slow_page_holds_back_the_listing_with_the_concurrency_in_pages_held() {
    // (concurrency, sessions): page 2 is waited for while the pages after it are read; as
    // many pages as the concurrency are then held past page 1, so the page after them is
    // not asked for until page 2 is yielded.
    for (concurrency, sessions) in [(2, 100), (8, 300)] {
        let server = Scripted::start(move |_, request| {
            let reply = page_reply(sessions, Meta::Full, request);
            match request.page() {
                2 => reply.delay(Duration::from_millis(300)),
                _ => reply,
            }
        })
        .await;
        let mut pages = paginate(&server, 10, concurrency).pages();
        assert_eq!(pages.next().await.unwrap().unwrap().number, 1);
        assert_eq!(pages.next().await.unwrap().unwrap().number, 2);
        let mut asked: Vec<u64> = server.requests().iter().map(|r| r.page()).collect();
        asked.sort_unstable();
        let held = concurrency as u64;
        assert_eq!(asked, (1..=1 + held).collect::<Vec<_>>(), "concurrency {concurrency}");
        let rest: Vec<u64> = pages.map_ok(|p| p.number).try_collect().await.unwrap();
        let last_page = sessions as u64 / 10;
        assert_eq!(rest, (3..=last_page).collect::<Vec<_>>(), "concurrency {concurrency}");
        assert_eq!(server.count(), last_page as usize, "concurrency {concurrency}");
    }
}

#[tokio::test]
async fn concurrency_one_is_sequential() {
    let in_flight = InFlight::default();
    let counted = in_flight.clone();
    let server = Scripted::start(move |_, request| {
        counted.arrive(Duration::from_millis(10));
        page_reply(50, Meta::Full, request).delay(Duration::from_millis(10))
    })
    .await;
    let n = paginate(&server, 10, 1).items().count().await;
    assert_eq!(n, 50);
    assert_eq!(in_flight.peak(), 1);
}

/// The next page's request goes out before the page just yielded is consumed, with nothing
/// else polled. With concurrency 1, once the first page has told the plan, it goes out as
/// soon as a page's body is read, before that page is decoded and yielded: it is on the
/// wire while the consumer works. Above 1, as a page is yielded: the page `concurrency`
/// after it.
#[tokio::test]
async fn the_next_request_goes_out_before_the_page_yielded_is_consumed() {
    // (concurrency, pages taken, requests the server then sees and no more).
    for (concurrency, taken, requests) in [(1, 2, 3), (2, 1, 3), (4, 1, 5)] {
        let server = listing(50, Meta::Full).await;
        let mut pages = paginate(&server, 10, concurrency).pages();
        for number in 1..=taken {
            assert_eq!(pages.next().await.unwrap().unwrap().number, number);
        }
        // The stream is not polled again: the next request arrives at the server all the
        // same, and nothing after it (that waits for the stream to be polled).
        tokio::time::timeout(Duration::from_secs(10), async {
            while server.count() < requests {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!("concurrency {concurrency}: {} requests, not {requests}", server.count())
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.count(), requests, "concurrency {concurrency}");
        let rest: Vec<u64> = pages.map_ok(|p| p.number).try_collect().await.unwrap();
        assert_eq!(rest, (taken + 1..=5).collect::<Vec<_>>(), "concurrency {concurrency}");
    }
}

#[tokio::test]
async fn limit_caps_items_and_requests() {
    let server = listing(100, Meta::Full).await;
    let (client, _) = server.client();
    let got: Vec<_> = client
        .qualification_sessions()
        .list()
        .page_size(10)
        .paginate()
        .limit(25)
        .items()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), 25);
    assert_eq!(server.count(), 3, "no page beyond what the limit needs");

    let server = listing(100, Meta::Null).await;
    let (client, _) = server.client();
    let pages: Vec<_> = client
        .qualification_sessions()
        .list()
        .page_size(10)
        .paginate()
        .limit(10)
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!((pages.len(), pages[0].items.len()), (1, 10));
    assert_eq!(server.count(), 1);

    let server = listing(100, Meta::Full).await;
    let none = first_items(&server, 0).await;
    assert!(none.is_empty());
    assert_eq!(server.count(), 0);

    let server = listing(7, Meta::Full).await;
    let few = first_items(&server, 1000).await;
    assert_eq!(few.len(), 7);
}

#[tokio::test]
async fn a_failing_page_ends_the_stream_after_everything_before_it() {
    let server = Scripted::start(|_, request| {
        if request.page() == 3 {
            Reply::json(500, json!({"error": "Boom"}))
        } else {
            page_reply(50, Meta::Full, request)
        }
    })
    .await;
    let items: Vec<_> = paginate(&server, 10, 4).items().collect().await;
    let ok: Vec<_> = items
        .iter()
        .take_while(|r| r.is_ok())
        .map(|r| r.as_ref().unwrap().qualification_session_id.clone())
        .collect();
    assert_eq!(ok, expected(20), "pages 1 and 2, in order");
    assert!(
        matches!(items[20], Err(Error::Api(ref e)) if e.kind() == ApiErrorKind::Server),
        "{:?}",
        items[20]
    );
    assert_eq!(items.len(), 21, "nothing after the error");
    let page3 = server.requests().iter().filter(|r| r.page() == 3).count();
    assert_eq!(page3, 3, "the failing page was retried twice");
}

#[tokio::test]
async fn a_page_is_retried_and_the_listing_goes_on() {
    let failed = Arc::new(AtomicUsize::new(0));
    let server = Scripted::start(move |_, request| {
        if request.page() == 2 && failed.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::json(503, json!({}))
        } else {
            page_reply(30, Meta::Full, request)
        }
    })
    .await;
    assert_eq!(collect_ids(&server, 10).await.unwrap(), expected(30));
    assert_eq!(server.count(), 4);
}

#[tokio::test]
async fn invalid_filters_fail_the_stream_without_sending() {
    let server = listing(10, Meta::Full).await;
    let (client, _) = server.client();
    let result: Result<Vec<_>, _> =
        client.qualification_sessions().list().page_size(0).stream().try_collect().await;
    assert!(matches!(result, Err(Error::InvalidRequest(refused))
        if matches!(refused.reason(), InvalidRequestReason::PageSizeOutOfRange { page_size: 0, .. })));
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn unknown_status_items_do_not_fail_a_page() {
    let server = Scripted::sequence(vec![Reply::json(200, json!({
        "qualification_sessions": [session("qs_1", "approved"), session("qs_2", "brand_new_state")],
        "pagination": null
    })), Reply::json(200, json!({"qualification_sessions": []}))])
    .await;
    let (client, _) = server.client();
    let all: Vec<_> = client.qualification_sessions().list().stream().try_collect().await.unwrap();
    assert_eq!(all[1].status, Status::Unknown("brand_new_state".into()));
}

/// The listing types can be named: a function can return them, a struct can hold them.
fn approved_sessions(client: &truemed_ext::Client) -> truemed_ext::ItemStream {
    client
        .qualification_sessions()
        .list()
        .status(Status::Approved)
        .paginate()
        .concurrency(2)
        .items()
}

#[tokio::test]
async fn a_list_request_awaited_is_one_page_and_paginator_streams_are_nameable() {
    let server = listing(25, Meta::Full).await;
    let (client, _) = server.client();
    let page: truemed_ext::Page =
        client.qualification_sessions().list().page_size(10).page(3).await.unwrap();
    assert_eq!((page.number, page.items.len()), (3, 5));

    let all: Vec<_> = approved_sessions(&client).try_collect().await.unwrap();
    assert_eq!(all.len(), 25);
    let pages: truemed_ext::PageStream = client.qualification_sessions().list().pages();
    assert_eq!(pages.count().await, 1, "30 a page: one page");
}

#[tokio::test]
async fn prefetch_does_not_wait_for_the_first_page() {
    // Page 1 answers after 1 s; with speculative prefetch pages 2-4 are requested at once,
    // without waiting for it (fetching them after it would take at least the 1 s).
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = received.clone();
    let server = Scripted::start(move |_, request| {
        log.lock().unwrap().push((request.page(), std::time::Instant::now()));
        let reply = page_reply(40, Meta::Full, request);
        match request.page() {
            1 => reply.delay(Duration::from_secs(1)),
            _ => reply,
        }
    })
    .await;
    let ids = collect_ids_with(&server, 10, 4).await.unwrap();
    assert_eq!(ids, expected(40));
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 4, "exactly the 4 pages: nothing wasted");
    let first = received.iter().find(|(page, _)| *page == 1).unwrap().1;
    for (page, at) in &received {
        assert!(
            at.saturating_duration_since(first) < Duration::from_millis(900),
            "page {page} waited for page 1"
        );
    }
}

/// `concurrency(usize::MAX)` counts as `Paginator::MAX_CONCURRENCY`: the first poll does
/// not create page requests without end, and the listing is whole.
#[tokio::test]
async fn a_huge_concurrency_is_clamped_to_the_maximum() {
    for meta in [Meta::Full, Meta::Null] {
        let server = listing(25, meta).await;
        let ids = collect_ids_with(&server, 10, usize::MAX).await.unwrap();
        assert_eq!(ids, expected(25));
        assert!(
            server.count() <= truemed_ext::Paginator::MAX_CONCURRENCY,
            "{} requests for a listing of 3 pages",
            server.count()
        );
    }
}

/// The largest page the API can have.
const LAST_PAGE: u64 = truemed_ext::ListRequest::MAX_PAGE;

/// Has `server` answer any request with a page of one session; the mock counts the requests.
async fn one_session_for_any_request(server: &httpmock::MockServer) -> httpmock::Mock<'_> {
    server
        .mock_async(|_, then| {
            then.status(200)
                .json_body(json!({"qualification_sessions": [session("qs_1", "approved")]}));
        })
        .await
}

/// A page the API cannot have (0, or past `int64`) is refused before sending, by one
/// page's `send` and by a listing alike: nothing reaches the server.
#[tokio::test]
async fn a_page_the_api_cannot_have_is_refused_before_sending() {
    let server = httpmock::MockServer::start_async().await;
    let mock = one_session_for_any_request(&server).await;
    let client = client_to(&server.base_url());
    let list = || client.qualification_sessions().list();
    assert_eq!(LAST_PAGE, i64::MAX as u64, "the API's pages are int64");
    for page in [0, LAST_PAGE + 1, u64::MAX - 1, u64::MAX] {
        let sent = list().page(page).send().await;
        assert!(
            matches!(&sent, Err(Error::InvalidRequest(refused))
                if matches!(refused.reason(),
                    InvalidRequestReason::PageOutOfRange { page: p, .. } if *p == page)),
            "{page}: {sent:?}"
        );
        let limited: Result<Vec<_>, _> =
            list().page(page).paginate().limit(3).items().try_collect().await;
        assert!(
            matches!(&limited, Err(Error::InvalidRequest(refused))
                if matches!(refused.reason(),
                    InvalidRequestReason::PageOutOfRange { page: p, .. } if *p == page)),
            "{page}: {limited:?}"
        );
        let pages: Vec<_> = list().page(page).pages().collect().await;
        assert!(
            matches!(pages.as_slice(), [Err(Error::InvalidRequest(refused))]
                if matches!(refused.reason(),
                    InvalidRequestReason::PageOutOfRange { page: p, .. } if *p == page)),
            "{page}: {pages:?}"
        );
    }
    let error = list().page(u64::MAX).send().await.unwrap_err();
    assert!(error.to_string().contains(&LAST_PAGE.to_string()), "{error}");
    assert_eq!(mock.calls_async().await, 0);
}

/// A page size the API cannot take (0, or past `int64`) is refused before sending, by one
/// page's `send` and by a listing alike: nothing reaches the server.
#[tokio::test]
async fn a_page_size_the_api_cannot_take_is_refused_before_sending() {
    let server = httpmock::MockServer::start_async().await;
    let mock = one_session_for_any_request(&server).await;
    let client = client_to(&server.base_url());
    let list = || client.qualification_sessions().list();
    for size in [0, i64::MAX as u64 + 1, u64::MAX] {
        let refused_as_out_of_range = |result: &Result<_, Error>| {
            matches!(result, Err(Error::InvalidRequest(refused))
                if matches!(refused.reason(),
                    InvalidRequestReason::PageSizeOutOfRange { page_size, .. } if *page_size == size))
        };
        let sent = list().page_size(size).send().await.map(|_| ());
        assert!(refused_as_out_of_range(&sent), "{size}: {sent:?}");
        let streamed: Result<Vec<_>, _> = list().page_size(size).stream().try_collect().await;
        let streamed = streamed.map(|_| ());
        assert!(refused_as_out_of_range(&streamed), "{size}: {streamed:?}");
    }
    let error = list().page_size(u64::MAX).send().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("page size 18446744073709551615 is over the largest the API can take"),
        "{error}"
    );
    assert_eq!(truemed_ext::ListRequest::MAX_PAGE_SIZE, i64::MAX as u64);
    assert_eq!(mock.calls_async().await, 0, "nothing was sent");
    // The largest the API takes goes out as is.
    list().page_size(i64::MAX as u64).send().await.unwrap();
    assert_eq!(mock.calls_async().await, 1);
}

/// Two sessions on every page, ids after the page; a pagination object that reports
/// `last_page` at `int64`'s maximum (and the page asked for), or none.
fn endless_pages(meta: Meta, request: &Recorded) -> Reply {
    let page = request.page();
    let items: Vec<_> =
        ["a", "b"].iter().map(|n| session(&format!("qs_{page}_{n}"), "approved")).collect();
    let pagination = match meta {
        Meta::Full => json!({
            "count": i64::MAX, "current_page": page, "last_page": i64::MAX, "page_size": 2
        }),
        _ => serde_json::Value::Null,
    };
    Reply::json(200, json!({"qualification_sessions": items, "pagination": pagination}))
}

/// A listing that reaches the last page the API can have ends there (page numbers never
/// overflow, nor go past it), whatever `last_page` the server reports.
#[tokio::test]
async fn a_listing_ends_at_the_last_page_the_api_can_have() {
    for meta in [Meta::Full, Meta::Null] {
        for concurrency in [1, 4] {
            let server = Scripted::start(move |_, request| endless_pages(meta, request)).await;
            let (client, _) = server.client();
            let pages: Vec<_> = client
                .qualification_sessions()
                .list()
                .page(LAST_PAGE - 1)
                .paginate()
                .concurrency(concurrency)
                .limit(10)
                .pages()
                .try_collect()
                .await
                .unwrap();
            let numbers: Vec<_> = pages.iter().map(|p| p.number).collect();
            assert_eq!(numbers, [LAST_PAGE - 1, LAST_PAGE], "c {concurrency}");
            let mut asked: Vec<_> = server.requests().iter().map(|r| r.page()).collect();
            asked.sort_unstable();
            assert_eq!(asked, [LAST_PAGE - 1, LAST_PAGE], "c {concurrency}");
        }
    }
    // From the first page, a `last_page` at int64's maximum is followed as far as asked.
    let server = Scripted::start(|_, request| endless_pages(Meta::Full, request)).await;
    let items = first_items(&server, 5).await;
    assert_eq!(items.len(), 5);
}

// ---------------------------------------------------------------- listing without pagination

#[tokio::test]
async fn a_capped_page_size_without_pagination_loses_nothing() {
    // Asked for 500 a page, the server sends at most 100, of 250, with no pagination.
    let server = Scripted::start(|_, request| {
        let page = request.page() as usize;
        let items: Vec<_> = ((page - 1) * 100..(page * 100).min(250))
            .map(|n| session(&format!("qs_{n:03}"), "approved"))
            .collect();
        Reply::json(200, json!({ "qualification_sessions": items }))
    })
    .await;
    let client = client_to(&server.base_url);
    for concurrency in [1, 4] {
        let before = server.count();
        let ids: Vec<String> = client
            .qualification_sessions()
            .list()
            .page_size(500)
            .paginate()
            .concurrency(concurrency)
            .items()
            .map_ok(|s| s.qualification_session_id)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(ids.len(), 250);
        assert_eq!(ids.last().unwrap(), "qs_249");
        let requests = server.count() - before;
        match concurrency {
            1 => assert_eq!(requests, 4, "100, 100, 50, then the empty end"),
            c => assert!(requests <= 4 + (c - 1), "{requests} requests: at most c-1 wasted"),
        }
    }
}

#[tokio::test]
async fn a_404_past_the_first_page_ends_a_listing_without_pagination() {
    let server = Scripted::start(|_, request| match request.page() {
        1 => Reply::json(
            200,
            json!({"qualification_sessions": [session("qs_1", "approved"), session("qs_2", "approved")]}),
        ),
        _ => Reply::json(404, json!({"error": "NotFound"})),
    })
    .await;
    let all: Vec<_> = client_to(&server.base_url)
        .qualification_sessions()
        .list()
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    // A 404 on the first page is still an error.
    let server = Scripted::sequence(vec![Reply::json(404, json!({"error": "NotFound"}))]).await;
    let first: Result<Vec<_>, _> =
        client_to(&server.base_url).qualification_sessions().list().stream().try_collect().await;
    assert!(
        matches!(first, Err(Error::Api(ref e)) if e.kind() == ApiErrorKind::NotFound),
        "{first:?}"
    );
}
