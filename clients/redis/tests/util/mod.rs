//! Shared helpers of the integration tests: the server's address, unique
//! keys, and private redis-server processes for tests that need their own
//! (a password, a server to kill).
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fibra_redis::{Connection, ConnectionInfo, Protocol};

/// The shared test server's URL (`FIBRA_REDIS_URL`, from
/// `scripts/services start`, then `source target/services/env`).
pub fn url() -> String {
    std::env::var("FIBRA_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:16379/".to_owned())
}

/// The shared test server's `host:port`.
pub fn addr() -> String {
    let url = url();
    let rest = url.strip_prefix("redis://").unwrap_or(&url);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

pub fn info(protocol: Protocol) -> ConnectionInfo {
    ConnectionInfo::from_url(&url())
        .unwrap()
        .with_protocol(protocol)
        .with_read_timeout(Some(Duration::from_secs(10)))
}

#[track_caller]
pub fn connect(protocol: Protocol) -> Connection {
    match Connection::connect_with(&info(protocol)) {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot reach redis at {} ({e}); run scripts/services start and source target/services/env",
            addr()
        ),
    }
}

/// A key no other test (or run) uses.
pub fn key(name: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "fibra-test:{}:{}:{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `f` on each protocol version.
pub fn both(mut f: impl FnMut(Protocol)) {
    for p in [Protocol::Resp3, Protocol::Resp2] {
        f(p);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A redis-server of the test's own, on loopback, killed on drop.
pub struct Server {
    pub port: u16,
    args: Vec<String>,
    child: Option<Child>,
    dir: std::path::PathBuf,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        Server::start_with(|_| extra.iter().map(|s| s.to_string()).collect())
    }

    /// Starts with the arguments `extra(port)` after the defaults (later
    /// arguments win, so `--port 0 --tls-port PORT` makes a TLS-only server).
    pub fn start_with(extra: impl FnOnce(u16) -> Vec<String>) -> Server {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("fibra-redis-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut args: Vec<String> = [
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            dir.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra(port));
        let mut s = Server {
            port,
            args,
            child: None,
            dir,
        };
        s.restart();
        s
    }

    /// Starts (again) with the same arguments and waits until it listens.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server) is needed");
        self.child = Some(child);
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILLs it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
