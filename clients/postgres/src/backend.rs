//! The message loop: reading backend messages (frames) out of the read
//! buffer, handling the asynchronous ones (notices, notifications,
//! parameter changes) on the way, and sending what the query path queued.

use std::ops::Range;

use crate::client::Client;
use crate::error::{DbError, Error, Result};
use crate::notify::Notification;
use crate::proto::{self, Message};
use crate::row::Column;
use crate::types::Type;

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

impl Client {
    pub(crate) fn fail(&mut self, e: Error) -> Error {
        self.broken = true;
        e
    }

    /// Writes the pending output.
    pub(crate) fn send(&mut self) -> Result<()> {
        if self.broken {
            self.conn.write_buf().clear();
            return Err(Error::closed());
        }
        let r = self.conn.flush();
        r.map_err(|e| self.fail(Error::io(e)))
    }

    /// Reads until a complete message is buffered; returns its tag and body
    /// range (in [`Client::buffered`]). The range stays valid until the
    /// next read.
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
        self.conn.consume(std::mem::take(&mut self.frame));
        loop {
            let avail = self.conn.buffered();
            if let Some(len) = proto::frame_len(avail)? {
                self.frame = len;
                return Ok((avail[0], 5..len));
            }
            self.conn.fill().map_err(Error::io)?;
        }
    }

    /// Reads the next message that is not asynchronous (notices,
    /// notifications and parameter changes are handled here).
    pub(crate) fn recv(&mut self) -> Result<Backend> {
        loop {
            let (tag, body) = self.read_frame()?;
            let start = body.start;
            let msg = match proto::parse(tag, &self.conn.buffered()[body.clone()]) {
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
        &self.conn.buffered()[r]
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
                        self.conn.write_buf(),
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

    pub(crate) fn unexpected(&mut self, what: &Backend) -> Error {
        self.fail(Error::protocol(format!("unexpected message {what:?}")))
    }

    /// Appends `Close` messages for statements dropped since the last call.
    pub(crate) fn queue_closes(&mut self) {
        let names = std::mem::take(&mut *self.to_close.lock().unwrap_or_else(|e| e.into_inner()));
        for n in names {
            proto::encode_close(self.conn.write_buf(), b'S', &n);
        }
    }
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
