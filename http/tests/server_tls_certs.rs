//! The server's certificates: several chosen by SNI name with a default,
//! client certificates (required and optional, the handler seeing the
//! peer's certificate), and reload without a restart (new handshakes get
//! the new certificate, open connections keep theirs).
//!
//! Certificates: net/tests/data (localhost, the default) and
//! http/tests/data (a.test, b.test, a second localhost, client
//! certificates). curl missing fails the test under CI and skips it
//! elsewhere (`util::missing_peer`).

#![cfg(feature = "tls")]

mod util;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fibra_http::tls::{self, ClientAuth, Identity};
use fibra_http::{handler_fn, Client, Config, Error, Request, Response, Server};
use util::tls::*;
use util::{read_response, serve, watchdog, TestServer};

/// `/peer`: the client's leaf certificate (DER), or `none`; otherwise what
/// the handler learns about TLS.
fn app(req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    let t = req.tls().expect("a TLS request");
    if req.path() == "/peer" {
        match t.peer_certificates().first() {
            Some(c) => resp.body(c.to_vec()),
            None => resp.text("none"),
        };
    } else {
        resp.text(format!(
            "sni={} peer_certs={}",
            t.server_name().unwrap_or("-"),
            t.peer_certificates().len()
        ));
    }
    Ok(())
}

fn start(tls: tls::Config) -> (TestServer, tls::Reloader) {
    let server = Server::bind_tls("127.0.0.1:0", tls)
        .unwrap()
        .with_config(Config::default());
    let reloader = server.tls_reloader().expect("a TLS server has a reloader");
    (serve(server, app), reloader)
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("https://localhost:{}{path}", addr.port())
}

/// fibra's client trusting fibra-net's test CA, with a client certificate
/// if given.
fn client(identity: Option<(&[u8], &[u8])>) -> Client {
    let mut b = Client::builder()
        .no_proxy()
        .tls_built_in_roots(false)
        .add_root_certificate_pem(NET_CA)
        .timeout(Duration::from_secs(10));
    if let Some((cert, key)) = identity {
        b = b.identity_pem(cert, key);
    }
    b.build().unwrap()
}

/// One request on an open TLS connection.
fn get(c: &mut (impl std::io::Read + Write), path: &str) -> util::Resp {
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    read_response(c, &mut Vec::new(), false).expect("a response")
}

#[test]
fn sni_picks_the_certificate_by_name_with_a_default() {
    watchdog(
        "sni_picks_the_certificate_by_name_with_a_default",
        Duration::from_secs(30),
        || {
            let a = Identity::from_pem(A_CERT, A_KEY).unwrap();
            let b = Identity::from_pem(B_CERT, B_KEY).unwrap();
            let (s, _) = start(
                tls::Config::from_pem(NET_CERT, NET_KEY)
                    .unwrap()
                    .sni("a.test", a.clone())
                    .sni("B.Test", b)
                    .sni("*.wild.test", a),
            );
            let cases = [
                ("a.test", A_CERT),
                ("A.TEST", A_CERT),
                ("b.test", B_CERT),
                ("x.wild.test", A_CERT),
                // A wildcard stands for one label only.
                ("y.x.wild.test", NET_CERT),
                ("unknown.test", NET_CERT),
                ("localhost", NET_CERT),
                // An IP address sends no SNI: the default.
                ("127.0.0.1", NET_CERT),
            ];
            for (name, want) in cases {
                let (mut c, cert) = presented_certificate(s.addr, name);
                assert!(cert == leaf(want), "wrong certificate for {name}");
                let sni = if name == "127.0.0.1" {
                    "-".to_string()
                } else {
                    name.to_ascii_lowercase()
                };
                assert_eq!(
                    get(&mut c, "/info").text(),
                    format!("sni={sni} peer_certs=0"),
                    "{name}"
                );
            }
            // A client that verifies: curl, trusting only the CA of a.test
            // and b.test.
            if !have_curl() {
                return;
            }
            let ca = data_path("ca.pem");
            for name in ["a.test", "b.test"] {
                let resolve = format!("{name}:{}:127.0.0.1", s.addr.port());
                let out = curl_ok(
                    &[
                        "--cacert",
                        &ca,
                        "--resolve",
                        &resolve,
                        &format!("https://{name}:{}/info", s.addr.port()),
                    ],
                    b"",
                );
                assert_eq!(out, format!("sni={name} peer_certs=0"));
            }
        },
    );
}

