//! The hand-off between a blocked channel operation and the party that
//! completes it: the [`Token`] a blocked operation (or a whole select) is
//! claimed through, the [`Slot`] its value travels in, and the [`Entry`]
//! a channel's waiter list holds, which points at both.
//!
//! Token and slot live in the blocked operation's own frame (a select's
//! slots in one box per case), so a blocking send or receive allocates
//! nothing, and entries are raw pointers into that frame. Contract, which
//! this module enforces on its own rather than trusting the channel code:
//!
//! - An entry can be made only from a pinned token and a pinned slot, and
//!   both count the entries pointing at them. Dropping a token or a slot
//!   while that count is not zero aborts the process (after settling the
//!   token: a claimer in the middle of its hand-off is waited for), so an
//!   entry never points at freed or moved memory, whatever the caller does.
//! - A value moves through a slot only in a [`Claimed`] entry, the proof
//!   that this thread won the token's one compare-exchange, and all entries
//!   pointing at a slot belong to one token (checked when one is made), so
//!   one claimer at most touches a slot. The owner reads or writes its slot
//!   only while no entry points at it (checked, abort otherwise), and a
//!   slot is `!Sync`, so the owner is one thread.
//! - The claimer's last touch of the token is setting `done`, after its
//!   last touch of the slot; the owner trusts the slot only after `done`
//!   (or after the token was aborted and its entries removed).
//!
//! Losing a wake-up or leaving an entry behind is a channel bug, caught
//! here as a hang or an abort, never as undefined behaviour.

use std::cell::{Cell, UnsafeCell};
use std::io;
use std::marker::PhantomPinned;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::sync::waiter::Wait;
use crate::task::{current_unparker, Unparker};

const WAITING: usize = usize::MAX;
const ABORTED: usize = usize::MAX - 1;

/// Ends the process: the channel protocol was broken in a way that would
/// otherwise leave a pointer into a dead frame.
#[cold]
fn broken(what: &str) -> ! {
    eprintln!("fibra: channel hand-off: {what}; aborting");
    std::process::abort()
}

/// The shared claim of one blocked select or channel operation.
///
/// INVARIANT: `state` leaves `WAITING` once, by one compare-exchange, to a
/// case index (claimed) or `ABORTED`. `unparker` is written by `new` and
/// afterwards touched only by the one party that claimed the token through
/// an entry (in [`Entry::finish`]), or by the owner once `done` is set or
/// the token was claimed by the owner itself or aborted. `entries` counts
/// the [`Entry`] values pointing at this token; the token is pinned before
/// any exists, and its `Drop` does not return while one does.
#[doc(hidden)]
pub struct Token {
    state: AtomicUsize,
    /// Set by the claimer as its last access to the token (or by the owner
    /// when it claims its own token).
    done: AtomicBool,
    entries: AtomicUsize,
    unparker: UnsafeCell<Option<Unparker>>,
    _pinned: PhantomPinned,
}

// SAFETY: `state`, `done` and `entries` are atomics; `unparker` is touched
// by one party at a time as the type invariant says (the owner before the
// token is shared, the one claimer until it sets `done`, then the owner
// again), with `done`'s release/acquire ordering the hand-back.
unsafe impl Sync for Token {}

impl Token {
    /// A token for the calling coroutine (or thread), not yet shared. Pin
    /// it (`std::pin::pin!`) to register entries with it.
    pub(crate) fn new() -> Token {
        Token {
            state: AtomicUsize::new(WAITING),
            done: AtomicBool::new(false),
            entries: AtomicUsize::new(0),
            unparker: UnsafeCell::new(Some(current_unparker())),
            _pinned: PhantomPinned,
        }
    }

    /// The owner claims its own token for `case` (a select case found
    /// ready while registering); `false` if another case (or an abort) got
    /// there first. Nobody is woken, so `done` is set at once.
    pub(crate) fn claim_own(&self, case: usize) -> bool {
        let won = self.try_claim(case);
        if won {
            self.done.store(true, Ordering::Release);
        }
        won
    }

