//! The fake Truemed server as a standalone process, for tools and languages other than Rust.
//!
//! ```text
//! cargo run -p truemed-ext --features testing --example fake_truemed -- \
//!     [--port N] [--host 127.0.0.1] [--api-key KEY] [--seed sessions.json] [--latency-ms MS]
//! ```
//!
//! - `--port`: the port (default 0: a free one, printed).
//! - `--host`: the address to listen on (default `127.0.0.1`).
//! - `--api-key`: the key to accept in `x-truemed-api-key` (default `sk_test_fake_truemed`).
//! - `--seed`: a JSON file holding an array of session objects as the API returns them (or a
//!   whole list response); without it, 50 realistic demo sessions are seeded.
//! - `--latency-ms`: latency added to every request.
//! - `--help`: these flags, with their defaults.
//!
//! Prints `listening on http://HOST:PORT` on stdout once it accepts connections, then serves
//! until stopped. It is the same code as `truemed_ext::testing::FakeTruemed`, so it
//! answers exactly as the in-process fake does.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser as _;
use truemed_ext::testing::{demo_sessions, FakeTruemed, SessionSeed, DEFAULT_API_KEY};
use truemed_ext::QualificationSession;

/// The fake Truemed server as a standalone process: the same code as
/// `truemed_ext::testing::FakeTruemed`. Prints `listening on http://HOST:PORT` on stdout
/// once it accepts connections, then serves until stopped.
#[derive(Debug, clap::Parser)]
#[command(name = "fake_truemed", args_override_self = true)]
struct Args {
    /// The port to listen on; 0 picks a free one (printed).
    #[arg(long, value_name = "N", default_value_t = 0)]
    port: u16,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// The key to accept in `x-truemed-api-key`.
    #[arg(
        long,
        value_name = "KEY",
        default_value = DEFAULT_API_KEY,
        allow_hyphen_values = true,
        value_parser = non_empty
    )]
    api_key: String,
    /// A JSON file holding an array of session objects as the API returns them (or a whole
    /// list response); without it, 50 realistic demo sessions are seeded.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true)]
    seed: Option<String>,
    /// Latency added to every request, in milliseconds.
    #[arg(long = "latency-ms", value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
}

fn non_empty(key: &str) -> Result<String, String> {
    if key.trim().is_empty() {
        return Err("cannot be empty".into());
    }
    Ok(key.to_owned())
}

/// Sessions from a JSON file: an array of session objects, or a list response.
fn load_seeds(path: &str) -> Result<Vec<SessionSeed>, String> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum File {
        Sessions(Vec<QualificationSession>),
        ListResponse {
            qualification_sessions: Vec<QualificationSession>,
        },
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let file: File = serde_json::from_str(&text).map_err(|e| {
        format!("{path}: expected a JSON array of qualification sessions (each with at least qualification_session_id and status): {e}")
    })?;
    let sessions = match file {
        File::Sessions(sessions)
        | File::ListResponse {
            qualification_sessions: sessions,
        } => sessions,
    };
    Ok(sessions.into_iter().map(SessionSeed::from).collect())
}

#[tokio::main]
async fn main() -> ExitCode {
    // Exits 2 with a message on a bad flag, 0 after `--help`.
    let args = Args::parse();
    let seeds = match &args.seed {
        Some(path) => match load_seeds(path) {
            Ok(seeds) => seeds,
            Err(message) => {
                eprintln!("fake_truemed: {message}");
                return ExitCode::from(2);
            }
        },
        None => demo_sessions(),
    };
    let count = seeds.len();
    let default_key = args.api_key == DEFAULT_API_KEY;
    let started = FakeTruemed::builder()
        .bind(SocketAddr::new(args.host, args.port))
        .api_key(args.api_key)
        .latency(Duration::from_millis(args.latency_ms))
        .seed_all(seeds)
        .try_start()
        .await;
    let fake = match started {
        Ok(fake) => fake,
        Err(error) => {
            eprintln!(
                "fake_truemed: cannot listen on {}:{}: {error}",
                args.host, args.port
            );
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "fake_truemed: {count} sessions seeded{}; API key {}",
        args.seed
            .as_deref()
            .map(|p| format!(" from {p}"))
            .unwrap_or_default(),
        if default_key {
            DEFAULT_API_KEY
        } else {
            "as given with --api-key"
        },
    );
    println!("listening on {}", fake.base_url());
    let _ = std::io::stdout().flush();

    // Serve until the process is stopped (Ctrl-C, SIGTERM).
    std::future::pending::<()>().await;
    drop(fake);
    ExitCode::SUCCESS
}
