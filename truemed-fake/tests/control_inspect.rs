//! What the control API reports of what the fake did, over real HTTP: the ledger of applied
//! updates and the deliveries, newest first up to a limit; and `POST /_fake/reset`.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{call, fake, Reply, Scripted};
use truemed_fake::SessionSeed;

#[tokio::test]
async fn the_ledger_lists_each_applied_update_once() {
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake.seed(SessionSeed::new("qs_2"));
    let path = "/api/v1/qualification_session/qs_1/update";
    let update = json!({"idempotency_key": "k1", "user_id": "user_42", "metadata": "{\"n\":1}"});
    for _ in 0..2 {
        let (status, _) = call(&fake, "POST", path, Some(update.clone())).await;
        assert_eq!(status, 200);
    }
    let (status, _) =
        call(&fake, "POST", path, Some(json!({"idempotency_key": "k2", "user_id": "other"}))).await;
    assert_eq!(status, 409);
    call(
        &fake,
        "POST",
        "/api/v1/qualification_session/qs_2/update",
        Some(json!({"idempotency_key": "k1", "success_url": "https://shop.example/ok"})),
    )
    .await;

    let (status, ledger) = call(&fake, "GET", "/_fake/ledger", None).await;
    assert_eq!(status, 200);
    let applied = ledger["applied_updates"].as_array().unwrap();
    assert_eq!(applied.len(), 2);
    assert_eq!(applied[0]["qualification_session_id"], "qs_1");
    assert_eq!(applied[0]["idempotency_key"], "k1");
    assert_eq!(applied[0]["user_id"], "user_42");
    assert_eq!(applied[0]["metadata"], "{\"n\":1}");
    assert!(applied[0]["applied_at"].is_string());
    assert_eq!(applied[1]["success_url"], "https://shop.example/ok");
    let (_, only) = call(&fake, "GET", "/_fake/ledger?qualification_session_id=qs_2", None).await;
    assert_eq!(only["applied_updates"].as_array().unwrap().len(), 1);

    let (_, record) = call(&fake, "GET", "/_fake/sessions/qs_1", None).await;
    assert_eq!(record["idempotency_keys"], json!(["k1"]));
    assert_eq!(record["user_id"], "user_42");

    let (_, stats) = call(&fake, "GET", "/_fake/stats", None).await;
    assert_eq!(stats["updates_applied"], 2);
    assert_eq!(stats["idempotent_replays"], 1);
    assert_eq!(stats["updates_refused"], 1);
    assert_eq!(stats["update_requests"], 4);
}

