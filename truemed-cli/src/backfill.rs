//! `sessions backfill FILE.csv`: the updates of a CSV file, each applied at most once
//! however many times the file is run (after a crash, a kill or Ctrl-C).
//!
//! # Why a re-run applies nothing twice
//!
//! Every row is sent with an idempotency key: its `idempotency_key` cell, else one
//! derived from the row's content ([`row_key`]: the session id and each update field,
//! with whether it is present), so the same row sends the same key on every run.
//! Truemed applies an update once per session and key and answers a repeat with the
//! original response, so a row applied by an earlier run (even one killed before it saw
//! the answer) is answered as a success again and nothing is applied twice.
//!
//! # Applied or replayed
//!
//! Truemed (and the fake) answer a replay exactly as they answered the first
//! application: the client cannot tell them apart from the answer. So the command keeps
//! a run journal (`FILE.journal` beside the input, `--journal` elsewhere): one line per
//! row it saw succeed, appended as the answer arrives. A success is reported:
//! - `replayed` when the journal already held the row (session id and key): an earlier
//!   run saw it applied;
//! - `applied` otherwise: this run's request applied it, **or** an earlier run's request
//!   did and that run stopped (a kill, a crash) before writing its journal line. The
//!   server cannot say which; either way the update is in effect exactly once.
//!
//! A `user_id_already_set` answer for a row the journal holds is reported `replayed`
//! too (the key's replay window can have passed; the user id is the one this file set).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead as _, BufReader, BufWriter, IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;

use futures_util::stream::FuturesOrdered;
use futures_util::StreamExt as _;
use truemed_ext::{ApiErrorKind, Client, Error, IdempotencyKey};

use crate::cli::{BackfillArgs, OutputFormat, UpdateFields};
use crate::fail::{code, redact, Failure};
use crate::interrupt::Interrupt;
use crate::output::{Cell, Row, RowWriter, TableColumns};
use crate::update::check_metadata;

/// The columns a backfill file may have.
pub const COLUMNS: [&str; 6] = [
    "qualification_session_id",
    "user_id",
    "metadata",
    "success_url",
    "failure_url",
    "idempotency_key",
];

/// The spec's length limits, in characters.
const USER_ID_LIMIT: usize = 255;
const URL_LIMIT: usize = 2048;
const METADATA_LIMIT: usize = 4096;

/// The report's columns.
pub const REPORT_FIELDS: [&str; 6] = [
    "row",
    "qualification_session_id",
    "outcome",
    "error_code",
    "error_message",
    "idempotency_key",
];

const REPORT_TABLE: TableColumns = TableColumns(&[
    ("row", "ROW", 6),
    ("qualification_session_id", "SESSION", 40),
    ("outcome", "OUTCOME", 19),
    ("error_code", "ERROR", 19),
    ("error_message", "MESSAGE", 60),
]);

/// What became of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The update is in effect, and no earlier run had seen it applied.
    Applied,
    /// An earlier run (the journal says) had seen it applied; this run's answer was the
    /// replay.
    Replayed,
    /// The session already has another user id: refused, nothing applied.
    UserIdAlreadySet,
    /// The row would be refused (a bad id, a length limit, metadata that is not JSON,
    /// nothing to update): not sent.
    Invalid,
    /// The update failed (after the client's retries); it may or may not be in effect
    /// (the message says). Run the file again: the same key is sent.
    Failed,
    /// `--dry-run`: the row is valid and would be sent.
    Valid,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Replayed => "replayed",
            Self::UserIdAlreadySet => "user_id_already_set",
            Self::Invalid => "invalid",
            Self::Failed => "failed",
            Self::Valid => "valid",
        }
    }
}

/// A row of the input, read and checked.
#[derive(Clone, Debug, Default)]
struct Update {
    id: String,
    fields: UpdateFields,
    key: Option<String>,
}

/// A row's result.
struct Done {
    row: u64,
    id: String,
    outcome: Outcome,
    error_code: Option<String>,
    error_message: Option<String>,
    key: Option<IdempotencyKey>,
    /// A 401: the key is refused, the run stops.
    unauthorized: bool,
}

