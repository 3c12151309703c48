//! The one wrapper every socket type is built on: a non-blocking mio source
//! registered with the runtime's reactor, plus per-handle timeouts.
//!
//! Every blocking operation in this crate is a closure over the raw
//! non-blocking syscall handed to [`Evented::read_with`] or
//! [`Evented::write_with`], which go through
//! [`fibra_runtime::io::Registration::do_io`]: retry on `WouldBlock`, park
//! until readiness, the deadline, or cancellation. No other retry loop exists.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fibra_runtime::io::{Direction, Registration};
use std::os::fd::{AsFd, AsRawFd};

use mio::event::Source;

/// A mio source and its registration. Deregisters before the descriptor is
/// closed; a coroutine still waiting on it (only possible at runtime
/// shutdown, since handles share it through an `Arc`) is woken with an error.
pub(crate) struct Evented<S: Source + AsRawFd> {
    /// `None` only after [`Evented::into_inner`] took it out.
    io: Option<S>,
    reg: Registration,
    /// Set by [`Evented::close`]: every operation fails with [`closed`].
    closed: AtomicBool,
}

impl<S: Source + AsRawFd> Evented<S> {
    /// Registers `io`, which must already be non-blocking.
    pub(crate) fn new(mut io: S) -> io::Result<Evented<S>> {
        let reg = Registration::new(&mut io)?;
        Ok(Evented {
            io: Some(io),
            reg,
            closed: AtomicBool::new(false),
        })
    }

    /// The source, for non-blocking calls (socket options, addresses).
    pub(crate) fn io(&self) -> &S {
        self.io
            .as_ref()
            .expect("Evented::io is only None after into_inner consumed it")
    }

    /// Runs `op` until it stops returning `WouldBlock`, parking on read
    /// readiness in between.
    pub(crate) fn read_with<R>(
        &self,
        deadline: Option<Instant>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let io = self.io();
        self.reg.do_io(Direction::Read, deadline, || {
            self.check_open().and_then(|()| op(io))
        })
    }

    /// As [`Evented::read_with`], on write readiness.
    pub(crate) fn write_with<R>(
        &self,
        deadline: Option<Instant>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let io = self.io();
        self.reg.do_io(Direction::Write, deadline, || {
            self.check_open().and_then(|()| op(io))
        })
    }

    /// A stream read or write of at most `want` bytes; see
    /// [`Registration::do_io_stream`] (a short transfer clears readiness,
    /// saving the syscall that would only return `WouldBlock`).
    pub(crate) fn stream_io(
        &self,
        dir: Direction,
        deadline: Option<Instant>,
        want: usize,
        mut op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let io = self.io();
        self.reg.do_io_stream(dir, deadline, want, || {
            self.check_open().and_then(|()| op(io))
        })
    }

    fn check_open(&self) -> io::Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(closed())
        } else {
            Ok(())
        }
    }

    /// Closes the socket for every handle, from any coroutine: shuts it
    /// down (a listener stops listening and its port is free to bind
    /// again), removes it from the poll and wakes every waiter. From then
    /// on every operation fails with [`closed`]; the descriptor itself is
    /// closed when the last handle drops. Closing twice does nothing.
    pub(crate) fn close(&self) -> io::Result<()>
    where
        S: AsFd,
    {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let shut = match socket2::SockRef::from(self.io()).shutdown(std::net::Shutdown::Both) {
            // Not connected: nothing to shut down (a listener is not
            // connected, yet Linux stops it listening all the same).
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        };
        let deregistered = self.reg.close();
        shut.and(deregistered)
    }

    /// See [`fibra_runtime::io::Registration::on_hangup`].
    pub(crate) fn on_hangup(
        &self,
        hook: Option<fibra_runtime::io::HangupHook>,
    ) -> io::Result<bool> {
        self.reg.on_hangup(hook)
    }

    /// Whether [`Evented::close`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Deregisters and hands back the source.
    pub(crate) fn into_inner(mut self) -> io::Result<S> {
        let mut io = self
            .io
            .take()
            .expect("Evented::io is only None after into_inner consumed it");
        self.reg.deregister(&mut io)?;
        Ok(io)
    }
}

