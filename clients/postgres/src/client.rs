//! The client: connecting, the extended-protocol query API and the
//! statement cache. The message loop is in `backend`, startup and
//! authentication in `startup`, the socket in `transport`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use fibra_net::{Buffered, Stream};

use crate::backend::{log_notice, Backend};
use crate::config::Config;
use crate::error::{DbError, Error, ErrorKind, Result};
use crate::notify::{CancelToken, Notification};
use crate::proto::{self, Message};
use crate::row::{Row, RowIter};
use crate::statement::{Statement, ToStatement};
use crate::types::{IsNull, ToSql, Type};

/// A connection to a PostgreSQL server.
///
/// Every call is plain blocking code: inside a fibra coroutine it parks only
/// that coroutine. A connection serves one call at a time (`&mut self`);
/// share a [`Pool`](crate::Pool) between coroutines instead.
///
/// Queries take SQL text or a prepared [`Statement`] and parameters as
/// `&[&dyn ToSql]`, bound in binary format; SQL text is prepared once per
/// connection and kept in a statement cache.
pub struct Client {
    pub(crate) conn: Buffered<Stream>,
    /// The length of the frame [`Client::read_frame`] last returned: its
    /// body stays readable until the next read, which consumes it first.
    pub(crate) frame: usize,
    pub(crate) scratch: Vec<u8>,
    pub(crate) config: Arc<Config>,
    pub(crate) process_id: i32,
    pub(crate) secret_key: i32,
    pub(crate) params: HashMap<String, String>,
    pub(crate) tx_status: u8,
    pub(crate) broken: bool,
    pub(crate) depth: u32,
    cache: HashMap<String, Statement>,
    cache_order: VecDeque<String>,
    next_statement: u64,
    pub(crate) to_close: Arc<Mutex<Vec<String>>>,
    pub(crate) notifications: VecDeque<Notification>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .field("process_id", &self.process_id)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects with a `postgres://` URL or a `key=value` string.
    ///
    /// ```no_run
    /// # fn main() -> fibra_postgres::Result<()> {
    /// let mut client = fibra_postgres::Client::connect("postgres://app@127.0.0.1/app")?;
    /// let n: i32 = client.query_one("SELECT $1::int4 + 1", &[&41i32])?.get(0);
    /// assert_eq!(n, 42);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A bad connection string, or as [`Client::connect_with`].
    pub fn connect(params: &str) -> Result<Client> {
        Client::connect_with(&params.parse()?)
    }

    /// Connects with the given settings: opens the socket (TCP or Unix),
    /// negotiates TLS as `sslmode` says, authenticates (trust, cleartext
    /// password, md5 or SCRAM-SHA-256) and waits until the server is ready.
    ///
    /// # Errors
    /// Socket errors, the connect timeout, TLS failures, authentication
    /// failures (the server's error, e.g. SQLSTATE `28P01`), or a password
    /// the server asks for but the settings lack.
    pub fn connect_with(config: &Config) -> Result<Client> {
        let config = Arc::new(config.clone());
        match config.connect_timeout {
            Some(t) => fibra_runtime::with_timeout(t, || Client::start(config.clone())),
            None => Client::start(config.clone()),
        }
    }

    fn start(config: Arc<Config>) -> Result<Client> {
        let (stream, server_cert) = crate::transport::open(&config)?;
        let mut client = Client {
            conn: Buffered::new(stream).max_buffer(proto::MAX_MESSAGE_LEN + 1),
            frame: 0,
            scratch: Vec::new(),
            config: config.clone(),
            process_id: 0,
            secret_key: 0,
            params: HashMap::new(),
            tx_status: b'I',
            broken: false,
            depth: 0,
            cache: HashMap::new(),
            cache_order: VecDeque::new(),
            next_statement: 0,
            to_close: Arc::default(),
            notifications: VecDeque::new(),
        };
        client.startup(server_cert.as_deref())?;
        let stream = client.conn.get_ref();
        stream.set_read_timeout(config.read_timeout)?;
        stream.set_write_timeout(config.write_timeout)?;
        Ok(client)
    }

    // ------------------------------------------------------------ queries

    /// Whether the connection saw an I/O, timeout or protocol error (or a
    /// fatal server error) and can no longer be used.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Whether the connection is inside a transaction block (or a failed
    /// one).
    pub fn is_in_transaction(&self) -> bool {
        self.tx_status != b'I'
    }

    /// A server parameter reported at startup or since
    /// (`server_version`, `TimeZone`, …).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The backend's process ID.
    pub fn backend_pid(&self) -> i32 {
        self.process_id
    }

    /// A token that cancels the query running on this connection, usable
    /// from any coroutine or thread.
    pub fn cancel_token(&self) -> CancelToken {
        CancelToken {
            config: self.config.clone(),
            process_id: self.process_id,
            secret_key: self.secret_key,
        }
    }

