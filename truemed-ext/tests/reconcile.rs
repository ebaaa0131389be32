//! Reconciliation against the fake Truemed server: each completion yielded once, nothing
//! else; failed polls reported as items while the stream goes on; with webhooks off, down
//! and working (one handler deduplicating on the key applies each completion once).
//!
//! Nothing here waits on the clock to decide an outcome: each step drives the stream until
//! a condition holds (a poll count, an item, the watched set), under a generous deadline.

mod support;
use support::ScriptedClient as _;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures::StreamExt as _;
use support::{unreachable_url, CompletionHandler, WebhookEndpoint};
use truemed_ext::reconcile::{ReconcileEvent, ReconcileStream, Reconciliation};
use truemed_ext::{
    ApiErrorKind, CompletionKey, CompletionSource, Error, Operation, RetryPolicy, Status,
};
use truemed_fake::{Chaos, DeliveryState, FakeTruemed, Fault, SessionSeed, WebhookRetries};

const INTERVAL: Duration = Duration::from_millis(20);
const DEADLINE: Duration = Duration::from_secs(60);
const SECRET: &str = "whsec_reconcile";

/// Drives `stream` until `done(stream, events so far)` holds or the stream ends, and
/// returns the events it yielded meanwhile, and whether it ended.
async fn drive_until(
    stream: &mut ReconcileStream,
    what: &str,
    mut done: impl FnMut(&ReconcileStream, &[ReconcileEvent]) -> bool,
) -> (Vec<ReconcileEvent>, bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut events = Vec::new();
    loop {
        if done(stream, &events) {
            return (events, false);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; events so far: {events:?}"
        );
        tokio::select! {
            event = stream.next() => match event {
                Some(event) => events.push(event),
                None => return (events, true),
            },
            _ = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    }
}

/// Drives `stream` for `polls` more polls (the last one started, not finished).
async fn drive_polls(stream: &mut ReconcileStream, polls: u64) -> Vec<ReconcileEvent> {
    let target = stream.polls() + polls;
    let (events, ended) = drive_until(stream, "more polls", |s, _| s.polls() >= target).await;
    assert!(!ended, "the stream ended early: {events:?}");
    events
}

fn completions(events: &[ReconcileEvent]) -> Vec<(String, Status)> {
    events
        .iter()
        .filter_map(ReconcileEvent::completion)
        .map(|c| (c.qualification_session_id.clone(), c.status.clone()))
        .collect()
}

fn count_completions(events: &[ReconcileEvent]) -> usize {
    events.iter().filter(|e| e.completion().is_some()).count()
}

fn failures(events: &[ReconcileEvent]) -> usize {
    events.iter().filter(|e| matches!(e, ReconcileEvent::PollFailed(_))).count()
}

fn pending(ids: impl IntoIterator<Item = &'static str>) -> Vec<SessionSeed> {
    ids.into_iter().map(SessionSeed::new).collect()
}

/// `n` pending sessions `qs_0000`.., created a second apart (a stable list order).
fn many(n: usize) -> Vec<SessionSeed> {
    let start = chrono::Utc::now() - chrono::Duration::days(1);
    (0..n)
        .map(|i| {
            SessionSeed::new(format!("qs_{i:04}"))
                .created_at(start + chrono::Duration::seconds(i as i64))
        })
        .collect()
}

/// A small deterministic generator (xorshift), for orders and outcomes.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
    }
}