#[tokio::test]
async fn the_ledger_answers_its_newest_updates_up_to_a_limit() {
    use truemed_fake::DEFAULT_CONTROL_LIMIT;
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake.seed(SessionSeed::new("qs_2"));
    let all = DEFAULT_CONTROL_LIMIT + 5;
    for n in 0..all {
        let id = if n % 2 == 0 { "qs_1" } else { "qs_2" };
        let path = format!("/api/v1/qualification_session/{id}/update");
        let body = json!({"idempotency_key": format!("k{n}"), "metadata": format!("{n}")});
        let (status, _) = call(&fake, "POST", &path, Some(body)).await;
        assert_eq!(status, 200);
    }
    let keys = |ledger: &Value| -> Vec<String> {
        ledger["applied_updates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["idempotency_key"].as_str().unwrap().to_owned())
            .collect()
    };
    let expected =
        |range: std::ops::Range<usize>| -> Vec<String> { range.map(|n| format!("k{n}")).collect() };

    // Without a limit: the newest DEFAULT_CONTROL_LIMIT, oldest first; `total` counts all.
    let (status, ledger) = call(&fake, "GET", "/_fake/ledger", None).await;
    assert_eq!(status, 200);
    assert_eq!(keys(&ledger), expected(5..all));
    assert_eq!(ledger["total"], all);
    let (_, ledger) = call(&fake, "GET", "/_fake/ledger?limit=3", None).await;
    assert_eq!(keys(&ledger), expected(all - 3..all));
    assert_eq!(ledger["total"], all);
    let (_, ledger) = call(&fake, "GET", "/_fake/ledger?limit=1000", None).await;
    assert_eq!(keys(&ledger), expected(0..all));
    // The limit applies after the filter.
    let (_, ledger) =
        call(&fake, "GET", "/_fake/ledger?qualification_session_id=qs_2&limit=2", None).await;
    assert_eq!(keys(&ledger), [format!("k{}", all - 4), format!("k{}", all - 2)]);
    assert_eq!(ledger["total"], all / 2);
    assert_eq!(fake.applied_updates().len(), all);
}

#[tokio::test]
async fn the_deliveries_answer_the_newest_up_to_a_limit() {
    use truemed_fake::DEFAULT_CONTROL_LIMIT;
    let (fake, _receiver) = support::fake_delivering_once("whsec_limit").await;
    let all = DEFAULT_CONTROL_LIMIT + 1;
    for n in 0..all {
        let id = format!("qs_{n}");
        fake.seed(SessionSeed::new(&id));
        fake.approve(&id);
    }
    fake.flush_webhooks().await;
    let sessions = |list: &Value| -> Vec<String> {
        list["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["qualification_session_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let expected = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|n| format!("qs_{n}")).collect()
    };

    let (status, list) = call(&fake, "GET", "/_fake/webhooks", None).await;
    assert_eq!(status, 200);
    assert_eq!(sessions(&list), expected(1..all));
    assert_eq!(list["total"], all);
    let (_, list) = call(&fake, "GET", "/_fake/webhooks?limit=2", None).await;
    assert_eq!(sessions(&list), expected(all - 2..all));
    assert_eq!(list["deliveries"][1]["state"], "delivered");
    let (_, list) =
        call(&fake, "GET", "/_fake/webhooks?limit=5&qualification_session_id=qs_0", None).await;
    assert_eq!(sessions(&list), ["qs_0"]);
    assert_eq!(list["total"], 1);
    assert_eq!(fake.webhook_deliveries().len(), all);
}

#[tokio::test]
async fn reset_returns_to_how_the_fake_started() {
    let receiver = Scripted::sequence(vec![Reply::raw(204, "")]).await;
    let fake = support::builder().seed(SessionSeed::new("qs_initial")).start().await;
    call(&fake, "POST", "/_fake/sessions", Some(json!({"qualification_session_id": "qs_new"})))
        .await;
    call(
        &fake,
        "POST",
        "/api/v1/qualification_session/qs_initial/update",
        Some(json!({"idempotency_key": "k", "user_id": "u"})),
    )
    .await;
    call(&fake, "POST", "/_fake/faults", Some(json!({"kind": "drop_connection", "times": 9})))
        .await;
    call(
        &fake,
        "PUT",
        "/_fake/webhook_endpoint",
        Some(json!({"url": receiver.base_url, "secret": "s"})),
    )
    .await;
    call(&fake, "PUT", "/_fake/latency", Some(json!({"latency_ms": 20}))).await;
    call(&fake, "POST", "/_fake/sessions/qs_new/approve", None).await;
    fake.flush_webhooks().await;
    assert_eq!(fake.webhook_deliveries().len(), 1);

    let (status, _) = call(&fake, "POST", "/_fake/reset", None).await;
    assert_eq!(status, 204);
    let (_, list) = call(&fake, "GET", "/_fake/sessions", None).await;
    let ids: Vec<&Value> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["qualification_session_id"])
        .collect();
    assert_eq!(ids, [&json!("qs_initial")]);
    assert!(list["sessions"][0]["user_id"].is_null());
    let (_, stats) = call(&fake, "GET", "/_fake/stats", None).await;
    assert_eq!(stats["requests"], 0);
    assert_eq!(stats["pending_faults"], 0);
    let (_, ledger) = call(&fake, "GET", "/_fake/ledger", None).await;
    assert_eq!(ledger["applied_updates"], json!([]));
    let (_, deliveries) = call(&fake, "GET", "/_fake/webhooks", None).await;
    assert_eq!(deliveries["deliveries"], json!([]));
    let (_, endpoint) = call(&fake, "GET", "/_fake/webhook_endpoint", None).await;
    assert!(endpoint["url"].is_null());
    assert_eq!(fake.latency(), Duration::ZERO);
    // The update can be made again: the idempotency records are gone.
    let (status, _) = call(
        &fake,
        "POST",
        "/api/v1/qualification_session/qs_initial/update",
        Some(json!({"idempotency_key": "k", "user_id": "u2"})),
    )
    .await;
    assert_eq!(status, 200);

    let (status, _) = call(&fake, "POST", "/_fake/reset", Some(json!({"sessions": "none"}))).await;
    assert_eq!(status, 204);
    assert!(fake.sessions().is_empty());
}
