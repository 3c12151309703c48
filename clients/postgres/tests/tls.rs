//! sslmode against the test server's TLS (a private CA, see
//! scripts/services.d/postgres.sh).

mod util;

use fibra_postgres::{Client, ErrorKind, SslMode};

fn root_cert() -> String {
    std::env::var("FIBRA_POSTGRES_SSL_ROOT_CERT").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/services/postgres/ca.crt"
        )
        .to_owned()
    })
}

fn uses_ssl(c: &mut Client) -> bool {
    c.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .unwrap()
    .get(0)
}

#[test]
fn require_and_verify_full() {
    for mode in [SslMode::Require, SslMode::VerifyFull, SslMode::Prefer] {
        for method in ["scram", "md5", "trust"] {
            let cfg = util::config(method)
                .ssl_mode(mode)
                .ssl_root_cert(root_cert());
            let mut c = util::connect_with(&cfg);
            assert!(uses_ssl(&mut c), "{mode:?} {method}");
            // Cancel requests travel over TLS too.
            c.cancel_token().cancel_query().unwrap();
        }
    }
    let mut c = util::connect_with(&util::config("trust").ssl_mode(SslMode::Disable));
    assert!(!uses_ssl(&mut c));
    // Without a root certificate, prefer and require encrypt without
    // checking the certificate (libpq's behaviour).
    for mode in [SslMode::Prefer, SslMode::Require] {
        let mut c = util::connect_with(&util::config("scram").ssl_mode(mode));
        assert!(uses_ssl(&mut c), "{mode:?}");
    }
}

#[test]
fn untrusted_certificate_fails() {
    // The webpki roots do not include the test CA.
    let e = Client::connect_with(&util::config("trust").ssl_mode(SslMode::VerifyFull)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
}

#[test]
fn host_name_is_checked_against_the_certificate() {
    let cfg = util::config("trust")
        .host("localhost")
        .ssl_mode(SslMode::VerifyFull)
        .ssl_root_cert(root_cert());
    assert!(uses_ssl(&mut util::connect_with(&cfg)));
}

#[test]
fn scram_sha_256_plus_channel_binding() {
    use fibra_postgres::ChannelBinding;
    // The server checks the binding data: a wrong certificate hash would
    // fail authentication.
    for root in [true, false] {
        let mut cfg = util::config("scram")
            .ssl_mode(SslMode::Require)
            .channel_binding(ChannelBinding::Require);
        if root {
            cfg = cfg.ssl_root_cert(root_cert());
        }
        let mut c = util::connect_with(&cfg);
        assert!(uses_ssl(&mut c));
    }
    // Not available: no TLS, or a method without SCRAM.
    let e = Client::connect_with(
        &util::config("scram")
            .ssl_mode(SslMode::Disable)
            .channel_binding(ChannelBinding::Require),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    let e = Client::connect_with(
        &util::config("md5")
            .ssl_mode(SslMode::Require)
            .channel_binding(ChannelBinding::Require),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    // Disabled binding over TLS still authenticates (GS2 header y or n).
    let cfg = util::config("scram")
        .ssl_mode(SslMode::Require)
        .channel_binding(ChannelBinding::Disable);
    util::connect_with(&cfg);
}

#[test]
fn a_trust_from_fibra_net_decides_like_sslrootcert() {
    use fibra_net::tls::Trust;
    let ca = std::fs::read(root_cert()).unwrap();
    for mode in [SslMode::Require, SslMode::VerifyFull] {
        let cfg = util::config("scram")
            .ssl_mode(mode)
            .tls_trust(Trust::pem(ca.clone()));
        assert!(uses_ssl(&mut util::connect_with(&cfg)), "{mode:?}");
    }
    // A trust set turns the checks on under `require`: the webpki roots
    // do not include the test CA.
    let cfg = util::config("trust")
        .ssl_mode(SslMode::Require)
        .tls_trust(Trust::webpki());
    let e = Client::connect_with(&cfg).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    // A root certificate file that cannot be read is a TLS setup error.
    let cfg = util::config("trust")
        .ssl_mode(SslMode::VerifyFull)
        .ssl_root_cert("/nonexistent/ca.crt");
    let e = Client::connect_with(&cfg).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
}
