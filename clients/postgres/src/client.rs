//! The connection: startup and authentication, the message loop, the
//! extended-protocol query path and the statement cache.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fibra_net::{TcpStream, UnixStream};

use crate::auth;
use crate::config::{ChannelBinding, Config, Host, SslMode};
use crate::error::{DbError, Error, ErrorKind, Result};
use crate::notify::{CancelToken, Notification};
use crate::proto::{self, Message};
use crate::row::{Column, Row, RowIter};
use crate::statement::{Statement, ToStatement};
use crate::types::{IsNull, ToSql, Type};

pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    #[cfg(feature = "tls")]
    Tls(Box<fibra_net::tls::TlsStream<TcpStream>>),
}

impl Stream {
    fn set_timeouts(&self, read: Option<Duration>, write: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(read)?;
                s.set_write_timeout(write)
            }
            Stream::Unix(s) => {
                s.set_read_timeout(read)?;
                s.set_write_timeout(write)
            }
            #[cfg(feature = "tls")]
            Stream::Tls(s) => {
                s.get_ref().set_read_timeout(read)?;
                s.get_ref().set_write_timeout(write)
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A backend message with its variable parts owned or as ranges into the
/// read buffer (valid until the next read).
#[derive(Debug)]
pub(crate) enum Backend {
    ParseComplete,
    BindComplete,
    NoData,
    ParamDesc(Vec<u32>),
    RowDesc(Vec<Column>),
    DataRow(Range<usize>, usize),
    CommandComplete(u64),
    EmptyQuery,
    PortalSuspended,
    Ready,
    Error(Box<DbError>),
    CopyIn,
    CopyOut,
    CopyData(Range<usize>),
    CopyDone,
}

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
    stream: Stream,
    /// Read buffer: `rbuf[rpos..rend]` is received but not yet consumed;
    /// `rbuf.len()` is its allocated size (zero-filled once, on growth).
    rbuf: Vec<u8>,
    rpos: usize,
    rend: usize,
    wbuf: Vec<u8>,
    scratch: Vec<u8>,
    config: Arc<Config>,
    process_id: i32,
    secret_key: i32,
    params: HashMap<String, String>,
    tx_status: u8,
    broken: bool,
    pub(crate) depth: u32,
    cache: HashMap<String, Statement>,
    cache_order: VecDeque<String>,
    next_statement: u64,
    to_close: Arc<Mutex<Vec<String>>>,
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
    /// A bad connection string, or as [`Client::connect_config`].
    pub fn connect(params: &str) -> Result<Client> {
        Client::connect_config(&params.parse()?)
    }

    /// Connects with the given settings: opens the socket (TCP or Unix),
    /// negotiates TLS as `sslmode` says, authenticates (trust, cleartext
    /// password, md5 or SCRAM-SHA-256) and waits until the server is ready.
    ///
    /// # Errors
    /// Socket errors, the connect timeout, TLS failures, authentication
    /// failures (the server's error, e.g. SQLSTATE `28P01`), or a password
    /// the server asks for but the settings lack.
    pub fn connect_config(config: &Config) -> Result<Client> {
        let config = Arc::new(config.clone());
        match config.connect_timeout {
            Some(t) => fibra_runtime::with_timeout(t, || Client::start(config.clone())),
            None => Client::start(config.clone()),
        }
    }

    fn start(config: Arc<Config>) -> Result<Client> {
        let (stream, server_cert) = open_stream(&config)?;
        let mut client = Client {
            stream,
            rbuf: vec![0; 16 * 1024],
            rpos: 0,
            rend: 0,
            wbuf: Vec::with_capacity(1024),
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
        client
            .stream
            .set_timeouts(config.read_timeout, config.write_timeout)?;
        Ok(client)
    }

    fn startup(&mut self, server_cert: Option<&[u8]>) -> Result<()> {
        let cfg = self.config.clone();
        let mut params: Vec<(&str, &str)> = vec![
            ("user", &cfg.user),
            ("database", cfg.get_dbname()),
            ("client_encoding", "UTF8"),
        ];
        if let Some(a) = &cfg.application_name {
            params.push(("application_name", a));
        }
        if let Some(o) = &cfg.options {
            params.push(("options", o));
        }
        proto::encode_startup(&mut self.wbuf, &params);
        self.send()?;
        let mut scram: Option<auth::Scram> = None;
        loop {
            let (tag, body) = self.read_frame()?;
            let bound = scram.as_ref().is_some_and(auth::Scram::is_channel_bound);
            let msg = match proto::parse(tag, &self.rbuf[body]) {
                Ok(m) => m,
                Err(e) => {
                    self.broken = true;
                    return Err(e.into());
                }
            };
            if cfg.channel_binding == ChannelBinding::Require
                && !bound
                && matches!(
                    msg,
                    Message::AuthenticationOk
                        | Message::AuthenticationCleartextPassword
                        | Message::AuthenticationMd5Password(_)
                )
            {
                return Err(Error::new(
                    ErrorKind::Auth,
                    "channel_binding=require, but the server did not authenticate with SCRAM-SHA-256-PLUS",
                ));
            }
            match msg {
                Message::AuthenticationOk => break,
                Message::AuthenticationCleartextPassword => {
                    let pw = password(&cfg)?;
                    proto::encode_password(&mut self.wbuf, &pw);
                }
                Message::AuthenticationMd5Password(salt) => {
                    let pw = password(&cfg)?;
                    let hash = auth::md5_password(&cfg.user, &pw, salt);
                    proto::encode_password(&mut self.wbuf, hash.as_bytes());
                }
                Message::AuthenticationSasl(list) => {
                    let plus = proto::sasl_mechanisms(list).any(|m| m == b"SCRAM-SHA-256-PLUS");
                    let plain = proto::sasl_mechanisms(list).any(|m| m == b"SCRAM-SHA-256");
                    let (mechanism, binding) = choose_scram(&cfg, server_cert, plus, plain)?;
                    let pw = password(&cfg)?;
                    let s = auth::Scram::with_random_nonce(&pw, binding)
                        .map_err(|e| Error::new(ErrorKind::Auth, e.0))?;
                    proto::encode_sasl_initial(&mut self.wbuf, mechanism, &s.client_first());
                    scram = Some(s);
                }

                Message::AuthenticationSaslContinue(data) => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| Error::protocol("SASL continue before SASL start"))?;
                    let fin = s.client_final(data).map_err(|e| {
                        Error::new(ErrorKind::Auth, "SCRAM exchange failed").with_source(e)
                    })?;
                    proto::encode_sasl_response(&mut self.wbuf, &fin);
                }
                Message::AuthenticationSaslFinal(data) => {
                    let s = scram
                        .as_ref()
                        .ok_or_else(|| Error::protocol("SASL final before SASL start"))?;
                    s.verify(data).map_err(|e| {
                        Error::new(ErrorKind::Auth, "SCRAM exchange failed").with_source(e)
                    })?;
                    continue;
                }
                Message::AuthenticationOther(code) => {
                    return Err(Error::new(
                        ErrorKind::Auth,
                        format!("unsupported authentication method (code {code})"),
                    ));
                }
                Message::ErrorResponse(f) => {
                    return Err(Error::db(Box::new(DbError::from_fields(&f))))
                }
                Message::NoticeResponse(f) => {
                    log_notice(&DbError::from_fields(&f));
                    continue;
                }
                Message::NegotiateProtocolVersion(_) => continue,
                other => {
                    self.broken = true;
                    return Err(Error::protocol(format!(
                        "unexpected message during authentication: {other:?}"
                    )));
                }
            }
            self.send()?;
        }
        // After AuthenticationOk: parameters, key data, ReadyForQuery.
        loop {
            let (tag, body) = self.read_frame()?;
            match proto::parse(tag, &self.rbuf[body]) {
                Ok(Message::BackendKeyData {
                    process_id,
                    secret_key,
                }) => {
                    self.process_id = process_id;
                    self.secret_key = secret_key;
                }
                Ok(Message::ParameterStatus { name, value }) => {
                    self.params.insert(name.to_owned(), value.to_owned());
                }
                Ok(Message::NoticeResponse(f)) => log_notice(&DbError::from_fields(&f)),
                Ok(Message::ReadyForQuery(s)) => {
                    self.tx_status = s;
                    return Ok(());
                }
                Ok(Message::ErrorResponse(f)) => {
                    return Err(Error::db(Box::new(DbError::from_fields(&f))))
                }
                Ok(other) => {
                    return Err(self.fail(Error::protocol(format!(
                        "unexpected message during startup: {other:?}"
                    ))))
                }
                Err(e) => return Err(self.fail(e.into())),
            }
        }
    }

