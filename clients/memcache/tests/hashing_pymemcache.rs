//! Node choice identical to pymemcache's `HashClient`: 10,000 keys, the
//! server each one goes to, compared with a python3 subprocess. Without
//! pymemcache the test fails under CI (scripts/test installs it) and skips,
//! saying why, elsewhere.

mod util;

use std::io::Write;
use std::process::{Command, Stdio};

use fibra_memcache::Client;

const PY: &str = r#"
import sys
from pymemcache.client.hash import HashClient
servers = sys.argv[1].split(",")
client = HashClient(servers, allow_unicode_keys=True)
out = []
for line in sys.stdin.buffer.read().split(b"\n"):
    if line:
        host, port = client._get_client(line.decode("utf-8")).server
        out.append("%s:%s" % (host, port))
sys.stdout.write("\n".join(out) + "\n")
"#;

/// Whether python3 can import pymemcache (scripts/test installs a pinned
/// version).
fn have_pymemcache() -> Result<(), String> {
    let import = Command::new("python3")
        .args(["-c", "import pymemcache"])
        .stderr(Stdio::null())
        .status();
    match import {
        Ok(s) if s.success() => Ok(()),
        Ok(_) => Err("python3 cannot import pymemcache (pip install pymemcache)".into()),
        Err(e) => Err(format!("cannot run python3: {e}")),
    }
}

/// 10,000 keys: printable ASCII of every length from 1 to 250, and some
/// non-ASCII text (hashed by pymemcache per code point).
fn keys() -> Vec<String> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let extra = ['é', 'ж', '日', '本', 'ß', '😀', 'ÿ', 'Ā'];
    (0..10_000)
        .map(|i| {
            if i % 10 == 9 {
                let n = 1 + next() % 40;
                (0..n)
                    .map(|_| match next() % 3 {
                        0 => extra[(next() % extra.len() as u64) as usize],
                        _ => (b'a' + (next() % 26) as u8) as char,
                    })
                    .collect()
            } else if i % 3 == 0 {
                format!("user:{i}")
            } else {
                let n = 1 + (next() % 250) as usize;
                (0..n).map(|_| (0x21 + next() % 94) as u8 as char).collect()
            }
        })
        .collect()
}

fn compare(servers: &[&str]) {
    let keys = keys();
    let mc = Client::new(servers.iter().copied()).unwrap();
    let ours: Vec<&str> = keys.iter().map(|k| mc.server_for(k).unwrap()).collect();

    let mut child = Command::new("python3")
        .args(["-c", PY, &servers.join(",")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut input = keys.join("\n").into_bytes();
    input.push(b'\n');
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "python3 failed");
    let theirs: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(theirs.len(), keys.len());
    let mismatches: Vec<_> = (0..keys.len())
        .filter(|&i| ours[i] != theirs[i])
        .map(|i| (&keys[i], ours[i], &theirs[i]))
        .take(5)
        .collect();
    assert!(mismatches.is_empty(), "first mismatches: {mismatches:?}");
    let mut used: Vec<&str> = ours.clone();
    used.sort();
    used.dedup();
    assert_eq!(used.len(), servers.len(), "every node gets keys");
}

#[test]
fn same_node_as_pymemcache_for_10000_keys() {
    if let Err(why) = have_pymemcache() {
        util::missing_peer(&why);
        return;
    }
    compare(&["127.0.0.1:21211", "127.0.0.1:21212", "127.0.0.1:21213"]);
    compare(&[
        "cache-a:11211",
        "cache-b",
        "[::1]:11300",
        "127.0.0.2:11211",
        "c:1",
    ]);
}
