//! Prepared statements.

use std::sync::{Arc, Mutex, Weak};

use crate::client::Client;
use crate::error::Result;
use crate::row::Column;
use crate::types::Type;

/// A prepared statement: its server-side name, parameter types and result
/// columns. Cheap to clone; closed on the server (with the connection's
/// next request) once the last clone is dropped. Only valid on the
/// connection that prepared it.
#[derive(Clone)]
pub struct Statement {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    params: Vec<Type>,
    columns: Arc<[Column]>,
    close: Option<Weak<Mutex<Vec<String>>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(queue) = self.close.as_ref().and_then(Weak::upgrade) {
            queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(std::mem::take(&mut self.name));
        }
    }
}

impl std::fmt::Debug for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statement")
            .field("name", &self.inner.name)
            .field("params", &self.inner.params)
            .field("columns", &self.inner.columns)
            .finish()
    }
}

impl Statement {
    pub(crate) fn new(
        name: String,
        params: Vec<Type>,
        columns: Vec<Column>,
        close: Option<Weak<Mutex<Vec<String>>>>,
    ) -> Statement {
        Statement {
            inner: Arc::new(Inner {
                name,
                params,
                columns: columns.into(),
                close,
            }),
        }
    }

    /// The server-side name (empty for the unnamed statement).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The parameter types, as the server inferred or was told.
    pub fn params(&self) -> &[Type] {
        &self.inner.params
    }

    /// The result columns (empty for statements returning no rows).
    pub fn columns(&self) -> &[Column] {
        &self.inner.columns
    }

    pub(crate) fn columns_arc(&self) -> Arc<[Column]> {
        self.inner.columns.clone()
    }
}

/// What a query method accepts as its statement: SQL text (prepared
/// through the connection's statement cache) or a [`Statement`].
pub trait ToStatement {
    /// The prepared statement for `self` on `client`.
    ///
    /// # Errors
    /// Preparing failed (a server error or an I/O error).
    fn to_statement(&self, client: &mut Client) -> Result<Statement>;
}

impl ToStatement for str {
    fn to_statement(&self, client: &mut Client) -> Result<Statement> {
        client.cached(self)
    }
}

impl ToStatement for String {
    fn to_statement(&self, client: &mut Client) -> Result<Statement> {
        client.cached(self)
    }
}

impl ToStatement for Statement {
    fn to_statement(&self, _: &mut Client) -> Result<Statement> {
        Ok(self.clone())
    }
}
