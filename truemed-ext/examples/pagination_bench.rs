//! Pagination benchmark: a local server with per-request latency, listed three ways.
//!
//! ```sh
//! cargo run --release -p truemed-ext --example pagination_bench -- [--items 10000] [--page-size 100] [--latency-ms 20] [--concurrency 8]
//! ```
//!
//! Prints, in one run:
//! - items/s for the plain loop a user would write with the raw client, for `stream()`
//!   sequential and for `stream()` with prefetch; each one's time as a ratio to the ideal
//!   (pages / concurrency × latency), and the requests prefetch wasted past the end (on
//!   this list, and on one shorter than the prefetch);
//! - decode throughput at zero latency: the same page bodies decoded with serde_json into
//!   the same types in this process (the limit for the format), against `stream()` with
//!   concurrency 1 and with the chosen concurrency;
//! - the peak memory (RSS high-water mark, each in a fresh child process) of a prefetching
//!   stream over 10k and 100k items.
//!
//! Targets: prefetch within 1.10× of ideal; sequential `stream()` within 1.05× of the raw
//! loop; at zero latency, `stream()` sequential at least 0.8× and prefetching at least 1.5×
//! the bare decode (pages decode in parallel); peak memory for 100k within 1.2× of 10k.
//! Medians of 3 runs; the in-process server serves prepared bodies so its CPU is not
//! charged to the client.
//!
//! `--help` lists the flags and their defaults.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Query;
use axum::response::IntoResponse as _;
use futures::StreamExt as _;
use serde::Deserialize;
use truemed_ext::Client;

#[derive(Clone, Copy, Debug)]
struct Settings {
    items: u64,
    page_size: u64,
    latency: Duration,
    concurrency: usize,
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<u64>,
    page_size: Option<u64>,
}

/// Page bodies served as they are, so the in-process server spends no CPU on them and the
/// timings measure the client (the server shares this machine's cores with it).
type Prepared = std::sync::Arc<std::collections::HashMap<(u64, u64), String>>;

