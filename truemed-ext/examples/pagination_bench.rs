//! Pagination benchmark: a local server with per-request latency, listed four ways.
//!
//! ```sh
//! cargo run --release -p truemed-ext --example pagination_bench -- [--items 10000] [--page-size 100] [--latency-ms 20] [--concurrency 8]
//! ```
//!
//! Prints, in one run:
//! - items/s for the plain loop a user would write with the raw client, for `stream()`
//!   sequential, for `stream()` with prefetch and for plain reqwest + serde_json fetching
//!   as many pages at once (the same work without the client); each one's time as a
//!   ratio to the ideal (pages / concurrency × latency), and the requests prefetch wasted
//!   past the end (on this list, and on one shorter than the prefetch); medians of 3. The
//!   server's latency is a thread's sleep, and the latency it actually added is printed.
//! - throughput at zero latency as a ratio to the bare decode: the same page bodies
//!   decoded with serde_json (`from_slice`, the standard way from bytes) into the same
//!   types in this process, on one thread; and decoded as the client does it (one UTF-8
//!   check, then `from_str`, which serde_json parses faster). Beside `stream()` with
//!   concurrency 1 and with the chosen concurrency, the same work without the client, which
//!   shows the limits of this machine: the bodies decoded on every core with no transport;
//!   plain reqwest fetching without decoding (the transport alone); plain reqwest + serde_json
//!   fetching then decoding each page, sending the next request before decoding (as the
//!   stream does with concurrency 1), and with a task per page (as it does above 1). This
//!   section's server only answers, each response prepared as one buffer. Each figure is a
//!   method's second run in a row; each method runs once per round, rounds interleaved,
//!   median of 15; the methods run in groups of one shape (one request at a time, or many),
//!   so none runs just after a burst on both cores, which slows the next one-at-a-time
//!   requests on this VM. Last, the CPU time a listing at the chosen concurrency costs:
//!   the transport alone, plain reqwest (without a timeout, and with the client's 60 s
//!   one: a timer per request) and `stream()`, summed over every thread (the
//!   scheduler's count, in nanoseconds), in turns of 5 listings, 64 rounds, interleaved
//!   (one turn strays from the next by about 10 % here, so it takes that many);
//!   with the decode's, this gives the most that concurrency could reach on this machine.
//!   Plain reqwest's requests carry the API key, as the API needs, and no other header the
//!   client adds.
//! - the two costs of the client against plain reqwest, from the figures above:
//!   `stream()`'s CPU per listing at the chosen concurrency over plain reqwest + serde_json's
//!   (and over the same with the timeout), with the median and middle half of the rounds'
//!   own ratios to show the spread; and `stream()`'s throughput at concurrency 1 over plain
//!   reqwest's overlapping the next request with the decode the same way.
//! - the peak memory (RSS high-water mark, each in a fresh child process) of a prefetching
//!   stream over 10k and 100k items;
//! - the share of this machine's CPU time the hypervisor stole during the run (Linux).
//!
//! Targets: prefetch within 1.10× of ideal, wasting at most `concurrency - 1` requests;
//! sequential `stream()` within 1.05× of the raw loop; at zero latency, `stream()`
//! sequential at least 0.8× and prefetching at least 1.5× the bare decode (pages decode in
//! parallel), `stream()` using no more CPU than plain reqwest + serde_json, and at
//! concurrency 1 at least the throughput of plain reqwest overlapping the next request;
//! peak memory for 100k within 1.2× of 10k. The in-process server serves prepared bodies
//! so its CPU is not charged to the client.
//!
//! `--only METHOD` lists at zero latency with one method, over and over (for `--seconds`,
//! or `--listings` after one to warm up), and prints its time and CPU per listing: for a
//! profiler (`perf record`, `valgrind --tool=callgrind`) to watch one method alone.
//! `--only A,B,...` alternates the methods instead, in turns of 5 listings (the order
//! reversed every other round), `--listings` each (default 80), and prints each one's CPU
//! per listing as a ratio to the first's, split into the runtime's worker threads, the
//! server's and the rest (the thread that polls with `block_on`): to compare two methods,
//! or two builds of one (run alternately), within one run.
//!
//! `--in-task` runs every measurement in a task spawned on the runtime (as a service's
//! handlers run) instead of on the main thread's `block_on` (as a CLI's `main` runs).
//!
//! `--help` lists the flags and their defaults.

use std::collections::HashMap;
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
type Prepared = Arc<HashMap<(u64, u64), bytes::Bytes>>;

