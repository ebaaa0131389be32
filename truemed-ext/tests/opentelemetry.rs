//! OpenTelemetry: the spans as tracing-opentelemetry exports them and the
//! `http.client.request.duration` histogram, read back from the SDK's in-memory exporters,
//! field by field, over real HTTP (a scripted server on 127.0.0.1), with retries.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::json;
use support::{error_getting_qs_1, RawReply, RawServer, Reply, Scripted, API_KEY};
use tracing_subscriber::layer::SubscriberExt as _;
use truemed_ext::{Client, IdempotencyKey, RetryPolicy, Sleeper};

const GET_TEMPLATE: &str = "/api/v1/qualification_session/{qualification_session_id}";

/// Spans exported by tracing-opentelemetry while `run` runs, in this thread only.
async fn exported_spans<F: std::future::Future<Output = ()>>(run: F) -> Vec<SpanData> {
    interest_for_every_callsite();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let subscriber = tracing_subscriber::registry().with(
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("tests"))
            // Only the client's attributes: none of the layer's own (code location,
            // thread, busy and idle times, target).
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_target(false),
    );
    {
        let _guard = tracing::subscriber::set_default(subscriber);
        run.await;
    }
    provider.force_flush().unwrap();
    exporter.get_finished_spans().unwrap()
}

/// Makes every span and event interesting to some subscriber, for the whole binary. The
/// tests run on threads of their own, some with a subscriber set for the thread and some
/// with none; tracing caches whether a callsite is enabled the first time any thread hits
/// it, and a span first hit on a thread without a subscriber could stay disabled for a
/// test that was exporting it (an attempt's span was missing, once in about fifteen runs).
/// With a global registry, which enables everything, each thread's own subscriber decides.
fn interest_for_every_callsite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry())
            .expect("no other global subscriber in this binary");
    });
}

/// A client of `base_url` whose retries do not wait.
fn client_of(base_url: &str) -> truemed_ext::ClientBuilder {
    interest_for_every_callsite();
    Client::builder()
        .api_key(API_KEY)
        .base_url(base_url)
        .sleeper(Sleeper::from_fn(|_| Box::pin(async {})))
}

fn attributes(span: &SpanData) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for KeyValue { key, value, .. } in &span.attributes {
        assert!(
            map.insert(key.as_str().to_owned(), value.clone()).is_none(),
            "{} twice on {}",
            key.as_str(),
            span.name
        );
    }
    map
}

fn string(text: &str) -> Value {
    Value::String(text.to_owned().into())
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|span| span.name == name).collect()
}

/// Every text of a span: its name, status, attributes, and its events' names and
/// attributes.
fn all_text(span: &SpanData) -> String {
    let mut text = format!("{} {:?}", span.name, span.status);
    for kv in &span.attributes {
        text += &format!(" {}={}", kv.key, kv.value);
    }
    for event in &span.events.events {
        text += &format!(" event {}", event.name);
        for kv in &event.attributes {
            text += &format!(" {}={}", kv.key, kv.value);
        }
    }
    text
}

/// The attributes a span or a point should carry: those every one has, and `extra`.
fn expected_attributes(
    common: &[(&str, Value)],
    extra: &[(&str, Value)],
) -> BTreeMap<String, Value> {
    common.iter().chain(extra).map(|(key, value)| ((*key).to_owned(), value.clone())).collect()
}

