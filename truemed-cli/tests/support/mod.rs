//! What every test file shares: a fake Truemed on a runtime of its own, the built binary
//! pointed at it, and checks on what the binary wrote.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use truemed_fake::{FakeTruemed, SessionSeed};

/// The API key of the fakes: long and unusual, so that a search for it in the output
/// finds nothing by accident.
pub const KEY: &str = "sk_test_cli_secret_4f9a2c";

/// A fake Truemed, served by a runtime of its own while the test drives the binary
/// synchronously.
pub struct Fake {
    pub fake: FakeTruemed,
    _runtime: tokio::runtime::Runtime,
}

impl Fake {
    /// A fake with these sessions and the key [`KEY`].
    pub fn start(seeds: Vec<SessionSeed>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let fake = runtime.block_on(FakeTruemed::builder().api_key(KEY).seed_all(seeds).start());
        Self { fake, _runtime: runtime }
    }

    /// The binary, with the key and the base URL in its environment.
    pub fn truemed(&self) -> Command {
        truemed_at(&self.fake.base_url())
    }
}

/// The binary with the key in its environment, and `base_url` as its base URL.
pub fn truemed_at(base_url: &str) -> Command {
    let mut command = truemed();
    command.env("TRUEMED_API_KEY", KEY).env("TRUEMED_BASE_URL", base_url);
    command
}

/// The binary with a clean environment (no key, no base URL), stdin closed.
pub fn truemed() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_truemed"));
    command
        .env_remove("TRUEMED_API_KEY")
        .env_remove("TRUEMED_BASE_URL")
        .env_remove("TRUEMED_WEBHOOK_SECRET")
        .stdin(Stdio::null());
    command
}

/// `n` sessions `qs_test_0001`..., created in that order, every fourth approved.
pub fn seeds(n: usize) -> Vec<SessionSeed> {
    let base = chrono::DateTime::parse_from_rfc3339("2024-03-01T10:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    (0..n)
        .map(|i| {
            let seed = SessionSeed::new(format!("qs_test_{i:04}"))
                .created_at(base + chrono::Duration::minutes(i as i64))
                .email(format!("shopper{i}@example.com"));
            match i % 4 {
                0 => seed.status(truemed_ext::Status::Approved),
                _ => seed,
            }
        })
        .collect()
}

/// Runs the command to its end.
pub fn run(command: &mut Command) -> Output {
    command.output().expect("the binary runs")
}

/// The exit code (a signal's death counts as -1).
pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails if `secret` is in any byte the process wrote, or in any of `files`.
pub fn assert_secret_absent(secret: &str, output: &Output, files: &[&PathBuf]) {
    let needle = secret.as_bytes();
    let holds = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!holds(&output.stdout), "the secret is in stdout");
    assert!(!holds(&output.stderr), "the secret is in stderr: {}", stderr(output));
    for file in files {
        if let Ok(bytes) = std::fs::read(file) {
            assert!(!holds(&bytes), "the secret is in {}", file.display());
        }
    }
}

/// A fresh directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("truemed-cli")
        .join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// JSON lines parsed, one value each.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// CSV parsed: the header and the rows.
pub fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

/// The spec's 19 session fields, in its order, as a CSV header: written out here rather
/// than taken from the binary, so that the tests check the binary's order.
pub const HEADER: &str = "qualification_session_id,status,charge_group_created_at,created_at,customer_status,eligible_amount,email,expires_at,fee,lmn_reviewed_at,session_type,skus_param,source,stripe_invoice_id,stripe_invoice_number,stripe_invoice_paid_at,user_business_id,user_id,user_name";

/// The 19 fields of [`HEADER`], in the spec's order.
pub fn fields() -> Vec<&'static str> {
    let fields: Vec<_> = HEADER.split(',').collect();
    assert_eq!(fields.len(), 19);
    fields
}

/// A session as the API returns it, for httpmock servers.
pub fn session_json(id: &str, status: &str) -> serde_json::Value {
    serde_json::json!({"qualification_session_id": id, "status": status})
}