#[test]
fn required_client_certificates_refuse_clients_without_one() {
    watchdog(
        "required_client_certificates_refuse_clients_without_one",
        Duration::from_secs(30),
        || {
            let served = Arc::new(AtomicUsize::new(0));
            let count = served.clone();
            let server = Server::bind_tls(
                "127.0.0.1:0",
                tls::Config::from_pem(NET_CERT, NET_KEY)
                    .unwrap()
                    .client_auth(ClientAuth::required(CLIENT_CA).unwrap()),
            )
            .unwrap();
            let s = serve(
                server,
                handler_fn(move |req, resp| {
                    count.fetch_add(1, Ordering::SeqCst);
                    app(req, resp)
                }),
            );
            // No certificate, or one from a CA the server does not trust
            // for clients: refused in the handshake, no handler runs.
            let e = client(None).get(&url(s.addr, "/peer")).send().unwrap_err();
            eprintln!("without a certificate: {e}");
            let e = client(Some((OTHER_CLIENT_CERT, OTHER_CLIENT_KEY)))
                .get(&url(s.addr, "/peer"))
                .send()
                .unwrap_err();
            eprintln!("with an untrusted certificate: {e}");
            assert_eq!(served.load(Ordering::SeqCst), 0);
            // With one: the handler sees it, on every request of the
            // connection.
            let c = client(Some((CLIENT_CERT, CLIENT_KEY)));
            for _ in 0..3 {
                let body = c
                    .get(&url(s.addr, "/peer"))
                    .send()
                    .unwrap()
                    .bytes()
                    .unwrap();
                assert!(
                    body == leaf(CLIENT_CERT).to_vec(),
                    "not the client's certificate"
                );
            }
            assert_eq!(served.load(Ordering::SeqCst), 3);
            // Later connections share the client config's session cache, so
            // they may resume (sending no certificate again); either way the
            // handler sees the chain.
            let config = client_config(NET_CA, Some((CLIENT_CERT, CLIENT_KEY)));
            for _ in 0..2 {
                let mut conn = tls_connect_with(s.addr, "localhost", config.clone()).unwrap();
                assert_eq!(get(&mut conn, "/info").text(), "sni=localhost peer_certs=1");
            }
            // curl, with and without its certificate.
            if !have_curl() {
                return;
            }
            let ca = net_data_path("ca.pem");
            let out = curl_ok(
                &[
                    "--cacert",
                    &ca,
                    "--cert",
                    &data_path("client.pem"),
                    "--key",
                    &data_path("client.key"),
                    &url(s.addr, "/info"),
                ],
                b"",
            );
            assert_eq!(out, "sni=localhost peer_certs=1");
            let out = curl(&["--cacert", &ca, &url(s.addr, "/info")], b"");
            assert!(!out.status.success(), "served without a client certificate");
        },
    );
}

#[test]
fn optional_client_certificates_let_the_handler_tell() {
    watchdog(
        "optional_client_certificates_let_the_handler_tell",
        Duration::from_secs(30),
        || {
            let (s, _) = start(
                tls::Config::from_pem(NET_CERT, NET_KEY)
                    .unwrap()
                    .client_auth(ClientAuth::optional(CLIENT_CA).unwrap()),
            );
            let anonymous = client(None).get(&url(s.addr, "/peer")).send().unwrap();
            assert_eq!(anonymous.text().unwrap(), "none");
            let known = client(Some((CLIENT_CERT, CLIENT_KEY)))
                .get(&url(s.addr, "/peer"))
                .send()
                .unwrap();
            assert!(known.bytes().unwrap() == leaf(CLIENT_CERT).to_vec());
            // A certificate that is given must still be valid.
            assert!(client(Some((OTHER_CLIENT_CERT, OTHER_CLIENT_KEY)))
                .get(&url(s.addr, "/peer"))
                .send()
                .is_err());
        },
    );
}

