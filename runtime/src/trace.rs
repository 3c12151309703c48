//! Keeps a coroutine's entered `tracing` spans with the coroutine.
//!
//! Subscribers track the current span per OS thread. When a coroutine parks
//! inside `span.enter()` and resumes on another worker, the span would stay
//! entered on the old thread and be missing on the new one. So, around every
//! suspension, the runtime exits the spans the coroutine has entered (on the
//! thread it leaves) and re-enters them (on the thread it resumes on). Workers
//! never enter spans themselves, so every span current at a suspension
//! belongs to the coroutine. Costs one relaxed load when no subscriber is set.

use tracing::span::Id;

/// Most spans a coroutine can have entered at once before the rest are left
/// in place (a guard against subscribers whose `exit` is a no-op).
const MAX_DEPTH: usize = 64;

/// Exits every span current on this thread, innermost first.
pub(crate) fn exit_all() -> Vec<Id> {
    if !tracing::dispatcher::has_been_set() {
        return Vec::new();
    }
    tracing::dispatcher::get_default(|d| {
        let mut stack: Vec<Id> = Vec::new();
        while stack.len() < MAX_DEPTH {
            let Some(id) = d.current_span().id().cloned() else {
                break;
            };
            if stack.last() == Some(&id) {
                break; // the subscriber did not pop it; stop rather than spin
            }
            d.exit(&id);
            stack.push(id);
        }
        stack
    })
}

/// Re-enters what [`exit_all`] returned, outermost first.
pub(crate) fn reenter(stack: Vec<Id>) {
    if stack.is_empty() {
        return;
    }
    tracing::dispatcher::get_default(|d| {
        for id in stack.iter().rev() {
            d.enter(id);
        }
    });
}
