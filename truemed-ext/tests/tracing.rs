//! Tracing: a span per call and per attempt, with no secret and no personal data, as a
//! plain `fmt` subscriber shows them (tests/opentelemetry.rs reads them as OpenTelemetry's).

mod support;
use support::ScriptedClient as _;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use support::{Reply, Scripted, API_KEY};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn spans_name_operation_and_attempts_without_secrets_or_pii() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let pii = json!({
        "qualification_session_id": "qs_1", "status": "approved",
        "email": "ada@example.com", "user_name": "Ada Lovelace"
    });
    let server = Scripted::sequence(vec![
        Reply::json(503, json!({"error": "Unavailable", "message": "for ada@example.com"})),
        Reply::json(200, pii),
    ])
    .await;
    let (client, _) = server.client();
    let session = client.qualification_sessions().get("qs_1").await.unwrap();
    assert_eq!(session.email.as_deref(), Some("ada@example.com"));
    client
        .qualification_sessions()
        .update("qs_1")
        .user_id("user_42")
        .metadata(&json!({"name": "Ada Lovelace"}))
        .send()
        .await
        .unwrap();

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("truemed.call"), "{text}");
    assert!(text.contains("truemed.attempt"), "{text}");
    assert!(text.contains("operation=\"get_qualification_session\""), "{text}");
    assert!(text.contains("operation=\"update_qualification_session\""), "{text}");
    // The attempt's number and status under OpenTelemetry's names (they were `attempt`
    // and `status`), and the operation as `truemed.operation`.
    assert!(text.contains("truemed.operation=\"get_qualification_session\""), "{text}");
    assert!(text.contains("http.request.resend_count=1"), "{text}");
    assert!(text.contains("http.response.status_code=503"), "{text}");
    assert!(text.contains("error.type=\"503\""), "{text}");
    assert!(text.contains("otel.kind=\"client\""), "{text}");
    assert!(text.contains("retrying"), "{text}");
    for secret in [API_KEY, "ada@example.com", "Ada Lovelace"] {
        assert!(!text.contains(secret), "{secret} leaked into traces:\n{text}");
    }
}