/// Serves `items` synthetic sessions after `latency`: from `prepared` bodies when given,
/// else generated per request (the server then holds no list, so memory figures are the
/// client's).
///
/// The latency is a thread's sleep (precise to about 0.1 ms), not `tokio::time::sleep`,
/// whose millisecond timer wheel adds up to 2 ms to each request: that would be charged to
/// the client as distance from the ideal. The latency actually added is measured.
async fn serve(items: u64, latency: Duration, prepared: Option<Prepared>) -> Server {
    let stats = Arc::new(ServerStats::default());
    let counter = stats.clone();
    let app = axum::Router::new().route(
        "/api/v1/qualification_sessions",
        axum::routing::get(move |Query(q): Query<PageQuery>| async move {
            counter.requests.fetch_add(1, Ordering::Relaxed);
            if !latency.is_zero() {
                let added = tokio::task::spawn_blocking(move || {
                    let started = Instant::now();
                    std::thread::sleep(latency);
                    started.elapsed()
                })
                .await
                .expect("latency thread");
                counter.latency_ns.fetch_add(added.as_nanos() as u64, Ordering::Relaxed);
            }
            let (page, size) = (q.page.unwrap_or(1), q.page_size.unwrap_or(30));
            if let Some(body) = prepared.as_ref().and_then(|p| p.get(&(page, size))) {
                return ([("content-type", "application/json")], body.clone()).into_response();
            }
            axum::Json(page_body(items, page, size)).into_response()
        }),
    );
    // The server runs on a thread and runtime of its own: it still shares the cores, but
    // its replies never wait in the client's task queues behind decoding pages (a remote
    // server's would not).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap()
        })
    });
    Server { addr, stats }
}