#[tokio::test]
async fn a_retried_get_is_an_internal_call_span_holding_one_client_span_per_attempt() {
    let server = Scripted::sequence(vec![
        Reply::json(503, json!({"error": "Unavailable"})),
        Reply::json(200, support::session("qs_1", "approved")),
    ])
    .await;
    let port = i64::from(url::Url::parse(&server.base_url).unwrap().port().unwrap());
    let client = client_of(&server.base_url).build().unwrap();
    let spans = exported_spans(async {
        client.qualification_sessions().get("qs_1").await.unwrap();
    })
    .await;

    let calls = named(&spans, "truemed get_qualification_session");
    assert_eq!(calls.len(), 1, "{spans:#?}");
    let call = calls[0];
    assert_eq!(call.span_kind, SpanKind::Internal);
    assert_eq!(call.status, Status::Unset);
    let call_attributes = attributes(call);
    assert_eq!(
        call_attributes,
        BTreeMap::from([
            ("truemed.operation".into(), string("get_qualification_session")),
            ("truemed.idempotency_key.present".into(), Value::Bool(false)),
            ("truemed.attempts".into(), Value::I64(2)),
        ])
    );

    let attempts = named(&spans, &format!("GET {GET_TEMPLATE}"));
    assert_eq!(attempts.len(), 2, "{spans:#?}");
    let url_full = format!("{}/api/v1/qualification_session/qs_1", server.base_url);
    let common = [
        ("http.request.method", string("GET")),
        ("server.address", string("127.0.0.1")),
        ("server.port", Value::I64(port)),
        ("url.full", string(&url_full)),
        ("url.template", string(GET_TEMPLATE)),
        ("truemed.operation", string("get_qualification_session")),
        ("truemed.idempotency_key.present", Value::Bool(false)),
    ];
    let expected = |extra: &[(&str, Value)]| expected_attributes(&common, extra);
    let (first, second) = (attempts[0], attempts[1]);
    for attempt in [first, second] {
        assert_eq!(attempt.span_kind, SpanKind::Client);
        assert_eq!(attempt.parent_span_id, call.span_context.span_id());
        assert_eq!(attempt.span_context.trace_id(), call.span_context.trace_id());
    }
    assert!(first.start_time <= second.start_time);
    assert_eq!(
        attributes(first),
        expected(&[("http.response.status_code", Value::I64(503)), ("error.type", string("503")),])
    );
    assert_eq!(first.status, Status::error(""));
    assert_eq!(
        attributes(second),
        expected(&[
            ("http.response.status_code", Value::I64(200)),
            ("http.request.resend_count", Value::I64(1)),
        ])
    );
    assert_eq!(second.status, Status::Unset);
    // The retry is told on the failed attempt.
    assert!(first.events.events.iter().any(|e| e.name == "retrying"), "{first:#?}");
}

#[tokio::test]
async fn a_404_and_transport_failures_are_errors_with_their_error_type() {
    let not_found = Scripted::sequence(vec![Reply::json(404, json!({"error": "NotFound"}))]).await;
    let slow = Scripted::sequence(vec![
        Reply::json(200, support::session("qs_1", "approved")).delay(Duration::from_secs(30))
    ])
    .await;
    // A body cut short: 1 byte of 100, then the connection closes.
    let cut = RawServer::start(|_, _| RawReply {
        head: b"HTTP/1.1 200 X\r\nconnection: close\r\ncontent-length: 100\r\n\r\n{".to_vec(),
        chunk: b"",
        repeat: 0,
    })
    .await;
    // A response that is not HTTP (two lengths).
    let malformed =
        RawServer::start(|_, _| RawReply::new(200, &[b"content-length: 100"], b"{")).await;
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{address}")
    };
    // Generous times: only the slow server's 30 s reply outlasts the timeout.
    for (base_url, error_type, status) in [
        (not_found.base_url.as_str(), "404", Some(404)),
        (slow.base_url.as_str(), "timeout", None),
        // The head arrived: its status is recorded though the body failed.
        (cut.base_url.as_str(), "body", Some(200)),
        (malformed.base_url.as_str(), "connection", None),
        (refused.as_str(), "connect", None),
    ] {
        let client = client_of(base_url)
            .timeout(Duration::from_secs(2))
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let spans = exported_spans(async {
            error_getting_qs_1(&client).await;
        })
        .await;
        let [call] = named(&spans, "truemed get_qualification_session")[..] else {
            panic!("{spans:#?}")
        };
        let [attempt] = named(&spans, &format!("GET {GET_TEMPLATE}"))[..] else {
            panic!("{spans:#?}")
        };
        for span in [call, attempt] {
            assert_eq!(span.status, Status::error(""), "{base_url}: {span:#?}");
            assert_eq!(
                attributes(span).get("error.type"),
                Some(&string(error_type)),
                "{base_url}: {span:#?}"
            );
        }
        let attempt_attributes = attributes(attempt);
        assert_eq!(
            attempt_attributes.get("http.response.status_code"),
            status.map(Value::I64).as_ref(),
            "{base_url}: {attempt:#?}"
        );
        assert!(!attempt_attributes.contains_key("http.request.resend_count"));
        assert_eq!(
            attempt_attributes.get("url.full"),
            Some(&string(&format!("{base_url}/api/v1/qualification_session/qs_1")))
        );
    }
}

