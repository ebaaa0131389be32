//! What the control API refuses, over HTTP against an in-process fake: every wrong value is a
//! `400 ValidationError` whose message starts with the field's path, word-valued fields
//! included; each bound is the crate's constant, the one the binary's flags and
//! `openapi/fake-control.yaml` state too.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use truemed_fake::{
    FakeTruemed, SessionSeed, CHAOS_PROBABILITY, MAX_CHAOS_FAULTS, MAX_CHAOS_SEED,
    MAX_CHAOS_WEIGHT, MAX_CONTROL_LIMIT, MAX_FAULT_TIMES, MAX_FLUSH_TIMEOUT, MAX_LATENCY,
    MAX_RETRY_AFTER, MAX_WEBHOOK_ATTEMPTS, MAX_WEBHOOK_BACKOFF, MAX_WEBHOOK_TIMEOUT,
    MIN_WEBHOOK_TIMEOUT,
};

const KEY: &str = "sk_test_control_input";

async fn fake() -> FakeTruemed {
    let fake = FakeTruemed::builder().api_key(KEY).start().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake
}

async fn call(fake: &FakeTruemed, method: &str, path: &str, body: Value) -> (u16, Value) {
    support::call(&fake.base_url(), KEY, method, path, Some(body)).await
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap()
}

/// Asserts a `400 ValidationError` whose message starts with `prefix`.
fn assert_refused(what: &str, (status, body): &(u16, Value), prefix: &str) {
    assert_eq!(*status, 400, "{what}: {body}");
    assert_eq!(body["error"], "ValidationError", "{what}: {body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with(prefix),
        "{what}: {message:?} should start with {prefix:?}"
    );
}

#[tokio::test]
async fn a_wrong_value_in_a_word_field_is_a_400_naming_the_field_and_its_words() {
    let fake = fake().await;
    let sessions = r#"sessions: expected one of "initial", "none", got "#;
    let kind =
        r#"kind: expected one of "status", "drop_connection", "lose_response", "delay", got "#;
    let operation = r#"operation: expected one of "get_qualification_session", "list_qualification_sessions", "update_qualification_session", got "#;
    let cases: Vec<(&str, &str, Value, String)> = vec![
        (
            "POST",
            "/_fake/reset",
            json!({"sessions": 1}),
            sessions.into(),
        ),
        (
            "POST",
            "/_fake/reset",
            json!({"sessions": true}),
            sessions.into(),
        ),
        (
            "POST",
            "/_fake/reset",
            json!({"sessions": ["none"]}),
            sessions.into(),
        ),
        (
            "POST",
            "/_fake/reset",
            json!({"sessions": "some"}),
            sessions.into(),
        ),
        ("POST", "/_fake/faults", json!({"kind": 5}), kind.into()),
        ("POST", "/_fake/faults", json!({"kind": null}), kind.into()),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": {"status": 503}}),
            kind.into(),
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "explode"}),
            kind.into(),
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "lose_response", "operation": true}),
            operation.into(),
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "lose_response", "operation": "delete_everything"}),
            operation.into(),
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.5, "operation": []}),
            operation.into(),
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.5, "faults": [{"weight": 1, "fault": {"kind": 7}}]}),
            format!("faults[0].fault.{kind}"),
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.5, "faults": [
                {"weight": 1, "fault": {"kind": "drop_connection"}},
                {"weight": 1, "fault": {"kind": "delay", "delay_ms": 1, "operation": 2.5}},
            ]}),
            format!("faults[1].fault.{operation}"),
        ),
    ];
    for (method, path, body, prefix) in cases {
        let answer = call(&fake, method, path, body.clone()).await;
        assert_refused(&format!("{method} {path} {body}"), &answer, &prefix);
    }
    // Nothing was changed by any of it.
    assert_eq!(fake.pending_faults(), 0);
    assert_eq!(fake.sessions().len(), 1);
}

