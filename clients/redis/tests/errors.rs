//! Server errors are typed and leave the connection usable.

mod util;

use fibra_redis::{cmd, ErrorKind, ServerError, ServerErrorKind};

#[test]
fn server_errors_are_typed_and_connection_survives() {
    fibra_runtime::run(|| {
        util::both(|p| {
            let mut c = util::connect(p);
            let k = util::key("list");
            c.rpush(&k, "x").unwrap();

            let e = c.get::<_, String>(&k).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Server);
            assert_eq!(e.code(), Some("WRONGTYPE"));
            assert_eq!(e.server_error().unwrap().kind(), ServerErrorKind::WrongType);
            assert!(!c.is_broken());

            let e = cmd("NOSUCHCOMMAND").arg(1).query::<()>(&mut c).unwrap_err();
            assert_eq!(e.server_error().unwrap().kind(), ServerErrorKind::Generic);
            assert!(e.to_string().contains("unknown command"), "{e}");

            let e = cmd("GET").query::<()>(&mut c).unwrap_err();
            assert_eq!(e.code(), Some("ERR"));

            // A conversion error is not a connection error either.
            let e = c.lrange::<_, Vec<i64>>(&k, 0, -1).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Conversion);

            c.ping().unwrap();
            assert_eq!(c.lrange::<_, Vec<String>>(&k, 0, -1).unwrap(), ["x"]);
            c.del(&k).unwrap();
        });
    });
}

#[test]
fn redirects_parse() {
    let e = ServerError::new("MOVED 3999 127.0.0.1:6381");
    assert_eq!(e.kind(), ServerErrorKind::Moved);
    assert_eq!(e.redirect(), Some((3999, "127.0.0.1:6381")));
    let e = ServerError::new("ASK 12 10.0.0.1:7000");
    assert_eq!(e.redirect(), Some((12, "10.0.0.1:7000")));
    let e = ServerError::new("no code here");
    assert_eq!(e.code(), "");
    assert_eq!(e.message(), "no code here");
    assert_eq!(e.redirect(), None);
}
