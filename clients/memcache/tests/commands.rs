//! Every command against the real memcached nodes.
mod util;

use std::time::Duration;

use fibra_memcache::Client;

fn run(f: impl FnOnce(Client) + Send + 'static) {
    fibra_runtime::run(move || f(util::client()));
}

#[test]
fn set_get_binary_safe_with_flags() {
    run(|mc| {
        let k = util::key("bin");
        let value: Vec<u8> = (0..=255u8).chain(*b"\r\nEND\r\n").collect();
        mc.set(&k, &value, 0xdead_beef, 60).unwrap();
        let item = mc.get(&k).unwrap().unwrap();
        assert_eq!(item.value, value);
        assert_eq!(item.flags, 0xdead_beef);
        assert_eq!(item.cas, None);
        mc.set(&k, b"", 0, 0).unwrap();
        assert_eq!(mc.get(&k).unwrap().unwrap().value, b"");
        assert_eq!(mc.get(util::key("absent")).unwrap(), None);
    });
}

#[test]
fn large_value_and_too_large() {
    run(|mc| {
        let k = util::key("big");
        let big: Vec<u8> = (0..900_000u32).map(|i| (i * 7) as u8).collect();
        mc.set(&k, &big, 1, 60).unwrap();
        assert_eq!(mc.get(&k).unwrap().unwrap().value, big);
        let huge = vec![b'x'; 2 << 20];
        let e = mc.set(&k, &huge, 0, 60).unwrap_err();
        assert!(e.is_server_error(), "{e}");
        // The connections stay usable after SERVER_ERROR (memcached may
        // have dropped the old item while storing the new one).
        let left = mc.get(&k).unwrap();
        assert!(left.is_none() || left.unwrap().value == big);
    });
}

#[test]
fn add_replace_append_prepend() {
    run(|mc| {
        let k = util::key("cond");
        assert!(mc.replace(&k, b"x", 0, 0).unwrap_err().is_not_stored());
        assert!(mc.append(&k, b"x").unwrap_err().is_not_stored());
        assert!(mc.prepend(&k, b"x").unwrap_err().is_not_stored());
        mc.add(&k, b"mid", 3, 60).unwrap();
        assert!(mc.add(&k, b"again", 0, 0).unwrap_err().is_not_stored());
        mc.append(&k, b">").unwrap();
        mc.prepend(&k, b"<").unwrap();
        let item = mc.get(&k).unwrap().unwrap();
        assert_eq!((item.value.as_slice(), item.flags), (&b"<mid>"[..], 3));
        mc.replace(&k, b"new", 4, 60).unwrap();
        let item = mc.get(&k).unwrap().unwrap();
        assert_eq!((item.value.as_slice(), item.flags), (&b"new"[..], 4));
    });
}

#[test]
fn gets_and_cas() {
    run(|mc| {
        let k = util::key("cas");
        assert!(mc.cas(&k, b"v", 0, 0, 1).unwrap_err().is_not_found());
        mc.set(&k, b"v1", 0, 60).unwrap();
        let item = mc.gets(&k).unwrap().unwrap();
        let unique = item.cas.unwrap();
        mc.cas(&k, b"v2", 0, 60, unique).unwrap();
        let e = mc.cas(&k, b"v3", 0, 60, unique).unwrap_err();
        assert!(e.is_exists(), "{e}");
        assert_eq!(mc.get(&k).unwrap().unwrap().value, b"v2");
    });
}

#[test]
fn delete_touch_gat() {
    run(|mc| {
        let k = util::key("del");
        assert!(mc.delete(&k).unwrap_err().is_not_found());
        assert!(mc.touch(&k, 10).unwrap_err().is_not_found());
        assert_eq!(mc.gat(10, &k).unwrap(), None);
        mc.set(&k, b"v", 0, 1).unwrap();
        mc.touch(&k, 100).unwrap();
        let item = mc.gat(100, &k).unwrap().unwrap();
        assert_eq!(item.value, b"v");
        assert!(mc.gats(100, &k).unwrap().unwrap().cas.is_some());
        mc.delete(&k).unwrap();
        assert_eq!(mc.get(&k).unwrap(), None);
    });
}

#[test]
fn expiry_passes() {
    run(|mc| {
        let k = util::key("exp");
        mc.set(&k, b"v", 0, 1).unwrap();
        assert!(mc.get(&k).unwrap().is_some());
        // memcached's clock ticks in whole seconds.
        fibra_runtime::sleep(Duration::from_millis(2100));
        assert_eq!(mc.get(&k).unwrap(), None);
    });
}

#[test]
fn incr_decr_and_meta_init() {
    run(|mc| {
        let k = util::key("n");
        assert!(mc.incr(&k, 1).unwrap_err().is_not_found());
        mc.set(&k, b"10", 0, 60).unwrap();
        assert_eq!(mc.incr(&k, 5).unwrap(), 15);
        assert_eq!(mc.decr(&k, 100).unwrap(), 0);
        mc.set(&k, b"18446744073709551615", 0, 60).unwrap();
        assert_eq!(mc.incr(&k, 2).unwrap(), 1);
        mc.set(&k, b"abc", 0, 60).unwrap();
        let e = mc.incr(&k, 1).unwrap_err();
        assert!(e.is_client_error(), "{e}");
        assert_eq!(mc.get(&k).unwrap().unwrap().value, b"abc");

        let c = util::key("counter");
        assert_eq!(mc.incr_or_init(&c, 3, 100, 60).unwrap(), 100);
        assert_eq!(mc.incr_or_init(&c, 3, 100, 60).unwrap(), 103);
        assert_eq!(mc.incr(&c, 1).unwrap(), 104);
    });
}

