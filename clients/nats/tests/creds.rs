//! Operator-mode (decentralised JWT) authentication with `.creds` files,
//! against a nats-server of the test's own: the test makes an operator, an
//! account and users with their JWTs, preloads the account into the
//! server's memory resolver, and connects with the files it writes.

mod util;

use std::path::{Path, PathBuf};
use std::time::Duration;

use fibra_nats::{Client, ConnectOptions, Error, ErrorKind, KeyPair};
use util::jwt;

struct Operator {
    op: KeyPair,
    acc_seed: String,
    acc: KeyPair,
    dir: PathBuf,
    server: util::Server,
}

impl Operator {
    /// A server in operator mode trusting a fresh operator, with one
    /// account preloaded.
    fn start() -> Operator {
        let (_, op) = jwt::new_key(jwt::OPERATOR);
        let (acc_seed, acc) = jwt::new_key(jwt::ACCOUNT);
        let dir = std::env::temp_dir().join(format!(
            "fibra-nats-creds-{}-{}",
            std::process::id(),
            util::free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let op_jwt = dir.join("operator.jwt");
        std::fs::write(&op_jwt, jwt::operator(&op)).unwrap();
        let conf = dir.join("server.conf");
        std::fs::write(
            &conf,
            format!(
                "operator: {op}\nresolver: MEMORY\nresolver_preload: {{\n  {acc}: {acc_jwt}\n}}\n",
                op = op_jwt.display(),
                acc = acc.public_key(),
                acc_jwt = jwt::account(&op, &acc),
            ),
        )
        .unwrap();
        let server = util::spawn_server(&["-c".into(), conf.display().to_string()]);
        Operator {
            op,
            acc_seed,
            acc,
            dir,
            server,
        }
    }

    /// Writes a `.creds` file and returns its path.
    fn creds_file(&self, name: &str, jwt: &str, seed: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.creds"));
        std::fs::write(&path, jwt::creds(jwt, seed)).unwrap();
        path
    }

    /// A user of the preloaded account: its JWT and seed.
    fn new_user(&self) -> (String, String) {
        let (seed, user) = jwt::new_key(jwt::USER);
        (jwt::user(&self.acc, &user), seed)
    }

    fn connect(&self, creds: &Path) -> fibra_nats::Result<Client> {
        ConnectOptions::new()
            .allow_reconnect(false)
            .connect_timeout(Duration::from_secs(5))
            .credentials_file(creds)?
            .connect(&self.server.url())
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[track_caller]
fn assert_auth_rejected(r: fibra_nats::Result<Client>) -> Error {
    let err = match r {
        Ok(_) => panic!("the server accepted credentials it should refuse"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert!(
        err.to_string().contains("Authorization Violation"),
        "not an authorization error: {err}"
    );
    err
}

#[test]
fn creds_file_connects_in_operator_mode() {
    let o = Operator::start();
    let (user_jwt, seed) = o.new_user();
    let path = o.creds_file("good", &user_jwt, &seed);
    let a = o.connect(&path).unwrap();
    let b = o.connect(&path).unwrap();
    // The server's INFO asks for the nonce signature in operator mode.
    assert!(a.server_info().auth_required);
    assert!(a.server_info().nonce.is_some());

    // Both connections are in the same account: messages flow.
    let s = util::subject("creds");
    let sub = b.subscribe(&s).unwrap();
    b.flush().unwrap();
    a.publish(&s, "over jwt").unwrap();
    let m = sub.next_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(m.payload, b"over jwt");

    // And request/reply works across them.
    let responder = b.clone();
    let _svc = b
        .subscribe_fn("svc.echo", move |m| {
            responder.respond(&m, &m.payload).unwrap();
        })
        .unwrap();
    b.flush().unwrap();
    let r = a
        .request_timeout("svc.echo", "hi", Duration::from_secs(5))
        .unwrap();
    assert_eq!(r.payload, b"hi");
}

#[test]
fn jwt_and_seed_given_directly() {
    let o = Operator::start();
    let (user_jwt, seed) = o.new_user();
    let c = ConnectOptions::new()
        .allow_reconnect(false)
        .jwt(user_jwt, seed)
        .connect(&o.server.url())
        .unwrap();
    c.flush().unwrap();
}

#[test]
fn creds_without_auth_fail_clearly() {
    let o = Operator::start();

    // No credentials at all.
    assert_auth_rejected(
        ConnectOptions::new()
            .allow_reconnect(false)
            .connect(&o.server.url()),
    );

    // A user JWT whose signature was not made by its issuer: the claims
    // of one user with the signature of another's JWT.
    let (jwt_a, seed_a) = o.new_user();
    let (jwt_b, _) = o.new_user();
    let forged = format!(
        "{}.{}",
        jwt_a.rsplit_once('.').unwrap().0,
        jwt_b.rsplit_once('.').unwrap().1
    );
    assert_auth_rejected(o.connect(&o.creds_file("forged", &forged, &seed_a)));

    // A JWT with no signature at all.
    let unsigned = format!("{}.", jwt_a.rsplit_once('.').unwrap().0);
    assert_auth_rejected(o.connect(&o.creds_file("unsigned", &unsigned, &seed_a)));

    // A valid JWT with someone else's seed: the nonce signature fails.
    let (_, other_seed) = o.new_user();
    assert_auth_rejected(o.connect(&o.creds_file("wrong-seed", &jwt_a, &other_seed)));

    // A user of an account the server does not know (signed by an account
    // key the operator never issued).
    let (_, stray_acc) = jwt::new_key(jwt::ACCOUNT);
    let (seed_c, user_c) = jwt::new_key(jwt::USER);
    let stray = jwt::user(&stray_acc, &user_c);
    assert_auth_rejected(o.connect(&o.creds_file("stray", &stray, &seed_c)));

    // An account JWT used as if it were a user's.
    let acc_jwt = jwt::account(&o.op, &o.acc);
    assert_auth_rejected(o.connect(&o.creds_file("account", &acc_jwt, &o.acc_seed)));

    // The good user still gets in afterwards.
    o.connect(&o.creds_file("good", &jwt_a, &seed_a))
        .unwrap()
        .flush()
        .unwrap();
}

#[test]
fn malformed_creds_file_is_invalid_input() {
    let o = Operator::start();
    let path = o.dir.join("broken.creds");
    std::fs::write(&path, "no blocks here\n").unwrap();
    let err = ConnectOptions::new().credentials_file(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = ConnectOptions::new()
        .credentials_file(o.dir.join("missing.creds"))
        .unwrap_err();
    assert!(
        err.io_error().is_some() || err.kind() == ErrorKind::Io,
        "{err}"
    );
}
