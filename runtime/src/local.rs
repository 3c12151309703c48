//! Coroutine-local storage: `thread_local!` for coroutines.
//!
//! A `thread_local!` value is wrong to hold across a blocking call in a
//! coroutine: the coroutine may resume on another worker and see that
//! worker's value. A [`LocalKey`] declared with [`coroutine_local!`] keeps
//! one value per coroutine instead, stored in the coroutine's own map (keyed
//! by the key's static address) and dropped, inside the coroutine, when it
//! returns. On a plain OS thread it falls back to one value per thread.
//!
//! Access never holds a lock while user code runs: [`LocalKey::with`] takes
//! the value out of the map, leaves a "borrowed" marker in its place, runs the
//! closure, and puts the value back. So nested access to different keys is
//! fine (and the closure may block), while re-entrant access to the same key
//! panics, as a second `borrow_mut` of a `RefCell` would.

use std::any::Any;
use std::cell::{Cell, RefCell};

use crate::task::{current_task, LocalMap, TaskRef};

/// A key for a coroutine-local value; declare one with [`coroutine_local!`].
///
/// Because the value is owned by the coroutine and handed out only to one
/// closure at a time, [`LocalKey::with_mut`] gives `&mut T`: no `Cell` or
/// `RefCell` is needed around it.
///
/// [`coroutine_local!`]: crate::coroutine_local
pub struct LocalKey<T: Send + 'static> {
    init: fn() -> T,
}

impl<T: Send + 'static> std::fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

/// Left in the map while the value is out in a `with` closure.
struct Borrowed;

/// Where the calling context keeps its values.
enum Store {
    Task(TaskRef),
    Thread,
}

thread_local! {
    static THREAD_LOCALS: RefCell<LocalMap> = RefCell::new(LocalMap::new());
}

impl Store {
    fn current() -> Store {
        match current_task() {
            Some(t) => Store::Task(t),
            None => Store::Thread,
        }
    }

    /// Runs `f` on the map; `None` if this thread's map is already destroyed
    /// (a value's destructor running at thread exit).
    fn with_map<R>(&self, f: impl FnOnce(&mut LocalMap) -> R) -> Option<R> {
        match self {
            Store::Task(t) => Some(f(&mut t.locals.lock().unwrap_or_else(|e| e.into_inner()))),
            Store::Thread => with_thread_map(f),
        }
    }
}

/// Only reached outside a coroutine; never inlined so that no thread-local
/// address is cached in a caller that runs inside one.
#[inline(never)]
fn with_thread_map<R>(f: impl FnOnce(&mut LocalMap) -> R) -> Option<R> {
    THREAD_LOCALS
        .try_with(|m| m.try_borrow_mut().ok().map(|mut m| f(&mut m)))
        .ok()
        .flatten()
}

/// What taking a value out of the map found.
enum Slot {
    Present(Box<dyn Any + Send>),
    Vacant,
    Unavailable,
}

/// Puts the value back (or removes the marker) even if the closure panics.
struct PutBack<'a> {
    store: &'a Store,
    key: usize,
    value: Option<Box<dyn Any + Send>>,
    registered: bool,
}

impl Drop for PutBack<'_> {
    fn drop(&mut self) {
        if !self.registered {
            return;
        }
        let value = self.value.take();
        let key = self.key;
        let displaced = self.store.with_map(|m| match value {
            Some(v) => m.insert(key, v),
            None => m.remove(&key),
        });
        // Dropped outside the lock: a marker, or nothing.
        drop(displaced);
    }
}

