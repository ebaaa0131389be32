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
//!
//! Prints `listening on http://HOST:PORT` on stdout once it accepts connections, then serves
//! until stopped. It is the same code as `truemed_ext::testing::FakeTruemed`, so it
//! answers exactly as the in-process fake does.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use truemed_ext::testing::{demo_sessions, FakeTruemed, SessionSeed, DEFAULT_API_KEY};
use truemed_ext::QualificationSession;

const USAGE: &str =
    "usage: fake_truemed [--port N] [--host ADDR] [--api-key KEY] [--seed FILE] [--latency-ms MS]";

struct Args {
    host: IpAddr,
    port: u16,
    api_key: String,
    seed: Option<String>,
    latency: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 0,
        api_key: DEFAULT_API_KEY.to_owned(),
        seed: None,
        latency: Duration::ZERO,
    };
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        // Both `--flag value` and `--flag=value`.
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (flag.clone(), None),
        };
        if name == "--help" || name == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| raw.next())
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match name.as_str() {
            "--port" => args.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--host" => args.host = value()?.parse().map_err(|e| format!("--host: {e}"))?,
            "--api-key" => args.api_key = value()?,
            "--seed" => args.seed = Some(value()?),
            "--latency-ms" => {
                args.latency = Duration::from_millis(
                    value()?.parse().map_err(|e| format!("--latency-ms: {e}"))?,
                )
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if args.api_key.trim().is_empty() {
        return Err("--api-key cannot be empty".into());
    }
    Ok(args)
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
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("fake_truemed: {message}");
            return ExitCode::from(2);
        }
    };
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
        .latency(args.latency)
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