impl Done {
    fn invalid(row: u64, id: &str, why: String, key: Option<IdempotencyKey>) -> Self {
        Self {
            row,
            id: id.to_owned(),
            outcome: Outcome::Invalid,
            error_code: Some("invalid".to_owned()),
            error_message: Some(why),
            key,
            unauthorized: false,
        }
    }

    fn report_row(&self) -> Row {
        let text = |t: Option<&str>| t.map_or(Cell::Null, |t| Cell::Text(redact(t).into_owned()));
        Row::new(
            &REPORT_FIELDS,
            vec![
                Cell::Integer(self.row),
                text(Some(&self.id)),
                text(Some(self.outcome.as_str())),
                text(self.error_code.as_deref()),
                text(self.error_message.as_deref()),
                text(self.key.as_ref().map(IdempotencyKey::as_str)),
            ],
        )
    }
}

/// The idempotency key of a row without one: derived from its content, so the same row
/// sends the same key on every run, and any other row another key.
fn row_key(update: &Update) -> IdempotencyKey {
    let field = |value: &Option<String>| match value {
        Some(value) => format!("+{value}"),
        None => "-".to_owned(),
    };
    IdempotencyKey::derived([
        "truemed-cli backfill v1".to_owned(),
        update.id.clone(),
        field(&update.fields.user_id),
        field(&update.fields.metadata),
        field(&update.fields.success_url),
        field(&update.fields.failure_url),
    ])
}

/// Why a row would be refused, if it would.
fn check(update: &Update) -> Result<(), String> {
    let id = update.id.as_str();
    if id.is_empty() {
        return Err("qualification_session_id is empty".to_owned());
    }
    if id == "." || id == ".." || id.contains('\\') || id.chars().any(char::is_control) {
        return Err("qualification_session_id is not a valid id".to_owned());
    }
    let too_long = |name: &str, value: &Option<String>, limit: usize| match value {
        Some(v) if v.chars().count() > limit => Err(format!(
            "{name} is {} characters long, over the limit of {limit}",
            v.chars().count()
        )),
        _ => Ok(()),
    };
    let fields = &update.fields;
    too_long("user_id", &fields.user_id, USER_ID_LIMIT)?;
    too_long("metadata", &fields.metadata, METADATA_LIMIT)?;
    too_long("success_url", &fields.success_url, URL_LIMIT)?;
    too_long("failure_url", &fields.failure_url, URL_LIMIT)?;
    if let Some(metadata) = &fields.metadata {
        check_metadata(metadata)?;
    }
    if let Some(key) = &update.key {
        IdempotencyKey::new(key.as_str()).map_err(|e| format!("idempotency_key: {e}"))?;
    }
    if fields.is_empty() {
        return Err(
            "nothing to update: the row has no user_id, metadata, success_url or failure_url"
                .to_owned(),
        );
    }
    Ok(())
}

/// The run journal: the rows an earlier run saw applied (session id and key), and the
/// file this run appends to.
struct Journal {
    seen: HashSet<(String, String)>,
    file: Option<File>,
    path: PathBuf,
}

