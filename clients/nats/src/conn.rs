//! One transport to one server: TCP (or TLS), the INFO/CONNECT/PING
//! handshake, and the split into a read side and a write side that two
//! coroutines drive at once.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Instant;

use fibra_net::TcpStream;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::options::{ConnectOptions, ServerAddr};
use crate::proto::{self, ServerOp};

/// What the server said about itself in its INFO.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The server's unique id.
    pub server_id: String,
    /// The server's name.
    pub server_name: String,
    /// The nats-server version.
    pub version: String,
    /// The protocol level (1 supports cluster-aware INFO updates).
    pub proto: i32,
    /// The host the server listens on.
    pub host: String,
    /// The client port.
    pub port: u16,
    /// Whether HPUB/HMSG are supported.
    pub headers: bool,
    /// The largest message body (headers plus payload) the server accepts.
    pub max_payload: usize,
    /// Whether the server requires authentication.
    pub auth_required: bool,
    /// Whether the server requires TLS.
    pub tls_required: bool,
    /// The nonce to sign for nkey authentication.
    pub nonce: Option<String>,
    /// Other servers of the cluster clients may connect to.
    pub connect_urls: Vec<String>,
    /// Lame duck mode: the server is about to shut down.
    pub ldm: bool,
    /// Whether JetStream is enabled.
    pub jetstream: bool,
    /// Our client id on this server.
    pub client_id: u64,
    /// The cluster name.
    pub cluster: Option<String>,
}

#[derive(Serialize)]
struct Connect<'a> {
    verbose: bool,
    pedantic: bool,
    lang: &'a str,
    version: &'a str,
    protocol: u8,
    echo: bool,
    headers: bool,
    no_responders: bool,
    tls_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pass: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nkey: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sig: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwt: Option<&'a str>,
}

/// The byte stream to one server.
pub(crate) enum Transport {
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<crate::tls::TlsTransport>),
}

impl Transport {
    fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Tcp(s) => s,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.tcp(),
        }
    }

    /// Ends the connection in both directions; the reader sees EOF.
    pub(crate) fn shutdown(&self) {
        let _ = self.tcp().shutdown(Shutdown::Both);
    }

    /// Writes all of `buf`; on failure says how many bytes went out.
    pub(crate) fn write_all(&self, buf: &[u8]) -> Result<(), (usize, io::Error)> {
        match self {
            Transport::Tcp(s) => {
                let mut done = 0;
                while done < buf.len() {
                    match (&*s).write(&buf[done..]) {
                        Ok(0) => return Err((done, io::ErrorKind::WriteZero.into())),
                        Ok(n) => done += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err((done, e)),
                    }
                }
                Ok(())
            }
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.write_all(buf),
        }
    }

    /// Reads some bytes (0 at end of stream).
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => (&*s).read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.read(buf),
        }
    }
}

/// A handshaken connection, and the bytes already read past the PONG.
pub(crate) struct Established {
    pub transport: Arc<Transport>,
    pub info: ServerInfo,
    pub leftover: Vec<u8>,
}

/// Reads until one whole operation is buffered, handling nothing else.
fn read_op(t: &Transport, buf: &mut Vec<u8>, max: usize) -> Result<(Vec<u8>, usize)> {
    loop {
        if let Some((_, n)) = proto::decode(buf, max)? {
            return Ok((buf[..n].to_vec(), n));
        }
        let len = buf.len();
        buf.resize(len + 4096, 0);
        let n = t.read(&mut buf[len..])?;
        buf.truncate(len + n);
        if n == 0 {
            return Err(Error::new(
                ErrorKind::Io,
                "connection closed during handshake",
            ));
        }
    }
}

pub(crate) fn parse_info(json: &str) -> Result<ServerInfo> {
    serde_json::from_str(json)
        .map_err(|e| Error::new(ErrorKind::Protocol, format!("bad INFO: {e}")))
}