/// Completes `ids` in a seeded random order, approving or rejecting each at random, in
/// batches of varying size, driving the stream for a poll or two between batches so the
/// completions land between polls and during them. Returns the events yielded and each
/// session's final status. (A stream over ids may end after the last batch.)
async fn complete_in_random_order(
    fake: &FakeTruemed,
    stream: &mut ReconcileStream,
    ids: &[String],
    seed: u64,
) -> (Vec<ReconcileEvent>, BTreeMap<String, Status>) {
    let mut random = Random(seed);
    let mut order = ids.to_vec();
    random.shuffle(&mut order);
    let mut decided = BTreeMap::new();
    let mut events = Vec::new();
    let mut rest = order.as_slice();
    while !rest.is_empty() {
        let size = (5 + random.next() % 50) as usize;
        let (batch, later) = rest.split_at(size.min(rest.len()));
        for id in batch {
            let status = match random.next() % 3 {
                0 => Status::Rejected,
                _ => Status::Approved,
            };
            fake.set_status(id, status.clone()).unwrap();
            decided.insert(id.clone(), status);
        }
        rest = later;
        // A stream over ids may end with the last batch.
        let target = stream.polls() + 1 + random.next() % 2;
        let (more, _) = drive_until(stream, "more polls", |s, _| s.polls() >= target).await;
        events.extend(more);
    }
    (events, decided)
}

