//! What the control API refuses, over HTTP against an in-process fake: every wrong value is a
//! `400 ValidationError` whose message starts with the field's path, word-valued fields
//! included; each bound is the crate's constant, the one the binary's flags and
//! `openapi/fake-control.yaml` state too.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{call, call_with_key, fake};
use truemed_ext::Status;
use truemed_fake::{
    FakeTruemed, SessionSeed, CHAOS_PROBABILITY, MAX_CHAOS_FAULTS, MAX_CHAOS_SEED,
    MAX_CHAOS_WEIGHT, MAX_CONTROL_LIMIT, MAX_FAULT_TIMES, MAX_FLUSH_TIMEOUT, MAX_LATENCY,
    MAX_RETRY_AFTER, MAX_WEBHOOK_ATTEMPTS, MAX_WEBHOOK_BACKOFF, MAX_WEBHOOK_TIMEOUT,
    MIN_WEBHOOK_TIMEOUT,
};

const KEY: &str = "sk_test_control_input";

async fn seeded() -> FakeTruemed {
    let fake = FakeTruemed::builder().api_key(KEY).start().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake
}

async fn send(fake: &FakeTruemed, method: &str, path: &str, body: Value) -> (u16, Value) {
    support::request(&fake.base_url(), KEY, method, path, Some(body)).await
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap()
}

