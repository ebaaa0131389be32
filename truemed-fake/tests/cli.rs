//! The `truemed-fake` binary as a user runs it: `serve` (flags, `listening on`, the API and
//! the control API over HTTP, webhooks to a local receiver, SIGTERM) and `trigger` (exit
//! codes, what it prints, what the receiver gets).

mod support;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac as _};
use serde_json::{json, Value};
use sha2::Sha256;
use support::{Reply, Scripted};
use truemed_ext::webhook::{WebhookEvent, WebhookVerifier};
use truemed_ext::{Client, Status};

const BIN: &str = env!("CARGO_BIN_EXE_truemed-fake");
const KEY: &str = "sk_test_cli";

/// A running `truemed-fake serve`, killed when dropped.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `truemed-fake serve --port 0 --api-key KEY ARGS` and waits for `listening on`.
fn serve(args: &[&str]) -> Served {
    let mut child = Command::new(BIN)
        .args(["serve", "--port", "0", "--api-key", KEY])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if send.send(line.unwrap_or_default()).is_err() {
                return;
            }
        }
    });
    let line = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("no `listening on` line within 30 s");
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(!url.ends_with(":0"), "{url}");
    Served { child, url }
}

/// Runs the binary to completion with these arguments.
async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || Command::new(BIN).args(args).output().unwrap())
        .await
        .unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

