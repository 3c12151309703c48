//! Coroutine stacks: mmapped, guard page at the low end, pooled for reuse.
//!
//! INVARIANT: a [`Stack`] owns its mapping exclusively; it is either in use by
//! exactly one coroutine or sitting in a pool, never both.

use std::io;
use std::sync::Mutex;

use corosensei::stack::{DefaultStack, StackPointer};

/// Smallest stack the runtime hands out; smaller requests are rounded up.
pub(crate) const MIN_STACK: usize = 16 * 1024;

/// How many free stacks of one size the global pool keeps before unmapping.
const GLOBAL_POOL_CAP: usize = 4096;

/// A coroutine stack: `size` usable bytes above one guard page.
pub(crate) struct Stack {
    inner: DefaultStack,
    size: usize,
}

impl Stack {
    /// Maps a fresh stack of at least `size` usable bytes.
    fn map(size: usize) -> io::Result<Stack> {
        let inner = DefaultStack::new(size).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOMEM) {
                io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!(
                        "fibra: cannot map a {size}-byte coroutine stack ({e}); \
                         each stack costs two memory mappings, so raise \
                         vm.max_map_count or lower the number of live coroutines"
                    ),
                )
            } else {
                e
            }
        })?;
        Ok(Stack { inner, size })
    }

    /// Usable size in bytes (guard page excluded).
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The guard page's address range `[lo, hi)`.
    pub(crate) fn guard(&self) -> (usize, usize) {
        let lo = corosensei::stack::Stack::limit(&self.inner).get();
        (lo, lo + page_size())
    }
}

// SAFETY: delegates to `DefaultStack`, whose base/limit describe a mapping that
// this `Stack` owns for as long as it lives (see the INVARIANT above).
unsafe impl corosensei::stack::Stack for Stack {
    #[inline]
    fn base(&self) -> StackPointer {
        self.inner.base()
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        self.inner.limit()
    }
}

/// Rounds a requested stack size to what the runtime maps.
pub(crate) fn round_size(size: usize) -> usize {
    let page = page_size();
    size.max(MIN_STACK).div_ceil(page) * page
}

pub(crate) fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    // SAFETY: sysconf has no preconditions; _SC_PAGESIZE is always supported.
    *PAGE.get_or_init(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize)
}

/// Free stacks shared by every runtime, grouped by size.
static GLOBAL: Mutex<Vec<Stack>> = Mutex::new(Vec::new());

/// A per-worker cache in front of the global pool.
pub(crate) struct StackCache {
    free: Vec<Stack>,
    cap: usize,
}

impl StackCache {
    pub(crate) fn new(cap: usize) -> StackCache {
        StackCache {
            free: Vec::with_capacity(cap),
            cap,
        }
    }

    /// A stack of exactly `size` usable bytes (`size` already rounded).
    pub(crate) fn get(&mut self, size: usize) -> io::Result<Stack> {
        if let Some(i) = self.free.iter().rposition(|s| s.size == size) {
            return Ok(self.free.swap_remove(i));
        }
        get_global(size)
    }

    pub(crate) fn put(&mut self, stack: Stack) {
        if self.free.len() < self.cap {
            self.free.push(stack);
        } else {
            put_global(stack);
        }
    }
}

impl Drop for StackCache {
    fn drop(&mut self) {
        for s in self.free.drain(..) {
            put_global(s);
        }
    }
}

/// Takes a stack from the global pool or maps a new one.
pub(crate) fn get_global(size: usize) -> io::Result<Stack> {
    let found = {
        let mut pool = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        pool.iter()
            .rposition(|s| s.size == size)
            .map(|i| pool.swap_remove(i))
    };
    match found {
        Some(s) => Ok(s),
        None => Stack::map(size),
    }
}

/// Returns a stack to the global pool (unmapped if the pool is full).
pub(crate) fn put_global(stack: Stack) {
    let mut pool = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    if pool.len() < GLOBAL_POOL_CAP {
        pool.push(stack);
    }
}
