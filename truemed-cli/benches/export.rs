//! `sessions export` at scale: the built `truemed` binary exports every session from a
//! local server that answers each page after a fixed latency, with bodies prepared
//! before the clock starts (so the server costs nothing but its sleep).
//!
//! Prints, from one run:
//! - time of the export of 100k sessions against the prefetch ideal, `pages /
//!   concurrency × latency` (the target: within 1.15x);
//! - the same against the library alone streaming the same pages in process (a baseline
//!   measured in the same run: what the CLI adds beyond the client);
//! - the binary's peak memory (VmHWM) exporting 100k sessions against 10k (the target:
//!   within 1.2x: memory flat in the list's size).
//!
//! `cargo bench -p truemed-cli --bench export` (release build). `TRUEMED_BENCH_SESSIONS`
//! changes the large count (default 100000).

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use futures_util::TryStreamExt as _;

const LATENCY: Duration = Duration::from_millis(20);
const PAGE_SIZE: usize = 100;
const CONCURRENCY: usize = 8;
const KEY: &str = "sk_bench_export_key_00";

/// The prepared pages of a listing of `count` sessions.
struct Pages(Vec<axum::body::Bytes>);

fn session(i: usize) -> serde_json::Value {
    serde_json::json!({
        "qualification_session_id": format!("qs_bench_{i:08}"),
        "status": if i.is_multiple_of(3) { "approved" } else { "pending" },
        "created_at": "2024-03-01T10:00:00Z",
        "email": format!("shopper{i}@example.com"),
        "user_name": format!("Shopper {i}"),
        "eligible_amount": 129.99,
        "fee": 4.5,
        "expires_at": "2025-03-01T23:59:59Z",
        "session_type": "one_time",
        "skus_param": "sku_treadmill_01",
        "source": "checkout",
        "user_id": null,
    })
}

fn prepare(count: usize) -> Pages {
    let last = count.div_ceil(PAGE_SIZE).max(1);
    Pages(
        (1..=last)
            .map(|page| {
                let items: Vec<_> = ((page - 1) * PAGE_SIZE..(page * PAGE_SIZE).min(count))
                    .map(session)
                    .collect();
                let body = serde_json::json!({
                    "qualification_sessions": items,
                    "pagination": {"count": count, "current_page": page, "last_page": last, "page_size": PAGE_SIZE},
                });
                axum::body::Bytes::from(serde_json::to_vec(&body).unwrap())
            })
            .collect(),
    )
}

#[derive(serde::Deserialize)]
struct PageQuery {
    page: Option<usize>,
}

async fn list(
    State(pages): State<Arc<Pages>>,
    Query(query): Query<PageQuery>,
) -> impl IntoResponse {
    tokio::time::sleep(LATENCY).await;
    let page = query.page.unwrap_or(1);
    let body = pages.0.get(page - 1).cloned().unwrap_or_else(|| {
        axum::body::Bytes::from_static(br#"{"qualification_sessions": [], "pagination": null}"#)
    });
    ([(header::CONTENT_TYPE, "application/json")], body)
}

/// Serves `pages` on a free port of 127.0.0.1.
async fn serve(pages: Pages) -> SocketAddr {
    let app = axum::Router::new()
        .route("/api/v1/qualification_sessions", axum::routing::get(list))
        .with_state(Arc::new(pages));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Runs the binary's export to a file; its wall time and peak memory (kB).
fn export_with_binary(addr: SocketAddr, out: &std::path::Path) -> (Duration, u64) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_truemed"))
        .env("TRUEMED_API_KEY", KEY)
        .env("TRUEMED_BASE_URL", format!("http://{addr}"))
        .args(["sessions", "export", "--format", "csv"])
        .args(["--page-size", &PAGE_SIZE.to_string()])
        .args(["--concurrency", &CONCURRENCY.to_string()])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the export failed");
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (started.elapsed(), peak)
}

/// The library alone: the same listing streamed in process, items counted.
async fn export_with_library(addr: SocketAddr) -> (Duration, usize) {
    let client = truemed_ext::Client::builder()
        .api_key(KEY)
        .base_url(format!("http://{addr}"))
        .build()
        .unwrap();
    let started = Instant::now();
    let count = client
        .qualification_sessions()
        .list()
        .page_size(PAGE_SIZE as u64)
        .paginate()
        .concurrency(CONCURRENCY)
        .items()
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await
        .unwrap();
    (started.elapsed(), count)
}

fn lines(path: &std::path::Path) -> usize {
    std::fs::read(path).unwrap().iter().filter(|b| **b == b'\n').count()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a listing: nothing to list.
    }
    let large: usize = std::env::var("TRUEMED_BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let small = large / 10;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (large_addr, small_addr) =
        runtime.block_on(async { (serve(prepare(large)).await, serve(prepare(small)).await) });
    let dir = std::env::temp_dir().join(format!("truemed-export-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (out_large, out_small) = (dir.join("large.csv"), dir.join("small.csv"));

    // A warm-up of each path, then the measured runs.
    let _ = export_with_binary(small_addr, &out_small);
    let _ = runtime.block_on(export_with_library(small_addr));
    let (library, count) = runtime.block_on(export_with_library(large_addr));
    assert_eq!(count, large);
    let (binary, peak_large) = export_with_binary(large_addr, &out_large);
    assert_eq!(lines(&out_large), large + 1, "every session and the header");
    let (_, peak_small) = export_with_binary(small_addr, &out_small);
    assert_eq!(lines(&out_small), small + 1);

    let pages = large.div_ceil(PAGE_SIZE);
    let ideal = LATENCY.mul_f64(pages.div_ceil(CONCURRENCY) as f64);
    println!(
        "export of {large} sessions ({pages} pages of {PAGE_SIZE}, concurrency {CONCURRENCY}, {} ms latency):",
        LATENCY.as_millis()
    );
    println!(
        "  binary {:.3} s; prefetch ideal {:.3} s: {:.3}x (target 1.15x)",
        binary.as_secs_f64(),
        ideal.as_secs_f64(),
        binary.as_secs_f64() / ideal.as_secs_f64()
    );
    println!(
        "  library alone, in process, same run: {:.3} s: binary/library {:.3}x",
        library.as_secs_f64(),
        binary.as_secs_f64() / library.as_secs_f64()
    );
    println!(
        "  peak memory (VmHWM): {peak_large} kB for {large}, {peak_small} kB for {small}: {:.3}x (target 1.2x)",
        peak_large as f64 / peak_small.max(1) as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
}
