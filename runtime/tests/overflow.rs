//! A stack overflow in a coroutine ends in a clear message, not a bare SIGSEGV.
//!
//! The test re-runs this test binary as a child with an environment variable
//! set; the child overflows a named coroutine's stack and must abort after
//! printing the coroutine's name and stack size.

use std::process::Command;

const CHILD_ENV: &str = "FIBRA_OVERFLOW_CHILD";

#[inline(never)]
fn recurse(depth: u64, pad: &mut [u8; 512]) -> u64 {
    let mut local = [0u8; 512];
    local[(depth % 512) as usize] = pad[0].wrapping_add(1);
    // Opaque to the compiler, always true at run time: recurse forever.
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    let r = recurse(depth + 1, &mut local);
    std::hint::black_box(&local);
    r + local[0] as u64
}

#[test]
fn overflow_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return; // only meaningful when launched by `overflow_is_reported`
    }
    let h = fibra_runtime::coroutine::Builder::new()
        .name("deep-recursion")
        .stack_size(64 * 1024)
        .spawn(|| recurse(0, &mut [0u8; 512]))
        .unwrap();
    let _ = h.join();
    unreachable!("the overflow must abort the process");
}

#[test]
fn overflow_is_reported() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "overflow_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "child should have died");
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(libc_sigabrt()),
            "stderr: {stderr}"
        );
    }
    assert!(
        stderr.contains("coroutine 'deep-recursion'") && stderr.contains("stack of 65536 bytes"),
        "stderr: {stderr}"
    );
}

fn libc_sigabrt() -> i32 {
    6 // SIGABRT on Linux
}
