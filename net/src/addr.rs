//! Address resolution that never blocks a worker thread.
//!
//! Literal addresses (`"127.0.0.1:80"`, `"[::1]:80"`, `(ip, port)`) are
//! parsed in place. Host names go to `getaddrinfo` through
//! [`fibra_runtime::blocking_cancelable`], which runs it on the blocking
//! pool and parks only the calling coroutine. Like every other blocking call
//! here, a lookup honours cancellation and `with_timeout` scopes: the caller
//! returns at once, and `getaddrinfo` finishes on the pool.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Values that resolve to one or more socket addresses: fibra's counterpart
/// of [`std::net::ToSocketAddrs`], implemented for the same types.
///
/// It differs from std's in one way: resolving a host name runs
/// `getaddrinfo` on the blocking pool, so a coroutine resolving `"db:5432"`
/// does not stall the other coroutines of its worker.
pub trait ToSocketAddrs {
    /// Resolves to a list of addresses, in the order the resolver gave them.
    ///
    /// # Errors
    /// `InvalidInput` for a malformed address (no port, bad port); the
    /// resolver's error for a name that does not resolve.
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>>;
}

impl ToSocketAddrs for SocketAddr {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![*self])
    }
}

impl ToSocketAddrs for SocketAddrV4 {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::V4(*self)])
    }
}

impl ToSocketAddrs for SocketAddrV6 {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::V6(*self)])
    }
}

impl ToSocketAddrs for (IpAddr, u16) {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::new(self.0, self.1)])
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::new(IpAddr::V4(self.0), self.1)])
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::new(IpAddr::V6(self.0), self.1)])
    }
}

impl ToSocketAddrs for (&str, u16) {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        resolve_host(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        resolve_host(&self.0, self.1)
    }
}

impl ToSocketAddrs for str {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        resolve_host_port(self)
    }
}

impl ToSocketAddrs for String {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        resolve_host_port(self)
    }
}

impl ToSocketAddrs for [SocketAddr] {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(self.to_vec())
    }
}

impl<const N: usize> ToSocketAddrs for [SocketAddr; N] {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(self.to_vec())
    }
}

impl ToSocketAddrs for Vec<SocketAddr> {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(self.clone())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        (**self).to_socket_addrs()
    }
}

/// Resolves `"host:port"` (or `"[v6]:port"`, or a literal address) to its
/// addresses, IPv4 and IPv6, in the resolver's order. Go's
/// `net.LookupHost` with a port; the coroutine parks while the blocking pool
/// asks the system resolver.
///
/// ```no_run
/// let addrs = fibra_net::lookup_host("localhost:8080").unwrap();
/// assert!(addrs.iter().all(|a| a.port() == 8080));
/// ```
///
/// # Errors
/// `InvalidInput` without a valid port; the resolver's error when the name
/// does not resolve; `InvalidInput` when it resolves to no address at all.
pub fn lookup_host<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    let addrs = addr.to_socket_addrs()?;
    if addrs.is_empty() {
        return Err(no_addresses());
    }
    Ok(addrs)
}

/// The error for an address list that came out empty (std's wording).
pub(crate) fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any addresses",
    )
}

fn resolve_host_port(s: &str) -> io::Result<Vec<SocketAddr>> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address");
    let (host, port) = s.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    resolve_host(host, port)
}

fn resolve_host(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let host = host.to_owned();
    fibra_runtime::blocking_cancelable(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)).map(Iterator::collect)
    })?
}

/// Tries `f` on each address in turn, like Go's dialer: the first success
/// wins, otherwise the last error is returned.
pub(crate) fn each_addr<A, T>(
    addr: A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T>
where
    A: ToSocketAddrs,
{
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(a) {
            Ok(v) => return Ok(v),
            // Cancellation and scope deadlines apply to the whole call, not
            // to one address: stop at once.
            Err(e) if fibra_runtime::is_canceled(&e) => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_addresses))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_addresses_parse_without_the_resolver() {
        assert_eq!(
            "127.0.0.1:80".to_socket_addrs().unwrap(),
            vec!["127.0.0.1:80".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            "[::1]:443".to_socket_addrs().unwrap(),
            vec!["[::1]:443".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            ("::1", 7).to_socket_addrs().unwrap(),
            vec!["[::1]:7".parse::<SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn malformed_addresses_are_invalid_input() {
        for bad in ["localhost", "localhost:http", "127.0.0.1:99999", ":"] {
            let e = bad.to_socket_addrs().unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn each_addr_returns_the_last_error() {
        let addrs = [
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
        ];
        let mut seen = Vec::new();
        let r: io::Result<()> = each_addr(&addrs[..], |a| {
            seen.push(a.port());
            Err(io::Error::other(format!("port {}", a.port())))
        });
        assert_eq!(seen, [1, 2]);
        assert_eq!(r.unwrap_err().to_string(), "port 2");
    }
}