/// The zero-latency server: nothing but answers. Each response (head and body) is
/// prepared as one buffer and written with one call, from a blocking thread per
/// connection, so the server's share of the cores is the least an HTTP/1.1 peer costs (a
/// remote server would cost this machine nothing at all).
fn serve_prepared_responses(prepared: &Prepared) -> Server {
    use std::io::{Read as _, Write as _};
    let responses: Arc<HashMap<(u64, u64), Vec<u8>>> = Arc::new(
        prepared
            .iter()
            .map(|(&key, body)| {
                let mut response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                response.extend_from_slice(body);
                (key, response)
            })
            .collect(),
    );
    let stats = Arc::new(ServerStats::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let counter = stats.clone();
    std::thread::spawn(move || {
        for connection in listener.incoming() {
            let (mut connection, responses, counter) =
                (connection.unwrap(), responses.clone(), counter.clone());
            connection.set_nodelay(true).unwrap();
            let server = std::thread::Builder::new().name(SERVER_THREAD.into());
            let spawned = server.spawn(move || {
                let mut buffer = Vec::with_capacity(4096);
                let mut chunk = [0u8; 4096];
                loop {
                    // One request head (GET, no body) per answer.
                    let end = loop {
                        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            break end + 4;
                        }
                        match connection.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                    buffer.drain(..end);
                    counter.requests.fetch_add(1, Ordering::Relaxed);
                    let target = head.split_whitespace().nth(1).unwrap_or("");
                    let query = |name: &str| {
                        target
                            .split(['?', '&'])
                            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                            .and_then(|value| value.parse().ok())
                    };
                    let key = (query("page").unwrap_or(1), query("page_size").unwrap_or(30));
                    let response = responses.get(&key).expect("a prepared page");
                    if connection.write_all(response).is_err() {
                        return;
                    }
                }
            });
            spawned.expect("a server thread");
        }
    });
    Server { addr, stats }
}

#[derive(Default)]
struct ServerStats {
    requests: AtomicU64,
    latency_ns: AtomicU64,
}

/// The name of the zero-latency server's threads, so that `--only A,B` tells their CPU
/// apart.
const SERVER_THREAD: &str = "bench-server";

/// A running benchmark server and the requests it has received.
struct Server {
    addr: SocketAddr,
    stats: Arc<ServerStats>,
}

impl Server {
    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> u64 {
        self.stats.requests.load(Ordering::Relaxed)
    }

    /// The mean latency the server added to its requests so far.
    fn mean_latency(&self) -> Duration {
        let requests = self.requests().max(1);
        Duration::from_nanos(self.stats.latency_ns.load(Ordering::Relaxed) / requests)
    }
}

fn prepare(items: u64, size: u64) -> Prepared {
    let pages = items.div_ceil(size).max(1) + 1;
    Arc::new(
        (1..=pages)
            .map(|page| {
                let body = serde_json::to_vec(&page_body(items, page, size)).unwrap();
                ((page, size), bytes::Bytes::from(body))
            })
            .collect(),
    )
}

fn page_body(items: u64, page: u64, size: u64) -> serde_json::Value {
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
    serde_json::json!({
        "qualification_sessions": sessions,
        "pagination": {"count": items, "current_page": page, "last_page": items.div_ceil(size).max(1), "page_size": size}
    })
}

/// Decodes a page body the standard way, `serde_json::from_slice` into the generated
/// types: the baseline, and what plain reqwest + serde_json does here.
fn decode(body: &[u8]) -> u64 {
    decode_page(body).len() as u64
}

fn decode_page(body: &[u8]) -> Vec<truemed_ext::QualificationSession> {
    serde_json::from_slice::<truemed_ext::ListQualificationSessionsResponse>(body)
        .expect("a page decodes")
        .qualification_sessions
}

/// Decodes a page body as the client does: checked as UTF-8 once, then
/// `serde_json::from_str` (serde_json parses text faster than bytes).
fn decode_as_text(body: &[u8]) -> u64 {
    let text = std::str::from_utf8(body).expect("a UTF-8 page");
    serde_json::from_str::<truemed_ext::ListQualificationSessionsResponse>(text)
        .expect("a page decodes")
        .qualification_sessions
        .len() as u64
}

/// The zero-latency methods, indices into the figures.
const BARE: usize = 0;
const BARE_TEXT: usize = 1;
const BARE_PARALLEL: usize = 2;
const TRANSPORT_SEQ: usize = 3;
const TRANSPORT_PAR: usize = 4;
const PLAIN_SEQ: usize = 5;
const PLAIN_OVERLAP: usize = 6;
const PLAIN_PAR: usize = 7;
const STREAM_SEQ: usize = 8;
const STREAM_PAR: usize = 9;
const METHODS: usize = 10;

/// How [`plain_reqwest`] handles the pages it fetches.
#[derive(Clone, Copy, PartialEq)]
enum Plain {
    /// Fetches the bodies without decoding them: the transport's floor.
    TransportOnly,
    /// Fetches a page, decodes it, then fetches the next.
    FetchThenDecode,
    /// Sends the next page's request before decoding this page (one request on the wire):
    /// the best one request at a time allows, the transport overlapping the decode.
    NextRequestFirst,
}

/// The same pages with plain reqwest, no client around it, decoded with serde_json as
/// `mode` says; with `concurrency` above 1, that many pages at a time, each fetched and
/// decoded in a task of its own, as the stream does. The decoded sessions are handed to
/// the loop that consumes them, as the stream hands its items.
async fn plain_reqwest(
    http: &reqwest::Client,
    base_url: &str,
    pages: u64,
    page_size: u64,
    concurrency: usize,
    mode: Plain,
) -> u64 {
    let fetch = |page: u64| {
        let (http, url) = (
            http.clone(),
            format!("{base_url}/api/v1/qualification_sessions?page={page}&page_size={page_size}"),
        );
        async move { http.get(url).send().await.unwrap().bytes().await.unwrap() }
    };
    // The body's length when not decoding (checked against the prepared bodies), else the
    // page's sessions, which the consuming loop below takes one by one and drops, as a
    // stream's consumer does.
    let decode = move |body: bytes::Bytes| match mode {
        Plain::TransportOnly => Err(body.len() as u64),
        Plain::FetchThenDecode | Plain::NextRequestFirst => Ok(decode_page(&body)),
    };
    let consume = |fetched: Result<Vec<truemed_ext::QualificationSession>, u64>| match fetched {
        Ok(sessions) => sessions.into_iter().map(|_session| 1).sum(),
        Err(bytes) => bytes,
    };
    let mut total = 0;
    if concurrency > 1 {
        let mut fetched = futures::stream::iter(1..=pages)
            .map(|page| {
                let body = fetch(page);
                tokio::spawn(async move { decode(body.await) })
            })
            .buffered(concurrency);
        while let Some(page) = fetched.next().await {
            total += consume(page.expect("page task"));
        }
    } else if mode == Plain::NextRequestFirst {
        let mut next = Some(tokio::spawn(fetch(1)));
        for page in 1..=pages {
            let body = next.take().expect("a request").await.expect("page task");
            next = (page < pages).then(|| tokio::spawn(fetch(page + 1)));
            total += consume(decode(body));
        }
    } else {
        for page in 1..=pages {
            total += consume(decode(fetch(page).await));
        }
    }
    total
}

/// The bodies decoded on `threads` threads at once, no transport: the most decoding in
/// parallel can give on this machine.
fn decode_in_parallel(bodies: &[&bytes::Bytes], threads: usize) -> u64 {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|first| {
                scope.spawn(move || {
                    let share = bodies.iter().skip(first).step_by(threads);
                    share.map(|body| decode(body)).sum::<u64>()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("decode thread")).sum()
    })
}

/// The loop a user would write with the raw generated client.
async fn raw_loop(raw: &truemed_ext::raw::Client, page_size: u64) -> u64 {
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

/// The timeout the client gives every request by default, for plain reqwest to compare.
const PLAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The `reqwest::Client` of plain reqwest: the request it sends carries the API key (the
/// API refuses one without it), as a user of plain reqwest would set it once, and nothing
/// else the client adds (`User-Agent`, `api-version`, `Accept`); a timeout if asked.
fn plain_http(timeout: Option<Duration>) -> reqwest::Client {
    let key = reqwest::header::HeaderValue::from_static("bench");
    let headers = reqwest::header::HeaderMap::from_iter([(API_KEY_HEADER, key)]);
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers);
    match timeout {
        Some(timeout) => builder.timeout(timeout),
        None => builder,
    }
    .build()
    .unwrap()
}

const API_KEY_HEADER: reqwest::header::HeaderName =
    reqwest::header::HeaderName::from_static("x-truemed-api-key");

fn client(base_url: &str) -> Client {
    Client::builder().api_key("bench").base_url(base_url).build().unwrap()
}

/// The median of `runs` timings of `f`, which must return the item count.
async fn median<F, Fut>(runs: usize, expected: u64, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let mut times = Vec::new();
    for _ in 0..runs {
        times.push(timed(expected, f()).await);
    }
    middle(times)
}

/// The median of `times`.
fn middle(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// `a` over `b` round by round (the two measured in the same round, moments apart): the
/// median of those ratios and the middle half of them, which shows how far one round's
/// figure strays on this shared machine (the ratio of the totals is the figure judged).
struct PairedRatio {
    median: f64,
    quartiles: (f64, f64),
}

impl PairedRatio {
    fn of(a: &[Duration], b: &[Duration]) -> Self {
        assert_eq!(a.len(), b.len(), "one figure of each per round");
        let mut ratios: Vec<f64> =
            a.iter().zip(b).map(|(a, b)| a.as_secs_f64() / b.as_secs_f64()).collect();
        ratios.sort_by(f64::total_cmp);
        let at = |share: f64| ratios[((ratios.len() - 1) as f64 * share).round() as usize];
        Self { median: at(0.5), quartiles: (at(0.25), at(0.75)) }
    }
}

impl std::fmt::Display for PairedRatio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (low, high) = self.quartiles;
        write!(f, "{:.3}x (middle half of the rounds {low:.3}-{high:.3})", self.median)
    }
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
    let n =
        stream_count(&client(&server.base_url()), settings.page_size, settings.concurrency).await;
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
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().parse().expect("peak RSS")
}

/// Pagination benchmark: a local server with per-request latency, listed four ways (the
/// raw client's loop, `stream()` sequential, `stream()` with prefetch, plain reqwest as many
/// pages at once); the same at zero latency, and CPU per listing, against plain reqwest;
/// then the peak memory of a prefetching stream over 10k and 100k items.
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
    /// Runs every measurement in a task spawned on the runtime, as a service's handler or
    /// job runs, instead of on the main thread's `block_on` (where a CLI's `main` runs).
    /// With glibc's allocator the two differ at concurrency 1: see BENCHMARKS.md.
    #[arg(long = "in-task")]
    in_task: bool,
    /// For profiling: list at zero latency with this method only, over and over for
    /// `--seconds`, then exit (stream-1, stream-N, plain-overlap-1, plain-N,
    /// plain-timeout-N with the client's 60 s timeout, where N is `--concurrency`). Several, separated by commas: alternate them and compare their CPU.
    #[arg(long, value_name = "METHOD")]
    only: Option<String>,
    /// How long `--only` runs, in seconds.
    #[arg(long, value_name = "S", default_value_t = 10)]
    seconds: u64,
    /// With `--only`: this many listings instead (after one to warm up), whatever the time;
    /// with several methods, this many of each (default 80).
    #[arg(long, value_name = "N")]
    listings: Option<u32>,
}