#[test]
fn reload_serves_new_handshakes_the_new_certificate_and_keeps_open_sessions() {
    watchdog(
        "reload_serves_new_handshakes_the_new_certificate_and_keeps_open_sessions",
        Duration::from_secs(30),
        || {
            let (s, reloader) = start(tls::Config::from_pem(NET_CERT, NET_KEY).unwrap());
            let (mut before, cert) = presented_certificate(s.addr, "localhost");
            assert!(cert == leaf(NET_CERT));
            assert_eq!(
                get(&mut before, "/info").text(),
                "sni=localhost peer_certs=0"
            );
            // Also a connection opened before, idle in the pool of a client.
            let old_client = client(None);
            assert_eq!(
                old_client.get(&url(s.addr, "/a")).send().unwrap().status(),
                200
            );

            reloader.reload(tls::Config::from_pem(LOCALHOST_CERT, LOCALHOST_KEY).unwrap());

            let (mut after, cert) = presented_certificate(s.addr, "localhost");
            assert!(
                cert == leaf(LOCALHOST_CERT),
                "new handshake, old certificate"
            );
            assert_eq!(
                get(&mut after, "/info").text(),
                "sni=localhost peer_certs=0"
            );
            // The connections from before keep their session.
            assert_eq!(
                get(&mut before, "/info").text(),
                "sni=localhost peer_certs=0"
            );
            assert_eq!(
                old_client.get(&url(s.addr, "/b")).send().unwrap().status(),
                200
            );
            assert_eq!(old_client.open_connections(), 1);
            // A new client trusting only the old CA refuses the new
            // certificate; one trusting the new CA accepts it.
            assert!(client(None).get(&url(s.addr, "/c")).send().is_err());
            let new_client = Client::builder()
                .no_proxy()
                .tls_built_in_roots(false)
                .add_root_certificate_pem(CA)
                .build()
                .unwrap();
            assert_eq!(
                new_client.get(&url(s.addr, "/d")).send().unwrap().status(),
                200
            );

            // Reloading can turn on client certificates too.
            reloader.reload(
                tls::Config::from_pem(LOCALHOST_CERT, LOCALHOST_KEY)
                    .unwrap()
                    .client_auth(ClientAuth::required(CLIENT_CA).unwrap()),
            );
            let config = client_config(CA, None);
            let refused = tls_connect_with(s.addr, "localhost", config).and_then(|mut c| {
                c.write_all(b"GET /info HTTP/1.1\r\nHost: x\r\n\r\n")?;
                let mut b = [0u8; 64];
                std::io::Read::read(&mut c, &mut b)
            });
            assert!(refused.is_err(), "served without a client certificate");
            let config = client_config(CA, Some((CLIENT_CERT, CLIENT_KEY)));
            let mut c = tls_connect_with(s.addr, "localhost", config).unwrap();
            assert_eq!(get(&mut c, "/info").text(), "sni=localhost peer_certs=1");
            assert_eq!(
                get(&mut after, "/info").text(),
                "sni=localhost peer_certs=0"
            );
        },
    );
}

#[test]
fn a_rustls_config_serves_with_http1_as_the_only_alpn_protocol() {
    watchdog(
        "a_rustls_config_serves_with_http1_as_the_only_alpn_protocol",
        Duration::from_secs(30),
        || {
            use fibra_http::tls::rustls;
            use rustls::pki_types::pem::PemObject;
            let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                fibra_net::tls::certs_from_pem(NET_CERT).unwrap(),
                rustls::pki_types::PrivateKeyDer::from_pem_slice(NET_KEY).unwrap(),
            )
            .unwrap();
            // Replaced: the server does not speak h2 yet.
            config.alpn_protocols = vec![b"h2".to_vec()];
            let (s, _) = start(tls::Config::from_rustls(config));
            let alpn = |protocols: &[&[u8]]| {
                let mut c = (*client_config(NET_CA, None)).clone();
                c.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
                let mut conn = tls_connect_with(s.addr, "localhost", Arc::new(c))?;
                let agreed = conn.alpn_protocol().map(<[u8]>::to_vec);
                Ok::<_, std::io::Error>((agreed, get(&mut conn, "/info").text()))
            };
            // A browser-like client offering h2 first gets HTTP/1.1.
            let (agreed, text) = alpn(&[b"h2", b"http/1.1"]).unwrap();
            assert_eq!(agreed.as_deref(), Some(&b"http/1.1"[..]));
            assert_eq!(text, "sni=localhost peer_certs=0");
            // No ALPN at all is HTTP/1.1 too.
            let (agreed, _) = alpn(&[]).unwrap();
            assert_eq!(agreed, None);
            // A client that speaks only h2 is refused in the handshake.
            let e = alpn(&[b"h2"]).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
            assert_eq!(
                client(None)
                    .get(&url(s.addr, "/x"))
                    .send()
                    .unwrap()
                    .status(),
                200
            );
        },
    );
}
