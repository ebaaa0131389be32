//! What a command fails with ([`Failure`]: a message for a person and an exit code), and
//! the one filter every byte the program writes goes through ([`redact`]).

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::sync::RwLock;

use truemed_ext::{ApiErrorKind, Error};

/// Exit codes (README "Exit codes").
pub mod code {
    /// Success.
    pub const OK: u8 = 0;
    /// An API, transport or file error, or a failed backfill row.
    pub const FAILED: u8 = 1;
    /// A usage error: a flag, a value, or a request refused before sending.
    pub const USAGE: u8 = 2;
    /// The API key was refused (401).
    pub const UNAUTHORIZED: u8 = 4;
    /// Stdout was closed by its reader (128 + SIGPIPE).
    pub const BROKEN_PIPE: u8 = 141;
    /// Interrupted by Ctrl-C (SIGINT) or SIGTERM.
    pub const INTERRUPTED: u8 = 130;
}

/// A command's failure: what to tell a person (one or two lines) and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// The message, without the leading `error: `.
    pub message: String,
}

impl Failure {
    /// A failure with this code.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(code::USAGE, message)
    }

    /// A file that could not be read or written (exit 1). Stdout closed by its reader
    /// (`truemed ... | head`) ends the program quietly, as a shell pipeline expects, with
    /// the code of a SIGPIPE death (141).
    pub fn file(what: &str, path: &Path, error: &std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            return Self::new(code::BROKEN_PIPE, String::new());
        }
        Self::new(code::FAILED, format!("{what} {}: {}", path.display(), io_reason(error)))
    }

    /// An interruption (exit 130), with what was done.
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new(code::INTERRUPTED, message)
    }

    /// A failed call: `doing` says what was being done ("getting qs_123").
    pub fn api(doing: &str, error: &Error) -> Self {
        Self::new(exit_code(error), format!("{doing}: {error}"))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The exit code of a failed call: 4 for a refused key, 2 for a request refused before
/// sending (the input was at fault), 1 otherwise.
pub fn exit_code(error: &Error) -> u8 {
    match error {
        _ if error.api_kind() == Some(ApiErrorKind::Unauthorized) => code::UNAUTHORIZED,
        Error::InvalidRequest(_) | Error::Configuration(_) => code::USAGE,
        _ => code::FAILED,
    }
}

/// An I/O error's reason, without the path (the caller names it).
pub fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => error.to_string(),
    }
}

/// The secrets no output may hold: the API key, the webhook secret.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Secrets shorter than this are not searched for: replacing every `a` of the output
/// would destroy it, and such a value is no secret worth the name.
const SHORTEST_REDACTED: usize = 6;

/// Adds a secret for [`redact`] to remove (before anything that could hold it is written).
pub fn add_secret(secret: &str) {
    if secret.chars().count() < SHORTEST_REDACTED {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_owned());
    }
}

/// `text` with every registered secret replaced by `[redacted]`: whatever a server
/// echoes (a key in an error message, a session field), no secret reaches stdout,
/// stderr or a report.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), "[redacted]"));
        }
    }
    out
}

/// Writes `error: MESSAGE` to stderr, redacted.
pub fn report(failure: &Failure) {
    if failure.message.is_empty() {
        return;
    }
    eprintln!("error: {}", redact(&failure.message));
}

/// Writes a note to stderr, redacted.
pub fn note(message: &str) {
    eprintln!("{}", redact(message));
}