fn parse_args() -> (Settings, Args) {
    use clap::Parser as _;
    // Exits 2 with a message on a bad flag, 0 after `--help`.
    let args = Args::parse();
    let settings = Settings {
        items: args.items,
        page_size: args.page_size.max(1),
        latency: Duration::from_millis(args.latency_ms),
        concurrency: args.concurrency.max(1) as usize,
    };
    (settings, args)
}

/// `--only`: one zero-latency method, over and over, for a profiler to watch: for
/// `seconds`, or `count` listings after one to warm up. Several methods, separated by
/// commas, are alternated and compared ([`compare`]).
async fn only_run(settings: Settings, methods: &str, seconds: u64, count: Option<u32>) {
    let prepared = prepare(settings.items, settings.page_size);
    let instant = serve_prepared_responses(&prepared);
    let client = client(&instant.base_url());
    let (http, http_with_timeout) = (plain_http(None), plain_http(Some(PLAIN_TIMEOUT)));
    let (base, pages, c) = (
        instant.base_url(),
        settings.items.div_ceil(settings.page_size).max(1),
        settings.concurrency,
    );
    let size = settings.page_size;
    let list = |method: &str| {
        let (client, http, base, method) = (&client, &http, &base, method.to_owned());
        let http_with_timeout = &http_with_timeout;
        async move {
            let n = match method.as_str() {
                "stream-1" => stream_count(client, size, 1).await,
                "stream-N" => stream_count(client, size, c).await,
                "plain-overlap-1" => {
                    plain_reqwest(http, base, pages, size, 1, Plain::NextRequestFirst).await
                }
                "plain-N" => {
                    plain_reqwest(http, base, pages, size, c, Plain::FetchThenDecode).await
                }
                "plain-timeout-N" => {
                    let mode = Plain::FetchThenDecode;
                    plain_reqwest(http_with_timeout, base, pages, size, c, mode).await
                }
                other => panic!("--only {other}: not a method"),
            };
            assert_eq!(n, settings.items);
        }
    };
    let methods: Vec<&str> = methods.split(',').collect();
    if let [method] = methods[..] {
        return repeat(|| list(method), seconds, count).await;
    }
    compare(&methods, count.unwrap_or(80), list).await
}

