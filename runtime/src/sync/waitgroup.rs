//! [`WaitGroup`]: Go's `sync.WaitGroup`.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::waiter::{lock, Wait, Waiter};

/// Go's `sync.WaitGroup`: [`add`](WaitGroup::add) work,
/// [`done`](WaitGroup::done) as each piece finishes,
/// [`wait`](WaitGroup::wait) until the count is zero.
///
/// Cloning gives another handle to the same group (no `Arc` needed).
///
/// ```
/// use fibra_runtime::sync::WaitGroup;
///
/// let wg = WaitGroup::new();
/// for _ in 0..3 {
///     wg.add(1);
///     let wg = wg.clone();
///     fibra_runtime::spawn(move || wg.done());
/// }
/// wg.wait();
/// assert_eq!(wg.count(), 0);
/// ```
#[derive(Clone, Default)]
pub struct WaitGroup {
    inner: Arc<std::sync::Mutex<State>>,
}

#[derive(Default)]
struct State {
    count: usize,
    waiters: Vec<Arc<Waiter>>,
}

impl WaitGroup {
    /// A group with a count of zero.
    pub fn new() -> WaitGroup {
        WaitGroup::default()
    }

    /// Adds `n` to the count.
    pub fn add(&self, n: usize) {
        lock(&self.inner).count += n;
    }

    /// Subtracts one; at zero, wakes every waiter.
    ///
    /// # Panics
    /// If the count is already zero (as Go panics on a negative counter).
    pub fn done(&self) {
        let woken = {
            let mut st = lock(&self.inner);
            assert!(st.count > 0, "WaitGroup::done called more times than add");
            st.count -= 1;
            if st.count > 0 {
                return;
            }
            std::mem::take(&mut st.waiters)
        };
        for w in woken {
            w.grant();
        }
    }

    /// The current count.
    pub fn count(&self) -> usize {
        lock(&self.inner).count
    }

    /// Parks until the count is zero.
    ///
    /// Ignores cancellation and `with_timeout` scopes, like Go's: returning
    /// means "all done", which an early return would falsely say, and a
    /// canceled coroutine often cancels its workers and then waits for
    /// them to wind down. Use [`wait_cancelable`](WaitGroup::wait_cancelable)
    /// to stop waiting when canceled or at the scope deadline.
    pub fn wait(&self) {
        self.wait_inner(Wait::Forever)
            .expect("an unbounded wait cannot fail");
    }

    /// Waits at most `timeout`; `true` if the count reached zero.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_inner(Wait::Until(Instant::now() + timeout))
            .is_ok()
    }

    /// Waits, honouring cancellation and the `with_timeout` scope deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fibra_runtime::sync::WaitGroup;
    ///
    /// let wg = WaitGroup::new();
    /// wg.add(1); // never done
    /// let r = fibra_runtime::with_timeout(Duration::from_millis(10), || wg.wait_cancelable());
    /// assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    ///
    /// # Errors
    /// `TimedOut` at the scope deadline; an
    /// [`is_canceled`](crate::is_canceled) error on `cancel()`. A count
    /// already at zero returns `Ok` even then.
    pub fn wait_cancelable(&self) -> io::Result<()> {
        self.wait_inner(Wait::Interruptible(None))
    }

    fn wait_inner(&self, wait: Wait) -> io::Result<()> {
        let waiter = {
            let mut st = lock(&self.inner);
            if st.count == 0 {
                return Ok(());
            }
            let w = Waiter::new();
            st.waiters.push(w.clone());
            w
        };
        while !waiter.is_granted() {
            if let Err(e) = wait.park() {
                let mut st = lock(&self.inner);
                if waiter.is_granted() {
                    return Ok(());
                }
                st.waiters.retain(|w| !Arc::ptr_eq(w, &waiter));
                return Err(e);
            }
        }
        Ok(())
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}
