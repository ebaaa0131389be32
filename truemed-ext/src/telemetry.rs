//! The spans' OpenTelemetry conventions and the request-duration metric: what
//! `tracing-opentelemetry` exports of a call, and the `http.client.request.duration`
//! histogram (feature `opentelemetry`).
//!
//! A call is an internal span named after its operation (`truemed get_qualification_session`)
//! holding one client span per attempt (each HTTP request), named `{method} {url.template}`,
//! with the attributes of OpenTelemetry's HTTP client conventions. tracing-opentelemetry
//! exports an `i64` field as an integer and a `u64` as a string, so every number here is an
//! `i64`. No field carries personal data: `url.full` keeps the path (its id is Truemed's)
//! and replaces each query value with `REDACTED`; bodies and error messages are never
//! recorded.

use std::borrow::Cow;
use std::time::Duration;

use truemed_api::CallContext;

use crate::error::Error;
use crate::idempotency::IdempotencyKey;
use crate::operation::Operation;

/// What replaces each query value in `url.full` (OpenTelemetry's own word for it).
const REDACTED: &str = "REDACTED";

/// The OpenTelemetry `error.type` of an attempt or call that failed: the status code for
/// an error answer of 400 and above, else a low-cardinality name of the failure (`timeout`,
/// `connect`, `body`, `connection`, `runtime_shutdown`, `undecodable_response`,
/// `redirect`...).
pub(crate) fn error_type(error: &Error) -> Cow<'static, str> {
    match error {
        Error::Api(answer) if answer.status().as_u16() >= 400 => {
            Cow::Owned(answer.status().as_u16().to_string())
        }
        Error::Connection(transport) if transport.is_runtime_shutdown() => {
            Cow::Borrowed("runtime_shutdown")
        }
        Error::Connection(transport) if transport.is_connect() => Cow::Borrowed("connect"),
        Error::Connection(transport)
            if transport.reqwest_error().is_body() || transport.reqwest_error().is_decode() =>
        {
            Cow::Borrowed("body")
        }
        other => Cow::Borrowed(other.kind_name()),
    }
}

/// The HTTP method of `operation`'s request (`http.request.method`).
pub(crate) fn method(operation: Operation) -> &'static str {
    match operation {
        Operation::Get | Operation::List => "GET",
        Operation::Update => "POST",
    }
}

/// The path template of `operation`, as the spec (openapi/truemed.yaml) writes it
/// (`url.template`).
pub(crate) fn url_template(operation: Operation) -> &'static str {
    match operation {
        Operation::Get => "/api/v1/qualification_session/{qualification_session_id}",
        Operation::List => "/api/v1/qualification_sessions",
        Operation::Update => "/api/v1/qualification_session/{qualification_session_id}/update",
    }
}

/// The name of an attempt's client span: `{method} {url.template}`.
fn attempt_span_name(operation: Operation) -> &'static str {
    match operation {
        Operation::Get => "GET /api/v1/qualification_session/{qualification_session_id}",
        Operation::List => "GET /api/v1/qualification_sessions",
        Operation::Update => "POST /api/v1/qualification_session/{qualification_session_id}/update",
    }
}

/// The name of a call's internal span: `truemed {operation id}`.
fn call_span_name(operation: Operation) -> &'static str {
    match operation {
        Operation::Get => "truemed get_qualification_session",
        Operation::List => "truemed list_qualification_sessions",
        Operation::Update => "truemed update_qualification_session",
    }
}

/// `url` as `url.full` may show it: no userinfo, no fragment, each query value replaced
/// with `REDACTED` (the names stay: they are the API's).
pub(crate) fn redact_url(url: &url::Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    if url.query().is_some() {
        let names: Vec<String> = url.query_pairs().map(|(name, _)| name.into_owned()).collect();
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for name in &names {
            query.append_pair(name, REDACTED);
        }
        let query = query.finish();
        url.set_query((!query.is_empty()).then_some(query.as_str()));
    }
    url.into()
}

/// What one attempt's [`CallContext`] saw: the URL requested and the status answered. Not
/// `Debug`: the URL's query holds what a search asked for.
#[derive(Default)]
pub(crate) struct Exchange {
    requested: Option<url::Url>,
    status: Option<u16>,
}

impl Exchange {
    /// The exchange recorded in `context`.
    pub(crate) fn of(context: &CallContext) -> Self {
        Self {
            requested: context.requested_url(),
            status: context.last_status().map(|status| status.as_u16()),
        }
    }
}