/// Connects to `addr` and runs the handshake: INFO, optional TLS,
/// CONNECT, PING, and waits for the PONG (or the server's `-ERR`).
pub(crate) fn establish(addr: &ServerAddr, opts: &ConnectOptions) -> Result<Established> {
    // One deadline over DNS, every address, TLS and the handshake. The
    // dialler's defaults are Go's (keep-alive every 15 s), as nats.go gets.
    let deadline = Instant::now() + opts.connect_timeout;
    fibra_runtime::with_deadline(deadline, || {
        let tcp = fibra_net::Dialer::new().dial((addr.host.as_str(), addr.port))?;
        handshake(tcp, addr, opts)
    })
}

fn handshake(tcp: TcpStream, addr: &ServerAddr, opts: &ConnectOptions) -> Result<Established> {
    let want_tls = addr.tls || opts.tls_required;
    let mut transport = Transport::Tcp(tcp);
    if want_tls && opts.tls_handshake_first {
        transport = upgrade(transport, addr, opts)?;
    }
    let mut buf = Vec::new();
    let (line, n) = read_op(&transport, &mut buf, 1 << 20)?;
    buf.drain(..n);
    let info = match proto::decode(&line, 1 << 20)? {
        Some((ServerOp::Info(json), _)) => parse_info(json)?,
        _ => {
            return Err(Error::new(
                ErrorKind::Protocol,
                "server did not start with INFO",
            ))
        }
    };
    if (want_tls || info.tls_required) && matches!(transport, Transport::Tcp(_)) {
        transport = upgrade(transport, addr, opts)?;
    }
    let kp = match &opts.nkey_seed {
        Some(seed) => Some(crate::nkey::KeyPair::from_seed(seed)?),
        None => None,
    };
    let sig = match (&kp, &info.nonce) {
        (Some(kp), Some(nonce)) => Some(kp.sign(nonce.as_bytes())),
        _ => None,
    };
    let connect = Connect {
        verbose: false,
        pedantic: false,
        lang: "rust-fibra",
        version: env!("CARGO_PKG_VERSION"),
        protocol: 1,
        echo: !opts.no_echo,
        headers: true,
        no_responders: true,
        tls_required: want_tls,
        name: opts.name.as_deref(),
        user: addr.user.as_deref().or(opts.user.as_deref()),
        pass: addr.pass.as_deref().or(opts.pass.as_deref()),
        auth_token: addr.token.as_deref().or(opts.token.as_deref()),
        nkey: if opts.jwt.is_none() {
            kp.as_ref().map(|k| k.public_key())
        } else {
            None
        },
        sig,
        jwt: opts.jwt.as_deref(),
    };
    let json = serde_json::to_string(&connect).map_err(|e| Error::invalid(e.to_string()))?;
    let mut out = Vec::with_capacity(json.len() + 16);
    proto::encode_connect(&mut out, &json);
    proto::encode_ping(&mut out);
    transport.write_all(&out).map_err(|(_, e)| Error::from(e))?;
    let mut info = info;
    loop {
        let (op, n) = read_op(&transport, &mut buf, 1 << 20)?;
        buf.drain(..n);
        match proto::decode(&op, 1 << 20)? {
            Some((ServerOp::Pong, _)) => break,
            Some((ServerOp::Err(e), _)) => {
                return Err(Error::new(ErrorKind::Server, format!("server error: {e}")))
            }
            Some((ServerOp::Info(json), _)) => info = parse_info(json)?,
            _ => {}
        }
    }
    Ok(Established {
        transport: Arc::new(transport),
        info,
        leftover: buf,
    })
}

#[cfg(feature = "tls")]
fn upgrade(t: Transport, addr: &ServerAddr, opts: &ConnectOptions) -> Result<Transport> {
    match t {
        Transport::Tcp(tcp) => Ok(Transport::Tls(Box::new(crate::tls::TlsTransport::connect(
            tcp, &addr.host, opts,
        )?))),
        other => Ok(other),
    }
}

#[cfg(not(feature = "tls"))]
fn upgrade(_t: Transport, _addr: &ServerAddr, _opts: &ConnectOptions) -> Result<Transport> {
    Err(Error::invalid(
        "TLS requested but fibra-nats was built without the `tls` feature",
    ))
}