impl Journal {
    fn open(path: PathBuf, write: bool) -> Result<Self, Failure> {
        let mut seen = HashSet::new();
        match File::open(&path) {
            Ok(file) => {
                for line in BufReader::new(file).lines() {
                    let line =
                        line.map_err(|e| Failure::file("cannot read the journal", &path, &e))?;
                    // A line cut by a kill holds a cut key, which matches no row.
                    if let Some((id, key)) = line.split_once('\t') {
                        seen.insert((id.to_owned(), key.to_owned()));
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Failure::file("cannot read the journal", &path, &e)),
        }
        let file = match write {
            true => Some(Self::append_to(&path)?),
            false => None,
        };
        Ok(Self { seen, file, path })
    }

    /// The journal opened for appending, after a newline if a kill cut its last line (so
    /// that the next line is whole).
    fn append_to(path: &Path) -> Result<File, Failure> {
        let failed = |e: io::Error| {
            Failure::new(
                code::FAILED,
                format!(
                    "cannot write the journal {}: {} (choose another place with --journal FILE)",
                    path.display(),
                    crate::fail::io_reason(&e)
                ),
            )
        };
        let mut file =
            OpenOptions::new().create(true).read(true).append(true).open(path).map_err(failed)?;
        let length = file.metadata().map_err(failed)?.len();
        if length > 0 {
            use std::io::{Read as _, Seek as _, SeekFrom};
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1)).map_err(failed)?;
            file.read_exact(&mut last).map_err(failed)?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(failed)?;
            }
        }
        Ok(file)
    }

    fn contains(&self, id: &str, key: &IdempotencyKey) -> bool {
        self.seen.contains(&(id.to_owned(), key.as_str().to_owned()))
    }

    /// Records a success: one `write` of the whole line, so a kill leaves no half line
    /// that reads as a whole one.
    fn record(&mut self, id: &str, key: &IdempotencyKey) -> Result<(), Failure> {
        if id.contains(['\t', '\n', '\r']) || self.contains(id, key) {
            return Ok(());
        }
        if let Some(file) = &mut self.file {
            let line = format!("{id}\t{key}\n");
            file.write_all(line.as_bytes())
                .map_err(|e| Failure::file("cannot write the journal", &self.path, &e))?;
        }
        self.seen.insert((id.to_owned(), key.as_str().to_owned()));
        Ok(())
    }
}

/// Where the journal of `file` is by default: `FILE.journal` beside it.
fn default_journal(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".journal");
    file.with_file_name(name)
}

/// The input: a CSV reader and where each column is.
struct Input {
    reader: csv::Reader<File>,
    columns: [Option<usize>; 6],
    width: usize,
}

impl Input {
    fn open(path: &Path) -> Result<Self, Failure> {
        let file = File::open(path).map_err(|e| Failure::file("cannot read", path, &e))?;
        let mut reader =
            csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(file);
        let bad = |why: String| Failure::new(code::FAILED, format!("{}: {why}", path.display()));
        let headers =
            reader.headers().map_err(|e| bad(format!("cannot read the header row: {e}")))?.clone();
        let mut columns = [None; 6];
        for (i, name) in headers.iter().enumerate() {
            let name = name.trim_start_matches('\u{feff}').trim();
            let Some(slot) = COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) else {
                return Err(bad(format!(
                    "unknown column {:?} in the header row (the columns are {})",
                    redact(name),
                    COLUMNS.join(", ")
                )));
            };
            if columns[slot].replace(i).is_some() {
                return Err(bad(format!("the column {} appears twice", COLUMNS[slot])));
            }
        }
        if columns[0].is_none() {
            return Err(bad("the header row has no qualification_session_id column".to_owned()));
        }
        Ok(Self { reader, columns, width: headers.len() })
    }

    /// The next row: `Ok(Err(why))` for a row that cannot be read as one.
    fn next(&mut self) -> Option<Result<Result<Update, String>, Failure>> {
        let mut record = csv::StringRecord::new();
        match self.reader.read_record(&mut record) {
            Ok(false) => None,
            Ok(true) if record.len() != self.width => Some(Ok(Err(format!(
                "the row has {} cells, the header {}",
                record.len(),
                self.width
            )))),
            Ok(true) => {
                let cell = |slot: usize| {
                    self.columns[slot]
                        .and_then(|i| record.get(i))
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                };
                Some(Ok(Ok(Update {
                    id: cell(0).unwrap_or_default(),
                    fields: UpdateFields {
                        user_id: cell(1),
                        metadata: cell(2),
                        success_url: cell(3),
                        failure_url: cell(4),
                    },
                    key: cell(5),
                })))
            }
            Err(e) => match e.kind() {
                csv::ErrorKind::Utf8 { .. } => Some(Ok(Err("the row is not UTF-8".to_owned()))),
                _ => Some(Err(Failure::new(code::FAILED, format!("cannot read the file: {e}")))),
            },
        }
    }
}

type Pending = Pin<Box<dyn std::future::Future<Output = Done> + Send>>;

