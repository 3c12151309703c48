//! JetStream basics against the JetStream-enabled server: streams,
//! publish acks and duplicate detection, pull consumers with
//! ack/nak/term, and the key-value bucket.

mod util;

use std::time::Duration;

use fibra_nats::jetstream::{ConsumerConfig, JetStream, Operation, StreamConfig};
use fibra_nats::{ConnectOptions, ErrorKind};

const T: Duration = Duration::from_secs(5);

fn js() -> JetStream {
    JetStream::new(util::connect_to(&util::js_url(), ConnectOptions::new()))
}

/// A stream name no other test (or run) uses.
fn name(base: &str) -> String {
    util::subject(base).replace('.', "_")
}

#[test]
fn stream_lifecycle_and_publish_acks() {
    let js = js();
    let stream = name("S");
    let subj = format!("{stream}.>");
    let info = js
        .create_stream(&StreamConfig::new(&stream, [&subj]))
        .unwrap();
    assert_eq!(info.config.name, stream);
    let a1 = js.publish(&format!("{stream}.a"), "one").unwrap();
    assert_eq!(
        (a1.stream.as_str(), a1.seq, a1.duplicate),
        (stream.as_str(), 1, false)
    );
    // Duplicate detection.
    let d1 = js
        .publish_with_id(&format!("{stream}.a"), "id-1", "x")
        .unwrap();
    let d2 = js
        .publish_with_id(&format!("{stream}.a"), "id-1", "x")
        .unwrap();
    assert!(!d1.duplicate && d2.duplicate);
    assert_eq!(d1.seq, d2.seq);
    assert_eq!(js.stream_info(&stream).unwrap().state.messages, 2);
    // Update: a second subject.
    let mut cfg = info.config.clone();
    cfg.subjects.push(format!("{stream}x"));
    let updated = js.update_stream(&cfg).unwrap();
    assert_eq!(updated.config.subjects.len(), 2);
    assert_eq!(js.publish(&format!("{stream}x"), "y").unwrap().seq, 3);
    // Creating it again with another configuration fails with a code.
    let err = js
        .create_stream(&StreamConfig::new(&stream, ["other.subject"]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JetStream);
    assert!(err.code().is_some(), "{err}");
    js.delete_stream(&stream).unwrap();
    let err = js.stream_info(&stream).unwrap_err();
    assert_eq!(err.code(), Some(10059), "{err}");
    // No stream captures it: no responders, reported as a JetStream error.
    let err = js.publish(&format!("{stream}.gone"), "z").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JetStream);
}

#[test]
fn pull_consumer_fetch_ack_nak_term() {
    let js = js();
    let stream = name("P");
    js.create_stream(&StreamConfig::new(&stream, [format!("{stream}.>")]))
        .unwrap();
    for i in 0..5 {
        js.publish(&format!("{stream}.job"), format!("job{i}"))
            .unwrap();
    }
    let consumer = js
        .create_pull_consumer(
            &stream,
            &ConsumerConfig::durable("workers").ack_wait(Duration::from_secs(1)),
        )
        .unwrap();
    let batch = consumer.fetch(3, T).unwrap();
    assert_eq!(batch.len(), 3);
    let bodies: Vec<_> = batch.iter().map(|m| m.message().payload.clone()).collect();
    assert_eq!(
        bodies,
        [b"job0".to_vec(), b"job1".to_vec(), b"job2".to_vec()]
    );
    assert_eq!(batch[0].info().unwrap().stream_sequence, 1);
    batch[0].ack_sync().unwrap();
    batch[1].nak().unwrap(); // redelivered
    batch[2].term().unwrap(); // never again
                              // The rest, and job1 again; a short batch when fewer are there.
    let mut rest: Vec<_> = consumer
        .fetch(10, Duration::from_secs(1))
        .unwrap()
        .into_iter()
        .map(|m| {
            m.ack().unwrap();
            (
                m.message().payload_str().unwrap().to_owned(),
                m.info().unwrap().delivered,
            )
        })
        .collect();
    rest.sort();
    assert_eq!(
        rest,
        [
            ("job1".to_owned(), 2),
            ("job3".to_owned(), 1),
            ("job4".to_owned(), 1)
        ]
    );
    js.client().flush().unwrap();
    assert!(consumer
        .fetch(5, Duration::from_millis(300))
        .unwrap()
        .is_empty());
    js.delete_consumer(&stream, "workers").unwrap();
    js.delete_stream(&stream).unwrap();
}

#[test]
fn key_value_put_get_delete_watch() {
    let js = js();
    let bucket = name("kv");
    let kv = js.create_key_value(&bucket, 5).unwrap();
    let watcher = kv.watch(">").unwrap();
    let r1 = kv.put("color", "red").unwrap();
    let r2 = kv.put("color", "blue").unwrap();
    assert!(r2 > r1);
    let e = kv.get("color").unwrap().unwrap();
    assert_eq!((e.value.as_slice(), e.revision), (&b"blue"[..], r2));
    assert_eq!(kv.get("missing").unwrap(), None);
    kv.delete("color").unwrap();
    assert_eq!(kv.get("color").unwrap(), None);
    let seen: Vec<_> = (0..3)
        .map(|_| {
            let e = watcher.next_timeout(T).unwrap();
            (e.key, e.operation, e.value)
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("color".to_owned(), Operation::Put, b"red".to_vec()),
            ("color".to_owned(), Operation::Put, b"blue".to_vec()),
            ("color".to_owned(), Operation::Delete, Vec::new()),
        ]
    );
    // A new watcher starts with the latest entry per key.
    kv.put("size", "L").unwrap();
    let w2 = kv.watch("size").unwrap();
    let e = w2.next_timeout(T).unwrap();
    assert_eq!((e.key.as_str(), e.value.as_slice()), ("size", &b"L"[..]));
    assert!(kv.put("bad key", "x").is_err());
    assert!(js.key_value(&bucket).is_ok());
    js.delete_key_value(&bucket).unwrap();
    assert!(js.key_value(&bucket).is_err());
}
