//! The client: routing by rendezvous hashing, node health, per-node pools
//! and the commands.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fibra_runtime::pool::{Pool, PoolError, PooledConn};

use crate::conn::{Connection, Manager};
use crate::error::{Error, Kind};
use crate::hash;
use crate::proto::{self, Reply, StoreCommand};

/// One node's statistics by name, from [`Client::stats`].
pub type Stats = HashMap<String, String>;

/// An item read by `get`, `gets`, `gat` or `get_multi`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The stored bytes.
    pub value: Vec<u8>,
    /// The opaque flags stored with them.
    pub flags: u32,
    /// The CAS unique, for `gets`/`gats`/`gets_multi` (pass it to
    /// [`Client::cas`]).
    pub cas: Option<u64>,
}

/// Configures a [`Client`]; from [`Client::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    servers: Vec<String>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    keepalive: Option<Duration>,
    checkout_timeout: Option<Duration>,
    max_connections: usize,
    retry_attempts: u32,
    retry_timeout: Duration,
    dead_timeout: Duration,
}

impl Builder {
    /// Adds a node: `"host:port"`, `"[v6]:port"` or `"host"` (port
    /// 11211), optionally as a URL (`"memcache://host:port"`). Its hashing
    /// name is `"host:port"`, as in pymemcache.
    pub fn server(mut self, spec: impl Into<String>) -> Builder {
        self.servers.push(spec.into());
        self
    }

    /// Adds several nodes (see [`Builder::server`]).
    pub fn servers<S: Into<String>>(mut self, specs: impl IntoIterator<Item = S>) -> Builder {
        self.servers.extend(specs.into_iter().map(Into::into));
        self
    }

    /// How long opening a connection may take, DNS included (default 1 s;
    /// `None`: no limit beyond an enclosing `with_timeout`).
    pub fn connect_timeout(mut self, t: Option<Duration>) -> Builder {
        self.connect_timeout = t;
        self
    }

    /// Read and write timeout of each socket call (default 1 s).
    pub fn timeout(mut self, t: Option<Duration>) -> Builder {
        self.timeout = t;
        self
    }

    /// TCP keep-alive on each connection: `Some(period)` probes after
    /// `period` of silence, then every `period`; `None` turns it off
    /// (default 5 minutes).
    pub fn keepalive(mut self, period: Option<Duration>) -> Builder {
        self.keepalive = period;
        self
    }

    /// How long a call waits for a pooled connection to a node, opening
    /// one included (default 1 s).
    pub fn checkout_timeout(mut self, t: Option<Duration>) -> Builder {
        self.checkout_timeout = t;
        self
    }

    /// Most connections open to one node at once (default 16).
    pub fn max_connections(mut self, n: usize) -> Builder {
        self.max_connections = n.max(1);
        self
    }

    /// pymemcache's `retry_attempts` (default 2): after a network failure
    /// a node is *failing*; it is retried at most this many times, each
    /// after `retry_timeout`, and marked *dead* when those retries fail too
    /// (0: dead at the first failure).
    pub fn retry_attempts(mut self, n: u32) -> Builder {
        self.retry_attempts = n;
        self
    }

    /// pymemcache's `retry_timeout` (default 1 s): while a node is failing,
    /// calls to it fail at once with [`Error::is_unavailable`] until this
    /// much time has passed since its last failure.
    pub fn retry_timeout(mut self, t: Duration) -> Builder {
        self.retry_timeout = t;
        self
    }

    /// pymemcache's `dead_timeout` (default 60 s): a dead node is left out of
    /// the hashing (its keys go to their next node) for this long, then
    /// taken back.
    pub fn dead_timeout(mut self, t: Duration) -> Builder {
        self.dead_timeout = t;
        self
    }

