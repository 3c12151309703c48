//! Spawning with options, and coroutine identity (like `std::thread`).

use std::io;
use std::sync::Arc;

use crate::runtime::SpawnOptions;

pub use crate::runtime::JoinHandle;
pub use crate::task::{current, set_label, Coroutine};

/// Spawns a coroutine with a name, a stack size, or pinned to its worker,
/// like [`std::thread::Builder`].
///
/// ```no_run
/// let h = fibra_runtime::coroutine::Builder::new()
///     .name("worker")
///     .stack_size(64 * 1024)
///     .spawn(|| fibra_runtime::coroutine::current().unwrap().name().map(String::from))
///     .unwrap();
/// assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    opts: SpawnOptions,
}

impl Builder {
    /// No name, the runtime's default stack size, not pinned.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the coroutine (shown in stack-overflow reports and `tracing`).
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.opts.name = Some(Arc::from(name.into()));
        self
    }

    /// Usable stack size in bytes (rounded up to pages, at least 16 KiB).
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.opts.stack_size = Some(bytes);
        self
    }

    /// Runs the coroutine on the worker it is spawned from (or, spawned from
    /// outside the runtime, on one chosen round-robin): it is never stolen,
    /// not even before it starts. Every coroutine stays on the worker of its
    /// first run anyway; pinning also fixes which worker that is.
    pub fn pinned(mut self, pinned: bool) -> Builder {
        self.opts.pinned = pinned;
        self
    }

    /// Lets the coroutine resume on any worker after it has started, so an
    /// idle worker can take it over from a busy one (the behaviour of
    /// work-stealing runtimes that move started tasks, such as tokio's).
    /// Ignored for a pinned coroutine.
    ///
    /// By default a started coroutine never changes threads, which is what
    /// makes it sound for safe code to hold thread-affine values on its
    /// stack. Without that guarantee it would not be:
    ///
    /// ```compile_fail,E0133
    /// // Opting in needs `unsafe`: this does not compile.
    /// let b = fibra_runtime::coroutine::Builder::new().migratable();
    /// ```
    ///
    /// ```no_run
    /// let b = fibra_runtime::coroutine::Builder::new();
    /// // SAFETY: the body keeps only `Send` data on its stack while it waits.
    /// let b = unsafe { b.migratable() };
    /// let h = b.spawn(|| fibra_runtime::sleep(std::time::Duration::from_millis(1))).unwrap();
    /// h.join().unwrap();
    /// ```
    ///
    /// # Safety
    ///
    /// The caller promises that, at every point where the coroutine can
    /// block (any call that may park it: I/O, sleep, locks, channels, join,
    /// `yield_now`, `blocking`, pool checkout), its stack holds no value
    /// whose soundness depends on staying on one thread: no `!Send` value
    /// (an `Rc`, a `RefCell` borrow of a `thread_local!`, a
    /// `std::sync::MutexGuard`, a raw pointer to thread-local data), and no
    /// reference obtained from a `thread_local!` (`LocalKey::with` closures
    /// that block included). The coroutine's closure and result are `Send`
    /// as usual; `coroutine_local!` values are fine (they belong to the
    /// coroutine, not to a thread). Code the coroutine calls, including other
    /// crates', must keep the same promise.
    // The declaration is the contract; the body needs no unsafe code.
    #[allow(unsafe_code)]
    pub unsafe fn migratable(mut self) -> Builder {
        self.opts.migratable = true;
        self
    }

    /// Spawns on the caller's runtime (or the global one).
    ///
    /// # Errors
    /// `OutOfMemory` if no stack can be mapped (for instance when
    /// `vm.max_map_count` is exhausted: each stack takes two mappings).
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let rt = crate::runtime::current_shared();
        crate::runtime::spawn_on(&rt, self.opts, f)
    }

    /// Spawns on a given runtime.
    ///
    /// # Errors
    /// As [`Builder::spawn`].
    pub fn spawn_on<F, T>(self, rt: &crate::runtime::Runtime, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        crate::runtime::spawn_on(&rt.shared, self.opts, f)
    }
}