/// Asserts a `400 ValidationError` whose message starts with `prefix`.
fn assert_refused(what: &str, (status, body): &(u16, Value), prefix: &str) {
    assert_eq!(*status, 400, "{what}: {body}");
    assert_eq!(body["error"], "ValidationError", "{what}: {body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with(prefix), "{what}: {message:?} should start with {prefix:?}");
}

/// Cases by endpoint: a method, a path, and each case sent there (the bodies, and what
/// the refusal's message starts with or names).
type ByEndpoint<Case> = Vec<(&'static str, &'static str, Vec<Case>)>;

#[tokio::test]
async fn a_wrong_value_in_a_word_field_is_a_400_naming_the_field_and_its_words() {
    let fake = seeded().await;
    let sessions = r#"sessions: expected one of "initial", "none", got "#;
    let kind =
        r#"kind: expected one of "status", "drop_connection", "lose_response", "delay", got "#;
    let operation = r#"operation: expected one of "get_qualification_session", "list_qualification_sessions", "update_qualification_session", got "#;
    let cases: ByEndpoint<(Value, String)> = vec![
        (
            "POST",
            "/_fake/reset",
            vec![
                (json!({"sessions": 1}), sessions.into()),
                (json!({"sessions": true}), sessions.into()),
                (json!({"sessions": ["none"]}), sessions.into()),
                (json!({"sessions": "some"}), sessions.into()),
            ],
        ),
        (
            "POST",
            "/_fake/faults",
            vec![
                (json!({"kind": 5}), kind.into()),
                (json!({"kind": null}), kind.into()),
                (json!({"kind": {"status": 503}}), kind.into()),
                (json!({"kind": "explode"}), kind.into()),
                (json!({"kind": "lose_response", "operation": true}), operation.into()),
                (
                    json!({"kind": "lose_response", "operation": "delete_everything"}),
                    operation.into(),
                ),
            ],
        ),
        (
            "POST",
            "/_fake/chaos",
            vec![
                (json!({"probability": 0.5, "operation": []}), operation.into()),
                (
                    json!({"probability": 0.5, "faults": [{"weight": 1, "fault": {"kind": 7}}]}),
                    format!("faults[0].fault.{kind}"),
                ),
                (
                    json!({"probability": 0.5, "faults": [
                        {"weight": 1, "fault": {"kind": "drop_connection"}},
                        {"weight": 1, "fault": {"kind": "delay", "delay_ms": 1, "operation": 2.5}},
                    ]}),
                    format!("faults[1].fault.{operation}"),
                ),
            ],
        ),
    ];
    for (method, path, bodies) in cases {
        for (body, prefix) in bodies {
            let answer = send(&fake, method, path, body.clone()).await;
            assert_refused(&format!("{method} {path} {body}"), &answer, &prefix);
        }
    }
    // Nothing was changed by any of it.
    assert_eq!(fake.pending_faults(), 0);
    assert_eq!(fake.sessions().len(), 1);
}

#[tokio::test]
async fn a_wrong_value_anywhere_names_its_field() {
    let fake = seeded().await;
    // By endpoint: each body refused, and the start of its message.
    let cases: ByEndpoint<(Value, &str)> = vec![
        (
            "POST",
            "/_fake/sessions",
            vec![
                (json!({"status": 5}), "status: "),
                (json!({"created_at": 5}), "created_at: "),
                (json!({"email": false}), "email: "),
                (json!({"fee": "cheap"}), "fee: "),
                (json!({"metadata": "x".repeat(4097)}), "metadata: "),
                (json!({"success_url": "x".repeat(2049)}), "success_url: "),
            ],
        ),
        ("POST", "/_fake/sessions/qs_1/status", vec![(json!({"status": null}), "status: ")]),
        (
            "POST",
            "/_fake/faults",
            vec![
                (json!({"kind": "status", "status": "503"}), "status: "),
                (json!({"kind": "delay", "delay_ms": 1.5}), "delay_ms: "),
                (json!({"kind": "drop_connection", "times": "twice"}), "times: "),
            ],
        ),
        (
            "POST",
            "/_fake/chaos",
            vec![
                (json!({"probability": "half"}), "probability: "),
                (json!({"probability": 0.5, "faults": {}}), "faults: "),
                (json!({"probability": 0.5, "faults": [7]}), "faults[0]: "),
                (
                    json!({"probability": 0.5, "faults": [{"weight": "heavy", "fault": {"kind": "delay", "delay_ms": 1}}]}),
                    "faults[0].weight: ",
                ),
                (
                    json!({"probability": 0.5, "faults": [{"weight": 1, "fault": {"kind": "drop_connection", "delay_ms": 1}}]}),
                    "faults[0].fault.delay_ms: not allowed",
                ),
                (
                    json!({"probability": 0.5, "faults": [{"weight": 1, "fault": {"kind": "delay"}}]}),
                    "faults[0].fault.delay_ms: this field is required",
                ),
            ],
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            vec![
                (json!({"url": 7, "secret": "s"}), "url: "),
                (json!({"url": "http://127.0.0.1/", "secret": 7}), "secret: "),
                (json!({"url": "http://127.0.0.1/", "secret": "s", "attempts": "3"}), "attempts: "),
            ],
        ),
        ("POST", "/_fake/webhooks/flush", vec![(json!({"timeout_ms": "soon"}), "timeout_ms: ")]),
    ];
    for (method, path, bodies) in cases {
        for (body, prefix) in bodies {
            let answer = send(&fake, method, path, body.clone()).await;
            assert_refused(&format!("{method} {path} {body}"), &answer, prefix);
        }
    }
}

#[tokio::test]
async fn every_bound_takes_its_limit_and_refuses_one_past_it() {
    let fake = seeded().await;
    let status_fault = |extra: Value| {
        let mut body = json!({"kind": "status", "status": 503});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let endpoint = |extra: Value| {
        let mut body = json!({"url": "http://127.0.0.1:9/hooks", "secret": "whsec_bounds"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
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
    let cases: ByEndpoint<(Value, Value, &str)> = vec![
        (
            "PUT",
            "/_fake/latency",
            vec![(
                json!({"latency_ms": latency}),
                json!({"latency_ms": latency + 1}),
                "latency_ms",
            )],
        ),
        (
            "POST",
            "/_fake/faults",
            vec![
                (
                    json!({"kind": "delay", "delay_ms": latency}),
                    json!({"kind": "delay", "delay_ms": latency + 1}),
                    "delay_ms",
                ),
                (
                    status_fault(json!({"retry_after_ms": retry_after})),
                    status_fault(json!({"retry_after_ms": retry_after + 1})),
                    "retry_after_ms",
                ),
                (
                    status_fault(json!({"times": MAX_FAULT_TIMES})),
                    status_fault(json!({"times": u64::from(MAX_FAULT_TIMES) + 1})),
                    "times",
                ),
                (status_fault(json!({"times": 1})), status_fault(json!({"times": 0})), "times"),
                (
                    status_fault(json!({"status": 599})),
                    status_fault(json!({"status": 600})),
                    "status",
                ),
                (
                    status_fault(json!({"status": 300})),
                    status_fault(json!({"status": 299})),
                    "status",
                ),
            ],
        ),
        (
            "POST",
            "/_fake/chaos",
            vec![
                (
                    json!({"probability": CHAOS_PROBABILITY.end()}),
                    json!({"probability": CHAOS_PROBABILITY.end() + 0.001}),
                    "probability",
                ),
                (
                    json!({"probability": CHAOS_PROBABILITY.start()}),
                    json!({"probability": CHAOS_PROBABILITY.start() - 0.001}),
                    "probability",
                ),
                (
                    json!({"probability": 0.1, "seed": MAX_CHAOS_SEED}),
                    json!({"probability": 0.1, "seed": MAX_CHAOS_SEED + 1}),
                    "seed",
                ),
                (
                    json!({"probability": 0.1, "faults": [{"weight": MAX_CHAOS_WEIGHT, "fault": {"kind": "drop_connection"}}]}),
                    json!({"probability": 0.1, "faults": [{"weight": MAX_CHAOS_WEIGHT * 1.01, "fault": {"kind": "drop_connection"}}]}),
                    "faults[0].weight",
                ),
                (chaos_faults(MAX_CHAOS_FAULTS), chaos_faults(MAX_CHAOS_FAULTS + 1), "faults"),
                (chaos_faults(1), chaos_faults(0), "faults"),
            ],
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            vec![
                (
                    endpoint(json!({"attempts": MAX_WEBHOOK_ATTEMPTS})),
                    endpoint(json!({"attempts": MAX_WEBHOOK_ATTEMPTS + 1})),
                    "attempts",
                ),
                (endpoint(json!({"attempts": 1})), endpoint(json!({"attempts": 0})), "attempts"),
                (
                    endpoint(json!({"backoff_ms": backoff})),
                    endpoint(json!({"backoff_ms": backoff + 1})),
                    "backoff_ms",
                ),
                (
                    endpoint(json!({"timeout_ms": max_timeout})),
                    endpoint(json!({"timeout_ms": max_timeout + 1})),
                    "timeout_ms",
                ),
                (
                    endpoint(json!({"timeout_ms": min_timeout})),
                    endpoint(json!({"timeout_ms": min_timeout - 1})),
                    "timeout_ms",
                ),
            ],
        ),
        (
            "POST",
            "/_fake/webhooks/flush",
            vec![(json!({"timeout_ms": flush}), json!({"timeout_ms": flush + 1}), "timeout_ms")],
        ),
    ];
    for (method, path, bodies) in cases {
        for (taken, refused, field) in bodies {
            let answer = send(&fake, method, path, taken.clone()).await;
            assert!((200..300).contains(&answer.0), "{method} {path} {taken}: {answer:?}");
            let answer = send(&fake, method, path, refused.clone()).await;
            assert_refused(&format!("{method} {path} {refused}"), &answer, &format!("{field}: "));
            // Flushing waits for nothing here (port 9 refuses at once), but clear between cases.
            fake.clear_faults();
        }
    }
    // The listings' limit, in the query string.
    for path in ["/_fake/ledger", "/_fake/webhooks"] {
        let (status, _) = support::request(
            &fake.base_url(),
            KEY,
            "GET",
            &format!("{path}?limit={MAX_CONTROL_LIMIT}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{path}");
        let answer = support::request(
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
        node.as_f64().unwrap_or_else(|| panic!("{schema}.{field} has no {bound}"))
    };
    let f = |n: u64| n as f64;
    for (schema, field, bound, value) in [
        ("Latency", "latency_ms", "maximum", f(ms(MAX_LATENCY))),
        ("DelayFault", "delay_ms", "maximum", f(ms(MAX_LATENCY))),
        ("StatusFault", "retry_after_ms", "maximum", f(ms(MAX_RETRY_AFTER))),
        ("Times", "", "maximum", f(u64::from(MAX_FAULT_TIMES))),
        ("Times", "", "minimum", 1.0),
        ("Chaos", "probability", "minimum", *CHAOS_PROBABILITY.start()),
        ("Chaos", "probability", "maximum", *CHAOS_PROBABILITY.end()),
        ("Chaos", "seed", "maximum", f(MAX_CHAOS_SEED)),
        ("Chaos", "faults", "maxItems", MAX_CHAOS_FAULTS as f64),
        ("WeightedFault", "weight", "maximum", MAX_CHAOS_WEIGHT),
        ("WebhookEndpointSettings", "attempts", "maximum", f(u64::from(MAX_WEBHOOK_ATTEMPTS))),
        ("WebhookEndpointSettings", "backoff_ms", "maximum", f(ms(MAX_WEBHOOK_BACKOFF))),
        ("WebhookEndpointSettings", "timeout_ms", "minimum", f(ms(MIN_WEBHOOK_TIMEOUT))),
        ("WebhookEndpointSettings", "timeout_ms", "maximum", f(ms(MAX_WEBHOOK_TIMEOUT))),
        ("FlushRequest", "timeout_ms", "maximum", f(ms(MAX_FLUSH_TIMEOUT))),
    ] {
        assert_eq!(
            number(schema, field, bound),
            value,
            "{schema}.{field} {bound} in openapi/fake-control.yaml"
        );
    }
}

#[tokio::test]
async fn a_limit_out_of_range_is_a_400_naming_it() {
    let fake = fake().await;
    for path in ["/_fake/ledger", "/_fake/webhooks"] {
        for bad in ["0", "1001", "-1", "x", "", "1.5", "99999999999999999999"] {
            let (status, body) = call(&fake, "GET", &format!("{path}?limit={bad}"), None).await;
            assert_eq!(status, 400, "{path}?limit={bad}: {body}");
            assert_eq!(body["error"], "ValidationError");
            let message = body["message"].as_str().unwrap();
            assert!(message.starts_with("limit: "), "{message}");
            assert!(message.contains("1 to 1000"), "{message}");
        }
    }
}

#[test]
fn the_spec_documents_the_limits_the_code_applies() {
    use truemed_fake::{DEFAULT_CONTROL_LIMIT, MAX_CONTROL_LIMIT};
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/fake-control.yaml"
    ))
    .unwrap();
    // One parameter, components/parameters/Limit (its lines indented deeper than
    // `    Limit:`), used by both listings.
    let at = spec.find("\n    Limit:\n").expect("components.parameters.Limit");
    let block: Vec<&str> = spec[at..]
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with("      "))
        .map(str::trim)
        .collect();
    for line in [
        "name: limit".to_owned(),
        "in: query".to_owned(),
        "minimum: 1".to_owned(),
        format!("maximum: {MAX_CONTROL_LIMIT}"),
        format!("default: {DEFAULT_CONTROL_LIMIT}"),
    ] {
        assert!(block.contains(&line.as_str()), "{line:?} not in {block:#?}");
    }
    for operation in ["operationId: get_ledger", "operationId: list_webhook_deliveries"] {
        let at = spec.find(operation).unwrap();
        let rest = &spec[at..];
        let end = rest.find("responses:").unwrap();
        assert!(
            rest[..end].contains("$ref: \"#/components/parameters/Limit\""),
            "{operation} does not take components/parameters/Limit"
        );
    }
}

/// Every control operation: method, path, a valid body.
fn operations() -> Vec<(&'static str, &'static str, Option<Value>)> {
    vec![
        ("GET", "/_fake/sessions", None),
        ("POST", "/_fake/sessions", Some(json!({}))),
        ("GET", "/_fake/sessions/qs_1", None),
        ("DELETE", "/_fake/sessions/qs_1", None),
        ("POST", "/_fake/sessions/qs_1/approve", None),
        ("POST", "/_fake/sessions/qs_1/reject", None),
        ("POST", "/_fake/sessions/qs_1/status", Some(json!({"status": "processing"}))),
        ("GET", "/_fake/faults", None),
        ("POST", "/_fake/faults", Some(json!({"kind": "drop_connection"}))),
        ("DELETE", "/_fake/faults", None),
        ("POST", "/_fake/chaos", Some(json!({"probability": 0.1}))),
        ("DELETE", "/_fake/chaos", None),
        ("GET", "/_fake/latency", None),
        ("PUT", "/_fake/latency", Some(json!({"latency_ms": 0}))),
        ("GET", "/_fake/stats", None),
        ("GET", "/_fake/ledger", None),
        ("GET", "/_fake/webhook_endpoint", None),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            Some(json!({"url": "http://127.0.0.1:9/", "secret": "s"})),
        ),
        ("DELETE", "/_fake/webhook_endpoint", None),
        ("GET", "/_fake/webhooks", None),
        ("POST", "/_fake/webhooks/flush", None),
        ("GET", "/_fake/webhooks/whd_1", None),
        ("POST", "/_fake/reset", None),
    ]
}

#[tokio::test]
async fn every_control_operation_needs_the_key() {
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    for (method, path, body) in operations() {
        for key in ["", "sk_wrong"] {
            let (status, refused) =
                call_with_key(&fake, key, method, path, body.as_ref().map(Value::to_string)).await;
            assert_eq!(status, 401, "{method} {path} with {key:?}");
            assert_eq!(refused["error"], "Unauthorized", "{method} {path}");
        }
    }
    // Nothing happened, and control refusals are not counted as API requests.
    assert_eq!(fake.sessions().len(), 1);
    assert_eq!(fake.stats().unauthorized, 0);
    let response = reqwest::get(format!("{}/_fake/stats", fake.base_url())).await.unwrap();
    assert_eq!(response.status(), 401);
    // With the key, each answers (404 for the unknown delivery).
    for (method, path, body) in operations() {
        fake.seed(SessionSeed::new("qs_1"));
        let (status, answer) = call_with_key(
            &fake,
            &fake.api_key(),
            method,
            path,
            body.as_ref().map(Value::to_string),
        )
        .await;
        assert!(
            (200..300).contains(&status) || (status == 404 && path.contains("whd_")),
            "{method} {path}: {status} {answer}"
        );
    }
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    // By endpoint: each body refused, and the field its message names.
    let cases: ByEndpoint<(Value, &str)> = vec![
        (
            "POST",
            "/_fake/sessions",
            vec![
                (json!({"colour": "red"}), "colour"),
                (json!({"qualification_session_id": ""}), "qualification_session_id"),
                (json!({"qualification_session_id": 7}), "qualification_session_id"),
                (json!({"status": "Approved"}), "status"),
                (json!({"created_at": "yesterday"}), "created_at"),
                (json!({"expires_at": "2025-06-01"}), "expires_at"),
                (json!({"eligible_amount": "a lot"}), "eligible_amount"),
                (json!({"user_id": "u".repeat(256)}), "user_id"),
                (json!({"metadata": {"crm_id": 7}}), "metadata"),
            ],
        ),
        ("POST", "/_fake/sessions/qs_1/approve", vec![(json!({"expires_at": "x"}), "expires_at")]),
        ("POST", "/_fake/sessions/qs_1/reject", vec![(json!({"why": "x"}), "why")]),
        (
            "POST",
            "/_fake/sessions/qs_1/status",
            vec![(json!({}), "status"), (json!({"status": "APPROVED"}), "status")],
        ),
        (
            "POST",
            "/_fake/faults",
            vec![
                (json!({}), "kind"),
                (json!({"kind": "explode"}), "kind"),
                (json!({"kind": "status"}), "status"),
                (json!({"kind": "status", "status": 200}), "status"),
                (json!({"kind": "status", "status": 70000}), "status"),
                (json!({"kind": "status", "status": 503, "retry_after_ms": -1}), "retry_after_ms"),
                (json!({"kind": "drop_connection", "status": 503}), "status"),
                (json!({"kind": "drop_connection", "delay_ms": null}), "delay_ms"),
                (json!({"kind": "delay"}), "delay_ms"),
                (json!({"kind": "delay", "delay_ms": 600001}), "delay_ms"),
                (json!({"kind": "lose_response", "times": 0}), "times"),
                (json!({"kind": "lose_response", "operation": "delete_everything"}), "operation"),
            ],
        ),
        (
            "POST",
            "/_fake/chaos",
            vec![
                (json!({}), "probability"),
                (json!({"probability": 1.5}), "probability"),
                (json!({"probability": 0.5, "seed": -1}), "seed"),
                (json!({"probability": 0.5, "faults": []}), "faults"),
                (
                    json!({"probability": 0.5, "faults": [{"weight": 0, "fault": {"kind": "drop_connection"}}]}),
                    "faults[0].weight",
                ),
                (
                    json!({"probability": 0.5, "faults": [{"weight": 1, "fault": {"kind": "status"}}]}),
                    "faults[0].fault.status",
                ),
                (json!({"probability": 0.5, "faults": [{"weight": 1}]}), "faults[0].fault"),
            ],
        ),
        (
            "PUT",
            "/_fake/latency",
            vec![
                (json!({"latency_ms": "slow"}), "latency_ms"),
                (json!({"latency_ms": 600001}), "latency_ms"),
            ],
        ),
        (
            "PUT",
            "/_fake/webhook_endpoint",
            vec![
                (json!({"secret": "s"}), "url"),
                (json!({"url": "ftp://x", "secret": "s"}), "url"),
                (json!({"url": "http://user@host/", "secret": "s"}), "url"),
                (json!({"url": "http://127.0.0.1/"}), "secret"),
                (json!({"url": "http://127.0.0.1/", "secret": "has space"}), "secret"),
                (json!({"url": "http://127.0.0.1/", "secret": "s", "attempts": 21}), "attempts"),
                (json!({"url": "http://127.0.0.1/", "secret": "s", "timeout_ms": 0}), "timeout_ms"),
                (json!({"url": "http://127.0.0.1/", "secret": "s", "signed": "yes"}), "signed"),
            ],
        ),
        ("POST", "/_fake/webhooks/flush", vec![(json!({"timeout_ms": 60001}), "timeout_ms")]),
        ("POST", "/_fake/reset", vec![(json!({"sessions": "some"}), "sessions")]),
    ];
    for (method, path, bodies) in cases {
        for (body, field) in bodies {
            let (status, refused) = call(&fake, method, path, Some(body.clone())).await;
            assert_eq!(status, 400, "{method} {path} {body}: {refused}");
            assert_eq!(refused["error"], "ValidationError", "{method} {path} {body}");
            let message = refused["message"].as_str().unwrap();
            assert!(
                message.starts_with(&format!("{field}: ")),
                "{method} {path} {body}: {message:?} should start with {field:?}"
            );
        }
    }
    // Bodies that are not JSON objects.
    for (method, path) in [
        ("POST", "/_fake/sessions"),
        ("POST", "/_fake/faults"),
        ("POST", "/_fake/chaos"),
        ("PUT", "/_fake/latency"),
        ("PUT", "/_fake/webhook_endpoint"),
        ("POST", "/_fake/sessions/qs_1/status"),
        ("POST", "/_fake/reset"),
    ] {
        for body in ["[]", "null", "7", "{", "not json", "{} {}", "\u{0}"] {
            let (status, refused) =
                call_with_key(&fake, &fake.api_key(), method, path, Some(body.into())).await;
            assert_eq!(status, 400, "{method} {path} {body:?}");
            assert_eq!(refused["error"], "ValidationError");
        }
    }
    // Bodies are bounded.
    let huge = format!("{{\"email\": \"{}\"}}", "x".repeat(3 << 20));
    let (status, refused) =
        call_with_key(&fake, &fake.api_key(), "POST", "/_fake/sessions", Some(huge)).await;
    assert_eq!((status, &refused["error"]), (413, &json!("PayloadTooLarge")));
    // Required bodies cannot be empty.
    let (status, refused) =
        call_with_key(&fake, &fake.api_key(), "POST", "/_fake/faults", Some(String::new())).await;
    assert_eq!(status, 400);
    assert!(refused["message"].as_str().unwrap().contains("empty"));
    // Nothing was changed by any of it.
    assert_eq!(fake.pending_faults(), 0);
    assert_eq!(fake.sessions().len(), 1);
    assert_eq!(fake.session("qs_1").unwrap().status, Status::Pending);
    assert!(fake.webhook().is_none());
}

#[tokio::test]
async fn garbage_never_breaks_the_server() {
    use rand::{Rng as _, SeedableRng as _};
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let fragments = [
        "{",
        "}",
        "[",
        "]",
        "\"",
        ":",
        ",",
        "null",
        "true",
        "-1",
        "1e999",
        "18446744073709551616",
        "\"kind\"",
        "\"status\"",
        "\"faults\"",
        "\"probability\"",
        "\"url\"",
        "\u{1F600}",
        "\\u0000",
        "\"sessions\"",
        "0.5",
        " ",
    ];
    let mut codes = std::collections::BTreeMap::new();
    for round in 0..300 {
        let (method, path, _) = operations()[round % operations().len()].clone();
        let body: String = (0..rng.gen_range(0..12))
            .map(|_| fragments[rng.gen_range(0..fragments.len())])
            .collect();
        let (status, _) = call_with_key(&fake, &fake.api_key(), method, path, Some(body)).await;
        assert!(status < 500, "{method} {path}: {status}");
        *codes.entry(status).or_insert(0) += 1;
    }
    assert!(codes.contains_key(&400), "{codes:?}");
    // Still serving.
    let (status, _) = call(&fake, "GET", "/_fake/stats", None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn wrong_methods_and_unknown_paths() {
    let fake = fake().await;
    for (method, path, allow) in [
        ("DELETE", "/_fake/stats", "GET, HEAD"),
        ("PUT", "/_fake/sessions", "GET, HEAD, POST"),
        ("GET", "/_fake/sessions/qs_1/approve", "POST"),
        ("GET", "/_fake/reset", "POST"),
        ("GET", "/_fake/chaos", "POST, DELETE"),
        ("GET", "/_fake/webhooks/flush", "POST"),
    ] {
        let response = reqwest::Client::new()
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", fake.base_url()),
            )
            .header("x-truemed-api-key", fake.api_key())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "MethodNotAllowed");
    }
    for path in ["/_fake", "/_fake/", "/_fake/nothing", "/_fake/sessions/qs_1/explode"] {
        let (status, body) = call(&fake, "GET", path, None).await;
        assert_eq!((status, &body["error"]), (404, &json!("NotFound")), "{path}");
    }
    assert_eq!(fake.stats().requests, 0);
}
