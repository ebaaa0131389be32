//! `truemed sessions export`.

mod support;

use std::collections::BTreeMap;

use support::*;

/// The fake's sessions as the CLI writes them: id -> (status, email).
fn held(fake: &Fake, status: Option<&str>) -> BTreeMap<String, (String, String)> {
    fake.fake
        .sessions()
        .into_iter()
        .filter(|s| status.is_none_or(|st| s.status.as_str() == st))
        .map(|s| {
            let email = s.email.clone().unwrap_or_default();
            (s.qualification_session_id, (s.status.as_str().to_owned(), email))
        })
        .collect()
}

#[test]
fn an_export_to_a_file_holds_every_matching_session_and_nothing_else() {
    let fake = Fake::start(seeds(230));
    let dir = temp_dir("export-csv");
    let out = dir.join("approved.csv");
    let output = run(fake
        .truemed()
        .args(["sessions", "export", "--status", "approved", "--page-size", "7", "--out"])
        .arg(&out));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    assert!(stderr(&output).is_empty(), "no progress bar off a terminal: {}", stderr(&output));
    let (header, rows) = csv_rows(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(header, fields());
    let exported: BTreeMap<_, _> =
        rows.iter().map(|r| (r[0].clone(), (r[1].clone(), r[6].clone()))).collect();
    assert_eq!(exported.len(), rows.len(), "no session twice");
    assert_eq!(exported, held(&fake, Some("approved")));
    assert!(!dir.join("approved.csv.partial").exists());
    assert_secret_absent(KEY, &output, &[&out]);
}

#[test]
fn an_export_as_json_lines_goes_to_stdout_or_a_file_by_its_extension() {
    let fake = Fake::start(seeds(40));
    let stdout_export = run(fake.truemed().args(["sessions", "export", "--format", "jsonl"]));
    assert_eq!(code(&stdout_export), 0, "{}", stderr(&stdout_export));
    let lines = json_lines(&stdout(&stdout_export));
    assert_eq!(lines.len(), 40);
    assert_eq!(lines[0].as_object().unwrap().len(), 19);

    let dir = temp_dir("export-jsonl");
    let out = dir.join("all.jsonl");
    let to_file =
        run(fake.truemed().args(["sessions", "export", "--concurrency", "1", "--out"]).arg(&out));
    assert_eq!(code(&to_file), 0, "{}", stderr(&to_file));
    let from_file = json_lines(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(from_file, lines);

    let csv_default = run(fake.truemed().args(["sessions", "export"]));
    assert_eq!(csv_rows(&stdout(&csv_default)).1.len(), 40, "CSV without --format or --out");
}

#[test]
fn a_failed_export_keeps_the_partial_file_under_its_own_name_and_says_how_far_it_got() {
    let server = httpmock::MockServer::start();
    let page = |n: u64| {
        let items: Vec<_> =
            (0..2).map(|i| session_json(&format!("qs_p{n}_{i}"), "approved")).collect();
        serde_json::json!({
            "qualification_sessions": items,
            "pagination": {"count": 6, "current_page": n, "last_page": 3, "page_size": 2}
        })
    };
    server.mock(|when, then| {
        when.query_param("page", "1");
        then.status(200).json_body(page(1));
    });
    server.mock(|when, then| {
        when.query_param("page", "2");
        then.status(503).header("x-request-id", "req_export_503").body("{}");
    });
    server.mock(|when, then| {
        when.query_param("page", "3");
        then.status(200).json_body(page(3));
    });
    let dir = temp_dir("export-fails");
    let out = dir.join("approved.csv");
    std::fs::write(&out, "an earlier export\n").unwrap();
    let output = run(truemed_at(&server.base_url())
        .args(["sessions", "export", "--page-size", "2", "--concurrency", "1", "--out"])
        .arg(&out));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("export stopped"), "{text}");
    assert!(text.contains("req_export_503"), "{text}");
    assert!(text.contains("the 2 sessions written are kept in"), "{text}");
    assert!(text.contains("approved.csv.partial"), "{text}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "an earlier export\n",
        "the file named by --out is complete or untouched"
    );
    let (_, rows) = csv_rows(&std::fs::read_to_string(dir.join("approved.csv.partial")).unwrap());
    let ids: Vec<_> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["qs_p1_0", "qs_p1_1"]);
}

#[test]
fn a_refused_key_stops_an_export_with_exit_4() {
    let fake = Fake::start(seeds(3));
    let dir = temp_dir("export-401");
    let out = dir.join("x.csv");
    let output = run(fake
        .truemed()
        .env("TRUEMED_API_KEY", "sk_test_not_the_key_0000")
        .args(["sessions", "export", "--out"])
        .arg(&out));
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(!out.exists());
}