/// Lists with `list` over and over, for `seconds` or `count` listings after one to warm
/// up, and prints the time and CPU per listing.
async fn repeat<F, Fut>(mut list: F, seconds: u64, count: Option<u32>)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if count.is_some() {
        list().await;
    }
    let (started, cpu) = (Instant::now(), CpuClock::now());
    let mut listings = 0u32;
    while match count {
        Some(count) => listings < count,
        None => started.elapsed() < Duration::from_secs(seconds),
    } {
        list().await;
        listings += 1;
    }
    let cpu = cpu.and_then(|cpu| cpu.elapsed()).unwrap_or_default();
    let listings = listings.max(1);
    println!(
        "{listings} listings in {:.1} s: {:.2} ms each; CPU {:.2} ms each",
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1e3 / listings as f64,
        cpu.as_secs_f64() * 1e3 / listings as f64
    );
}

/// `--only A,B,...`: the methods in turns of a few listings, `listings` of each, and each
/// one's CPU per listing against the first's, by kind of thread.
async fn compare<'a, F, Fut>(methods: &[&'a str], listings: u32, list: F)
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    const TURN: u32 = 5;
    let rounds = listings.div_ceil(TURN).max(1);
    for method in methods {
        list(method).await;
    }
    // Per method: the CPU of the runtime's workers, of the server, of every other thread.
    let mut spent = vec![[Duration::ZERO; 3]; methods.len()];
    // Per method: each round's CPU, every thread.
    let mut rounds_cpu = vec![Vec::new(); methods.len()];
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..methods.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            let before = thread_cpu();
            for _ in 0..TURN {
                list(methods[index]).await;
            }
            let mut turn = Duration::ZERO;
            for (tid, (kind, on_cpu)) in thread_cpu() {
                let earlier = before.get(&tid).map_or(0, |&(_, on_cpu)| on_cpu);
                let on_cpu = Duration::from_nanos(on_cpu.saturating_sub(earlier));
                spent[index][kind as usize] += on_cpu;
                turn += on_cpu;
            }
            rounds_cpu[index].push(turn);
        }
    }
    let per_listing = |d: Duration| d.as_secs_f64() * 1e3 / f64::from(rounds * TURN);
    let total = |kinds: &[Duration; 3]| kinds.iter().sum::<Duration>();
    println!("{} listings of each, in turns of {TURN}; CPU per listing:", rounds * TURN);
    for ((method, kinds), rounds) in methods.iter().zip(&spent).zip(&rounds_cpu) {
        let [workers, server, other] = kinds.map(per_listing);
        println!(
            "{method:<16} {:>7.2} ms {:>7.3}x (workers {workers:.2}, server {server:.2}, other {other:.2}); by round {}",
            per_listing(total(kinds)),
            total(kinds).as_secs_f64() / total(&spent[0]).as_secs_f64(),
            PairedRatio::of(rounds, &rounds_cpu[0]),
        );
    }
}

/// Which threads a CPU time is charged to in [`compare`].
#[derive(Clone, Copy)]
enum ThreadKind {
    Worker = 0,
    Server = 1,
    Other = 2,
}

