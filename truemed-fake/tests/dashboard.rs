//! The dashboard in a real browser: the built `truemed-fake serve` binary, a webhook
//! receiver of the test's own that checks each delivery's signature (its own HMAC code),
//! and headless Chromium driven through chromedriver (WebDriver), finding what it clicks
//! and reads by label, name and visible text, as a person would.
//!
//! Chromium and chromedriver come from Debian (`scripts/browser-deps` installs them); the
//! browser tests fail, saying so, when chromedriver is missing. With
//! `TRUEMED_DASHBOARD_SCREENSHOT=path.png` the main flow saves a screenshot there.

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The fake's key: characters a URL fragment must encode, to prove the address carries it.
const KEY: &str = "sk_test_dash+board/&=#%?";
const SECRET: &str = "whsec_dashboard_test";
/// How long to wait for the page to show something. The page polls every 750 ms; the bound
/// is generous because the machine is shared.
const WAIT: Duration = Duration::from_secs(30);

/// The browser tests run one at a time: each starts its own Chromium.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------------------
// The fake, as a process
// ---------------------------------------------------------------------------------------

/// `truemed-fake serve`, stopped when dropped.
struct Served {
    child: Child,
    base: String,
    dashboard: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_truemed-fake"))
        .arg("serve")
        .args(["--port", "0", "--api-key", KEY])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start truemed-fake serve");
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stderr.take().unwrap();
    let sink = Arc::clone(&stderr);
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buffer) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first line").expect("stdout");
    let base = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the first line is `listening on …`, not {first:?}"))
        .to_owned();
    let dashboard = lines.next().expect("a second line").expect("stdout");
    // Keep reading, so that the pipe never fills.
    std::thread::spawn(move || for _ in lines {});
    Served { child, base, dashboard, stderr }
}

/// A seed file of three sessions, one per status the filters are tried with.
fn seed_file(dir: &Path) -> PathBuf {
    let path = dir.join("seed.json");
    let sessions = json!([
        {"qualification_session_id": "qs_seed_ada", "status": "approved",
         "email": "ada@example.com", "user_name": "Ada Lovelace", "user_id": "user_ada",
         "created_at": "2024-01-02T09:00:00Z", "expires_at": "2025-01-02T09:00:00Z"},
        {"qualification_session_id": "qs_seed_bob", "status": "pending",
         "email": "bob@example.com", "user_name": "Bob Babbage",
         "created_at": "2024-01-03T09:00:00Z"},
        {"qualification_session_id": "qs_seed_cy", "status": "rejected",
         "email": "cy@example.com", "user_name": "Cy Hopper",
         "created_at": "2024-01-04T09:00:00Z"}
    ]);
    std::fs::write(&path, sessions.to_string()).unwrap();
    path
}

/// A fresh directory under the system's temporary one, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "truemed-dashboard-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------
// A webhook receiver that checks signatures with its own HMAC code
// ---------------------------------------------------------------------------------------

/// What the receiver answers to a delivery it could verify: HTML and a script, which the
/// page must show as text.
const RECEIVER_ANSWER: &str =
    r#"{"received":true,"note":"<b>bold</b><script>window.__receiverInjected=1</script>"}"#;

#[derive(Debug, Clone)]
struct Received {
    signature_ok: bool,
    body: Value,
}

type Inbox = Arc<Mutex<Vec<Received>>>;

/// `x-truemed-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">`.
fn signature_ok(headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(header) = headers.get("x-truemed-signature").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t.to_owned()),
            Some(("v1", v)) => signatures.push(v.to_owned()),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    signatures
        .iter()
        .any(|given| hex::decode(given).is_ok_and(|given| mac.clone().verify_slice(&given).is_ok()))
}

/// The receiver's state: what it received, and whether it refuses each delivery's first
/// attempt (to show retries).
#[derive(Clone)]
struct Hooks {
    inbox: Inbox,
    refuse_first: bool,
}

