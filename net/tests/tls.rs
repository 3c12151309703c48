//! TLS over fibra TCP streams (feature `tls`). The certificates in
//! tests/data are a throwaway test CA and a localhost certificate it
//! signed; the key is public and trusted nowhere else.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

use fibra_net::tls::{TlsAcceptor, TlsConnector, Trust};
use fibra_net::{Buffered, Dialer, Stream, TcpListener, TcpStream};

const CA: &[u8] = include_bytes!("data/ca.pem");
const CERT: &[u8] = include_bytes!("data/localhost.pem");
const KEY: &[u8] = include_bytes!("data/localhost.key");

fn tls_echo_server() -> std::net::SocketAddr {
    let acceptor = TlsAcceptor::from_pem(CERT, KEY).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    fibra_runtime::spawn(move || {
        for tcp in listener.incoming() {
            let tcp = tcp.unwrap();
            let acceptor = acceptor.clone();
            fibra_runtime::spawn(move || {
                let Ok(mut tls) = acceptor.accept(tcp) else {
                    return;
                };
                let mut buf = [0; 4096];
                while let Ok(n @ 1..) = tls.read(&mut buf) {
                    if tls.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
                let _ = tls.close_notify();
            });
        }
    });
    addr
}

#[test]
fn tls_echo_with_a_private_ca() {
    util::run(Duration::from_secs(20), || {
        let addr = tls_echo_server();
        let connector = TlsConnector::with_root_pem(CA).unwrap();
        let clients: Vec<_> = (0..20u8)
            .map(|i| {
                let connector = connector.clone();
                fibra_runtime::spawn(move || {
                    let tcp = TcpStream::connect(addr).unwrap();
                    let mut tls = connector.connect("localhost", tcp).unwrap();
                    let msg = vec![i; 50_000];
                    tls.write_all(&msg).unwrap();
                    let mut back = vec![0; msg.len()];
                    tls.read_exact(&mut back).unwrap();
                    tls.close_notify().unwrap();
                    let mut rest = Vec::new();
                    tls.read_to_end(&mut rest).unwrap();
                    back == msg && rest.is_empty()
                })
            })
            .collect();
        for c in clients {
            assert!(c.join().unwrap());
        }
    });
}

#[test]
fn tls_rejects_an_untrusted_or_misnamed_server() {
    util::run(Duration::from_secs(20), || {
        let addr = tls_echo_server();
        // The public roots do not include the test CA.
        let public = TlsConnector::new().unwrap();
        let e = util::assert_kind(
            public.connect("localhost", TcpStream::connect(addr).unwrap()),
            ErrorKind::InvalidData,
        );
        assert!(e.to_string().contains("certificate"), "{e}");
        // Trusted CA, but the certificate is not for this name.
        let private = TlsConnector::with_root_pem(CA).unwrap();
        util::assert_kind(
            private.connect("example.com", TcpStream::connect(addr).unwrap()),
            ErrorKind::InvalidData,
        );
        util::assert_kind(
            private.connect("bad name!", TcpStream::connect(addr).unwrap()),
            ErrorKind::InvalidInput,
        );
    });
}

#[test]
fn tls_handshake_honours_the_socket_timeout() {
    util::run(Duration::from_secs(20), || {
        // A server that accepts TCP but never speaks TLS.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let _silent = fibra_runtime::spawn(move || {
            listener.accept().map(|(s, _)| {
                fibra_runtime::sleep(Duration::from_secs(2));
                drop(s);
            })
        });
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let connector = TlsConnector::with_root_pem(CA).unwrap();
        util::assert_kind(connector.connect("localhost", tcp), ErrorKind::TimedOut);
    });
}

const CLIENT_CA: &[u8] = include_bytes!("data/client-ca.pem");
const CLIENT_CERT: &[u8] = include_bytes!("data/client.pem");
const CLIENT_KEY: &[u8] = include_bytes!("data/client.key");

fn data_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Connects to `addr` through `Stream::upgrade_tls` with `trust`, sends a
/// line and reads it back.
fn echo_through(trust: &Trust, addr: std::net::SocketAddr) -> std::io::Result<()> {
    let tcp = Stream::from(Dialer::new().dial(addr)?);
    let mut conn = Buffered::new(tcp).upgrade_tls(&trust.connector()?, "localhost")?;
    conn.write_buf().extend_from_slice(b"ping\n");
    conn.flush()?;
    while conn.buffered().len() < 5 {
        conn.fill()?;
    }
    assert_eq!(conn.buffered(), b"ping\n");
    Ok(())
}