impl<S: Source + AsRawFd> Drop for Evented<S> {
    fn drop(&mut self) {
        if let Some(io) = self.io.as_mut() {
            // Nothing useful to do with an epoll_ctl failure while closing.
            let _ = self.reg.deregister(io);
        }
    }
}

impl<S: Source + AsRawFd + std::fmt::Debug> std::fmt::Debug for Evented<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.io {
            Some(io) => io.fmt(f),
            None => f.write_str("<closed>"),
        }
    }
}

const NO_TIMEOUT: u64 = u64::MAX;

/// A handle's read and write timeouts, settable through `&self` like std's.
#[derive(Debug)]
pub(crate) struct Timeouts {
    read: AtomicU64,
    write: AtomicU64,
}

impl Timeouts {
    pub(crate) fn new() -> Timeouts {
        Timeouts {
            read: AtomicU64::new(NO_TIMEOUT),
            write: AtomicU64::new(NO_TIMEOUT),
        }
    }

    /// A copy holding the same values, for a cloned handle.
    pub(crate) fn snapshot(&self) -> Timeouts {
        Timeouts {
            read: AtomicU64::new(self.read.load(Ordering::Relaxed)),
            write: AtomicU64::new(self.write.load(Ordering::Relaxed)),
        }
    }

    pub(crate) fn set_read(&self, t: Option<Duration>) -> io::Result<()> {
        self.read.store(encode(t)?, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn set_write(&self, t: Option<Duration>) -> io::Result<()> {
        self.write.store(encode(t)?, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn read(&self) -> Option<Duration> {
        decode(self.read.load(Ordering::Relaxed))
    }

    pub(crate) fn write(&self) -> Option<Duration> {
        decode(self.write.load(Ordering::Relaxed))
    }

    /// The deadline of a read starting now.
    pub(crate) fn read_deadline(&self) -> Option<Instant> {
        deadline_in(self.read())
    }

    /// The deadline of a write starting now.
    pub(crate) fn write_deadline(&self) -> Option<Instant> {
        deadline_in(self.write())
    }
}

/// `now + timeout`; a timeout too far away to represent means none.
pub(crate) fn deadline_in(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

fn encode(t: Option<Duration>) -> io::Result<u64> {
    match t {
        None => Ok(NO_TIMEOUT),
        Some(d) if d.is_zero() => Err(zero_timeout()),
        Some(d) => {
            Ok(u64::try_from(d.as_nanos()).map_or(NO_TIMEOUT - 1, |n| n.min(NO_TIMEOUT - 1)))
        }
    }
}

fn decode(n: u64) -> Option<Duration> {
    (n != NO_TIMEOUT).then(|| Duration::from_nanos(n))
}

/// The error std returns for a zero timeout.
pub(crate) fn zero_timeout() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "cannot set a 0 duration timeout",
    )
}

/// Waits `pause` (cut short by `deadline` or the current `with_timeout`
/// scope) before a retry that readiness cannot signal, such as `accept`
/// after `EMFILE`.
///
/// # Errors
/// `TimedOut` once the deadline has passed; a canceled error if the
/// coroutine was canceled.
pub(crate) fn pause_before_retry(deadline: Option<Instant>, pause: Duration) -> io::Result<()> {
    let deadline = fibra_runtime::effective_deadline(deadline);
    fibra_runtime::check_interrupts(deadline)?;
    let until = Instant::now() + pause;
    fibra_runtime::sleep_until(deadline.map_or(until, |d| d.min(until)));
    fibra_runtime::check_interrupts(deadline)
}

/// The error of every operation on a socket closed by `close()` while
/// other handles or coroutines still use it: `NotConnected`, the kind a
/// registration closed under a waiting coroutine reports (Go's
/// `net.ErrClosed`, "use of closed network connection").
pub(crate) fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the socket was closed")
}

/// Whether `e` says the process or system ran out of descriptors or
/// buffers: transient for a server, which should wait and accept again.
pub(crate) fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
