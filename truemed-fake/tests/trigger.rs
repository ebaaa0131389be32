//! `truemed-fake trigger` as a user runs it: one `qualification_session_complete` delivery
//! to a URL, signed or unsigned, what it prints, its exit codes, and what the receiver gets.

mod support;

use support::{run, verify_both_ways, Reply, Scripted};
use truemed_ext::webhook::{WebhookEvent, WebhookVerifier};
use truemed_ext::Status;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_sends_one_signed_delivery_and_exits_0_on_2xx() {
    let receiver = Scripted::sequence(vec![Reply::raw(200, "thanks")]).await;
    let url = format!("{}/hooks/truemed", receiver.base_url);
    let output = run(&[
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
    ])
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
    assert!(envelope["webhook_delivery_id"].as_str().unwrap().starts_with("whd_"));
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
    let output = run(&["trigger", "--url", &url, "--secret", "whsec_trigger"]).await;
    assert!(output.status.success());
    let envelope = verify_both_ways("whsec_trigger", &receiver.requests()[1]);
    assert_eq!(envelope["data"]["status"], "approved");
    assert!(envelope["data"]["qualification_session_id"].as_str().unwrap().starts_with("qs_"));
    assert!(envelope["data"]["expires_at"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_exits_non_zero_unless_2xx() {
    let receiver = Scripted::sequence(vec![Reply::raw(500, "boom"), Reply::raw(302, "")]).await;
    for expected in ["HTTP 500", "HTTP 302"] {
        let output = run(&["trigger", "--url", &receiver.base_url, "--secret", "s"]).await;
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.starts_with(expected), "{stdout}");
    }
    // Nobody listening: no answer, non-zero, and why.
    let output = run(&[
        "trigger",
        "--url",
        "http://127.0.0.1:9/hooks",
        "--secret",
        "s",
        "--timeout-ms",
        "2000",
    ])
    .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no answer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_unsigned_sends_the_secret_in_the_api_key_header() {
    let receiver = Scripted::sequence(vec![Reply::raw(204, "")]).await;
    let output = run(&[
        "trigger",
        "--url",
        &receiver.base_url,
        "--secret",
        "shared",
        "--unsigned",
        "--session",
        "qs_u",
    ])
    .await;
    assert!(output.status.success(), "{output:?}");
    let request = &receiver.requests()[0];
    assert!(request.headers.get("x-truemed-signature").is_none());
    let payload =
        WebhookVerifier::new("shared").verify_unsigned(&request.headers, &request.body).unwrap();
    assert_eq!(payload.qualification_session_id, "qs_u");
    assert_eq!(payload.status, Status::Approved);
}