#[test]
fn stream_upgrade_exposes_the_server_certificate() {
    util::run(Duration::from_secs(20), || {
        let addr = tls_echo_server();
        let tcp = Stream::from(Dialer::new().dial(addr).unwrap());
        let connector = Trust::pem(CA).connector().unwrap();
        let tls = tcp.upgrade_tls(&connector, "localhost").unwrap();
        assert!(tls.is_tls());
        assert_eq!(tls.peer_addr().unwrap(), addr);
        let chain = tls.peer_certificates().unwrap();
        let leaf = fibra_net::tls::certs_from_pem(CERT).unwrap().remove(0);
        assert_eq!(chain[0], leaf);
        // A TLS stream cannot be upgraded again.
        util::assert_kind(
            tls.upgrade_tls(&connector, "localhost"),
            ErrorKind::InvalidInput,
        );
    });
}

#[test]
fn trust_sources_decide_which_servers_are_accepted() {
    util::run(Duration::from_secs(20), || {
        let addr = tls_echo_server();
        echo_through(&Trust::pem(CA), addr).unwrap();
        echo_through(&Trust::pem_file(data_path("ca.pem")), addr).unwrap();
        echo_through(&Trust::webpki().add_pem(CA), addr).unwrap();
        // The certificate is checked, but not trusted.
        util::assert_kind(echo_through(&Trust::webpki(), addr), ErrorKind::InvalidData);
        util::assert_kind(
            echo_through(&Trust::pem(CLIENT_CA), addr),
            ErrorKind::InvalidData,
        );
        // Encryption without authentication still talks.
        let any = Trust::danger_accept_any_certificate();
        assert!(!any.verifies());
        echo_through(&any, addr).unwrap();
        // Settings compare by what they say.
        assert_eq!(Trust::pem(CA), Trust::pem(CA.to_vec()));
        assert_ne!(Trust::pem(CA), Trust::pem(CA).add_webpki());
        assert_ne!(Trust::webpki(), Trust::danger_accept_any_certificate());
        // Bad settings are errors when the connector is built.
        util::assert_kind(
            Trust::pem(&b"not pem"[..]).connector(),
            ErrorKind::InvalidData,
        );
        util::assert_kind(
            Trust::pem_file(data_path("missing.pem")).connector(),
            ErrorKind::NotFound,
        );
        util::assert_kind(
            Trust::pem(CA).identity_pem(CLIENT_CERT, CERT).connector(),
            ErrorKind::InvalidData,
        );
    });
}

#[test]
fn system_roots_come_from_the_operating_system_store() {
    // rustls-native-certs honours SSL_CERT_FILE; no other test in this
    // file reads the system store.
    std::env::set_var("SSL_CERT_FILE", data_path("ca.pem"));
    util::run(Duration::from_secs(20), || {
        let addr = tls_echo_server();
        echo_through(&Trust::system(), addr).unwrap();
        echo_through(&Trust::pem(CLIENT_CA).add_system(), addr).unwrap();
    });
}

