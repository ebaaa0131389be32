//! Soak: 1,000 updates across 100 sessions, 16 at a time, against a fake injecting about 30%
//! 503/429 plus dropped connections and lost responses (seeded). Every update must succeed,
//! and the fake's records must show each applied exactly once: nothing lost, no duplicate.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use support::patient_client;
use truemed_ext::IdempotencyKey;
use truemed_ext::Operation;
use truemed_fake::{Chaos, FakeTruemed, Fault, SessionSeed};

const SESSIONS: usize = 100;
const UPDATES: usize = 1_000;
const CONCURRENCY: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_updates_through_faults_are_each_applied_exactly_once() {
    let chaos = Chaos::seeded(0x5eed)
        .with(0.18, Fault::status(503))
        .with(0.12, Fault::status(429).retry_after(Duration::ZERO))
        .with(0.04, Fault::drop_connection())
        .with(0.03, Fault::lose_response())
        .on(Operation::Update);
    let fake = FakeTruemed::builder()
        .seed_all((0..SESSIONS).map(|s| SessionSeed::new(format!("qs_soak_{s:03}"))))
        .chaos(chaos)
        .start()
        .await;
    let client = patient_client(&fake, 15, Duration::from_millis(5));

    let started = Instant::now();
    let results: Vec<_> = futures::stream::iter(0..UPDATES)
        .map(|n| {
            let sessions = client.qualification_sessions();
            async move {
                let id = format!("qs_soak_{:03}", n % SESSIONS);
                let key = IdempotencyKey::new(format!("soak-{n:04}")).unwrap();
                let mut update = sessions
                    .update(&id)
                    .idempotency_key(key)
                    .metadata_raw(format!(r#"{{"n":{n}}}"#));
                // The first update of each session also sets its user_id (set-when-null).
                if n < SESSIONS {
                    update = update.user_id(format!("user_{n:03}"));
                }
                (n, update.send().await)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();

    let failures: Vec<_> = results
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| format!("update {n}: {e}")))
        .collect();
    assert!(failures.is_empty(), "{} updates failed: {failures:#?}", failures.len());

    let stats = fake.stats();
    let applied = fake.applied_updates();
    println!(
        "soak: {UPDATES} updates over {SESSIONS} sessions in {elapsed:?}: {} requests, {} faults \
         ({} status, {} dropped, {} lost responses), {} applied, {} idempotent replays",
        stats.update_requests,
        stats.faults_injected,
        stats.status_faults,
        stats.dropped_connections,
        stats.lost_responses,
        stats.updates_applied,
        stats.idempotent_replays,
    );

    // Every update applied exactly once: 1,000 distinct (session, key) pairs.
    assert_eq!(stats.updates_applied, UPDATES as u64);
    assert_eq!(applied.len(), UPDATES);
    let distinct: HashSet<_> = applied
        .iter()
        .map(|a| (a.qualification_session_id.clone(), a.idempotency_key.clone()))
        .collect();
    assert_eq!(distinct.len(), UPDATES, "an update was applied twice");
    let keys: HashSet<_> = applied.iter().map(|a| a.idempotency_key.clone()).collect();
    let expected: HashSet<_> = (0..UPDATES).map(|n| format!("soak-{n:04}")).collect();
    assert_eq!(keys, expected, "an update was lost");

    // Each applied to the session it was sent to, with what it carried.
    for update in &applied {
        let n: usize = update.idempotency_key["soak-".len()..].parse().unwrap();
        assert_eq!(update.qualification_session_id, format!("qs_soak_{:03}", n % SESSIONS));
        assert_eq!(update.metadata.as_deref(), Some(format!(r#"{{"n":{n}}}"#).as_str()));
    }
    let mut per_session: HashMap<String, usize> = HashMap::new();
    for s in 0..SESSIONS {
        let record = fake.record(&format!("qs_soak_{s:03}")).unwrap();
        assert_eq!(record.session.user_id, Some(format!("user_{s:03}")));
        per_session
            .insert(record.session.qualification_session_id.clone(), record.idempotency_keys.len());
    }
    assert!(per_session.values().all(|&n| n == UPDATES / SESSIONS), "{per_session:?}");

    // The faults really happened, at about the configured rate, and every retry is
    // accounted for: each lost response came back as exactly one replay.
    let fault_rate = stats.faults_injected as f64 / stats.update_requests as f64;
    assert!((0.25..0.50).contains(&fault_rate), "fault rate {fault_rate}");
    assert!(
        stats.status_faults > 200 && stats.dropped_connections > 10 && stats.lost_responses > 5,
        "{stats:?}"
    );
    assert_eq!(stats.idempotent_replays, stats.lost_responses);
    assert_eq!(stats.updates_refused, 0);
    assert_eq!(
        stats.update_requests,
        stats.updates_applied
            + stats.idempotent_replays
            + stats.status_faults
            + stats.dropped_connections
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
}
