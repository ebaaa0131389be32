//! What the `truemed-fake` binary refuses, run as a user runs it: a bad flag exits 2 with a
//! message; each flag's bound is the crate's constant, the one the control API applies; a
//! `--seed` file's error names the entry and the field, and one id given twice is refused.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{run, run_until, serve};
use truemed_fake::{
    CHAOS_PROBABILITY, MAX_CHAOS_SEED, MAX_LATENCY, MAX_WEBHOOK_ATTEMPTS, MAX_WEBHOOK_BACKOFF,
    MAX_WEBHOOK_TIMEOUT, MIN_WEBHOOK_TIMEOUT,
};

const KEY: &str = "sk_test_cli_input";

/// How long a refusal may take to come (it is immediate; a server that starts instead runs
/// until killed).
const REFUSAL: Duration = Duration::from_secs(30);

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap()
}

/// Asserts that `args` exit 2 at once, with a message on stderr containing `expected`.
fn assert_refused(args: &[&str], expected: &str) {
    let output = run_until(args, REFUSAL)
        .unwrap_or_else(|| panic!("{args:?} was accepted: the server started"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: stderr should contain {expected:?}: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_flags_take_their_limit_and_refuse_one_past_it() {
    let latency = ms(MAX_LATENCY).to_string();
    let backoff = ms(MAX_WEBHOOK_BACKOFF).to_string();
    let timeout = ms(MAX_WEBHOOK_TIMEOUT).to_string();
    let attempts = MAX_WEBHOOK_ATTEMPTS.to_string();
    let seed = MAX_CHAOS_SEED.to_string();
    let probability = CHAOS_PROBABILITY.end().to_string();
    let webhook =
        ["--webhook-url", "http://127.0.0.1:9/hooks", "--webhook-secret", "whsec_cli_input"];

    // At the limit: the server starts, and the control API reports what the flag set.
    let served = serve(KEY, &["--empty", "--latency-ms", &latency]);
    let (_, answer) = support::request(&served.url, KEY, "GET", "/_fake/latency", None).await;
    assert_eq!(answer["latency_ms"], ms(MAX_LATENCY));
    drop(served);
    let mut args = vec!["--empty"];
    args.extend(webhook);
    args.extend([
        "--webhook-attempts",
        &attempts,
        "--webhook-backoff-ms",
        &backoff,
        "--webhook-timeout-ms",
        &timeout,
    ]);
    let served = serve(KEY, &args);
    let (_, endpoint) =
        support::request(&served.url, KEY, "GET", "/_fake/webhook_endpoint", None).await;
    assert_eq!(
        endpoint,
        json!({
            "url": "http://127.0.0.1:9/hooks",
            "signed": true,
            "attempts": MAX_WEBHOOK_ATTEMPTS,
            "backoff_ms": ms(MAX_WEBHOOK_BACKOFF),
            "timeout_ms": ms(MAX_WEBHOOK_TIMEOUT),
        })
    );
    drop(served);
    drop(serve(KEY, &["--empty", "--chaos", &probability, "--chaos-seed", &seed]));

    // One past it: exit 2, naming the flag.
    let past = |n: u64| (n + 1).to_string();
    for (flag, value) in [
        ("--latency-ms", past(ms(MAX_LATENCY))),
        ("--webhook-attempts", past(u64::from(MAX_WEBHOOK_ATTEMPTS))),
        ("--webhook-attempts", "0".to_owned()),
        ("--webhook-backoff-ms", past(ms(MAX_WEBHOOK_BACKOFF))),
        ("--webhook-timeout-ms", past(ms(MAX_WEBHOOK_TIMEOUT))),
        ("--webhook-timeout-ms", (ms(MIN_WEBHOOK_TIMEOUT) - 1).to_string()),
        ("--chaos", (CHAOS_PROBABILITY.end() + 0.001).to_string()),
        ("--chaos", (CHAOS_PROBABILITY.start() - 0.001).to_string()),
    ] {
        let flag_value = format!("{flag}={value}");
        let mut args = vec!["serve", "--port", "0", "--empty"];
        args.extend(webhook);
        args.push(&flag_value);
        assert_refused(&args, flag);
    }
    assert_refused(
        &["serve", "--port", "0", "--chaos", "0.5", "--chaos-seed", &past(MAX_CHAOS_SEED)],
        "--chaos-seed",
    );
}

/// `trigger` to a port nothing listens on (9), with `--timeout-ms timeout`.
fn trigger_with_timeout(timeout: &str) -> [&str; 7] {
    ["trigger", "--url", "http://127.0.0.1:9/", "--secret", "s", "--timeout-ms", timeout]
}

#[test]
fn trigger_takes_the_timeouts_of_a_delivery_attempt() {
    let past = (ms(MAX_WEBHOOK_TIMEOUT) + 1).to_string();
    let under = (ms(MIN_WEBHOOK_TIMEOUT) - 1).to_string();
    for value in [past.as_str(), under.as_str()] {
        assert_refused(&trigger_with_timeout(value), "--timeout-ms");
    }
    // At the limit the delivery is attempted (and fails: nothing listens on port 9).
    let timeout = ms(MAX_WEBHOOK_TIMEOUT).to_string();
    let output = run_until(&trigger_with_timeout(&timeout), REFUSAL).unwrap();
    assert_eq!(output.status.code(), Some(1));
}

/// Writes `contents` to a fresh file and returns its path.
fn seed_file(name: &str, contents: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("truemed-fake-cli-input-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sessions.json");
    std::fs::write(&file, contents).unwrap();
    file
}

fn serve_seeded(file: &std::path::Path) -> Vec<String> {
    ["serve", "--port", "0", "--api-key", KEY, "--seed", file.to_str().unwrap()]
        .map(str::to_owned)
        .to_vec()
}

#[test]
fn a_seed_file_error_names_the_entry_its_id_and_the_field() {
    let file = seed_file(
        "field",
        &json!([
            {"qualification_session_id": "qs_a", "status": "approved"},
            {"qualification_session_id": "qs_b", "status": 7},
        ])
        .to_string(),
    );
    let args = serve_seeded(&file);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_refused(&args, r#"sessions.json: entry 1 ("qs_b"): status: "#);

    std::fs::write(
        &file,
        json!({"qualification_sessions": [
            {"qualification_session_id": "qs_a", "status": "approved", "created_at": "in a while"},
        ]})
        .to_string(),
    )
    .unwrap();
    assert_refused(&args, r#"entry 0 ("qs_a"): created_at: "#);

    std::fs::write(&file, r#"[{"qualification_session_id": "qs_a", "status": "pending"}, 7]"#)
        .unwrap();
    assert_refused(&args, "entry 1: expected a session object, got 7");

    std::fs::write(&file, r#"{"sessions": []}"#).unwrap();
    assert_refused(&args, "sessions.json: expected an array of qualification sessions");

    std::fs::write(&file, "[{").unwrap();
    assert_refused(&args, "sessions.json: not valid JSON");
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

#[test]
fn a_seed_entry_without_an_id_says_the_id_is_missing() {
    let file = seed_file("missing", r#"[{"status": "pending", "email": "ada@example.com"}]"#);
    let args = serve_seeded(&file);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_refused(
        &args,
        "sessions.json: entry 0: qualification_session_id: this field is required.",
    );
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

#[test]
fn two_seed_entries_with_one_id_are_refused() {
    let file = seed_file(
        "twice",
        &json!([
            {"qualification_session_id": "qs_a", "status": "pending"},
            {"qualification_session_id": "qs_b", "status": "pending"},
            {"qualification_session_id": "qs_a", "status": "approved"},
        ])
        .to_string(),
    );
    let args = serve_seeded(&file);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_refused(&args, r#"entries 0 and 2 have the same qualification_session_id "qs_a""#);
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
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
        vec!["trigger", "--url", "http://127.0.0.1:1/", "--secret", "s", "--status", "pending"],
        vec!["explode"],
        vec![],
    ] {
        let output = run(&args).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
    let help = run(&["--help"]).await;
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("serve") && help.contains("trigger"), "{help}");
    let help = run(&["serve", "--help"]).await;
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
