//! `truemed-fake serve` as a user runs it: `listening on`, the API and the control API
//! over HTTP, webhooks to a local receiver as its flags say, demo sessions or a seed file,
//! chaos, and stopping on SIGTERM and Ctrl-C.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{run, verify_both_ways, Reply, Scripted, Served};
use truemed_ext::webhook::WebhookVerifier;
use truemed_ext::{Client, Status};

const KEY: &str = "sk_test_cli";

/// Starts `truemed-fake serve --port 0 --api-key KEY ARGS`.
fn serve(args: &[&str]) -> Served {
    support::serve(KEY, args)
}

/// A request to the served fake with its key.
async fn call(served: &Served, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    support::request(&served.url, KEY, method, path, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_the_api_and_the_control_api() {
    let served = serve(&["--empty"]);
    let (status, list) = call(&served, "GET", "/_fake/sessions", None).await;
    assert_eq!((status, list), (200, json!({"sessions": []})));
    let (status, _) = call(
        &served,
        "POST",
        "/_fake/sessions",
        Some(json!({"qualification_session_id": "qs_cli", "email": "ada@example.com"})),
    )
    .await;
    assert_eq!(status, 201);

    // The Rust client against the binary.
    let client = Client::builder().api_key(KEY).base_url(&served.url).build().unwrap();
    let sessions = client.qualification_sessions();
    let out = sessions.update("qs_cli").user_id("user_42").send().await.unwrap();
    assert_eq!(out.status, Status::Pending);
    let (_, decision) = call(&served, "POST", "/_fake/sessions/qs_cli/approve", None).await;
    assert_eq!(decision["session"]["status"], "approved");
    assert_eq!(sessions.get("qs_cli").await.unwrap().status, Status::Approved);
    let (_, ledger) = call(&served, "GET", "/_fake/ledger", None).await;
    assert_eq!(ledger["applied_updates"][0]["user_id"], "user_42");
    let (status, _) = call(&served, "GET", "/_fake/stats", None).await;
    assert_eq!(status, 200);

    // The wrong key is refused on both.
    let response = reqwest::get(format!("{}/_fake/stats", served.url)).await.unwrap();
    assert_eq!(response.status(), 401);
}

/// `serve --empty` delivering its webhooks to `url`, signed with `whsec_cli`, in
/// `attempts` attempts each, the first `backoff_ms` apart.
fn serve_webhooks_to(url: &str, attempts: &str, backoff_ms: &str) -> Served {
    serve(&[
        "--empty",
        "--webhook-url",
        url,
        "--webhook-secret",
        "whsec_cli",
        "--webhook-attempts",
        attempts,
        "--webhook-backoff-ms",
        backoff_ms,
    ])
}

/// Creates the pending session `id` through the control API.
async fn create_session(served: &Served, id: &str) {
    let body = json!({ "qualification_session_id": id });
    call(served, "POST", "/_fake/sessions", Some(body)).await;
}

/// Sends `signal` (as `kill` spells it: `-TERM`, `-INT`) to the served fake and expects
/// it to exit successfully within 10 s.
#[cfg(unix)]
fn signal_and_expect_a_clean_exit(served: &mut Served, signal: &str) {
    let pid = served.child().id().to_string();
    let status = Command::new("kill").args([signal, &pid]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = served.child().try_wait().unwrap() {
            assert!(exit.success(), "{signal}: {exit:?}");
            break;
        }
        assert!(Instant::now() < deadline, "still running 10 s after {signal}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[test]
fn serve_stops_cleanly_on_sigterm() {
    let mut served = serve(&["--empty"]);
    signal_and_expect_a_clean_exit(&mut served, "-TERM");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_its_deliveries_on_sigterm_and_ctrl_c() {
    for signal in ["-TERM", "-INT"] {
        // A receiver that always fails: each delivery is retried, 20 ms doubling, 20 times.
        let receiver = Scripted::sequence(vec![Reply::raw(500, "no")]).await;
        let url = format!("{}/hooks/truemed", receiver.base_url);
        let mut served = serve_webhooks_to(&url, "20", "20");
        for id in ["qs_1", "qs_2"] {
            create_session(&served, id).await;
            let path = format!("/_fake/sessions/{id}/approve");
            let (status, _) = call(&served, "POST", &path, None).await;
            assert_eq!(status, 200);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while receiver.count() < 2 {
            assert!(Instant::now() < deadline, "no deliveries");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        tokio::task::block_in_place(|| signal_and_expect_a_clean_exit(&mut served, signal));
        // An attempt already on the wire may still land: a generous grace, then nothing.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after_stop = receiver.count();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(receiver.count(), after_stop, "deliveries went on after {signal}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_delivers_webhooks_to_the_url_of_its_flags() {
    let receiver = Scripted::sequence(vec![Reply::raw(500, "not yet"), Reply::raw(204, "")]).await;
    let url = format!("{}/hooks/truemed", receiver.base_url);
    let served = serve_webhooks_to(&url, "3", "10");
    let (_, endpoint) = call(&served, "GET", "/_fake/webhook_endpoint", None).await;
    assert_eq!(endpoint["url"], url);
    assert_eq!(endpoint["attempts"], 3);
    assert_eq!(endpoint["backoff_ms"], 10);
    call(
        &served,
        "POST",
        "/_fake/sessions",
        Some(json!({"qualification_session_id": "qs_1", "user_id": "user_7"})),
    )
    .await;
    let (_, decision) = call(&served, "POST", "/_fake/sessions/qs_1/approve", None).await;
    let delivery_id = decision["webhook_delivery_id"].as_str().unwrap().to_owned();
    let (_, flushed) = call(&served, "POST", "/_fake/webhooks/flush", None).await;
    assert_eq!(flushed["complete"], true);
    let delivery = &flushed["deliveries"][0];
    assert_eq!(delivery["webhook_delivery_id"], delivery_id.as_str());
    assert_eq!(delivery["state"], "delivered");
    assert_eq!(delivery["attempts"][0]["status"], 500);
    assert_eq!(delivery["attempts"][0]["response_body"], "not yet");
    assert_eq!(delivery["attempts"][1]["status"], 204);

    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        let envelope = verify_both_ways("whsec_cli", request);
        assert_eq!(envelope["webhook_delivery_id"], delivery_id.as_str());
        assert_eq!(envelope["data"]["qualification_session_id"], "qs_1");
        assert_eq!(envelope["data"]["user_id"], "user_7");
        assert_eq!(envelope["data"]["status"], "approved");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sends_unsigned_webhooks_with_unsigned() {
    let receiver = Scripted::sequence(vec![Reply::raw(204, "")]).await;
    let served = serve(&[
        "--empty",
        "--webhook-url",
        &receiver.base_url,
        "--webhook-secret",
        "shared_cli",
        "--unsigned",
    ]);
    create_session(&served, "qs_1").await;
    call(&served, "POST", "/_fake/sessions/qs_1/reject", None).await;
    call(&served, "POST", "/_fake/webhooks/flush", None).await;
    let request = &receiver.requests()[0];
    assert_eq!(request.headers["x-truemed-api-key"], "shared_cli");
    let payload = WebhookVerifier::new("shared_cli")
        .verify_unsigned(&request.headers, &request.body)
        .unwrap();
    assert_eq!(payload.status, Status::Rejected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_seeds_demo_sessions_or_a_file() {
    let served = serve(&[]);
    let (_, list) = call(&served, "GET", "/_fake/sessions", None).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 50);
    drop(served);

    let dir = std::env::temp_dir().join(format!("truemed-fake-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sessions.json");
    std::fs::write(
        &file,
        json!([
            {"qualification_session_id": "qs_a", "status": "approved", "created_at": "2024-01-02T09:00:00Z"},
            {"qualification_session_id": "qs_b", "status": "pending"},
        ])
        .to_string(),
    )
    .unwrap();
    let served = serve(&["--seed", file.to_str().unwrap()]);
    let (_, list) = call(&served, "GET", "/_fake/sessions", None).await;
    let ids: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["qualification_session_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["qs_a", "qs_b"]);
    // Reset returns to the file's sessions.
    call(&served, "DELETE", "/_fake/sessions/qs_a", None).await;
    call(&served, "POST", "/_fake/reset", None).await;
    let (_, list) = call(&served, "GET", "/_fake/sessions", None).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 2);
    drop(served);

    std::fs::write(&file, "[{\"status\": 1}]").unwrap();
    let output = run(&["serve", "--seed", file.to_str().unwrap()]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("sessions.json"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_chaos_hits_api_requests_only() {
    let served = serve(&["--empty", "--chaos", "1", "--chaos-seed", "3"]);
    create_session(&served, "qs_1").await;
    let http = reqwest::Client::new();
    for _ in 0..10 {
        // Every request draws a fault: an error status, or no answer at all.
        let answer = http
            .get(format!("{}/api/v1/qualification_session/qs_1", served.url))
            .header("x-truemed-api-key", KEY)
            .send()
            .await;
        if let Ok(response) = answer {
            assert!([429, 503].contains(&response.status().as_u16()), "{}", response.status());
        }
    }
    let (_, stats) = call(&served, "GET", "/_fake/stats", None).await;
    assert_eq!(stats["faults_injected"], 10);
    assert_eq!(stats["get_requests"], 10);
}
