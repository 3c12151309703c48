//! Lua scripts run with EVALSHA, loaded on demand.

use crate::cmd::{cmd, Cmd};
use crate::conn::Connection;
use crate::error::{Result, ServerErrorKind};
use crate::types::{FromRedis, ToRedisArgs};

/// A Lua script, known to the server by its SHA-1.
///
/// [`ScriptCall::invoke`] sends `EVALSHA`; when the server answers
/// `NOSCRIPT` (first use, restart, `SCRIPT FLUSH`) it loads the script with
/// `SCRIPT LOAD` and retries once, so the script body crosses the network
/// once per server, not once per call.
///
/// ```no_run
/// # fn main() -> fibra_redis::Result<()> {
/// let mut conn = fibra_redis::Connection::connect("redis://127.0.0.1/")?;
/// let script = fibra_redis::Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
/// let n: i64 = script.key("counter").arg(5).invoke(&mut conn)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Script {
    code: String,
    hash: String,
}

impl Script {
    /// A script from its Lua source.
    pub fn new(code: &str) -> Script {
        Script {
            code: code.to_owned(),
            hash: sha1_smol::Sha1::from(code).digest().to_string(),
        }
    }

    /// The script's SHA-1, in hex, as EVALSHA wants it.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Starts a call with one key (`KEYS[1]`).
    pub fn key<K: ToRedisArgs>(&self, key: K) -> ScriptCall<'_> {
        self.prepare().key(key)
    }

    /// Starts a call with one argument (`ARGV[1]`).
    pub fn arg<A: ToRedisArgs>(&self, arg: A) -> ScriptCall<'_> {
        self.prepare().arg(arg)
    }

    /// Starts a call without keys or arguments yet.
    pub fn prepare(&self) -> ScriptCall<'_> {
        ScriptCall {
            script: self,
            keys: Cmd::new(),
            args: Cmd::new(),
        }
    }

    /// `SCRIPT LOAD`s the script now.
    ///
    /// # Errors
    /// The server's error for a script that does not compile; socket
    /// errors.
    pub fn load(&self, conn: &mut Connection) -> Result<()> {
        let _: String = cmd("SCRIPT").arg("LOAD").arg(&self.code).query(conn)?;
        Ok(())
    }
}

/// A script call being built: keys and arguments.
#[derive(Debug, Clone)]
pub struct ScriptCall<'a> {
    script: &'a Script,
    keys: Cmd,
    args: Cmd,
}

impl ScriptCall<'_> {
    /// Adds a key (or several).
    #[must_use]
    pub fn key<K: ToRedisArgs>(mut self, key: K) -> Self {
        self.keys.push_arg(key);
        self
    }

    /// Adds an argument (or several).
    #[must_use]
    pub fn arg<A: ToRedisArgs>(mut self, arg: A) -> Self {
        self.args.push_arg(arg);
        self
    }

    fn evalsha(&self) -> Cmd {
        let mut c = cmd("EVALSHA")
            .arg(self.script.hash.as_str())
            .arg(self.keys.args_len());
        c.extend(&self.keys);
        c.extend(&self.args);
        c
    }

    /// Runs the script and converts its result.
    ///
    /// # Errors
    /// Errors the script raises (`ERR …` from `redis.error_reply` or a
    /// failing call), `SCRIPT LOAD` errors, socket errors, conversion
    /// errors.
    pub fn invoke<T: FromRedis>(&self, conn: &mut Connection) -> Result<T> {
        let c = self.evalsha();
        match conn.query(&c) {
            Err(e) if e.server_error().map(|s| s.kind()) == Some(ServerErrorKind::NoScript) => {
                self.script.load(conn)?;
                conn.query(&c)
            }
            r => r,
        }
    }
}
