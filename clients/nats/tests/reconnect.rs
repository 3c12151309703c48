//! Reconnection: failover across a cluster while publishing (the buffered
//! messages must all arrive), re-subscription, the reconnect buffer and
//! its limit, discovered servers, giving up.

mod util;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fibra_nats::{ConnectOptions, ErrorKind, Event, Status};

const T: Duration = Duration::from_secs(10);

fn fast() -> ConnectOptions {
    ConnectOptions::new()
        .reconnect_wait(Duration::from_millis(50))
        .reconnect_jitter(Duration::from_millis(10))
        .connect_timeout(Duration::from_secs(1))
}

#[track_caller]
fn wait_for(events: &fibra_runtime::chan::Receiver<Event>, pred: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(e) if pred(&e) => return e,
            Ok(_) => {}
            Err(e) => panic!("event not seen: {e:?}"),
        }
    }
}

/// Waits until a message published through `publisher` reaches `sub`
/// (interest has spread through the cluster's routes).
fn wait_route(publisher: &fibra_nats::Client, sub: &fibra_nats::Subscription, subject: &str) {
    let deadline = Instant::now() + T;
    loop {
        publisher.publish(subject, "probe").unwrap();
        publisher.flush().unwrap();
        if sub.next_timeout(Duration::from_millis(100)).is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cluster routes never carried a message"
        );
    }
    while sub.next_timeout(Duration::from_millis(100)).is_ok() {}
}

