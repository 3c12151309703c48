//! LISTEN/NOTIFY with the blocking iterator, and cancel requests.

mod util;

use std::time::{Duration, Instant};

#[test]
fn listen_notify() {
    fibra_runtime::run(|| {
        let mut listener = util::connect();
        let chan = util::table("chan");
        listener.batch_execute(&format!("LISTEN {chan}")).unwrap();
        let ch = chan.clone();
        let sender = fibra_runtime::spawn(move || {
            let mut c = util::connect();
            for i in 0..5 {
                fibra_runtime::sleep(Duration::from_millis(20));
                c.execute("SELECT pg_notify($1, $2)", &[&ch, &format!("msg {i}")])
                    .unwrap();
            }
        });
        let got: Vec<String> = listener
            .notifications()
            .blocking_iter()
            .take(5)
            .map(|n| n.unwrap().payload)
            .collect();
        sender.join().unwrap();
        assert_eq!(got, (0..5).map(|i| format!("msg {i}")).collect::<Vec<_>>());

        // Nothing more: the timeout iterator ends.
        let start = Instant::now();
        assert!(listener
            .notifications()
            .timeout_iter(Duration::from_millis(200))
            .next()
            .is_none());
        assert!(start.elapsed() >= Duration::from_millis(150));

        // A notification arriving during a query is buffered.
        listener
            .execute("SELECT pg_notify($1, 'self')", &[&chan])
            .unwrap();
        let mut n = listener.notifications();
        assert_eq!(n.len(), 1);
        let first = n.iter().next().unwrap();
        assert_eq!(first.channel, chan);
        assert_eq!(first.payload, "self");
        assert_eq!(first.process_id, listener.backend_pid());
        listener.ping().unwrap();
    });
}

#[test]
fn cancel_a_running_query() {
    fibra_runtime::run(|| {
        let mut c = util::connect();
        let token = c.cancel_token();
        let canceler = fibra_runtime::spawn(move || {
            fibra_runtime::sleep(Duration::from_millis(300));
            token.cancel_query().unwrap();
        });
        let start = Instant::now();
        let e = c.batch_execute("SELECT pg_sleep(20)").unwrap_err();
        assert_eq!(
            e.code(),
            Some(fibra_postgres::sqlstate::QUERY_CANCELED),
            "{e}"
        );
        assert!(start.elapsed() < Duration::from_secs(10));
        canceler.join().unwrap();
        c.ping().unwrap();
    });
}

#[test]
fn read_timeout_breaks_the_connection() {
    let mut c =
        util::connect_with(&util::config("trust").read_timeout(Some(Duration::from_millis(200))));
    let e = c.batch_execute("SELECT pg_sleep(2)").unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    assert!(c.is_broken());
    assert!(c.ping().unwrap_err().is_closed());
}
