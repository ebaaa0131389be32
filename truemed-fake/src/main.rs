//! `truemed-fake`: the fake Truemed server as a program, for test suites in any language.
//!
//! ```text
//! cargo install --locked --path truemed-fake   # from a checkout
//! truemed-fake serve --port 8080 --api-key test_key --webhook-url http://127.0.0.1:3000/hooks --webhook-secret whsec_test
//! truemed-fake trigger --url http://127.0.0.1:3000/hooks --secret whsec_test --status approved
//! ```
//!
//! - `serve` runs the same code as `truemed_fake::FakeTruemed`: the three API
//!   operations under `/api/v1/`, and the control API under `/_fake/`
//!   (`openapi/fake-control.yaml`), with its dashboard under `/_dashboard/`. It prints
//!   `listening on http://HOST:PORT` on stdout once it accepts connections, then the
//!   dashboard's address (`http://HOST:PORT/_dashboard/#key=…`) on a line of its own, and
//!   stops cleanly on Ctrl-C or SIGTERM: the server, and the webhook deliveries in flight
//!   with their retries.
//! - `trigger` sends one `qualification_session_complete` delivery to a URL, signed (or
//!   unsigned), prints the receiver's status and answer, and exits 0 only for a 2xx.
//!
//! `truemed-fake --help` and `truemed-fake <command> --help` list every flag.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser as _;
use truemed_ext::{QualificationSessionCompleteWebhook, Status};
use truemed_fake::{
    demo_sessions, seeds_from_json, Chaos, FakeTruemed, SessionSeed, WebhookRetries, WebhookTarget,
    CHAOS_PROBABILITY, DEFAULT_API_KEY, DEFAULT_WEBHOOK_ATTEMPTS, DEFAULT_WEBHOOK_BACKOFF,
    DEFAULT_WEBHOOK_TIMEOUT, MAX_CHAOS_SEED, MAX_LATENCY, MAX_WEBHOOK_ATTEMPTS,
    MAX_WEBHOOK_BACKOFF, MAX_WEBHOOK_TIMEOUT, MIN_WEBHOOK_TIMEOUT,
};

/// A duration in whole milliseconds, as the flags take them. The bounds of the flags are
/// the fake's constants, the ones the control API applies.
const fn ms(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

/// How long `trigger` waits for the answer, by default, in milliseconds.
const DEFAULT_TRIGGER_TIMEOUT_MS: u64 = 10_000;

/// A fake Truemed server for tests in any language, and a webhook trigger.
#[derive(Debug, clap::Parser)]
#[command(name = "truemed-fake", version, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Serve the fake Truemed API and its control API (under /_fake/) until stopped.
    ///
    /// Prints `listening on http://HOST:PORT` on stdout once it accepts connections, then
    /// the address of its dashboard (the key in its fragment) on the next line.
    Serve(ServeArgs),
    /// Send one `qualification_session_complete` webhook delivery to a URL, print the
    /// receiver's answer, and exit 0 only if it was a 2xx.
    Trigger(TriggerArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The port to listen on; 0 picks a free one (printed).
    #[arg(long, value_name = "N", default_value_t = 0)]
    port: u16,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// The key to accept in `x-truemed-api-key`, on the API and the control API (visible
    /// ASCII, no spaces).
    #[arg(
        long,
        value_name = "KEY",
        default_value = DEFAULT_API_KEY,
        allow_hyphen_values = true,
        value_parser = visible_ascii
    )]
    api_key: String,
    /// A JSON file holding an array of session objects as the API returns them (or a whole
    /// list response), each id once; an entry that cannot be read is named with its field.
    /// Without it (and without --empty), 50 realistic demo sessions are seeded.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true)]
    seed: Option<String>,
    /// Start with no sessions at all (create them through the control API).
    #[arg(long, conflicts_with = "seed")]
    empty: bool,
    /// Latency added to every API request, in milliseconds.
    #[arg(
        long = "latency-ms",
        value_name = "MS",
        default_value_t = 0,
        value_parser = clap::value_parser!(u64).range(0..=ms(MAX_LATENCY))
    )]
    latency_ms: u64,
    /// Deliver `qualification_session_complete` webhooks to this URL when a session is
    /// approved or rejected (also settable at run time: PUT /_fake/webhook_endpoint).
    #[arg(long, value_name = "URL", requires = "webhook_secret", value_parser = http_url)]
    webhook_url: Option<String>,
    /// The webhook secret: the HMAC-SHA256 key of `x-truemed-signature`, or with
    /// --unsigned the shared secret sent in `x-truemed-api-key`.
    #[arg(
        long,
        value_name = "SECRET",
        requires = "webhook_url",
        allow_hyphen_values = true,
        value_parser = visible_ascii
    )]
    webhook_secret: Option<String>,
    /// Send unsigned deliveries (the flat payload, the secret in `x-truemed-api-key`)
    /// instead of signed envelopes.
    #[arg(long, requires = "webhook_url")]
    unsigned: bool,
    /// Attempts per delivery before it counts as failed (Truemed retries for days; the
    /// fake compresses that).
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_WEBHOOK_ATTEMPTS,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_WEBHOOK_ATTEMPTS))
    )]
    webhook_attempts: u32,
    /// The wait before the second attempt, in milliseconds; it doubles after each attempt
    /// (at most 60 s between two attempts).
    #[arg(
        long,
        value_name = "MS",
        default_value_t = ms(DEFAULT_WEBHOOK_BACKOFF),
        value_parser = clap::value_parser!(u64).range(0..=ms(MAX_WEBHOOK_BACKOFF))
    )]
    webhook_backoff_ms: u64,
    /// How long one delivery attempt may take, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = ms(DEFAULT_WEBHOOK_TIMEOUT),
        value_parser = clap::value_parser!(u64).range(ms(MIN_WEBHOOK_TIMEOUT)..=ms(MAX_WEBHOOK_TIMEOUT))
    )]
    webhook_timeout_ms: u64,
    /// Seeded random faults: the probability (0 to 1) that an API request hits one, drawn
    /// from a mix of 503s, 429s with `Retry-After: 0`, dropped connections and lost
    /// responses.
    #[arg(long, value_name = "PROBABILITY", value_parser = probability)]
    chaos: Option<f64>,
    /// The seed of --chaos's random draws (the same seed, the same faults).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        requires = "chaos",
        value_parser = clap::value_parser!(u64).range(0..=MAX_CHAOS_SEED)
    )]
    chaos_seed: u64,
}

