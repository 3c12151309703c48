//! Connecting: each authentication method, TCP and Unix sockets, URLs and
//! key=value strings, bad passwords.

mod util;

use fibra_postgres::{sqlstate, Client, ErrorKind};

fn whoami(c: &mut Client) -> String {
    c.query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0)
}

#[test]
fn every_auth_method() {
    for method in ["trust", "scram", "md5", "pass"] {
        let mut c = util::connect_with(&util::config(method));
        assert_eq!(whoami(&mut c), util::user(method).0, "{method}");
    }
}

#[test]
fn auth_methods_inside_coroutines() {
    fibra_runtime::run(|| {
        let hs: Vec<_> = ["trust", "scram", "md5", "pass"]
            .into_iter()
            .map(|m| {
                fibra_runtime::spawn(move || {
                    let mut c = util::connect_with(&util::config(m));
                    whoami(&mut c)
                })
            })
            .collect();
        for h in hs {
            assert!(h.join().unwrap().ends_with("_user"));
        }
    });
}

#[test]
fn wrong_password_is_a_server_error() {
    for method in ["scram", "md5", "pass"] {
        let e = Client::connect_with(&util::config(method).password("nope")).unwrap_err();
        assert_eq!(e.code(), Some(sqlstate::INVALID_PASSWORD), "{method}: {e}");
        assert!(e.is_db());
    }
}

#[test]
fn missing_password() {
    let (user, _) = util::user("scram");
    let cfg = util::config("trust").user(&user);
    let e = Client::connect_with(&cfg).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
}

#[test]
fn unix_socket() {
    for method in ["trust", "scram"] {
        let cfg = util::config(method).host_path(util::socket_dir());
        let mut c = util::connect_with(&cfg);
        assert_eq!(whoami(&mut c), util::user(method).0);
    }
}

#[test]
fn url_and_key_value() {
    let (user, pass) = util::user("scram");
    let url = format!(
        "postgres://{user}:{}@{}:{}/{}?application_name=fibra-test",
        pass.clone().unwrap(),
        util::host(),
        util::port(),
        util::dbname()
    );
    let mut c = Client::connect(&url).unwrap();
    let app: String = c
        .query_one("SELECT current_setting('application_name')", &[])
        .unwrap()
        .get(0);
    assert_eq!(app, "fibra-test");
    let kv = format!(
        "host={} port={} user={user} password='{}' dbname={}",
        util::socket_dir(),
        util::port(),
        pass.unwrap(),
        util::dbname()
    );
    let mut c = Client::connect(&kv).unwrap();
    assert_eq!(whoami(&mut c), user);
    assert!(c.parameter("server_version").is_some());
    assert!(c.backend_pid() > 0);
}

#[test]
fn unknown_database() {
    let e = Client::connect_with(&util::config("trust").dbname("no_such_db")).unwrap_err();
    assert_eq!(e.code(), Some("3D000"), "{e}");
}

#[test]
fn refused_port_is_an_io_error() {
    // docs/conventions.md: a refused connect is `Io` (nothing was ever
    // open, so not `Closed`), with the socket error underneath.
    let e = Client::connect_with(&util::config("trust").port(1)).unwrap_err();
    assert_eq!(e.kind(), fibra_postgres::ErrorKind::Io, "{e:?}");
    assert!(!e.is_closed(), "{e:?}");
    assert_eq!(
        e.io_error().map(std::io::Error::kind),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
}
