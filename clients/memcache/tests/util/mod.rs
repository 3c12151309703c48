//! Shared helpers: the memcached nodes started by `scripts/services start`.
#![allow(dead_code)] // each test file uses a different part

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use fibra_memcache::Client;

/// The nodes' `host:port` names, from `FIBRA_MEMCACHED_URL`
/// (`memcache://host:port,…`; run `scripts/services start` and
/// `source target/services/env` first).
#[track_caller]
pub fn addrs() -> Vec<String> {
    let v = std::env::var("FIBRA_MEMCACHED_URL").expect(
        "FIBRA_MEMCACHED_URL is not set: run `scripts/services start` and \
         `source target/services/env` first",
    );
    v.split(',')
        .map(|u| u.strip_prefix("memcache://").unwrap_or(u).to_string())
        .collect()
}

/// A client of every node.
#[track_caller]
pub fn client() -> Client {
    Client::new(addrs()).expect("client")
}

/// A key no other test (or earlier run) uses.
pub fn key(name: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("t:{name}:{t}:{}", N.fetch_add(1, Ordering::Relaxed))
}

/// See [`fibra_testkit::missing_peer`]: fails under CI, skips elsewhere.
#[allow(
    unused_imports,
    reason = "a shared test module: not every test file asks for a peer"
)]
pub use fibra_testkit::missing_peer;
