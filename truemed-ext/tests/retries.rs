//! Retries, over real HTTP: what is retried, how long each wait is (backoff, jitter,
//! `Retry-After` and its cap), per-call and per-client policies, the retry budget under an
//! outage, and extreme settings or headers that never panic nor stall.

mod support;
use support::ScriptedClient as _;

use std::future::IntoFuture as _;
use std::time::Duration;

use futures::StreamExt as _;
use serde_json::json;
use support::{
    client_to, error_getting_qs_1, error_getting_qs_1_under, no_sleep, recording_sleeper, session,
    RawReply, RawServer, Reply, Scripted, Waits, API_KEY,
};
use truemed_ext::{ApiErrorKind, Client, RetryBudget, RetryPolicy, Status};

#[tokio::test]
async fn two_503s_are_retried_with_backoff_in_bounds_then_the_call_succeeds() {
    let server = Scripted::sequence(vec![
        Reply::json(503, json!({"error": "Unavailable"})),
        Reply::raw(503, "upstream down"),
        Reply::json(200, session("qs_1", "approved")),
    ])
    .await;
    let (client, waits) = server.client();
    let got = client.qualification_sessions().get("qs_1").await.unwrap();
    assert_eq!(got.status, Status::Approved);
    assert_eq!(server.count(), 3);
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 2);
    assert!(
        waits[0] >= Duration::from_millis(375) && waits[0] <= Duration::from_millis(500),
        "{waits:?}"
    );
    assert!(
        waits[1] >= Duration::from_millis(750) && waits[1] <= Duration::from_millis(1000),
        "{waits:?}"
    );
}

