//! The command surface, parsed with clap: `truemed [global flags] COMMAND`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The `truemed` command line: Truemed's Qualification Sessions API from a terminal.
///
/// The API key comes from TRUEMED_API_KEY or --api-key-file FILE, never from a flag's
/// value (it would show in the process list). TRUEMED_BASE_URL sets another base URL.
#[derive(Debug, Parser)]
#[command(name = "truemed", version, about, max_term_width = 100)]
pub struct Cli {
    /// Which Truemed deployment to talk to (default production, or TRUEMED_BASE_URL when
    /// set).
    #[arg(long, value_enum, global = true, conflicts_with = "base_url")]
    pub env: Option<EnvName>,

    /// Another base URL: a proxy, or the fake Truemed (`http` only for loopback hosts).
    #[arg(long, global = true, value_name = "URL")]
    pub base_url: Option<String>,

    /// Read the API key from this file (its first line); without it, from TRUEMED_API_KEY.
    #[arg(long, global = true, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,

    /// Refused: a key given as a flag's value shows in the process list and the shell's
    /// history. Hidden; there only to refuse it without echoing the value.
    #[arg(long, global = true, hide = true, value_name = "KEY")]
    pub api_key: Option<String>,

    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, short = 'o', value_enum, global = true)]
    pub output: Option<OutputFormat>,

    /// Seconds allowed for each attempt of a request (default 60).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub timeout: Option<f64>,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// `--env`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EnvName {
    /// `https://api.truemed.com`.
    Production,
    /// `https://dev-api.truemed.com`, the sandbox.
    Development,
}

/// `--output`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns, for people.
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// A header row, then one row per item.
    Csv,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Qualification sessions: get, list, export, update, backfill, watch.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Webhooks: verify a captured delivery.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Print a shell completion script: `truemed completions bash > ~/.local/share/bash-completion/completions/truemed`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// `completions SHELL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

/// `sessions ...`.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// One session by id.
    Get {
        /// The qualification session id (`qs_...`).
        id: String,
    },
    /// One page of sessions (or every page with --all).
    List(ListArgs),
    /// Every session matching the filters, to a CSV or JSON-lines file (or stdout).
    Export(ExportArgs),
    /// Update one session (user id, metadata, redirect URLs), idempotently.
    Update(UpdateArgs),
    /// Apply the updates of a CSV file, each row at most once however often it is run.
    Backfill(BackfillArgs),
    /// Print each completion (approved or rejected) as it is found, one JSON line each.
    Watch(WatchArgs),
}

/// The filters of a listing.
#[derive(Debug, Args)]
pub struct Filters {
    /// Only sessions in this status (repeat for several: --status approved --status rejected).
    #[arg(long = "status", value_name = "STATUS")]
    pub statuses: Vec<String>,
    /// Only sessions with this user id.
    #[arg(long, value_name = "U")]
    pub user_id: Option<String>,
    /// Free text matched against name, email, user business id, UTM, external user id.
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Only sessions whose Letter of Medical Necessity expires on this date.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub expires_at: Option<chrono::NaiveDate>,
}

/// `sessions list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Filters.
    #[command(flatten)]
    pub filters: Filters,
    /// The page to show (from 1); with --all, the first page.
    #[arg(long, value_name = "N")]
    pub page: Option<u64>,
    /// Sessions per page (Truemed's default is 30).
    #[arg(long, value_name = "N")]
    pub page_size: Option<u64>,
    /// Every page, not only one.
    #[arg(long)]
    pub all: bool,
    /// At most this many sessions.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// `sessions export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Filters.
    #[command(flatten)]
    pub filters: Filters,
    /// The file format (default: by --out's extension, else csv).
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
    /// Write here (complete, or not at all: see the README); default stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Page requests in flight at once (1 to 64).
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Sessions per page requested.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub page_size: u64,
}

/// `--format` of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// A header row and the 19 session fields.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// `sessions update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The qualification session id.
    pub id: String,
    #[command(flatten)]
    pub fields: UpdateFields,
    /// The idempotency key (default: a new random one, printed); resend a failed update
    /// with the key it printed to have it applied at most once.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

/// What an update sets, each field when given: `sessions update`'s flags, and the cells of
/// a `sessions backfill` row.
#[derive(Clone, Debug, Default, Args)]
pub struct UpdateFields {
    /// Your stable id for the shopper (set only while the session has none).
    #[arg(long, value_name = "U")]
    pub user_id: Option<String>,
    /// Metadata, as JSON text (sent as the JSON string the API takes).
    #[arg(long, value_name = "JSON")]
    pub metadata: Option<String>,
    /// Where the shopper goes after qualifying.
    #[arg(long, value_name = "URL")]
    pub success_url: Option<String>,
    /// Where the shopper goes after failing to qualify.
    #[arg(long, value_name = "URL")]
    pub failure_url: Option<String>,
}

impl UpdateFields {
    /// Whether no field is given: nothing to update.
    pub fn is_empty(&self) -> bool {
        self.user_id.is_none()
            && self.metadata.is_none()
            && self.success_url.is_none()
            && self.failure_url.is_none()
    }
}

/// `sessions backfill`.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// The CSV file: a header row with qualification_session_id and any of user_id,
    /// metadata, success_url, failure_url, idempotency_key.
    pub file: PathBuf,
    /// Updates in flight at once (1 to 64).
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Check every row and report, sending nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the report here (JSON lines for .jsonl/.ndjson, else CSV); default stdout.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The run journal (default FILE.journal beside the input): the rows an earlier run
    /// saw applied, so that a re-run reports them as replayed.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
}

/// `sessions watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The sessions to wait for (default: every session listed pending or processing).
    pub ids: Vec<String>,
    /// Seconds between polls.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub interval: f64,
}

/// `webhook ...`.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Verify a captured delivery with the library's verifier; print its event or why it
    /// fails.
    Verify(VerifyArgs),
}

/// `webhook verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The webhook secret. Shows in the process list: prefer --secret-file or
    /// TRUEMED_WEBHOOK_SECRET outside a local debugging session.
    #[arg(long, value_name = "SECRET", conflicts_with = "secret_file")]
    pub secret: Option<String>,
    /// Read the webhook secret from this file (its first line).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// The delivery's headers, one `Name: value` a line (a request line first is skipped).
    #[arg(long, value_name = "FILE")]
    pub headers: PathBuf,
    /// The raw body exactly as received (`-` for stdin).
    pub body_file: PathBuf,
    /// Verify as if the clock read this (unix seconds): for deliveries captured earlier.
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub now: Option<i64>,
    /// How far the signature's timestamp may be from the clock, in seconds (default 300).
    #[arg(long, value_name = "SECONDS")]
    pub tolerance: Option<u64>,
}
