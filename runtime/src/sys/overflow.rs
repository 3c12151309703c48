//! Stack-overflow reporting for coroutines.
//!
//! A coroutine that runs past the end of its stack touches the guard page and
//! the kernel raises SIGSEGV (SIGBUS on some systems). The handler installed
//! here runs on the thread's alternate signal stack; if the faulting address
//! lies in the guard page of the coroutine this thread is running, it writes
//! one line naming the coroutine, its id and its stack size, then aborts.
//! Any other fault is passed on to the handler that was installed before
//! (Rust's own, which reports main-thread overflows), or to the default action.
//!
//! INVARIANT: the thread-local `CURRENT` is zero or the address of an [`Info`]
//! that stays alive and unmoved until `leave` is called on the same thread.

use std::cell::Cell;
use std::sync::{Arc, Once, OnceLock};

/// What the handler reports about the running coroutine.
pub(crate) struct Info {
    guard: (usize, usize),
    size: usize,
    id: u64,
    name: Option<Arc<str>>,
}

impl Info {
    pub(crate) fn new(guard: (usize, usize), size: usize, id: u64, name: Option<Arc<str>>) -> Info {
        Info {
            guard,
            size,
            id,
            name,
        }
    }
}

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

/// Marks `info` as the coroutine this thread is about to run.
#[inline(never)]
pub(crate) fn enter(info: &Info) -> usize {
    CURRENT.with(|c| c.replace(info as *const Info as usize))
}

/// Restores what `enter` returned.
#[inline(never)]
pub(crate) fn leave(prev: usize) {
    CURRENT.with(|c| c.set(prev));
}

const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// The actions [`SIGNALS`] had before ours, in the same order: set once,
/// before our handler is installed, and only read afterwards (by `chain`;
/// `OnceLock::get` is a lock-free atomic load, fine in a signal handler).
static PREVIOUS: OnceLock<[libc::sigaction; 2]> = OnceLock::new();
static INSTALL: Once = Once::new();

/// Installs the process-wide handler (once) and makes sure the calling thread
/// has an alternate signal stack to run it on. Call on every worker thread.
///
/// The previous actions are read and stored in `PREVIOUS` first and our
/// handler installed after, so the handler never runs before `PREVIOUS` is
/// set. The price: an action some other thread installs in between is
/// replaced without being chained to.
pub(crate) fn install_on_this_thread() {
    INSTALL.call_once(|| {
        // SAFETY: `sigaction` is plain old data; all-zero is a valid value.
        let mut prev: [libc::sigaction; 2] = unsafe { std::mem::zeroed() };
        for (sig, old) in SIGNALS.iter().zip(prev.iter_mut()) {
            // SAFETY: a null new action only queries; `old` is valid
            // writable storage for the current one.
            unsafe { libc::sigaction(*sig, std::ptr::null(), old) };
        }
        if PREVIOUS.set(prev).is_err() {
            unreachable!("PREVIOUS is set only here, inside INSTALL");
        }
        for sig in SIGNALS {
            // SAFETY: `act` is fully initialised (zeroed, then the fields we
            // use set); a null old-action pointer is allowed.
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = handler as *const () as usize;
                act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut act.sa_mask);
                libc::sigaction(sig, &act, std::ptr::null_mut());
            }
        }
    });
    ensure_altstack();
}

fn ensure_altstack() {
    const ALT_SIZE: usize = 64 * 1024;
    // SAFETY: querying the current alternate stack with a valid out-pointer.
    let mut old: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: a null new-stack pointer only queries; `old` is valid storage.
    unsafe { libc::sigaltstack(std::ptr::null(), &mut old) };
    if old.ss_flags & libc::SS_DISABLE == 0 {
        return; // std (or someone else) already gave this thread one
    }
    // SAFETY: anonymous private mapping with no address hint; checked below.
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            ALT_SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if mem == libc::MAP_FAILED {
        return; // no alternate stack: an overflow degrades to a plain SIGSEGV
    }
    let st = libc::stack_t {
        ss_sp: mem,
        ss_flags: 0,
        ss_size: ALT_SIZE,
    };
    // SAFETY: `st` describes the mapping made above, which is never unmapped
    // (worker threads keep it until the process exits; it is 64 KiB each).
    unsafe { libc::sigaltstack(&st, std::ptr::null_mut()) };
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let cur = CURRENT.with(Cell::get);
    if cur != 0 {
        // SAFETY: by the module INVARIANT `cur` points at a live `Info`: the
        // coroutine it describes is running on this thread (or just was).
        let info = unsafe { &*(cur as *const Info) };
        if addr >= info.guard.0 && addr < info.guard.1 {
            report(info);
            // SAFETY: abort has no preconditions and is async-signal-safe.
            unsafe { libc::abort() };
        }
    }
    chain(sig, info, ctx);
}

fn report(info: &Info) {
    // itoa formats into a stack buffer: no allocation, safe in a signal handler.
    let (mut id, mut size) = (itoa::Buffer::new(), itoa::Buffer::new());
    let parts: [&[u8]; 7] = [
        b"\nfibra: coroutine '",
        info.name.as_deref().unwrap_or("<unnamed>").as_bytes(),
        b"' (id ",
        id.format(info.id).as_bytes(),
        b") overflowed its stack of ",
        size.format(info.size).as_bytes(),
        b" bytes; give it more with fibra::coroutine::Builder::stack_size or runtime::Builder::stack_size. Aborting.\n",
    ];
    for p in parts {
        // SAFETY: writing a valid byte slice to fd 2; write is async-signal-safe.
        unsafe { libc::write(2, p.as_ptr().cast(), p.len()) };
    }
}

fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let idx = if sig == libc::SIGSEGV { 0 } else { 1 };
    // `install_on_this_thread` sets PREVIOUS before it installs this handler,
    // so it is always set here; were it not, the default action is the safe
    // fallback (no assertion: a panic must not start in a signal handler).
    let prev = PREVIOUS.get().map(|all| all[idx]);
    let (action, flags) = prev.map_or((libc::SIG_DFL, 0), |p| (p.sa_sigaction, p.sa_flags));
    if action == libc::SIG_DFL || action == libc::SIG_IGN {
        // Restore the default action and return: the faulting instruction runs
        // again and the kernel delivers the default (core-dumping) signal.
        // SAFETY: installing SIG_DFL via a zeroed, valid sigaction.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    } else if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was registered as a three-argument
        // SA_SIGINFO handler at this address.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(action) };
        f(sig, info, ctx);
    } else {
        // SAFETY: the previous handler was registered as a one-argument handler.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(action) };
        f(sig);
    }
}