    /// Creates the client. No connection is opened yet.
    ///
    /// # Errors
    /// [`Error::is_unavailable`] when no server was given;
    /// [`Error::is_io`] (`InvalidInput`) for a malformed server address.
    pub fn build(self) -> Result<Client, Error> {
        if self.servers.is_empty() {
            return Err(Error::new(Kind::Unavailable("no servers configured")));
        }
        let mut names = Vec::new();
        let mut servers = Vec::new();
        for spec in &self.servers {
            let (host, port) = hash::split_spec(spec).map_err(|m| {
                Error::from(std::io::Error::new(std::io::ErrorKind::InvalidInput, m))
            })?;
            let name = hash::node_name(&host, port);
            if names.contains(&name) {
                continue;
            }
            let manager = Manager {
                host,
                port,
                connect_timeout: self.connect_timeout,
                io_timeout: self.timeout.filter(|t| !t.is_zero()),
                keepalive: self.keepalive,
                generation: Default::default(),
            };
            let pool = Pool::builder()
                .max_size(self.max_connections)
                .checkout_timeout(self.checkout_timeout)
                .build(manager);
            names.push(name.clone());
            servers.push(Server { name, pool });
        }
        let health = vec![Health::Up; servers.len()];
        Ok(Client {
            inner: Arc::new(Inner {
                names,
                servers,
                health: Mutex::new(health),
                unhealthy: AtomicUsize::new(0),
                retry_attempts: self.retry_attempts,
                retry_timeout: self.retry_timeout,
                dead_timeout: self.dead_timeout,
            }),
        })
    }
}

/// A memcached client over one or more nodes; cheap to clone (clones share
/// the pools and the node health). See the crate docs for an example.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("servers", &self.inner.names)
            .finish_non_exhaustive()
    }
}

struct Server {
    name: String,
    pool: Pool<Manager>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    Up,
    /// Failed `attempts` times, the last at `since`.
    Failing {
        attempts: u32,
        since: Instant,
    },
    /// Out of the hashing since `since`.
    Dead {
        since: Instant,
    },
}

struct Inner {
    /// Node names, in the order given (the hashing input).
    names: Vec<String>,
    servers: Vec<Server>,
    health: Mutex<Vec<Health>>,
    /// How many nodes are not `Up`: when 0, routing skips the lock.
    unhealthy: AtomicUsize,
    retry_attempts: u32,
    retry_timeout: Duration,
    dead_timeout: Duration,
}