    // ------------------------------------------------------------ raw I/O

    pub(crate) fn fail(&mut self, e: Error) -> Error {
        self.broken = true;
        e
    }

    /// Writes the pending output.
    pub(crate) fn send(&mut self) -> Result<()> {
        if self.broken {
            self.wbuf.clear();
            return Err(Error::closed());
        }
        let r = self.stream.write_all(&self.wbuf);
        self.wbuf.clear();
        r.map_err(|e| self.fail(Error::io(e)))
    }

    /// Reads until a complete message is buffered; returns its tag and body
    /// range. The range stays valid until the next read.
    pub(crate) fn read_frame(&mut self) -> Result<(u8, Range<usize>)> {
        match self.try_read_frame() {
            Ok(f) => Ok(f),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// [`Client::read_frame`] without marking the connection broken on
    /// error (a timeout while idle is harmless).
    pub(crate) fn try_read_frame(&mut self) -> Result<(u8, Range<usize>)> {
        if self.broken {
            return Err(Error::closed());
        }
        loop {
            let avail = &self.rbuf[self.rpos..self.rend];
            if let Some(len) = proto::frame_len(avail)? {
                let start = self.rpos;
                self.rpos += len;
                return Ok((self.rbuf[start], start + 5..start + len));
            }
            // Need more: move the partial message to the front, grow if
            // full, then read.
            if self.rpos > 0 {
                self.rbuf.copy_within(self.rpos..self.rend, 0);
                self.rend -= self.rpos;
                self.rpos = 0;
            }
            if self.rend == self.rbuf.len() {
                let bigger = self.rbuf.len() * 2;
                self.rbuf.resize(bigger, 0);
            }
            match self.stream.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => {
                    return Err(Error::io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    )));
                }
                Ok(n) => self.rend += n,
                Err(e) => return Err(Error::io(e)),
            }
        }
    }

    /// Reads the next message that is not asynchronous (notices,
    /// notifications and parameter changes are handled here).
    pub(crate) fn recv(&mut self) -> Result<Backend> {
        loop {
            let (tag, body) = self.read_frame()?;
            let start = body.start;
            let msg = match proto::parse(tag, &self.rbuf[body.clone()]) {
                Ok(m) => m,
                Err(e) => return Err(self.fail(e.into())),
            };
            let out = match msg {
                Message::ParseComplete => Backend::ParseComplete,
                Message::BindComplete => Backend::BindComplete,
                Message::CloseComplete => continue,
                Message::NoData => Backend::NoData,
                Message::ParameterDescription(t) => Backend::ParamDesc(t),
                Message::RowDescription(fields) => Backend::RowDesc(
                    fields
                        .iter()
                        .map(|f| Column {
                            name: f.name.to_owned(),
                            type_: Type::from_oid(f.type_oid),
                            table_oid: f.table_oid,
                            column_id: f.column_id,
                        })
                        .collect(),
                ),
                // The columns follow the 2-byte column count.
                Message::DataRow(d) => Backend::DataRow(start + 2..body.end, d.len),
                Message::CommandComplete(tag) => {
                    Backend::CommandComplete(proto::rows_affected(tag))
                }
                Message::EmptyQueryResponse => Backend::EmptyQuery,
                Message::PortalSuspended => Backend::PortalSuspended,
                Message::ReadyForQuery(s) => {
                    self.tx_status = s;
                    Backend::Ready
                }
                Message::ErrorResponse(f) => {
                    let e = Box::new(DbError::from_fields(&f));
                    if e.severity == "FATAL" || e.severity == "PANIC" {
                        self.broken = true;
                    }
                    Backend::Error(e)
                }
                Message::NoticeResponse(f) => {
                    log_notice(&DbError::from_fields(&f));
                    continue;
                }
                Message::NotificationResponse {
                    process_id,
                    channel,
                    payload,
                } => {
                    self.notifications.push_back(Notification {
                        process_id,
                        channel: channel.to_owned(),
                        payload: payload.to_owned(),
                    });
                    continue;
                }
                Message::ParameterStatus { name, value } => {
                    self.params.insert(name.to_owned(), value.to_owned());
                    continue;
                }
                Message::CopyInResponse(..) => Backend::CopyIn,
                Message::CopyOutResponse(..) => Backend::CopyOut,
                Message::CopyData(_) => Backend::CopyData(body.clone()),
                Message::CopyDone => Backend::CopyDone,
                other => {
                    return Err(self.fail(Error::protocol(format!("unexpected message {other:?}"))))
                }
            };
            return Ok(out);
        }
    }

    /// The bytes of a range returned by [`Client::recv`].
    pub(crate) fn buffered(&self, r: Range<usize>) -> &[u8] {
        &self.rbuf[r]
    }

    /// Reads up to and including `ReadyForQuery`, returning the first
    /// server error seen (or `first` if given).
    pub(crate) fn drain(&mut self, mut first: Option<Box<DbError>>) -> Result<()> {
        loop {
            match self.recv()? {
                Backend::Ready => {
                    return match first {
                        Some(e) => Err(Error::db(e)),
                        None => Ok(()),
                    }
                }
                Backend::Error(e) => {
                    first.get_or_insert(e);
                }
                Backend::CopyIn => {
                    // A COPY FROM STDIN we did not expect: refuse it.
                    proto::encode_copy_fail(
                        &mut self.wbuf,
                        "COPY FROM STDIN is not supported here",
                    );
                    self.send()?;
                }
                _ => {}
            }
        }
    }

    /// Reads up to `ReadyForQuery` after the server error `e`; returns the
    /// error to report.
    pub(crate) fn drain_err(&mut self, e: Box<DbError>) -> Error {
        match self.drain(Some(e)) {
            Err(e) => e,
            Ok(()) => Error::protocol("lost a server error"),
        }
    }

    fn unexpected(&mut self, what: &Backend) -> Error {
        self.fail(Error::protocol(format!("unexpected message {what:?}")))
    }

    /// Appends `Close` messages for statements dropped since the last call.
    fn queue_closes(&mut self) {
        let names = std::mem::take(&mut *self.to_close.lock().unwrap_or_else(|e| e.into_inner()));
        for n in names {
            proto::encode_close(&mut self.wbuf, b'S', &n);
        }
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
        proto::encode_query(&mut self.wbuf, sql);
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
        proto::encode_parse(&mut self.wbuf, &name, sql, &oids);
        proto::encode_describe(&mut self.wbuf, b'S', &name);
        proto::encode_sync(&mut self.wbuf);
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
        proto::encode_bind(&mut self.wbuf, "", stmt.name(), &values, &ranges);
        proto::encode_execute(&mut self.wbuf, "", 0);
        proto::encode_sync(&mut self.wbuf);
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
            match proto::parse(tag, &self.rbuf[body]) {
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

    /// Writes a `CopyData`/`CopyDone`/`CopyFail` message queued by the copy
    /// writer.
    pub(crate) fn wbuf(&mut self) -> &mut Vec<u8> {
        &mut self.wbuf
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
            self.wbuf.clear();
            proto::encode_terminate(&mut self.wbuf);
            let _ = self.stream.write_all(&self.wbuf);
        }
    }
}