    fn try_claim(&self, case: usize) -> bool {
        debug_assert!(case < ABORTED);
        self.state
            .compare_exchange(WAITING, case, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    fn claimed(&self) -> Option<usize> {
        let s = self.state.load(Ordering::Acquire);
        (s < ABORTED).then_some(s)
    }

    fn abort(&self) -> bool {
        self.state
            .compare_exchange(WAITING, ABORTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Waits for the claimer to finish its (short, lock-held) hand-off.
    fn wait_done(&self) {
        while !self.done.load(Ordering::Acquire) {
            crate::park();
        }
    }

    /// Ends the wait for good, on the owner's way out: aborts the token if
    /// nobody claimed it, or waits (spinning: the claimer is inside a short
    /// lock-held section) until the claimer has completed. Returns `true`
    /// when the token ended up aborted, so the owner must remove its
    /// entries itself.
    pub(crate) fn settle(&self) -> bool {
        // A plain load first: after a completed wait (the common case) the
        // token is claimed, and no locked instruction is needed.
        match self.state.load(Ordering::Acquire) {
            WAITING if self.abort() || self.state.load(Ordering::Acquire) == ABORTED => {
                return true;
            }
            ABORTED => return true,
            _ => {}
        }
        while !self.done.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
        false
    }

    /// Parks until a case claims the token and completes (`Ok(case)`), or
    /// until `wait` gives up and the token is aborted (`Err`). After an
    /// `Err`, no claimer can ever claim the token; the caller must still
    /// remove its entries.
    pub(crate) fn wait(&self, wait: Wait) -> io::Result<usize> {
        loop {
            if let Some(k) = self.claimed() {
                self.wait_done();
                return Ok(k);
            }
            if let Err(e) = wait.park() {
                if self.abort() {
                    return Err(e);
                }
            }
        }
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        // After this no claimer is left inside a hand-off.
        self.settle();
        if self.entries.load(Ordering::Acquire) != 0 {
            broken("a blocked operation ended with entries still pointing at it");
        }
    }
}

/// Where a blocked operation's value travels: a waiting sender's value, or
/// the value handed to a waiting receiver.
///
/// INVARIANT: `entries` counts the [`Entry`] values pointing at this slot;
/// it is pinned before any exists, and its `Drop` does not return while
/// one does. All counted entries belong to the one token whose address is
/// in `token`, so at most one of them is ever claimed. `value` is touched
/// through `&self` (the slot is `!Sync`, so by one thread, the owner) only
/// while `entries` is zero, and otherwise only by the claimer of the one
/// claimed entry, before that entry decrements `entries`. Making an entry
/// takes a `&Slot`, which only the owner's thread holds, so the count
/// cannot rise behind the owner's back.
pub(crate) struct Slot<T> {
    value: UnsafeCell<Option<T>>,
    entries: AtomicUsize,
    /// The address of the token the counted entries belong to.
    token: Cell<usize>,
    _pinned: PhantomPinned,
}

impl<T> Slot<T> {
    /// A slot holding `value`.
    pub(crate) const fn new(value: Option<T>) -> Slot<T> {
        Slot {
            value: UnsafeCell::new(value),
            entries: AtomicUsize::new(0),
            token: Cell::new(0),
            _pinned: PhantomPinned,
        }
    }

    /// Aborts unless no entry points at the slot, so the owner may touch it.
    fn check_unshared(&self) {
        // Acquire: the last claimer's writes to `value` happen before.
        if self.entries.load(Ordering::Acquire) != 0 {
            broken("the owner touched a slot an entry still points at");
        }
    }

    /// Takes the value out.
    pub(crate) fn take(&self) -> Option<T> {
        self.check_unshared();
        // SAFETY: no entry points at the slot (checked) and none can appear
        // meanwhile: entries are made from a `&Slot`, and `Slot: !Sync`, so
        // this thread is the only one holding one. Nobody else touches
        // `value` (type invariant); no reference into it outlives this call.
        unsafe { (*self.value.get()).take() }
    }

    /// Puts `value` in, dropping what was there.
    pub(crate) fn put(&self, value: Option<T>) {
        self.check_unshared();
        // SAFETY: as in `take`.
        let old = unsafe { std::mem::replace(&mut *self.value.get(), value) };
        drop(old);
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        if *self.entries.get_mut() != 0 {
            broken("a slot was dropped with an entry still pointing at it");
        }
    }
}

/// One blocked operation in a channel's waiter list.
///
/// INVARIANT: `token` and `slot` point at a pinned [`Token`] and [`Slot`]
/// whose `entries` counts include this entry, so both stay alive and in
/// place until it is dropped or finished (which decrements the counts as
/// its last access to each).
pub(crate) struct Entry<T> {
    token: NonNull<Token>,
    case: usize,
    slot: NonNull<Slot<T>>,
}

// SAFETY: an entry is a pair of counted pointers (type invariant); on
// another thread it reads the token's atomics and, once claimed, moves a
// `T` into or out of the slot: moving `T` between threads needs `T: Send`.
unsafe impl<T: Send> Send for Entry<T> {}

impl<T> Entry<T> {
    /// An entry for `case` of `token`, through `slot`.
    ///
    /// # Panics
    /// If entries of another token still point at `slot`: a slot serves
    /// one blocked operation at a time.
    pub(crate) fn new(token: Pin<&Token>, case: usize, slot: Pin<&Slot<T>>) -> Entry<T> {
        let address = token.get_ref() as *const Token as usize;
        if slot.entries.load(Ordering::Acquire) == 0 {
            slot.token.set(address);
        } else {
            assert_eq!(
                slot.token.get(),
                address,
                "fibra: a channel slot registered with two tokens"
            );
        }
        token.entries.fetch_add(1, Ordering::Relaxed);
        slot.entries.fetch_add(1, Ordering::Relaxed);
        Entry {
            token: NonNull::from(token.get_ref()),
            case,
            slot: NonNull::from(slot.get_ref()),
        }
    }

    fn token(&self) -> &Token {
        // SAFETY: the token is alive while this entry exists (invariant).
        unsafe { self.token.as_ref() }
    }

    /// Whether this is an entry of `token`.
    pub(crate) fn is(&self, token: &Token) -> bool {
        std::ptr::eq(self.token.as_ptr(), token)
    }

    /// Whether its token still waits (nobody claimed or aborted it).
    pub(crate) fn is_waiting(&self) -> bool {
        self.token().is_waiting()
    }

    /// Claims the entry's token for its case; `None` (and the entry is
    /// dropped: it is dead) if another case or an abort got there first.
    pub(crate) fn try_claim(self) -> Option<Claimed<T>> {
        if self.token().try_claim(self.case) {
            Some(Claimed {
                entry: ManuallyDrop::new(self),
            })
        } else {
            None
        }
    }

    /// Publishes a finished hand-off and returns the owner's unparker: the
    /// entry's last access to its slot and token. Call once, on a claimed
    /// entry, and do not drop it afterwards.
    fn finish(&self) -> Option<Unparker> {
        let token = self.token();
        // SAFETY: the caller (`Claimed`) won the token's compare-exchange,
        // so by the Token invariant it is the one party touching
        // `unparker`, until it sets `done` below.
        let unparker = unsafe { (*token.unparker.get()).take() };
        // SAFETY: the slot is alive while this entry is counted (invariant).
        unsafe { self.slot.as_ref() }
            .entries
            .fetch_sub(1, Ordering::Release);
        token.entries.fetch_sub(1, Ordering::Release);
        token.done.store(true, Ordering::Release);
        unparker
    }
}

impl<T> Drop for Entry<T> {
    fn drop(&mut self) {
        // SAFETY: the slot is alive while this entry is counted (invariant);
        // this is its last access.
        unsafe { self.slot.as_ref() }
            .entries
            .fetch_sub(1, Ordering::Release);
        self.token().entries.fetch_sub(1, Ordering::Release);
    }
}

/// An entry whose token this thread claimed: the right to move a value
/// through its slot and then complete it.
///
/// INVARIANT: this thread's compare-exchange moved `entry`'s token from
/// `WAITING` to `entry.case`, and `entry` is not finished yet. `entry` is
/// never dropped as an entry: it is finished exactly once, by a consuming
/// method or by `Drop`.
pub(crate) struct Claimed<T> {
    entry: ManuallyDrop<Entry<T>>,
}

impl<T> Claimed<T> {
    fn slot_value(&self) -> *mut Option<T> {
        // SAFETY: the slot is alive while the entry is counted (Entry
        // invariant); only a pointer is made here.
        unsafe { self.entry.slot.as_ref() }.value.get()
    }

    /// Completes: the entry is finished and must not be again.
    fn complete(self) -> Option<Unparker> {
        let this = ManuallyDrop::new(self);
        this.entry.finish()
    }

    /// Puts `value` in the slot of a receiver we claimed, completes it and
    /// returns whom to wake (preferably after releasing the channel lock).
    pub(crate) fn hand_over(self, value: T) -> Option<Unparker> {
        // SAFETY: we claimed the entry's token (type invariant); every
        // entry counted by the slot belongs to that token, so ours is the
        // one claimed, and by the Slot invariant we are the one party
        // touching `value` until `finish` uncounts the entry.
        let old = unsafe { (*self.slot_value()).replace(value) };
        let unparker = self.complete();
        drop(old);
        unparker
    }

    /// Takes the value of a sender we claimed, completes it and returns the
    /// value (if the slot held one) and whom to wake.
    pub(crate) fn take_over(self) -> (Option<T>, Option<Unparker>) {
        // SAFETY: as in `hand_over`.
        let value = unsafe { (*self.slot_value()).take() };
        (value, self.complete())
    }

    /// Completes without touching the slot: a receiver finds it empty
    /// (closed), a sender finds its value still there (failed).
    pub(crate) fn release(self) -> Option<Unparker> {
        self.complete()
    }
}

impl<T> Drop for Claimed<T> {
    /// A claimed entry dropped unfinished (a panic between claim and
    /// completion) is released, so its owner is not left waiting forever.
    fn drop(&mut self) {
        if let Some(u) = self.entry.finish() {
            u.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use super::{Entry, Slot, Token};
    use crate::sync::waiter::Wait;

    #[test]
    fn one_claim_wins_moves_the_value_and_dead_entries_let_go() {
        let token = pin!(Token::new());
        let token = token.into_ref();
        let slot = pin!(Slot::new(None::<u32>));
        let slot = slot.into_ref();
        let first = Entry::new(token, 3, slot);
        let second = Entry::new(token, 4, slot);
        let claimed = first.try_claim().expect("the first claim wins");
        assert!(second.try_claim().is_none(), "a token is claimed once");
        assert!(claimed.hand_over(7).is_some(), "the owner is to be woken");
        assert_eq!(token.wait(Wait::Forever).unwrap(), 3);
        assert!(!token.settle(), "claimed, not aborted");
        assert_eq!(slot.take(), Some(7));
    }

    #[test]
    fn an_abandoned_claim_still_completes() {
        let token = pin!(Token::new());
        let token = token.into_ref();
        let slot = pin!(Slot::new(Some("unsent")));
        let slot = slot.into_ref();
        drop(Entry::new(token, 0, slot).try_claim());
        assert_eq!(token.wait(Wait::Forever).unwrap(), 0);
        assert_eq!(slot.take(), Some("unsent"));
    }
}
