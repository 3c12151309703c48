//! Pooling with the runtime's generic pool.

use fibra_runtime::pool::{Manage, PooledConn};

use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::info::ConnectionInfo;

/// Opens and checks pooled Redis connections for [`Pool`].
///
/// ```no_run
/// # fn main() -> fibra_redis::Result<()> {
/// use fibra_redis::{Manager, Pool};
///
/// let pool = Pool::builder().max_size(16).build(Manager::from_url("redis://127.0.0.1/")?);
/// let mut conn = pool.get()?;
/// conn.set("k", "v")?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Manager {
    info: ConnectionInfo,
}

impl Manager {
    /// A manager connecting as `info` says.
    pub fn new(info: ConnectionInfo) -> Manager {
        Manager { info }
    }

    /// A manager for a `redis://` or `rediss://` URL.
    ///
    /// # Errors
    /// As [`ConnectionInfo::from_url`].
    pub fn from_url(url: &str) -> Result<Manager> {
        Ok(Manager::new(ConnectionInfo::from_url(url)?))
    }

    /// The connection settings.
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }
}

impl Manage for Manager {
    type Conn = Connection;
    type Error = Error;

    fn connect(&self) -> Result<Connection> {
        Connection::connect_with(&self.info)
    }

    /// `PING`, when the pool tests connections on checkout.
    fn is_valid(&self, conn: &mut Connection) -> bool {
        conn.ping().is_ok()
    }

    /// A connection that saw a socket, timeout or protocol error is closed
    /// rather than reused.
    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.is_broken()
    }
}

/// A pool of Redis connections: the runtime's [`fibra_runtime::pool::Pool`]
/// with a [`Manager`]. `pool.get()?` converts its error into [`Error`]
/// with `?`.
pub type Pool = fibra_runtime::pool::Pool<Manager>;

/// A connection checked out of a [`Pool`]; derefs to [`Connection`].
pub type PooledConnection = PooledConn<Manager>;