/// Picks the SASL mechanism: SCRAM-SHA-256-PLUS over TLS when the server
/// offers it (unless channel binding is disabled), else SCRAM-SHA-256.
fn choose_scram(
    cfg: &Config,
    server_cert: Option<&[u8]>,
    plus: bool,
    plain: bool,
) -> Result<(&'static str, auth::ChannelBinding)> {
    let want = cfg.channel_binding;
    match server_cert {
        Some(cert) if plus && want != ChannelBinding::Disable => Ok((
            "SCRAM-SHA-256-PLUS",
            auth::ChannelBinding::TlsServerEndPoint(auth::server_end_point_hash(cert)),
        )),
        _ if want == ChannelBinding::Require => Err(Error::new(
            ErrorKind::Auth,
            "channel_binding=require, but SCRAM-SHA-256-PLUS over TLS is not available",
        )),
        _ if !plain => Err(Error::new(
            ErrorKind::Auth,
            "the server offers no SASL mechanism this client supports",
        )),
        // On TLS without binding: tell the server we could have bound.
        Some(_) if want != ChannelBinding::Disable => {
            Ok(("SCRAM-SHA-256", auth::ChannelBinding::ClientOnly))
        }
        _ => Ok(("SCRAM-SHA-256", auth::ChannelBinding::None)),
    }
}