/// Serves `items` synthetic sessions after `latency`: from `prepared` bodies when given,
/// else generated per request (the server then holds no list, so memory figures are the
/// client's).
async fn serve(items: u64, latency: Duration, prepared: Option<Prepared>) -> Server {
    let requests = Arc::new(AtomicU64::new(0));
    let counter = requests.clone();
    let app = axum::Router::new().route(
        "/api/v1/qualification_sessions",
        axum::routing::get(move |Query(q): Query<PageQuery>| async move {
            counter.fetch_add(1, Ordering::Relaxed);
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let (page, size) = (q.page.unwrap_or(1), q.page_size.unwrap_or(30));
            if let Some(body) = prepared.as_ref().and_then(|p| p.get(&(page, size))) {
                return ([("content-type", "application/json")], body.clone()).into_response();
            }
            page_body(items, page, size).into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server { addr, requests }
}

/// A running benchmark server and the requests it has received.
struct Server {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
}

impl Server {
    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

fn prepare(items: u64, size: u64) -> Prepared {
    let pages = items.div_ceil(size).max(1) + 1;
    std::sync::Arc::new(
        (1..=pages)
            .map(|page| ((page, size), page_body(items, page, size).0.to_string()))
            .collect(),
    )
}

fn page_body(items: u64, page: u64, size: u64) -> axum::Json<serde_json::Value> {
    {
        {
            let start = ((page - 1) * size).min(items);
            let end = (page * size).min(items);
            let sessions: Vec<_> = (start..end)
                .map(|n| {
                    serde_json::json!({
                        "qualification_session_id": format!("qs_{n:08}-1234-4e56-8a9b-0c1d2e3f4a5b"),
                        "status": "approved",
                        "created_at": "2024-06-13T16:03:07.473Z",
                        "expires_at": "2025-06-13T16:03:07Z",
                        "eligible_amount": 129.5,
                        "email": format!("shopper{n}@example.com"),
                        "user_id": format!("user_{n}"),
                        "user_name": "A Shopper",
                        "source": "bench"
                    })
                })
                .collect();
            axum::Json(serde_json::json!({
                "qualification_sessions": sessions,
                "pagination": {"count": items, "current_page": page, "last_page": items.div_ceil(size).max(1), "page_size": size}
            }))
        }
    }
}

/// The loop a user would write with the raw generated client.
async fn raw_loop(base_url: &str, page_size: u64) -> u64 {
    let raw = truemed_ext::raw::Client::new(base_url, truemed_ext::raw::CallContext::new());
    let (mut page, mut seen) = (1u64, 0u64);
    loop {
        let response = raw
            .list_qualification_sessions()
            .page(std::num::NonZeroU64::new(page).unwrap())
            .page_size(std::num::NonZeroU64::new(page_size).unwrap())
            .send()
            .await
            .expect("raw page")
            .into_inner();
        let n = response.qualification_sessions.len() as u64;
        seen += n;
        if n < page_size {
            return seen;
        }
        page += 1;
    }
}

async fn stream_count(client: &Client, page_size: u64, concurrency: usize) -> u64 {
    let mut stream = Box::pin(
        client
            .qualification_sessions()
            .list()
            .page_size(page_size)
            .paginate()
            .concurrency(concurrency)
            .items(),
    );
    let mut seen = 0;
    while let Some(item) = stream.next().await {
        item.expect("stream item");
        seen += 1;
    }
    seen
}

fn client(base_url: &str) -> Client {
    Client::builder()
        .api_key("bench")
        .base_url(base_url)
        .build()
        .unwrap()
}

/// The median of `runs` timings of `f`, which must return the item count.
async fn median<F, Fut>(runs: usize, expected: u64, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        assert_eq!(f().await, expected, "item count");
        times.push(started.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Child mode: stream `items` with prefetch, print the peak RSS in KiB.
async fn memory_run(settings: Settings) {
    let server = serve(settings.items, Duration::from_millis(1), None).await;
    let n = stream_count(
        &client(&server.base_url()),
        settings.page_size,
        settings.concurrency,
    )
    .await;
    assert_eq!(n, settings.items);
    println!("{}", peak_rss_kib());
}

fn child_peak(items: u64, settings: Settings) -> u64 {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--memory-run",
            "--items",
            &items.to_string(),
            "--page-size",
            &settings.page_size.to_string(),
            "--concurrency",
            &settings.concurrency.to_string(),
        ])
        .output()
        .expect("child run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("peak RSS")
}

/// Pagination benchmark: a local server with per-request latency, listed three ways (the
/// raw client's loop, `stream()` sequential, `stream()` with prefetch), then the peak memory
/// of a prefetching stream over 10k and 100k items.
#[derive(Debug, clap::Parser)]
#[command(name = "pagination_bench", args_override_self = true)]
struct Args {
    /// Sessions the server holds.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    items: u64,
    /// Sessions per page (at least 1).
    #[arg(long = "page-size", value_name = "N", default_value_t = 100)]
    page_size: u64,
    /// Latency the server adds to every request, in milliseconds.
    #[arg(long = "latency-ms", value_name = "MS", default_value_t = 20)]
    latency_ms: u64,
    /// Pages fetched at once by the prefetching stream (at least 1).
    #[arg(long, value_name = "N", default_value_t = 8)]
    concurrency: u64,
    /// Internal: the child process of the memory measurement (streams --items with
    /// prefetch and prints its peak RSS in KiB).
    #[arg(long = "memory-run")]
    memory_run: bool,
}

fn parse_args() -> (Settings, bool) {
    use clap::Parser as _;
    // Exits 2 with a message on a bad flag, 0 after `--help`.
    let args = Args::parse();
    let settings = Settings {
        items: args.items,
        page_size: args.page_size.max(1),
        latency: Duration::from_millis(args.latency_ms),
        concurrency: args.concurrency.max(1) as usize,
    };
    (settings, args.memory_run)
}

#[tokio::main]
async fn main() {
    let (settings, memory) = parse_args();
    if memory {
        return memory_run(settings).await;
    }
    let prepared = prepare(settings.items, settings.page_size);
    let server = serve(settings.items, settings.latency, Some(prepared.clone())).await;
    let base = server.base_url();
    let client = client(&base);
    let pages = settings.items.div_ceil(settings.page_size).max(1);
    // The raw loop and sequential stream make one extra request only when the last page is
    // full; the ideal counts the pages that hold items.
    let ideal_seq = settings.latency * pages as u32;
    let ideal_prefetch = settings.latency * (pages.div_ceil(settings.concurrency as u64)) as u32;
    let runs = 3;

    // Warm up connections and code paths once.
    stream_count(&client, settings.page_size, 1).await;

    let raw = median(runs, settings.items, || raw_loop(&base, settings.page_size)).await;
    let sequential = median(runs, settings.items, || {
        stream_count(&client, settings.page_size, 1)
    })
    .await;
    let before = server.requests();
    let prefetch = median(runs, settings.items, || {
        stream_count(&client, settings.page_size, settings.concurrency)
    })
    .await;
    let wasted = (server.requests() - before) as f64 / runs as f64 - pages as f64;

    // A list shorter than the prefetch: 1.5 pages, against `concurrency` pages requested.
    let short_items = settings.page_size + settings.page_size / 2;
    let short = serve(short_items, settings.latency, None).await;
    let short_client = self::client(&short.base_url());
    let short_pages = short_items.div_ceil(settings.page_size);
    assert_eq!(
        stream_count(&short_client, settings.page_size, settings.concurrency).await,
        short_items
    );
    let short_wasted = short.requests() - short_pages;

    let rate = |d: Duration| settings.items as f64 / d.as_secs_f64();
    let ratio = |d: Duration, ideal: Duration| d.as_secs_f64() / ideal.as_secs_f64();
    println!(
        "{} items, {} per page ({pages} pages), {} ms latency, prefetch concurrency {}, median of {runs}",
        settings.items, settings.page_size, settings.latency.as_millis(), settings.concurrency
    );
    println!(
        "{:<28} {:>10} {:>12} {:>16}",
        "method", "time (ms)", "items/s", "time / ideal"
    );
    println!(
        "{:<28} {:>10.1} {:>12.0} {:>15.3}x",
        "raw client loop",
        raw.as_secs_f64() * 1e3,
        rate(raw),
        ratio(raw, ideal_seq)
    );
    println!(
        "{:<28} {:>10.1} {:>12.0} {:>15.3}x",
        "stream(), sequential",
        sequential.as_secs_f64() * 1e3,
        rate(sequential),
        ratio(sequential, ideal_seq)
    );
    println!(
        "{:<28} {:>10.1} {:>12.0} {:>15.3}x",
        format!("stream(), prefetch {}", settings.concurrency),
        prefetch.as_secs_f64() * 1e3,
        rate(prefetch),
        ratio(prefetch, ideal_prefetch)
    );
    let seq_vs_raw = sequential.as_secs_f64() / raw.as_secs_f64();
    println!("stream() sequential / raw loop: {seq_vs_raw:.3}x (target <= 1.05)");
    println!(
        "prefetch / ideal: {:.3}x (target <= 1.10)",
        ratio(prefetch, ideal_prefetch)
    );
    println!(
        "prefetch requests past the end: {wasted:.1} per listing of {pages} pages; {short_wasted} on a listing of {short_pages} pages (at most {})",
        settings.concurrency - 1
    );

    // Decode throughput at zero latency.
    let bodies: Vec<&String> = (1..=pages)
        .map(|page| &prepared[&(page, settings.page_size)])
        .collect();
    let bare = median_sync(
        runs,
        || {
            bodies
                .iter()
                .map(|body| {
                    serde_json::from_str::<truemed_ext::ListQualificationSessionsResponse>(body)
                        .expect("a page decodes")
                        .qualification_sessions
                        .len() as u64
                })
                .sum()
        },
        settings.items,
    );
    let instant = serve(settings.items, Duration::ZERO, Some(prepared)).await;
    let instant_client = self::client(&instant.base_url());
    stream_count(&instant_client, settings.page_size, 1).await;
    let decode_seq = median(runs, settings.items, || {
        stream_count(&instant_client, settings.page_size, 1)
    })
    .await;
    let decode_prefetch = median(runs, settings.items, || {
        stream_count(&instant_client, settings.page_size, settings.concurrency)
    })
    .await;
    let vs_bare = |d: Duration| bare.as_secs_f64() / d.as_secs_f64();
    println!(
        "zero latency, {} cores: bare serde_json decode {:.0} items/s; stream() sequential {:.0} items/s ({:.3}x, target >= 0.8); stream() prefetch {} {:.0} items/s ({:.3}x, target >= 1.5)",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        rate(bare),
        rate(decode_seq),
        vs_bare(decode_seq),
        settings.concurrency,
        rate(decode_prefetch),
        vs_bare(decode_prefetch),
    );

    let small = child_peak(10_000, settings);
    let large = child_peak(100_000, settings);
    let memory_ratio = large as f64 / small as f64;
    println!("peak RSS: 10k items {small} KiB, 100k items {large} KiB: {memory_ratio:.3}x (target <= 1.2)");
}

/// The median of `runs` timings of the synchronous `f`, which must return the item count.
fn median_sync(runs: usize, mut f: impl FnMut() -> u64, expected: u64) -> Duration {
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        assert_eq!(f(), expected, "item count");
        times.push(started.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}
