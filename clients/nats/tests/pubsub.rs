//! Publish/subscribe, wildcards, queue groups, unsubscribe and
//! auto-unsubscribe, headers, callbacks, max_payload, slow consumers.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fibra_nats::{ConnectOptions, ErrorKind, Event, HeaderMap};

const T: Duration = Duration::from_secs(5);

#[test]
fn publish_subscribe_round_trip() {
    let c = util::connect();
    let s = util::subject("basic");
    let sub = c.subscribe(&format!("{s}.*")).unwrap();
    c.flush().unwrap();
    for i in 0..100 {
        c.publish(&format!("{s}.{i}"), format!("m{i}")).unwrap();
    }
    for i in 0..100 {
        let m = sub.next_timeout(T).unwrap();
        assert_eq!(m.subject, format!("{s}.{i}"));
        assert_eq!(m.payload_str(), Some(format!("m{i}").as_str()));
        assert!(m.headers.is_none());
    }
    assert!(sub
        .next_timeout(Duration::from_millis(50))
        .unwrap_err()
        .is_timeout());
    assert!(c.server_info().max_payload > 0);
    assert!(c.rtt().unwrap() < T);
    let stats = c.statistics();
    assert_eq!((stats.out_msgs, stats.in_msgs), (100, 100));
}

#[test]
fn large_payload_and_max_payload() {
    let c = util::connect();
    let s = util::subject("large");
    let sub = c.subscribe(&s).unwrap();
    c.flush().unwrap();
    let max = c.max_payload();
    let big: Vec<u8> = (0..max - 100).map(|i| (i % 251) as u8).collect();
    c.publish(&s, &big).unwrap();
    assert_eq!(sub.next_timeout(T).unwrap().payload, big);
    let err = c.publish(&s, vec![0u8; max + 1]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MaxPayload);
    // The connection is still fine.
    c.flush().unwrap();
}