    /// Runs one or more SQL statements separated by semicolons with the
    /// simple query protocol (no parameters, results discarded). Useful for
    /// schema changes and `SET`.
    ///
    /// # Errors
    /// The first server error (statements after it are not run), or an I/O
    /// error.
    pub fn batch_execute(&mut self, sql: &str) -> Result<()> {
        if self.broken {
            return Err(Error::closed());
        }
        self.queue_closes();
        proto::encode_query(self.conn.write_buf(), sql);
        self.send()?;
        self.drain(None)
    }

    /// Prepares a statement: the server parses it and reports the parameter
    /// and column types. The statement is closed on the server when the last
    /// clone of it is dropped (lazily, with the next request).
    ///
    /// # Errors
    /// A syntax or semantic error from the server, or an I/O error.
    pub fn prepare(&mut self, sql: &str) -> Result<Statement> {
        self.prepare_typed(sql, &[])
    }

    /// [`Client::prepare`] with explicit types for the first parameters.
    ///
    /// # Errors
    /// As [`Client::prepare`].
    pub fn prepare_typed(&mut self, sql: &str, types: &[Type]) -> Result<Statement> {
        self.next_statement += 1;
        let name = format!("fibra_s{}", self.next_statement);
        self.prepare_named(name, sql, types)
    }

    fn prepare_named(&mut self, name: String, sql: &str, types: &[Type]) -> Result<Statement> {
        if self.broken {
            return Err(Error::closed());
        }
        self.queue_closes();
        let oids: Vec<u32> = types.iter().map(Type::oid).collect();
        proto::encode_parse(self.conn.write_buf(), &name, sql, &oids);
        proto::encode_describe(self.conn.write_buf(), b'S', &name);
        proto::encode_sync(self.conn.write_buf());
        self.send()?;
        let mut params = Vec::new();
        let mut columns = Vec::new();
        loop {
            match self.recv()? {
                Backend::ParseComplete | Backend::NoData => {}
                Backend::ParamDesc(p) => params = p.into_iter().map(Type::from_oid).collect(),
                Backend::RowDesc(c) => columns = c,
                Backend::Error(e) => return Err(self.drain_err(e)),
                Backend::Ready => break,
                other => return Err(self.unexpected(&other)),
            }
        }
        let close = (!name.is_empty()).then(|| Arc::downgrade(&self.to_close));
        Ok(Statement::new(name, params, columns, close))
    }

