//! Timers: a hierarchical timing wheel with millisecond ticks.
//!
//! Six levels of 64 slots cover 64^6 ms (about two years); a timer lives in
//! the level whose slot width matches how far away it is, and moves down a
//! level when its slot comes up. Insert and cancel are O(1): entries sit in a
//! slab and are linked into per-slot doubly linked lists, and a 64-bit
//! occupancy mask per level finds the next due slot with one
//! `trailing_zeros`. Deadlines round up to the next tick, so a timer never
//! fires early.
//!
//! Built on them: [`Ticker`] and [`tick`], Go's `time.NewTicker` and
//! `time.Tick`.

use std::sync::Arc;
use std::time::Instant;

use slab::Slab;

use crate::scheduler::{self, Shared};
use crate::task::Unparker;

pub use crate::ticker::{tick, Ticker};

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const MAX_TICKS: u64 = (1 << (SLOT_BITS * LEVELS as u32)) - 1;
const NIL: u32 = u32::MAX;

/// Handle to an entry: slab index plus the generation it was inserted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    index: u32,
    gen: u32,
}

struct Entry {
    deadline: u64,
    unparker: Unparker,
    gen: u32,
    level: u8,
    slot: u8,
    prev: u32,
    next: u32,
}

pub(crate) struct Wheel {
    start: Instant,
    /// Every tick up to and including `elapsed` has been processed.
    elapsed: u64,
    heads: [[u32; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    entries: Slab<Entry>,
    gen: u32,
}

impl Wheel {
    pub(crate) fn new(start: Instant) -> Wheel {
        Wheel {
            start,
            elapsed: 0,
            heads: [[NIL; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            entries: Slab::new(),
            gen: 0,
        }
    }

    /// The tick at or after `t` (rounded up).
    pub(crate) fn tick_ceil(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.start);
        let ms = d.as_millis() as u64;
        if d.subsec_nanos() % 1_000_000 != 0 {
            ms + 1
        } else {
            ms
        }
    }

    /// The tick containing `t` (rounded down).
    pub(crate) fn tick_floor(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.start).as_millis() as u64
    }

    /// The instant a tick begins.
    pub(crate) fn instant_of(&self, tick: u64) -> Instant {
        self.start + std::time::Duration::from_millis(tick)
    }

    /// Adds a timer; gives the unparker back if `deadline` has already passed.
    pub(crate) fn insert(&mut self, deadline: u64, unparker: Unparker) -> Result<Key, Unparker> {
        if deadline <= self.elapsed {
            return Err(unparker);
        }
        let deadline = deadline.min(self.elapsed + MAX_TICKS);
        self.gen = self.gen.wrapping_add(1);
        let gen = self.gen;
        let index = self.entries.insert(Entry {
            deadline,
            unparker,
            gen,
            level: 0,
            slot: 0,
            prev: NIL,
            next: NIL,
        }) as u32;
        self.link(index);
        Ok(Key { index, gen })
    }

    /// Removes a timer that has not fired. Returns whether it was pending.
    pub(crate) fn cancel(&mut self, key: Key) -> bool {
        match self.entries.get(key.index as usize) {
            Some(e) if e.gen == key.gen => {
                self.unlink(key.index);
                self.entries.remove(key.index as usize);
                true
            }
            _ => false,
        }
    }

    fn level_for(&self, deadline: u64) -> usize {
        let masked = (self.elapsed ^ deadline) | (SLOTS as u64 - 1);
        let significant = 63 - masked.leading_zeros() as usize;
        (significant / SLOT_BITS as usize).min(LEVELS - 1)
    }

    fn link(&mut self, index: u32) {
        let deadline = self.entries[index as usize].deadline;
        let level = self.level_for(deadline);
        let slot = ((deadline >> (SLOT_BITS as usize * level)) as usize) & (SLOTS - 1);
        let head = self.heads[level][slot];
        {
            let e = &mut self.entries[index as usize];
            e.level = level as u8;
            e.slot = slot as u8;
            e.prev = NIL;
            e.next = head;
        }
        if head != NIL {
            self.entries[head as usize].prev = index;
        }
        self.heads[level][slot] = index;
        self.occupied[level] |= 1 << slot;
    }

    fn unlink(&mut self, index: u32) {
        let (level, slot, prev, next) = {
            let e = &self.entries[index as usize];
            (e.level as usize, e.slot as usize, e.prev, e.next)
        };
        if prev != NIL {
            self.entries[prev as usize].next = next;
        } else {
            self.heads[level][slot] = next;
            if next == NIL {
                self.occupied[level] &= !(1 << slot);
            }
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
    }

    /// The earliest non-empty slot: (level, slot, tick at which it is due).
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        for level in 0..LEVELS {
            let occ = self.occupied[level];
            if occ == 0 {
                continue;
            }
            let shift = SLOT_BITS as usize * level;
            let pos = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
            let slot = (pos + occ.rotate_right(pos as u32).trailing_zeros() as usize) % SLOTS;
            let slot_width = 1u64 << shift;
            let level_width = slot_width << SLOT_BITS;
            let level_start = self.elapsed & !(level_width - 1);
            let mut due = level_start + slot as u64 * slot_width;
            if slot < pos {
                due += level_width;
            }
            return Some((level, slot, due));
        }
        None
    }

    /// The tick of the next slot that needs processing, if any timer exists.
    pub(crate) fn next_due(&self) -> Option<u64> {
        self.next_slot().map(|(_, _, due)| due.max(self.elapsed))
    }

    /// Processes every tick up to `now`, pushing the unparkers of expired
    /// timers to `fired` (the caller unparks them after releasing the lock).
    pub(crate) fn advance(&mut self, now: u64, fired: &mut Vec<Unparker>) {
        while let Some((level, slot, due)) = self.next_slot() {
            if due > now {
                break;
            }
            self.elapsed = self.elapsed.max(due);
            let mut cur = std::mem::replace(&mut self.heads[level][slot], NIL);
            self.occupied[level] &= !(1 << slot);
            while cur != NIL {
                let next = self.entries[cur as usize].next;
                if self.entries[cur as usize].deadline <= now {
                    fired.push(self.entries.remove(cur as usize).unparker);
                } else {
                    self.link(cur);
                }
                cur = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
    }

    /// Number of pending timers.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops every pending timer (runtime shutdown).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.heads = [[NIL; SLOTS]; LEVELS];
        self.occupied = [0; LEVELS];
    }
}

/// A one-shot timer that unparks a coroutine (or thread) at a deadline.
///
/// Dropping it, or calling [`Timer::cancel`], removes it in O(1). It is the
/// building block of `sleep` and of every deadline in fibra.
pub struct Timer {
    rt: Arc<Shared>,
    /// The worker whose wheel holds the entry, and its key.
    key: Option<(usize, Key)>,
}

impl Timer {
    /// Arms a timer that calls `unparker.unpark()` once `deadline` passes
    /// (at millisecond resolution, never early). A deadline already in the
    /// past unparks at once.
    pub fn new(deadline: Instant, unparker: Unparker) -> Timer {
        let rt = match unparker.task() {
            Some(t) => t.rt.clone(),
            None => scheduler::current_or_global(),
        };
        let key = rt.add_timer(deadline, unparker);
        Timer { rt, key }
    }

    /// Disarms the timer. Returns `true` if it had not fired yet.
    pub fn cancel(mut self) -> bool {
        self.disarm()
    }

    fn disarm(&mut self) -> bool {
        match self.key.take() {
            Some((worker, key)) => self.rt.cancel_timer(worker, key),
            None => false,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.disarm();
    }
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("armed", &self.key.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn unparker() -> Unparker {
        crate::task::current_unparker()
    }

    #[test]
    fn fires_in_deadline_order_across_levels() {
        let start = Instant::now();
        let mut w = Wheel::new(start);
        let deadlines = [
            1u64, 5, 63, 64, 65, 100, 4095, 4096, 5000, 300_000, 20_000_000,
        ];
        let keys: Vec<_> = deadlines
            .iter()
            .map(|&d| w.insert(d, unparker()).unwrap())
            .collect();
        assert_eq!(w.len(), deadlines.len());
        let mut fired = Vec::new();
        for (i, &d) in deadlines.iter().enumerate() {
            w.advance(d - 1, &mut fired);
            assert_eq!(fired.len(), i, "fired early before tick {d}");
            assert!(w.next_due().unwrap() <= d);
            w.advance(d, &mut fired);
            assert_eq!(fired.len(), i + 1, "not fired at tick {d}");
        }
        assert_eq!(w.len(), 0);
        for k in keys {
            assert!(!w.cancel(k), "a fired timer cannot be canceled");
        }
    }

    #[test]
    fn cancel_removes_and_stale_keys_do_nothing() {
        let mut w = Wheel::new(Instant::now());
        let a = w.insert(10, unparker()).unwrap();
        let b = w.insert(10, unparker()).unwrap();
        let c = w.insert(10, unparker()).unwrap();
        assert!(w.cancel(b));
        assert!(!w.cancel(b));
        let d = w.insert(7000, unparker()).unwrap();
        assert!(w.cancel(d));
        let mut fired = Vec::new();
        w.advance(10_000, &mut fired);
        assert_eq!(fired.len(), 2);
        assert!(!w.cancel(a) && !w.cancel(c));
        assert_eq!(w.next_due(), None);
    }

    #[test]
    fn past_deadline_is_rejected_and_ticks_round_up() {
        let start = Instant::now();
        let mut w = Wheel::new(start);
        let mut fired = Vec::new();
        w.advance(50, &mut fired);
        assert!(w.insert(50, unparker()).is_err());
        assert!(w.insert(49, unparker()).is_err());
        assert_eq!(w.tick_ceil(start + Duration::from_micros(1500)), 2);
        assert_eq!(w.tick_floor(start + Duration::from_micros(1500)), 1);
        assert_eq!(w.tick_ceil(start + Duration::from_millis(3)), 3);
    }

    /// A pseudo-random mix of inserts, cancels and advances checked against
    /// a plain list: every timer fires exactly once, never early, and at the
    /// first advance that reaches its tick.
    #[test]
    fn matches_a_naive_model() {
        let mut w = Wheel::new(Instant::now());
        let mut model: Vec<(Key, u64)> = Vec::new();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut now = 0u64;
        for _ in 0..20_000 {
            match rnd() % 4 {
                0 | 1 => {
                    let span = [70u64, 5_000, 300_000, 20_000_000][(rnd() % 4) as usize];
                    let d = now + 1 + rnd() % span;
                    let k = w.insert(d, unparker()).unwrap();
                    model.push((k, d));
                }
                2 if !model.is_empty() => {
                    let i = (rnd() as usize) % model.len();
                    let (k, _) = model.swap_remove(i);
                    assert!(w.cancel(k));
                }
                _ => {
                    now += rnd() % 3_000;
                    let mut fired = Vec::new();
                    w.advance(now, &mut fired);
                    let due = model.iter().filter(|(_, d)| *d <= now).count();
                    assert_eq!(fired.len(), due);
                    model.retain(|(_, d)| *d > now);
                    assert_eq!(w.len(), model.len());
                    if let Some(min) = model.iter().map(|(_, d)| *d).min() {
                        assert!(w.next_due().unwrap() <= min);
                    }
                }
            }
        }
    }
}
