//! Transactions and savepoints.

use std::ops::{Deref, DerefMut};

use crate::client::Client;
use crate::config::IsolationLevel;
use crate::error::{Error, ErrorKind, Result};

/// An open transaction (or, nested, a savepoint). Derefs to [`Client`], so
/// every query method works on it.
///
/// **Dropping a transaction without [`commit`](Transaction::commit) rolls
/// it back** (`ROLLBACK`, or `ROLLBACK TO SAVEPOINT` + `RELEASE` for a
/// nested one), blocking the coroutine for that round trip; if the rollback
/// itself fails the connection is marked broken, so a pool discards it
/// rather than reuse a connection in an unknown transaction state.
///
/// ```no_run
/// # fn f(client: &mut fibra_postgres::Client) -> fibra_postgres::Result<()> {
/// let mut tx = client.transaction()?;
/// tx.execute("INSERT INTO log (msg) VALUES ($1)", &[&"outer"])?;
/// {
///     let mut sp = tx.transaction()?; // SAVEPOINT
///     sp.execute("INSERT INTO log (msg) VALUES ($1)", &[&"inner"])?;
///     // dropped: ROLLBACK TO SAVEPOINT, "inner" is gone
/// }
/// tx.commit()?; // "outer" stays
/// # Ok(()) }
/// ```
pub struct Transaction<'a> {
    client: &'a mut Client,
    savepoint: Option<String>,
    done: bool,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("savepoint", &self.savepoint)
            .finish()
    }
}

impl Client {
    /// Starts a transaction (`BEGIN`).
    ///
    /// # Errors
    /// As [`Client::batch_execute`].
    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        self.build_transaction().start()
    }

    /// A [`TransactionBuilder`] for isolation level, read-only and
    /// deferrable transactions.
    pub fn build_transaction(&mut self) -> TransactionBuilder<'_> {
        TransactionBuilder {
            client: self,
            isolation: None,
            read_only: None,
            deferrable: None,
        }
    }
}

/// Configures a transaction; from [`Client::build_transaction`].
#[derive(Debug)]
pub struct TransactionBuilder<'a> {
    client: &'a mut Client,
    isolation: Option<IsolationLevel>,
    read_only: Option<bool>,
    deferrable: Option<bool>,
}

impl<'a> TransactionBuilder<'a> {
    /// The isolation level.
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.isolation = Some(level);
        self
    }

    /// `READ ONLY` or `READ WRITE`.
    pub fn read_only(mut self, on: bool) -> Self {
        self.read_only = Some(on);
        self
    }

    /// `DEFERRABLE` (meaningful for serializable read-only transactions).
    pub fn deferrable(mut self, on: bool) -> Self {
        self.deferrable = Some(on);
        self
    }

    /// Sends `BEGIN` with the chosen modes.
    ///
    /// # Errors
    /// As [`Client::batch_execute`]; a [`ErrorKind::Config`] error if the
    /// connection is already in a transaction block (nest with
    /// [`Transaction::transaction`] or [`Transaction::savepoint`]).
    pub fn start(self) -> Result<Transaction<'a>> {
        if self.client.is_in_transaction() {
            return Err(Error::new(
                ErrorKind::Config,
                "already in a transaction: nest with Transaction::transaction or savepoint",
            ));
        }
        let mut sql = String::from("BEGIN");
        let mut modes = Vec::new();
        if let Some(l) = self.isolation {
            modes.push(format!("ISOLATION LEVEL {}", l.sql()));
        }
        match self.read_only {
            Some(true) => modes.push("READ ONLY".into()),
            Some(false) => modes.push("READ WRITE".into()),
            None => {}
        }
        match self.deferrable {
            Some(true) => modes.push("DEFERRABLE".into()),
            Some(false) => modes.push("NOT DEFERRABLE".into()),
            None => {}
        }
        if !modes.is_empty() {
            sql.push(' ');
            sql.push_str(&modes.join(", "));
        }
        self.client.batch_execute(&sql)?;
        self.client.depth = 1;
        Ok(Transaction {
            client: self.client,
            savepoint: None,
            done: false,
        })
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Transaction<'_> {
    /// Starts a nested transaction: a savepoint with a generated name.
    ///
    /// # Errors
    /// As [`Client::batch_execute`].
    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        let name = format!("fibra_sp_{}", self.client.depth);
        self.savepoint(&name)
    }

    /// Starts a nested transaction as the savepoint `name`.
    ///
    /// # Errors
    /// As [`Client::batch_execute`].
    pub fn savepoint(&mut self, name: &str) -> Result<Transaction<'_>> {
        self.client
            .batch_execute(&format!("SAVEPOINT {}", quote_ident(name)))?;
        self.client.depth += 1;
        Ok(Transaction {
            client: self.client,
            savepoint: Some(name.to_owned()),
            done: false,
        })
    }

    /// Commits (`COMMIT`, or `RELEASE SAVEPOINT` for a nested transaction).
    ///
    /// # Errors
    /// As [`Client::batch_execute`]; a failed commit (e.g. a serialization
    /// failure, SQLSTATE `40001`) leaves the transaction rolled back.
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        self.client.depth = self.client.depth.saturating_sub(1);
        match &self.savepoint {
            Some(n) => {
                let sql = format!("RELEASE SAVEPOINT {}", quote_ident(n));
                self.client.batch_execute(&sql)
            }
            None => self.client.batch_execute("COMMIT"),
        }
    }

    /// Rolls back (`ROLLBACK`, or back to the savepoint).
    ///
    /// # Errors
    /// As [`Client::batch_execute`].
    pub fn rollback(mut self) -> Result<()> {
        self.finish_rollback()
    }

    fn finish_rollback(&mut self) -> Result<()> {
        self.done = true;
        self.client.depth = self.client.depth.saturating_sub(1);
        match &self.savepoint {
            Some(n) => {
                let n = quote_ident(n);
                let sql = format!("ROLLBACK TO SAVEPOINT {n}; RELEASE SAVEPOINT {n}");
                self.client.batch_execute(&sql)
            }
            None => self.client.batch_execute("ROLLBACK"),
        }
    }

    /// The savepoint name, for a nested transaction.
    pub fn savepoint_name(&self) -> Option<&str> {
        self.savepoint.as_deref()
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done && !self.client.is_broken() {
            if let Err(e) = self.finish_rollback() {
                tracing::debug!(error = %e, "fibra-postgres: rollback on drop failed");
                let _ = self.client.fail(e);
            }
        }
    }
}

impl Deref for Transaction<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.client
    }
}

impl DerefMut for Transaction<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client
    }
}
