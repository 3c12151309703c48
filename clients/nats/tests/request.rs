//! Request/reply over the one multiplexed inbox: replies, timeouts, no
//! responders, many requests at once from many coroutines.

mod util;

use std::time::Duration;

use fibra_nats::{ErrorKind, HeaderMap};

const T: Duration = Duration::from_secs(5);

#[test]
fn request_reply() {
    let c = util::connect();
    let s = util::subject("echo");
    let responder = c.clone();
    let _h = c
        .subscribe_fn(&s, move |m| {
            let mut out = b"re:".to_vec();
            out.extend_from_slice(&m.payload);
            responder.respond(&m, out).unwrap();
        })
        .unwrap();
    c.flush().unwrap();
    let r = c.request_timeout(&s, "hi", T).unwrap();
    assert_eq!(r.payload, b"re:hi");
    // Headers travel with a request.
    let mut h = HeaderMap::new();
    h.insert("K", "v");
    let r = c.request_with_headers(&s, &h, "x", T).unwrap();
    assert_eq!(r.payload, b"re:x");
}

#[test]
fn many_concurrent_requests_share_one_inbox() {
    let c = util::connect();
    let s = util::subject("conc");
    let responder = c.clone();
    let _h = c
        .subscribe_fn(&s, move |m| responder.respond(&m, &m.payload).unwrap())
        .unwrap();
    c.flush().unwrap();
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let c = c.clone();
            let s = s.clone();
            fibra_runtime::spawn(move || {
                for j in 0..20 {
                    let body = format!("{i}-{j}");
                    let r = c.request_timeout(&s, &body, T).unwrap();
                    assert_eq!(r.payload, body.as_bytes());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn no_responders_and_timeout() {
    let c = util::connect();
    let err = c
        .request_timeout(&util::subject("nobody"), "x", T)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoResponders);
    assert!(err.is_no_responders());
    // A subscriber that never answers: a timeout.
    let s = util::subject("silent");
    let _sub = c.subscribe(&s).unwrap();
    c.flush().unwrap();
    let err = c
        .request_timeout(&s, "x", Duration::from_millis(100))
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[test]
fn manual_inbox() {
    let c = util::connect();
    let s = util::subject("manual");
    let inbox = c.new_inbox();
    let replies = c.subscribe(&inbox).unwrap();
    let svc = c.subscribe(&s).unwrap();
    c.flush().unwrap();
    c.publish_with_reply(&s, &inbox, None, "q").unwrap();
    let m = svc.next_timeout(T).unwrap();
    assert_eq!(m.reply.as_deref(), Some(inbox.as_str()));
    c.respond(&m, "a1").unwrap();
    c.respond(&m, "a2").unwrap();
    assert_eq!(replies.next_timeout(T).unwrap().payload, b"a1");
    assert_eq!(replies.next_timeout(T).unwrap().payload, b"a2");
}
