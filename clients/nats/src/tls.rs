//! TLS transport (feature `tls`). One rustls session cannot be read by one
//! coroutine while another writes, so the session sits behind a mutex and
//! the reader waits for the socket to become readable *without* holding
//! it (a `peek`), then lets exactly one socket read through: the writer is
//! never locked out by a reader waiting for data.

use std::io::{self, Read, Write};

use fibra_net::tls::{TlsConnector, TlsStream};
use fibra_net::TcpStream;
use fibra_runtime::sync::Mutex;

use crate::error::Result;
use crate::options::ConnectOptions;

/// The socket under the TLS session: reads pass only when the reader has
/// seen the socket readable (otherwise `WouldBlock`, which rustls hands
/// back up); writes always pass.
struct Gate {
    tcp: TcpStream,
    blocking: bool,
    allow_read: bool,
}

impl Read for Gate {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.blocking || std::mem::take(&mut self.allow_read) {
            (&self.tcp).read(buf)
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}

impl Write for Gate {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.tcp).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(crate) struct TlsTransport {
    tcp: TcpStream,
    tls: Mutex<TlsStream<Gate>>,
}

impl TlsTransport {
    pub(crate) fn connect(
        tcp: TcpStream,
        host: &str,
        opts: &ConnectOptions,
    ) -> Result<TlsTransport> {
        let connector = match &opts.tls_root_pem {
            Some(pem) => TlsConnector::with_root_pem(pem)?,
            None => TlsConnector::new()?,
        };
        let gate = Gate {
            tcp: tcp.try_clone()?,
            blocking: true,
            allow_read: false,
        };
        let mut tls = connector.connect(host, gate)?;
        tls.get_mut().blocking = false;
        Ok(TlsTransport {
            tcp,
            tls: Mutex::new(tls),
        })
    }

    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // Plaintext rustls already holds comes first.
            match self.tls.lock().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
            let mut probe = [0u8; 1];
            self.tcp.peek(&mut probe)?;
            let mut tls = self.tls.lock();
            tls.get_mut().allow_read = true;
            let r = tls.read(buf);
            tls.get_mut().allow_read = false;
            match r {
                // A partial record: wait for the rest.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
        }
    }

    pub(crate) fn write_all(&self, buf: &[u8]) -> std::result::Result<(), (usize, io::Error)> {
        let mut tls = self.tls.lock();
        // Unknown progress on failure: report some, so the chunk is not
        // sent twice.
        tls.write_all(buf)
            .and_then(|()| tls.flush())
            .map_err(|e| (1, e))
    }
}
