//! Every deadline holds behind a DNS resolver that never answers.
//!
//! The test re-runs itself in a private mount namespace (`unshare
//! --mount`) where `/etc/resolv.conf` names a loopback "name server" that
//! this process holds open and never answers, so `getaddrinfo` for any
//! name outside /etc/hosts stalls for the resolver's own timeout (set to
//! 3 s here). Then every client's connect timeout, the HTTP client's
//! overall and connect timeouts, and a `with_timeout` scope around a plain
//! lookup and a plain connect must each give up at their own limit: the
//! caller returns, and the lookup finishes on the blocking pool.
//!
//! The outer run needs `unshare` and `mount` (util-linux) and the right to
//! make a mount namespace (root, or unprivileged user namespaces).

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Set in the inner run, to the address of the silent name server.
const INNER: &str = "FIBRA_STALLED_RESOLVER";
/// The loopback address the silent name server listens on (port 53).
const NAMESERVER: &str = "127.53.53.53";
/// How long the stalled resolver itself takes to give up.
const RESOLVER_TIMEOUT: Duration = Duration::from_secs(3);
/// A name that is in no hosts file, so it goes to the name server.
const HOST: &str = "stalled.fibra.test";
/// Scheduling slack allowed past a limit on a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(250);

#[test]
fn every_deadline_holds_behind_a_stalled_resolver() {
    if std::env::var_os(INNER).is_some() {
        fibra_testkit::watchdog("inner", Duration::from_secs(40), || fibra::run(inner));
        return;
    }
    // Our name server: it reads queries and never answers. Bound before
    // the inner run starts, so no query finds the port closed (which
    // would fail fast instead of stalling).
    let ns = match UdpSocket::bind((NAMESERVER, 53)) {
        Ok(s) => s,
        Err(e) => {
            fibra_testkit::missing_peer(&format!("a UDP socket on {NAMESERVER}:53 ({e})"));
            return;
        }
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stalled-resolver");
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("resolv.conf");
    let secs = RESOLVER_TIMEOUT.as_secs();
    std::fs::write(
        &conf,
        format!("nameserver {NAMESERVER}\noptions timeout:{secs} attempts:1\n"),
    )
    .unwrap();
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "mount --bind '{}' /etc/resolv.conf && exec \"$0\" \"$@\"",
        conf.display()
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--map-root-user", "sh", "-c", &script])
        .arg(&exe)
        .args([
            "--exact",
            "every_deadline_holds_behind_a_stalled_resolver",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, NAMESERVER);
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            fibra_testkit::missing_peer(&format!("unshare (util-linux): {e}"));
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    if stderr.contains("unshare failed") || stderr.contains("mount:") {
        fibra_testkit::missing_peer("a private mount namespace (unshare --mount)");
        return;
    }
    assert!(out.status.success(), "the inner run failed");
    // The inner run must really have run its checks (libtest says "1 passed").
    assert!(
        stdout.contains("resolver stalls: yes"),
        "the inner run did not report"
    );
    drop(ns);
}

/// Runs `f`, which must fail, and checks it gave up at `limit`.
#[track_caller]
fn gives_up_at<T, E: std::fmt::Display>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> Result<T, E>,
) {
    let start = Instant::now();
    let r = f();
    let took = start.elapsed();
    let e = match r {
        Ok(_) => panic!("{what}: succeeded behind a stalled resolver"),
        Err(e) => e,
    };
    println!("{what}: gave up after {took:?} (limit {limit:?}): {e}");
    fibra_testkit::assert_kept_limit(took, limit, SLACK);
}

fn inner() {
    // The premise: a lookup on a plain thread really stalls.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::net::ToSocketAddrs::to_socket_addrs(&(HOST, 80)).map(|a| a.count());
        let _ = tx.send(r.map_err(|e| e.to_string()));
    });
    match rx.recv_timeout(Duration::from_millis(1500)) {
        Err(_) => println!("resolver stalls: yes"),
        Ok(r) => panic!("the resolver answered at once ({r:?}); the test would prove nothing"),
    }

    // cancel() 50 ms into a lookup ends it within 100 ms.
    let h = fibra::spawn(|| {
        let r = fibra::net::lookup_host((HOST, 80));
        (r.map(|_| ()), Instant::now())
    });
    fibra::sleep(Duration::from_millis(50));
    assert!(!h.is_finished(), "the lookup returned before the cancel");
    let canceled_at = Instant::now();
    h.cancel();
    let (r, ended) = h.join().unwrap();
    let took = ended.saturating_duration_since(canceled_at);
    println!("cancel() of lookup_host: stopped {took:?} after the cancel");
    assert!(
        r.is_err_and(|e| fibra::is_canceled(&e)),
        "not a canceled error"
    );
    assert!(
        took < Duration::from_millis(100),
        "stopped {took:?} after cancel()"
    );

    let limit = Duration::from_millis(300);
    gives_up_at("with_timeout around lookup_host", limit, || {
        fibra::with_timeout(limit, || fibra::net::lookup_host((HOST, 80)))
    });
    gives_up_at("with_timeout around TcpStream::connect", limit, || {
        fibra::with_timeout(limit, || fibra::net::TcpStream::connect((HOST, 80)))
    });
    gives_up_at("Dialer::timeout", limit, || {
        fibra::net::Dialer::new().timeout(limit).dial((HOST, 80))
    });

    let limit = Duration::from_millis(600);
    let url = format!("http://{HOST}/");
    let http = fibra::http::Client::builder()
        .connect_timeout(limit)
        .build()
        .unwrap();
    gives_up_at("HTTP client connect_timeout", limit, || {
        http.get(&url).send()
    });
    let http = fibra::http::Client::builder()
        .timeout(limit)
        .build()
        .unwrap();
    gives_up_at("HTTP client timeout", limit, || http.get(&url).send());

    let info = fibra::redis::ConnectionInfo::new(HOST, 6379).with_connect_timeout(Some(limit));
    gives_up_at("Redis connect_timeout", limit, || {
        fibra::redis::Connection::connect_with(&info)
    });
    let pool = fibra::redis::Pool::builder()
        .max_size(1)
        .checkout_timeout(Some(limit))
        .build(fibra::redis::Manager::new(
            fibra::redis::ConnectionInfo::new(HOST, 6379),
        ));
    gives_up_at("Redis pool checkout_timeout", limit, || pool.get());

    let pg = fibra::postgres::Config::new()
        .host(HOST)
        .user("app")
        .ssl_mode(fibra::postgres::SslMode::Disable)
        .connect_timeout(Some(limit));
    gives_up_at("PostgreSQL connect_timeout", limit, || {
        fibra::postgres::Client::connect_with(&pg)
    });

    gives_up_at("NATS connect_timeout", limit, || {
        fibra::nats::ConnectOptions::new()
            .connect_timeout(limit)
            .connect(&format!("nats://{HOST}:4222"))
    });

    let mc = fibra::memcache::Client::builder()
        .server(format!("{HOST}:11211"))
        .connect_timeout(Some(limit))
        .build()
        .unwrap();
    gives_up_at("memcached connect_timeout", limit, || mc.get("k"));
}
