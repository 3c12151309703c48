//! Shared helpers of the integration tests: the servers started by
//! `scripts/services start` (URLs from `target/services/env`, with the
//! script's ports as defaults) and private nats-server processes for tests
//! that kill servers.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fibra_nats::{Client, ConnectOptions};

pub mod jwt;

pub fn env(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

pub fn url() -> String {
    env("FIBRA_NATS_URL", "nats://127.0.0.1:14222")
}

pub fn cluster_urls() -> String {
    env(
        "FIBRA_NATS_CLUSTER_URLS",
        "nats://127.0.0.1:14231,nats://127.0.0.1:14232,nats://127.0.0.1:14233",
    )
}

pub fn js_url() -> String {
    env("FIBRA_NATS_JS_URL", "nats://127.0.0.1:14250")
}

#[track_caller]
pub fn connect() -> Client {
    connect_to(&url(), ConnectOptions::new())
}

#[track_caller]
pub fn connect_to(url: &str, opts: ConnectOptions) -> Client {
    match opts.connect(url) {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot reach nats-server at {url} ({e}); run scripts/services start and source target/services/env"
        ),
    }
}

/// A subject no other test (or run) uses.
pub fn subject(name: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "test.{name}.{}.{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A nats-server process of the test's own, killed on drop.
pub struct Server {
    pub port: u16,
    pub child: Child,
}

impl Server {
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Sends a signal by name (`STOP`, `CONT`, …).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nats-server on {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn spawn_server(args: &[String]) -> Server {
    spawn_server_on(free_port(), args)
}

pub fn spawn_server_on(port: u16, args: &[String]) -> Server {
    let child = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server not installed; run scripts/services start");
    wait_port(port);
    Server { port, child }
}

/// A private 3-node cluster (for tests that kill nodes).
pub fn spawn_cluster() -> Vec<Server> {
    let cports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let routes = cports
        .iter()
        .map(|p| format!("nats://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let name = format!("t{}", std::process::id());
    let nodes: Vec<Server> = cports
        .iter()
        .enumerate()
        .map(|(i, cp)| {
            spawn_server(&[
                "-n".into(),
                format!("{name}-{i}"),
                "--cluster_name".into(),
                name.clone(),
                "--cluster".into(),
                format!("nats://127.0.0.1:{cp}"),
                "--routes".into(),
                routes.clone(),
            ])
        })
        .collect();
    nodes
}
