//! docs/conventions.md: the same event is classified the same way in
//! every client. A socket timeout is `Timeout`, a canceled call is
//! `Canceled`, a reset connection is `Closed`, a refused connect is `Io`;
//! the predicates agree with `kind()`, and `io_error()` gives the socket
//! error back.

use std::io;

/// An event's name and how the socket layer reports it.
type Event = (&'static str, fn() -> io::Error);

/// The four events.
fn events() -> [Event; 4] {
    [
        ("timeout", || io::ErrorKind::TimedOut.into()),
        ("canceled", || fibra::Canceled.into()),
        ("closed", || io::ErrorKind::ConnectionReset.into()),
        ("io", || io::ErrorKind::ConnectionRefused.into()),
    ]
}

/// Checks one crate: `$kind` is its `ErrorKind`, `$err` its `Error`.
macro_rules! check_crate {
    ($name:literal, $err:ty, $kind:ty) => {{
        for (event, make) in events() {
            let e = <$err>::from(make());
            let want = match event {
                "timeout" => <$kind>::Timeout,
                "canceled" => <$kind>::Canceled,
                "closed" => <$kind>::Closed,
                _ => <$kind>::Io,
            };
            assert_eq!(e.kind(), want, "{}: {event}", $name);
            assert_eq!(e.is_timeout(), event == "timeout", "{}: {event}", $name);
            assert_eq!(e.is_canceled(), event == "canceled", "{}: {event}", $name);
            assert_eq!(e.is_closed(), event == "closed", "{}: {event}", $name);
            assert!(e.io_error().is_some(), "{}: {event}: no io_error()", $name);
        }
    }};
}

#[test]
fn every_client_classifies_the_same_event_the_same_way() {
    check_crate!("redis", fibra::redis::Error, fibra::redis::ErrorKind);
    check_crate!(
        "postgres",
        fibra::postgres::Error,
        fibra::postgres::ErrorKind
    );
    check_crate!("nats", fibra::nats::Error, fibra::nats::ErrorKind);
    check_crate!(
        "memcache",
        fibra::memcache::Error,
        fibra::memcache::ErrorKind
    );
}
