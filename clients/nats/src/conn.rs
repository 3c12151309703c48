//! One connection to one server: fibra-net's stream (TCP, or TLS), the
//! INFO/CONNECT/PING handshake, and the split into a read side and a write
//! side that two coroutines drive at once.

use std::io;
use std::time::Instant;

use fibra_net::{Buffered, ReadHalf, Stream, WriteHalf};
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

/// A handshaken connection, split: the reader coroutine's buffered half
/// (holding whatever arrived after the PONG) and the writers' half.
pub(crate) struct Established {
    pub reader: Buffered<ReadHalf>,
    pub writer: WriteHalf,
    pub info: ServerInfo,
}

/// The largest operation the handshake reads (an INFO).
const HANDSHAKE_MAX: usize = 1 << 20;

/// Reads until one whole operation is buffered; returns its length.
fn next_op(conn: &mut Buffered<Stream>) -> Result<usize> {
    loop {
        if let Some((_, n)) = proto::decode(conn.buffered(), HANDSHAKE_MAX)? {
            return Ok(n);
        }
        if let Err(e) = conn.fill() {
            return Err(match e.kind() {
                io::ErrorKind::UnexpectedEof => {
                    Error::new(ErrorKind::Closed, "connection closed during handshake")
                }
                _ => e.into(),
            });
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
        // The reader keeps this buffer: 64 KiB, as a busy subscriber wants.
        handshake(
            Buffered::with_capacity(64 << 10, Stream::from(tcp)),
            addr,
            opts,
        )
    })
}

fn handshake(
    mut conn: Buffered<Stream>,
    addr: &ServerAddr,
    opts: &ConnectOptions,
) -> Result<Established> {
    let want_tls = addr.tls || opts.tls_required;
    if want_tls && opts.tls_handshake_first {
        conn = upgrade(conn, addr, opts)?;
    }
    let n = next_op(&mut conn)?;
    let info = match proto::decode(conn.buffered(), HANDSHAKE_MAX)? {
        Some((ServerOp::Info(json), _)) => parse_info(json)?,
        _ => {
            return Err(Error::new(
                ErrorKind::Protocol,
                "server did not start with INFO",
            ))
        }
    };
    conn.consume(n);
    if (want_tls || info.tls_required) && !conn.get_ref().is_tls() {
        conn = upgrade(conn, addr, opts)?;
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
    proto::encode_connect(conn.write_buf(), &json);
    proto::encode_ping(conn.write_buf());
    conn.flush()?;
    let mut info = info;
    loop {
        let n = next_op(&mut conn)?;
        let done = match proto::decode(conn.buffered(), HANDSHAKE_MAX)? {
            Some((ServerOp::Pong, _)) => true,
            Some((ServerOp::Err(e), _)) => {
                return Err(Error::new(ErrorKind::Server, format!("server error: {e}")))
            }
            Some((ServerOp::Info(json), _)) => {
                info = parse_info(json)?;
                false
            }
            _ => false,
        };
        conn.consume(n);
        if done {
            break;
        }
    }
    let (reader, writer) = conn.split()?;
    Ok(Established {
        reader,
        writer,
        info,
    })
}

#[cfg(feature = "tls")]
fn upgrade(
    conn: Buffered<Stream>,
    addr: &ServerAddr,
    opts: &ConnectOptions,
) -> Result<Buffered<Stream>> {
    let connector = opts.tls_trust.connector()?;
    Ok(conn.upgrade_tls(&connector, &addr.host)?)
}

#[cfg(not(feature = "tls"))]
fn upgrade(
    _conn: Buffered<Stream>,
    _addr: &ServerAddr,
    _opts: &ConnectOptions,
) -> Result<Buffered<Stream>> {
    Err(Error::invalid(
        "TLS requested but fibra-nats was built without the `tls` feature",
    ))
}
