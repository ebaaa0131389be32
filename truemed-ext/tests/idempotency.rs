//! Updates and their idempotency key, over real HTTP and against the fake: one key, and the
//! same bytes, on every retry of a call; a key of its own for each call; and whether a failed
//! update may have been applied, which only a refusal rules out.

mod support;
use support::ScriptedClient as _;

use std::time::Duration;

use serde_json::json;
use support::{
    client_to, client_without_retries, no_sleep, session, set_user_id_on_qs_1, RawReply, RawServer,
    Reply, Scripted,
};
use truemed_ext::{ApiErrorKind, Error, IdempotencyKey, KeyGenerator, RetryPolicy};

#[tokio::test]
async fn an_updates_retries_send_identical_bytes_and_return_its_key() {
    let server = Scripted::sequence(vec![
        Reply::json(503, json!({})),
        Reply::raw(502, "proxy"),
        Reply::json(200, session("qs_1", "pending")),
    ])
    .await;
    let (client, _) = server.client();
    let out = client
        .qualification_sessions()
        .update("qs_1")
        .user_id("user_42")
        .metadata(&json!({"crm_id": 7}))
        .send()
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.body == requests[0].body), "bodies differ across attempts");
    let sent: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(sent["idempotency_key"], out.idempotency_key.as_str());
    assert_eq!(out.idempotency_key.as_str().len(), 36, "a UUID v4");
    assert_eq!(sent["metadata"], "{\"crm_id\":7}");
}

#[tokio::test]
async fn each_update_call_gets_its_own_generated_key() {
    let server = Scripted::sequence(vec![Reply::json(200, session("qs_1", "pending"))]).await;
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let next = counter.clone();
    let client = server
        .builder()
        .idempotency_keys(KeyGenerator::from_fn(move || {
            let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            IdempotencyKey::new(format!("test-key-{n}")).unwrap()
        }))
        .build()
        .unwrap();
    let a = set_user_id_on_qs_1(&client).await.unwrap();
    let b = set_user_id_on_qs_1(&client).await.unwrap();
    assert_eq!(
        (a.idempotency_key.as_str(), b.idempotency_key.as_str()),
        ("test-key-0", "test-key-1")
    );
}

mod with_the_fake {
    use super::*;
    use truemed_ext::Operation;
    use truemed_fake::{FakeTruemed, Fault, SessionSeed};

    #[tokio::test]
    async fn after_a_lost_response_the_same_key_applies_the_update_once() {
        let fake = FakeTruemed::start().await;
        fake.seed(SessionSeed::new("qs_1"));
        fake.inject(Fault::lose_response().on(Operation::Update));
        let client = fake.client_builder().retry_policy(RetryPolicy::none()).build().unwrap();
        let update = || client.qualification_sessions().update("qs_1").user_id("u_1");

        let error = update().send().await.unwrap_err();
        assert!(matches!(error, Error::Connection(_)), "{error:?}");
        assert!(error.may_have_been_applied());
        let key = error.idempotency_key().cloned().expect("the key is carried");
        assert_eq!(fake.stats().updates_applied, 1, "the fake applied it");

        let outcome = update().idempotency_key(key.clone()).send().await.unwrap();
        assert_eq!(outcome.idempotency_key, key);
        let stats = fake.stats();
        assert_eq!((stats.updates_applied, stats.idempotent_replays), (1, 1));
    }

    #[tokio::test]
    async fn exhausted_retries_keep_the_key_and_say_it_may_have_applied() {
        let fake = FakeTruemed::start().await;
        fake.seed(SessionSeed::new("qs_1"));
        fake.inject(Fault::lose_response().on(Operation::Update));
        fake.inject(Fault::status(503).times(5).on(Operation::Update));
        let client = fake
            .client_builder()
            .retry_policy(FakeTruemed::fast_retry_policy().with_max_retries(2))
            .build()
            .unwrap();
        let key = IdempotencyKey::new("job-7").unwrap();
        let error = client
            .qualification_sessions()
            .update("qs_1")
            .user_id("u_1")
            .idempotency_key(key.clone())
            .send()
            .await
            .unwrap_err();
        assert_eq!(error.api_kind(), Some(ApiErrorKind::Server), "{error:?}");
        assert_eq!(error.idempotency_key(), Some(&key));
        assert!(error.may_have_been_applied(), "the first attempt's response was lost");
    }
}

