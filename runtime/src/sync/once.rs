//! [`OnceCell`]: a write-once cell whose concurrent initialisers park.

use std::fmt;
use std::io;

use super::Mutex;

/// A cell written at most once, shaped like [`std::sync::OnceLock`].
///
/// When several coroutines call [`get_or_init`](OnceCell::get_or_init)
/// together, one runs its initialiser and the others park (not block their
/// worker thread) until it finishes. If the initialiser panics, the cell
/// stays empty and the next waiter runs its own initialiser. Reads after
/// initialisation are one atomic load.
///
/// The waits of [`get_or_init`](OnceCell::get_or_init),
/// [`get_or_try_init`](OnceCell::get_or_try_init) and
/// [`set`](OnceCell::set) ignore cancellation and `with_timeout` scopes,
/// like std's: they return the value, which exists only once an
/// initialiser has finished. The `*_cancelable` twins stop waiting for
/// another caller's initialiser when canceled or at the scope deadline
/// (the caller's own initialiser is not interrupted by the cell; what it
/// calls may be).
pub struct OnceCell<T> {
    value: std::sync::OnceLock<T>,
    /// Serialises initialisers, so `value`'s own blocking never triggers.
    init: Mutex<()>,
}

impl<T> OnceCell<T> {
    /// An empty cell.
    pub const fn new() -> OnceCell<T> {
        OnceCell {
            value: std::sync::OnceLock::new(),
            init: Mutex::new(()),
        }
    }

    /// The value, if initialised.
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// Stores `value` if the cell is empty.
    ///
    /// # Errors
    /// Gives `value` back if the cell was already initialised.
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("taken once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, running `f` to initialise it if the cell is empty.
    /// Concurrent callers park until the running initialiser finishes.
    ///
    /// # Panics
    /// Propagates a panic of `f` (the cell stays empty).
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        match self.get_or_try_init(|| Ok::<T, std::convert::Infallible>(f())) {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// Like [`get_or_init`](OnceCell::get_or_init) with a fallible
    /// initialiser.
    ///
    /// # Errors
    /// The initialiser's error; the cell stays empty and a later caller
    /// may try again.
    pub fn get_or_try_init<E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        if let Some(v) = self.value.get() {
            return Ok(v);
        }
        let _init = self.init.lock();
        if let Some(v) = self.value.get() {
            return Ok(v);
        }
        let v = f()?;
        Ok(self.value.get_or_init(|| v))
    }

    /// [`get_or_init`](OnceCell::get_or_init), honouring cancellation and
    /// the scope deadline while another caller's initialiser runs.
    ///
    /// # Errors
    /// An [`is_canceled`](crate::is_canceled) error after `cancel()`;
    /// `TimedOut` at the scope deadline. The cell is left as it was.
    pub fn get_or_init_cancelable(&self, f: impl FnOnce() -> T) -> io::Result<&T> {
        self.get_or_try_init_cancelable(|| Ok::<T, io::Error>(f()))
    }

    /// [`get_or_try_init`](OnceCell::get_or_try_init), honouring
    /// cancellation and the scope deadline while another caller's
    /// initialiser runs.
    ///
    /// # Errors
    /// The initialiser's error, or the interruption converted into `E`
    /// (canceled or `TimedOut`, as for
    /// [`get_or_init_cancelable`](OnceCell::get_or_init_cancelable)).
    pub fn get_or_try_init_cancelable<E: From<io::Error>>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<&T, E> {
        if let Some(v) = self.value.get() {
            return Ok(v);
        }
        let _init = self.init.lock_cancelable()?;
        if let Some(v) = self.value.get() {
            return Ok(v);
        }
        let v = f()?;
        Ok(self.value.get_or_init(|| v))
    }

    /// Consumes the cell, returning the value if any.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        OnceCell::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnceCell").field(&self.get()).finish()
    }
}