async fn receive(
    State(hooks): State<Hooks>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let ok = signature_ok(&headers, &body);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut inbox = hooks.inbox.lock().unwrap();
    let first = !inbox.iter().any(|r| r.body["webhook_delivery_id"] == body["webhook_delivery_id"]);
    inbox.push(Received { signature_ok: ok, body });
    if !ok {
        (StatusCode::UNAUTHORIZED, "bad signature")
    } else if hooks.refuse_first && first {
        (StatusCode::SERVICE_UNAVAILABLE, r#"{"error":"warming up, try again"}"#)
    } else {
        (StatusCode::ACCEPTED, RECEIVER_ANSWER)
    }
}

async fn receiver() -> (String, Inbox) {
    receiver_with(false).await
}

async fn receiver_with(refuse_first: bool) -> (String, Inbox) {
    let inbox = Inbox::default();
    let hooks = Hooks { inbox: Arc::clone(&inbox), refuse_first };
    let app =
        axum::Router::new().route("/hooks/truemed", axum::routing::post(receive)).with_state(hooks);
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let url = format!("http://{}/hooks/truemed", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

// ---------------------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------------------

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Driver {
    let path = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    assert!(
        path.exists(),
        "chromedriver is not installed ({} is missing): run `bash scripts/browser-deps` \
         (it installs Debian's chromium and chromium-driver), then run the tests again",
        path.display()
    );
    let port = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
    let child = Command::new(&path)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    let started = Instant::now();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(started.elapsed() < WAIT, "chromedriver did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    driver
}

/// A headless Chromium session with its own empty profile, logging the console.
async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--window-size=1440,1200".to_owned(),
    ];
    args.push(format!("--user-data-dir={}", profile.display()));
    let mut chrome = json!({ "args": args });
    if Path::new("/usr/bin/chromium").exists() {
        chrome["binary"] = json!("/usr/bin/chromium");
    }
    let mut capabilities = Capabilities::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert("goog:chromeOptions".into(), chrome);
    capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session through chromedriver")
}

/// chromedriver's console log (`POST /session/{id}/se/log`): the entries since the last
/// call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// The console entries of level WARNING or SEVERE since the last call.
async fn console_problems(client: &Client) -> Vec<String> {
    let entries = client.issue_cmd(BrowserLog).await.expect("the console log");
    entries
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| matches!(entry["level"].as_str(), Some("SEVERE" | "WARNING")))
        .map(|entry| entry.to_string())
        .collect()
}

/// `text` as an XPath string literal, whatever quotes it holds.
fn literal(text: &str) -> String {
    if !text.contains('\'') {
        return format!("'{text}'");
    }
    if !text.contains('"') {
        return format!("\"{text}\"");
    }
    let parts: Vec<String> = text.split('\'').map(|part| format!("'{part}'")).collect();
    format!("concat({})", parts.join(", \"'\", "))
}

/// Waits until `xpath` finds an element.
async fn wait_for(client: &Client, xpath: &str) -> Element {
    client
        .wait()
        .at_most(WAIT)
        .every(Duration::from_millis(100))
        .for_element(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("nothing matched {xpath} within {WAIT:?}: {e}"))
}

/// Waits until `xpath` finds an element that is displayed.
async fn wait_visible(client: &Client, xpath: &str) -> Element {
    let started = Instant::now();
    loop {
        for element in client.find_all(Locator::XPath(xpath)).await.unwrap() {
            if element.is_displayed().await.unwrap_or(false) {
                return element;
            }
        }
        assert!(started.elapsed() < WAIT, "nothing displayed matched {xpath} within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `xpath` finds nothing.
async fn wait_gone(client: &Client, xpath: &str) {
    let started = Instant::now();
    while !client.find_all(Locator::XPath(xpath)).await.unwrap().is_empty() {
        assert!(started.elapsed() < WAIT, "{xpath} still matched after {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The form control a label names, found through the label as a person reads it.
async fn control(client: &Client, label: &str) -> Element {
    let label_element =
        wait_for(client, &format!("//label[normalize-space()={}]", literal(label))).await;
    let id = label_element
        .attr("for")
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("the label {label:?} names no control"));
    client.find(Locator::Id(&id)).await.unwrap_or_else(|e| panic!("the control of {label:?}: {e}"))
}

/// Types `text` into the control labelled `label`, replacing what it held.
async fn fill(client: &Client, label: &str, text: &str) {
    let field = control(client, label).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Chooses the option of value `value` in the select labelled `label`.
async fn choose(client: &Client, label: &str, value: &str) {
    control(client, label).await.select_by_value(value).await.unwrap();
}

/// Clicks the button named `name` inside the element `scope` finds.
async fn click_in(client: &Client, scope: &str, name: &str) {
    let xpath = format!("{scope}//button[normalize-space()={}]", literal(name));
    wait_for(client, &xpath).await.click().await.unwrap();
}

/// The sessions table's row showing session `id`.
fn row(id: &str) -> String {
    format!(
        "//table[.//th[normalize-space()='ID']]//tbody/tr[.//*[normalize-space()={}]]",
        literal(id)
    )
}

/// A section by its heading.
fn section(heading: &str) -> String {
    format!(
        "//section[./*[self::h2 or self::div]/descendant-or-self::h2[normalize-space()={}]]",
        literal(heading)
    )
}

/// The API's HTTP client, with the key.
fn api(served: &Served, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, format!("{}{path}", served.base))
        .header("x-truemed-api-key", KEY)
}

/// A GET of `path` with the key; a failed connection (chaos may drop it) is the caller's.
async fn try_get(served: &Served, path: &str) -> reqwest::Result<reqwest::Response> {
    api(served, reqwest::Method::GET, path).send().await
}

/// A GET of `path` with the key, answered with JSON.
async fn get_json(served: &Served, path: &str) -> Value {
    try_get(served, path).await.unwrap().json().await.unwrap()
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_developer_drives_a_signed_webhook_flow_from_the_dashboard_and_nothing_injected_runs() {
    let _one_browser = BROWSER.lock().await;
    let dir = TempDir::new("flow");
    let seeds = seed_file(&dir.0);
    let (hook_url, inbox) = receiver().await;
    let served = serve(&[
        "--seed",
        seeds.to_str().unwrap(),
        "--webhook-url",
        &hook_url,
        "--webhook-secret",
        SECRET,
        "--webhook-attempts",
        "3",
        "--webhook-backoff-ms",
        "10",
    ]);

    // The second line is the dashboard's address, the key in its fragment.
    let fragment = served
        .dashboard
        .strip_prefix(&format!("{}/_dashboard/#key=", served.base))
        .unwrap_or_else(|| panic!("the dashboard's address: {:?}", served.dashboard));
    let key: String = url::form_urlencoded::parse(format!("key={fragment}").as_bytes())
        .find(|(name, _)| name == "key")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    assert_eq!(key, KEY);

    let driver = chromedriver();
    let profile = TempDir::new("profile");
    let client = browser(&driver, &profile.0).await;
    client.goto(&served.dashboard).await.unwrap();

    // In without typing the key; the key has left the address bar.
    wait_for(&client, &row("qs_seed_ada")).await;
    let address = client.current_url().await.unwrap();
    assert_eq!(address.fragment(), None, "{address}");
    assert!(!address.as_str().contains("key"), "{address}");
    let stored = client.execute("return Object.values(sessionStorage);", vec![]).await.unwrap();
    assert_eq!(stored, json!([KEY]));

    // The sessions are a table with a header row, one row per session.
    for header in ["ID", "Status", "User ID", "Email", "Created", "Expires"] {
        wait_for(&client, &format!("//table//thead/tr/th[normalize-space()={}]", literal(header)))
            .await;
    }
    for id in ["qs_seed_ada", "qs_seed_bob", "qs_seed_cy"] {
        let text = wait_for(&client, &row(id)).await.text().await.unwrap();
        assert!(text.contains("Approve") && text.contains("Reject"), "{text}");
    }

    // Filtered by status, then searched as the API searches (case-insensitive, by email,
    // name or business id).
    choose(&client, "Status", "rejected").await;
    wait_gone(&client, &row("qs_seed_ada")).await;
    wait_for(&client, &row("qs_seed_cy")).await;
    choose(&client, "Status", "").await;
    fill(&client, "Search", "LOVELACE").await;
    wait_gone(&client, &row("qs_seed_bob")).await;
    wait_for(&client, &row("qs_seed_ada")).await;
    fill(&client, "Search", "").await;
    wait_for(&client, &row("qs_seed_bob")).await;

    // A session whose fields carry HTML and script: shown as text, never run.
    let id = r#"qs_<i>x</i>"'&/"#;
    let email = r#"<img src=x onerror="window.__injected='email'">"#;
    let name = "<script>window.__injected='name'</script>";
    let user_id = r#""><svg onload="window.__injected='user'">"#;
    let metadata = r#"{"note": "<iframe src=javascript:window.__injected='meta'>"}"#;
    wait_for(&client, "//summary[normalize-space()='Create a session']")
        .await
        .click()
        .await
        .unwrap();
    fill(&client, "Session ID", id).await;
    fill(&client, "Email", email).await;
    fill(&client, "User name", name).await;
    fill(&client, "User ID", user_id).await;
    fill(&client, "Metadata", metadata).await;
    click_in(&client, "//form", "Create session").await;
    let created = wait_for(&client, &row(id)).await;
    let text = created.text().await.unwrap();
    assert!(text.contains(email), "{text}");
    assert!(text.contains(user_id), "{text}");

    // Approve: the receiver gets the signed delivery, and the page shows the attempt with
    // the receiver's status and the start of its answer.
    let approved_at = Instant::now();
    click_in(&client, &row(id), "Approve").await;
    let received = loop {
        let found = inbox
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.body["data"]["qualification_session_id"] == id)
            .cloned();
        if let Some(found) = found {
            break found;
        }
        assert!(approved_at.elapsed() < WAIT, "no delivery reached the receiver");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(received.signature_ok, "{received:?}");
    assert_eq!(received.body["data"]["status"], "approved");
    assert_eq!(received.body["data"]["email"], email);
    let delivery = format!(
        "//article[.//*[contains(normalize-space(), {})]]",
        literal(&format!("Session {id} became approved"))
    );
    wait_for(&client, &format!("{delivery}//td[normalize-space()='HTTP 202 Accepted']")).await;
    eprintln!("the approval's attempt showed {:?} after the click", approved_at.elapsed());
    let answer = wait_for(&client, &format!("{delivery}//pre")).await;
    assert_eq!(answer.text().await.unwrap(), RECEIVER_ANSWER);
    wait_for(&client, &format!("{delivery}//*[normalize-space()='delivered']")).await;
    wait_for(&client, &format!("{}//*[normalize-space()='approved']", row(id))).await;

    // An update through the API shows in the ledger, and in the counters.
    let update =
        api(&served, reqwest::Method::POST, "/api/v1/qualification_session/qs_seed_bob/update")
            .json(&json!({"idempotency_key": "dash-key-1", "user_id": "user_<b>bob</b>"}))
            .send()
            .await
            .unwrap();
    assert_eq!(update.status(), 200);
    let ledger = section("Ledger");
    let entry =
        wait_for(&client, &format!("{ledger}//tr[td[normalize-space()='dash-key-1']]")).await;
    let text = entry.text().await.unwrap();
    assert!(text.contains("qs_seed_bob"), "{text}");
    assert!(text.contains("user_id = user_<b>bob</b>"), "{text}");
    let counter = |name: &str, value: &str| {
        format!(
            "{}//dt[normalize-space()={}]/following-sibling::dd[1][normalize-space()={}]",
            section("Traffic"),
            literal(name),
            literal(value)
        )
    };
    wait_for(&client, &counter("updates applied", "1")).await;
    wait_for(&client, &counter("webhooks delivered", "1")).await;

    // The session's detail: its metadata, URLs and applied keys; and any status.
    click_in(&client, &row("qs_seed_bob"), "Details").await;
    let detail = "//section[.//h3[normalize-space()='Session qs_seed_bob']]";
    wait_for(&client, &format!("{detail}//li[normalize-space()='dash-key-1']")).await;
    fill(&client, "Set status", "processing").await;
    click_in(&client, detail, "Set status").await;
    wait_for(&client, &format!("{}//*[normalize-space()='processing']", row("qs_seed_bob"))).await;
    click_in(&client, &row(id), "Details").await;
    wait_for(&client, &format!("//section//pre[normalize-space()={}]", literal(metadata))).await;

    // A fault queued from the page meets the next API request.
    let faults = section("Faults");
    choose(&client, "Kind", "status").await;
    fill(&client, "HTTP status", "503").await;
    fill(&client, "Retry-After (ms)", "2000").await;
    fill(&client, "Times", "1").await;
    click_in(&client, &faults, "Queue fault").await;
    wait_for(
        &client,
        &format!(
            "{faults}//td[normalize-space()='HTTP 503 Service Unavailable, Retry-After 2000 ms']"
        ),
    )
    .await;
    let met = try_get(&served, "/api/v1/qualification_session/qs_seed_ada").await.unwrap();
    assert_eq!(met.status(), 503);
    assert_eq!(met.headers()["retry-after"], "2");
    let next = try_get(&served, "/api/v1/qualification_session/qs_seed_ada").await.unwrap();
    assert_eq!(next.status(), 200);
    wait_visible(&client, &format!("{faults}//*[normalize-space()='No fault queued.']")).await;
    wait_for(&client, &counter("status faults", "1")).await;

    // Latency and chaos, set from the page, are what the control API reports and what the
    // API does.
    fill(&client, "Latency (ms)", "5").await;
    click_in(&client, &faults, "Set latency").await;
    wait_for(&client, &format!("{faults}//strong[normalize-space()='5 ms']")).await;
    let latency: Value = get_json(&served, "/_fake/latency").await;
    assert_eq!(latency, json!({"latency_ms": 5}));
    fill(&client, "Probability (0 to 1)", "1").await;
    click_in(&client, &faults, "Start chaos").await;
    wait_for(&client, "//p[@role='status'][starts-with(normalize-space(), 'Chaos on')]").await;
    let chaotic = try_get(&served, "/api/v1/qualification_session/qs_seed_ada").await;
    if let Ok(answer) = chaotic {
        assert_ne!(answer.status(), 200, "chaos at probability 1 lets no request through");
    }
    click_in(&client, &faults, "Stop chaos").await;
    wait_for(&client, "//p[@role='status'][starts-with(normalize-space(), 'Chaos off')]").await;
    let calm = try_get(&served, "/api/v1/qualification_session/qs_seed_ada").await.unwrap();
    assert_eq!(calm.status(), 200);

    if let Some(path) = std::env::var_os("TRUEMED_DASHBOARD_SCREENSHOT") {
        // The whole page: a window as tall as it.
        let height = client
            .execute("return document.documentElement.scrollHeight;", vec![])
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(1200);
        client
            .set_window_size(1440, u32::try_from(height).unwrap_or(1200).min(4000))
            .await
            .unwrap();
        client.execute("window.scrollTo(0, 0);", vec![]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let png = client.screenshot().await.unwrap();
        std::fs::write(&path, png).unwrap();
    }

    // Reset: back to the seeds, no deliveries.
    click_in(&client, &faults, "Reset the fake").await;
    wait_gone(&client, &row(id)).await;
    wait_visible(
        &client,
        "//p[normalize-space()='No delivery yet: approve or reject a session while an endpoint is set.']",
    )
    .await;
    wait_for(&client, &counter("updates applied", "0")).await;

    // Nothing injected ran, and the console stayed clean (no error, no warning: no 404, no
    // policy violation, no script error).
    let ran = client
        .execute(
            "return [window.__injected === undefined ? null : window.__injected, \
             window.__receiverInjected === undefined ? null : window.__receiverInjected];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(ran, json!([null, null]));
    let problems = console_problems(&client).await;
    assert!(problems.is_empty(), "console: {problems:#?}");
    client.close().await.unwrap();

    // The key is in no line the server wrote.
    let log = served.stderr.lock().unwrap().clone();
    assert!(!log.contains(KEY), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_key_in_its_address_the_dashboard_asks_for_it() {
    let _one_browser = BROWSER.lock().await;
    let dir = TempDir::new("key");
    let seeds = seed_file(&dir.0);
    let served = serve(&["--seed", seeds.to_str().unwrap()]);
    let driver = chromedriver();
    let profile = TempDir::new("key-profile");
    let client = browser(&driver, &profile.0).await;
    client.goto(&format!("{}/_dashboard/", served.base)).await.unwrap();

    fill(&client, "API key", "not-the-key").await;
    click_in(&client, "//form", "Use this key").await;
    wait_for(&client, "//p[starts-with(normalize-space(), 'The key was refused')]").await;
    fill(&client, "API key", KEY).await;
    click_in(&client, "//form", "Use this key").await;
    wait_for(&client, &row("qs_seed_bob")).await;
    assert!(!control(&client, "API key").await.is_displayed().await.unwrap());

    // The console log is read (the refused key's 401s are in it), and they are its only
    // errors.
    let problems = console_problems(&client).await;
    assert!(!problems.is_empty(), "the 401s are logged");
    assert!(problems.iter().all(|p| p.contains("401")), "console: {problems:#?}");
    client.close().await.unwrap();
}

#[tokio::test]
async fn the_dashboard_is_served_under_a_strict_policy_and_is_not_api_traffic() {
    let served = serve(&["--empty"]);
    // A fault waiting for the next API request: the dashboard's files are not one.
    let queued = api(&served, reqwest::Method::POST, "/_fake/faults")
        .json(&json!({"kind": "drop_connection"}))
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 201);
    let http = reqwest::Client::new();
    for (path, content_type) in [
        ("/_dashboard/", "text/html; charset=utf-8"),
        ("/_dashboard/app.js", "text/javascript; charset=utf-8"),
        ("/_dashboard/style.css", "text/css; charset=utf-8"),
        ("/_dashboard/favicon.svg", "image/svg+xml"),
    ] {
        // No key: the files hold no data.
        let answer = http.get(format!("{}{path}", served.base)).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        let headers = answer.headers();
        assert_eq!(headers["content-type"], content_type, "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        let policy = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ] {
            assert!(policy.contains(directive), "{policy}");
        }
        assert!(!policy.contains("unsafe"), "{policy}");
    }
    // The page loads nothing from elsewhere.
    let page = http
        .get(format!("{}/_dashboard/", served.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for reference in [r#"src="http"#, r#"href="http"#, r#"src="//"#, r#"href="//"#] {
        assert!(!page.contains(reference), "{reference}");
    }
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/_dashboard", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/_dashboard/");

    // Not counted, and the fault still waits for the API.
    let stats: Value = get_json(&served, "/_fake/stats").await;
    assert_eq!(stats["requests"], 0, "{stats}");
    assert_eq!(stats["pending_faults"], 1, "{stats}");
}

#[tokio::test]
async fn the_control_api_lists_the_sessions_the_api_lists_for_the_same_filters() {
    let dir = TempDir::new("filters");
    let seeds = seed_file(&dir.0);
    let served = serve(&["--seed", seeds.to_str().unwrap()]);
    for query in [
        "",
        "status=approved",
        "status=approved,rejected",
        "status=processing",
        "search=LOVELACE",
        "search=%20example.com%20",
        "user_id=user_ada",
        "expires_at=2025-01-02",
        "status=pending&search=bob",
        "status=on_hold",
    ] {
        let ids = |body: &Value, list: &str| -> Vec<String> {
            body[list]
                .as_array()
                .unwrap_or_else(|| panic!("{query}: {body}"))
                .iter()
                .map(|s| s["qualification_session_id"].as_str().unwrap().to_owned())
                .collect()
        };
        let api_page: Value =
            get_json(&served, &format!("/api/v1/qualification_sessions?page_size=100&{query}"))
                .await;
        let control: Value = get_json(&served, &format!("/_fake/sessions?{query}")).await;
        assert_eq!(ids(&control, "sessions"), ids(&api_page, "qualification_sessions"), "{query}");
    }
    assert_eq!(
        get_json(&served, "/_fake/sessions?status=approved").await["sessions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A malformed filter is refused as the API refuses it.
    for query in ["status=Approved", "expires_at=tomorrow"] {
        let refused = try_get(&served, &format!("/_fake/sessions?{query}")).await.unwrap();
        assert_eq!(refused.status(), 400, "{query}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"], "ValidationError", "{query}");
    }
}

/// The screenshot of `truemed-fake/docs/dashboard.png`: the demo sessions, a receiver that
/// refuses each delivery's first attempt, a few decisions and updates. Run it with
/// `TRUEMED_DASHBOARD_SCREENSHOT=truemed-fake/docs/dashboard.png cargo test -p
/// truemed-fake --test dashboard -- --ignored --exact readme_screenshot`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "makes the README's screenshot; needs TRUEMED_DASHBOARD_SCREENSHOT"]
async fn readme_screenshot() {
    let path = std::env::var_os("TRUEMED_DASHBOARD_SCREENSHOT")
        .expect("TRUEMED_DASHBOARD_SCREENSHOT=path.png");
    let _one_browser = BROWSER.lock().await;
    let (hook_url, _inbox) = receiver_with(true).await;
    let served = serve(&[
        "--webhook-url",
        &hook_url,
        "--webhook-secret",
        SECRET,
        "--webhook-backoff-ms",
        "100",
    ]);
    let sessions: Value = get_json(&served, "/_fake/sessions?status=pending").await;
    let pending: Vec<String> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["qualification_session_id"].as_str().unwrap().to_owned())
        .collect();
    // The newest first, as the page lists them.
    for (n, id) in pending.iter().rev().take(3).enumerate() {
        let update = api(
            &served,
            reqwest::Method::POST,
            &format!("/api/v1/qualification_session/{id}/update"),
        )
        .json(&json!({
            "idempotency_key": format!("order-{}-attach", 1041 + n),
            "user_id": format!("user_{}", 42 + n),
            "metadata": format!("{{\"order_id\": {}}}", 1041 + n),
        }))
        .send()
        .await
        .unwrap();
        assert_eq!(update.status(), 200);
    }
    let newest = &pending[pending.len() - 1];
    for (id, verb) in [(newest, "approve"), (&pending[pending.len() - 2], "reject")] {
        let decided = api(&served, reqwest::Method::POST, &format!("/_fake/sessions/{id}/{verb}"))
            .send()
            .await
            .unwrap();
        assert_eq!(decided.status(), 200);
    }
    let queued = api(&served, reqwest::Method::POST, "/_fake/faults")
        .json(&json!({"kind": "status", "status": 503, "retry_after_ms": 1000, "times": 2,
                      "operation": "update_qualification_session"}))
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 201);
    let flushed =
        api(&served, reqwest::Method::POST, "/_fake/webhooks/flush").send().await.unwrap();
    assert_eq!(flushed.status(), 200);

    let driver = chromedriver();
    let profile = TempDir::new("screenshot");
    let client = browser(&driver, &profile.0).await;
    client.set_window_size(1440, 2500).await.unwrap();
    client.goto(&served.dashboard).await.unwrap();
    wait_for(&client, &row(newest)).await;
    // The detail works; the picture is of the lists.
    click_in(&client, &row(newest), "Details").await;
    wait_for(&client, "//li[normalize-space()='order-1041-attach']").await;
    click_in(&client, "//section", "Close details").await;
    wait_for(&client, "//td[normalize-space()='HTTP 202 Accepted']").await;
    client
        .execute(
            "window.scrollTo(0, 0); document.querySelector('#sessions .table-wrap').scrollTop = 0;",
            vec![],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    std::fs::write(&path, client.screenshot().await.unwrap()).unwrap();
    let problems = console_problems(&client).await;
    assert!(problems.is_empty(), "console: {problems:#?}");
    client.close().await.unwrap();
}
