//! The one dialler every fibra client uses: Go's `net.Dialer`.
//!
//! A [`Dialer`] resolves a host name and tries each of its addresses in
//! turn, under **one deadline for the whole dial**: the DNS lookup, every
//! address tried and the time between them. A stalling resolver, a
//! black-holed first address or a slow SYN-ACK all count against the same
//! budget, so `timeout(1 s)` means the call returns within about a second,
//! whatever the network does. An enclosing `with_timeout` scope or a
//! `cancel()` ends the dial too (the earlier deadline wins).
//!
//! When a name has several addresses, each attempt gets an equal share of
//! the time left (but at least two seconds, or all of it when less is left),
//! as Go's dialer does, so one dead address cannot eat the whole budget.
//! If every attempt fails, the error is the first address's (Go's choice:
//! the first address is the one the resolver preferred), with the host and
//! port in its message.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::addr::{no_addresses, ToSocketAddrs};
use crate::tcp::TcpStream;

/// The shortest time one address gets when several share the budget
/// (Go's `saneMinimum`).
const MIN_SHARE: Duration = Duration::from_secs(2);

/// Options for opening TCP connections (Go's `net.Dialer`).
///
/// The defaults are Go's: no timeout of its own (the OS's connect timeout,
/// or an enclosing scope, still applies), TCP keep-alive probes every 15 s,
/// and `TCP_NODELAY` on (Go sets it on every TCP connection; every fibra
/// protocol writes whole messages).
///
/// ```no_run
/// use std::time::Duration;
/// use fibra_net::Dialer;
///
/// fibra_runtime::run(|| {
///     let dialer = Dialer::new().timeout(Duration::from_secs(5));
///     let stream = dialer.dial(("db.internal", 5432)).unwrap();
///     # drop(stream);
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialer {
    timeout: Option<Duration>,
    keepalive: Option<Duration>,
    nodelay: bool,
}

impl Default for Dialer {
    fn default() -> Dialer {
        Dialer::new()
    }
}

impl Dialer {
    /// Go's defaults: no timeout, keep-alive every 15 s, `TCP_NODELAY` on.
    pub const fn new() -> Dialer {
        Dialer {
            timeout: None,
            keepalive: Some(Duration::from_secs(15)),
            nodelay: true,
        }
    }

    /// The budget for the whole dial, DNS included (`None`: no budget of
    /// its own). A zero duration means none, as in Go.
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Dialer {
        self.timeout = timeout.into().filter(|t| !t.is_zero());
        self
    }

    /// The TCP keep-alive idle time and probe interval (`None`: off).
    pub fn keepalive(mut self, period: impl Into<Option<Duration>>) -> Dialer {
        self.keepalive = period.into();
        self
    }

    /// Whether to set `TCP_NODELAY` (default on).
    pub fn nodelay(mut self, on: bool) -> Dialer {
        self.nodelay = on;
        self
    }

    /// The configured budget.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The configured keep-alive period.
    pub fn get_keepalive(&self) -> Option<Duration> {
        self.keepalive
    }

    /// Resolves `addr` and connects to the first of its addresses that
    /// accepts, within the dialler's timeout.
    ///
    /// # Errors
    /// - `TimedOut` when the budget (or an enclosing scope) runs out,
    ///   during the lookup or a connect;
    /// - a canceled error ([`fibra_runtime::is_canceled`]) when the
    ///   coroutine is canceled;
    /// - the resolver's error, or `InvalidInput` for a malformed address or
    ///   a name with no address;
    /// - otherwise the first address's connect error (`ConnectionRefused`,
    ///   …), its message naming the address.
    pub fn dial<A: ToSocketAddrs>(&self, addr: A) -> io::Result<TcpStream> {
        match self.timeout {
            Some(t) => {
                let deadline = Instant::now() + t;
                fibra_runtime::with_deadline(deadline, || self.dial_until(&addr, Some(deadline)))
            }
            None => self.dial_until(&addr, None),
        }
    }