#[test]
fn cluster_failover_delivers_every_buffered_message() {
    let mut nodes = util::spawn_cluster();
    let urls: Vec<String> = nodes.iter().map(util::Server::url).collect();
    // The subscriber talks to node 1 only; the publisher starts on node 0
    // and fails over to node 2 (node 1 is its last choice).
    let sub_client = util::connect_to(&urls[1], ConnectOptions::new());
    let subject = util::subject("failover");
    let sub = sub_client.subscribe(&subject).unwrap();
    sub.set_pending_limits(usize::MAX, usize::MAX);
    sub_client.flush().unwrap();
    let order = format!("{},{},{}", urls[0], urls[2], urls[1]);
    let publisher = util::connect_to(
        &order,
        fast().no_randomize(true).ignore_discovered_servers(true),
    );
    assert_eq!(publisher.connected_url().unwrap(), urls[0]);
    wait_route(&publisher, &sub, &subject);
    let events = publisher.events();
    while events.try_recv().is_ok() {}

    let stream = {
        let publisher = publisher.clone();
        let subject = subject.clone();
        let events = events.clone();
        fibra_runtime::spawn(move || {
            let mut must_arrive = Vec::new();
            let mut buffered = 0usize;
            let mut lost_seen = false;
            let mut after_reconnect = None::<usize>;
            let mut i = 0usize;
            loop {
                while let Ok(e) = events.try_recv() {
                    match e {
                        Event::Disconnected(_) => lost_seen = true,
                        Event::Reconnected(_) if lost_seen => after_reconnect = Some(0),
                        _ => {}
                    }
                }
                let status = publisher.status();
                lost_seen |= status == Status::Reconnecting;
                publisher.publish(&subject, i.to_string()).unwrap();
                if status == Status::Reconnecting {
                    buffered += 1;
                }
                if lost_seen {
                    must_arrive.push(i);
                }
                if let Some(n) = after_reconnect.as_mut() {
                    *n += 1;
                    if *n > 1000 {
                        i += 1;
                        break;
                    }
                }
                i += 1;
                if i % 50 == 0 {
                    fibra_runtime::sleep(Duration::from_millis(1));
                }
                assert!(i < 2_000_000, "never reconnected");
            }
            publisher.flush().unwrap();
            (must_arrive, buffered, i)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    // Node 2 is frozen while node 0 dies, so the publisher's reconnection
    // hangs in the handshake for a while and many publishes are buffered.
    nodes[2].signal("STOP");
    nodes[0].kill();
    std::thread::sleep(Duration::from_millis(300));
    nodes[2].signal("CONT");
    let (must_arrive, buffered, total) = stream.join().unwrap();
    assert_ne!(publisher.connected_url().unwrap(), urls[0]);
    assert!(
        buffered > 50,
        "only {buffered} publishes happened while disconnected"
    );
    assert!(!must_arrive.is_empty());

    let mut got = HashSet::new();
    while let Ok(m) = sub.next_timeout(Duration::from_secs(2)) {
        let n: usize = m.payload_str().unwrap().parse().unwrap();
        got.insert(n);
        if got.len() == total {
            break;
        }
    }
    let missing: Vec<_> = must_arrive.iter().filter(|i| !got.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} messages published after the loss ({buffered} buffered) never arrived: {:?}",
        missing.len(),
        must_arrive.len(),
        &missing[..missing.len().min(20)]
    );
    assert_eq!(publisher.statistics().reconnects, 1);
}

#[test]
fn restart_resubscribes_and_flushes_buffer() {
    let mut server = util::spawn_server(&[]);
    let port = server.port;
    let c = util::connect_to(&server.url(), fast().max_reconnects(None));
    let events = c.events();
    let s = util::subject("restart");
    let sub = c.subscribe(&s).unwrap();
    let mut auto = c.subscribe(&s).unwrap();
    auto.unsubscribe_after(7).unwrap();
    c.publish(&s, "before").unwrap();
    assert_eq!(sub.next_timeout(T).unwrap().payload, b"before");
    server.kill();
    wait_for(&events, |e| matches!(e, Event::Disconnected(_)));
    assert_eq!(c.status(), Status::Reconnecting);
    for i in 0..100 {
        c.publish(&s, i.to_string()).unwrap();
    }
    // A subscription made while disconnected is sent on reconnect too.
    let late = c.subscribe(&s).unwrap();
    let _server = util::spawn_server_on(port, &[]);
    wait_for(&events, |e| matches!(e, Event::Reconnected(_)));
    for i in 0..100 {
        assert_eq!(
            sub.next_timeout(T).unwrap().payload,
            i.to_string().as_bytes()
        );
        assert_eq!(
            late.next_timeout(T).unwrap().payload,
            i.to_string().as_bytes()
        );
    }
    // "before" plus six more: the auto-unsubscribe limit survives.
    assert_eq!(auto.by_ref().count(), 7);
}

#[test]
fn reconnect_buffer_limit() {
    let mut server = util::spawn_server(&[]);
    let c = util::connect_to(
        &server.url(),
        fast().reconnect_buffer_size(10_000).max_reconnects(None),
    );
    let events = c.events();
    server.kill();
    wait_for(&events, |e| matches!(e, Event::Disconnected(_)));
    let mut sent = 0;
    let err = loop {
        match c.publish("x", [0u8; 100]) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::BufferFull);
    assert!((50..100).contains(&sent), "{sent}");
}

#[test]
fn gives_up_after_max_reconnects() {
    let mut server = util::spawn_server(&[]);
    let c = util::connect_to(&server.url(), fast().max_reconnects(Some(2)));
    let events = c.events();
    server.kill();
    wait_for(&events, |e| *e == Event::Closed);
    assert!(c.is_closed());
    assert!(c.publish("x", "y").unwrap_err().is_closed());
}

#[test]
fn no_reconnect_when_disabled() {
    let mut server = util::spawn_server(&[]);
    let c = util::connect_to(&server.url(), fast().allow_reconnect(false));
    let events = c.events();
    server.kill();
    wait_for(&events, |e| *e == Event::Closed);
}

#[test]
fn learns_cluster_servers_from_info() {
    let first = util::cluster_urls().split(',').next().unwrap().to_owned();
    let c = util::connect_to(&first, ConnectOptions::new());
    let deadline = Instant::now() + T;
    while c.servers().len() < 3 {
        assert!(Instant::now() < deadline, "servers: {:?}", c.servers());
        fibra_runtime::sleep(Duration::from_millis(20));
    }
    let ignoring = util::connect_to(
        &first,
        ConnectOptions::new().ignore_discovered_servers(true),
    );
    assert_eq!(ignoring.servers().len(), 1);
}

#[test]
fn force_reconnect_keeps_subscriptions() {
    let c = util::connect_to(&util::url(), fast());
    let events = c.events();
    let s = util::subject("force");
    let sub = c.subscribe(&s).unwrap();
    c.flush().unwrap();
    c.force_reconnect();
    wait_for(&events, |e| matches!(e, Event::Reconnected(_)));
    let other = util::connect();
    other.publish(&s, "after").unwrap();
    other.flush().unwrap();
    assert_eq!(sub.next_timeout(T).unwrap().payload, b"after");
    assert_eq!(
        c.request_timeout(&util::subject("none"), "", T)
            .unwrap_err()
            .kind(),
        ErrorKind::NoResponders
    );
}

#[test]
fn lame_duck_mode_is_reported() {
    let server = util::spawn_server(&[]);
    let c = util::connect_to(&server.url(), fast());
    let events = c.events();
    c.flush().unwrap();
    // SIGUSR2 puts nats-server into lame duck mode.
    server.signal("USR2");
    wait_for(&events, |e| *e == Event::LameDuckMode);
}