    /// The statement for `sql` from the cache, preparing it on a miss.
    pub(crate) fn cached(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s.clone());
        }
        let cap = self.config.statement_cache_capacity;
        if cap == 0 {
            return self.prepare_named(String::new(), sql, &[]);
        }
        let stmt = self.prepare(sql)?;
        while self.cache.len() >= cap {
            match self.cache_order.pop_front() {
                Some(old) => {
                    self.cache.remove(&old);
                }
                None => break,
            }
        }
        self.cache.insert(sql.to_owned(), stmt.clone());
        self.cache_order.push_back(sql.to_owned());
        Ok(stmt)
    }

    /// How many statements the cache holds.
    pub fn cached_statements(&self) -> usize {
        self.cache.len()
    }

    /// Empties the statement cache (the statements are closed on the server
    /// with the next request, once no clone of them remains).
    pub fn clear_statement_cache(&mut self) {
        self.cache.clear();
        self.cache_order.clear();
    }

    /// Binds `params` to `stmt` and starts executing it; rows follow.
    fn bind_execute(&mut self, stmt: &Statement, params: &[&dyn ToSql]) -> Result<()> {
        let types = stmt.params();
        if types.len() != params.len() {
            return Err(Error::conversion(format!(
                "the statement takes {} parameters but {} were given",
                types.len(),
                params.len()
            )));
        }
        // Encode every parameter before anything is sent: a conversion error
        // leaves the connection untouched.
        let mut values = std::mem::take(&mut self.scratch);
        values.clear();
        let mut ranges = Vec::with_capacity(params.len());
        for (i, (p, ty)) in params.iter().zip(types).enumerate() {
            let start = values.len();
            match p.to_sql(ty, &mut values) {
                Ok(IsNull::No) => ranges.push(Some(start..values.len())),
                Ok(IsNull::Yes) => {
                    values.truncate(start);
                    ranges.push(None);
                }
                Err(e) => {
                    self.scratch = values;
                    return Err(Error::conversion(format!("parameter ${}: {e}", i + 1)));
                }
            }
        }
        if self.broken {
            self.scratch = values;
            return Err(Error::closed());
        }
        self.queue_closes();
        proto::encode_bind(self.conn.write_buf(), "", stmt.name(), &values, &ranges);
        proto::encode_execute(self.conn.write_buf(), "", 0);
        proto::encode_sync(self.conn.write_buf());
        self.scratch = values;
        self.send()?;
        match self.recv()? {
            Backend::BindComplete => Ok(()),
            Backend::Error(e) => Err(self.drain_err(e)),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Runs a statement and returns an iterator over its rows, read from the
    /// socket as the iterator advances (nothing is buffered beyond the
    /// socket). Dropping the iterator early reads and discards the rest.
    ///
    /// # Errors
    /// As [`Client::query`]; errors while reading come from the iterator.
    pub fn query_iter<T: ToStatement + ?Sized>(
        &mut self,
        statement: &T,
        params: &[&dyn ToSql],
    ) -> Result<RowIter<'_>> {
        let stmt = statement.to_statement(self)?;
        self.bind_execute(&stmt, params)?;
        Ok(RowIter::new(self, stmt.columns_arc()))
    }

    /// Runs a statement and returns all its rows.
    ///
    /// ```no_run
    /// # fn f(client: &mut fibra_postgres::Client) -> fibra_postgres::Result<()> {
    /// for row in client.query("SELECT id, name FROM users WHERE age > $1", &[&30i32])? {
    ///     let id: i64 = row.get("id");
    ///     let name: &str = row.get(1);
    ///     println!("{id} {name}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A parameter count or type mismatch (before anything is sent), a
    /// server error (see [`Error::code`]), or an I/O error.
    pub fn query<T: ToStatement + ?Sized>(
        &mut self,
        statement: &T,
        params: &[&dyn ToSql],
    ) -> Result<Vec<Row>> {
        self.query_iter(statement, params)?.collect()
    }

    /// Runs a statement that returns exactly one row.
    ///
    /// # Errors
    /// As [`Client::query`], and an [`ErrorKind::RowCount`] error for zero
    /// or several rows.
    pub fn query_one<T: ToStatement + ?Sized>(
        &mut self,
        statement: &T,
        params: &[&dyn ToSql],
    ) -> Result<Row> {
        match self.query_opt(statement, params)? {
            Some(r) => Ok(r),
            None => Err(Error::new(ErrorKind::RowCount, "query returned no rows")),
        }
    }

    /// Runs a statement that returns at most one row.
    ///
    /// # Errors
    /// As [`Client::query`], and an [`ErrorKind::RowCount`] error for
    /// several rows.
    pub fn query_opt<T: ToStatement + ?Sized>(
        &mut self,
        statement: &T,
        params: &[&dyn ToSql],
    ) -> Result<Option<Row>> {
        let mut it = self.query_iter(statement, params)?;
        let first = it.next().transpose()?;
        if first.is_some() && it.next().transpose()?.is_some() {
            drop(it);
            return Err(Error::new(
                ErrorKind::RowCount,
                "query returned more than one row",
            ));
        }
        Ok(first)
    }

    /// Runs a statement and returns the number of rows it affected
    /// (inserted, updated, deleted, selected…); any rows are discarded.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub fn execute<T: ToStatement + ?Sized>(
        &mut self,
        statement: &T,
        params: &[&dyn ToSql],
    ) -> Result<u64> {
        let mut it = self.query_iter(statement, params)?;
        for row in it.by_ref() {
            row?;
        }
        Ok(it.rows_affected().unwrap_or(0))
    }

    /// Checks that the connection works with an empty query round trip.
    ///
    /// # Errors
    /// The connection is broken or the server does not answer.
    pub fn ping(&mut self) -> Result<()> {
        self.batch_execute("")
    }

    /// Waits at most `timeout` for data, as a blocking read would, keeping
    /// partial messages buffered. Used by the notification iterator.
    pub(crate) fn wait_notification(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<Notification>> {
        loop {
            if let Some(n) = self.notifications.pop_front() {
                return Ok(Some(n));
            }
            let r = match deadline {
                Some(d) => fibra_runtime::with_deadline(d, || self.try_read_frame()),
                None => self.try_read_frame(),
            };
            let (tag, body) = match r {
                Ok(f) => f,
                Err(e) if e.is_timeout() => return Ok(None),
                Err(e) => return Err(self.fail(e)),
            };
            match proto::parse(tag, &self.conn.buffered()[body]) {
                Ok(Message::NotificationResponse {
                    process_id,
                    channel,
                    payload,
                }) => self.notifications.push_back(Notification {
                    process_id,
                    channel: channel.to_owned(),
                    payload: payload.to_owned(),
                }),
                Ok(Message::NoticeResponse(f)) => log_notice(&DbError::from_fields(&f)),
                Ok(Message::ParameterStatus { name, value }) => {
                    self.params.insert(name.to_owned(), value.to_owned());
                }
                Ok(Message::ErrorResponse(f)) => {
                    // A FATAL error while idle: the server is going away.
                    let e = Box::new(DbError::from_fields(&f));
                    return Err(self.fail(Error::db(e)));
                }
                Ok(other) => {
                    return Err(self.fail(Error::protocol(format!(
                        "unexpected message while idle: {other:?}"
                    ))))
                }
                Err(e) => return Err(self.fail(e.into())),
            }
        }
    }

    /// The output buffer, for the `CopyData`/`CopyDone`/`CopyFail`
    /// messages of the copy writer.
    pub(crate) fn wbuf(&mut self) -> &mut Vec<u8> {
        self.conn.write_buf()
    }

    pub(crate) fn queue_close_messages(&mut self) {
        self.queue_closes();
    }
}

impl Drop for Client {
    /// Sends `Terminate` (best effort) so the server ends the session at
    /// once.
    fn drop(&mut self) {
        if !self.broken {
            self.conn.write_buf().clear();
            proto::encode_terminate(self.conn.write_buf());
            let _ = self.conn.flush();
        }
    }
}