#[tokio::test]
async fn a_wrong_value_anywhere_names_its_field() {
    let fake = fake().await;
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        ("POST", "/_fake/sessions", json!({"status": 5}), "status: "),
        (
            "POST",
            "/_fake/sessions",
            json!({"created_at": 5}),
            "created_at: ",
        ),
        (
            "POST",
            "/_fake/sessions",
            json!({"email": false}),
            "email: ",
        ),
        ("POST", "/_fake/sessions", json!({"fee": "cheap"}), "fee: "),
        (
            "POST",
            "/_fake/sessions",
            json!({"metadata": "x".repeat(4097)}),
            "metadata: ",
        ),
        (
            "POST",
            "/_fake/sessions",
            json!({"success_url": "x".repeat(2049)}),
            "success_url: ",
        ),
        (
            "POST",
            "/_fake/sessions/qs_1/status",
            json!({"status": null}),
            "status: ",
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "status", "status": "503"}),
            "status: ",
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "delay", "delay_ms": 1.5}),
            "delay_ms: ",
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "drop_connection", "times": "twice"}),
            "times: ",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": "half"}),
            "probability: ",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.5, "faults": {}}),
            "faults: ",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.5, "faults": [7]}),
            "faults[0]: ",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.5, "faults": [{"weight": "heavy", "fault": {"kind": "delay", "delay_ms": 1}}]}),
            "faults[0].weight: ",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.5, "faults": [{"weight": 1, "fault": {"kind": "drop_connection", "delay_ms": 1}}]}),
            "faults[0].fault.delay_ms: not allowed",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.5, "faults": [{"weight": 1, "fault": {"kind": "delay"}}]}),
            "faults[0].fault.delay_ms: this field is required",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            json!({"url": 7, "secret": "s"}),
            "url: ",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            json!({"url": "http://127.0.0.1/", "secret": 7}),
            "secret: ",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            json!({"url": "http://127.0.0.1/", "secret": "s", "attempts": "3"}),
            "attempts: ",
        ),
        (
            "POST",
            "/_fake/webhooks/flush",
            json!({"timeout_ms": "soon"}),
            "timeout_ms: ",
        ),
    ];
    for (method, path, body, prefix) in cases {
        let answer = call(&fake, method, path, body.clone()).await;
        assert_refused(&format!("{method} {path} {body}"), &answer, prefix);
    }
}