#[derive(Debug, clap::Args)]
struct TriggerArgs {
    /// The receiver's URL.
    #[arg(long, value_name = "URL", value_parser = http_url)]
    url: String,
    /// The webhook secret: the HMAC-SHA256 key of `x-truemed-signature`, or with
    /// --unsigned the shared secret sent in `x-truemed-api-key`.
    #[arg(
        long,
        value_name = "SECRET",
        allow_hyphen_values = true,
        value_parser = visible_ascii
    )]
    secret: String,
    /// The session's status in the payload.
    #[arg(long, value_name = "STATUS", default_value = "approved", value_parser = ["approved", "rejected"])]
    status: String,
    /// The session's id in the payload (default: a new `qs_…` id).
    #[arg(long, value_name = "ID", allow_hyphen_values = true)]
    session: Option<String>,
    /// The `user_id` in the payload.
    #[arg(long, value_name = "ID", allow_hyphen_values = true)]
    user_id: Option<String>,
    /// The `email` in the payload.
    #[arg(long, value_name = "EMAIL")]
    email: Option<String>,
    /// Send an unsigned delivery (the flat payload, the secret in `x-truemed-api-key`)
    /// instead of a signed envelope.
    #[arg(long)]
    unsigned: bool,
    /// How long to wait for the answer, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = DEFAULT_TRIGGER_TIMEOUT_MS,
        value_parser = clap::value_parser!(u64).range(ms(MIN_WEBHOOK_TIMEOUT)..=ms(MAX_WEBHOOK_TIMEOUT))
    )]
    timeout_ms: u64,
}

/// 1 or more visible ASCII characters: a key or secret that fits in a header as it is.
fn visible_ascii(text: &str) -> Result<String, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("use 1 or more visible ASCII characters (no spaces)".into());
    }
    Ok(text.to_owned())
}

fn http_url(text: &str) -> Result<String, String> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            Ok(text.to_owned())
        }
        _ => Err("not an http or https URL, e.g. http://127.0.0.1:3000/hooks/truemed".into()),
    }
}

fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if CHAOS_PROBABILITY.contains(&p) => Ok(p),
        _ => Err(format!(
            "a probability from {} to {}, e.g. 0.2",
            CHAOS_PROBABILITY.start(),
            CHAOS_PROBABILITY.end()
        )),
    }
}