/// Sends one row's update.
async fn send(client: Client, row: u64, update: Update, key: IdempotencyKey) -> Done {
    let request = crate::update::request(&client, &update.id, key.clone(), &update.fields);
    let result = request.send().await;
    let failed = |outcome: Outcome, error: &Error| Done {
        row,
        id: update.id.clone(),
        outcome,
        error_code: Some(error.kind_name().to_owned()),
        error_message: Some(message(error)),
        key: Some(key.clone()),
        unauthorized: error.api_kind() == Some(ApiErrorKind::Unauthorized),
    };
    match result {
        Ok(_) => Done {
            row,
            id: update.id.clone(),
            outcome: Outcome::Applied,
            error_code: None,
            error_message: None,
            key: Some(key.clone()),
            unauthorized: false,
        },
        Err(e) if e.api_kind() == Some(ApiErrorKind::UserIdAlreadySet) => {
            failed(Outcome::UserIdAlreadySet, &e)
        }
        Err(e @ Error::InvalidRequest(_)) => failed(Outcome::Invalid, &e),
        Err(e) => failed(Outcome::Failed, &e),
    }
}

/// A failed row's message: the error, and whether the update may be in effect.
fn message(error: &Error) -> String {
    let text = error.to_string();
    match error.may_have_been_applied() {
        true => {
            format!("{text} (it may have been applied: run the file again, the same key is sent)")
        }
        false => text,
    }
}

/// Counts per outcome, for the summary.
#[derive(Default)]
struct Tally([u64; 6]);

impl Tally {
    fn add(&mut self, outcome: Outcome) {
        self.0[outcome as usize] += 1;
    }

    fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    fn failures(&self) -> u64 {
        self.0[Outcome::UserIdAlreadySet as usize]
            + self.0[Outcome::Invalid as usize]
            + self.0[Outcome::Failed as usize]
    }

    fn summary(&self) -> String {
        let all = [
            Outcome::Applied,
            Outcome::Replayed,
            Outcome::Valid,
            Outcome::UserIdAlreadySet,
            Outcome::Invalid,
            Outcome::Failed,
        ];
        let parts: Vec<String> = all
            .iter()
            .filter(|o| self.0[**o as usize] > 0)
            .map(|o| format!("{} {}", self.0[*o as usize], o.as_str()))
            .collect();
        match parts.is_empty() {
            true => "no rows".to_owned(),
            false => parts.join(", "),
        }
    }
}

/// The report's format: JSON lines for `.jsonl`/`.ndjson`, else CSV.
fn report_format(path: &Path) -> OutputFormat {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("jsonl" | "ndjson") => OutputFormat::Jsonl,
        _ => OutputFormat::Csv,
    }
}