impl<T: Send + 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn __new(init: fn() -> T) -> LocalKey<T> {
        LocalKey { init }
    }

    fn addr(&'static self) -> usize {
        self as *const LocalKey<T> as usize
    }

    /// Core access: `init` makes the value if the caller has none yet.
    fn access<R>(&'static self, init: impl FnOnce() -> T, f: impl FnOnce(&mut T) -> R) -> R {
        let store = Store::current();
        let key = self.addr();
        let slot = store
            .with_map(|m| match m.get_mut(&key) {
                Some(v) if v.is::<Borrowed>() => None,
                Some(v) => Some(Slot::Present(std::mem::replace(v, Box::new(Borrowed)))),
                None => {
                    m.insert(key, Box::new(Borrowed));
                    Some(Slot::Vacant)
                }
            })
            .unwrap_or(Some(Slot::Unavailable));
        let Some(slot) = slot else {
            panic!(
                "coroutine_local: value of type `{}` accessed while already in use \
                 (a `with` call on this key is running further up the stack)",
                std::any::type_name::<T>()
            );
        };
        let mut guard = PutBack {
            store: &store,
            key,
            value: None,
            registered: !matches!(slot, Slot::Unavailable),
        };
        let value = match slot {
            Slot::Present(v) => guard.value.insert(v),
            Slot::Vacant | Slot::Unavailable => guard.value.insert(Box::new(init())),
        };
        let value = value
            .downcast_mut::<T>()
            .expect("coroutine_local: key holds a value of another type");
        f(value)
    }

    /// Runs `f` with a shared reference to the caller's value, creating it
    /// with the key's initializer on first use in this coroutine (or thread).
    ///
    /// `f` may block; the value stays with the coroutine wherever it resumes.
    /// During a thread's exit, after its values were destroyed, `f` gets a
    /// fresh value that is dropped right after.
    ///
    /// # Panics
    /// If called again for the same key from inside `f` (or from the
    /// initializer), like a second `RefCell::borrow_mut`; if `f` panics.
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        self.access(self.init, |v| f(v))
    }

    /// Like [`LocalKey::with`], with a mutable reference.
    ///
    /// # Panics
    /// As [`LocalKey::with`].
    pub fn with_mut<R>(&'static self, f: impl FnOnce(&mut T) -> R) -> R {
        self.access(self.init, f)
    }

    /// Replaces the value, returning the old one (running the initializer
    /// first if there was none).
    ///
    /// # Panics
    /// If called from inside a `with` on the same key.
    pub fn replace(&'static self, value: T) -> T {
        self.with_mut(|v| std::mem::replace(v, value))
    }

    /// Sets the value, without running the initializer if there was none.
    ///
    /// # Panics
    /// If called from inside a `with` on the same key.
    pub fn set(&'static self, value: T) {
        let value = Cell::new(Some(value));
        let old = self.access(
            || {
                value
                    .take()
                    .expect("coroutine_local: set value taken twice")
            },
            |v| value.take().map(|new| std::mem::replace(v, new)),
        );
        // The old value is dropped after the slot is put back, so its
        // destructor may use this key.
        drop(old);
    }

    /// A clone of the value.
    ///
    /// # Panics
    /// If called from inside a `with` on the same key.
    pub fn get(&'static self) -> T
    where
        T: Clone,
    {
        self.with(T::clone)
    }

    /// Takes the value, leaving `T::default()`.
    ///
    /// # Panics
    /// If called from inside a `with` on the same key.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with_mut(std::mem::take)
    }
}

/// Declares coroutine-local keys, like [`std::thread_local!`]:
///
/// ```
/// use std::time::Duration;
///
/// fibra_runtime::coroutine_local! {
///     /// The request id of the coroutine handling it.
///     static REQUEST_ID: u64 = 0;
///     static LOG: Vec<String> = Vec::new();
/// }
///
/// let h = fibra_runtime::spawn(|| {
///     REQUEST_ID.set(7);
///     fibra_runtime::sleep(Duration::from_millis(1)); // may resume elsewhere
///     LOG.with_mut(|log| log.push(format!("request {}", REQUEST_ID.get())));
///     LOG.take()
/// });
/// assert_eq!(h.join().unwrap(), ["request 7"]);
/// ```
///
/// Each coroutine (and each plain OS thread) sees its own value, created by
/// the initializer on first use and dropped when the coroutine ends. The type
/// must be `Send + 'static`, since the coroutine may move between workers.
#[macro_export]
macro_rules! coroutine_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::coroutine_local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::coroutine_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $(#[$attr])*
        $vis static $name: $crate::LocalKey<$t> = {
            fn __fibra_init() -> $t {
                $init
            }
            $crate::LocalKey::__new(__fibra_init)
        };
    };
}
