//! A read-through cache of links in Memcached: several nodes, each key on
//! the node rendezvous hashing picks for it. A cache failure is logged and
//! the database answers instead: the cache makes reads cheaper, never
//! breaks them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fibra::memcache::Client;

use crate::store::{Link, Store, StoreError};

/// Whether a read came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Memcached had it.
    Hit,
    /// Read from PostgreSQL (and stored in Memcached).
    Miss,
}

impl Source {
    /// `hit` or `miss`, for the `X-Cache` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Hit => "hit",
            Source::Miss => "miss",
        }
    }
}

/// Links cached in front of a [`Store`].
pub struct Cache {
    mc: Client,
    namespace: String,
    ttl: u32,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Cache {
    /// A cache over the Memcached nodes `servers`.
    ///
    /// # Errors
    /// An empty or malformed server list.
    pub fn new(servers: &[String], namespace: &str, ttl: u32) -> Result<Cache, String> {
        let mc = Client::builder()
            .servers(servers.iter().cloned())
            .timeout(Some(Duration::from_millis(500)))
            .connect_timeout(Some(Duration::from_millis(500)))
            .build()
            .map_err(|e| format!("memcached: {e}"))?;
        Ok(Cache {
            mc,
            namespace: namespace.to_owned(),
            ttl,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    fn key(&self, code: &str) -> String {
        format!("{}:link:{code}", self.namespace)
    }

    /// The node that holds `code`'s entry.
    pub fn node_for(&self, code: &str) -> Option<String> {
        self.mc.server_for(self.key(code)).ok().map(str::to_owned)
    }

    /// The link with `code`: from Memcached, else from `store` (then cached).
    ///
    /// # Errors
    /// The store's (a cache failure only logs).
    pub fn get(&self, store: &Store, code: &str) -> Result<Option<(Link, Source)>, StoreError> {
        let key = self.key(code);
        match self.mc.get(&key) {
            Ok(Some(item)) => match serde_json::from_slice(&item.value) {
                Ok(link) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(Some((link, Source::Hit)));
                }
                Err(e) => tracing::warn!(%key, error = %e, "undecodable cache entry"),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(%key, error = %e, "memcached get failed"),
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let Some(link) = store.get(code)? else {
            return Ok(None);
        };
        self.put(&link);
        Ok(Some((link, Source::Miss)))
    }

    /// Stores `link` (failures only log).
    pub fn put(&self, link: &Link) {
        let key = self.key(&link.code);
        let value = serde_json::to_vec(link).unwrap_or_default();
        if let Err(e) = self.mc.set(&key, value, 0, self.ttl) {
            tracing::warn!(%key, error = %e, "memcached set failed");
        }
    }

    /// Drops `code`'s entry after a write (failures only log).
    pub fn invalidate(&self, code: &str) {
        let key = self.key(code);
        match self.mc.delete(&key) {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => tracing::warn!(%key, error = %e, "memcached delete failed"),
        }
    }

    /// Reads served from the cache, and those that went to the database.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// The Memcached nodes.
    pub fn servers(&self) -> &[String] {
        self.mc.servers()
    }
}