    fn dial_until<A: ToSocketAddrs>(
        &self,
        addr: &A,
        deadline: Option<Instant>,
    ) -> io::Result<TcpStream> {
        let addrs = addr.to_socket_addrs()?;
        if addrs.is_empty() {
            return Err(no_addresses());
        }
        // An enclosing scope's deadline shares out the same way as ours.
        let deadline = fibra_runtime::effective_deadline(deadline);
        let mut first_err = None;
        for (i, a) in addrs.iter().enumerate() {
            let left = addrs.len() - i;
            let result = match share(deadline, left) {
                Some(Ok(t)) => TcpStream::connect_timeout(a, t),
                Some(Err(())) => Err(timed_out(a)),
                None => TcpStream::connect(*a),
            };
            match result {
                Ok(stream) => return self.configure(stream),
                // The whole dial is over: canceled, or the scope's deadline
                // (ours or an enclosing one) has passed.
                Err(e) if fibra_runtime::is_canceled(&e) => return Err(e),
                Err(e) => {
                    let over = deadline.is_some_and(|d| Instant::now() >= d);
                    let e = with_addr(e, a);
                    if over {
                        return Err(first_err.unwrap_or(e));
                    }
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or_else(no_addresses))
    }

    fn configure(&self, stream: TcpStream) -> io::Result<TcpStream> {
        if self.nodelay {
            stream.set_nodelay(true)?;
        }
        if self.keepalive.is_some() {
            stream.set_keepalive(self.keepalive)?;
        }
        Ok(stream)
    }
}

/// The time one of `left` remaining addresses may take: `None` without a
/// deadline, `Err` when it has passed.
fn share(deadline: Option<Instant>, left: usize) -> Option<Result<Duration, ()>> {
    let deadline = deadline?;
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Some(Err(()));
    }
    let even = remaining / u32::try_from(left.max(1)).unwrap_or(u32::MAX);
    Some(Ok(even.max(MIN_SHARE.min(remaining))))
}

fn timed_out(addr: &SocketAddr) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("dial tcp {addr}: timed out"),
    )
}

/// Adds the address to an error's message, keeping its kind. (A canceled
/// error never gets here: it keeps its payload for `is_canceled`.)
fn with_addr(e: io::Error, addr: &SocketAddr) -> io::Error {
    io::Error::new(e.kind(), format!("dial tcp {addr}: {e}"))
}

/// Whether `e` means the peer is gone or the connection broke: reset,
/// aborted, a broken pipe, not connected, or an unexpected end of stream.
/// Every fibra client and the HTTP server classify disconnects with this
/// one list, so "the server went away" means the same thing everywhere.
pub fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
            | io::ErrorKind::UnexpectedEof
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_split_the_time_left_but_not_below_two_seconds() {
        let d = Instant::now() + Duration::from_secs(12);
        let t = share(Some(d), 3).unwrap().unwrap();
        assert!(
            t > Duration::from_millis(3900) && t <= Duration::from_secs(4),
            "{t:?}"
        );
        let d = Instant::now() + Duration::from_secs(3);
        let t = share(Some(d), 3).unwrap().unwrap();
        assert_eq!(t, Duration::from_secs(2));
        let d = Instant::now() + Duration::from_millis(500);
        let t = share(Some(d), 3).unwrap().unwrap();
        assert!(t <= Duration::from_millis(500), "{t:?}");
        assert!(share(None, 3).is_none());
        assert!(share(Some(Instant::now()), 1).unwrap().is_err());
    }

    #[test]
    fn disconnects_are_the_broken_connection_kinds() {
        for k in [
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::UnexpectedEof,
        ] {
            assert!(is_disconnect(&k.into()), "{k:?}");
        }
        for k in [io::ErrorKind::TimedOut, io::ErrorKind::InvalidData] {
            assert!(!is_disconnect(&k.into()), "{k:?}");
        }
    }
}