fn password(cfg: &Config) -> Result<Vec<u8>> {
    cfg.password.clone().ok_or_else(|| {
        Error::new(
            ErrorKind::Auth,
            "the server asked for a password but none was configured",
        )
    })
}

pub(crate) fn log_notice(n: &DbError) {
    match n.severity.as_str() {
        "WARNING" => tracing::warn!(
            target: "fibra_postgres::notice",
            code = %n.code,
            detail = n.detail.as_deref().unwrap_or(""),
            "{}",
            n.message
        ),
        "DEBUG" | "LOG" => tracing::debug!(
            target: "fibra_postgres::notice",
            code = %n.code,
            "{}",
            n.message
        ),
        _ => tracing::info!(
            target: "fibra_postgres::notice",
            severity = %n.severity,
            code = %n.code,
            "{}",
            n.message
        ),
    }
}

/// Opens the socket and, where asked, TLS; returns the server's
/// certificate (DER) when TLS is on, for channel binding.
pub(crate) fn open_stream(config: &Config) -> Result<(Stream, Option<Vec<u8>>)> {
    match &config.host {
        Host::Unix(dir) => {
            if matches!(config.ssl_mode, SslMode::Require | SslMode::VerifyFull) {
                return Err(Error::new(
                    ErrorKind::Tls,
                    "TLS over a Unix socket is not supported",
                ));
            }
            let path = dir.join(format!(".s.PGSQL.{}", config.port));
            Ok((Stream::Unix(UnixStream::connect(path)?), None))
        }
        Host::Tcp(host) => {
            // The connect timeout is the enclosing scope (`connect_config`).
            let dialer = fibra_net::Dialer::new().keepalive(config.keepalive);
            let tcp = dialer.dial((host.as_str(), config.port))?;
            tls_upgrade(config, host, tcp)
        }
    }
}