#[tokio::test]
async fn no_attribute_or_event_of_any_span_carries_personal_data_or_the_key() {
    let server = Scripted::start(|n, request| {
        if request.uri.path().ends_with("/qualification_sessions") {
            let page = json!({"qualification_sessions": [
                {"qualification_session_id": "qs_1", "status": "approved",
                 "email": "ada@example.com", "user_name": "Ada Lovelace"}
            ]});
            return Reply::json(200, page);
        }
        if n == 0 {
            return Reply::json(503, json!({"error": "Unavailable", "message": "ada@example.com"}));
        }
        Reply::json(
            200,
            json!({"qualification_session_id": "qs_1", "status": "approved",
                   "email": "ada@example.com", "user_name": "Ada Lovelace"}),
        )
    })
    .await;
    let client = client_of(&server.base_url).build().unwrap();
    let key = IdempotencyKey::new("update-qs_1-7f3a").unwrap();
    let spans = exported_spans(async {
        client.qualification_sessions().get("qs_1").await.unwrap();
        client
            .qualification_sessions()
            .list()
            .search("ada@example.com")
            .user_id("user_42")
            .send()
            .await
            .unwrap();
        client
            .qualification_sessions()
            .update("qs_1")
            .user_id("user_42")
            .metadata(&json!({"name": "Ada Lovelace"}))
            .idempotency_key(key.clone())
            .send()
            .await
            .unwrap();
    })
    .await;
    assert_eq!(named(&spans, "truemed.call").len(), 0, "every span is named");
    for span in &spans {
        let text = all_text(span);
        for personal in
            ["ada", "Ada", "Lovelace", "user_42", "example.com", "@", API_KEY, key.as_str()]
        {
            assert!(!text.contains(personal), "{personal} in {text}");
        }
    }
    let [list] = named(&spans, "GET /api/v1/qualification_sessions")[..] else {
        panic!("{spans:#?}")
    };
    let url_full = attributes(list)["url.full"].to_string();
    let query = url_full.split_once('?').unwrap().1;
    let mut pairs: Vec<&str> = query.split('&').collect();
    pairs.sort();
    assert!(pairs.contains(&"search=REDACTED"), "{url_full}");
    assert!(pairs.contains(&"user_id=REDACTED"), "{url_full}");
    assert!(pairs.iter().all(|pair| pair.ends_with("=REDACTED")), "{url_full}");
    for name in [
        "truemed update_qualification_session",
        "POST /api/v1/qualification_session/{qualification_session_id}/update",
    ] {
        let [update] = named(&spans, name)[..] else { panic!("{name}: {spans:#?}") };
        let update = attributes(update);
        assert_eq!(update["truemed.idempotency_key.present"], Value::Bool(true));
        assert!(!update.contains_key("truemed.idempotency_key"));
    }
}

#[tokio::test]
async fn idempotency_keys_show_in_the_spans_only_when_asked() {
    let server =
        Scripted::sequence(vec![Reply::json(200, support::session("qs_1", "approved"))]).await;
    let client = client_of(&server.base_url).trace_idempotency_keys(true).build().unwrap();
    let key = IdempotencyKey::new("update-qs_1-7f3a").unwrap();
    let spans = exported_spans(async {
        client
            .qualification_sessions()
            .update("qs_1")
            .idempotency_key(key.clone())
            .send()
            .await
            .unwrap();
    })
    .await;
    assert_eq!(spans.len(), 2, "{spans:#?}");
    for span in &spans {
        let attributes = attributes(span);
        assert_eq!(attributes.get("truemed.idempotency_key"), Some(&string(key.as_str())));
        assert_eq!(attributes["truemed.idempotency_key.present"], Value::Bool(true));
    }
    let [attempt] =
        named(&spans, "POST /api/v1/qualification_session/{qualification_session_id}/update")[..]
    else {
        panic!("{spans:#?}")
    };
    assert_eq!(attempt.span_kind, SpanKind::Client);
    assert_eq!(attributes(attempt)["http.request.method"], string("POST"));
}

/// A meter provider whose metrics are read back with [`read_durations`].
fn meter_provider() -> (SdkMeterProvider, InMemoryMetricExporter) {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    (provider, exporter)
}

/// One histogram point: its attributes, count and bucket boundaries.
#[derive(Debug)]
struct Point {
    attributes: BTreeMap<String, Value>,
    count: u64,
    bounds: Vec<f64>,
    sum: f64,
}