/// Where a client's requests go: `server.address` and `server.port`, from its base URL.
#[derive(Clone, Debug)]
struct Target {
    address: String,
    port: i64,
}

impl Target {
    fn of(base_url: &str) -> Self {
        let url = url::Url::parse(base_url).ok();
        let address = url
            .as_ref()
            .and_then(|url| url.host_str())
            .map(|host| host.trim_start_matches('[').trim_end_matches(']').to_owned())
            .unwrap_or_default();
        let port = url.as_ref().and_then(url::Url::port_or_known_default).map_or(0, i64::from);
        Self { address, port }
    }
}

/// A client's telemetry: the target of its spans and metric, whether spans show
/// idempotency keys, and the duration histogram (feature `opentelemetry`).
#[derive(Clone, Debug)]
pub(crate) struct Telemetry {
    target: Target,
    trace_idempotency_keys: bool,
    #[cfg(feature = "opentelemetry")]
    duration: metrics::Duration,
}

impl Telemetry {
    /// The telemetry of a client whose base URL is `base_url`.
    pub(crate) fn new(
        base_url: &str,
        trace_idempotency_keys: bool,
        #[cfg(feature = "opentelemetry")] duration: metrics::Duration,
    ) -> Self {
        Self {
            target: Target::of(base_url),
            trace_idempotency_keys,
            #[cfg(feature = "opentelemetry")]
            duration,
        }
    }

    /// The span of one call of `operation`, at INFO: internal, named after the operation.
    pub(crate) fn call_span(
        &self,
        operation: Operation,
        key: Option<&IdempotencyKey>,
    ) -> tracing::Span {
        let span = tracing::info_span!(
            "truemed.call",
            otel.name = call_span_name(operation),
            otel.kind = "internal",
            otel.status_code = tracing::field::Empty,
            truemed.operation = operation.id(),
            truemed.idempotency_key.present = key.is_some(),
            truemed.idempotency_key = tracing::field::Empty,
            truemed.attempts = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        self.record_key(&span, key);
        span
    }

    /// The client span of attempt `number` (from 1) of `operation`, at INFO.
    pub(crate) fn attempt_span(
        &self,
        operation: Operation,
        number: u32,
        key: Option<&IdempotencyKey>,
    ) -> tracing::Span {
        let span = tracing::info_span!(
            "truemed.attempt",
            otel.name = attempt_span_name(operation),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            http.request.method = method(operation),
            server.address = self.target.address.as_str(),
            server.port = self.target.port,
            url.full = tracing::field::Empty,
            url.template = url_template(operation),
            http.request.resend_count = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
            truemed.operation = operation.id(),
            truemed.idempotency_key.present = key.is_some(),
            truemed.idempotency_key = tracing::field::Empty,
        );
        if number > 1 {
            span.record("http.request.resend_count", i64::from(number - 1));
        }
        self.record_key(&span, key);
        span
    }

    fn record_key(&self, span: &tracing::Span, key: Option<&IdempotencyKey>) {
        if let (true, Some(key)) = (self.trace_idempotency_keys, key) {
            span.record("truemed.idempotency_key", key.as_str());
        }
    }

    /// Records how attempt `span` of `operation` went, and its duration in the metric.
    pub(crate) fn end_attempt<T>(
        &self,
        span: &tracing::Span,
        operation: Operation,
        result: &Result<T, Error>,
        exchange: &Exchange,
        elapsed: Duration,
    ) {
        // Redacted only for a span something records: with no subscriber, or one that
        // filters the span out, a call pays nothing for it.
        if let Some(url) = exchange.requested.as_ref().filter(|_| !span.is_disabled()) {
            span.record("url.full", redact_url(url).as_str());
        }
        let status =
            exchange.status.or_else(|| result.as_ref().err()?.status().map(|s| s.as_u16()));
        if let Some(status) = status {
            span.record("http.response.status_code", i64::from(status));
        }
        let error_type = result.as_ref().err().map(error_type);
        if let Some(error_type) = &error_type {
            span.record("error.type", error_type.as_ref());
            span.record("otel.status_code", "ERROR");
        }
        #[cfg(feature = "opentelemetry")]
        self.duration.record(operation, &self.target, status, error_type.as_deref(), elapsed);
        #[cfg(not(feature = "opentelemetry"))]
        let _ = (operation, elapsed);
    }

    /// Records how call `span` went, after `attempts` attempts.
    pub(crate) fn end_call<T>(span: &tracing::Span, outcome: &Result<T, Error>, attempts: u32) {
        span.record("truemed.attempts", i64::from(attempts));
        if let Err(error) = outcome {
            span.record("error.type", error_type(error).as_ref());
            span.record("otel.status_code", "ERROR");
        }
    }
}

#[cfg(feature = "opentelemetry")]
pub(crate) use metrics::Duration as DurationMetric;

/// The `http.client.request.duration` histogram.
#[cfg(feature = "opentelemetry")]
mod metrics {
    use opentelemetry::metrics::{Histogram, MeterProvider};
    use opentelemetry::{InstrumentationScope, KeyValue};

