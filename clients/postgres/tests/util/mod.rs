//! Shared helpers of the integration tests: settings for the test server
//! started by `scripts/services start` (see scripts/services.d/postgres.sh)
//! and unique table names.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fibra_postgres::{Client, Config};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

pub fn host() -> String {
    env("FIBRA_POSTGRES_HOST", "127.0.0.1")
}

pub fn port() -> u16 {
    env("FIBRA_POSTGRES_PORT", "15432").parse().unwrap()
}

pub fn socket_dir() -> String {
    env(
        "FIBRA_POSTGRES_SOCKET_DIR",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/services/postgres/sock"
        ),
    )
}

pub fn dbname() -> String {
    env("FIBRA_POSTGRES_DATABASE", "fibra")
}

/// (user, password) for a method: "trust", "scram", "md5", "pass".
pub fn user(method: &str) -> (String, Option<String>) {
    let up = method.to_uppercase();
    let user = env(
        &format!("FIBRA_POSTGRES_{up}_USER"),
        &format!("{method}_user"),
    );
    let pass = std::env::var(format!("FIBRA_POSTGRES_{up}_PASSWORD"))
        .ok()
        .or_else(|| (method != "trust").then(|| format!("{method}_pass")));
    (user, pass)
}

pub fn config(method: &str) -> Config {
    let (user, pass) = user(method);
    let mut c = Config::new()
        .host(&host())
        .port(port())
        .user(&user)
        .dbname(&dbname())
        .connect_timeout(Some(Duration::from_secs(10)))
        .read_timeout(Some(Duration::from_secs(30)));
    if let Some(p) = pass {
        c = c.password(p);
    }
    c
}

#[track_caller]
pub fn connect() -> Client {
    connect_with(&config("trust"))
}

#[track_caller]
pub fn connect_with(config: &Config) -> Client {
    match Client::connect_with(config) {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot reach PostgreSQL ({e}); run scripts/services start and source target/services/env"
        ),
    }
}

/// A table name no other test (or run) uses.
pub fn table(name: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "t_{}_{}_{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