/// The `http.client.request.duration` points exported so far, after checking the
/// instrument's scope, unit and type.
fn read_durations(provider: &SdkMeterProvider, exporter: &InMemoryMetricExporter) -> Vec<Point> {
    provider.force_flush().unwrap();
    let mut points = Vec::new();
    let exported = exporter.get_finished_metrics().unwrap();
    let last = exported.last().expect("metrics exported");
    for scope in last.scope_metrics() {
        for metric in scope.metrics() {
            if metric.name() != "http.client.request.duration" {
                continue;
            }
            assert_eq!(scope.scope().name(), "truemed-ext");
            assert_eq!(scope.scope().version(), Some(env!("CARGO_PKG_VERSION")));
            assert_eq!(metric.unit(), "s");
            let AggregatedMetrics::F64(MetricData::Histogram(histogram)) = metric.data() else {
                panic!("not an f64 histogram: {:?}", metric.data())
            };
            for point in histogram.data_points() {
                points.push(Point {
                    attributes: point
                        .attributes()
                        .map(|kv| (kv.key.as_str().to_owned(), kv.value.clone()))
                        .collect(),
                    count: point.count(),
                    bounds: point.bounds().collect(),
                    sum: point.sum(),
                });
            }
        }
    }
    points
}

const BOUNDARIES: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

#[tokio::test]
async fn each_request_records_its_duration_with_the_conventions_attributes() {
    let server = Scripted::start(|n, request| match (n, request.uri.path()) {
        (_, path) if path.ends_with("/qs_missing") => {
            Reply::json(404, json!({"error": "NotFound"}))
        }
        (0, _) => Reply::json(503, json!({"error": "Unavailable"})),
        _ => Reply::json(200, support::session("qs_1", "approved")),
    })
    .await;
    let port = i64::from(url::Url::parse(&server.base_url).unwrap().port().unwrap());
    let (provider, exporter) = meter_provider();
    let client = client_of(&server.base_url).meter_provider(&provider).build().unwrap();
    client.qualification_sessions().get("qs_1").await.unwrap();
    client.qualification_sessions().get("qs_missing").await.unwrap_err();

    let mut points = read_durations(&provider, &exporter);
    points.sort_by_key(|point| point.attributes["http.response.status_code"].to_string());
    let common = [
        ("http.request.method", string("GET")),
        ("server.address", string("127.0.0.1")),
        ("server.port", Value::I64(port)),
        ("url.template", string(GET_TEMPLATE)),
    ];
    let expected = |extra: &[(&str, Value)]| expected_attributes(&common, extra);
    assert_eq!(points.len(), 3, "{points:#?}");
    assert_eq!(points[0].attributes, expected(&[("http.response.status_code", Value::I64(200))]));
    assert_eq!(
        points[1].attributes,
        expected(&[("http.response.status_code", Value::I64(404)), ("error.type", string("404")),])
    );
    assert_eq!(
        points[2].attributes,
        expected(&[("http.response.status_code", Value::I64(503)), ("error.type", string("503")),])
    );
    for point in &points {
        assert_eq!(point.count, 1, "one per request: {point:#?}");
        assert_eq!(point.bounds, BOUNDARIES);
        // Seconds, not milliseconds: a loopback request takes well under a minute.
        assert!(point.sum > 0.0 && point.sum < 60.0, "{point:#?}");
    }
}

#[tokio::test]
async fn a_failed_request_without_a_response_records_its_error_type_and_no_status() {
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{address}")
    };
    let (provider, exporter) = meter_provider();
    let client = client_of(&refused)
        .retry_policy(RetryPolicy::default().with_max_retries(1))
        .meter_provider(&provider)
        .build()
        .unwrap();
    error_getting_qs_1(&client).await;
    let points = read_durations(&provider, &exporter);
    let [point] = &points[..] else { panic!("{points:#?}") };
    assert_eq!(point.count, 2, "the retry is a request too");
    assert_eq!(point.attributes["error.type"], string("connect"));
    assert!(!point.attributes.contains_key("http.response.status_code"));
}

#[tokio::test]
async fn the_global_meter_provider_is_the_default() {
    let server =
        Scripted::sequence(vec![Reply::json(200, support::session("qs_1", "approved"))]).await;
    let (provider, exporter) = meter_provider();
    // The only test of this binary that installs a global provider.
    opentelemetry::global::set_meter_provider(provider.clone());
    let client = client_of(&server.base_url).build().unwrap();
    client.qualification_sessions().get("qs_1").await.unwrap();
    // Clients other tests of this binary build while this provider is the global one
    // record into it too: only this test's server counts.
    let port = Value::I64(server.base_url.rsplit(':').next().unwrap().parse().unwrap());
    let points: Vec<Point> = read_durations(&provider, &exporter)
        .into_iter()
        .filter(|point| point.attributes.get("server.port") == Some(&port))
        .collect();
    assert_eq!(points.len(), 1, "{points:#?}");
    assert_eq!(points[0].attributes["http.response.status_code"], Value::I64(200));
}