    use super::Target;
    use crate::operation::Operation;

    /// The instrument's name, as OpenTelemetry's HTTP conventions give it.
    const NAME: &str = "http.client.request.duration";

    /// The conventions' bucket boundaries for it, in seconds.
    const BOUNDARIES: [f64; 14] =
        [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

    /// The histogram of one client, from its meter provider (the global one by default).
    #[derive(Clone, Debug)]
    pub(crate) struct Duration(Histogram<f64>);

    impl Duration {
        /// The histogram from `provider`'s meter `truemed-ext` (with this crate's version).
        pub(crate) fn from_provider<P: MeterProvider + ?Sized>(provider: &P) -> Self {
            let scope = InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
                .with_version(env!("CARGO_PKG_VERSION"))
                .build();
            let histogram = provider
                .meter_with_scope(scope)
                .f64_histogram(NAME)
                .with_unit("s")
                .with_description("Duration of HTTP client requests.")
                .with_boundaries(BOUNDARIES.to_vec())
                .build();
            Self(histogram)
        }

        /// The histogram from the global meter provider as it is now.
        pub(crate) fn global() -> Self {
            Self::from_provider(&*opentelemetry::global::meter_provider())
        }

        /// Records one request's duration.
        pub(super) fn record(
            &self,
            operation: Operation,
            target: &Target,
            status: Option<u16>,
            error_type: Option<&str>,
            elapsed: std::time::Duration,
        ) {
            let mut attributes = vec![
                KeyValue::new("http.request.method", super::method(operation)),
                KeyValue::new("server.address", target.address.clone()),
                KeyValue::new("server.port", target.port),
                KeyValue::new("url.template", super::url_template(operation)),
            ];
            if let Some(status) = status {
                attributes.push(KeyValue::new("http.response.status_code", i64::from(status)));
            }
            if let Some(error_type) = error_type {
                attributes.push(KeyValue::new("error.type", error_type.to_owned()));
            }
            self.0.record(elapsed.as_secs_f64(), &attributes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_full_keeps_the_path_and_replaces_every_query_value() {
        let url = url::Url::parse(
            "http://u:pw@127.0.0.1:8080/api/v1/qualification_sessions?search=ada%40example.com&user_id=user_42&page=2#f",
        )
        .unwrap();
        assert_eq!(
            redact_url(&url),
            "http://127.0.0.1:8080/api/v1/qualification_sessions?search=REDACTED&user_id=REDACTED&page=REDACTED"
        );
        let plain =
            url::Url::parse("https://api.truemed.com/api/v1/qualification_session/qs_1").unwrap();
        assert_eq!(redact_url(&plain), plain.as_str());
    }

    #[test]
    fn the_url_templates_and_methods_are_the_specs() {
        let spec = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../openapi/truemed.yaml"
        ))
        .unwrap();
        for operation in Operation::ALL {
            // The spec's layout: the path, its method, then the operation id.
            let entry = format!(
                "  {}:\n    {}:\n      operationId: {}\n",
                url_template(operation),
                method(operation).to_ascii_lowercase(),
                operation.id()
            );
            assert!(spec.contains(&entry), "{operation:?}: no {entry:?} in the spec");
            assert_eq!(
                attempt_span_name(operation),
                format!("{} {}", method(operation), url_template(operation))
            );
            assert_eq!(call_span_name(operation), format!("truemed {}", operation.id()));
        }
    }

    #[test]
    fn server_address_and_port_come_from_the_base_url() {
        for (base, address, port) in [
            ("https://api.truemed.com", "api.truemed.com", 443),
            ("http://127.0.0.1:8080", "127.0.0.1", 8080),
            ("http://[::1]:9000/prefix", "::1", 9000),
        ] {
            let target = Target::of(base);
            assert_eq!((target.address.as_str(), target.port), (address, port));
        }
    }
}