/// Sessions from a JSON file (see [`seeds_from_json`]).
fn load_seeds(path: &str) -> Result<Vec<SessionSeed>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    seeds_from_json(&text).map_err(|e| format!("{path}: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    // Exits 2 with a message on a bad flag, 0 after `--help` and `--version`.
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Trigger(args) => trigger(args).await,
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    let (seeds, origin) = match (&args.seed, args.empty) {
        (Some(path), _) => match load_seeds(path) {
            Ok(seeds) => (seeds, format!(" from {path}")),
            Err(message) => {
                eprintln!("truemed-fake: {message}");
                return ExitCode::from(2);
            }
        },
        (None, true) => (Vec::new(), String::new()),
        (None, false) => (demo_sessions(), " (demo sessions)".to_owned()),
    };
    let count = seeds.len();
    let retries = WebhookRetries::default()
        .with_max_attempts(args.webhook_attempts)
        .with_initial_backoff(Duration::from_millis(args.webhook_backoff_ms))
        .with_attempt_timeout(Duration::from_millis(args.webhook_timeout_ms));
    let mut builder = FakeTruemed::builder()
        .addr(SocketAddr::new(args.host, args.port))
        .api_key(args.api_key.clone())
        .latency(Duration::from_millis(args.latency_ms))
        .seed_all(seeds)
        .webhook_retries(retries);
    if let (Some(url), Some(secret)) = (&args.webhook_url, &args.webhook_secret) {
        builder = builder.webhook_target(if args.unsigned {
            WebhookTarget::unsigned(url, secret)
        } else {
            WebhookTarget::signed(url, secret)
        });
    }
    if let Some(p) = args.chaos {
        builder = builder.chaos(Chaos::seeded(args.chaos_seed).mixed(p));
    }
    let fake = match builder.try_start().await {
        Ok(fake) => fake,
        Err(error) => {
            eprintln!("truemed-fake: cannot listen on {}:{}: {error}", args.host, args.port);
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "truemed-fake: {count} sessions seeded{origin}; API key {}; control API under {}/_fake/; webhooks {}",
        if args.api_key == DEFAULT_API_KEY {
            DEFAULT_API_KEY
        } else {
            "as given with --api-key"
        },
        fake.base_url(),
        match &args.webhook_url {
            Some(url) if args.unsigned => format!("to {url} (unsigned)"),
            Some(url) => format!("to {url} (signed)"),
            None => "off until PUT /_fake/webhook_endpoint".to_owned(),
        },
    );
    let stopped = stop_signals();
    println!("listening on {}", fake.base_url());
    // The dashboard's address, alone on the next line: the key rides in its fragment.
    println!("{}", fake.dashboard_url());
    let _ = std::io::stdout().flush();

    stopped.await;
    eprintln!("truemed-fake: stopping");
    // Stops the server and the deliveries in flight, retries and all; the runtime goes next.
    drop(fake);
    ExitCode::SUCCESS
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM. On Unix the handlers are installed
/// by this call, before the future is first polled: a signal sent as soon as `listening on`
/// is printed still stops the server cleanly.
#[cfg(unix)]
fn stop_signals() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        match (interrupt, terminate) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            (Ok(mut only), Err(_)) | (Err(_), Ok(mut only)) => {
                only.recv().await;
            }
            (Err(_), Err(_)) => std::future::pending().await,
        }
    }
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn stop_signals() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn trigger(args: TriggerArgs) -> ExitCode {
    let status = Status::from(args.status.as_str());
    let expires_at =
        (status == Status::Approved).then(|| (chrono::Utc::now() + chrono::Days::new(365)).into());
    let payload = QualificationSessionCompleteWebhook {
        email: args.email,
        expires_at,
        qualification_session_id: args
            .session
            .unwrap_or_else(|| format!("qs_{}", uuid::Uuid::new_v4())),
        source: None,
        status,
        user_id: args.user_id,
    };
    let target = if args.unsigned {
        WebhookTarget::unsigned(&args.url, &args.secret)
    } else {
        WebhookTarget::signed(&args.url, &args.secret)
    };
    let delivery_id = format!("whd_{}", uuid::Uuid::new_v4().simple());
    let attempt =
        target.send_once(&delivery_id, &payload, Duration::from_millis(args.timeout_ms)).await;
    eprintln!(
        "truemed-fake: {} qualification_session_complete {delivery_id} for {} ({}) to {} in {} ms",
        if args.unsigned { "unsigned" } else { "signed" },
        payload.qualification_session_id,
        payload.status,
        args.url,
        attempt.duration_ms,
    );
    match (attempt.status, &attempt.error) {
        (Some(code), _) => {
            let reason = http::StatusCode::from_u16(code)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            println!("HTTP {code} {reason}");
            if let Some(body) = attempt.response_body.as_deref().filter(|b| !b.is_empty()) {
                println!("{body}");
            }
        }
        (None, Some(error)) => eprintln!("truemed-fake: no answer: {error}"),
        (None, None) => eprintln!("truemed-fake: no answer"),
    }
    let _ = std::io::stdout().flush();
    if attempt.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
