//! Unix signals delivered on a channel, like Go's `signal.Notify`.
//!
//! [`notify`] installs handlers for the given signals (through the
//! `signal-hook` crate, whose handlers only write to a self-pipe) and
//! returns a [`Signals`] whose channel receives each signal's number. A
//! thread of its own waits on the pipe and forwards, so delivery works the
//! same inside and outside the runtime. Use the [`Signals`] in a `recv`
//! arm of [`select!`](crate::select) next to other channels, or call
//! [`Signals::recv`].
//!
//! ```no_run
//! use fibra_runtime::signal::{self, SIGINT, SIGTERM};
//!
//! fibra_runtime::run(|| {
//!     let signals = signal::notify(&[SIGINT, SIGTERM]).unwrap();
//!     // ... start the server ...
//!     let sig = signals.recv().unwrap();
//!     eprintln!("got signal {sig}, shutting down");
//! });
//! ```

use std::fmt;
use std::io;
use std::os::raw::c_int;

use signal_hook::iterator::{Handle, Signals as HookSignals};

use crate::chan::__private::AsReceiver;
use crate::chan::{self, Receiver, RecvError, Sender, TrySendError};

pub use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

/// How many signals wait in the channel before further ones are dropped
/// (Go drops too when the channel is full; signals of one kind that arrive
/// while one is pending coalesce anyway, as the kernel does).
const BUFFER: usize = 16;

/// Starts delivering `signals` (such as [`SIGINT`], [`SIGTERM`],
/// [`SIGHUP`], or any other number `signal-hook` accepts) to a channel,
/// like Go's `signal.Notify(c, sigs...)`. While the returned [`Signals`]
/// lives, those signals no longer have their default action (a `SIGINT`
/// no longer ends the process): they arrive on the channel instead.
///
/// Several `notify` calls may watch the same signal; each gets every
/// occurrence. If the receiver falls more than 16 signals behind, the
/// newer ones are dropped.
///
/// # Errors
/// `InvalidInput` for a signal that cannot be caught (`SIGKILL`,
/// `SIGSTOP`), one reserved for fault handling (`SIGSEGV`, `SIGILL`,
/// `SIGFPE`), or a number that is no signal; whatever installing the
/// handler, creating the self-pipe or the forwarding thread reports.
pub fn notify(signals: &[c_int]) -> io::Result<Signals> {
    signals.iter().try_for_each(|&sig| check(sig))?;
    let mut hook = HookSignals::new(signals)?;
    let handle = hook.handle();
    let (tx, rx) = chan::bounded(BUFFER);
    let forward = tx.clone();
    std::thread::Builder::new()
        .name("fibra-signal".into())
        .spawn(move || {
            // Ends once `Signals::stop` closes the handle; dropping `hook`
            // then unregisters the handlers.
            for sig in hook.forever() {
                match forward.try_send(sig) {
                    Ok(()) | Err(TrySendError::Full(_)) => {}
                    Err(TrySendError::Disconnected(_)) => break,
                }
            }
        })?;
    Ok(Signals {
        rx,
        _tx: tx,
        handle,
    })
}

/// Rejects what `signal-hook` would panic on: its forbidden signals and
/// numbers outside its table.
fn check(sig: c_int) -> io::Result<()> {
    if !(1..128).contains(&sig) || signal_hook::consts::FORBIDDEN.contains(&sig) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {sig} cannot be delivered to a channel"),
        ));
    }
    Ok(())
}

/// The channel of a [`notify`] call: receives the number of each signal
/// that arrives. Usable in a `recv` arm of [`select!`](crate::select).
///
/// [`stop`](Signals::stop) (Go's `signal.Stop`) or dropping it ends the
/// delivery and unregisters its handlers. As `signal-hook` documents, the
/// signal's default action is not restored then: a `SIGINT` that arrives
/// after the last `Signals` watching it stopped is ignored.
pub struct Signals {
    rx: Receiver<c_int>,
    /// Keeps the channel open after `stop`, as Go's is.
    _tx: Sender<c_int>,
    handle: Handle,
}

impl Signals {
    /// Waits for the next signal and returns its number.
    ///
    /// # Errors
    /// As [`Receiver::recv`]: `Timeout` at the `with_timeout` scope's
    /// deadline, `Canceled` when the coroutine is canceled. After
    /// [`stop`](Signals::stop) it waits until one of those.
    pub fn recv(&self) -> Result<c_int, RecvError> {
        self.rx.recv()
    }

    /// The channel the signals arrive on; it closes when `self` is
    /// dropped.
    pub fn receiver(&self) -> &Receiver<c_int> {
        &self.rx
    }

    /// Adds another signal to watch (Go's repeated `Notify` on one
    /// channel).
    ///
    /// # Errors
    /// As [`notify`].
    pub fn add(&self, signal: c_int) -> io::Result<()> {
        check(signal)?;
        self.handle.add_signal(signal)
    }

    /// Stops the delivery (Go's `signal.Stop`): no new signal reaches the
    /// channel once the forwarding thread has seen the stop. Signals
    /// already in the channel can still be received.
    pub fn stop(&self) {
        self.handle.close();
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.handle.close();
    }
}

impl AsReceiver for Signals {
    type Item = c_int;
    fn as_receiver(&self) -> &Receiver<c_int> {
        &self.rx
    }
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signals")
            .field("stopped", &self.handle.is_closed())
            .finish_non_exhaustive()
    }
}