/// Checks that `events` hold exactly one completion per decided session, with its
/// status, and nothing else but failed polls.
fn assert_exactly_once(events: &[ReconcileEvent], decided: &BTreeMap<String, Status>) {
    let mut yielded = BTreeMap::new();
    for event in events {
        match event {
            ReconcileEvent::Completed(completion) => {
                assert!(
                    matches!(completion.source, CompletionSource::Reconciliation { .. }),
                    "{completion:?}"
                );
                let previous = yielded
                    .insert(completion.qualification_session_id.clone(), completion.status.clone());
                assert!(
                    previous.is_none(),
                    "{} yielded twice",
                    completion.qualification_session_id
                );
            }
            ReconcileEvent::PollFailed(_) => {}
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert_eq!(&yielded, decided);
}

/// A reconciliation of `fake`'s sessions, polling every [`INTERVAL`].
fn reconciliation(fake: &FakeTruemed) -> Reconciliation {
    fake.client().qualification_sessions().reconcile().interval(INTERVAL)
}

/// The ids of every session `fake` holds.
fn session_ids(fake: &FakeTruemed) -> Vec<String> {
    fake.sessions().into_iter().map(|s| s.qualification_session_id).collect()
}

/// Webhook deliveries tried twice, 1 ms apart: a failing endpoint fails fast.
fn two_quick_attempts() -> WebhookRetries {
    WebhookRetries::default().with_max_attempts(2).with_initial_backoff(Duration::from_millis(1))
}

#[tokio::test]
async fn with_ids_each_session_is_yielded_once_as_it_completes_and_the_stream_then_ends() {
    let fake = FakeTruemed::start().await;
    fake.seed_all(pending(["qs_a", "qs_b", "qs_c", "qs_d"]));
    fake.approve("qs_a"); // already terminal: waited on by id, so yielded at once
    let mut stream = reconciliation(&fake).sessions(["qs_a", "qs_b", "qs_c", "qs_d"]).stream();
    assert_eq!(stream.watched(), 4);

    let (events, _) = drive_until(&mut stream, "qs_a", |_, e| !e.is_empty()).await;
    assert_eq!(completions(&events), [("qs_a".into(), Status::Approved)]);
    let mut all = events;
    all.extend(drive_polls(&mut stream, 3).await);
    assert_eq!(all.len(), 1, "nothing else while the others wait: {all:?}");

    fake.approve("qs_b");
    let (events, _) = drive_until(&mut stream, "qs_b", |_, e| !e.is_empty()).await;
    assert_eq!(completions(&events), [("qs_b".into(), Status::Approved)]);
    all.extend(events);

    fake.reject("qs_c");
    fake.approve("qs_d");
    let (events, ended) = drive_until(&mut stream, "the end", |_, _| false).await;
    assert!(ended);
    assert!(stream.next().await.is_none(), "an ended stream stays ended");
    let mut last = completions(&events);
    last.sort();
    assert_eq!(last, [("qs_c".into(), Status::Rejected), ("qs_d".into(), Status::Approved)]);
    all.extend(events);
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(stream.watched(), 0);

    let completion = all[0].completion().unwrap();
    let CompletionSource::Reconciliation { session } = &completion.source else {
        panic!("{completion:?}")
    };
    assert_eq!(session.status, Status::Approved);
    assert!(completion.expires_at.is_some(), "the fake sets an LMN expiry");
}

#[tokio::test]
async fn an_id_given_more_than_once_is_watched_and_read_once() {
    let fake = FakeTruemed::start().await;
    fake.seed_all(pending(["qs_a", "qs_b"]));
    fake.approve("qs_a");
    fake.reject("qs_b");
    let mut stream = reconciliation(&fake)
        .sessions(["qs_a", "qs_a"])
        .sessions(vec!["qs_b".to_owned(), "qs_a".to_owned()])
        .stream();
    assert_eq!(stream.watched(), 2);
    let events: Vec<_> = tokio::time::timeout(DEADLINE, (&mut stream).collect()).await.unwrap();
    let mut yielded = completions(&events);
    yielded.sort();
    assert_eq!(yielded, [("qs_a".into(), Status::Approved), ("qs_b".into(), Status::Rejected)]);
    assert_eq!(events.len(), 2);
    assert_eq!(fake.stats().get_requests, 2);
    assert_eq!(stream.polls(), 1);
}

#[tokio::test]
async fn an_empty_list_of_ids_is_an_empty_stream_that_sends_nothing() {
    let fake = FakeTruemed::start().await;
    fake.seed_all(pending(["qs_a"]));
    let stream =
        fake.client().qualification_sessions().reconcile().sessions(Vec::<String>::new()).stream();
    let events: Vec<_> = tokio::time::timeout(DEADLINE, stream.collect()).await.unwrap();
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(fake.stats().requests, 0);
}

#[tokio::test]
async fn an_id_truemed_does_not_know_is_reported_gone_once_and_never_read_again() {
    let fake = FakeTruemed::start().await;
    fake.seed_all(pending(["qs_p"]));
    let mut stream = reconciliation(&fake).sessions(["qs_p", "qs_missing", ".."]).stream();
    let (events, _) = drive_until(&mut stream, "two gone", |_, e| e.len() >= 2).await;
    let mut gone = BTreeMap::new();
    for event in &events {
        let ReconcileEvent::Gone { qualification_session_id, error } = event else {
            panic!("{event:?}")
        };
        gone.insert(qualification_session_id.clone(), error);
    }
    assert_eq!(gone["qs_missing"].api_kind(), Some(ApiErrorKind::NotFound));
    assert!(matches!(gone[".."], Error::InvalidRequest(_)), "{:?}", gone[".."]);
    assert_eq!(stream.watched(), 1);

    let more = drive_polls(&mut stream, 3).await;
    assert!(more.is_empty(), "{more:?}");
    fake.approve("qs_p");
    let (events, ended) = drive_until(&mut stream, "the end", |_, _| false).await;
    assert!(ended);
    assert_eq!(completions(&events), [("qs_p".into(), Status::Approved)]);
    assert_eq!(events.len(), 1);
    // qs_p once per poll, qs_missing once; `..` was refused before sending.
    assert_eq!(fake.stats().get_requests, stream.polls() + 1);
}

#[tokio::test]
async fn without_ids_the_sessions_listed_waiting_are_watched_and_only_their_completions_are_yielded(
) {
    let fake = FakeTruemed::start().await;
    fake.seed_all([
        SessionSeed::new("qs_w1"),
        SessionSeed::new("qs_w2").status(Status::Processing),
        SessionSeed::new("qs_t1").status(Status::Approved),
        SessionSeed::new("qs_x"),
    ]);
    let mut stream = reconciliation(&fake).stream();
    let (mut all, _) = drive_until(&mut stream, "the first poll", |s, _| s.watched() == 3).await;

    // A new waiting session joins; one that never waited is never watched.
    fake.seed(SessionSeed::new("qs_n1"));
    fake.seed(SessionSeed::new("qs_n2").status(Status::Rejected));
    let (events, _) = drive_until(&mut stream, "qs_n1 joins", |s, _| s.watched() == 4).await;
    all.extend(events);
    all.extend(drive_polls(&mut stream, 2).await);
    assert!(all.is_empty(), "{all:?}");

    fake.approve("qs_w1");
    fake.reject("qs_w2");
    let (events, _) = drive_until(&mut stream, "two completions", |_, e| e.len() >= 2).await;
    all.extend(events);
    all.extend(drive_polls(&mut stream, 2).await);
    fake.approve("qs_n1");
    let (events, _) = drive_until(&mut stream, "qs_n1", |_, e| !e.is_empty()).await;
    all.extend(events);
    all.extend(drive_polls(&mut stream, 3).await);

    let mut yielded = completions(&all);
    yielded.sort();
    assert_eq!(
        yielded,
        [
            ("qs_n1".into(), Status::Approved),
            ("qs_w1".into(), Status::Approved),
            ("qs_w2".into(), Status::Rejected),
        ]
    );
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(stream.watched(), 1, "qs_x still waits");
    // Each completion was learnt from one `get`: nothing else was read.
    assert_eq!(fake.stats().get_requests, 3);
}

#[tokio::test]
async fn without_ids_a_watched_session_that_disappears_is_gone_and_not_yielded() {
    let fake = FakeTruemed::start().await;
    fake.seed_all(pending(["qs_a", "qs_b"]));
    let mut stream = reconciliation(&fake).stream();
    drive_until(&mut stream, "the first poll", |s, _| s.watched() == 2).await;
    fake.remove("qs_a");
    let (events, _) = drive_until(&mut stream, "qs_a gone", |_, e| !e.is_empty()).await;
    let [ReconcileEvent::Gone { qualification_session_id, error }] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(qualification_session_id, "qs_a");
    assert_eq!(error.api_kind(), Some(ApiErrorKind::NotFound));
    assert!(drive_polls(&mut stream, 3).await.is_empty());
    assert_eq!(stream.watched(), 1);
}

#[tokio::test]
async fn a_poll_whose_requests_fail_after_the_retries_is_an_item_and_the_next_poll_goes_on() {
    let fake = FakeTruemed::start().await;
    fake.seed_all(pending(["qs_a", "qs_b"]));
    fake.inject(Fault::status(503).on(Operation::Get).times(2));
    let mut stream =
        reconciliation(&fake).sessions(["qs_a", "qs_b"]).retry_policy(RetryPolicy::none()).stream();
    let (events, _) = drive_until(&mut stream, "a failed poll", |_, e| !e.is_empty()).await;
    let [ReconcileEvent::PollFailed(failure)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((failure.poll, failure.failed_requests), (1, 2));
    assert_eq!(failure.error.status().map(|s| s.as_u16()), Some(503));
    assert!(failure.to_string().contains("stay watched"), "{failure}");
    assert_eq!(stream.watched(), 2);

    // The next poll reads both again; now qs_a completes, and a dropped connection
    // fails qs_b's read.
    fake.approve("qs_a");
    fake.inject(Fault::drop_connection().on(Operation::Get));
    let (events, _) = drive_until(&mut stream, "qs_a and a failure", |_, e| {
        count_completions(e) == 1 && failures(e) == 1
    })
    .await;
    assert_eq!(completions(&events), [("qs_a".into(), Status::Approved)]);
    let failure = events
        .iter()
        .find_map(|e| match e {
            ReconcileEvent::PollFailed(f) => Some(f),
            _ => None,
        })
        .unwrap();
    assert!(matches!(failure.error, Error::Connection(_)), "{:?}", failure.error);
    assert_eq!(failure.failed_requests, 1);

    fake.reject("qs_b");
    let (events, ended) = drive_until(&mut stream, "the end", |_, _| false).await;
    assert!(ended);
    assert_eq!(completions(&events), [("qs_b".into(), Status::Rejected)]);
    assert_eq!(events.len(), 1, "{events:?}");
}

#[tokio::test]
async fn the_clients_retries_and_retry_after_absorb_a_passing_outage_without_an_item() {
    let fake = FakeTruemed::start().await;
    fake.seed_all(pending(["qs_a"]));
    fake.approve("qs_a");
    fake.inject(
        Fault::status(503).retry_after(Duration::from_millis(10)).on(Operation::Get).times(2),
    );
    let events: Vec<_> =
        tokio::time::timeout(DEADLINE, reconciliation(&fake).sessions(["qs_a"]).stream().collect())
            .await
            .unwrap();
    assert_eq!(completions(&events), [("qs_a".into(), Status::Approved)]);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(fake.stats().get_requests, 3);
}

#[tokio::test]
async fn without_ids_a_failed_listing_is_an_item_and_nothing_is_read_until_a_listing_succeeds() {
    let fake = FakeTruemed::start().await;
    fake.seed_all(pending(["qs_a"]));
    let mut stream = reconciliation(&fake).retry_policy(RetryPolicy::none()).stream();
    drive_until(&mut stream, "the first poll", |s, _| s.watched() == 1).await;
    fake.inject(Fault::status(503).on(Operation::List));
    fake.approve("qs_a");
    let (events, _) = drive_until(&mut stream, "qs_a", |_, e| count_completions(e) == 1).await;
    assert_eq!(failures(&events), 1, "{events:?}");
    assert!(matches!(&events[0], ReconcileEvent::PollFailed(f) if f.failed_requests == 1));
    assert_eq!(completions(&events), [("qs_a".into(), Status::Approved)]);
    assert_eq!(events.len(), 2);
    // Read once, after a listing that succeeded showed it gone from the waiting ones.
    assert_eq!(fake.stats().get_requests, 1);
    assert!(drive_polls(&mut stream, 3).await.is_empty());
}

#[tokio::test]
async fn with_the_webhook_endpoint_answering_500_reconciliation_finds_every_completion_once() {
    let handler = CompletionHandler::default();
    let endpoint = WebhookEndpoint::start(SECRET, handler.clone(), false).await;
    let fake = FakeTruemed::builder()
        .webhook(&endpoint.url, SECRET)
        .webhook_retries(two_quick_attempts())
        .seed_all(many(40))
        .start()
        .await;
    let ids = session_ids(&fake);
    let mut stream = reconciliation(&fake).page_size(9).stream();
    drive_until(&mut stream, "the first poll", |s, _| s.watched() == 40).await;
    let (mut events, decided) = complete_in_random_order(&fake, &mut stream, &ids, 11).await;
    let (more, _) = drive_until(&mut stream, "40 completions", |_, e| {
        count_completions(&events) + count_completions(e) >= 40
    })
    .await;
    events.extend(more);
    events.extend(drive_polls(&mut stream, 3).await);
    assert_exactly_once(&events, &decided);
    for event in &events {
        if let Some(completion) = event.completion() {
            assert!(handler.apply(completion));
        }
    }

    fake.flush_webhooks().await;
    let deliveries = fake.webhook_deliveries();
    assert_eq!(deliveries.len(), 40);
    assert!(deliveries.iter().all(|d| d.state == DeliveryState::Failed));
    assert_eq!(endpoint.deliveries(), 80, "two attempts each, all answered 500");
    let log = handler.log();
    assert_eq!(log.applied.len(), 40);
    assert!(log.applied.iter().all(|(_, path)| *path == "reconciliation"));
}

#[tokio::test]
async fn with_nothing_listening_at_the_webhook_url_reconciliation_by_id_finds_every_completion_once(
) {
    let fake = FakeTruemed::builder()
        .webhook(unreachable_url(), SECRET)
        .webhook_retries(two_quick_attempts())
        .seed_all(many(25))
        .start()
        .await;
    let ids = session_ids(&fake);
    let mut stream = reconciliation(&fake).sessions(&ids).concurrency(5).stream();
    drive_polls(&mut stream, 1).await;
    let (mut events, decided) = complete_in_random_order(&fake, &mut stream, &ids, 5).await;
    let (more, ended) = drive_until(&mut stream, "the end", |_, _| false).await;
    assert!(ended);
    events.extend(more);
    assert_exactly_once(&events, &decided);
    fake.flush_webhooks().await;
    assert!(fake.webhook_deliveries().iter().all(|d| d.state == DeliveryState::Failed));
}

#[tokio::test]
async fn with_webhooks_working_both_paths_see_each_completion_and_one_handler_applies_it_once() {
    let handler = CompletionHandler::default();
    let endpoint = WebhookEndpoint::start(SECRET, handler.clone(), true).await;
    let fake =
        FakeTruemed::builder().webhook(&endpoint.url, SECRET).seed_all(many(30)).start().await;
    let ids = session_ids(&fake);
    let mut stream = reconciliation(&fake).sessions(&ids).stream();
    // Half complete while the endpoint is down (only reconciliation sees those), half
    // while it is up (both paths do, in either order).
    endpoint.set_up(false);
    fake.set_webhook_retries(WebhookRetries::default().with_max_attempts(1));
    let (first, second) = ids.split_at(15);
    for id in first {
        fake.approve(id);
    }
    fake.flush_webhooks().await;
    endpoint.set_up(true);
    let mut applied_by_reconciliation = 0;
    let mut apply = |events: &[ReconcileEvent]| {
        for completion in events.iter().filter_map(ReconcileEvent::completion) {
            if handler.apply(completion) {
                applied_by_reconciliation += 1;
            }
        }
    };
    let (events, _) =
        drive_until(&mut stream, "15 completions", |_, e| count_completions(e) >= 15).await;
    apply(&events);
    for (i, id) in second.iter().enumerate() {
        match i % 2 {
            0 => fake.approve(id),
            _ => fake.reject(id),
        };
    }
    let (events, ended) = drive_until(&mut stream, "the end", |_, _| false).await;
    assert!(ended);
    apply(&events);
    fake.flush_webhooks().await;

    let log = handler.log();
    let keys: HashSet<CompletionKey> = log.applied.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(log.applied.len(), 30, "each completion applied once");
    assert_eq!(keys.len(), 30);
    assert_eq!(handler.received_by("reconciliation").len(), 30);
    let by_webhook: HashSet<_> = handler.received_by("webhook").into_iter().collect();
    assert_eq!(by_webhook.len(), 15, "the webhook saw the second half");
    assert!(second.iter().all(|id| by_webhook.iter().any(|k| k.qualification_session_id() == id)));
    assert_eq!(
        log.received.len(),
        45,
        "15 seen twice, applied once: {} by reconciliation",
        applied_by_reconciliation
    );
}

#[tokio::test]
async fn exactly_once_over_300_sessions_completing_in_random_order_over_pages_and_polls() {
    let handler = CompletionHandler::default();
    let endpoint = WebhookEndpoint::start(SECRET, handler.clone(), false).await;
    let fake = FakeTruemed::builder()
        .webhook(&endpoint.url, SECRET)
        .webhook_retries(WebhookRetries::default().with_max_attempts(1))
        .seed_all(many(300))
        .start()
        .await;
    let ids = session_ids(&fake);
    // Some requests fail on the way (retried by the client, or reported as failed polls).
    fake.set_chaos(Chaos::seeded(20).mixed(0.05));
    let mut stream = reconciliation(&fake).page_size(7).prefetch(3).concurrency(8).stream();
    drive_until(&mut stream, "the first poll", |s, _| s.watched() == 300).await;
    let (mut events, decided) = complete_in_random_order(&fake, &mut stream, &ids, 300).await;
    let (more, _) = drive_until(&mut stream, "300 completions", |_, e| {
        count_completions(&events) + count_completions(e) >= 300
    })
    .await;
    events.extend(more);
    events.extend(drive_polls(&mut stream, 3).await);
    assert_exactly_once(&events, &decided);
    assert_eq!(stream.watched(), 0);
    for completion in events.iter().filter_map(ReconcileEvent::completion) {
        assert!(handler.apply(completion));
    }
    assert_eq!(handler.log().applied.len(), 300);
    assert!(fake.stats().faults_injected > 0, "chaos hit some requests");
}

#[tokio::test]
async fn exactly_once_over_300_ids_with_webhooks_working_and_chaos() {
    let handler = CompletionHandler::default();
    let endpoint = WebhookEndpoint::start(SECRET, handler.clone(), true).await;
    let fake =
        FakeTruemed::builder().webhook(&endpoint.url, SECRET).seed_all(many(300)).start().await;
    let ids = session_ids(&fake);
    fake.set_chaos(Chaos::seeded(21).mixed(0.05).on(Operation::Get));
    let mut stream = reconciliation(&fake).sessions(ids.iter().rev()).concurrency(16).stream();
    let (mut events, decided) = complete_in_random_order(&fake, &mut stream, &ids, 301).await;
    let (more, ended) = drive_until(&mut stream, "the end", |_, _| false).await;
    assert!(ended);
    events.extend(more);
    assert_exactly_once(&events, &decided);
    for completion in events.iter().filter_map(ReconcileEvent::completion) {
        handler.apply(completion);
    }
    fake.flush_webhooks().await;
    let log = handler.log();
    assert_eq!(log.applied.len(), 300, "each completion applied once");
    assert_eq!(handler.received_by("reconciliation").len(), 300);
}

#[tokio::test]
async fn dropping_the_stream_stops_its_requests() {
    let fake = FakeTruemed::builder().seed_all(many(50)).start().await;
    let mut stream = fake
        .client()
        .qualification_sessions()
        .reconcile()
        .page_size(5)
        .prefetch(4)
        .interval(Duration::from_millis(1))
        .stream();
    drive_polls(&mut stream, 5).await;
    let before = fake.stats().list_requests;
    assert!(before >= 40, "four polls of ten pages: {before}");
    drop(stream);
    // Whatever was on the wire at the drop has arrived by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let settled = fake.stats().requests;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.stats().requests, settled, "no request after the drop");
}

#[tokio::test]
async fn without_ids_a_stale_listing_that_shows_a_yielded_session_waiting_again_does_not_yield_it_twice(
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use support::{Reply, Scripted};
    // A server whose listings lag: the 3rd still shows qs_a pending after a get found it
    // approved (Truemed's own sessions never leave a terminal status).
    let listings = AtomicUsize::new(0);
    let server = Scripted::start(move |_, request| {
        if request.uri.path() != "/api/v1/qualification_sessions" {
            return Reply::json(200, support::session("qs_a", "approved"));
        }
        let items = match listings.fetch_add(1, Ordering::SeqCst) {
            0 | 2 => vec![support::session("qs_a", "pending")],
            _ => vec![],
        };
        let count = items.len();
        Reply::json(
            200,
            serde_json::json!({
                "qualification_sessions": items,
                "pagination": {"count": count, "current_page": 1, "last_page": 1, "page_size": 30},
            }),
        )
    })
    .await;
    let (client, _) = server.client();
    let mut stream = client.qualification_sessions().reconcile().interval(INTERVAL).stream();
    let events = drive_polls(&mut stream, 8).await;
    assert_eq!(completions(&events), [("qs_a".into(), Status::Approved)]);
    assert_eq!(events.len(), 1, "{events:?}");
    let gets = server
        .requests()
        .iter()
        .filter(|r| r.uri.path() != "/api/v1/qualification_sessions")
        .count();
    assert_eq!(gets, 1);
}

#[tokio::test]
async fn the_stream_can_run_in_a_task_of_its_own() {
    let fake = FakeTruemed::start().await;
    fake.seed_all(pending(["qs_a"]));
    fake.reject("qs_a");
    let stream = fake.client().qualification_sessions().reconcile().sessions(["qs_a"]).stream();
    fn unpin_and_send<T: Unpin + Send + 'static>(value: T) -> T {
        value
    }
    let task = tokio::spawn(unpin_and_send(stream).collect::<Vec<_>>());
    let events = tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
    assert_eq!(completions(&events), [("qs_a".into(), Status::Rejected)]);
}
