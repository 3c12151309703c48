//! Commands and pipelines.

use std::fmt;

use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::proto::{self, Value};
use crate::types::{FromRedis, ToRedisArgs};

/// A command with its arguments, encoded as it is built.
///
/// ```
/// let c = fibra_redis::cmd("SET").arg("key").arg(42).arg("EX").arg(60);
/// assert_eq!(c.args_len(), 5);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Cmd {
    /// The arguments as RESP bulk strings, back to back.
    args: Vec<u8>,
    argc: usize,
}

/// A command named `name`; add arguments with [`Cmd::arg`].
pub fn cmd(name: &str) -> Cmd {
    let mut c = Cmd {
        args: Vec::with_capacity(64),
        argc: 0,
    };
    c.push_bytes(name.as_bytes());
    c
}

impl Cmd {
    /// An empty command, for building one argument at a time with
    /// [`Cmd::push_arg`].
    pub fn new() -> Cmd {
        Cmd::default()
    }

    /// Adds an argument (or several: see [`ToRedisArgs`]).
    #[must_use]
    pub fn arg<T: ToRedisArgs>(mut self, arg: T) -> Cmd {
        arg.write_redis_args(&mut self);
        self
    }

    /// Adds an argument in place.
    pub fn push_arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Cmd {
        arg.write_redis_args(self);
        self
    }

    /// Adds one argument of raw bytes.
    pub fn push_bytes(&mut self, arg: &[u8]) {
        proto::encode_bulk(arg, &mut self.args);
        self.argc += 1;
    }

    /// Adds one integer argument.
    pub fn push_int(&mut self, n: i64) {
        self.push_bytes(itoa::Buffer::new().format(n).as_bytes());
    }

    /// Appends all of `other`'s arguments.
    pub(crate) fn extend(&mut self, other: &Cmd) {
        self.args.extend_from_slice(&other.args);
        self.argc += other.argc;
    }

    /// How many arguments, the name included.
    pub fn args_len(&self) -> usize {
        self.argc
    }

    /// The arguments, the name first.
    fn args(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest = &self.args[..];
        std::iter::from_fn(move || {
            // Each argument is `$<len>\r\n<bytes>\r\n`.
            let nl = rest.iter().position(|&b| b == b'\n')?;
            let len: usize = std::str::from_utf8(rest.get(1..nl.checked_sub(1)?)?)
                .ok()?
                .parse()
                .ok()?;
            let arg = rest.get(nl + 1..nl + 1 + len)?;
            rest = rest.get(nl + 1 + len + 2..).unwrap_or_default();
            Some(arg)
        })
    }

    /// How long the server may legitimately hold the reply of a blocking
    /// command (`BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH`, `BLMPOP`,
    /// `BZPOPMIN`, `BZPOPMAX`, `BZMPOP`, `XREAD`/`XREADGROUP … BLOCK`,
    /// `WAIT`, `WAITAOF`): `None` for other commands, `Some(None)` for a
    /// blocking command that waits for ever (timeout 0), `Some(Some(t))`
    /// otherwise. The connection's read timeout is stretched to cover it,
    /// as go-redis does.
    pub(crate) fn block_timeout(&self) -> Option<Option<std::time::Duration>> {
        let args: Vec<&[u8]> = self.args().collect();
        let name = args.first()?.to_ascii_uppercase();
        let num = |a: &[u8]| -> Option<f64> { std::str::from_utf8(a).ok()?.parse().ok() };
        let secs = match name.as_slice() {
            b"BLPOP" | b"BRPOP" | b"BLMOVE" | b"BRPOPLPUSH" | b"BZPOPMIN" | b"BZPOPMAX" => {
                num(args.last()?)?
            }
            b"BLMPOP" | b"BZMPOP" => num(args.get(1)?)?,
            b"WAIT" | b"WAITAOF" => num(args.last()?)? / 1000.0,
            b"XREAD" | b"XREADGROUP" => {
                let at = args.iter().position(|a| a.eq_ignore_ascii_case(b"BLOCK"))?;
                num(args.get(at + 1)?)? / 1000.0
            }
            _ => return None,
        };
        if secs <= 0.0 || !secs.is_finite() {
            return Some(None);
        }
        Some(std::time::Duration::try_from_secs_f64(secs).ok())
    }

    /// Appends the command's wire form to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'*');
        proto::push_int(out, self.argc as i64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.args);
    }

    /// Sends the command on `conn` and converts the reply.
    ///
    /// # Errors
    /// The server's error reply ([`ErrorKind::Server`](crate::ErrorKind),
    /// the connection stays usable), a socket or protocol error (the
    /// connection is then broken), or a conversion error.
    pub fn query<T: FromRedis>(&self, conn: &mut Connection) -> Result<T> {
        T::from_redis(conn.request(self)?)
    }

    /// [`Cmd::query`] ignoring the reply.
    ///
    /// # Errors
    /// As [`Cmd::query`].
    pub fn execute(&self, conn: &mut Connection) -> Result<()> {
        self.query(conn)
    }
}

impl fmt::Debug for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The arguments, decoded back out of their wire form.
        let mut wire = Vec::new();
        self.encode(&mut wire);
        match proto::decode(&wire, &proto::Limits::default()) {
            Ok(proto::Decoded::Complete(Value::Array(args), _)) => {
                let mut l = f.debug_list();
                for a in args {
                    if let Value::Bulk(b) = a {
                        l.entry(&String::from_utf8_lossy(&b));
                    }
                }
                l.finish()
            }
            _ => f.write_str("Cmd(?)"),
        }
    }
}

