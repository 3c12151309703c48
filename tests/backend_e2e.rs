//! End-to-end test of the flagship example (examples/backend): the service
//! runs in this process against the real PostgreSQL, Memcached, Redis and
//! NATS of `scripts/services start`, and is driven over loopback by
//! fibra's HTTP, WebSocket and SSE clients, then by headless Chromium
//! (Debian's `chromium`, installed when missing and we are root) loading
//! the page and showing a live event.
//!
//! The example's modules are compiled into this test as they are.
//! `FIBRA_E2E_SKIP_BROWSER=1` skips the Chromium part (outside CI only:
//! with `CI` set it fails the test, as a missing peer does).

#[path = "../examples/backend/api.rs"]
mod api;
#[path = "../examples/backend/app.rs"]
mod app;
#[path = "../examples/backend/cache.rs"]
mod cache;
#[path = "../examples/backend/config.rs"]
mod config;
#[path = "../examples/backend/events.rs"]
mod events;
#[path = "../examples/backend/live.rs"]
mod live;
#[path = "../examples/backend/ratelimit.rs"]
mod ratelimit;
#[path = "../examples/backend/store.rs"]
mod store;
#[path = "../examples/backend/title.rs"]
mod title;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fibra::chan::{self, Receiver};
use fibra::http::sse::EventSource;
use fibra::http::ws::{self, Message};
use fibra::http::{Client, StatusCode};
use serde_json::{json, Value};

/// The whole test must finish within this, or the process is aborted.
const WATCHDOG: Duration = Duration::from_secs(240);
/// How long any one expected thing (an event, a title, a DOM change) may take.
const WAIT: Duration = Duration::from_secs(15);

fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// Aborts the test process if it runs past `limit` (a hung server or
/// browser must not hang CI).
fn watchdog(limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("backend_e2e: still running after {limit:?}; aborting");
        std::process::exit(101);
    });
}

/// One message seen on a live stream: (stream, JSON).
type Seen = (&'static str, Value);

/// The messages of the two live streams, each on its own channel.
struct Streams {
    sse: Receiver<Seen>,
    ws: Receiver<Seen>,
}

impl Streams {
    fn of(&self, stream: &str) -> &Receiver<Seen> {
        if stream == "sse" {
            &self.sse
        } else {
            &self.ws
        }
    }
}

/// Reads the SSE stream into `tx` until it ends.
fn follow_sse(url: String, tx: chan::Sender<Seen>) -> fibra::JoinHandle<()> {
    let mut es = EventSource::builder()
        .reconnect(false)
        .connect(&url)
        .expect("SSE connect");
    fibra::spawn(move || {
        while let Ok(Some(ev)) = es.next_event() {
            if let Ok(v) = serde_json::from_str(&ev.data) {
                let _ = tx.send(("sse", v));
            }
        }
        let _ = tx.send(("sse", json!({"type": "end"})));
    })
}

/// Reads the WebSocket into `tx` until it closes.
fn follow_ws(url: String, tx: chan::Sender<Seen>) -> fibra::JoinHandle<()> {
    let mut socket = ws::connect(&url).expect("WebSocket connect");
    fibra::spawn(move || loop {
        match socket.recv() {
            Ok(Message::Text(t)) => {
                if let Ok(v) = serde_json::from_str(&t) {
                    let _ = tx.send(("ws", v));
                }
            }
            Ok(Message::Binary(_)) => {}
            Ok(Message::Close(frame)) => {
                let code = frame.map_or(0, |f| f.code.0);
                let _ = tx.send(("ws", json!({"type": "end", "code": code})));
                return;
            }
            Err(_) => {
                let _ = tx.send(("ws", json!({"type": "end", "code": 0})));
                return;
            }
        }
    })
}

/// Waits for a message of `kind` about `code` on `stream`, skipping others.
#[track_caller]
fn expect_event(rx: &Streams, stream: &str, kind: &str, code: Option<&str>) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        match rx.of(stream).recv_deadline(deadline) {
            Ok((s, v)) => {
                assert_eq!(s, stream);
                if v["type"] == kind && code.is_none_or(|c| v["link"]["code"] == c) {
                    return v;
                }
            }
            Err(e) => panic!("no {kind} event for {code:?} on {stream}: {e:?}"),
        }
    }
}

