//! Token, user/password and nkey authentication against servers that
//! require them; wrong credentials fail with the server's error.

mod util;

use fibra_nats::{ConnectOptions, ErrorKind};

fn token_url() -> String {
    util::env("FIBRA_NATS_TOKEN_URL", "nats://127.0.0.1:14241")
}

fn userpass_url() -> String {
    util::env("FIBRA_NATS_USERPASS_URL", "nats://127.0.0.1:14242")
}

fn nkey_url() -> String {
    util::env("FIBRA_NATS_NKEY_URL", "nats://127.0.0.1:14243")
}

#[track_caller]
fn works(c: &fibra_nats::Client) {
    let s = util::subject("auth");
    let sub = c.subscribe(&s).unwrap();
    c.publish(&s, "ok").unwrap();
    assert_eq!(
        sub.next_timeout(std::time::Duration::from_secs(5))
            .unwrap()
            .payload,
        b"ok"
    );
}

#[test]
fn token() {
    let token = util::env("FIBRA_NATS_TOKEN", "fibra-token");
    works(&util::connect_to(
        &token_url(),
        ConnectOptions::new().token(&token),
    ));
    // In the URL.
    let url = token_url().replace("nats://", &format!("nats://{token}@"));
    works(&util::connect_to(&url, ConnectOptions::new()));
    let err = ConnectOptions::new()
        .token("wrong")
        .connect(&token_url())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert!(err.to_string().contains("Authorization"), "{err}");
}

#[test]
fn user_and_password() {
    let user = util::env("FIBRA_NATS_USER", "fibra");
    let pass = util::env("FIBRA_NATS_PASS", "fibra-pass");
    works(&util::connect_to(
        &userpass_url(),
        ConnectOptions::new().user_and_password(&user, &pass),
    ));
    let url = userpass_url().replace("nats://", &format!("nats://{user}:{pass}@"));
    works(&util::connect_to(&url, ConnectOptions::new()));
    let err = ConnectOptions::new()
        .user_and_password(&user, "nope")
        .connect(&userpass_url())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert!(ConnectOptions::new().connect(&userpass_url()).is_err());
}

#[test]
fn nkey() {
    let seed = util::env(
        "FIBRA_NATS_NKEY_SEED",
        "SUAACAQDAQCQMBYIBEFAWDANBYHRAEISCMKBKFQXDAMRUGY4DUPB6IC5CQ",
    );
    works(&util::connect_to(
        &nkey_url(),
        ConnectOptions::new().nkey(&seed),
    ));
    assert!(ConnectOptions::new().connect(&nkey_url()).is_err());
    let err = ConnectOptions::new()
        .nkey("SUBOGUS")
        .connect(&nkey_url())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}
