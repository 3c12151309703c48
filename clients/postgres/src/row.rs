//! Result rows.

use std::ops::Range;
use std::sync::Arc;

use crate::backend::Backend;
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::DataRowBody;
use crate::types::{FromSql, Type};

/// A result column: name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub(crate) name: String,
    pub(crate) type_: Type,
    pub(crate) table_oid: u32,
    pub(crate) column_id: i16,
}

impl Column {
    /// The column's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column's type.
    pub fn type_(&self) -> &Type {
        &self.type_
    }

    /// The OID of the table it comes from, if it is a plain table column.
    pub fn table_oid(&self) -> Option<u32> {
        (self.table_oid != 0).then_some(self.table_oid)
    }

    /// Its attribute number in that table.
    pub fn column_id(&self) -> Option<i16> {
        (self.column_id != 0).then_some(self.column_id)
    }
}

/// A column index: a position (`usize`) or a name (`&str`).
pub trait RowIndex: std::fmt::Display {
    /// The position of this column in `columns`.
    fn index(&self, columns: &[Column]) -> Option<usize>;
}

impl RowIndex for usize {
    fn index(&self, columns: &[Column]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
}

impl RowIndex for str {
    fn index(&self, columns: &[Column]) -> Option<usize> {
        columns.iter().position(|c| c.name == self)
    }
}

impl<T: RowIndex + ?Sized> RowIndex for &T {
    fn index(&self, columns: &[Column]) -> Option<usize> {
        (**self).index(columns)
    }
}

/// One row of a result, in binary format.
pub struct Row {
    columns: Arc<[Column]>,
    data: Vec<u8>,
    ranges: Vec<Option<Range<usize>>>,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("columns", &self.columns)
            .field("ranges", &self.ranges)
            .finish()
    }
}

impl Row {
    pub(crate) fn new(columns: Arc<[Column]>, data: &[u8], len: usize) -> Result<Row> {
        let body = DataRowBody { data, len };
        let ranges: Vec<_> = body.ranges().collect();
        if ranges.len() != columns.len() {
            return Err(Error::protocol(format!(
                "row has {} columns, its description {}",
                ranges.len(),
                columns.len()
            )));
        }
        Ok(Row {
            columns,
            data: data.to_vec(),
            ranges,
        })
    }

    /// The columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The value of a column, by position or name, converted to `T`.
    ///
    /// # Panics
    /// If the column does not exist or does not convert to `T` (a NULL into
    /// a non-`Option`, a type mismatch). [`Row::try_get`] returns an error
    /// instead.
    #[track_caller]
    pub fn get<'a, I: RowIndex, T: FromSql<'a>>(&'a self, idx: I) -> T {
        match self.try_get(idx) {
            Ok(v) => v,
            Err(e) => panic!("fibra-postgres: {e}"),
        }
    }

    /// The value of a column, by position or name, converted to `T`.
    ///
    /// # Errors
    /// [`ErrorKind::RowCount`] for a missing column; a conversion error if
    /// the value does not convert to `T`.
    pub fn try_get<'a, I: RowIndex, T: FromSql<'a>>(&'a self, idx: I) -> Result<T> {
        let Some(i) = idx.index(&self.columns) else {
            return Err(Error::new(ErrorKind::RowCount, format!("no column {idx}")));
        };
        let ty = &self.columns[i].type_;
        let r = match &self.ranges[i] {
            Some(r) => T::from_sql(ty, &self.data[r.clone()]),
            None => T::from_sql_null(ty),
        };
        r.map_err(|e| {
            Error::conversion(format!(
                "column {} ({}): {e}",
                self.columns[i].name, self.columns[i].type_
            ))
        })
    }

    /// The raw binary value of a column (`None` for NULL or a missing
    /// column).
    pub fn raw<I: RowIndex>(&self, idx: I) -> Option<&[u8]> {
        let i = idx.index(&self.columns)?;
        self.ranges[i].clone().map(|r| &self.data[r])
    }
}

/// Rows of a running query, read from the socket as the iterator advances.
/// Dropping it before the end reads and discards the remaining rows so the
/// connection stays usable.
pub struct RowIter<'a> {
    client: &'a mut Client,
    columns: Arc<[Column]>,
    done: bool,
    rows_affected: Option<u64>,
}

impl std::fmt::Debug for RowIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowIter")
            .field("columns", &self.columns)
            .field("done", &self.done)
            .finish()
    }
}

impl<'a> RowIter<'a> {
    pub(crate) fn new(client: &'a mut Client, columns: Arc<[Column]>) -> RowIter<'a> {
        RowIter {
            client,
            columns,
            done: false,
            rows_affected: None,
        }
    }

    /// The result columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The row count from the command tag, once the iterator is exhausted.
    pub fn rows_affected(&self) -> Option<u64> {
        self.rows_affected
    }

    fn step(&mut self) -> Result<Option<Row>> {
        loop {
            match self.client.recv()? {
                Backend::DataRow(r, n) => {
                    return Row::new(self.columns.clone(), self.client.buffered(r), n)
                        .map(Some)
                        .map_err(|e| self.client.fail(e));
                }
                Backend::CommandComplete(n) => self.rows_affected = Some(n),
                Backend::EmptyQuery | Backend::PortalSuspended => {}
                Backend::Ready => {
                    self.done = true;
                    return Ok(None);
                }
                Backend::Error(e) => {
                    self.done = true;
                    return Err(self.client.drain_err(e));
                }
                other => {
                    self.done = true;
                    return Err(self
                        .client
                        .fail(Error::protocol(format!("unexpected message {other:?}"))));
                }
            }
        }
    }
}

impl Iterator for RowIter<'_> {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Result<Row>> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl Drop for RowIter<'_> {
    fn drop(&mut self) {
        while !self.done {
            if self.step().is_err() {
                self.done = true;
            }
        }
    }
}
