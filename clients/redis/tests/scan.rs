//! SCAN cursors as iterators.

mod util;

use std::collections::{HashMap, HashSet};

use fibra_redis::{cmd, pipe, ScanOptions};

#[test]
fn scan_iterators() {
    fibra_runtime::run(|| {
        util::both(|p| {
            let mut c = util::connect(p);
            let prefix = util::key("scan");
            let mut fill = pipe();
            for i in 0..250 {
                fill.cmd(cmd("SET").arg(format!("{prefix}:{i}")).arg(i))
                    .ignore();
            }
            fill.execute(&mut c).unwrap();
            let keys: HashSet<String> = c
                .scan(
                    ScanOptions::default()
                        .pattern(format!("{prefix}:*"))
                        .count(50),
                )
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(keys.len(), 250);
            let strings = c
                .scan::<String>(
                    ScanOptions::default()
                        .pattern(format!("{prefix}:1*"))
                        .key_type("string"),
                )
                .count();
            assert!(strings >= 111, "{strings}");

            let h = format!("{prefix}:hash");
            let pairs: Vec<(String, i64)> = (0..300).map(|i| (format!("f{i}"), i)).collect();
            c.hset_multiple(&h, &pairs).unwrap();
            let got: HashMap<String, i64> = c
                .hscan(&h, ScanOptions::default().count(20))
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(got.len(), 300);
            assert_eq!(got["f299"], 299);

            let s = format!("{prefix}:set");
            c.sadd(&s, (0..200).collect::<Vec<i64>>()).unwrap();
            let members: HashSet<i64> = c
                .sscan(&s, ScanOptions::default())
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(members.len(), 200);

            let z = format!("{prefix}:z");
            let entries: Vec<(f64, String)> =
                (0..150).map(|i| (i as f64, format!("m{i}"))).collect();
            c.zadd_multiple(&z, &entries).unwrap();
            let scored: HashMap<String, f64> = c
                .zscan(&z, ScanOptions::default())
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(scored["m7"], 7.0);

            // A scan over the wrong type yields the error and ends.
            let mut it = c.sscan::<_, String>(&h, ScanOptions::default());
            assert_eq!(it.next().unwrap().unwrap_err().code(), Some("WRONGTYPE"));
            assert!(it.next().is_none());

            let all: Vec<String> = c.keys(format!("{prefix}:*")).unwrap();
            c.del(&all).unwrap();
        });
    });
}
