//! `truemed sessions list`.

mod support;

use support::*;

#[test]
fn one_page_is_listed_with_the_filters_in_every_format() {
    let fake = Fake::start(seeds(10));
    let output = run(fake.truemed().args(["sessions", "list", "--page-size", "4"]));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let ids: Vec<_> = json_lines(&stdout(&output))
        .iter()
        .map(|s| s["qualification_session_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["qs_test_0000", "qs_test_0001", "qs_test_0002", "qs_test_0003"]);

    let approved =
        run(fake.truemed().args(["-o", "json", "sessions", "list", "--status", "approved"]));
    let array: Vec<serde_json::Value> = serde_json::from_str(&stdout(&approved)).unwrap();
    assert_eq!(array.len(), 3);
    assert!(array.iter().all(|s| s["status"] == "approved"));

    let search =
        run(fake.truemed().args(["-o", "csv", "sessions", "list", "--search", "shopper7@"]));
    let (header, rows) = csv_rows(&stdout(&search));
    assert_eq!(header, fields());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], "qs_test_0007");

    let none = run(fake.truemed().args(["-o", "json", "sessions", "list", "--user-id", "nobody"]));
    assert_eq!(stdout(&none).trim(), "[]");
    let empty_csv =
        run(fake.truemed().args(["-o", "csv", "sessions", "list", "--user-id", "nobody"]));
    assert_eq!(csv_rows(&stdout(&empty_csv)).0, fields(), "an empty CSV still has its header");

    let table = run(fake.truemed().args([
        "-o",
        "table",
        "sessions",
        "list",
        "--page-size",
        "4",
        "--page",
        "2",
    ]));
    let text = stdout(&table);
    assert!(text.starts_with("ID"), "{text}");
    assert!(text.contains("qs_test_0004") && !text.contains("qs_test_0003"), "{text}");
    assert!(text.contains("page 2 of 3, 10 sessions in all"), "{text}");
}

#[test]
fn all_pages_are_listed_up_to_the_limit() {
    let fake = Fake::start(seeds(25));
    let all = run(fake.truemed().args(["sessions", "list", "--all", "--page-size", "4"]));
    assert_eq!(code(&all), 0, "{}", stderr(&all));
    assert_eq!(json_lines(&stdout(&all)).len(), 25);
    let limited =
        run(fake.truemed().args(["sessions", "list", "--all", "--page-size", "4", "--limit", "9"]));
    assert_eq!(json_lines(&stdout(&limited)).len(), 9);
    let one_page = run(fake.truemed().args(["sessions", "list", "--limit", "2"]));
    assert_eq!(json_lines(&stdout(&one_page)).len(), 2);
}

#[test]
fn a_server_error_exits_1_after_the_retries() {
    let server = httpmock::MockServer::start();
    let mock = server.mock(|_, then| {
        then.status(500).header("x-request-id", "req_list_500").body("{}");
    });
    let output = run(truemed_at(&server.base_url()).args(["sessions", "list"]));
    assert_eq!(code(&output), 1);
    let text = stderr(&output);
    assert!(text.contains("500") && text.contains("req_list_500"), "{text}");
    assert_eq!(mock.calls(), 3, "the first attempt and the client's 2 retries");
}

#[test]
fn odd_values_from_a_server_are_written_normalised() {
    let server = httpmock::MockServer::start();
    server.mock(|_, then| {
        then.status(200).json_body(serde_json::json!({
            "qualification_sessions": [{
                "qualification_session_id": "qs_odd",
                "status": "on_hold",
                "created_at": "2024-05-01 12:30:00",
                "eligible_amount": "12.50",
                "email": "a,\"b\"\nc@example.com"
            }],
            "pagination": null
        }));
    });
    let run_as =
        |format: &str| run(truemed_at(&server.base_url()).args(["-o", format, "sessions", "list"]));
    let jsonl = run_as("jsonl");
    let session = &json_lines(&stdout(&jsonl))[0];
    assert_eq!(session["created_at"], "2024-05-01T12:30:00Z");
    assert_eq!(session["eligible_amount"], 12.5);
    assert_eq!(session["status"], "on_hold");
    let csv = run_as("csv");
    let (_, rows) = csv_rows(&stdout(&csv));
    assert_eq!(rows[0][6], "a,\"b\"\nc@example.com", "quoted as CSV quotes");
    assert_eq!(rows[0][5], "12.5");
}
