//! SUBSCRIBE/PSUBSCRIBE with messages by call, iterator and channel.

mod util;

use std::time::Duration;

use fibra_redis::PubSub;

#[test]
fn subscribe_and_receive() {
    fibra_runtime::run(|| {
        util::both(|p| {
            let ch = util::key("chan");
            let mut sub = PubSub::new(util::connect(p));
            sub.subscribe(&ch).unwrap();
            sub.psubscribe(format!("{ch}:*")).unwrap();
            let mut publ = util::connect(p);
            assert_eq!(publ.publish(&ch, "one").unwrap(), 1);
            assert_eq!(publ.publish(format!("{ch}:x"), 2).unwrap(), 1);

            let m = sub.next_message().unwrap();
            assert_eq!(m.channel_name(), ch);
            assert_eq!(m.pattern(), None);
            assert_eq!(m.payload::<String>().unwrap(), "one");
            let m = sub.next_message().unwrap();
            assert_eq!(m.pattern(), Some(format!("{ch}:*").as_bytes()));
            assert_eq!(m.payload::<i64>().unwrap(), 2);

            // Nothing more: a timeout, and the subscriber still works.
            assert!(sub
                .next_message_timeout(Duration::from_millis(50))
                .unwrap()
                .is_none());
            publ.publish(&ch, "three").unwrap();
            let m = sub.iter().next().unwrap().unwrap();
            assert_eq!(m.payload_bytes(), b"three");

            sub.unsubscribe(&ch).unwrap();
            sub.punsubscribe(None::<&str>).unwrap();
            assert_eq!(publ.publish(&ch, "ignored").unwrap(), 0);
        });
    });
}

#[test]
fn messages_through_a_channel() {
    fibra_runtime::run(|| {
        let ch = util::key("chan2");
        let mut sub = PubSub::connect_with(&util::info(fibra_redis::Protocol::Resp3)).unwrap();
        sub.subscribe([&ch]).unwrap();
        let rx = sub.into_channel(16).unwrap();
        let mut publ = util::connect(fibra_redis::Protocol::Resp3);
        for i in 0..10 {
            publ.publish(&ch, i).unwrap();
        }
        let got: Vec<i64> = rx
            .iter()
            .take(10)
            .map(|m| m.unwrap().payload().unwrap())
            .collect();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
    });
}