/// Each thread's kind (by its name) and CPU time so far, by thread id, from the same
/// files as [`CpuClock`].
fn thread_cpu() -> HashMap<u32, (ThreadKind, u64)> {
    let Some(clock) = CpuClock::now() else {
        return HashMap::new();
    };
    clock
        .0
        .into_iter()
        .map(|(tid, on_cpu)| {
            let name =
                std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).unwrap_or_default();
            let kind = match name.trim_end() {
                name if name.starts_with("tokio-") => ThreadKind::Worker,
                SERVER_THREAD => ThreadKind::Server,
                _ => ThreadKind::Other,
            };
            (tid, (kind, on_cpu))
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let (settings, args) = parse_args();
    if args.in_task {
        let bench = tokio::spawn(bench(settings, args));
        return bench.await.expect("the benchmark's task");
    }
    bench(settings, args).await
}

/// The benchmark, on whatever task polls it.
async fn bench(settings: Settings, args: Args) {
    if args.memory_run {
        return memory_run(settings).await;
    }
    if let Some(method) = &args.only {
        return only_run(settings, method, args.seconds, args.listings).await;
    }
    let machine_at_start = MachineTimes::now();
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
    const ZERO_LATENCY_ROUNDS: usize = 15;

    // Warm up connections and code paths once.
    stream_count(&client, settings.page_size, 1).await;

    // Built once, as the stream's client is: a client per listing would charge the raw
    // loop for loading TLS roots and opening a connection each time.
    let raw_client = truemed_ext::raw::Client::new(&base, truemed_ext::raw::CallContext::new());
    let raw = median(runs, settings.items, || raw_loop(&raw_client, settings.page_size)).await;
    let sequential =
        median(runs, settings.items, || stream_count(&client, settings.page_size, 1)).await;
    let before = server.requests();
    let prefetch = median(runs, settings.items, || {
        stream_count(&client, settings.page_size, settings.concurrency)
    })
    .await;
    let wasted = (server.requests() - before) as f64 / runs as f64 - pages as f64;
    // The same pages with plain reqwest, a task per page as `buffered(concurrency)` holds
    // them: the same work without the client, at this latency. A client of its own, as
    // the stream's is apart from the zero-latency one, so neither section's pool holds the
    // other's connections.
    let plain_client = plain_http(None);
    let plain_prefetch = median(runs, settings.items, || {
        let (size, c) = (settings.page_size, settings.concurrency);
        plain_reqwest(&plain_client, &base, pages, size, c, Plain::FetchThenDecode)
    })
    .await;

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
    println!("{:<28} {:>10} {:>12} {:>16}", "method", "time (ms)", "items/s", "time / ideal");
    let row = |method: &str, elapsed: Duration, ideal: Duration| {
        let millis = elapsed.as_secs_f64() * 1e3;
        let (per_second, of_ideal) = (rate(elapsed), ratio(elapsed, ideal));
        println!("{method:<28} {millis:>10.1} {per_second:>12.0} {of_ideal:>15.3}x");
    };
    row("raw client loop", raw, ideal_seq);
    row("stream(), sequential", sequential, ideal_seq);
    row(&format!("stream(), prefetch {}", settings.concurrency), prefetch, ideal_prefetch);
    row(
        &format!("plain reqwest, {} at once", settings.concurrency),
        plain_prefetch,
        ideal_prefetch,
    );
    let seq_vs_raw = sequential.as_secs_f64() / raw.as_secs_f64();
    println!("stream() sequential / raw loop: {seq_vs_raw:.3}x (target <= 1.05)");
    println!(
        "prefetch / ideal: {:.3}x (target <= 1.10); plain reqwest at once / ideal {:.3}x",
        ratio(prefetch, ideal_prefetch),
        ratio(plain_prefetch, ideal_prefetch)
    );
    println!(
        "prefetch requests past the end: {wasted:.1} per listing of {pages} pages; {short_wasted} on a listing of {short_pages} pages (at most {})",
        settings.concurrency - 1
    );

    println!(
        "the server added {:.2} ms per request on average (asked {} ms)",
        server.mean_latency().as_secs_f64() * 1e3,
        settings.latency.as_millis()
    );

    // Decode throughput at zero latency.
    let bodies: Vec<&bytes::Bytes> =
        (1..=pages).map(|page| &prepared[&(page, settings.page_size)]).collect();
    let body_bytes: u64 = bodies.iter().map(|b| b.len() as u64).sum();
    let instant = serve_prepared_responses(&prepared);
    let instant_client = self::client(&instant.base_url());
    let instant_base = instant.base_url();
    let c = settings.concurrency;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Also with the timeout the client gives every request: a timer per request.
    let (http, http_with_timeout) = (plain_http(None), plain_http(Some(PLAIN_TIMEOUT)));
    let plain = |concurrency: usize, mode: Plain| {
        plain_reqwest(&http, &instant_base, pages, settings.page_size, concurrency, mode)
    };
    let plain_with_timeout = |concurrency: usize| {
        let (base, size) = (&instant_base, settings.page_size);
        plain_reqwest(&http_with_timeout, base, pages, size, concurrency, Plain::FetchThenDecode)
    };
    let stream =
        |concurrency: usize| stream_count(&instant_client, settings.page_size, concurrency);
    let (plain, stream, bodies) = (&plain, &stream, &bodies);
    let run = |method: usize| async move {
        // Each method's second run in a row: every method starts with the caches and the
        // allocator warm from its own kind of work (the one before it in the round would
        // otherwise charge it, e.g. a thread's heap trimmed and faulted in again).
        match method {
            BARE => {
                second_of_two(settings.items, || async {
                    bodies.iter().map(|body| decode(body)).sum()
                })
                .await
            }
            BARE_TEXT => {
                second_of_two(settings.items, || async {
                    bodies.iter().map(|body| decode_as_text(body)).sum()
                })
                .await
            }
            BARE_PARALLEL => {
                second_of_two(settings.items, || async { decode_in_parallel(bodies, cores) }).await
            }
            TRANSPORT_SEQ => second_of_two(body_bytes, || plain(1, Plain::TransportOnly)).await,
            TRANSPORT_PAR => second_of_two(body_bytes, || plain(c, Plain::TransportOnly)).await,
            PLAIN_SEQ => second_of_two(settings.items, || plain(1, Plain::FetchThenDecode)).await,
            PLAIN_OVERLAP => {
                second_of_two(settings.items, || plain(1, Plain::NextRequestFirst)).await
            }
            PLAIN_PAR => second_of_two(settings.items, || plain(c, Plain::FetchThenDecode)).await,
            STREAM_SEQ => second_of_two(settings.items, || stream(1)).await,
            STREAM_PAR => second_of_two(settings.items, || stream(c)).await,
            _ => unreachable!("a method index"),
        }
    };
    // Each method once per round, rounds interleaved, so that a slower moment of this
    // shared machine falls on every method alike; the median of the rounds. The methods run
    // in groups of one shape (one thread decoding; one request at a time; many at a time),
    // each group in reverse order every other round: on this VM a burst of work on both
    // cores slows one-at-a-time requests for tens of milliseconds after it (plain reqwest
    // takes about 16 ms instead of 12 after one, the warm-up run notwithstanding), so the
    // method after a parallel one would be charged for it.
    let groups: [&[usize]; 3] = [
        &[BARE, BARE_TEXT],
        &[TRANSPORT_SEQ, PLAIN_SEQ, PLAIN_OVERLAP, STREAM_SEQ],
        &[BARE_PARALLEL, TRANSPORT_PAR, PLAIN_PAR, STREAM_PAR],
    ];
    let mut times: [Vec<Duration>; METHODS] = Default::default();
    for round in 0..=ZERO_LATENCY_ROUNDS {
        for group in groups {
            let mut order = group.to_vec();
            if round % 2 == 1 {
                order.reverse();
            }
            for method in order {
                let time = run(method).await;
                // Round 0 warms connections and code paths.
                if round > 0 {
                    times[method].push(time);
                }
            }
        }
    }
    let [bare, bare_text, bare_parallel, transport_seq, transport_par, plain_seq, plain_overlap, plain_par, stream_seq, stream_par] =
        times.map(middle);
    let vs_bare = |d: Duration| bare.as_secs_f64() / d.as_secs_f64();
    println!(
        "zero latency, {cores} cores: throughput as a ratio to the bare decode (higher is better)"
    );
    println!("{:<60} {:>10} {:>12} {:>10}", "method", "time (ms)", "items/s", "/ bare");
    let row = |name: &str, d: Duration, target: &str| {
        println!(
            "{:<60} {:>10.2} {:>12.0} {:>9.3}x {target}",
            name,
            d.as_secs_f64() * 1e3,
            rate(d),
            vs_bare(d)
        )
    };
    row("bare decode, serde_json::from_slice, one thread", bare, "");
    row("bare decode as the client does it (UTF-8, then from_str)", bare_text, "");
    row(&format!("bare decode on {cores} threads (no transport at all)"), bare_parallel, "");
    row("transport only (plain reqwest, no decoding), 1", transport_seq, "");
    row(&format!("transport only (plain reqwest, no decoding), {c}"), transport_par, "");
    row("plain reqwest + serde_json: fetch, then decode, 1", plain_seq, "");
    row("plain reqwest + serde_json: next request, then decode, 1", plain_overlap, "");
    row(&format!("plain reqwest + serde_json, {c} (a task per page)"), plain_par, "");
    row("stream(), concurrency 1", stream_seq, "(target >= 0.8)");
    row(&format!("stream(), concurrency {c}"), stream_par, "(target >= 1.5)");
    // What the same work costs without the client: the transport shares the cores with
    // the decode, so these are the limits on this machine.
    println!(
        "concurrency 1: stream() {:.3}x; plain reqwest overlapping the next request with the decode the same way {:.3}x (the transport alone takes {:.3}x the bare decode's time)",
        vs_bare(stream_seq),
        vs_bare(plain_overlap),
        transport_seq.as_secs_f64() / bare.as_secs_f64(),
    );
    println!(
        "stream c=1 / plain reqwest overlapped c=1: {:.3}x throughput (target >= 1.00)",
        plain_overlap.as_secs_f64() / stream_seq.as_secs_f64()
    );
    println!(
        "concurrency {c}: stream() {:.3}x; plain reqwest with a task per page {:.3}x; decoding alone on {cores} threads, no transport, {:.3}x",
        vs_bare(stream_par),
        vs_bare(plain_par),
        vs_bare(bare_parallel),
    );

    // What the CPU allows at concurrency c: each listing's CPU time, summed over the threads
    // of this process (the server's too).
    // The transport and the decode share the cores, so a listing takes at least their sum
    // spread over every core, none ever idle. The four run in turns of a few listings each,
    // in reverse order every other round, so that a busier moment of this shared machine
    // falls on all alike. The ratios are the median of the rounds' (`PairedRatio`).
    const CPU_ROUNDS: u32 = 64;
    const CPU_TURN: u32 = 5;
    const CPU_LISTINGS: u32 = CPU_ROUNDS * CPU_TURN;
    // Each method's CPU per listing in each round; `None` where this system cannot tell.
    let mut turns: Option<[Vec<Duration>; 4]> = Some(Default::default());
    for round in 0..CPU_ROUNDS {
        let mut order = [0, 1, 2, 3];
        if round % 2 == 1 {
            order.reverse();
        }
        for method in order {
            let spent = match method {
                0 => cpu_per_run(CPU_TURN, || plain(c, Plain::TransportOnly)).await,
                1 => cpu_per_run(CPU_TURN, || plain(c, Plain::FetchThenDecode)).await,
                2 => cpu_per_run(CPU_TURN, || plain_with_timeout(c)).await,
                _ => cpu_per_run(CPU_TURN, || stream(c)).await,
            };
            turns = turns.zip(spent).map(|(mut turns, turn)| {
                turns[method].push(turn);
                turns
            });
        }
    }
    if let Some([transport, plain, timed, stream]) = turns {
        let mean = |turns: &[Duration]| turns.iter().sum::<Duration>() / CPU_ROUNDS;
        let ms = |turns: &[Duration]| mean(turns).as_secs_f64() * 1e3;
        let floor = (mean(&transport) + bare_text) / cores as u32;
        println!(
            "concurrency {c}, CPU per listing ({CPU_LISTINGS} listings, every thread of this process, the server's too): transport alone {:.2} ms, plain reqwest + serde_json {:.2} ms, stream() {:.2} ms; the client's decode alone {:.2} ms",
            ms(&transport),
            ms(&plain),
            ms(&stream),
            bare_text.as_secs_f64() * 1e3,
        );
        println!(
            "concurrency {c} at best on {cores} cores: the transport's CPU and the decode's, with no core ever idle, take {:.2} ms: {:.3}x the bare decode",
            floor.as_secs_f64() * 1e3,
            vs_bare(floor),
        );
        let over = |base: &[Duration]| mean(&stream).as_secs_f64() / mean(base).as_secs_f64();
        println!(
            "stream CPU / plain reqwest CPU at c={c}: {:.3}x (target <= 1.00); round by round {}",
            over(&plain),
            PairedRatio::of(&stream, &plain),
        );
        println!(
            "against plain reqwest with the client's 60 s timeout (a timer per request; {:.2} ms): {:.3}x; round by round {}",
            ms(&timed),
            over(&timed),
            PairedRatio::of(&stream, &timed),
        );
    }

    let small = child_peak(10_000, settings);
    let large = child_peak(100_000, settings);
    let memory_ratio = large as f64 / small as f64;
    println!("peak RSS: 10k items {small} KiB, 100k items {large} KiB: {memory_ratio:.3}x (target <= 1.2)");
    if let Some(share) = machine_at_start.and_then(|start| start.steal_share_since()) {
        println!(
            "steal: the hypervisor ran other guests for {:.1} % of this machine's CPU time during the run (on a busy host, the latency and one-at-a-time figures suffer most)",
            share * 1e2
        );
    }
}

/// This machine's CPU time by state, from the first line of `/proc/stat` (in clock ticks).
struct MachineTimes(Vec<u64>);

impl MachineTimes {
    fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().next()?.strip_prefix("cpu ")?;
        line.split_whitespace().map(|n| n.parse().ok()).collect::<Option<_>>().map(Self)
    }

    /// The share of the CPU time since `self` that was stolen: the eighth field, time the
    /// hypervisor gave the machine's virtual CPUs to others while they had work.
    fn steal_share_since(&self) -> Option<f64> {
        let now = Self::now()?;
        let spent: Vec<u64> = now.0.iter().zip(&self.0).map(|(now, then)| now - then).collect();
        // guest and guest_nice (the ninth and tenth) are already counted in user and nice.
        let total: u64 = spent.iter().take(8).sum();
        Some(*spent.get(7)? as f64 / total.max(1) as f64)
    }
}