async fn call(served: &Served, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", served.url),
        )
        .header("x-truemed-api-key", KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn hmac_hex(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a signed delivery with the crate's verifier and with an HMAC computed here;
/// returns the envelope.
fn verify_both_ways(secret: &str, request: &support::Recorded) -> Value {
    WebhookVerifier::new(secret)
        .verify_signed(&request.headers, &request.body)
        .unwrap();
    let header = request.headers["x-truemed-signature"].to_str().unwrap();
    let t = header
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .unwrap();
    let v1 = header
        .split(',')
        .find_map(|p| p.strip_prefix("v1="))
        .unwrap();
    assert_eq!(v1, hmac_hex(secret, t, &request.body));
    serde_json::from_slice(&request.body).unwrap()
}

// ---------------------------------------------------------------------------------------
// serve
// ---------------------------------------------------------------------------------------

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
    let client = Client::builder()
        .api_key(KEY)
        .base_url(&served.url)
        .build()
        .unwrap();
    let sessions = client.qualification_sessions();
    let out = sessions
        .update("qs_cli")
        .user_id("user_42")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status, Status::Pending);
    let (_, decision) = call(&served, "POST", "/_fake/sessions/qs_cli/approve", None).await;
    assert_eq!(decision["session"]["status"], "approved");
    assert_eq!(
        sessions.get("qs_cli").await.unwrap().status,
        Status::Approved
    );
    let (_, ledger) = call(&served, "GET", "/_fake/ledger", None).await;
    assert_eq!(ledger["applied_updates"][0]["user_id"], "user_42");
    let (status, _) = call(&served, "GET", "/_fake/stats", None).await;
    assert_eq!(status, 200);

    // The wrong key is refused on both.
    let response = reqwest::get(format!("{}/_fake/stats", served.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[cfg(unix)]
#[test]
fn serve_stops_cleanly_on_sigterm() {
    let mut served = serve(&["--empty"]);
    let pid = served.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = served.child.try_wait().unwrap() {
            assert!(exit.success(), "{exit:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_its_deliveries_on_sigterm_and_ctrl_c() {
    for signal in ["-TERM", "-INT"] {
        // A receiver that always fails: each delivery is retried, 20 ms doubling, 20 times.
        let receiver = Scripted::sequence(vec![Reply::raw(500, "no")]).await;
        let url = format!("{}/hooks/truemed", receiver.base_url);
        let mut served = serve(&[
            "--empty",
            "--webhook-url",
            &url,
            "--webhook-secret",
            "whsec_cli",
            "--webhook-attempts",
            "20",
            "--webhook-backoff-ms",
            "20",
        ]);
        for id in ["qs_1", "qs_2"] {
            let body = json!({ "qualification_session_id": id });
            call(&served, "POST", "/_fake/sessions", Some(body)).await;
            let path = format!("/_fake/sessions/{id}/approve");
            let (status, _) = call(&served, "POST", &path, None).await;
            assert_eq!(status, 200);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while receiver.count() < 2 {
            assert!(Instant::now() < deadline, "no deliveries");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        let pid = served.child.id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(exit) = served.child.try_wait().unwrap() {
                assert!(exit.success(), "{signal}: {exit:?}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "still running 10 s after {signal}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // An attempt already on the wire may still land: a generous grace, then nothing.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after_stop = receiver.count();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            receiver.count(),
            after_stop,
            "deliveries went on after {signal}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_delivers_webhooks_to_the_url_of_its_flags() {
    let receiver = Scripted::sequence(vec![Reply::raw(500, "not yet"), Reply::raw(204, "")]).await;
    let url = format!("{}/hooks/truemed", receiver.base_url);
    let served = serve(&[
        "--empty",
        "--webhook-url",
        &url,
        "--webhook-secret",
        "whsec_cli",
        "--webhook-attempts",
        "3",
        "--webhook-backoff-ms",
        "10",
    ]);
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
    call(
        &served,
        "POST",
        "/_fake/sessions",
        Some(json!({"qualification_session_id": "qs_1"})),
    )
    .await;
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
    let output = run(strings(&["serve", "--seed", file.to_str().unwrap()])).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("sessions.json"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_chaos_hits_api_requests_only() {
    let served = serve(&["--empty", "--chaos", "1", "--chaos-seed", "3"]);
    call(
        &served,
        "POST",
        "/_fake/sessions",
        Some(json!({"qualification_session_id": "qs_1"})),
    )
    .await;
    let http = reqwest::Client::new();
    for _ in 0..10 {
        // Every request draws a fault: an error status, or no answer at all.
        let answer = http
            .get(format!("{}/api/v1/qualification_session/qs_1", served.url))
            .header("x-truemed-api-key", KEY)
            .send()
            .await;
        if let Ok(response) = answer {
            assert!(
                [429, 503].contains(&response.status().as_u16()),
                "{}",
                response.status()
            );
        }
    }
    let (_, stats) = call(&served, "GET", "/_fake/stats", None).await;
    assert_eq!(stats["faults_injected"], 10);
    assert_eq!(stats["get_requests"], 10);
}

#[tokio::test]
async fn bad_flags_exit_2_with_a_message() {
    for args in [
        vec!["serve", "--chaos", "2"],
        vec!["serve", "--webhook-url", "http://127.0.0.1:1/h"],
        vec!["serve", "--webhook-secret", "s"],
        vec!["serve", "--webhook-url", "ftp://x", "--webhook-secret", "s"],
        vec!["serve", "--webhook-attempts", "0"],
        vec!["serve", "--seed", "x.json", "--empty"],
        vec!["serve", "--api-key", ""],
        vec!["trigger", "--secret", "s"],
        vec![
            "trigger",
            "--url",
            "http://127.0.0.1:1/",
            "--secret",
            "s",
            "--status",
            "pending",
        ],
        vec!["explode"],
        vec![],
    ] {
        let output = run(strings(&args)).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
    let help = run(strings(&["--help"])).await;
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("serve") && help.contains("trigger"), "{help}");
    let help = run(strings(&["serve", "--help"])).await;
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--port",
        "--api-key",
        "--webhook-url",
        "--webhook-secret",
        "--unsigned",
        "--chaos",
        "--chaos-seed",
        "--seed",
        "--webhook-attempts",
    ] {
        assert!(help.contains(flag), "serve --help lacks {flag}");
    }
}

// ---------------------------------------------------------------------------------------
// trigger
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_sends_one_signed_delivery_and_exits_0_on_2xx() {
    let receiver = Scripted::sequence(vec![Reply::raw(200, "thanks")]).await;
    let url = format!("{}/hooks/truemed", receiver.base_url);
    let output = run(strings(&[
        "trigger",
        "--url",
        &url,
        "--secret",
        "whsec_trigger",
        "--session",
        "qs_trigger",
        "--status",
        "rejected",
        "--user-id",
        "user_9",
    ]))
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.starts_with("HTTP 200 OK"), "{stdout}");
    assert!(stdout.contains("thanks"), "{stdout}");

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].uri.path(), "/hooks/truemed");
    let envelope = verify_both_ways("whsec_trigger", &requests[0]);
    assert_eq!(envelope["event_type"], "qualification_session.complete");
    assert!(envelope["webhook_delivery_id"]
        .as_str()
        .unwrap()
        .starts_with("whd_"));
    let delivery = WebhookVerifier::new("whsec_trigger")
        .verify_signed(&requests[0].headers, &requests[0].body)
        .unwrap();
    let WebhookEvent::QualificationSessionComplete(payload) = delivery.event else {
        panic!("not a completion");
    };
    assert_eq!(payload.qualification_session_id, "qs_trigger");
    assert_eq!(payload.status, Status::Rejected);
    assert_eq!(payload.user_id.as_deref(), Some("user_9"));

    // Defaults: approved, a generated id, an expiry.
    let output = run(strings(&[
        "trigger",
        "--url",
        &url,
        "--secret",
        "whsec_trigger",
    ]))
    .await;
    assert!(output.status.success());
    let envelope = verify_both_ways("whsec_trigger", &receiver.requests()[1]);
    assert_eq!(envelope["data"]["status"], "approved");
    assert!(envelope["data"]["qualification_session_id"]
        .as_str()
        .unwrap()
        .starts_with("qs_"));
    assert!(envelope["data"]["expires_at"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_exits_non_zero_unless_2xx() {
    let receiver = Scripted::sequence(vec![Reply::raw(500, "boom"), Reply::raw(302, "")]).await;
    for expected in ["HTTP 500", "HTTP 302"] {
        let output = run(strings(&[
            "trigger",
            "--url",
            &receiver.base_url,
            "--secret",
            "s",
        ]))
        .await;
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.starts_with(expected), "{stdout}");
    }
    // Nobody listening: no answer, non-zero, and why.
    let output = run(strings(&[
        "trigger",
        "--url",
        "http://127.0.0.1:9/hooks",
        "--secret",
        "s",
        "--timeout-ms",
        "2000",
    ]))
    .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no answer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_unsigned_sends_the_secret_in_the_api_key_header() {
    let receiver = Scripted::sequence(vec![Reply::raw(204, "")]).await;
    let output = run(strings(&[
        "trigger",
        "--url",
        &receiver.base_url,
        "--secret",
        "shared",
        "--unsigned",
        "--session",
        "qs_u",
    ]))
    .await;
    assert!(output.status.success(), "{output:?}");
    let request = &receiver.requests()[0];
    assert!(request.headers.get("x-truemed-signature").is_none());
    let payload = WebhookVerifier::new("shared")
        .verify_unsigned(&request.headers, &request.body)
        .unwrap();
    assert_eq!(payload.qualification_session_id, "qs_u");
    assert_eq!(payload.status, Status::Approved);
}