#[test]
fn a_client_certificate_is_presented_for_mutual_tls() {
    use fibra_net::tls::rustls;
    util::run(Duration::from_secs(20), || {
        let mut roots = rustls::RootCertStore::empty();
        for c in fibra_net::tls::certs_from_pem(CLIENT_CA).unwrap() {
            roots.add(c).unwrap();
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            provider.clone(),
        )
        .build()
        .unwrap();
        use rustls::pki_types::pem::PemObject;
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                fibra_net::tls::certs_from_pem(CERT).unwrap(),
                rustls::pki_types::PrivateKeyDer::from_pem_slice(KEY).unwrap(),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from_config(std::sync::Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        fibra_runtime::spawn(move || {
            for tcp in listener.incoming() {
                let acceptor = acceptor.clone();
                fibra_runtime::spawn(move || {
                    let Ok(mut tls) = acceptor.accept(tcp.unwrap()) else {
                        return;
                    };
                    let mut buf = [0; 64];
                    while let Ok(n @ 1..) = tls.read(&mut buf) {
                        let _ = tls.write_all(&buf[..n]);
                    }
                });
            }
        });
        echo_through(&Trust::pem(CA).identity_pem(CLIENT_CERT, CLIENT_KEY), addr).unwrap();
        // Without a certificate the server refuses (TLS 1.3 reports it
        // after the client's side of the handshake, at the first read).
        assert!(echo_through(&Trust::pem(CA), addr).is_err());
    });
}

/// A TLS echo server whose sessions are split too: a plain `TlsStream`
/// reading inside its writes would fill rustls's plaintext buffer when
/// the client sends more than it reads back at once.
fn split_tls_echo_server() -> std::net::SocketAddr {
    let acceptor = TlsAcceptor::from_pem(CERT, KEY).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    fibra_runtime::spawn(move || {
        for tcp in listener.incoming() {
            let acceptor = acceptor.clone();
            fibra_runtime::spawn(move || {
                let Ok(tls) = acceptor.accept(tcp.unwrap()) else {
                    return;
                };
                let (mut r, w) = tls.split();
                let mut buf = vec![0; 16384];
                while let Ok(n @ 1..) = r.read(&mut buf) {
                    if (&w).write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_split_tls_stream_reads_while_it_writes() {
    util::run(Duration::from_secs(30), || {
        let addr = split_tls_echo_server();
        let tcp = Stream::from(Dialer::new().dial(addr).unwrap());
        let tls = tcp
            .upgrade_tls(&Trust::pem(CA).connector().unwrap(), "localhost")
            .unwrap();
        let (mut r, w) = tls.split().unwrap();
        // Far more than the socket buffers hold, in both directions.
        const TOTAL: usize = 84 * 50_000;
        let writer = fibra_runtime::spawn(move || {
            let chunk: Vec<u8> = (0..50_000).map(|i| (i % 241) as u8).collect();
            let mut sent = 0;
            while sent < TOTAL {
                (&w).write_all(&chunk).unwrap();
                sent += chunk.len();
            }
            (&w).flush().unwrap();
            w
        });
        let mut got = 0;
        let mut buf = vec![0; 20_000];
        while got < TOTAL {
            let n = r.read(&mut buf).unwrap();
            assert!(n > 0);
            for (k, b) in buf[..n].iter().enumerate() {
                assert_eq!(*b, ((got + k) % 50_000 % 241) as u8);
            }
            got += n;
        }
        let w = writer.join().unwrap();
        w.shutdown(std::net::Shutdown::Both).unwrap();
        // The socket is shut without close_notify: the reader's wait ends.
        let end = r.read(&mut buf);
        assert!(
            matches!(&end, Ok(0)) || matches!(&end, Err(e) if e.kind() == ErrorKind::UnexpectedEof),
            "{end:?}"
        );
    });
}

#[test]
fn bytes_before_the_handshake_are_refused() {
    util::run(Duration::from_secs(20), || {
        // A server that speaks first, in the clear.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let _talker = fibra_runtime::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"injected").unwrap();
            fibra_runtime::sleep(Duration::from_secs(1));
        });
        let mut conn = Buffered::new(Stream::from(Dialer::new().dial(addr).unwrap()));
        conn.fill().unwrap();
        let connector = Trust::pem(CA).connector().unwrap();
        util::assert_kind(
            conn.upgrade_tls(&connector, "localhost"),
            ErrorKind::InvalidData,
        );
    });
}

#[test]
fn a_timed_out_tls_write_keeps_the_session_whole() {
    util::run(Duration::from_secs(30), || {
        // More than loopback's socket buffers hold.
        const TOTAL: usize = 24 << 20;
        let acceptor = TlsAcceptor::from_pem(CERT, KEY).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Reads nothing for a while, then checks every byte.
        let server = fibra_runtime::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let mut tls = acceptor.accept(tcp).unwrap();
            fibra_runtime::sleep(Duration::from_millis(300));
            let mut buf = vec![0; 65536];
            let mut got = 0;
            while got < TOTAL {
                let n = tls.read(&mut buf).unwrap();
                assert!(n > 0);
                let bad = (0..n).find(|&k| buf[k] != ((got + k) % 253) as u8);
                assert_eq!(bad, None, "wrong byte after {got}");
                got += n;
            }
            tls.write_all(b"ok").unwrap();
            tls.flush().unwrap();
            fibra_runtime::sleep(Duration::from_millis(200));
        });
        let tcp = Stream::from(Dialer::new().dial(addr).unwrap());
        let tls = tcp
            .upgrade_tls(&Trust::pem(CA).connector().unwrap(), "localhost")
            .unwrap();
        let (mut r, w) = tls.split().unwrap();
        let data: Vec<u8> = (0..TOTAL).map(|i| (i % 253) as u8).collect();
        w.set_write_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let (taken, e) = w.write_all_counted(&data).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(taken > 0 && taken <= TOTAL, "{taken}");
        // Go on from where the write stopped: nothing lost, nothing twice.
        w.set_write_timeout(None).unwrap();
        w.write_all_counted(&data[taken..]).unwrap();
        let mut ok = [0; 2];
        r.read_exact(&mut ok).unwrap();
        assert_eq!(&ok, b"ok");
        server.join().unwrap();
    });
}