/// Each thread's CPU time so far, by thread id (from `/proc/self/task/*/schedstat`, the
/// scheduler's own count, in nanoseconds); `None` where those files are not there to read.
/// (`/proc/self/stat` counts the whole process, but in clock ticks of 10 ms.)
#[derive(Clone)]
struct CpuClock(HashMap<u32, u64>);

impl CpuClock {
    fn now() -> Option<Self> {
        let mut threads = HashMap::new();
        for entry in std::fs::read_dir("/proc/self/task").ok()? {
            let entry = entry.ok()?;
            let Ok(tid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            // A thread that ended since the listing is simply not there.
            let Ok(stat) = std::fs::read_to_string(entry.path().join("schedstat")) else {
                continue;
            };
            let on_cpu: u64 = stat.split_whitespace().next()?.parse().ok()?;
            threads.insert(tid, on_cpu);
        }
        Some(Self(threads))
    }

    /// The CPU time every thread of this process has spent since `self` was read, the
    /// threads started since included (a thread that ended in between is not counted:
    /// here, only idle ones do).
    fn elapsed(&self) -> Option<Duration> {
        let now = Self::now()?;
        let spent = now
            .0
            .iter()
            .map(|(tid, on_cpu)| on_cpu.saturating_sub(self.0.get(tid).copied().unwrap_or(0)))
            .sum();
        Some(Duration::from_nanos(spent))
    }
}

/// The process's CPU time per run of `work`, over `runs` runs.
async fn cpu_per_run<F, Fut>(runs: u32, mut work: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let before = CpuClock::now()?;
    for _ in 0..runs {
        work().await;
    }
    Some(before.elapsed()? / runs)
}

/// How long the second of two runs of `run` takes (both must return `expected`).
async fn second_of_two<F, Fut>(expected: u64, mut run: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    timed(expected, run()).await;
    timed(expected, run()).await
}

/// How long `run` takes; it must return `expected` (items or bytes).
async fn timed(expected: u64, run: impl std::future::Future<Output = u64>) -> Duration {
    let started = Instant::now();
    assert_eq!(run.await, expected, "item or byte count");
    started.elapsed()
}
