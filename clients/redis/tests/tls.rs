//! `rediss://` against a TLS-only redis-server with a throwaway CA made by
//! the openssl command line tool.

mod util;

use std::path::Path;
use std::process::Command;

use fibra_net::tls::Trust;
use fibra_redis::{Connection, ConnectionInfo, Protocol};

fn openssl(dir: &Path, args: &[&str]) {
    let st = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command is needed for the TLS test");
    assert!(
        st.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&st.stderr)
    );
}

#[test]
fn rediss_url_with_custom_ca() {
    let dir = std::env::temp_dir().join(format!("fibra-redis-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=fibra test CA",
            "-days",
            "2",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    let d = dir.to_str().unwrap().to_owned();
    let server = util::Server::start_with(|port| {
        [
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            &format!("{d}/srv.crt"),
            "--tls-key-file",
            &format!("{d}/srv.key"),
            "--tls-ca-cert-file",
            &format!("{d}/ca.crt"),
            "--tls-auth-clients",
            "no",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    });
    let ca = std::fs::read(dir.join("ca.crt")).unwrap();
    fibra_runtime::run(move || {
        util::both(|p| {
            let url = format!("rediss://localhost:{}/", server.port);
            let info = ConnectionInfo::from_url(&url)
                .unwrap()
                .with_protocol(p)
                .with_tls_trust(Trust::pem(ca.clone()));
            let mut c = Connection::connect_with(&info).unwrap();
            c.set("tls-key", "over tls").unwrap();
            assert_eq!(c.get::<_, String>("tls-key").unwrap(), "over tls");
            let big = vec![7u8; 100_000];
            c.set("tls-big", &big).unwrap();
            assert_eq!(c.get::<_, Vec<u8>>("tls-big").unwrap(), big);

            // Without the CA the handshake fails: the webpki roots do not
            // trust it.
            let plain = ConnectionInfo::from_url(&url).unwrap();
            assert!(Connection::connect_with(&plain).is_err());
        });
        let _ = Protocol::Resp3;
    });
    let _ = std::fs::remove_dir_all(&dir);
}