type Conn = PooledConn<Manager>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    fn set_health(&self, h: &mut [Health], i: usize, new: Health) {
        let was_up = h[i] == Health::Up;
        let is_up = new == Health::Up;
        h[i] = new;
        match (was_up, is_up) {
            (true, false) => {
                self.unhealthy.fetch_add(1, Ordering::AcqRel);
            }
            (false, true) => {
                self.unhealthy.fetch_sub(1, Ordering::AcqRel);
            }
            _ => {}
        }
    }

    /// The node for `key` among the live ones; dead nodes whose
    /// `dead_timeout` has passed come back first.
    fn route(&self, key: &[u8]) -> Result<usize, Error> {
        if self.unhealthy.load(Ordering::Acquire) == 0 {
            return hash::pick(&self.names, key, |_| false)
                .ok_or(Error::new(Kind::Unavailable("no servers configured")));
        }
        let mut h = lock(&self.health);
        self.revive(&mut h);
        hash::pick(&self.names, key, |i| matches!(h[i], Health::Dead { .. }))
            .ok_or(Error::new(Kind::Unavailable("every server is marked dead")))
    }

    fn revive(&self, h: &mut [Health]) {
        let now = Instant::now();
        for i in 0..h.len() {
            if let Health::Dead { since } = h[i] {
                if now.saturating_duration_since(since) >= self.dead_timeout {
                    self.set_health(h, i, Health::Up);
                }
            }
        }
    }

    /// Whether a call to node `i` may go ahead: not while it is failing
    /// and within its retry timeout.
    fn admit(&self, i: usize) -> Result<(), Error> {
        if self.unhealthy.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let h = lock(&self.health);
        match h[i] {
            Health::Failing { since, .. } if since.elapsed() < self.retry_timeout => Err(
                Error::new(Kind::Unavailable("failing, waiting for its retry timeout"))
                    .at(&self.names[i]),
            ),
            _ => Ok(()),
        }
    }

    fn succeeded(&self, i: usize) {
        if self.unhealthy.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut h = lock(&self.health);
        if matches!(h[i], Health::Failing { .. }) {
            self.set_health(&mut h, i, Health::Up);
        }
    }

    /// Records a network failure of node `i`, as pymemcache does: failing
    /// first, dead once `retry_attempts` retries failed too. Failures within
    /// one retry window (calls that were in flight together) count once.
    fn failed(&self, i: usize) {
        let manager = self.servers[i].pool.manager();
        manager.generation.fetch_add(1, Ordering::AcqRel);
        let now = Instant::now();
        let mut h = lock(&self.health);
        let next = match h[i] {
            Health::Up if self.retry_attempts == 0 => Health::Dead { since: now },
            Health::Up => Health::Failing {
                attempts: 1,
                since: now,
            },
            Health::Failing { since, .. }
                if now.saturating_duration_since(since) < self.retry_timeout =>
            {
                return
            }
            Health::Failing { attempts, .. } if attempts >= self.retry_attempts => {
                Health::Dead { since: now }
            }
            Health::Failing { attempts, .. } => Health::Failing {
                attempts: attempts + 1,
                since: now,
            },
            Health::Dead { .. } => return,
        };
        self.set_health(&mut h, i, next);
    }

    fn checkout(&self, i: usize) -> Result<Conn, Error> {
        self.admit(i)?;
        let server = &self.servers[i];
        loop {
            let conn = self.checkout_any(i)?;
            if !server.pool.manager().is_stale(&conn) {
                return Ok(conn);
            }
            conn.discard();
        }
    }

    fn checkout_any(&self, i: usize) -> Result<Conn, Error> {
        let server = &self.servers[i];
        server.pool.get().map_err(|e| {
            let e = match e {
                PoolError::Connect(e) => {
                    self.failed(i);
                    Error::from(e)
                }
                PoolError::TimedOut => Error::new(Kind::PoolTimeout),
                other => Error::from(std::io::Error::from(other)),
            };
            e.at(&server.name)
        })
    }

    /// After a call on a connection to node `i`: updates the node's health
    /// and lets a broken connection be closed by the pool.
    fn finish<T>(&self, i: usize, r: Result<T, Error>) -> Result<T, Error> {
        match r {
            Ok(v) => {
                self.succeeded(i);
                Ok(v)
            }
            Err(e) => {
                if e.is_unavailable() || e.is_timeout() && !e.is_io() || e.is_canceled() {
                    // Not attempted (or given up on waiting for a pooled
                    // connection): says nothing about the node.
                } else if e.is_io() {
                    self.failed(i);
                } else {
                    // The node answered (an error reply, a miss).
                    self.succeeded(i);
                }
                Err(e.at(&self.names[i]))
            }
        }
    }

    /// Runs one request/reply exchange with the node of `key`.
    fn with_key<T>(
        &self,
        key: &[u8],
        f: impl FnOnce(&mut Connection) -> Result<T, Error>,
    ) -> Result<T, Error> {
        proto::validate_key(key)?;
        let i = self.route(key)?;
        self.with_server(i, f)
    }

    fn with_server<T>(
        &self,
        i: usize,
        f: impl FnOnce(&mut Connection) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut conn = self.checkout(i)?;
        let r = f(&mut conn);
        self.finish(i, r)
    }
}

