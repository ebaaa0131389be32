//! `sessions update`: one update, its outcome and the idempotency key it used.

use std::io::{self, Write as _};

use serde_json::json;
use truemed_ext::{Client, IdempotencyKey};

use crate::cli::{OutputFormat, UpdateArgs};
use crate::fail::{exit_code, redact, Failure};
use crate::interrupt::Interrupt;
use crate::output::write_value;

/// `--metadata`: JSON text, or a usage error.
pub fn check_metadata(text: &str) -> Result<(), String> {
    serde_json::from_str::<serde_json::Value>(text)
        .map(drop)
        .map_err(|e| format!("metadata is not JSON ({})", e.classify_text()))
}

/// The words of a JSON error, without the text it quoted (it may be personal data).
trait ClassifyText {
    fn classify_text(&self) -> String;
}

impl ClassifyText for serde_json::Error {
    fn classify_text(&self) -> String {
        let what = match self.classify() {
            serde_json::error::Category::Eof => "it ends too early",
            serde_json::error::Category::Syntax => "a syntax error",
            serde_json::error::Category::Data => "an unexpected value",
            serde_json::error::Category::Io => "unreadable",
        };
        format!("{what} at line {} column {}", self.line(), self.column())
    }
}

/// `sessions update ID ...`.
pub async fn update(
    client: &Client,
    format: OutputFormat,
    args: &UpdateArgs,
    interrupt: &Interrupt,
) -> Result<(), Failure> {
    if let Some(metadata) = &args.metadata {
        check_metadata(metadata).map_err(|why| Failure::usage(format!("--metadata: {why}")))?;
    }
    if args.user_id.is_none()
        && args.metadata.is_none()
        && args.success_url.is_none()
        && args.failure_url.is_none()
    {
        return Err(Failure::usage(
            "nothing to update: give --user-id, --metadata, --success-url or --failure-url",
        ));
    }
    // The key is chosen here, not by the library, so that it can be printed even when
    // the update is interrupted in flight.
    let key = match &args.idempotency_key {
        Some(key) => IdempotencyKey::new(key.as_str())
            .map_err(|e| Failure::usage(format!("--idempotency-key: {e}")))?,
        None => IdempotencyKey::random(),
    };
    let mut request = client
        .qualification_sessions()
        .update(&args.id)
        .idempotency_key(key.clone());
    if let Some(user_id) = &args.user_id {
        request = request.user_id(user_id);
    }
    if let Some(metadata) = &args.metadata {
        request = request.metadata_raw(metadata);
    }
    if let Some(url) = &args.success_url {
        request = request.success_url(url);
    }
    if let Some(url) = &args.failure_url {
        request = request.failure_url(url);
    }
    let id = redact(&args.id).into_owned();
    let result = tokio::select! {
        result = request.send() => result,
        () = interrupt.wait() => {
            return Err(Failure::interrupted(format!(
                "interrupted while updating {id}: the update may have been applied; resend it with --idempotency-key {key} to have it applied at most once"
            )));
        }
    };
    match result {
        Ok(outcome) => {
            let value = json!({
                "qualification_session_id": outcome.qualification_session_id,
                "status": outcome.status.as_str(),
                "idempotency_key": outcome.idempotency_key.as_str(),
                "outcome": "applied",
            });
            let mut out = io::stdout().lock();
            let written = match format {
                OutputFormat::Table => writeln!(
                    out,
                    "updated {} (status {}) with idempotency key {}",
                    redact(&outcome.qualification_session_id),
                    redact(outcome.status.as_str()),
                    outcome.idempotency_key
                ),
                OutputFormat::Json => write_value(&mut out, format, &json!([value])),
                OutputFormat::Csv => {
                    let mut line = csv::Writer::from_writer(Vec::new());
                    let record = [
                        redact(&outcome.qualification_session_id).into_owned(),
                        redact(outcome.status.as_str()).into_owned(),
                        outcome.idempotency_key.to_string(),
                        "applied".to_owned(),
                    ];
                    let bytes = line
                        .write_record([
                            "qualification_session_id",
                            "status",
                            "idempotency_key",
                            "outcome",
                        ])
                        .and_then(|()| line.write_record(&record))
                        .map_err(io::Error::other)
                        .and_then(|()| {
                            line.into_inner()
                                .map_err(|e| io::Error::other(e.to_string()))
                        });
                    bytes.and_then(|bytes| out.write_all(&bytes))
                }
                OutputFormat::Jsonl => write_value(&mut out, format, &value),
            };
            written
                .and_then(|()| out.flush())
                .map_err(|e| Failure::file("cannot write to", "stdout".as_ref(), &e))
        }
        Err(error) => {
            let hint = if error.may_have_been_applied() {
                format!(
                    "\nthe update may have been applied: resend it with --idempotency-key {key} to have it applied at most once"
                )
            } else if error.idempotency_key().is_some() {
                format!("\nnothing was applied (idempotency key {key})")
            } else {
                String::new()
            };
            Err(Failure::new(
                exit_code(&error),
                format!("updating {id}: {}{hint}", redact(&error.to_string())),
            ))
        }
    }
}
