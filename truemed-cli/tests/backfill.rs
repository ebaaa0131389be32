//! `truemed sessions backfill`.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::*;

/// A backfill file of `n` rows attaching `user_<i>` to `qs_test_<i>`.
fn users_file(dir: &Path, n: usize) -> std::path::PathBuf {
    let mut text = String::from("qualification_session_id,user_id,metadata\n");
    for i in 0..n {
        text.push_str(&format!("qs_test_{i:04},user_{i},\"{{\"\"row\"\": {i}}}\"\n"));
    }
    let path = dir.join("users.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// The report's rows by column name.
fn report(path: &Path) -> Vec<HashMap<String, String>> {
    let (header, rows) = csv_rows(&std::fs::read_to_string(path).unwrap());
    assert_eq!(
        header,
        [
            "row",
            "qualification_session_id",
            "outcome",
            "error_code",
            "error_message",
            "idempotency_key"
        ]
    );
    rows.into_iter().map(|r| header.iter().cloned().zip(r).collect()).collect()
}

/// Every session of the first `n` has exactly one applied update, with its user id.
fn assert_each_applied_once(fake: &Fake, n: usize) {
    let mut per_session: HashMap<String, Vec<_>> = HashMap::new();
    for update in fake.fake.applied_updates() {
        per_session.entry(update.qualification_session_id.clone()).or_default().push(update);
    }
    for i in 0..n {
        let id = format!("qs_test_{i:04}");
        let applied = per_session.remove(&id).unwrap_or_default();
        assert_eq!(applied.len(), 1, "{id}: {applied:?}");
        assert_eq!(applied[0].user_id.as_deref(), Some(format!("user_{i}").as_str()));
    }
    assert!(per_session.is_empty(), "{per_session:?}");
}

#[test]
fn every_row_is_applied_or_refused_and_reported_and_a_rerun_replays() {
    let mut seeds = seeds(4);
    seeds.push(truemed_fake::SessionSeed::new("qs_taken").user_id("someone_else"));
    let fake = Fake::start(seeds);
    let dir = temp_dir("backfill-report");
    let input = dir.join("rows.csv");
    let long = "u".repeat(256);
    std::fs::write(
        &input,
        format!(
            "qualification_session_id,user_id,metadata,success_url,idempotency_key\n\
             qs_test_0000,user_0,,,\n\
             qs_test_0001,,\"{{\"\"crm\"\": 1}}\",https://shop.example/ok,\n\
             qs_test_0002,user_2,,,my-own-key-2\n\
             ..,user_x,,,\n\
             qs_test_0003,{long},,,\n\
             qs_test_0003,user_3,{{not json,,\n\
             qs_test_0003,,,,\n\
             qs_test_0003,user_3\n\
             qs_taken,user_t,,,\n\
             qs_missing,user_m,,,\n"
        ),
    )
    .unwrap();
    let out = dir.join("report.csv");
    let first =
        run(fake.truemed().arg("sessions").arg("backfill").arg(&input).arg("--report").arg(&out));
    assert_eq!(code(&first), 1, "invalid and failed rows make exit 1: {}", stderr(&first));
    let rows = report(&out);
    let outcomes: Vec<_> = rows.iter().map(|r| r["outcome"].as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "applied",
            "applied",
            "applied",
            "invalid",
            "invalid",
            "invalid",
            "invalid",
            "invalid",
            "user_id_already_set",
            "failed"
        ]
    );
    let numbers: Vec<_> = rows.iter().map(|r| r["row"].as_str()).collect();
    assert_eq!(numbers, ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
    assert_eq!(rows[2]["idempotency_key"], "my-own-key-2");
    assert!(rows[0]["idempotency_key"].starts_with("tmd-"), "a derived key");
    assert!(rows[4]["error_message"].contains("user_id is 256 characters long"), "{:?}", rows[4]);
    assert!(rows[5]["error_message"].contains("not JSON"), "{:?}", rows[5]);
    assert!(rows[6]["error_message"].contains("nothing to update"), "{:?}", rows[6]);
    assert!(rows[7]["error_message"].contains("cells"), "{:?}", rows[7]);
    assert_eq!(rows[8]["error_code"], "user_id_already_set");
    assert_eq!(rows[9]["error_code"], "not_found");
    assert!(rows[9]["error_message"].contains("404"), "{:?}", rows[9]);
    let applied = fake.fake.applied_updates();
    assert_eq!(applied.len(), 3);
    assert_eq!(
        applied
            .iter()
            .find(|u| u.qualification_session_id == "qs_test_0001")
            .unwrap()
            .metadata
            .as_deref(),
        Some(r#"{"crm": 1}"#)
    );
    let summary = stderr(&first);
    assert!(summary.contains("3 applied") && summary.contains("5 invalid"), "{summary}");
    assert_secret_absent(KEY, &first, &[&out]);

    // The same file again, reported as JSON lines: the applied rows are replays.
    let jsonl = dir.join("again.jsonl");
    let second =
        run(fake.truemed().arg("sessions").arg("backfill").arg(&input).arg("--report").arg(&jsonl));
    assert_eq!(code(&second), 1);
    let again = json_lines(&std::fs::read_to_string(&jsonl).unwrap());
    let outcomes: Vec<_> = again.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(&outcomes[..3], ["replayed", "replayed", "replayed"]);
    assert_eq!(again[0]["row"], 1);
    assert_eq!(again[0]["idempotency_key"], rows[0]["idempotency_key"].as_str());
    assert_eq!(fake.fake.applied_updates().len(), 3, "nothing applied twice");
}

#[test]
fn a_dry_run_checks_every_row_and_sends_nothing() {
    let fake = Fake::start(seeds(3));
    let dir = temp_dir("backfill-dry");
    let input = users_file(&dir, 3);
    // No key needed to check a file.
    let output = run(support::truemed()
        .env("TRUEMED_BASE_URL", fake.fake.base_url())
        .args(["-o", "jsonl", "sessions", "backfill", "--dry-run"])
        .arg(&input));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let rows = json_lines(&stdout(&output));
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["outcome"] == "valid"), "{rows:?}");
    assert_eq!(fake.fake.stats().update_requests, 0);
    assert!(!dir.join("users.csv.journal").exists(), "a dry run writes no journal");
}

#[test]
fn a_backfill_killed_midway_and_run_again_until_done_applies_every_row_exactly_once() {
    const ROWS: usize = 120;
    let fake = Fake::start(seeds(ROWS));
    fake.fake.set_latency(Duration::from_millis(25));
    let dir = temp_dir("backfill-kill");
    let input = users_file(&dir, ROWS);
    let out = dir.join("report.csv");
    let backfill = || {
        let mut command = fake.truemed();
        command
            .args(["sessions", "backfill", "--concurrency", "4"])
            .arg(&input)
            .arg("--report")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    };
    // Killed (SIGKILL) at several points, each run further along than the last...
    let mut killed = 0;
    for wait_ms in [150u64, 250, 400] {
        let mut child = backfill().spawn().unwrap();
        std::thread::sleep(Duration::from_millis(wait_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
    }
    assert!(killed > 0, "at least one run was killed midway");
    assert!(!fake.fake.applied_updates().is_empty(), "the killed runs applied some rows");
    // ...then run until done.
    let started = Instant::now();
    let last = loop {
        let output = run(&mut backfill());
        if code(&output) == 0 || started.elapsed() > Duration::from_secs(120) {
            break output;
        }
    };
    assert_eq!(code(&last), 0, "{}", stderr(&last));
    assert_each_applied_once(&fake, ROWS);
    let rows = report(&out);
    assert_eq!(rows.len(), ROWS);
    assert!(rows.iter().all(|r| r["outcome"] == "applied" || r["outcome"] == "replayed"));
    assert!(rows.iter().any(|r| r["outcome"] == "replayed"), "rows the killed runs saw applied");
    assert_secret_absent(KEY, &last, &[&out, &dir.join("users.csv.journal")]);
}

#[test]
fn ctrl_c_lets_the_rows_in_flight_finish_writes_the_report_and_exits_130() {
    const ROWS: usize = 60;
    let fake = Fake::start(seeds(ROWS));
    fake.fake.set_latency(Duration::from_millis(150));
    let dir = temp_dir("backfill-sigint");
    let input = users_file(&dir, ROWS);
    let out = dir.join("report.csv");
    let child = fake
        .truemed()
        .args(["sessions", "backfill", "--concurrency", "3"])
        .arg(&input)
        .arg("--report")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while fake.fake.applied_updates().len() < 3 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let signal = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signal.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(code(&output), 130, "{}", stderr(&output));
    assert!(stderr(&output).contains("interrupted"), "{}", stderr(&output));
    let rows = report(&out);
    assert!(!rows.is_empty() && rows.len() < ROWS, "{} rows", rows.len());
    assert!(rows.iter().all(|r| r["outcome"] == "applied"), "{rows:?}");
    // The rows in flight finished and are reported: the ledger holds exactly the rows
    // the report says were applied.
    let mut ledger: Vec<_> =
        fake.fake.applied_updates().into_iter().map(|u| u.qualification_session_id).collect();
    let mut reported: Vec<_> = rows.iter().map(|r| r["qualification_session_id"].clone()).collect();
    ledger.sort();
    reported.sort();
    assert_eq!(ledger, reported);

    fake.fake.set_latency(Duration::ZERO);
    let rest =
        run(fake.truemed().args(["sessions", "backfill"]).arg(&input).arg("--report").arg(&out));
    assert_eq!(code(&rest), 0, "{}", stderr(&rest));
    assert_each_applied_once(&fake, ROWS);
}

#[test]
fn a_refused_key_stops_the_backfill_with_exit_4() {
    let fake = Fake::start(seeds(10));
    let dir = temp_dir("backfill-401");
    let input = users_file(&dir, 10);
    let output = run(fake
        .truemed()
        .env("TRUEMED_API_KEY", "sk_test_not_the_key_0000")
        .args(["sessions", "backfill", "--concurrency", "1"])
        .arg(&input));
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    let rows = json_lines(&stdout(&output));
    assert_eq!(rows.len(), 1, "stopped at the first 401: {rows:?}");
    assert_eq!(rows[0]["error_code"], "unauthorized");
    assert_secret_absent("sk_test_not_the_key_0000", &output, &[]);
}

#[test]
fn a_file_without_the_id_column_or_with_an_unknown_one_is_refused() {
    let dir = temp_dir("backfill-header");
    for header in ["user_id\nu1\n", "qualification_session_id,userid\nqs_1,u1\n"] {
        let input = dir.join("bad.csv");
        std::fs::write(&input, header).unwrap();
        let output =
            run(truemed_at("http://127.0.0.1:9").args(["sessions", "backfill"]).arg(&input));
        assert_eq!(code(&output), 1, "{}", stderr(&output));
        assert!(stderr(&output).contains("column"), "{}", stderr(&output));
    }
    let missing = run(support::truemed().env("TRUEMED_API_KEY", KEY).args([
        "sessions",
        "backfill",
        "/nonexistent/rows.csv",
    ]));
    assert_eq!(code(&missing), 1);
}

#[test]
fn a_journal_line_cut_by_a_kill_does_not_swallow_the_next_runs_line() {
    let fake = Fake::start(seeds(3));
    let dir = temp_dir("backfill-journal");
    let input = users_file(&dir, 2);
    let journal = dir.join("users.csv.journal");
    let backfill = || {
        run(fake
            .truemed()
            .args(["sessions", "backfill"])
            .arg(&input)
            .arg("--report")
            .arg(dir.join("report.csv")))
    };
    assert_eq!(code(&backfill()), 0);
    // A kill in the middle of the journal's last write: the line is cut, no newline.
    let text = std::fs::read_to_string(&journal).unwrap();
    std::fs::write(&journal, &text[..text.len() - 10]).unwrap();
    let input = users_file(&dir, 3);
    assert_eq!(code(&backfill()), 0);
    assert_eq!(code(&backfill()), 0);
    let rows = report(&dir.join("report.csv"));
    let outcomes: Vec<_> = rows.iter().map(|r| r["outcome"].as_str()).collect();
    assert_eq!(outcomes, ["replayed", "replayed", "replayed"], "{input:?}");
    assert_each_applied_once(&fake, 3);
}
