//! A `Send` coroutine on a pooled stack, suspension from anywhere inside it,
//! and the [`Slot`] that ties a coroutine to its park state.
//!
//! INVARIANT: the thread-local `YIELDER` is non-zero exactly while the thread
//! is executing inside [`Coroutine::resume`], and then it holds the address of
//! the resumed coroutine's `Yielder`, which lives on that coroutine's stack.

use std::cell::{Cell, UnsafeCell};
use std::sync::Arc;

use crate::park::ParkState;

use corosensei::{CoroutineResult, Yielder};

use super::overflow;
use super::stack::Stack;

/// Why a coroutine gave up its worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Suspend {
    /// Waiting for an unpark.
    Park,
    /// Still runnable; go to the back of the queue.
    Yield,
}

type Inner = corosensei::Coroutine<(), Suspend, (), Stack>;

/// A coroutine, movable between threads as a value so that the scheduler can
/// queue and steal it, but resumed on one thread only once it has started.
///
/// INVARIANT: after its first `resume`, a `Coroutine` is resumed only on the
/// thread that first resumed it, unless it was spawned through the `unsafe`
/// `coroutine::Builder::migratable`. The scheduler upholds this (a started
/// coroutine is queued only on its home worker) and checks it before every
/// resume (`Local::run_task` asserts the home).
pub(crate) struct Coroutine {
    inner: Option<Inner>,
    /// Address of the coroutine's `Yielder`, known after the first resume.
    yielder: usize,
    info: overflow::Info,
}

// SAFETY: corosensei coroutines are `!Send` because arbitrary `!Send` data may
// sit on their stacks while suspended, and moving that data to another
// thread is what `Send` forbids. Moving the `Coroutine` value itself is fine
// as long as its stack is never *run* or *unwound* on another thread:
// - before its first resume the coroutine holds only its closure, which is
//   `Send` (`Coroutine::new` requires it), so it may start anywhere;
// - once started it is resumed only on its first thread (the type's
//   INVARIANT), so whatever `!Send` value is on its stack is touched only by
//   that thread; the one way around it, `Builder::migratable`, is `unsafe`
//   and its caller promises that no thread-affine value is on the stack
//   whenever the coroutine is suspended;
// - `Drop` never unwinds a suspended stack (it leaks it), and a finished
//   coroutine has no frames left; so dropping one on another thread runs no
//   destructor of a value on its stack.
unsafe impl Send for Coroutine {}

thread_local! {
    static YIELDER: Cell<usize> = const { Cell::new(0) };
}

#[inline(never)]
fn yielder_get() -> usize {
    YIELDER.with(Cell::get)
}

#[inline(never)]
fn yielder_set(v: usize) -> usize {
    YIELDER.with(|c| c.replace(v))
}

impl Coroutine {
    /// Prepares `f` to run on `stack`. Nothing runs until the first `resume`.
    /// `f` is stored on the coroutine's own stack: spawning allocates no
    /// closure box.
    pub(crate) fn new<F: FnOnce() + Send + 'static>(
        stack: Stack,
        id: u64,
        name: Option<Arc<str>>,
        f: F,
    ) -> Coroutine {
        let info = overflow::Info::new(stack.guard(), stack.size(), id, name);
        let inner = Inner::with_stack(stack, move |y: &Yielder<(), Suspend>, ()| {
            yielder_set(y as *const Yielder<(), Suspend> as usize);
            f();
        });
        Coroutine {
            inner: Some(inner),
            yielder: 0,
            info,
        }
    }

    /// Runs the coroutine until it suspends (`Some(why)`) or returns (`None`).
    ///
    /// # Panics
    /// If the coroutine body panics; callers wrap bodies in `catch_unwind`.
    pub(crate) fn resume(&mut self) -> Option<Suspend> {
        let inner = self.inner.as_mut().expect("resume of a finished coroutine");
        let prev = yielder_set(self.yielder);
        let prev_info = overflow::enter(&self.info);
        let r = inner.resume(());
        overflow::leave(prev_info);
        self.yielder = yielder_set(prev);
        match r {
            CoroutineResult::Yield(why) => Some(why),
            CoroutineResult::Return(()) => None,
        }
    }

    /// Gives the stack back once the coroutine has returned.
    pub(crate) fn into_stack(mut self) -> Option<Stack> {
        let inner = self.inner.take()?;
        if inner.done() {
            Some(inner.into_stack())
        } else {
            // Never started or still suspended: see Drop.
            self.inner = Some(inner);
            None
        }
    }
}

impl Drop for Coroutine {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            if inner.started() && !inner.done() {
                // A suspended coroutine is only dropped when its runtime shuts
                // down with it still parked. Unwinding it here would run user
                // destructors on a foreign stack with no scheduler to park on,
                // so its stack and captures are leaked instead (documented).
                std::mem::forget(inner);
            }
        }
    }
}

/// Whether the calling code runs inside a coroutine.
pub(crate) fn in_coroutine() -> bool {
    yielder_get() != 0
}

