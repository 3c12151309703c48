//! Optimistic transactions: WATCH, then MULTI/EXEC.

use crate::cmd::{cmd, pipe, Pipeline};
use crate::conn::Connection;
use crate::error::Result;
use crate::types::ToRedisArgs;

impl Connection {
    /// Runs `f` as an optimistic transaction over `keys`, retrying while
    /// another client changes a watched key.
    ///
    /// Each round sends `WATCH keys`, then calls `f` with the connection
    /// (to read the current values) and an empty atomic [`Pipeline`]; `f`
    /// adds the writes and runs `pipe.query(conn)`, reading the result as
    /// an `Option`: `None` means EXEC was aborted because a watched key
    /// changed, and `f` returning `Ok(None)` starts another round.
    ///
    /// ```no_run
    /// # fn main() -> fibra_redis::Result<()> {
    /// let mut conn = fibra_redis::Connection::connect("redis://127.0.0.1/")?;
    /// let (n,): (i64,) = conn.transaction("balance", |conn, pipe| {
    ///     let old: i64 = conn.get::<_, Option<i64>>("balance")?.unwrap_or(0);
    ///     pipe.cmd(fibra_redis::cmd("SET").arg("balance").arg(old + 10)).ignore()
    ///         .cmd(fibra_redis::cmd("GET").arg("balance"))
    ///         .query(conn)
    /// })?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Whatever `f` returns, and the errors of `WATCH`. After an error the
    /// keys are unwatched (when the connection still works).
    pub fn transaction<K, T, F>(&mut self, keys: K, mut f: F) -> Result<T>
    where
        K: ToRedisArgs,
        F: FnMut(&mut Connection, &mut Pipeline) -> Result<Option<T>>,
    {
        let watch = cmd("WATCH").arg(keys);
        loop {
            watch.execute(self)?;
            let mut p = pipe();
            p.atomic();
            match f(self, &mut p) {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => continue,
                Err(e) => {
                    if !self.is_broken() {
                        let _ = cmd("UNWATCH").execute(self);
                    }
                    return Err(e);
                }
            }
        }
    }
}
