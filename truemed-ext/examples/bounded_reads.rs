//! Peak memory of a call answered by a 20 MB HTML `500`, against reading that body whole.
//!
//! ```sh
//! cargo run --release -p truemed-ext --example bounded_reads
//! ```
//!
//! Each measurement runs in a fresh process (this program started again with
//! `BOUNDED_READS_CHILD` set) that serves the body from a static buffer on 127.0.0.1, so
//! the server allocates nothing per request, and reports the growth of its peak resident
//! set (`VmHWM`) over the call. The baseline is plain reqwest reading the same body with
//! `bytes()`. Printed: the median of 3 runs of each, and their ratio.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const CHUNK: &[u8] = &[b'<'; 64 * 1024];
const CHUNKS: usize = 320; // 20 MiB
const RUNS: usize = 3;
const CHILD: &str = "BOUNDED_READS_CHILD";

fn main() {
    match std::env::var(CHILD).as_deref() {
        Ok(mode) => child(mode),
        Err(_) => parent(),
    }
}

fn parent() {
    let measure = |mode: &str| {
        let mut runs: Vec<u64> = (0..RUNS)
            .map(|_| {
                let output = std::process::Command::new(std::env::current_exe().unwrap())
                    .env(CHILD, mode)
                    .output()
                    .expect("the child runs");
                assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
                String::from_utf8(output.stdout).unwrap().trim().parse().unwrap()
            })
            .collect();
        runs.sort_unstable();
        runs[RUNS / 2]
    };
    let client = measure("client");
    let baseline = measure("baseline");
    let body_kib = CHUNK.len() * CHUNKS / 1024;
    println!("body: {body_kib} KiB of HTML answering 500; peak RSS growth, median of {RUNS}:");
    println!("  truemed-ext Client (error body bounded): {client:>7} KiB");
    println!("  reqwest reading the whole body:          {baseline:>7} KiB");
    println!("  ratio client / baseline: {:.3}", client as f64 / baseline.max(1) as f64);
}

fn child(mode: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let base_url = serve().await;
        let before = peak_kib();
        match mode {
            "client" => {
                let client = truemed_ext::Client::builder()
                    .api_key("sk_test")
                    .base_url(&base_url)
                    .retry_policy(truemed_ext::RetryPolicy::none())
                    .build()
                    .unwrap();
                let error = client.qualification_sessions().get("qs_1").await.unwrap_err();
                assert_eq!(
                    error.body().map(str::len),
                    Some(truemed_ext::raw::DEFAULT_MAX_ERROR_BODY)
                );
            }
            _ => {
                let body = reqwest::get(format!("{base_url}/api/v1/qualification_session/qs_1"))
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                assert_eq!(body.len(), CHUNK.len() * CHUNKS);
            }
        }
        println!("{}", peak_kib().saturating_sub(before));
    });
}

/// Serves the 20 MiB `500` to every connection, from the static chunk.
async fn serve() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), socket.read(&mut request)).await;
                let head = format!(
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    CHUNK.len() * CHUNKS
                );
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for _ in 0..CHUNKS {
                    if socket.write_all(CHUNK).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    base_url
}

/// The peak resident set of this process so far, in KiB (`VmHWM`; 0 where unavailable).
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
