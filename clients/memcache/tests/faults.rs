//! Kill one memcached node during a workload and restart it: in-flight and
//! following calls fail with errors (no panic, no hang beyond the
//! timeouts), its keys move to their next node once it is marked dead, and
//! come back after `dead_timeout` once it is up again.
mod util;

use std::net::TcpStream as StdTcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_memcache::{hash, Client};

fn services_dir() -> PathBuf {
    if let Ok(d) = std::env::var("FIBRA_SERVICES_DIR") {
        return d.into();
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let manifest = manifest.canonicalize().unwrap_or(manifest);
    manifest.join("../../target/services")
}

/// The pid of the running memcached serving `port`, from the pids file.
#[track_caller]
fn pid_of(port: &str) -> u32 {
    let pids = std::fs::read_to_string(services_dir().join("pids")).expect("services pids file");
    let name = format!("memcached-{port}");
    pids.lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, n)| *n == name)
        .filter_map(|(p, _)| p.parse::<u32>().ok())
        .rfind(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.trim() == "memcached")
        })
        .unwrap_or_else(|| panic!("no running {name} in the pids file"))
}

fn kill(pid: u32) {
    let st = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    // Wait until it is gone, so the port is free for the restart.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::metadata(format!("/proc/{pid}/comm")).is_ok_and(|_| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
    }) {
        assert!(Instant::now() < deadline, "memcached {pid} did not die");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts memcached on `port` again, as scripts/services does, and records
/// it in the pids file so `scripts/services stop` ends it.
fn restart(port: &str) {
    // Through sh, so the server outlives this test process unattached.
    let out = Command::new("sh")
        .args([
            "-c",
            &format!("nohup memcached -u root -l 127.0.0.1 -p {port} -U 0 -m 64 >/dev/null 2>&1 & echo $!"),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("start memcached");
    let pid = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // Replace the killed server's line, so `stop` never signals its
    // (possibly reused) pid.
    let path = services_dir().join("pids");
    let name = format!("memcached-{port}");
    let mut pids: String = std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split_once(' ').is_none_or(|(_, n)| n != name))
        .map(|l| format!("{l}\n"))
        .collect();
    pids.push_str(&format!("{pid} {name}\n"));
    std::fs::write(&path, pids).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while StdTcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
        assert!(Instant::now() < deadline, "memcached did not come back");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Restarts the node when dropped, unless it was already: a failing test
/// must not leave the services short of a node.
struct Restart(String, Arc<AtomicBool>);

impl Drop for Restart {
    fn drop(&mut self) {
        if self.1.load(Ordering::SeqCst) {
            restart(&self.0);
        }
    }
}

#[track_caller]
fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        fibra_runtime::sleep(Duration::from_millis(20));
    }
}

#[test]
fn kill_and_restart_a_node_during_a_workload() {
    let addrs = util::addrs();
    let victim = addrs.last().unwrap().clone();
    let port = victim.rsplit_once(':').unwrap().1.to_string();
    let pid = pid_of(&port);
    let down = Arc::new(AtomicBool::new(false));
    let _guard = Restart(port.clone(), down.clone());

    fibra_runtime::run(move || {
        let timeout = Duration::from_millis(300);
        let dead_timeout = Duration::from_millis(1500);
        let mc = Client::builder()
            .servers(addrs.clone())
            .timeout(Some(timeout))
            .connect_timeout(Some(timeout))
            .checkout_timeout(Some(timeout))
            .retry_attempts(1)
            .retry_timeout(Duration::from_millis(100))
            .dead_timeout(dead_timeout)
            .build()
            .unwrap();
        let vi = mc.servers().iter().position(|s| *s == victim).unwrap();
        let keys: Vec<String> = (0..300).map(|i| format!("t:fault:{i}")).collect();
        let moved: Vec<(String, String)> = keys
            .iter()
            .filter(|k| mc.server_for(k).unwrap() == victim)
            .map(|k| {
                let next = hash::pick(mc.servers(), k.as_bytes(), |i| i == vi).unwrap();
                (k.clone(), mc.servers()[next].clone())
            })
            .collect();
        assert!(moved.len() > 20, "enough keys live on the victim");

        let stop = Arc::new(AtomicBool::new(false));
        let (oks, errs, io_errs, slowest) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
        );
        let probe: (String, String) = (0..)
            .map(|i| format!("t:fault:probe:{i}"))
            .find(|k| mc.server_for(k).unwrap() == victim)
            .map(|k| {
                let next = hash::pick(mc.servers(), k.as_bytes(), |i| i == vi).unwrap();
                (k, mc.servers()[next].clone())
            })
            .unwrap();
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let (mc, keys, stop) = (mc.clone(), keys.clone(), stop.clone());
                let victim_name = victim.clone();
                let (oks, errs, slowest) = (oks.clone(), errs.clone(), slowest.clone());
                let io_errs = io_errs.clone();
                fibra_runtime::spawn(move || {
                    let mut i = w;
                    while !stop.load(Ordering::Relaxed) {
                        let k = &keys[i % keys.len()];
                        i += 7;
                        let t = Instant::now();
                        let r = if i % 2 == 0 {
                            mc.set(k, b"v", 0, 60)
                        } else {
                            mc.get_multi(&keys[i % 280..i % 280 + 20]).map(drop)
                        };
                        slowest.fetch_max(t.elapsed().as_millis() as u64, Ordering::Relaxed);
                        match r {
                            Ok(()) => oks.fetch_add(1, Ordering::Relaxed),
                            Err(e) => {
                                assert!(e.is_io() || e.is_unavailable() || e.is_timeout(), "{e}");
                                assert_eq!(e.server(), Some(victim_name.as_str()), "{e}");
                                if e.is_io() {
                                    io_errs.fetch_add(1, Ordering::Relaxed);
                                }
                                errs.fetch_add(1, Ordering::Relaxed)
                            }
                        };
                        fibra_runtime::sleep(Duration::from_millis(1));
                    }
                })
            })
            .collect();

        fibra_runtime::sleep(Duration::from_millis(300));
        assert_eq!(errs.load(Ordering::Relaxed), 0, "no errors while healthy");
        kill(pid);
        down.store(true, Ordering::SeqCst);

        // Calls to the victim fail, then it is marked dead and its keys go
        // to their next node.
        let (k0, next0) = moved[0].clone();
        wait_for(
            "a key of the killed node moves",
            Duration::from_secs(5),
            || mc.server_for(&k0).unwrap() == next0,
        );
        assert!(
            io_errs.load(Ordering::Relaxed) > 0,
            "the kill surfaced as I/O errors"
        );
        for (k, next) in &moved {
            assert_eq!(mc.server_for(k).unwrap(), next);
        }
        // A key of the victim that the workload never writes, so the
        // value read back can only be ours.
        let (k1, _) = &probe;
        mc.set(k1, b"moved", 0, 60).unwrap();
        assert_eq!(mc.get(k1).unwrap().unwrap().value, b"moved");
        let ok_while_down = oks.load(Ordering::Relaxed);

        restart(&port);
        down.store(false, Ordering::SeqCst);
        // After dead_timeout it is taken back: keys return to it.
        wait_for("the keys come back", dead_timeout * 4, || {
            mc.server_for(&k0).unwrap() == victim
        });
        // No stale pooled connection from before the kill is reused: the
        // first call to the restarted node succeeds, and finds it empty (the
        // value written while it was down stayed on the other node).
        assert_eq!(mc.get(k1).unwrap(), None);
        mc.set(k1, b"back", 0, 60).unwrap();
        assert_eq!(mc.get(k1).unwrap().unwrap().value, b"back");
        fibra_runtime::sleep(Duration::from_millis(200));

        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().expect("no worker panicked");
        }
        assert!(oks.load(Ordering::Relaxed) > ok_while_down, "work went on");
        let slowest = slowest.load(Ordering::Relaxed);
        // checkout + connect + write + read, each bounded by `timeout`.
        assert!(
            slowest < 4 * timeout.as_millis() as u64 + 500,
            "a call took {slowest} ms"
        );
        println!(
            "faults: {} ok, {} errors ({} I/O), slowest call {slowest} ms",
            oks.load(Ordering::Relaxed),
            errs.load(Ordering::Relaxed),
            io_errs.load(Ordering::Relaxed)
        );
    });
}
