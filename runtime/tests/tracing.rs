//! A `tracing` span entered in a coroutine stays current across yields and
//! sleeps, moves with the coroutine to another worker, and is left entered
//! on no thread the coroutine has left.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static ANY_MOVED: AtomicBool = AtomicBool::new(false);
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

use fibra_runtime::{runtime, spawn};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Span, Subscriber};
use tracing_core::span::Current;

/// Records, per OS thread, the stack of entered spans.
#[derive(Default)]
struct Recorder {
    next_id: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    stacks: HashMap<ThreadId, Vec<u64>>,
    meta: HashMap<u64, &'static Metadata<'static>>,
    /// Exits of a span that was not the innermost one on that thread.
    bad_exits: u64,
}

#[inline(never)]
fn thread_id() -> ThreadId {
    std::thread::current().id()
}

impl Recorder {
    /// The threads on which `id` is entered now.
    fn threads_with(&self, id: &Id) -> Vec<ThreadId> {
        let st = self.state.lock().unwrap();
        st.stacks
            .iter()
            .filter(|(_, s)| s.contains(&id.into_u64()))
            .map(|(t, _)| *t)
            .collect()
    }

    /// The spans entered on the calling thread, outermost first.
    fn my_stack(&self) -> Vec<u64> {
        let st = self.state.lock().unwrap();
        st.stacks.get(&thread_id()).cloned().unwrap_or_default()
    }
}

/// The `'static` handle installed as the global subscriber.
struct Handle(&'static Recorder);

impl Subscriber for Handle {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.0
            .state
            .lock()
            .unwrap()
            .meta
            .insert(id, attrs.metadata());
        Id::from_u64(id)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, _: &Event<'_>) {}

    fn enter(&self, span: &Id) {
        let mut st = self.0.state.lock().unwrap();
        st.stacks
            .entry(thread_id())
            .or_default()
            .push(span.into_u64());
    }

    fn exit(&self, span: &Id) {
        let mut st = self.0.state.lock().unwrap();
        let stack = st.stacks.entry(thread_id()).or_default();
        if stack.last() == Some(&span.into_u64()) {
            stack.pop();
        } else {
            st.bad_exits += 1;
        }
    }

    fn current_span(&self) -> Current {
        let st = self.0.state.lock().unwrap();
        match st.stacks.get(&thread_id()).and_then(|s| s.last()) {
            Some(&id) => Current::new(Id::from_u64(id), st.meta[&id]),
            None => Current::none(),
        }
    }
}

fn recorder() -> &'static Recorder {
    static REC: OnceLock<&'static Recorder> = OnceLock::new();
    REC.get_or_init(|| {
        let rec: &'static Recorder = Box::leak(Box::default());
        tracing::subscriber::set_global_default(Handle(rec))
            .expect("one subscriber per test binary");
        rec
    })
}

#[test]
fn span_follows_the_coroutine_across_yields_and_workers() {
    let rec = recorder();
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    let results = rt.block_on(move || {
        let hs: Vec<_> = (0..16u32)
            .map(|i| {
                let b = fibra_runtime::coroutine::Builder::new();
                // SAFETY: besides `Send` data, the body holds only tracing's
                // `Entered` guard across its waits, and the runtime exits
                // every entered span when the coroutine parks and re-enters
                // it where it resumes (runtime/src/trace.rs): that hand-over
                // is what this test checks.
                let b = unsafe { b.migratable() };
                b.spawn(move || {
                    let span = tracing::info_span!("coroutine", i);
                    let id = span.id().expect("the recorder gives spans ids");
                    let _entered = span.enter();
                    let first = thread_id();
                    let mut moved = false;
                    // At least 40 rounds; on a loaded machine the other
                    // worker may take nothing for a while, so go on (up to
                    // 2,000) until some coroutine has been seen moving.
                    for round in 0..2000 {
                        if round >= 40 && ANY_MOVED.load(Ordering::Relaxed) {
                            break;
                        }
                        if round % 2 == 0 {
                            fibra_runtime::yield_now();
                        } else {
                            fibra_runtime::sleep(Duration::from_micros(200));
                        }
                        assert_eq!(Span::current().id(), Some(id.clone()));
                        // Entered here, and on no other thread.
                        assert_eq!(rec.threads_with(&id), [thread_id()]);
                        moved |= thread_id() != first;
                        if moved {
                            ANY_MOVED.store(true, Ordering::Relaxed);
                        }
                    }
                    (id, moved)
                })
                .unwrap()
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert!(
        results.iter().any(|(_, moved)| *moved),
        "no coroutine changed workers, so the test proved nothing"
    );
    for (id, _) in &results {
        assert!(rec.threads_with(id).is_empty(), "span left entered");
    }
    assert_eq!(rec.state.lock().unwrap().bad_exits, 0);
}

#[test]
fn nested_spans_keep_their_order_and_unwind_cleanly() {
    let rec = recorder();
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    let (outer_id, inner_id) = rt.block_on(move || {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                spawn(move || {
                    let outer = tracing::info_span!("outer");
                    let _o = outer.enter();
                    let inner = tracing::info_span!("inner");
                    let i = inner.enter();
                    let want = vec![
                        outer.id().unwrap().into_u64(),
                        inner.id().unwrap().into_u64(),
                    ];
                    for _ in 0..20 {
                        fibra_runtime::sleep(Duration::from_micros(100));
                        assert_eq!(rec.my_stack(), want);
                    }
                    drop(i);
                    fibra_runtime::yield_now();
                    assert_eq!(Span::current().id(), outer.id());
                    assert_eq!(rec.my_stack(), want[..1]);
                    (outer.id().unwrap(), inner.id().unwrap())
                })
            })
            .collect();
        let ids: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        ids[0].clone()
    });
    assert!(rec.threads_with(&outer_id).is_empty());
    assert!(rec.threads_with(&inner_id).is_empty());
}

#[test]
fn a_span_entered_outside_coroutines_stays_on_its_thread() {
    let rec = recorder();
    let span = tracing::info_span!("main thread");
    let _g = span.enter();
    let inside = fibra_runtime::spawn(|| Span::current().id())
        .join()
        .unwrap();
    assert_eq!(
        inside, None,
        "a new coroutine does not inherit the spawner's span"
    );
    assert_eq!(Span::current().id(), span.id());
    assert_eq!(rec.threads_with(&span.id().unwrap()), [thread_id()]);
}