#[tokio::test]
async fn after_the_last_retry_the_call_returns_the_last_error() {
    let server =
        Scripted::sequence(vec![Reply::json(500, json!({"error": "Boom", "message": "third"}))])
            .await;
    let (client, waits) = server.client();
    let error = error_getting_qs_1(&client).await;
    assert_eq!(error.api_kind(), Some(ApiErrorKind::Server), "{error:?}");
    assert_eq!(server.count(), 3, "default: 2 retries");
    assert_eq!(waits.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn other_4xx_and_501_are_never_retried() {
    for status in [400, 401, 403, 404, 405, 422, 501] {
        let server = Scripted::sequence(vec![Reply::json(status, json!({"error": "X"}))]).await;
        let (client, waits) = server.client();
        error_getting_qs_1(&client).await;
        assert_eq!(server.count(), 1, "{status} was retried");
        assert!(waits.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn statuses_408_429_500_502_503_504_are_retried() {
    for status in [408, 429, 500, 502, 503, 504] {
        let server = Scripted::sequence(vec![
            Reply::json(status, json!({})),
            Reply::json(200, session("qs_1", "pending")),
        ])
        .await;
        let (client, _) = server.client();
        client.qualification_sessions().get("qs_1").await.unwrap();
        assert_eq!(server.count(), 2, "{status} was not retried");
    }
}

#[tokio::test]
async fn retry_after_is_honoured_in_seconds_and_http_date() {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
    let server = Scripted::sequence(vec![
        Reply::json(429, json!({"error": "RateLimited"})).header("retry-after", "3"),
        Reply::json(503, json!({})).header("retry-after", date),
        Reply::json(200, session("qs_1", "pending")),
    ])
    .await;
    let (client, waits) = server.client();
    client.qualification_sessions().get("qs_1").await.unwrap();
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits[0], Duration::from_secs(3));
    assert!(waits[1] > Duration::from_secs(27) && waits[1] <= Duration::from_secs(30), "{waits:?}");
}

#[tokio::test]
async fn retry_after_over_the_cap_returns_rate_limited_at_once() {
    let server = Scripted::sequence(vec![
        Reply::json(429, json!({"error": "RateLimited", "message": "slow down"}))
            .header("retry-after", "3600"),
        Reply::json(200, session("qs_1", "pending")),
    ])
    .await;
    let (client, waits) = server.client();
    let error = error_getting_qs_1(&client).await;
    assert_eq!(server.count(), 1);
    assert!(waits.lock().unwrap().is_empty());
    assert_eq!(error.api_kind(), Some(ApiErrorKind::RateLimited), "{error:?}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
}

#[tokio::test]
async fn a_retry_after_over_the_cap_returns_at_once_for_429_and_503_alike() {
    for status in [429, 503] {
        let server =
            Scripted::sequence(vec![Reply::json(status, json!({})).header("retry-after", "3600")])
                .await;
        let (client, waits) = server.client();
        let error = error_getting_qs_1(&client).await;
        match status {
            429 => assert_eq!(error.api_kind(), Some(ApiErrorKind::RateLimited), "{error:?}"),
            _ => assert_eq!(error.api_kind(), Some(ApiErrorKind::Server), "{error:?}"),
        }
        assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
        assert_eq!(server.count(), 1, "{status}");
        assert!(waits.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_429_for_an_exhausted_quota_is_not_retried() {
    let server =
        Scripted::sequence(vec![Reply::json(429, json!({"error": "quota_exceeded"}))]).await;
    let (client, _) = server.client();
    let error = error_getting_qs_1(&client).await;
    assert_eq!(error.api_kind(), Some(ApiErrorKind::RateLimited));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_retry_policy_set_per_call_or_per_client_overrides_the_default() {
    let server = Scripted::sequence(vec![Reply::json(503, json!({}))]).await;
    let (client, _) = server.client();
    error_getting_qs_1_under(&client, RetryPolicy::none()).await;
    assert_eq!(server.count(), 1);
    error_getting_qs_1_under(&client, RetryPolicy::default().with_max_retries(4)).await;
    assert_eq!(server.count(), 1 + 5);

    let server = Scripted::sequence(vec![Reply::json(503, json!({}))]).await;
    let client = server
        .builder()
        .retry_policy(
            RetryPolicy::default()
                .with_max_retries(1)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .build()
        .unwrap();
    client.qualification_sessions().list().send().await.unwrap_err();
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn the_default_sleeper_really_waits_between_attempts() {
    // The default sleeper really waits: 20 ms, then 40 ms (no jitter).
    let server = Scripted::sequence(vec![
        Reply::json(503, json!({})),
        Reply::json(503, json!({})),
        Reply::json(200, session("qs_1", "pending")),
    ])
    .await;
    let client = server
        .builder()
        .retry_policy(
            RetryPolicy::default().with_initial_backoff(Duration::from_millis(20)).with_jitter(0.0),
        )
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    client.qualification_sessions().get("qs_1").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(60));
}

#[tokio::test]
async fn absurd_retry_headers_never_panic_nor_stall() {
    let values: Vec<&[u8]> = vec![
        b"retry-after-ms: 1e30",
        b"retry-after-ms: inf",
        b"retry-after-ms: NaN",
        b"retry-after-ms: -5",
        b"retry-after-ms: 99999999999999999999999999",
        b"retry-after: 99999999999999999999999999",
        b"retry-after: 1e308",
        b"retry-after: -1",
        b"retry-after: Fri, 31 Dec 9999 23:59:59 GMT",
        b"retry-after: \xff\xfe garbage",
        b"retry-after-ms: \xc3\x28",
        b"x-request-id: \xff\xff\xff",
    ];
    for line in values {
        for status in [429, 503] {
            let headers = [line];
            let server =
                RawServer::start(move |_, _| RawReply::new(status, &headers, br#"{"error":"X"}"#))
                    .await;
            let client = server.client_builder().build().unwrap();
            let outcome = tokio::time::timeout(
                Duration::from_secs(10),
                client.qualification_sessions().get("qs_1").into_future(),
            )
            .await
            .expect("no stall");
            let error = outcome.unwrap_err();
            assert_eq!(error.status().map(|s| s.as_u16()), Some(status));
            // Attempts: at most the default 3, and 1 when the wait is over the cap.
            assert!(server.count() <= 3, "{}", String::from_utf8_lossy(line));

            // The same in a listing, whose pages run in tasks of their own.
            let listed: Vec<_> = client.qualification_sessions().list().pages().collect().await;
            assert!(matches!(listed.as_slice(), [Err(_)]), "{listed:?}");
        }
    }
}

#[tokio::test]
async fn under_a_sustained_outage_the_budget_stops_multiplying_traffic() {
    let server = Scripted::sequence(vec![Reply::json(503, json!({"error": "Unavailable"}))]).await;
    let client = client_to(&server.base_url);
    let wave = |client: Client| async move {
        let calls = (0..50).map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.qualification_sessions().get("qs_1").await })
        });
        for call in futures::future::join_all(calls).await {
            let error = call.unwrap().unwrap_err();
            assert!(error.is_retryable(), "the retryable error is returned as is");
        }
    };
    wave(client.clone()).await; // drains the budget: 100 retries
    let drained = server.count();
    assert_eq!(client.retry_budget_available(), Some(0), "{drained} requests");
    wave(client.clone()).await;
    let second = server.count() - drained;
    println!("first wave {drained} requests, second {second} for 50 calls");
    assert!(second <= 60, "{second} requests for 50 calls once drained");

    // Successes refill it: a recovered server brings retries back.
    let unlimited = server
        .builder()
        .retry_budget(RetryBudget::unlimited())
        .sleeper(no_sleep())
        .build()
        .unwrap();
    let before = server.count();
    wave(unlimited).await;
    assert_eq!(server.count() - before, 150, "no budget: every retry is made");
}

/// A client to `base_url` with `policy` and no retry budget, whose sleeper records each wait
/// and returns at once.
fn recording_client(base_url: &str, policy: RetryPolicy) -> (Client, Waits) {
    let (sleeper, waits) = recording_sleeper();
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(base_url)
        .retry_policy(policy)
        .retry_budget(RetryBudget::unlimited())
        .sleeper(sleeper)
        .build()
        .unwrap();
    (client, waits)
}

#[tokio::test]
async fn extreme_backoff_settings_never_panic_and_sleep_the_saturated_wait() {
    let extremes =
        [Duration::ZERO, Duration::from_nanos(1), Duration::from_secs(u64::MAX / 2), Duration::MAX];
    for initial in extremes {
        for max_backoff in extremes {
            for jitter in [0.0, 1.0] {
                let server = Scripted::sequence(vec![
                    Reply::json(503, json!({})),
                    Reply::json(503, json!({})),
                    Reply::json(503, json!({})),
                    Reply::json(200, session("qs_1", "approved")),
                ])
                .await;
                let policy = RetryPolicy::default()
                    .with_max_retries(3)
                    .with_initial_backoff(initial)
                    .with_max_backoff(max_backoff)
                    .with_jitter(jitter);
                let (client, waits) = recording_client(&server.base_url, policy);
                let got = client.qualification_sessions().get("qs_1").await;
                let case = format!("{initial:?} {max_backoff:?} jitter {jitter}");
                assert_eq!(got.unwrap().qualification_session_id, "qs_1", "{case}");
                assert_eq!(server.count(), 4, "{case}");
                let waits = waits.lock().unwrap().clone();
                assert_eq!(waits.len(), 3, "{case}");
                for (retry, wait) in waits.iter().enumerate() {
                    let doubled = initial.saturating_mul(1 << retry);
                    let capped = doubled.min(max_backoff);
                    match jitter {
                        0.0 => assert_eq!(*wait, capped, "{case}, retry {retry}"),
                        _ => assert!(*wait <= capped, "{case}, retry {retry}: {wait:?}"),
                    }
                }
            }
        }
    }
}

/// A server that answers `first`, then the session `qs_1`, and a recording client of it
/// that waits out a `Retry-After` of `cap` at the most.
async fn first_then_qs_1(first: Reply, cap: Duration) -> (Scripted, Client, Waits) {
    let server =
        Scripted::sequence(vec![first, Reply::json(200, session("qs_1", "approved"))]).await;
    let policy = RetryPolicy::default().with_max_retry_after(cap);
    let (client, waits) = recording_client(&server.base_url, policy);
    (server, client, waits)
}

#[tokio::test]
async fn a_huge_retry_after_is_waited_saturated_when_the_cap_allows_it() {
    for (header, value) in [
        ("retry-after", "99999999999999999999999999"),
        ("retry-after", "1e308"),
        ("retry-after-ms", "1e30"),
        ("retry-after-ms", "18446744073709551615999"),
    ] {
        for status in [429, 503] {
            let waiting = Reply::json(status, json!({})).header(header, value);
            let (_server, client, waits) = first_then_qs_1(waiting, Duration::MAX).await;
            client.qualification_sessions().get("qs_1").await.unwrap();
            assert_eq!(
                waits.lock().unwrap().as_slice(),
                [Duration::MAX],
                "{status} {header}: {value}"
            );

            // A cap of zero waits out nothing but an immediate retry.
            let waiting = Reply::json(status, json!({})).header(header, value);
            let (server, client, waits) = first_then_qs_1(waiting, Duration::ZERO).await;
            let error = error_getting_qs_1(&client).await;
            assert_eq!(error.retry_after(), Some(Duration::MAX), "{header}: {value}");
            assert_eq!(server.count(), 1);
            assert!(waits.lock().unwrap().is_empty());
        }
    }
    let immediate = Reply::json(503, json!({})).header("retry-after", "0");
    let (_server, client, waits) = first_then_qs_1(immediate, Duration::ZERO).await;
    client.qualification_sessions().get("qs_1").await.unwrap();
    assert_eq!(waits.lock().unwrap().as_slice(), [Duration::ZERO]);
}