#[cfg(not(feature = "tls"))]
fn tls_upgrade(config: &Config, _host: &str, tcp: TcpStream) -> Result<(Stream, Option<Vec<u8>>)> {
    match config.ssl_mode {
        SslMode::Disable | SslMode::Prefer => Ok((Stream::Tcp(tcp), None)),
        _ => Err(Error::new(
            ErrorKind::Tls,
            "sslmode requires TLS but fibra-postgres was built without the `tls` feature",
        )),
    }
}

#[cfg(feature = "tls")]
fn tls_upgrade(
    config: &Config,
    host: &str,
    mut tcp: TcpStream,
) -> Result<(Stream, Option<Vec<u8>>)> {
    use fibra_net::tls::TlsConnector;
    if config.ssl_mode == SslMode::Disable {
        return Ok((Stream::Tcp(tcp), None));
    }
    let mut req = Vec::new();
    proto::encode_ssl_request(&mut req);
    tcp.write_all(&req)?;
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer)?;
    match answer[0] {
        b'S' => {
            // As libpq: prefer and require encrypt without checking the
            // certificate, unless a root certificate is configured;
            // verify-full always checks the chain and the host name.
            let verify = config.ssl_mode == SslMode::VerifyFull || config.ssl_root_cert.is_some();
            let pem = match &config.ssl_root_cert {
                Some(path) => Some(std::fs::read(path)?),
                None => None,
            };
            let roots = verify.then_some(pem.as_deref());
            let (tls_config, captured) = crate::tls::config(roots)?;
            let tls = TlsConnector::from_config(tls_config)
                .connect(host, tcp)
                .map_err(|e| Error::new(ErrorKind::Tls, "TLS handshake failed").with_source(e))?;
            let cert = captured.lock().unwrap_or_else(|e| e.into_inner()).take();
            Ok((Stream::Tls(Box::new(tls)), cert))
        }
        b'N' if config.ssl_mode == SslMode::Prefer => Ok((Stream::Tcp(tcp), None)),
        b'N' => Err(Error::new(
            ErrorKind::Tls,
            "the server does not support TLS",
        )),
        _ => Err(Error::protocol("bad answer to SSLRequest")),
    }
}
