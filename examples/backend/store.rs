//! Links in PostgreSQL: migrations applied at start, a connection pool, and
//! queries as prepared statements (each pooled connection prepares a query
//! the first time it runs it and keeps the statement in its cache).

use std::time::Duration;

use fibra::postgres::{sqlstate, Manager, Pool, PooledClient, Row};
use serde::{Deserialize, Serialize};

/// One short link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The short code: `/<code>` redirects to `url`.
    pub code: String,
    /// The target.
    pub url: String,
    /// The target page's `<title>`, once fetched.
    pub title: Option<String>,
    /// Redirects served (as of when this copy was read).
    pub hits: i64,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// Schema changes, applied in order, each once (recorded in
/// `backend_schema_migrations`).
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "CREATE TABLE backend_links (
            code       text PRIMARY KEY,
            url        text NOT NULL,
            title      text,
            hits       int8 NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now()
        )",
    ),
    (
        2,
        "CREATE INDEX backend_links_created_at ON backend_links (created_at DESC)",
    ),
];

/// Serializes migrations across instances starting together.
const MIGRATION_LOCK: i64 = 0x6669_6272_615f_6c6b; // "fibra_lk"

/// The columns of a [`Link`], for `concat!` into queries.
macro_rules! columns {
    () => {
        "code, url, title, hits, (extract(epoch FROM created_at) * 1000)::int8 AS created_at"
    };
}

/// Why a store call failed.
#[derive(Debug)]
pub enum StoreError {
    /// The code is taken.
    Duplicate,
    /// The database failed.
    Db(fibra::postgres::Error),
}

impl From<fibra::postgres::Error> for StoreError {
    fn from(e: fibra::postgres::Error) -> StoreError {
        if e.code() == Some(sqlstate::UNIQUE_VIOLATION) {
            StoreError::Duplicate
        } else {
            StoreError::Db(e)
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Duplicate => f.write_str("that code is taken"),
            StoreError::Db(e) => write!(f, "database: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

type Result<T> = std::result::Result<T, StoreError>;

/// The links table behind a connection pool.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

fn link(row: &Row) -> Link {
    Link {
        code: row.get("code"),
        url: row.get("url"),
        title: row.get("title"),
        hits: row.get("hits"),
        created_at: row.get("created_at"),
    }
}

impl Store {
    /// Opens the pool and applies pending migrations.
    ///
    /// # Errors
    /// A malformed URL, an unreachable server, a failed migration.
    pub fn open(url: &str, max_size: usize) -> Result<Store> {
        let manager = Manager::from_url(url)?;
        let pool = Pool::builder()
            .max_size(max_size)
            .checkout_timeout(Some(Duration::from_secs(5)))
            .idle_timeout(Some(Duration::from_secs(300)))
            .build(manager);
        let store = Store { pool };
        store.migrate()?;
        Ok(store)
    }

    fn conn(&self) -> Result<PooledClient> {
        Ok(self.pool.get().map_err(fibra::postgres::Error::from)?)
    }

    /// Applies the migrations not yet recorded, in one transaction under an
    /// advisory lock (two instances starting at once do not race).
    fn migrate(&self) -> Result<()> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        // No "already exists, skipping" notice on every start.
        tx.batch_execute("SET LOCAL client_min_messages = warning")?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS backend_schema_migrations (
                version    int4 PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )?;
        let applied: Vec<i32> = tx
            .query("SELECT version FROM backend_schema_migrations", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for (version, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            tx.batch_execute(sql)?;
            tx.execute(
                "INSERT INTO backend_schema_migrations (version) VALUES ($1)",
                &[version],
            )?;
            tracing::info!(version, "applied migration");
        }
        tx.commit()?;
        Ok(())
    }

    /// Inserts a link.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] when `code` is taken.
    pub fn create(&self, code: &str, url: &str) -> Result<Link> {
        let sql = concat!(
            "INSERT INTO backend_links (code, url) VALUES ($1, $2) RETURNING ",
            columns!()
        );
        Ok(link(&self.conn()?.query_one(sql, &[&code, &url])?))
    }

    /// The link with `code`.
    ///
    /// # Errors
    /// The database's.
    pub fn get(&self, code: &str) -> Result<Option<Link>> {
        let sql = concat!("SELECT ", columns!(), " FROM backend_links WHERE code = $1");
        Ok(self.conn()?.query_opt(sql, &[&code])?.as_ref().map(link))
    }

    /// The newest links.
    ///
    /// # Errors
    /// The database's.
    pub fn list(&self, limit: i64) -> Result<Vec<Link>> {
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM backend_links ORDER BY created_at DESC, code LIMIT $1"
        );
        Ok(self
            .conn()?
            .query(sql, &[&limit])?
            .iter()
            .map(link)
            .collect())
    }

    /// Sets a link's title.
    ///
    /// # Errors
    /// The database's.
    pub fn set_title(&self, code: &str, title: &str) -> Result<Option<Link>> {
        let sql = concat!(
            "UPDATE backend_links SET title = $2 WHERE code = $1 RETURNING ",
            columns!()
        );
        Ok(self
            .conn()?
            .query_opt(sql, &[&code, &title])?
            .as_ref()
            .map(link))
    }

    /// Counts a redirect; returns the new count (`None`: no such link).
    ///
    /// # Errors
    /// The database's.
    pub fn hit(&self, code: &str) -> Result<Option<i64>> {
        let row = self.conn()?.query_opt(
            "UPDATE backend_links SET hits = hits + 1 WHERE code = $1 RETURNING hits",
            &[&code],
        )?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Deletes a link; returns it as it was (`None`: no such link).
    ///
    /// # Errors
    /// The database's.
    pub fn delete(&self, code: &str) -> Result<Option<Link>> {
        let sql = concat!(
            "DELETE FROM backend_links WHERE code = $1 RETURNING ",
            columns!()
        );
        Ok(self.conn()?.query_opt(sql, &[&code])?.as_ref().map(link))
    }
}
