//! fibra-postgres: a PostgreSQL client and pool for fibra, written as plain
//! blocking code: a call parks only the calling coroutine while it waits
//! for the server.
//!
//! ```no_run
//! use fibra_postgres::{Client, Pool, Manager};
//!
//! # fn main() -> fibra_postgres::Result<()> {
//! fibra_runtime::run(|| -> fibra_postgres::Result<()> {
//!     let mut client = Client::connect("postgres://app:secret@127.0.0.1:5432/app")?;
//!     client.batch_execute("CREATE TEMP TABLE t (id int8 PRIMARY KEY, name text)")?;
//!     client.execute("INSERT INTO t VALUES ($1, $2)", &[&1i64, &"one"])?;
//!     let row = client.query_one("SELECT name FROM t WHERE id = $1", &[&1i64])?;
//!     let name: &str = row.get("name");
//!     assert_eq!(name, "one");
//!
//!     let pool = Pool::builder().max_size(8).build(Manager::from_url("postgres://app@127.0.0.1/app")?);
//!     let handles: Vec<_> = (0..8).map(|i: i32| {
//!         let pool = pool.clone();
//!         fibra_runtime::spawn(move || -> fibra_postgres::Result<i32> {
//!             let mut c = pool.get()?;
//!             Ok(c.query_one("SELECT $1::int4 * 2", &[&i])?.get(0))
//!         })
//!     }).collect();
//!     for h in handles {
//!         h.join().unwrap()?;
//!     }
//!     Ok(())
//! })
//! # }
//! ```
//!
//! The pieces: [`Client`] (connect from a URL, a `key=value` string or a
//! [`Config`]; TCP or Unix socket; trust, cleartext, md5 and SCRAM-SHA-256
//! authentication), the extended protocol with binary parameters and
//! results through [`ToSql`]/[`FromSql`] ([`types`]), a per-connection
//! statement cache, [`Row`]s by index or name and a streaming [`RowIter`],
//! [`Transaction`]s with nested savepoints, `COPY` as `Write`/`Read`
//! ([`CopyInWriter`], [`CopyOutReader`]), LISTEN/NOTIFY
//! ([`Notifications`]), [`CancelToken`], server notices as `tracing`
//! events (target `fibra_postgres::notice`), one [`Error`] type with the
//! server's fields, and a [`Pool`]. The wire format lives in [`proto`],
//! without I/O.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod auth;
mod backend;
mod client;
mod config;
mod copy;
mod enums;
mod error;
mod notify;
mod pool;
pub mod proto;
mod row;
mod startup;
mod statement;
mod transaction;
mod transport;
pub mod types;

pub use client::Client;
pub use config::{ChannelBinding, Config, Host, IsolationLevel, SslMode};
pub use copy::{CopyInWriter, CopyOutReader};
pub use error::{sqlstate, DbError, Error, ErrorKind, Result};
pub use notify::{BlockingIter, CancelToken, Notification, Notifications};
pub use pool::{Manager, Pool, PooledClient};
pub use row::{Column, Row, RowIndex, RowIter};
pub use statement::{Statement, ToStatement};
pub use transaction::{Transaction, TransactionBuilder};
pub use types::{FromSql, ToSql, Type};
