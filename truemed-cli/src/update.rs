//! `sessions update`: one update, its outcome and the idempotency key it used.

use std::io::Write as _;

use truemed_ext::{Client, IdempotencyKey, UpdateRequest};

use crate::cli::{OutputFormat, UpdateArgs, UpdateFields};
use crate::fail::{exit_code, redact, Failure};
use crate::interrupt::Interrupt;
use crate::output::{self, Cell, Row, TableColumns};

/// What `update` prints, in this order.
const UPDATE_FIELDS: [&str; 4] =
    ["qualification_session_id", "status", "outcome", "idempotency_key"];

/// `update` prints a sentence on a terminal, not a table.
const NO_TABLE: TableColumns = TableColumns(&[]);

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

/// `client`'s update of `id` under `key`, setting each of `fields` that is given (metadata
/// as JSON text): one builder for `sessions update` and for each row of `sessions backfill`.
pub fn request(
    client: &Client,
    id: &str,
    key: IdempotencyKey,
    fields: &UpdateFields,
) -> UpdateRequest {
    let mut request = client.qualification_sessions().update(id).idempotency_key(key);
    if let Some(user_id) = &fields.user_id {
        request = request.user_id(user_id);
    }
    if let Some(metadata) = &fields.metadata {
        request = request.metadata_raw(metadata);
    }
    if let Some(url) = &fields.success_url {
        request = request.success_url(url);
    }
    if let Some(url) = &fields.failure_url {
        request = request.failure_url(url);
    }
    request
}

/// `sessions update ID ...`.
pub async fn update(
    client: &Client,
    format: OutputFormat,
    args: &UpdateArgs,
    interrupt: &Interrupt,
) -> Result<(), Failure> {
    if let Some(metadata) = &args.fields.metadata {
        check_metadata(metadata).map_err(|why| Failure::usage(format!("--metadata: {why}")))?;
    }
    if args.fields.is_empty() {
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
    let request = request(client, &args.id, key.clone(), &args.fields);
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
            let row = Row::new(
                &UPDATE_FIELDS,
                vec![
                    Cell::Text(redact(&outcome.qualification_session_id).into_owned()),
                    Cell::Text(redact(outcome.status.as_str()).into_owned()),
                    Cell::Text("applied".to_owned()),
                    Cell::Text(outcome.idempotency_key.to_string()),
                ],
            );
            output::to_stdout(|out| match format {
                OutputFormat::Table => writeln!(
                    out,
                    "updated {} (status {}) with idempotency key {}",
                    redact(&outcome.qualification_session_id),
                    redact(outcome.status.as_str()),
                    outcome.idempotency_key
                ),
                _ => output::write_one(format, out, &UPDATE_FIELDS, NO_TABLE, &row),
            })
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
