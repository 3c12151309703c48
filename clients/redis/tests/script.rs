//! EVALSHA with loading on NOSCRIPT.

mod util;

use fibra_redis::{cmd, Protocol, Script};

#[test]
fn evalsha_loads_on_noscript() {
    fibra_runtime::run(|| {
        util::both(|p| {
            let mut c = util::connect(p);
            let k = util::key("cnt");
            // A unique script body, so the server cannot know it yet.
            let src = format!("-- {k}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])");
            let s = Script::new(&src);
            let known: Vec<bool> = cmd("SCRIPT")
                .arg("EXISTS")
                .arg(s.hash())
                .query(&mut c)
                .unwrap();
            assert_eq!(known, [false]);
            assert_eq!(s.key(&k).arg(5).invoke::<i64>(&mut c).unwrap(), 5);
            let known: Vec<bool> = cmd("SCRIPT")
                .arg("EXISTS")
                .arg(s.hash())
                .query(&mut c)
                .unwrap();
            assert_eq!(known, [true]);
            assert_eq!(s.key(&k).arg(2).invoke::<i64>(&mut c).unwrap(), 7);

            let multi = Script::new("return {KEYS[1], KEYS[2], ARGV[1]}");
            let v: (String, String, String) = multi
                .prepare()
                .key(["a", "b"])
                .arg("c")
                .invoke(&mut c)
                .unwrap();
            assert_eq!(v, ("a".into(), "b".into(), "c".into()));

            let failing = Script::new("return redis.error_reply('BOOM custom')");
            let e = failing.prepare().invoke::<()>(&mut c).unwrap_err();
            assert_eq!(e.code(), Some("BOOM"));
            c.ping().unwrap();
            c.del(&k).unwrap();
        });
        let _ = Protocol::Resp2;
    });
}