fn header<'a>(resp: &'a fibra::http::client::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[track_caller]
fn json_body(resp: fibra::http::client::Response) -> Value {
    let bytes = resp.bytes().expect("body");
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

fn create(client: &Client, base: &str, body: &Value) -> fibra::http::client::Response {
    client
        .post(&format!("{base}/api/links"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).expect("JSON"))
        .send()
        .expect("POST /api/links")
}

#[test]
fn extract_title_reads_the_first_title() {
    use title::extract_title;
    assert_eq!(
        extract_title("<html><head><TITLE lang=en>\n  Fish &amp; Chips </title>"),
        Some("Fish & Chips".into())
    );
    assert_eq!(extract_title("<title></title>"), None);
    assert_eq!(extract_title("no title here"), None);
}

#[test]
fn backend_end_to_end() {
    let browser = std::env::var_os("FIBRA_E2E_SKIP_BROWSER").is_none();
    if browser {
        chromium(); // installs it when missing, before the clock starts
    }
    watchdog(WATCHDOG);
    let mut config = config::Config::from_env().expect("configuration");
    config.addr = "127.0.0.1:0".into();
    config.namespace = format!("e2e-{}", unique());
    config.rate_limit = 10;
    config.rate_window = Duration::from_secs(60);
    config.title_timeout = Duration::from_secs(3);
    config.grace = Duration::from_secs(3);
    let running = app::start(config).unwrap_or_else(|e| {
        panic!("starting the backend failed: {e} (are the servers up? `scripts/services start`)")
    });
    let addr = running.addr;
    let base = format!("http://{addr}");
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .max_redirects(0)
        .build()
        .expect("client");

    // Live streams first, so they see every event.
    let (sse_tx, sse_rx) = chan::unbounded::<Seen>();
    let (ws_tx, ws_rx) = chan::unbounded::<Seen>();
    let rx = Streams {
        sse: sse_rx,
        ws: ws_rx,
    };
    let sse = follow_sse(format!("{base}/api/events/sse"), sse_tx);
    let ws = follow_ws(format!("ws://{addr}/api/events/ws"), ws_tx);
    expect_event(&rx, "sse", "hello", None);
    expect_event(&rx, "ws", "hello", None);

    // The page, and the middleware's headers.
    let page = client.get(&format!("{base}/")).send().expect("GET /");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(!header(&page, "x-request-id").is_empty(), "request id");
    assert!(page
        .text()
        .expect("page")
        .contains("<title>fibra links</title>"));
    let preflight = client
        .request(fibra::http::Method::OPTIONS, &format!("{base}/api/links"))
        .header("origin", "http://elsewhere.example")
        .header("access-control-request-method", "POST")
        .send()
        .expect("CORS preflight");
    assert!(
        !header(&preflight, "access-control-allow-origin").is_empty(),
        "CORS preflight answered: {:?}",
        preflight.headers()
    );

    // Create a link to the service's own page: the title fetch has a
    // target that answers.
    let code = format!("a{}", unique());
    let resp = create(
        &client,
        &base,
        &json!({"url": format!("{base}/"), "code": code}),
    );
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created = json_body(resp);
    assert_eq!(created["code"], code.as_str());
    assert_eq!(created["short_url"], format!("{base}/{code}"));
    let dup = create(
        &client,
        &base,
        &json!({"url": format!("{base}/"), "code": code}),
    );
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    let bad = create(&client, &base, &json!({"url": "not a url"}));
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // Every write arrives on both live streams, through NATS.
    for stream in ["sse", "ws"] {
        let ev = expect_event(&rx, stream, "created", Some(&code));
        assert_eq!(ev["link"]["url"], format!("{base}/"));
    }
    // The outgoing HTTP call: the title is fetched in the background.
    for stream in ["sse", "ws"] {
        let ev = expect_event(&rx, stream, "titled", Some(&code));
        assert_eq!(ev["link"]["title"], "fibra links");
    }

    // Read-through cache: a miss fills it, the next read hits.
    let show = |c: &str| {
        client
            .get(&format!("{base}/api/links/{c}"))
            .send()
            .expect("GET link")
    };
    let first = show(&code);
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header(&first, "x-cache"), "miss");
    let node = header(&first, "x-cache-node").to_owned();
    assert!(node.starts_with("127.0.0.1:"), "cache node {node:?}");
    assert_eq!(json_body(first)["title"], "fibra links");
    let second = show(&code);
    assert_eq!(header(&second, "x-cache"), "hit");
    assert_eq!(header(&second, "x-cache-node"), node);
    assert_eq!(json_body(second)["code"], code.as_str());

    // The redirect (served from the cache), counted in the background.
    let hop = client
        .get(&format!("{base}/{code}"))
        .send()
        .expect("GET /code");
    assert_eq!(hop.status(), StatusCode::FOUND);
    assert_eq!(header(&hop, "location"), format!("{base}/"));
    assert_eq!(header(&hop, "x-cache"), "hit");
    let follow = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let landed = follow
        .get(&format!("{base}/{code}"))
        .send()
        .expect("follow");
    assert_eq!(landed.status(), StatusCode::OK);
    assert!(landed.text().expect("page").contains("fibra links"));
    let visited = expect_event(&rx, "ws", "visited", Some(&code));
    assert!(visited["link"]["hits"].as_i64().unwrap_or(0) >= 1);
    assert_eq!(
        client
            .get(&format!("{base}/no-such-code"))
            .send()
            .expect("GET")
            .status(),
        StatusCode::NOT_FOUND
    );

    // The list, from PostgreSQL.
    let list = json_body(
        client
            .get(&format!("{base}/api/links?limit=200"))
            .send()
            .expect("list"),
    );
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|x| x["code"] == code.as_str())),
        "{code} listed"
    );

    // Delete: the cache entry goes too.
    let gone = format!("d{}", unique());
    let resp = create(
        &client,
        &base,
        &json!({"url": "http://127.0.0.1:9/", "code": gone}),
    );
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(show(&gone).status(), StatusCode::OK); // cached now
    let del = client
        .delete(&format!("{base}/api/links/{gone}"))
        .send()
        .expect("DELETE");
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    assert_eq!(show(&gone).status(), StatusCode::NOT_FOUND);
    expect_event(&rx, "ws", "deleted", Some(&gone));
    expect_event(&rx, "sse", "deleted", Some(&gone));

    // A browser: the page shows a live event from both streams.
    if browser {
        browser_sees_live_event(&client, &base);
    } else {
        // Under CI a skipped browser is a failure, like any missing peer.
        fibra_testkit::missing_peer("Chromium (FIBRA_E2E_SKIP_BROWSER is set)");
    }

    // Rate limit on writes, per client IP, in Redis: DELETEs of a missing
    // code count too and cost nothing.
    let probe = |c: &Client| {
        c.delete(&format!("{base}/api/links/missing"))
            .send()
            .expect("DELETE")
    };
    let mut resp = probe(&client);
    let reset: u64 = header(&resp, "x-ratelimit-reset").parse().expect("reset");
    if reset < 5 {
        // Too close to the end of the window: start in the next one.
        std::thread::sleep(Duration::from_secs(reset + 1));
        resp = probe(&client);
    }
    assert_eq!(header(&resp, "x-ratelimit-limit"), "10");
    let remaining: u64 = header(&resp, "x-ratelimit-remaining")
        .parse()
        .expect("remaining");
    for _ in 0..remaining {
        assert_eq!(probe(&client).status(), StatusCode::NOT_FOUND);
    }
    let limited = probe(&client);
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&limited, "retry-after").parse::<u64>().is_ok());
    assert!(json_body(limited)["error"].is_string());
    let resp = create(&client, &base, &json!({"url": format!("{base}/")}));
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    // Reads are not limited.
    assert_eq!(show(&code).status(), StatusCode::OK);

    let stats = json_body(
        client
            .get(&format!("{base}/api/stats"))
            .send()
            .expect("stats"),
    );
    assert!(stats["cache"]["hits"].as_u64().unwrap_or(0) >= 2, "{stats}");
    assert!(
        stats["cache"]["misses"].as_u64().unwrap_or(0) >= 1,
        "{stats}"
    );
    assert!(stats["rate_limited"].as_u64().unwrap_or(0) >= 2, "{stats}");
    assert!(
        stats["events"]["published"].as_u64().unwrap_or(0) >= 5,
        "{stats}"
    );
    assert!(stats["live_clients"].as_u64().unwrap_or(0) >= 2, "{stats}");
    assert!(running.app().events.hub.len() >= 2);

    // Graceful shutdown with live clients connected: both streams end
    // (the WebSocket with 1001 going away), and it does not wait out the
    // grace period.
    let started = Instant::now();
    running.shutdown().expect("shutdown");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        started.elapsed()
    );
    let end = expect_event(&rx, "ws", "end", None);
    assert_eq!(end["code"], 1001);
    expect_event(&rx, "sse", "end", None);
    sse.join().expect("SSE reader");
    ws.join().expect("WebSocket reader");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening"
    );
}