#[tokio::test]
async fn every_bound_takes_its_limit_and_refuses_one_past_it() {
    let fake = fake().await;
    let status_fault = |extra: Value| {
        let mut body = json!({"kind": "status", "status": 503});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let endpoint = |extra: Value| {
        let mut body = json!({"url": "http://127.0.0.1:9/hooks", "secret": "whsec_bounds"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let chaos_faults = |n: usize| {
        let one = json!({"weight": 1, "fault": {"kind": "drop_connection"}});
        json!({"probability": 0.1, "faults": vec![one; n]})
    };
    let latency = ms(MAX_LATENCY);
    let retry_after = ms(MAX_RETRY_AFTER);
    let backoff = ms(MAX_WEBHOOK_BACKOFF);
    let (min_timeout, max_timeout) = (ms(MIN_WEBHOOK_TIMEOUT), ms(MAX_WEBHOOK_TIMEOUT));
    let flush = ms(MAX_FLUSH_TIMEOUT);
    // (method, path, taken, refused, field)
    let cases: Vec<(&str, &str, Value, Value, &str)> = vec![
        (
            "PUT",
            "/_fake/latency",
            json!({"latency_ms": latency}),
            json!({"latency_ms": latency + 1}),
            "latency_ms",
        ),
        (
            "POST",
            "/_fake/faults",
            json!({"kind": "delay", "delay_ms": latency}),
            json!({"kind": "delay", "delay_ms": latency + 1}),
            "delay_ms",
        ),
        (
            "POST",
            "/_fake/faults",
            status_fault(json!({"retry_after_ms": retry_after})),
            status_fault(json!({"retry_after_ms": retry_after + 1})),
            "retry_after_ms",
        ),
        (
            "POST",
            "/_fake/faults",
            status_fault(json!({"times": MAX_FAULT_TIMES})),
            status_fault(json!({"times": u64::from(MAX_FAULT_TIMES) + 1})),
            "times",
        ),
        (
            "POST",
            "/_fake/faults",
            status_fault(json!({"times": 1})),
            status_fault(json!({"times": 0})),
            "times",
        ),
        (
            "POST",
            "/_fake/faults",
            status_fault(json!({"status": 599})),
            status_fault(json!({"status": 600})),
            "status",
        ),
        (
            "POST",
            "/_fake/faults",
            status_fault(json!({"status": 300})),
            status_fault(json!({"status": 299})),
            "status",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": CHAOS_PROBABILITY.end()}),
            json!({"probability": CHAOS_PROBABILITY.end() + 0.001}),
            "probability",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": CHAOS_PROBABILITY.start()}),
            json!({"probability": CHAOS_PROBABILITY.start() - 0.001}),
            "probability",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.1, "seed": MAX_CHAOS_SEED}),
            json!({"probability": 0.1, "seed": MAX_CHAOS_SEED + 1}),
            "seed",
        ),
        (
            "POST",
            "/_fake/chaos",
            json!({"probability": 0.1, "faults": [{"weight": MAX_CHAOS_WEIGHT, "fault": {"kind": "drop_connection"}}]}),
            json!({"probability": 0.1, "faults": [{"weight": MAX_CHAOS_WEIGHT * 1.01, "fault": {"kind": "drop_connection"}}]}),
            "faults[0].weight",
        ),
        (
            "POST",
            "/_fake/chaos",
            chaos_faults(MAX_CHAOS_FAULTS),
            chaos_faults(MAX_CHAOS_FAULTS + 1),
            "faults",
        ),
        (
            "POST",
            "/_fake/chaos",
            chaos_faults(1),
            chaos_faults(0),
            "faults",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            endpoint(json!({"attempts": MAX_WEBHOOK_ATTEMPTS})),
            endpoint(json!({"attempts": MAX_WEBHOOK_ATTEMPTS + 1})),
            "attempts",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            endpoint(json!({"attempts": 1})),
            endpoint(json!({"attempts": 0})),
            "attempts",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            endpoint(json!({"backoff_ms": backoff})),
            endpoint(json!({"backoff_ms": backoff + 1})),
            "backoff_ms",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            endpoint(json!({"timeout_ms": max_timeout})),
            endpoint(json!({"timeout_ms": max_timeout + 1})),
            "timeout_ms",
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            endpoint(json!({"timeout_ms": min_timeout})),
            endpoint(json!({"timeout_ms": min_timeout - 1})),
            "timeout_ms",
        ),
        (
            "POST",
            "/_fake/webhooks/flush",
            json!({"timeout_ms": flush}),
            json!({"timeout_ms": flush + 1}),
            "timeout_ms",
        ),
    ];
    for (method, path, taken, refused, field) in cases {
        let answer = call(&fake, method, path, taken.clone()).await;
        assert!(
            (200..300).contains(&answer.0),
            "{method} {path} {taken}: {answer:?}"
        );
        let answer = call(&fake, method, path, refused.clone()).await;
        assert_refused(
            &format!("{method} {path} {refused}"),
            &answer,
            &format!("{field}: "),
        );
        // Flushing waits for nothing here (port 9 refuses at once), but clear between cases.
        fake.clear_faults();
    }
    // The listings' limit, in the query string.
    for path in ["/_fake/ledger", "/_fake/webhooks"] {
        let (status, _) = support::call(
            &fake.base_url(),
            KEY,
            "GET",
            &format!("{path}?limit={MAX_CONTROL_LIMIT}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{path}");
        let answer = support::call(
            &fake.base_url(),
            KEY,
            "GET",
            &format!("{path}?limit={}", MAX_CONTROL_LIMIT + 1),
            None,
        )
        .await;
        assert_refused(path, &answer, "limit: ");
    }
}

/// `openapi/fake-control.yaml`, parsed.
fn spec() -> serde_yaml::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/fake-control.yaml"
    ))
    .unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn the_spec_states_the_bounds_the_code_applies() {
    let spec = spec();
    let schemas = &spec["components"]["schemas"];
    let number = |schema: &str, field: &str, bound: &str| -> f64 {
        let node = if field.is_empty() {
            &schemas[schema][bound]
        } else {
            &schemas[schema]["properties"][field][bound]
        };
        node.as_f64()
            .unwrap_or_else(|| panic!("{schema}.{field} has no {bound}"))
    };
    let f = |n: u64| n as f64;
    for (schema, field, bound, value) in [
        ("Latency", "latency_ms", "maximum", f(ms(MAX_LATENCY))),
        ("DelayFault", "delay_ms", "maximum", f(ms(MAX_LATENCY))),
        (
            "StatusFault",
            "retry_after_ms",
            "maximum",
            f(ms(MAX_RETRY_AFTER)),
        ),
        ("Times", "", "maximum", f(u64::from(MAX_FAULT_TIMES))),
        ("Times", "", "minimum", 1.0),
        (
            "Chaos",
            "probability",
            "minimum",
            *CHAOS_PROBABILITY.start(),
        ),
        ("Chaos", "probability", "maximum", *CHAOS_PROBABILITY.end()),
        ("Chaos", "seed", "maximum", f(MAX_CHAOS_SEED)),
        ("Chaos", "faults", "maxItems", MAX_CHAOS_FAULTS as f64),
        ("WeightedFault", "weight", "maximum", MAX_CHAOS_WEIGHT),
        (
            "WebhookEndpointSettings",
            "attempts",
            "maximum",
            f(u64::from(MAX_WEBHOOK_ATTEMPTS)),
        ),
        (
            "WebhookEndpointSettings",
            "backoff_ms",
            "maximum",
            f(ms(MAX_WEBHOOK_BACKOFF)),
        ),
        (
            "WebhookEndpointSettings",
            "timeout_ms",
            "minimum",
            f(ms(MIN_WEBHOOK_TIMEOUT)),
        ),
        (
            "WebhookEndpointSettings",
            "timeout_ms",
            "maximum",
            f(ms(MAX_WEBHOOK_TIMEOUT)),
        ),
        (
            "FlushRequest",
            "timeout_ms",
            "maximum",
            f(ms(MAX_FLUSH_TIMEOUT)),
        ),
    ] {
        assert_eq!(
            number(schema, field, bound),
            value,
            "{schema}.{field} {bound} in openapi/fake-control.yaml"
        );
    }
}