#[test]
fn bad_subjects_are_rejected() {
    let c = util::connect();
    assert_eq!(
        c.publish("a b", "x").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(c.subscribe("").unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(
        c.queue_subscribe("a", "q\r\n").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    c.flush().unwrap();
}

#[test]
fn queue_group_splits_messages() {
    let c = util::connect();
    let s = util::subject("queue");
    let a = c.queue_subscribe(&s, "workers").unwrap();
    let b = c.queue_subscribe(&s, "workers").unwrap();
    let all = c.subscribe(&s).unwrap();
    c.flush().unwrap();
    for i in 0..200 {
        c.publish(&s, i.to_string()).unwrap();
    }
    c.flush().unwrap();
    for _ in 0..200 {
        all.next_timeout(T).unwrap();
    }
    let (mut na, mut nb) = (0, 0);
    while a.next_timeout(Duration::from_millis(200)).is_ok() {
        na += 1;
    }
    while b.next_timeout(Duration::from_millis(200)).is_ok() {
        nb += 1;
    }
    assert_eq!(na + nb, 200);
    assert!(na > 0 && nb > 0, "one member got everything: {na}/{nb}");
}

#[test]
fn unsubscribe_and_auto_unsubscribe() {
    let c = util::connect();
    let s = util::subject("unsub");
    let mut sub = c.subscribe(&s).unwrap();
    let mut auto = c.subscribe(&s).unwrap();
    auto.unsubscribe_after(3).unwrap();
    c.flush().unwrap();
    for i in 0..10 {
        c.publish(&s, i.to_string()).unwrap();
    }
    c.flush().unwrap();
    let got: Vec<_> = auto.by_ref().map(|m| m.payload).collect();
    assert_eq!(got, [b"0".to_vec(), b"1".to_vec(), b"2".to_vec()]);
    for _ in 0..10 {
        sub.next_timeout(T).unwrap();
    }
    sub.unsubscribe().unwrap();
    c.publish(&s, "late").unwrap();
    c.flush().unwrap();
    assert!(sub.next_timeout(Duration::from_millis(100)).is_err());
}

#[test]
fn headers_round_trip() {
    let c = util::connect();
    assert!(c.server_info().headers);
    let s = util::subject("hdr");
    let sub = c.subscribe(&s).unwrap();
    c.flush().unwrap();
    let mut h = HeaderMap::new();
    h.insert("Trace-Id", "abc");
    h.append("Multi", "1");
    h.append("Multi", "2");
    c.publish_with_headers(&s, &h, "body").unwrap();
    let m = sub.next_timeout(T).unwrap();
    let got = m.headers.unwrap();
    assert_eq!(got.get("Trace-Id"), Some("abc"));
    assert_eq!(got.get_all("Multi").collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(m.payload, b"body");
}

#[test]
fn callback_subscription_and_drain() {
    let c = util::connect();
    let s = util::subject("cb");
    let seen = Arc::new(AtomicUsize::new(0));
    let seen2 = seen.clone();
    let h = c
        .subscribe_fn(&s, move |_m| {
            std::thread::sleep(Duration::from_micros(100));
            seen2.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    c.flush().unwrap();
    for _ in 0..500 {
        c.publish(&s, "x").unwrap();
    }
    c.flush().unwrap();
    h.drain().unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 500);
}

#[test]
fn no_echo() {
    let c = util::connect_to(&util::url(), ConnectOptions::new().no_echo(true));
    let s = util::subject("echo");
    let sub = c.subscribe(&s).unwrap();
    c.flush().unwrap();
    c.publish(&s, "mine").unwrap();
    c.flush().unwrap();
    assert!(sub.next_timeout(Duration::from_millis(200)).is_err());
    let other = util::connect();
    other.publish(&s, "theirs").unwrap();
    other.flush().unwrap();
    assert_eq!(sub.next_timeout(T).unwrap().payload, b"theirs");
}

#[test]
fn slow_consumer_drops_and_reports() {
    let c = util::connect();
    let events = c.events();
    let s = util::subject("slow");
    let sub = c.subscribe(&s).unwrap();
    sub.set_pending_limits(10, 1 << 20);
    c.flush().unwrap();
    for _ in 0..50 {
        c.publish(&s, "x").unwrap();
    }
    c.flush().unwrap();
    assert_eq!(sub.pending().0, 10);
    assert_eq!(sub.dropped(), 40);
    let mut got = 0;
    while sub.try_next().is_some() {
        got += 1;
    }
    assert_eq!(got, 10);
    let mut saw = false;
    while let Ok(e) = events.recv_timeout(Duration::from_millis(500)) {
        if matches!(e, Event::SlowConsumer { sid, .. } if sid == sub.sid()) {
            saw = true;
            break;
        }
    }
    assert!(saw, "no SlowConsumer event");
}

#[test]
fn client_drain_delivers_buffered_then_closes() {
    let c = util::connect();
    let s = util::subject("drain");
    let sub = c.subscribe(&s).unwrap();
    c.flush().unwrap();
    for i in 0..100 {
        c.publish(&s, i.to_string()).unwrap();
    }
    c.drain().unwrap();
    assert!(c.is_closed());
    assert_eq!(sub.count(), 100);
    assert!(c.publish(&s, "x").unwrap_err().is_closed());
}

#[test]
fn close_ends_subscriptions() {
    let c = util::connect();
    let events = c.events();
    let sub = c.subscribe(&util::subject("close")).unwrap();
    c.close();
    assert!(sub.next_timeout(T).unwrap_err().is_closed());
    assert!(c.flush().unwrap_err().is_closed());
    let all: Vec<Event> = events.try_iter().collect();
    assert!(matches!(all.first(), Some(Event::Connected(_))), "{all:?}");
    assert_eq!(all.last(), Some(&Event::Closed));
}

#[test]
fn event_callback_sees_connect_and_close() {
    let (tx, rx) = fibra_runtime::chan::unbounded();
    let c = util::connect_to(
        &util::url(),
        ConnectOptions::new()
            .name("cb-test")
            .event_callback(move |e| {
                let _ = tx.send(e);
            }),
    );
    c.close();
    assert!(matches!(rx.recv_timeout(T), Ok(Event::Connected(_))));
    assert_eq!(rx.recv_timeout(T), Ok(Event::Closed));
}

/// Many megabytes from several publishing coroutines at once: the write
/// buffer fills past its high-water mark again and again, publishers and
/// the writer take turns at the socket, and every message must arrive
/// whole and, per publisher, in order.
#[test]
fn bulk_publish_from_many_coroutines_keeps_order() {
    const PUBLISHERS: usize = 4;
    const EACH: usize = 20_000;
    fibra_runtime::run(|| {
        let c = util::connect();
        let rx = ConnectOptions::new()
            .pending_limits(usize::MAX, usize::MAX)
            .connect(&util::url())
            .unwrap();
        let s = util::subject("bulk");
        let sub = rx.subscribe(&format!("{s}.*")).unwrap();
        rx.flush().unwrap();
        let body = vec![b'z'; 700];
        let handles: Vec<_> = (0..PUBLISHERS)
            .map(|p| {
                let (c, s, body) = (c.clone(), s.clone(), body.clone());
                fibra_runtime::spawn(move || {
                    for i in 0..EACH {
                        let mut payload = format!("{i:08} ").into_bytes();
                        payload.extend_from_slice(&body);
                        c.publish(&format!("{s}.{p}"), payload).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        c.flush_timeout(Duration::from_secs(30)).unwrap();
        let mut next = [0usize; PUBLISHERS];
        for _ in 0..PUBLISHERS * EACH {
            let m = sub.next_timeout(Duration::from_secs(10)).unwrap();
            let p: usize = m.subject.rsplit('.').next().unwrap().parse().unwrap();
            let seq: usize = std::str::from_utf8(&m.payload[..8])
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(seq, next[p], "publisher {p}: out of order or lost");
            assert_eq!(m.payload.len(), 9 + body.len());
            assert!(m.payload[9..].iter().all(|&b| b == b'z'), "corrupted body");
            next[p] += 1;
        }
        assert_eq!(next, [EACH; PUBLISHERS]);
        assert!(sub.try_next().is_none(), "more messages than published");
    });
}
