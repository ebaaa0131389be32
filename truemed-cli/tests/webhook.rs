//! `truemed webhook verify`.

mod support;

use support::*;
use truemed_ext::webhook::SignatureHeader;

const SECRET: &str = "whsec_cli_test_91b2";
const BODY: &str = r#"{"webhook_delivery_id":"whd_1","event_type":"qualification_session.complete","data":{"qualification_session_id":"qs_1","status":"approved","user_id":"user_42"}}"#;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn capture(name: &str, headers: &str, body: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = temp_dir(name);
    let (h, b) = (dir.join("headers.txt"), dir.join("body.json"));
    std::fs::write(&h, headers).unwrap();
    std::fs::write(&b, body).unwrap();
    (h, b)
}

/// `truemed webhook verify --secret SECRET --headers HEADERS BODY`, run to its end.
fn verify_with_secret(headers: &std::path::Path, body: &std::path::Path) -> std::process::Output {
    run(support::truemed()
        .args(["webhook", "verify", "--secret", SECRET, "--headers"])
        .arg(headers)
        .arg(body))
}

#[test]
fn a_signed_delivery_verifies_and_its_event_is_printed() {
    let signature = SignatureHeader::sign(SECRET, now(), BODY.as_bytes());
    let (headers, body) = capture(
        "webhook-signed",
        &format!("POST /hooks/truemed HTTP/1.1\r\ncontent-type: application/json\r\nX-Truemed-Signature: {signature}\r\n\r\n"),
        BODY,
    );
    let output = verify_with_secret(&headers, &body);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let event = &json_lines(&stdout(&output))[0];
    assert_eq!(event["valid"], true);
    assert_eq!(event["method"], "signed");
    assert_eq!(event["webhook_delivery_id"], "whd_1");
    assert_eq!(event["data"]["qualification_session_id"], "qs_1");
    assert_eq!(event["data"]["status"], "approved");
    assert_secret_absent(SECRET, &output, &[]);
}

#[test]
fn a_delivery_that_does_not_verify_exits_1_saying_why() {
    let signature = SignatureHeader::sign("whsec_another_secret", now(), BODY.as_bytes());
    let (headers, body) =
        capture("webhook-bad", &format!("x-truemed-signature: {signature}\n"), BODY);
    let secret_file = headers.with_file_name("secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let output = run(support::truemed()
        .args(["webhook", "verify", "--secret-file"])
        .arg(&secret_file)
        .arg("--headers")
        .arg(&headers)
        .arg(&body));
    assert_eq!(code(&output), 1);
    assert!(stderr(&output).contains("no signature"), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    assert_secret_absent(SECRET, &output, &[]);
}

#[test]
fn an_old_capture_verifies_as_of_its_signing_with_now() {
    let signed_at = 1_700_000_000;
    let signature = SignatureHeader::sign(SECRET, signed_at, BODY.as_bytes());
    let (headers, body) =
        capture("webhook-old", &format!("x-truemed-signature: {signature}\n"), BODY);
    let verify = |extra: &[&str]| {
        run(support::truemed()
            .env("TRUEMED_WEBHOOK_SECRET", SECRET)
            .args(["webhook", "verify", "--headers"])
            .arg(&headers)
            .arg(&body)
            .args(extra))
    };
    let stale = verify(&[]);
    assert_eq!(code(&stale), 1);
    assert!(stderr(&stale).contains(&format!("--now {signed_at}")), "{}", stderr(&stale));
    let as_then = verify(&["--now", &signed_at.to_string()]);
    assert_eq!(code(&as_then), 0, "{}", stderr(&as_then));
}

#[test]
fn an_unsigned_delivery_is_checked_against_the_shared_secret() {
    let flat = r#"{"qualification_session_id":"qs_2","status":"rejected"}"#;
    let (headers, body) =
        capture("webhook-unsigned", &format!("x-truemed-api-key: {SECRET}\n"), flat);
    let output = verify_with_secret(&headers, &body);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let event = &json_lines(&stdout(&output))[0];
    assert_eq!(event["method"], "unsigned");
    assert_eq!(event["data"]["status"], "rejected");
    let (no_auth, body) = capture("webhook-none", "content-type: application/json\n", flat);
    let missing = verify_with_secret(&no_auth, &body);
    assert_eq!(code(&missing), 1);
    assert!(stderr(&missing).contains("x-truemed-signature"), "{}", stderr(&missing));
}