/// Suspends the running coroutine; returns `false` (and does nothing) when the
/// caller is not inside one.
pub(crate) fn suspend(why: Suspend) -> bool {
    let y = yielder_get();
    if y == 0 {
        return false;
    }
    // SAFETY: by the module INVARIANT a non-zero YIELDER is the address of the
    // `Yielder` of the coroutine this thread is executing right now, so this
    // code runs on that coroutine's stack and the yielder outlives the call.
    let yielder = unsafe { &*(y as *const Yielder<(), Suspend>) };
    yielder.suspend(why);
    true
}

/// A coroutine and its park state.
///
/// INVARIANT: `coro` is touched only through a [`Running`] guard, and at most
/// one `Running` exists at a time: one is created only by winning the
/// SCHEDULED → RUNNING compare-exchange in [`Slot::begin`], and it is
/// consumed by the transition out of RUNNING/NOTIFIED (`park`, `yield_now`,
/// `finish`). No other transition leaves SCHEDULED, and nothing else enters
/// RUNNING, so the guard is exclusive. This replaces a mutex around the
/// coroutine: the state machine already serialises access to it.
pub(crate) struct Slot {
    state: ParkState,
    coro: UnsafeCell<Option<Coroutine>>,
    /// Debug check of the INVARIANT: set while a [`Running`] guard exists.
    #[cfg(debug_assertions)]
    running: std::sync::atomic::AtomicBool,
}

// SAFETY: the `UnsafeCell` is only accessed through the exclusive `Running`
// guard (see the INVARIANT above); `Coroutine` itself is `Send`.
unsafe impl Sync for Slot {}

impl Slot {
    /// A new coroutine in the SCHEDULED state (about to be queued).
    pub(crate) fn new(coro: Coroutine) -> Slot {
        Slot {
            state: ParkState::new_scheduled(),
            coro: UnsafeCell::new(Some(coro)),
            #[cfg(debug_assertions)]
            running: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// See [`ParkState::unpark`]: `true` means the caller must queue it.
    pub(crate) fn unpark(&self) -> bool {
        self.state.unpark()
    }

    /// See [`ParkState::try_consume`].
    pub(crate) fn try_consume(&self) -> bool {
        self.state.try_consume()
    }

    /// Takes the right to resume the coroutine.
    ///
    /// # Panics
    /// If the coroutine was not SCHEDULED (a scheduler bug: it was queued
    /// twice); panicking here keeps two threads from resuming it at once.
    pub(crate) fn begin(&self) -> Running<'_> {
        assert!(
            self.state.start_run(),
            "fibra: a coroutine was dequeued while not scheduled"
        );
        let running = Running { slot: self };
        running.check_held(false);
        running
    }
}

/// Exclusive permission to resume a coroutine; see [`Slot`].
pub(crate) struct Running<'a> {
    slot: &'a Slot,
}

impl Running<'_> {
    /// Debug check of the Slot INVARIANT: flips the slot's `running` flag
    /// to `!was`, asserting it was `was`. Called with `false` when a guard
    /// is made, and with `true` just before the transition out of RUNNING
    /// that ends it (never after: by then another worker may own the slot).
    /// A guard dropped without such a transition (a panic in the worker)
    /// leaves the flag set, as it leaves the state RUNNING: nobody else can
    /// begin on that slot again.
    #[inline]
    fn check_held(&self, was: bool) {
        #[cfg(debug_assertions)]
        {
            let prev = self
                .slot
                .running
                .swap(!was, std::sync::atomic::Ordering::AcqRel);
            debug_assert_eq!(
                prev, was,
                "fibra: two Running guards for one coroutine slot"
            );
        }
        #[cfg(not(debug_assertions))]
        let _ = was;
    }

    fn coro(&mut self) -> &mut Option<Coroutine> {
        // SAFETY: this guard is the only one in existence for its slot (the
        // Slot INVARIANT), and `&mut self` makes this borrow unique too.
        unsafe { &mut *self.slot.coro.get() }
    }

    /// Runs the coroutine until it suspends or returns; see
    /// [`Coroutine::resume`].
    pub(crate) fn resume(&mut self) -> Option<Suspend> {
        self.coro()
            .as_mut()
            .expect("fibra: resume of a finished coroutine")
            .resume()
    }

    /// The coroutine suspended to park: releases the guard (`Ok`) unless an
    /// unpark arrived meanwhile, in which case it must run again (`Err`).
    pub(crate) fn park(self) -> Result<(), Self> {
        self.check_held(true);
        if self.slot.state.after_park() {
            Ok(())
        } else {
            // NOTIFIED went back to RUNNING: the guard lives on.
            self.check_held(false);
            Err(self)
        }
    }

    /// The coroutine yielded: it is SCHEDULED again and must be queued.
    pub(crate) fn yield_now(self) {
        self.check_held(true);
        self.slot.state.after_yield();
    }

    /// The coroutine returned: gives its stack back for reuse.
    pub(crate) fn finish(mut self) -> Option<Stack> {
        let coro = self.coro().take();
        self.check_held(true);
        self.slot.state.finish();
        coro.and_then(Coroutine::into_stack)
    }
}
