//! `sessions watch`: the completions the reconciliation stream finds, one JSON line each.

use std::io::{self, Write as _};
use std::time::Duration;

use futures_util::StreamExt as _;
use serde_json::json;
use truemed_ext::reconcile::ReconcileEvent;
use truemed_ext::{ApiErrorKind, Client, CompletionSource};

use crate::cli::WatchArgs;
use crate::fail::{code, exit_code, note, redact, Failure};
use crate::interrupt::Interrupt;
use crate::output::session_row;

/// `sessions watch [ID]... [--interval SECONDS]`.
pub async fn watch(
    client: &Client,
    args: &WatchArgs,
    interrupt: &Interrupt,
) -> Result<(), Failure> {
    let interval = Duration::try_from_secs_f64(args.interval)
        .ok()
        .filter(|i| !i.is_zero())
        .ok_or_else(|| Failure::usage("--interval must be a positive number of seconds"))?;
    let mut reconciliation = client.qualification_sessions().reconcile().interval(interval);
    if !args.ids.is_empty() {
        reconciliation = reconciliation.sessions(args.ids.iter().cloned());
    }
    let mut events = reconciliation.stream();
    let mut completed = 0u64;
    let mut gone = 0u64;
    let write_failed = |e: io::Error| Failure::file("cannot write to", "stdout".as_ref(), &e);
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            () = interrupt.wait() => {
                return Err(Failure::interrupted(format!(
                    "interrupted after {completed} completions"
                )));
            }
        };
        let Some(event) = event else { break };
        match event {
            ReconcileEvent::Completed(completion) => {
                completed += 1;
                let session = match &completion.source {
                    CompletionSource::Reconciliation { session } => {
                        serde_json::to_value(session_row(session)).unwrap_or_default()
                    }
                    _ => serde_json::Value::Null,
                };
                let line = json!({
                    "qualification_session_id": completion.qualification_session_id,
                    "status": completion.status.as_str(),
                    "user_id": completion.user_id,
                    "expires_at": completion.expires_at.map(|t| t.to_string()),
                    "key": completion.key().to_string(),
                    "session": session,
                });
                let text =
                    serde_json::to_string(&line).map_err(io::Error::from).map_err(write_failed)?;
                let mut out = io::stdout().lock();
                writeln!(out, "{}", redact(&text))
                    .and_then(|()| out.flush())
                    .map_err(write_failed)?;
            }
            ReconcileEvent::PollFailed(failure) => {
                if failure.error.api_kind() == Some(ApiErrorKind::Unauthorized) {
                    return Err(Failure::api("watching", &failure.error));
                }
                note(&format!("warning: {failure}"));
            }
            ReconcileEvent::Gone { qualification_session_id, error } => {
                gone += 1;
                if exit_code(&error) == code::UNAUTHORIZED {
                    return Err(Failure::api("watching", &error));
                }
                note(&format!("warning: {qualification_session_id} is no longer watched: {error}"));
            }
            _ => {}
        }
    }
    match gone {
        0 => Ok(()),
        _ => Err(Failure::new(
            code::FAILED,
            format!(
                "{completed} completions; {gone} of the sessions could not be read (see above)"
            ),
        )),
    }
}