/// Reads `VALUE`s until `END` and hands each to `each`. Any error leaves
/// the connection broken: the rest of the reply may still be on its way.
fn read_values(conn: &mut Connection, mut each: impl FnMut(proto::Value<'_>)) -> Result<(), Error> {
    loop {
        match conn.reply() {
            Ok(Reply::Value(v)) => each(v),
            Ok(Reply::End) => return Ok(()),
            Ok(_) => return Err(conn.unexpected("expected VALUE or END")),
            Err(e) => {
                conn.broken = true;
                return Err(e);
            }
        }
    }
}

fn item(v: &proto::Value<'_>) -> Item {
    Item {
        value: v.data.to_vec(),
        flags: v.flags,
        cas: v.cas,
    }
}

fn expect_stored(conn: &mut Connection) -> Result<(), Error> {
    match conn.reply()? {
        Reply::Stored => Ok(()),
        Reply::NotStored => Err(Error::new(Kind::NotStored)),
        Reply::Exists => Err(Error::new(Kind::Exists)),
        Reply::NotFound => Err(Error::new(Kind::NotFound)),
        _ => Err(conn.unexpected("expected STORED, NOT_STORED, EXISTS or NOT_FOUND")),
    }
}

impl Client {
    /// A client of the given nodes with default settings (see [`Builder`]).
    ///
    /// # Errors
    /// As [`Builder::build`].
    pub fn new<S: Into<String>>(servers: impl IntoIterator<Item = S>) -> Result<Client, Error> {
        Client::builder().servers(servers).build()
    }

    /// A [`Builder`] with the defaults: 1 s connect, I/O and checkout
    /// timeouts (a cache miss is cheaper than a slow cache), TCP
    /// keep-alive every 5 minutes, 16 connections per node,
    /// `retry_attempts` 2, `retry_timeout` 1 s, `dead_timeout` 60 s
    /// (pymemcache's defaults).
    pub fn builder() -> Builder {
        Builder {
            servers: Vec::new(),
            connect_timeout: Some(Duration::from_secs(1)),
            timeout: Some(Duration::from_secs(1)),
            keepalive: Some(Duration::from_secs(300)),
            checkout_timeout: Some(Duration::from_secs(1)),
            max_connections: 16,
            retry_attempts: 2,
            retry_timeout: Duration::from_secs(1),
            dead_timeout: Duration::from_secs(60),
        }
    }

    /// The node names (`"host:port"`), in the order given.
    pub fn servers(&self) -> &[String] {
        &self.inner.names
    }

    /// The node `key` goes to now: the pymemcache-compatible rendezvous
    /// choice among the nodes not marked dead.
    ///
    /// # Errors
    /// [`Error::is_invalid_key`]; [`Error::is_unavailable`] when every node
    /// is dead.
    pub fn server_for(&self, key: impl AsRef<[u8]>) -> Result<&str, Error> {
        let key = key.as_ref();
        proto::validate_key(key)?;
        let i = self.inner.route(key)?;
        Ok(&self.inner.names[i])
    }

    fn get_one(&self, key: &[u8], cas: bool, touch: Option<u32>) -> Result<Option<Item>, Error> {
        self.inner.with_key(key, |c| {
            match touch {
                Some(t) => proto::encode_gat(c.wbuf(), cas, t, [key]),
                None => proto::encode_get(c.wbuf(), cas, [key]),
            }
            c.send()?;
            let mut found = None;
            read_values(c, |v| found = Some(item(&v)))?;
            Ok(found)
        })
    }

    /// `get`: the item under `key`, `None` on a miss.
    ///
    /// # Errors
    /// [`Error::is_invalid_key`] before sending; [`Error::is_io`] /
    /// [`Error::is_timeout`] on network failures; [`Error::is_unavailable`]
    /// when the node is marked failing; [`Error::is_protocol`] for a reply
    /// that makes no sense.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Item>, Error> {
        self.get_one(key.as_ref(), false, None)
    }

    /// `gets`: as [`Client::get`], with the item's CAS unique in
    /// [`Item::cas`].
    ///
    /// # Errors
    /// As [`Client::get`].
    pub fn gets(&self, key: impl AsRef<[u8]>) -> Result<Option<Item>, Error> {
        self.get_one(key.as_ref(), true, None)
    }

    /// `gat`: gets the item and sets its expiry to `exptime` in one call.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub fn gat(&self, exptime: u32, key: impl AsRef<[u8]>) -> Result<Option<Item>, Error> {
        self.get_one(key.as_ref(), false, Some(exptime))
    }

    /// `gats`: as [`Client::gat`], with the CAS unique.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub fn gats(&self, exptime: u32, key: impl AsRef<[u8]>) -> Result<Option<Item>, Error> {
        self.get_one(key.as_ref(), true, Some(exptime))
    }

    /// Gets many keys with one round trip per node: the keys are grouped by
    /// node, one `get k1 k2 …` is written to every node involved, then the
    /// replies are read, so the wait is that of the slowest node, not the
    /// sum. The result is aligned with `keys` (`None` for a miss).
    ///
    /// # Errors
    /// As [`Client::get`], for any key or node; the first error is returned
    /// (after every node's reply was read or its connection dropped).
    pub fn get_multi<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Item>>, Error> {
        self.multi(keys, false)
    }

    /// As [`Client::get_multi`], with CAS uniques (`gets`).
    ///
    /// # Errors
    /// As [`Client::get_multi`].
    pub fn gets_multi<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Item>>, Error> {
        self.multi(keys, true)
    }

    fn multi<K: AsRef<[u8]>>(&self, keys: &[K], cas: bool) -> Result<Vec<Option<Item>>, Error> {
        let inner = &self.inner;
        let mut out = vec![None; keys.len()];
        if keys.is_empty() {
            return Ok(out);
        }
        // Key indexes per node, in request order.
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); inner.servers.len()];
        for (at, k) in keys.iter().enumerate() {
            proto::validate_key(k.as_ref())?;
            groups[inner.route(k.as_ref())?].push(at);
        }
        let mut first_err = None;
        let mut sent: Vec<(usize, Conn)> = Vec::new();
        for (i, group) in groups.iter().enumerate() {
            if group.is_empty() {
                continue;
            }
            let r = inner.checkout(i).and_then(|mut conn| {
                proto::encode_get(conn.wbuf(), cas, group.iter().map(|&at| keys[at].as_ref()));
                conn.send()?;
                Ok(conn)
            });
            match inner.finish(i, r) {
                Ok(conn) => sent.push((i, conn)),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        for (i, mut conn) in sent {
            let group = &groups[i];
            let mut next = 0;
            let r = read_values(&mut conn, |v| {
                // Values come back in request order, misses left out.
                let found = (next..group.len())
                    .chain(0..next)
                    .find(|&g| keys[group[g]].as_ref() == v.key);
                if let Some(g) = found {
                    out[group[g]] = Some(item(&v));
                    next = g + 1;
                }
            });
            if let Err(e) = inner.finish(i, r) {
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    fn store(
        &self,
        cmd: StoreCommand,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: u32,
    ) -> Result<(), Error> {
        self.inner.with_key(key, |c| {
            proto::encode_store(c.wbuf(), cmd, key, flags, exptime, value);
            c.send()?;
            expect_stored(c)
        })
    }

    /// `set`: stores `value` under `key` with `flags` and `exptime`
    /// (seconds from now, or a Unix time when over 30 days; 0: no expiry).
    /// Values are binary-safe.
    ///
    /// # Errors
    /// [`Error::is_server_error`] for a value over the server's item size
    /// limit; otherwise as [`Client::get`].
    pub fn set(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        flags: u32,
        exptime: u32,
    ) -> Result<(), Error> {
        self.store(
            StoreCommand::Set,
            key.as_ref(),
            value.as_ref(),
            flags,
            exptime,
        )
    }

    /// `add`: stores only if `key` holds nothing.
    ///
    /// # Errors
    /// [`Error::is_not_stored`] when the key exists; otherwise as
    /// [`Client::set`].
    pub fn add(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        flags: u32,
        exptime: u32,
    ) -> Result<(), Error> {
        self.store(
            StoreCommand::Add,
            key.as_ref(),
            value.as_ref(),
            flags,
            exptime,
        )
    }

    /// `replace`: stores only if `key` already holds an item.
    ///
    /// # Errors
    /// [`Error::is_not_stored`] when the key is missing; otherwise as
    /// [`Client::set`].
    pub fn replace(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        flags: u32,
        exptime: u32,
    ) -> Result<(), Error> {
        self.store(
            StoreCommand::Replace,
            key.as_ref(),
            value.as_ref(),
            flags,
            exptime,
        )
    }

    /// `append`: adds `value` after the existing item's bytes (its flags
    /// and expiry stay).
    ///
    /// # Errors
    /// [`Error::is_not_stored`] when the key is missing; otherwise as
    /// [`Client::set`].
    pub fn append(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), Error> {
        self.store(StoreCommand::Append, key.as_ref(), value.as_ref(), 0, 0)
    }

    /// `prepend`: adds `value` before the existing item's bytes.
    ///
    /// # Errors
    /// As [`Client::append`].
    pub fn prepend(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), Error> {
        self.store(StoreCommand::Prepend, key.as_ref(), value.as_ref(), 0, 0)
    }

    /// `cas`: stores only if the item's CAS unique is still `cas` (from
    /// [`Client::gets`]).
    ///
    /// # Errors
    /// [`Error::is_exists`] when the item changed since; [`Error::is_not_found`]
    /// when it is gone; otherwise as [`Client::set`].
    pub fn cas(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        flags: u32,
        exptime: u32,
        cas: u64,
    ) -> Result<(), Error> {
        self.store(
            StoreCommand::Cas(cas),
            key.as_ref(),
            value.as_ref(),
            flags,
            exptime,
        )
    }

    /// `delete`.
    ///
    /// # Errors
    /// [`Error::is_not_found`] when the key held nothing; otherwise as
    /// [`Client::get`].
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<(), Error> {
        let key = key.as_ref();
        self.inner.with_key(key, |c| {
            proto::encode_delete(c.wbuf(), key);
            c.send()?;
            match c.reply()? {
                Reply::Deleted => Ok(()),
                Reply::NotFound => Err(Error::new(Kind::NotFound)),
                _ => Err(c.unexpected("expected DELETED or NOT_FOUND")),
            }
        })
    }

    fn arith(&self, incr: bool, key: &[u8], delta: u64) -> Result<u64, Error> {
        self.inner.with_key(key, |c| {
            proto::encode_arith(c.wbuf(), incr, key, delta);
            c.send()?;
            match c.reply()? {
                Reply::Number(n) => Ok(n),
                Reply::NotFound => Err(Error::new(Kind::NotFound)),
                _ => Err(c.unexpected("expected a number or NOT_FOUND")),
            }
        })
    }

    /// `incr`: adds `delta` to the decimal number stored under `key`
    /// (wrapping at 2^64) and returns the new value.
    ///
    /// # Errors
    /// [`Error::is_not_found`] when the key is missing;
    /// [`Error::is_client_error`] when the value is not a number; otherwise
    /// as [`Client::get`].
    pub fn incr(&self, key: impl AsRef<[u8]>, delta: u64) -> Result<u64, Error> {
        self.arith(true, key.as_ref(), delta)
    }

    /// `decr`: subtracts `delta`, stopping at 0, and returns the new value.
    ///
    /// # Errors
    /// As [`Client::incr`].
    pub fn decr(&self, key: impl AsRef<[u8]>, delta: u64) -> Result<u64, Error> {
        self.arith(false, key.as_ref(), delta)
    }

    /// Increments a counter, creating it at `initial` (with `exptime`) when
    /// it is missing, in one round trip: the meta command
    /// `ma <key> N<exptime> J<initial> D<delta> v` (memcached ≥ 1.6). The
    /// text protocol needs `incr`, then `add`, then `incr` again on a race.
    /// A created counter holds `initial` (the delta is not applied to it).
    ///
    /// # Errors
    /// As [`Client::incr`], without the not-found case;
    /// [`Error::is_client_error`] from a server without meta commands.
    pub fn incr_or_init(
        &self,
        key: impl AsRef<[u8]>,
        delta: u64,
        initial: u64,
        exptime: u32,
    ) -> Result<u64, Error> {
        let key = key.as_ref();
        self.inner.with_key(key, |c| {
            proto::encode_meta_arith(c.wbuf(), true, key, delta, initial, exptime);
            c.send()?;
            let number = match c.reply()? {
                Reply::Meta(proto::Meta {
                    code: [b'V', b'A'],
                    data: Some(d),
                    ..
                }) => std::str::from_utf8(d)
                    .ok()
                    .and_then(|s| s.trim().parse().ok()),
                Reply::Meta(proto::Meta {
                    code: [b'N', b'F'], ..
                }) => return Err(Error::new(Kind::NotFound)),
                _ => None,
            };
            number.ok_or_else(|| c.unexpected("expected VA with a number"))
        })
    }

    /// `touch`: sets a new expiry on `key`.
    ///
    /// # Errors
    /// [`Error::is_not_found`] when the key is missing; otherwise as
    /// [`Client::get`].
    pub fn touch(&self, key: impl AsRef<[u8]>, exptime: u32) -> Result<(), Error> {
        let key = key.as_ref();
        self.inner.with_key(key, |c| {
            proto::encode_touch(c.wbuf(), key, exptime);
            c.send()?;
            match c.reply()? {
                Reply::Touched => Ok(()),
                Reply::NotFound => Err(Error::new(Kind::NotFound)),
                _ => Err(c.unexpected("expected TOUCHED or NOT_FOUND")),
            }
        })
    }

    /// Runs `f` on every node not marked dead; stops at the first error.
    fn each_server<T>(
        &self,
        mut f: impl FnMut(&mut Connection) -> Result<T, Error>,
    ) -> Result<Vec<(String, T)>, Error> {
        let inner = &self.inner;
        let alive: Vec<usize> = {
            let mut h = lock(&inner.health);
            inner.revive(&mut h);
            (0..h.len())
                .filter(|&i| !matches!(h[i], Health::Dead { .. }))
                .collect()
        };
        let mut out = Vec::with_capacity(alive.len());
        for i in alive {
            let v = inner.with_server(i, &mut f)?;
            out.push((inner.names[i].clone(), v));
        }
        Ok(out)
    }

    /// `flush_all [delay]` on every node not marked dead: invalidates all
    /// items (after `delay` seconds, if given).
    ///
    /// # Errors
    /// The first node's failure (nodes after it are not flushed).
    pub fn flush_all(&self, delay: Option<u32>) -> Result<(), Error> {
        self.each_server(|c| {
            proto::encode_flush_all(c.wbuf(), delay);
            c.send()?;
            match c.reply()? {
                Reply::Ok => Ok(()),
                _ => Err(c.unexpected("expected OK")),
            }
        })
        .map(drop)
    }

    /// `stats [group]` of every node not marked dead: for each node name,
    /// its statistics by name (`group` such as `"items"` or `"slabs"`, or
    /// `None` for the general ones).
    ///
    /// # Errors
    /// The first node's failure; [`Error::is_invalid_key`] for a group with
    /// a space or control character.
    pub fn stats(&self, group: Option<&str>) -> Result<Vec<(String, Stats)>, Error> {
        if let Some(g) = group {
            proto::validate_key(g.as_bytes())?;
        }
        self.each_server(|c| {
            proto::encode_stats(c.wbuf(), group);
            c.send()?;
            let mut stats = HashMap::new();
            loop {
                match c.reply() {
                    Ok(Reply::Stat { name, value }) => {
                        stats.insert(
                            String::from_utf8_lossy(name).into_owned(),
                            String::from_utf8_lossy(value).into_owned(),
                        );
                    }
                    Ok(Reply::End) => return Ok(stats),
                    Ok(_) => return Err(c.unexpected("expected STAT or END")),
                    Err(e) => {
                        c.broken = true;
                        return Err(e);
                    }
                }
            }
        })
    }

    /// `version` of every node not marked dead.
    ///
    /// # Errors
    /// The first node's failure.
    pub fn version(&self) -> Result<Vec<(String, String)>, Error> {
        self.each_server(|c| {
            proto::encode_version(c.wbuf());
            c.send()?;
            match c.reply()? {
                Reply::Version(v) => Ok(String::from_utf8_lossy(v).into_owned()),
                _ => Err(c.unexpected("expected VERSION")),
            }
        })
    }
}