#[test]
fn get_multi_across_nodes() {
    run(|mc| {
        let keys: Vec<String> = (0..300).map(|i| util::key(&format!("m{i}"))).collect();
        for (i, k) in keys.iter().enumerate().filter(|(i, _)| i % 3 != 0) {
            mc.set(k, format!("v{i}"), i as u32, 60).unwrap();
        }
        let mut nodes: Vec<&str> = keys.iter().map(|k| mc.server_for(k).unwrap()).collect();
        nodes.sort();
        nodes.dedup();
        assert_eq!(
            nodes.len(),
            mc.servers().len(),
            "keys spread over every node"
        );
        let mut asked = keys.clone();
        asked.push(keys[1].clone()); // a duplicate
        let got = mc.get_multi(&asked).unwrap();
        assert_eq!(got.len(), asked.len());
        for (i, item) in got.iter().take(keys.len()).enumerate() {
            if i % 3 == 0 {
                assert_eq!(item, &None, "key {i}");
            } else {
                let item = item.as_ref().unwrap();
                assert_eq!(item.value, format!("v{i}").as_bytes());
                assert_eq!(item.flags, i as u32);
            }
        }
        assert_eq!(got[keys.len()].as_ref().unwrap().value, b"v1");
        assert!(mc.gets_multi(&keys[1..3]).unwrap().iter().all(|i| i
            .as_ref()
            .unwrap()
            .cas
            .is_some()));
        assert!(mc.get_multi::<&str>(&[]).unwrap().is_empty());
    });
}

#[test]
fn invalid_keys_refused_before_sending() {
    run(|mc| {
        for bad in [String::new(), "a b".into(), "a\nb".into(), "x".repeat(251)] {
            assert!(mc.get(&bad).unwrap_err().is_invalid_key());
            assert!(mc.set(&bad, b"v", 0, 0).unwrap_err().is_invalid_key());
            assert!(mc
                .get_multi(&["ok", bad.as_str()])
                .unwrap_err()
                .is_invalid_key());
        }
        mc.set("x".repeat(250), b"v", 0, 60).unwrap();
        mc.set(util::key("ключ"), b"v", 0, 60).unwrap();
    });
}

#[test]
fn server_wide_commands() {
    run(|mc| {
        let versions = mc.version().unwrap();
        assert_eq!(versions.len(), 3);
        assert!(
            versions.iter().all(|(_, v)| v.starts_with("1.")),
            "{versions:?}"
        );
        let stats = mc.stats(None).unwrap();
        assert_eq!(stats.len(), 3);
        assert!(stats
            .iter()
            .all(|(_, s)| s.contains_key("curr_connections")));
        assert!(mc.stats(Some("settings")).unwrap()[0]
            .1
            .contains_key("maxbytes"));
    });
}

#[test]
fn many_coroutines_share_the_pools() {
    run(|mc| {
        let handles: Vec<_> = (0..64)
            .map(|t| {
                let mc = mc.clone();
                fibra_runtime::spawn(move || {
                    for i in 0..50 {
                        let k = format!("t:pool:{t}:{i}");
                        mc.set(&k, k.as_bytes(), 0, 60).unwrap();
                        assert_eq!(mc.get(&k).unwrap().unwrap().value, k.as_bytes());
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
    });
}

#[test]
fn unreachable_server_times_out_or_refuses() {
    fibra_runtime::run(|| {
        let mc = Client::builder()
            .server("127.0.0.1:1")
            .retry_attempts(0)
            .build()
            .unwrap();
        let e = mc.get("k").unwrap_err();
        assert!(e.is_io(), "{e}");
        assert_eq!(e.server(), Some("127.0.0.1:1"));
        // retry_attempts 0: dead at once, so nothing is left to route to.
        assert!(mc.get("k").unwrap_err().is_unavailable());
    });
}

#[test]
fn silent_server_times_out() {
    fibra_runtime::run(|| {
        // Accepts connections and never answers.
        let listener = fibra_net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        fibra_runtime::spawn(move || {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept() {
                held.push(conn);
            }
        });
        let mc = Client::builder()
            .server(addr.to_string())
            .timeout(Some(Duration::from_millis(200)))
            .build()
            .unwrap();
        let t = std::time::Instant::now();
        let e = mc.get("k").unwrap_err();
        assert!(e.is_timeout() && e.is_io(), "{e}");
        assert!(
            t.elapsed() < Duration::from_millis(1000),
            "{:?}",
            t.elapsed()
        );
        // Failing now: the next call within retry_timeout is not attempted.
        assert!(mc.get("k").unwrap_err().is_unavailable());
    });
}
