//! The coroutine a worker thread is running right now.
//!
//! A worker that resumes a coroutine keeps its `Arc<Task>` alive for the whole
//! run; the thread-local here only borrows it (a raw pointer), so entering and
//! leaving a coroutine costs no reference-count traffic.
//!
//! INVARIANT: `CURRENT` is null or points at a `Task` owned by an `Arc` that
//! the [`Entered`] guard's borrow keeps alive; the guard resets it on drop.
//! A `&Task` handed out by [`with`] may sit on the coroutine's stack across a
//! suspension: the coroutine only ever runs again inside a worker's
//! `enter` of the same task, which again holds an `Arc` to it, and a task
//! whose coroutine never runs again is never read through that reference.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::task::Task;

thread_local! {
    static CURRENT: Cell<*const Task> = const { Cell::new(std::ptr::null()) };
}

/// Marks a task as the one running on this thread until dropped.
pub(crate) struct Entered<'a> {
    prev: *const Task,
    _task: PhantomData<&'a Arc<Task>>,
}

#[inline(never)]
fn swap(p: *const Task) -> *const Task {
    CURRENT.with(|c| c.replace(p))
}

#[inline(never)]
fn get() -> *const Task {
    CURRENT.with(Cell::get)
}

/// Makes `task` current on this thread for the guard's lifetime.
pub(crate) fn enter(task: &Arc<Task>) -> Entered<'_> {
    Entered {
        prev: swap(Arc::as_ptr(task)),
        _task: PhantomData,
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        swap(self.prev);
    }
}

/// A new reference to the current task, if any.
pub(crate) fn task() -> Option<Arc<Task>> {
    let p = get();
    if p.is_null() {
        return None;
    }
    // SAFETY: by the INVARIANT `p` came from `Arc::as_ptr` of an `Arc<Task>`
    // that is alive (strong count ≥ 1) while it is current; taking one more
    // strong count and wrapping it gives an owned `Arc`.
    unsafe {
        Arc::increment_strong_count(p);
        Some(Arc::from_raw(p))
    }
}

/// Runs `f` on the current task without touching its reference count.
pub(crate) fn with<R>(f: impl FnOnce(&Task) -> R) -> Option<R> {
    let p = get();
    if p.is_null() {
        return None;
    }
    // SAFETY: by the INVARIANT `p` points at a live `Task` for as long as the
    // coroutine runs, including after any suspension inside `f`.
    Some(f(unsafe { &*p }))
}
