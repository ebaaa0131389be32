//! `truemed sessions update`.

mod support;

use support::*;

/// An update of `qs_test_0001` setting a user id, metadata and a success URL.
const AN_UPDATE: [&str; 9] = [
    "sessions",
    "update",
    "qs_test_0001",
    "--user-id",
    "user_42",
    "--metadata",
    r#"{"crm": 7}"#,
    "--success-url",
    "https://shop.example/ok",
];

#[test]
fn an_update_prints_its_outcome_and_key_and_applies_once() {
    let fake = Fake::start(seeds(2));
    let output = run(fake.truemed().args(AN_UPDATE));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let lines = json_lines(&stdout(&output));
    assert_eq!(lines[0]["outcome"], "applied");
    assert_eq!(lines[0]["qualification_session_id"], "qs_test_0001");
    assert_eq!(lines[0]["status"], "pending");
    let key = lines[0]["idempotency_key"].as_str().unwrap().to_owned();
    let applied = fake.fake.applied_updates();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].idempotency_key, key);
    assert_eq!(applied[0].user_id.as_deref(), Some("user_42"));
    assert_eq!(applied[0].metadata.as_deref(), Some(r#"{"crm": 7}"#));

    // The same update with the key it printed: a replay, nothing applied again.
    let again =
        run(fake.truemed().args(["-o", "table"]).args(AN_UPDATE).args(["--idempotency-key", &key]));
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert!(stdout(&again).contains(&key), "{}", stdout(&again));
    assert_eq!(fake.fake.applied_updates().len(), 1);
    assert_secret_absent(KEY, &output, &[]);
}

#[test]
fn a_user_id_already_set_exits_1_and_says_nothing_was_applied() {
    let fake = Fake::start(vec![truemed_fake::SessionSeed::new("qs_set").user_id("user_1")]);
    let output = run(fake.truemed().args(["sessions", "update", "qs_set", "--user-id", "user_2"]));
    assert_eq!(code(&output), 1);
    let text = stderr(&output);
    assert!(text.contains("user_id_already_set"), "{text}");
    assert!(text.contains("nothing was applied"), "{text}");
    assert!(fake.fake.applied_updates().is_empty());
}

#[test]
fn a_failure_that_may_have_applied_prints_the_key_to_resend_with() {
    let server = httpmock::MockServer::start();
    let mock = server.mock(|_, then| {
        then.status(502).body("bad gateway");
    });
    let output = run(truemed_at(&server.base_url()).args([
        "sessions",
        "update",
        "qs_1",
        "--user-id",
        "u",
        "--idempotency-key",
        "attach-qs_1",
    ]));
    assert_eq!(code(&output), 1);
    let text = stderr(&output);
    assert!(text.contains("may have been applied"), "{text}");
    assert!(text.contains("--idempotency-key attach-qs_1"), "{text}");
    assert_eq!(mock.calls(), 3);
}

#[test]
fn bad_input_is_a_usage_error_and_sends_nothing() {
    let fake = Fake::start(seeds(1));
    for args in [
        vec!["sessions", "update", "qs_test_0000"],
        vec!["sessions", "update", "qs_test_0000", "--metadata", "{not json"],
        vec!["sessions", "update", "qs_test_0000", "--user-id", &"u".repeat(256)],
        vec!["sessions", "update", "qs_test_0000", "--user-id", "u", "--idempotency-key", ""],
    ] {
        let output = run(fake.truemed().args(&args));
        assert_eq!(code(&output), 2, "{args:?}: {}", stderr(&output));
    }
    assert_eq!(fake.fake.stats().update_requests, 0);
}