/// Chromium, killed (with its helper processes) when dropped.
struct Browser {
    child: Child,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // It leads its own process group: end the renderers with it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `/usr/bin/chromium`, installed with apt-get when missing (as root).
fn chromium() -> PathBuf {
    let bin = PathBuf::from("/usr/bin/chromium");
    if !bin.exists() {
        eprintln!("backend_e2e: installing chromium (apt-get install -y chromium)");
        let ok = Command::new("apt-get")
            .args(["install", "-y", "-qq", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("apt-get").args(["update", "-qq"]).status();
            let _ = Command::new("apt-get")
                .args(["install", "-y", "-qq", "chromium"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .status();
        }
    }
    assert!(
        bin.exists(),
        "no /usr/bin/chromium and `apt-get install -y chromium` did not provide it \
         (set FIBRA_E2E_SKIP_BROWSER=1 to skip the browser part)"
    );
    bin
}

fn launch(url: &str) -> (Browser, String) {
    let profile = std::env::temp_dir().join(format!("fibra-e2e-chromium-{}", unique()));
    std::fs::create_dir_all(&profile).expect("profile dir");
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--no-proxy-server",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().expect("starting chromium");
    let browser = Browser { child, profile };
    // Chromium writes its DevTools port once it listens.
    let port_file = browser.profile.join("DevToolsActivePort");
    let deadline = Instant::now() + Duration::from_secs(30);
    let port = loop {
        if let Some(port) = read_port(&port_file) {
            break port;
        }
        assert!(Instant::now() < deadline, "chromium did not open DevTools");
        std::thread::sleep(Duration::from_millis(100));
    };
    (browser, port)
}

fn read_port(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let port = text.lines().next()?.trim();
    (!port.is_empty()).then(|| port.to_owned())
}

/// A DevTools protocol session with one page.
struct DevTools {
    socket: ws::WebSocket,
    next_id: u64,
}

impl DevTools {
    fn open(client: &Client, port: &str, page_url: &str) -> DevTools {
        let deadline = Instant::now() + Duration::from_secs(20);
        let ws_url = loop {
            let targets = client
                .get(&format!("http://127.0.0.1:{port}/json/list"))
                .send()
                .ok()
                .and_then(|r| r.bytes().ok())
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            let found = targets.as_ref().and_then(Value::as_array).and_then(|ts| {
                ts.iter().find(|t| {
                    t["type"] == "page"
                        && t["url"].as_str().is_some_and(|u| u.starts_with(page_url))
                })
            });
            if let Some(url) = found.and_then(|t| t["webSocketDebuggerUrl"].as_str()) {
                break url.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no DevTools page target: {targets:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let socket = ws::Connector::new()
            .timeout(Duration::from_secs(10))
            .connect(&ws_url)
            .expect("DevTools WebSocket");
        DevTools { socket, next_id: 0 }
    }

    /// Evaluates `expr` in the page; its value as a string.
    fn eval(&mut self, expr: &str) -> String {
        self.next_id += 1;
        let id = self.next_id;
        let call = json!({
            "id": id,
            "method": "Runtime.evaluate",
            "params": { "expression": expr, "returnByValue": true },
        });
        self.socket
            .send(Message::Text(call.to_string()))
            .expect("DevTools send");
        loop {
            match self.socket.recv().expect("DevTools recv") {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).expect("DevTools JSON");
                    if v["id"] == id {
                        let r = &v["result"]["result"]["value"];
                        return r.as_str().map_or_else(|| r.to_string(), str::to_owned);
                    }
                }
                Message::Close(_) => panic!("DevTools closed"),
                Message::Binary(_) => {}
            }
        }
    }

    /// Evaluates `expr` until `done` holds for its value.
    #[track_caller]
    fn wait_for(&mut self, expr: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.eval(expr);
            if done(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "page never showed {what}: last {v:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn browser_sees_live_event(client: &Client, base: &str) {
    let page_url = format!("{base}/");
    let (browser, port) = launch(&page_url);
    let mut dev = DevTools::open(client, &port, &page_url);
    dev.wait_for(
        "`${document.body.dataset.ws}/${document.body.dataset.sse}`",
        "both live streams open",
        |v| v == "open/open",
    );

    let code = format!("b{}", unique());
    let resp = create(client, base, &json!({"url": page_url, "code": code}));
    assert_eq!(resp.status(), StatusCode::CREATED);
    let events = dev.wait_for(
        "[...document.querySelectorAll('#events li')].map(li => li.textContent).join('\\n')",
        "the created event from WebSocket and SSE",
        |v| {
            v.contains(&format!("ws created {code} "))
                && v.contains(&format!("sse created {code} "))
        },
    );
    eprintln!("backend_e2e: the page shows:\n{events}");
    // The WebSocket events also update the table of links.
    dev.wait_for(
        &format!("document.getElementById('link-{code}') ? 'row' : 'none'"),
        "the new link's row",
        |v| v == "row",
    );
    let dom = dev.eval("document.documentElement.outerHTML");
    assert!(
        dom.contains(&format!("created {code} {page_url}")),
        "DOM: {dom}"
    );
    drop(browser);
}
