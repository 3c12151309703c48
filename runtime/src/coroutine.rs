//! Spawning with options, and coroutine identity (like `std::thread`).

use std::io;
use std::sync::Arc;

pub use crate::runtime::JoinHandle;
pub use crate::task::{current, Coroutine};

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
    name: Option<Arc<str>>,
    stack_size: Option<usize>,
    pinned: bool,
}

impl Builder {
    /// No name, the runtime's default stack size, not pinned.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the coroutine (shown in stack-overflow reports and `tracing`).
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(Arc::from(name.into()));
        self
    }

    /// Usable stack size in bytes (rounded up to pages, at least 16 KiB).
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Keeps the coroutine on the worker it starts on: it is never stolen,
    /// so it may hold thread-affine state across blocking calls.
    pub fn pinned(mut self, pinned: bool) -> Builder {
        self.pinned = pinned;
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
        crate::runtime::spawn_on(&rt, self.name, self.stack_size, self.pinned, f)
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
        crate::runtime::spawn_on(&rt.shared, self.name, self.stack_size, self.pinned, f)
    }
}
