//! `tls://` against a TLS-only nats-server with a throwaway CA made by the
//! openssl command line tool.

mod util;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fibra_nats::ConnectOptions;

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
fn tls_url_with_custom_ca() {
    let dir = std::env::temp_dir().join(format!("fibra-nats-tls-{}", std::process::id()));
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
        dir.join("ext"),
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
            "ext",
        ],
    );
    let d = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let server = util::spawn_server(&[
        "--tls".into(),
        "--tlscert".into(),
        d("srv.crt"),
        "--tlskey".into(),
        d("srv.key"),
    ]);
    let ca = std::fs::read(dir.join("ca.crt")).unwrap();

    let c = util::connect_to(
        &format!("tls://localhost:{}", server.port),
        ConnectOptions::new().tls_root_certificates_pem(ca.clone()),
    );
    let s = util::subject("tls");
    let sub = c.subscribe(&s).unwrap();
    let responder = c.clone();
    let _h = c
        .subscribe_fn(&format!("{s}.req"), move |m| {
            responder.respond(&m, &m.payload).unwrap()
        })
        .unwrap();
    c.flush().unwrap();
    let big = vec![7u8; 200_000];
    for _ in 0..20 {
        c.publish(&s, &big).unwrap();
    }
    for _ in 0..20 {
        assert_eq!(
            sub.next_timeout(Duration::from_secs(5))
                .unwrap()
                .payload
                .len(),
            big.len()
        );
    }
    // Many small round trips while messages flow both ways.
    for i in 0..200 {
        let body = i.to_string();
        let r = c
            .request_timeout(&format!("{s}.req"), &body, Duration::from_secs(5))
            .unwrap();
        assert_eq!(r.payload, body.as_bytes());
    }
    // A plain nats:// URL to a server that requires TLS upgrades too;
    // fibra-net's Trust is the other way to name the CA.
    let c2 = util::connect_to(
        &format!("nats://localhost:{}", server.port),
        ConnectOptions::new().tls_trust(fibra_net::tls::Trust::pem(ca)),
    );
    c2.flush().unwrap();
    // Without trusting the CA the handshake fails.
    assert!(ConnectOptions::new()
        .connect(&format!("tls://localhost:{}", server.port))
        .is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
