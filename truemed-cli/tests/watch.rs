//! `truemed sessions watch`.

mod support;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::*;

#[test]
fn each_completion_of_the_watched_sessions_is_one_json_line_and_the_watch_ends() {
    let fake = Fake::start(seeds(4));
    // qs_test_0000 is approved from the start; the others are pending.
    let mut child = fake
        .truemed()
        .args([
            "sessions",
            "watch",
            "qs_test_0000",
            "qs_test_0001",
            "qs_test_0002",
            "--interval",
            "0.05",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["qualification_session_id"], "qs_test_0000");
    assert_eq!(first["status"], "approved");
    assert_eq!(first["key"], "qs_test_0000:approved");
    assert_eq!(first["session"]["email"], "shopper0@example.com");
    fake.fake.approve("qs_test_0001");
    fake.fake.reject("qs_test_0002");
    let mut rest: Vec<serde_json::Value> =
        lines.map(|line| serde_json::from_str(&line.unwrap()).unwrap()).collect();
    rest.sort_by_key(|v| v["qualification_session_id"].as_str().unwrap().to_owned());
    assert_eq!(rest.len(), 2, "{rest:?}");
    assert_eq!(rest[0]["status"], "approved");
    assert_eq!(rest[1]["qualification_session_id"], "qs_test_0002");
    assert_eq!(rest[1]["status"], "rejected");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "the watch ends once every id is terminal");
}

#[test]
fn an_unknown_id_is_reported_and_makes_the_watch_exit_1() {
    let fake = Fake::start(seeds(1));
    let output = run(fake.truemed().args([
        "sessions",
        "watch",
        "qs_test_0000",
        "qs_missing",
        "--interval",
        "0.05",
    ]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert_eq!(json_lines(&stdout(&output)).len(), 1);
    assert!(stderr(&output).contains("qs_missing is no longer watched"), "{}", stderr(&output));
}

#[test]
fn without_ids_the_pending_sessions_are_watched_until_interrupted() {
    let fake = Fake::start(seeds(3));
    let mut child = fake
        .truemed()
        .args(["sessions", "watch", "--interval", "0.05"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while fake.fake.stats().list_requests < 2 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    fake.fake.approve("qs_test_0002");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(line["qualification_session_id"], "qs_test_0002");
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
}

#[test]
fn a_refused_key_stops_the_watch_with_exit_4() {
    let fake = Fake::start(seeds(1));
    let output = run(fake.truemed().env("TRUEMED_API_KEY", "sk_test_not_the_key_0000").args([
        "sessions",
        "watch",
        "--interval",
        "0.05",
    ]));
    assert_eq!(code(&output), 4, "{}", stderr(&output));
}