/// `sessions backfill`.
pub async fn backfill(
    client: Option<&Client>,
    format: OutputFormat,
    args: &BackfillArgs,
    interrupt: &Interrupt,
) -> Result<(), Failure> {
    let mut input = Input::open(&args.file)?;
    let journal_path = args.journal.clone().unwrap_or_else(|| default_journal(&args.file));
    let mut journal = Journal::open(journal_path, !args.dry_run)?;
    let (sink, report_fmt): (Box<dyn Write + Send>, OutputFormat) = match &args.report {
        Some(path) => {
            let file = File::create(path).map_err(|e| Failure::file("cannot create", path, &e))?;
            (Box::new(file), report_format(path))
        }
        None => (Box::new(io::stdout()), format),
    };
    let report_name =
        args.report.as_ref().map_or_else(|| "stdout".to_owned(), |p| p.display().to_string());
    let mut report = RowWriter::new(report_fmt, BufWriter::new(sink), &REPORT_FIELDS, REPORT_TABLE);
    let write_failed = |e: io::Error| {
        Failure::new(code::FAILED, format!("cannot write the report to {report_name}: {}", e))
    };
    let concurrency = usize::from(args.concurrency).max(1);
    let mut in_flight: FuturesOrdered<Pending> = FuturesOrdered::new();
    let mut tally = Tally::default();
    let mut row_number = 0u64;
    let mut exhausted = false;
    let mut stop: Option<u8> = None;
    let mut read_error = None;
    loop {
        // Fill the window, unless stopping.
        while !exhausted && stop.is_none() && in_flight.len() < concurrency {
            if interrupt.is_set() {
                stop = Some(code::INTERRUPTED);
                break;
            }
            let Some(next) = input.next() else {
                exhausted = true;
                break;
            };
            row_number += 1;
            let row = row_number;
            let done = match next {
                Err(failure) => {
                    read_error = Some(failure);
                    exhausted = true;
                    break;
                }
                Ok(Err(why)) => Done::invalid(row, "", why, None),
                Ok(Ok(update)) => match check(&update) {
                    Err(why) => {
                        let key = update.key.as_deref().and_then(|k| IdempotencyKey::new(k).ok());
                        Done::invalid(row, &update.id, why, key)
                    }
                    Ok(()) => {
                        let key = match &update.key {
                            Some(key) => IdempotencyKey::new(key.as_str())
                                .unwrap_or_else(|_| row_key(&update)),
                            None => row_key(&update),
                        };
                        match client {
                            Some(client) if !args.dry_run => {
                                in_flight.push_back(Box::pin(send(
                                    client.clone(),
                                    row,
                                    update,
                                    key,
                                )));
                                continue;
                            }
                            _ => Done {
                                row,
                                id: update.id.clone(),
                                outcome: Outcome::Valid,
                                error_code: None,
                                error_message: None,
                                key: Some(key),
                                unauthorized: false,
                            },
                        }
                    }
                },
            };
            in_flight.push_back(Box::pin(std::future::ready(done)));
        }
        if in_flight.is_empty() {
            break;
        }
        let done = tokio::select! {
            done = in_flight.next() => done,
            () = interrupt.wait(), if stop.is_none() => {
                stop = Some(code::INTERRUPTED);
                continue;
            }
        };
        let Some(mut done) = done else { break };
        if done.outcome == Outcome::Applied {
            let key = done.key.clone().expect("a sent row has its key");
            if journal.contains(&done.id, &key) {
                done.outcome = Outcome::Replayed;
            } else {
                journal.record(&done.id, &key)?;
            }
        } else if done.outcome == Outcome::UserIdAlreadySet {
            if let Some(key) = &done.key {
                if journal.contains(&done.id, key) {
                    done.outcome = Outcome::Replayed;
                    done.error_code = None;
                    done.error_message = Some(
                        "an earlier run applied this row (journal); Truemed no longer replays its key"
                            .to_owned(),
                    );
                }
            }
        }
        if done.unauthorized && stop.is_none() {
            stop = Some(code::UNAUTHORIZED);
        }
        tally.add(done.outcome);
        report.write(&done.report_row()).map_err(write_failed)?;
        report.out().flush().map_err(write_failed)?;
    }
    report.finish().map_err(write_failed)?;
    if let Some(failure) = read_error {
        return Err(Failure::new(
            failure.code,
            format!(
                "{}: {} after {} rows ({}); the report lists them",
                args.file.display(),
                failure.message,
                tally.total(),
                tally.summary()
            ),
        ));
    }
    let summary = format!(
        "{} rows: {}{}",
        tally.total(),
        tally.summary(),
        match &args.report {
            Some(path) => format!("; report in {}", path.display()),
            None => String::new(),
        }
    );
    match stop {
        Some(code::INTERRUPTED) => Err(Failure::interrupted(format!(
            "interrupted: the rows in flight finished, {summary}; the rows after were not sent: run the same command again to finish (rows already applied are replayed, never applied twice)"
        ))),
        Some(code) => Err(Failure::new(
            code,
            format!("the API key was refused (401); stopped after {summary}"),
        )),
        None if tally.failures() > 0 => Err(Failure::new(
            code::FAILED,
            format!("{} of the rows did not apply; {summary}", tally.failures()),
        )),
        None => {
            if args.report.is_some() || io::stderr().is_terminal() {
                let verb = if args.dry_run { "checked" } else { "done" };
                crate::fail::note(&format!("backfill {verb}: {summary}"));
            }
            Ok(())
        }
    }
}
