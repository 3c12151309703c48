//! Measures how much coroutine stack typical deep workloads need, to justify
//! fibra's default stack size. Usage: `stackprobe <fmt|json|tls|deflate> <bytes>`
//! runs the workload in a coroutine with that stack and prints `ok`, or dies
//! with fibra's stack-overflow report. `scripts/measure-stack` binary-searches
//! the smallest size that works, for release and debug builds.

use std::io::{Read, Write};
use std::sync::Arc;

fn json() {
    // depth-120 nested arrays/objects plus a 1 MB flat document
    let mut s = String::new();
    for i in 0..120 { if i % 2 == 0 { s.push('[') } else { s.push_str("{\"k\":") } }
    s.push('1');
    for i in (0..120).rev() { if i % 2 == 0 { s.push(']') } else { s.push('}') } }
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    std::hint::black_box(v);
    let big: Vec<serde_json::Value> = (0..20000).map(|i| serde_json::json!({"id": i, "name": format!("n{i}"), "tags": ["a","b"]})).collect();
    let text = serde_json::to_string(&big).unwrap();
    let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    std::hint::black_box(back);
}

fn tls() {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(ck.key_pair.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let scfg = rustls::ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().unwrap()
        .with_no_client_auth().with_single_cert(vec![cert.clone()], key).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let ccfg = rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions().unwrap()
        .with_root_certificates(roots).with_no_client_auth();
    let mut c = rustls::ClientConnection::new(Arc::new(ccfg), "localhost".try_into().unwrap()).unwrap();
    let mut s = rustls::ServerConnection::new(Arc::new(scfg)).unwrap();
    let mut buf = Vec::new();
    for _ in 0..10 {
        buf.clear(); while c.wants_write() { c.write_tls(&mut buf).unwrap(); }
        let mut r = &buf[..]; while !r.is_empty() { s.read_tls(&mut r).unwrap(); } s.process_new_packets().unwrap();
        buf.clear(); while s.wants_write() { s.write_tls(&mut buf).unwrap(); }
        let mut r = &buf[..]; while !r.is_empty() { c.read_tls(&mut r).unwrap(); } c.process_new_packets().unwrap();
    }
    assert!(!c.is_handshaking() && !s.is_handshaking());
    c.writer().write_all(b"hello").unwrap();
    buf.clear(); while c.wants_write() { c.write_tls(&mut buf).unwrap(); }
    let mut r = &buf[..]; while !r.is_empty() { s.read_tls(&mut r).unwrap(); } s.process_new_packets().unwrap();
    let mut out = [0u8; 5]; s.reader().read_exact(&mut out).unwrap(); assert_eq!(&out, b"hello");
}

fn deflate() {
    use std::io::Write;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8 ^ (i / 7) as u8).collect();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&data).unwrap();
    let gz = enc.finish().unwrap();
    let mut dec = flate2::read::GzDecoder::new(&gz[..]);
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut dec, &mut out).unwrap();
    assert_eq!(out, data);
}

fn main() {
    let mut a = std::env::args().skip(1);
    let w = a.next().unwrap();
    let size: usize = a.next().unwrap().parse().unwrap();
    let h = fibra_runtime::coroutine::Builder::new().name(w.clone()).stack_size(size).spawn(move || match w.as_str() {
        "json" => json(), "tls" => tls(), "deflate" => deflate(), "fmt" => { let s = format!("{:?}", (1..100).collect::<Vec<_>>()); std::hint::black_box(s); }
        _ => panic!() }).unwrap();
    h.join().unwrap();
    println!("ok");
}