/// Several commands sent in one write, their replies read back in one go.
///
/// ```no_run
/// # fn main() -> fibra_redis::Result<()> {
/// let mut conn = fibra_redis::Connection::connect("redis://127.0.0.1/")?;
/// let (a, b): (i64, Option<String>) = fibra_redis::pipe()
///     .cmd(fibra_redis::cmd("INCR").arg("n"))
///     .cmd(fibra_redis::cmd("SET").arg("k").arg("v")).ignore()
///     .cmd(fibra_redis::cmd("GET").arg("k"))
///     .query(&mut conn)?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Pipeline {
    wire: Vec<u8>,
    count: usize,
    ignored: Vec<bool>,
    atomic: bool,
}

/// An empty [`Pipeline`].
pub fn pipe() -> Pipeline {
    Pipeline::default()
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// Wraps the commands in MULTI/EXEC: they run as one transaction, and a
    /// WATCHed key changed by someone else makes the result nil (read it as
    /// an `Option`).
    pub fn atomic(&mut self) -> &mut Pipeline {
        self.atomic = true;
        self
    }

    /// Adds a command.
    pub fn cmd(&mut self, cmd: Cmd) -> &mut Pipeline {
        self.add(&cmd)
    }

    /// Adds a command by reference.
    pub fn add(&mut self, cmd: &Cmd) -> &mut Pipeline {
        cmd.encode(&mut self.wire);
        self.count += 1;
        self.ignored.push(false);
        self
    }

    /// Leaves the last command's reply out of the result.
    pub fn ignore(&mut self) -> &mut Pipeline {
        if let Some(last) = self.ignored.last_mut() {
            *last = true;
        }
        self
    }

    /// How many commands.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no commands.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Removes all commands (keeping the allocation and the atomic flag).
    pub fn clear(&mut self) {
        self.wire.clear();
        self.count = 0;
        self.ignored.clear();
    }

    /// Sends every command in one write, reads every reply, and converts
    /// the replies not ignored, as an array, into `T` (a tuple, a `Vec`, or
    /// `()`). An atomic pipeline whose transaction was aborted by WATCH
    /// converts nil instead.
    ///
    /// # Errors
    /// The first error reply among the commands (all replies are read
    /// first, so the connection stays in step and usable), `EXECABORT`
    /// details for a transaction that failed to queue, socket and protocol
    /// errors (the connection is then broken), conversion errors.
    pub fn query<T: FromRedis>(&self, conn: &mut Connection) -> Result<T> {
        if self.atomic {
            return self.query_atomic(conn);
        }
        conn.write_raw(&self.wire)?;
        let mut out = Vec::with_capacity(self.count);
        let mut first_err = None;
        for i in 0..self.count {
            let v = conn.read_reply()?;
            if let Value::Error(e) = v {
                first_err.get_or_insert(e);
            } else if !self.ignored[i] {
                out.push(v);
            }
        }
        if let Some(e) = first_err {
            return Err(e.into());
        }
        T::from_redis(Value::Array(out))
    }

    fn query_atomic<T: FromRedis>(&self, conn: &mut Connection) -> Result<T> {
        let mut wire = Vec::with_capacity(self.wire.len() + 32);
        wire.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
        wire.extend_from_slice(&self.wire);
        wire.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
        conn.write_raw(&wire)?;
        let mut first_err = None;
        for _ in 0..self.count + 1 {
            if let Value::Error(e) = conn.read_reply()? {
                first_err.get_or_insert(e);
            }
        }
        let exec = conn.read_reply()?;
        if let Some(e) = first_err {
            return Err(e.into());
        }
        match exec {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (v, ignored) in items.into_iter().zip(&self.ignored) {
                    if let Value::Error(e) = v {
                        return Err(e.into());
                    }
                    if !ignored {
                        out.push(v);
                    }
                }
                T::from_redis(Value::Array(out))
            }
            Value::Nil => T::from_redis(Value::Nil),
            Value::Error(e) => Err(e.into()),
            other => Err(Error::protocol(format!("unexpected EXEC reply {other:?}"))),
        }
    }

    /// [`Pipeline::query`] ignoring the replies.
    ///
    /// # Errors
    /// As [`Pipeline::query`].
    pub fn execute(&self, conn: &mut Connection) -> Result<()> {
        self.query::<Value>(conn).map(drop)
    }
}

#[cfg(test)]
mod block_timeout_tests {
    use super::cmd;
    use std::time::Duration;

    #[test]
    fn blocking_commands_say_how_long_they_may_block() {
        let s = |t: f64| Some(Some(Duration::from_secs_f64(t)));
        assert_eq!(cmd("GET").arg("k").block_timeout(), None);
        assert_eq!(
            cmd("BLPOP").arg("a").arg("b").arg(2.5).block_timeout(),
            s(2.5)
        );
        assert_eq!(cmd("blpop").arg("a").arg(0).block_timeout(), Some(None));
        assert_eq!(
            cmd("BLMPOP")
                .arg(7)
                .arg(1)
                .arg("k")
                .arg("LEFT")
                .block_timeout(),
            s(7.0)
        );
        assert_eq!(cmd("WAIT").arg(1).arg(1500).block_timeout(), s(1.5));
        let x = cmd("XREAD").arg("COUNT").arg(1).arg("BLOCK").arg(250);
        assert_eq!(x.arg("STREAMS").arg("s").arg("$").block_timeout(), s(0.25));
        assert_eq!(
            cmd("XREAD")
                .arg("STREAMS")
                .arg("s")
                .arg("0")
                .block_timeout(),
            None
        );
    }
}
