//! `truemed sessions get`, and what every command shares: where the key comes from, the
//! output formats of one session, exit codes and error text.

mod support;

use support::*;

#[test]
fn a_session_is_printed_in_every_format_with_the_19_fields_in_order() {
    let fake = Fake::start(seeds(3));
    let id = "qs_test_0000";
    let jsonl = run(fake.truemed().args(["sessions", "get", id]));
    assert_eq!(code(&jsonl), 0, "{}", stderr(&jsonl));
    let lines = json_lines(&stdout(&jsonl));
    assert_eq!(lines.len(), 1, "jsonl is the default when stdout is not a terminal");
    let object = lines[0].as_object().unwrap();
    assert_eq!(object.keys().map(String::as_str).collect::<Vec<_>>().len(), 19);
    assert_eq!(object["qualification_session_id"], id);
    assert_eq!(object["status"], "approved");
    assert_eq!(object["email"], "shopper0@example.com");
    assert_eq!(object["created_at"], "2024-03-01T10:00:00Z");
    assert!(object["user_id"].is_null());

    let json = run(fake.truemed().args(["--output", "json", "sessions", "get", id]));
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(value, lines[0]);

    let csv = run(fake.truemed().args(["-o", "csv", "sessions", "get", id]));
    let (header, rows) = csv_rows(&stdout(&csv));
    assert_eq!(header, fields());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], id);
    assert_eq!(rows[0][17], "", "a null is an empty cell");

    let table = run(fake.truemed().args(["-o", "table", "sessions", "get", id]));
    let text = stdout(&table);
    for field in fields() {
        assert!(text.contains(field), "{field} in {text}");
    }
    for output in [&jsonl, &json, &csv, &table] {
        assert_secret_absent(KEY, output, &[]);
    }
}

#[test]
fn an_unknown_session_exits_1_with_the_request_id() {
    let fake = Fake::start(seeds(1));
    let output = run(fake.truemed().args(["sessions", "get", "qs_missing"]));
    assert_eq!(code(&output), 1);
    let text = stderr(&output);
    assert!(text.starts_with("error: getting qs_missing: Truemed answered 404"), "{text}");
    assert!(text.contains("request id req_"), "{text}");
    assert!(text.lines().count() <= 2, "{text}");
    assert!(output.stdout.is_empty());
}

#[test]
fn a_refused_key_exits_4_and_never_shows_the_key() {
    let fake = Fake::start(seeds(1));
    let wrong = "sk_test_wrong_key_7d1e0b";
    let output =
        run(fake.truemed().env("TRUEMED_API_KEY", wrong).args(["sessions", "get", "qs_test_0000"]));
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(stderr(&output).contains("401"), "{}", stderr(&output));
    assert_secret_absent(wrong, &output, &[]);
}

#[test]
fn the_key_is_read_from_a_file_and_never_from_a_flag() {
    let fake = Fake::start(seeds(1));
    let dir = temp_dir("key-file");
    let file = dir.join("key");
    std::fs::write(&file, format!("{KEY}\n")).unwrap();
    let output = run(support::truemed()
        .env("TRUEMED_BASE_URL", fake.fake.base_url())
        .arg("--api-key-file")
        .arg(&file)
        .args(["sessions", "get", "qs_test_0000"]));
    assert_eq!(code(&output), 0, "{}", stderr(&output));

    let flag = run(support::truemed().env("TRUEMED_BASE_URL", fake.fake.base_url()).args([
        "--api-key",
        KEY,
        "sessions",
        "get",
        "qs_test_0000",
    ]));
    assert_eq!(code(&flag), 2);
    assert!(stderr(&flag).contains("TRUEMED_API_KEY"), "{}", stderr(&flag));
    assert_secret_absent(KEY, &flag, &[]);

    let none = run(support::truemed().env("TRUEMED_BASE_URL", fake.fake.base_url()).args([
        "sessions",
        "get",
        "qs_test_0000",
    ]));
    assert_eq!(code(&none), 2);
    assert!(stderr(&none).contains("no API key"), "{}", stderr(&none));
}

#[test]
fn a_key_echoed_by_a_server_is_redacted() {
    let server = httpmock::MockServer::start();
    server.mock(|_, then| {
        then.status(500)
            .header("x-request-id", format!("req_{KEY}"))
            .body(format!(r#"{{"error":"ServerError","message":"bad key {KEY}"}}"#));
    });
    let output = run(truemed_at(&server.base_url()).args(["sessions", "get", "qs_1"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(stderr(&output).contains("[redacted]"), "{}", stderr(&output));
    assert_secret_absent(KEY, &output, &[]);
}

#[test]
fn a_garbage_body_exits_1_naming_what_cannot_be_decoded() {
    let server = httpmock::MockServer::start();
    server.mock(|_, then| {
        then.status(200).body("<html>not json</html>");
    });
    let output = run(truemed_at(&server.base_url()).args(["sessions", "get", "qs_1"]));
    assert_eq!(code(&output), 1);
    assert!(stderr(&output).contains("cannot be decoded"), "{}", stderr(&output));
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let bad_flag = run(support::truemed().args(["sessions", "get"]));
    assert_eq!(code(&bad_flag), 2);
    let bad_status = run(support::truemed()
        .env("TRUEMED_API_KEY", KEY)
        .args(["sessions", "list", "--status", "aproved"]));
    assert_eq!(code(&bad_status), 2, "{}", stderr(&bad_status));
    let refused_id = run(truemed_at("http://127.0.0.1:9").args(["sessions", "get", ".."]));
    assert_eq!(code(&refused_id), 2, "{}", stderr(&refused_id));
    let help = run(support::truemed().arg("--help"));
    assert_eq!(code(&help), 0);
    assert!(stdout(&help).contains("sessions"));
}

#[test]
fn a_server_that_cannot_be_reached_exits_1() {
    let output = run(truemed_at("http://127.0.0.1:9").args(["sessions", "get", "qs_1"]));
    assert_eq!(code(&output), 1);
    assert!(stderr(&output).contains("could not connect"), "{}", stderr(&output));
}
