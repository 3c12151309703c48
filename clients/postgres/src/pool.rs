//! Pooling with the runtime's generic pool.

use fibra_runtime::pool::{Manage, PooledConn};

use crate::client::Client;
use crate::config::Config;
use crate::error::{Error, Result};

/// Opens and checks pooled connections for [`Pool`]. Each connection keeps
/// its own statement cache for its whole life in the pool.
///
/// ```no_run
/// # fn main() -> fibra_postgres::Result<()> {
/// use fibra_postgres::{Manager, Pool};
///
/// let pool = Pool::builder()
///     .max_size(16)
///     .test_on_checkout(true)
///     .build(Manager::from_url("postgres://app@127.0.0.1/app")?);
/// let mut conn = pool.get()?;
/// let n: i64 = conn.query_one("SELECT count(*) FROM users", &[])?.get(0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Manager {
    config: Config,
}

impl Manager {
    /// A manager connecting with `config`.
    pub fn new(config: Config) -> Manager {
        Manager { config }
    }

    /// A manager for a URL or `key=value` string.
    ///
    /// # Errors
    /// A malformed string.
    pub fn from_url(params: &str) -> Result<Manager> {
        Ok(Manager::new(params.parse()?))
    }

    /// The connection settings.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

impl Manage for Manager {
    type Conn = Client;
    type Error = Error;

    fn connect(&self) -> Result<Client> {
        Client::connect_with(&self.config)
    }

    /// An empty query round trip, when the pool tests connections on
    /// checkout.
    fn is_valid(&self, conn: &mut Client) -> bool {
        conn.ping().is_ok()
    }

    /// A connection that saw an I/O, timeout or protocol error, or that
    /// comes back inside a transaction block, is closed rather than reused.
    fn has_broken(&self, conn: &mut Client) -> bool {
        conn.is_broken() || conn.is_in_transaction()
    }
}

/// A pool of connections: the runtime's [`fibra_runtime::pool::Pool`] with
/// a [`Manager`]. `pool.get()?` converts its error into [`Error`] with `?`.
pub type Pool = fibra_runtime::pool::Pool<Manager>;

/// A connection checked out of a [`Pool`]; derefs to [`Client`].
pub type PooledClient = PooledConn<Manager>;