#[tokio::test]
async fn errors_say_whether_the_update_may_have_been_applied() {
    let cases = [
        (Reply::json(400, json!({"error": "ValidationError"})), false),
        (Reply::json(404, json!({"error": "NotFound"})), false),
        (Reply::json(429, json!({})).header("retry-after", "3600"), false),
        (Reply::json(409, json!({"error": "user_id_already_set"})), false),
        (Reply::json(500, json!({})), true),
        (Reply::raw(502, "<html>"), true),
    ];
    for (reply, applied) in cases {
        let status = reply.status;
        let server = Scripted::sequence(vec![reply]).await;
        let client = client_without_retries(&server.base_url);
        let error = set_user_id_on_qs_1(&client).await.unwrap_err();
        assert_eq!(error.may_have_been_applied(), applied, "{status}: {error:?}");
        let sent: serde_json::Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
        assert_eq!(
            error.idempotency_key().map(IdempotencyKey::as_str),
            sent["idempotency_key"].as_str(),
            "{status}"
        );
    }
    // Refused before sending: no key was sent.
    let refused = client_to("http://127.0.0.1:9")
        .qualification_sessions()
        .update("..")
        .send()
        .await
        .unwrap_err();
    assert!(!refused.may_have_been_applied());
    assert_eq!(refused.idempotency_key(), None);
}

#[tokio::test]
async fn a_timeout_then_a_4xx_still_may_have_been_applied() {
    let server = Scripted::sequence(vec![
        Reply::json(200, json!({"qualification_session_id": "qs_1", "status": "pending"}))
            .delay(Duration::from_secs(2)),
        Reply::json(409, json!({"error": "user_id_already_set"})),
    ])
    .await;
    let client =
        server.builder().timeout(Duration::from_millis(200)).sleeper(no_sleep()).build().unwrap();
    let error = set_user_id_on_qs_1(&client).await.unwrap_err();
    assert_eq!(error.api_kind(), Some(ApiErrorKind::UserIdAlreadySet), "{error:?}");
    assert!(error.may_have_been_applied(), "the timed-out attempt may have applied it");
}

#[tokio::test]
async fn only_a_4xx_proves_an_update_was_not_applied_whatever_the_status() {
    // (status, may have been applied, attempts with the default 2 retries)
    let cases = [
        (101, true, 3),
        (600, true, 3),
        (799, true, 3),
        (999, true, 3),
        (300, true, 1),
        (302, true, 1),
        (304, true, 1),
        (400, false, 1),
        (403, false, 1),
        (404, false, 1),
        (422, false, 1),
        (451, false, 1),
        (499, false, 1),
        (408, false, 3),
        (500, true, 3),
        (503, true, 3),
        (501, false, 1),
        (505, true, 1),
        (599, true, 1),
    ];
    for (status, applied, attempts) in cases {
        let server = RawServer::start(move |_, _| {
            RawReply::new(status, &[b"content-type: application/json"], br#"{"error":"X"}"#)
        })
        .await;
        let client = server.client_builder().build().unwrap();
        let outcome = tokio::time::timeout(
            Duration::from_secs(30),
            client.qualification_sessions().update("qs_1").user_id("u").send(),
        )
        .await
        .expect("no stall");
        let error = outcome.unwrap_err();
        assert_eq!(error.may_have_been_applied(), applied, "{status}: {error:?}");
        assert_eq!(server.count(), attempts, "{status}: {error:?}");
        assert!(error.idempotency_key().is_some(), "{status}");
        assert_eq!(error.status().map(|s| s.as_u16()), Some(status), "{error:?}");
        // Every attempt carried the same key.
        let keys: std::collections::HashSet<String> = server
            .requests()
            .iter()
            .map(|request| {
                let body = &request[request.find("\r\n\r\n").unwrap() + 4..];
                let sent: serde_json::Value = serde_json::from_str(body).unwrap();
                sent["idempotency_key"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(keys.len(), 1, "{status}");
    }
}

#[tokio::test]
async fn a_conflict_other_than_user_id_already_set_is_retried_with_the_same_key() {
    let busy =
        json!({"error": "Conflict", "message": "another request with this key is in progress"});
    let server = Scripted::sequence(vec![
        Reply::json(409, busy.clone()),
        Reply::json(409, busy),
        Reply::json(200, json!({"qualification_session_id": "qs_1", "status": "pending"})),
    ])
    .await;
    let outcome = set_user_id_on_qs_1(&client_to(&server.base_url)).await.unwrap();
    let keys: Vec<String> = server
        .requests()
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            body["idempotency_key"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k == outcome.idempotency_key.as_str()));

    let server = Scripted::sequence(vec![Reply::json(
        409,
        json!({"error": "Conflict", "message": "another request with this key is in progress"}),
    )])
    .await;
    let error = set_user_id_on_qs_1(&client_to(&server.base_url)).await.unwrap_err();
    let Error::Api(response) = &error else { panic!("{error:?}") };
    assert_eq!(response.kind(), ApiErrorKind::Conflict);
    assert_eq!(response.code(), Some("Conflict"));
    assert!(error.to_string().contains("another request"), "{error}");
    assert_ne!(error.api_kind(), Some(ApiErrorKind::UserIdAlreadySet));
}
