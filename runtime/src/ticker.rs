//! [`Ticker`] and [`tick`]: Go's `time.NewTicker` and `time.Tick`.
//!
//! A driver coroutine sleeps until each scheduled instant `start + k *
//! period` (computed from the start, never from the previous wake-up, so
//! lateness does not accumulate) and offers the tick to a channel with a
//! buffer of one. A receiver that falls behind finds one tick waiting and
//! the rest dropped, as in Go; a driver that wakes late (a stalled machine)
//! skips the instants already past instead of firing a burst.

use std::fmt;
use std::time::{Duration, Instant};

use crate::chan::__private::AsReceiver;
use crate::chan::{self, Receiver, RecvError, Sender, TrySendError};

/// Delivers the time at regular intervals on a channel, like Go's
/// `time.Ticker`: use it in a `recv` arm of [`select!`](crate::select) (as
/// Go's `ticker.C`), or call [`recv`](Ticker::recv).
///
/// Tick `k` is due at `start + k * period` (`start` being the moment of
/// [`Ticker::new`]) and carries the [`Instant`] at which it was sent, never
/// earlier than that due time (timers have millisecond resolution). The
/// channel buffers one tick: a slow receiver gets the oldest undelivered
/// tick and misses the ones after it, so ticks never pile up.
///
/// [`stop`](Ticker::stop) (or dropping the ticker) stops the ticks. Like
/// Go's `Stop`, `stop` does not close the channel: a `recv` arm on a
/// stopped ticker simply never fires again. Dropping the ticker closes it.
///
/// ```
/// use std::time::{Duration, Instant};
/// use fibra_runtime::{chan, select, time::Ticker};
///
/// fibra_runtime::run(|| {
///     let ticker = Ticker::new(Duration::from_millis(5));
///     let (done_tx, done) = chan::bounded::<()>(1);
///     fibra_runtime::spawn(move || {
///         fibra_runtime::sleep(Duration::from_millis(22));
///         done_tx.send(()).unwrap();
///     });
///     let mut ticks = 0;
///     loop {
///         select! {
///             recv(ticker) -> t => {
///                 let _at: Instant = t.unwrap();
///                 ticks += 1;
///             },
///             recv(done) -> _ => break,
///         }
///     }
///     ticker.stop();
///     assert!(ticks >= 2, "{ticks} ticks");
/// });
/// ```
pub struct Ticker {
    rx: Receiver<Instant>,
    /// Keeps the tick channel open after `stop`, as Go's `C` stays open.
    _tx: Sender<Instant>,
    /// Closing or dropping it wakes and ends the driver.
    stop: Sender<()>,
    period: Duration,
}

impl Ticker {
    /// Starts a ticker whose ticks are due every `period` from now; the
    /// first one after one period. The driver runs as a coroutine of the
    /// current runtime (the global one when called from a plain thread).
    ///
    /// # Panics
    /// If `period` is zero (Go panics on a non-positive period too).
    pub fn new(period: Duration) -> Ticker {
        assert!(
            !period.is_zero(),
            "Ticker::new: the period must not be zero"
        );
        let (tx, rx) = chan::bounded(1);
        let (stop, stopped) = chan::bounded::<()>(0);
        let driver_tx = tx.clone();
        let start = Instant::now();
        crate::spawn(move || drive(start, period, &driver_tx, &stopped));
        Ticker {
            rx,
            _tx: tx,
            stop,
            period,
        }
    }

    /// The channel the ticks arrive on (Go's `ticker.C`). Clone it to hand
    /// it to another coroutine; it closes when the ticker is dropped.
    pub fn receiver(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Waits for the next tick and returns the instant it was sent.
    ///
    /// # Errors
    /// As [`Receiver::recv`]: `Timeout` at the `with_timeout` scope's
    /// deadline, `Canceled` when the coroutine is canceled. After
    /// [`stop`](Ticker::stop), it waits until one of those (a stopped
    /// ticker sends nothing).
    pub fn recv(&self) -> Result<Instant, RecvError> {
        self.rx.recv()
    }

    /// Stops the ticks (Go's `Stop`). A tick already buffered can still be
    /// received; the channel stays open. Stopping twice does nothing.
    pub fn stop(&self) {
        self.stop.close();
    }

    /// The period given to [`Ticker::new`].
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl AsReceiver for Ticker {
    type Item = Instant;
    fn as_receiver(&self) -> &Receiver<Instant> {
        &self.rx
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticker")
            .field("period", &self.period)
            .field("stopped", &self.stop.is_closed())
            .finish()
    }
}

/// Go's `time.Tick`: a channel that receives a tick every `period`, for
/// callers that never stop it. The driver ends once every receiver has
/// been dropped (noticed at the next tick).
///
/// ```
/// use std::time::Duration;
///
/// let ticks = fibra_runtime::time::tick(Duration::from_millis(2));
/// let first = ticks.recv().unwrap();
/// let second = ticks.recv().unwrap();
/// assert!(second > first);
/// ```
///
/// # Panics
/// If `period` is zero.
pub fn tick(period: Duration) -> Receiver<Instant> {
    assert!(!period.is_zero(), "tick: the period must not be zero");
    let (tx, rx) = chan::bounded(1);
    let start = Instant::now();
    crate::spawn(move || {
        // The driver holds its own stop sender, so only a closed tick
        // channel ends it.
        let (_keep, stopped) = chan::bounded::<()>(0);
        drive(start, period, &tx, &stopped);
    });
    rx
}

/// The driver loop: sleep until the next due instant (or until `stopped`
/// is closed), offer a tick, skip the instants already past.
fn drive(start: Instant, period: Duration, tx: &Sender<Instant>, stopped: &Receiver<()>) {
    let mut k: u32 = 1;
    loop {
        let Some(due) = period.checked_mul(k).and_then(|d| start.checked_add(d)) else {
            return;
        };
        match stopped.recv_deadline(due) {
            Err(RecvError::Timeout) => {}
            // Stopped (closed or dropped), or the driver was canceled.
            _ => return,
        }
        match tx.try_send(Instant::now()) {
            Ok(()) | Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => return,
        }
        // The next due instant after now: a late wake-up skips the ticks
        // it missed rather than sending them in a burst.
        let behind = Instant::now().saturating_duration_since(start);
        let next = u32::try_from(behind.as_nanos() / period.as_nanos()).unwrap_or(u32::MAX);
        k = k.saturating_add(1).max(next.saturating_add(1));
    }
}
