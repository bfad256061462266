//! Binding listening sockets the same way everywhere (`serve`'s SMTP and metrics listeners,
//! `config check`'s try-bind), and knowing which addresses cannot be bound together.
//!
//! An IPv6 socket is bound with `IPV6_V6ONLY`: on Linux's default `bindv6only=0` a `[::]:P`
//! socket would otherwise also take IPv4 and collide with `0.0.0.0:P` ("Address already in
//! use"), so `listen = ["0.0.0.0:25", "[::]:25"]` works whatever the system setting.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;

/// Pending connections the kernel keeps before `accept()` (the listen(2) backlog).
const BACKLOG: i32 = 1024;

/// A listening, non-blocking TCP socket on `address` (for `tokio::net::TcpListener::from_std`).
pub fn bind(address: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // As tokio's own `bind`: a restart does not wait for the old sockets' TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// True when `a` and `b` cannot both be bound: the same port and the same address, or the
/// same port and one of them the wildcard of the other's family (`0.0.0.0:25` and
/// `127.0.0.1:25`). IPv4 and IPv6 never overlap (IPv6 sockets are bound IPv6-only); port 0
/// is a fresh port each time.
pub fn overlap(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0
        && a.port() == b.port()
        && a.is_ipv6() == b.is_ipv6()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the SMTP accept loop relies on to skip a system call per connection (it checks
    /// the first connection and falls back to setting it on each).
    #[test]
    fn accepted_sockets_take_tcp_nodelay_from_the_listener() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        listener.set_nonblocking(false).unwrap();
        let address = listener.local_addr().unwrap();
        // Queued before the listener had it: this one does not carry it (the accept loop
        // checks until one does).
        let _early = std::net::TcpStream::connect(address).unwrap();
        socket2::SockRef::from(&listener)
            .set_tcp_nodelay(true)
            .unwrap();
        let _client = std::net::TcpStream::connect(address).unwrap();
        let (early, _) = listener.accept().unwrap();
        assert!(!early.nodelay().unwrap());
        let (accepted, _) = listener.accept().unwrap();
        assert!(accepted.nodelay().unwrap());
    }

    #[test]
    fn overlapping_listeners() {
        let table = [
            ("0.0.0.0:25", "[::]:25", false),
            ("0.0.0.0:25", "0.0.0.0:25", true),
            ("127.0.0.1:25", "127.0.0.1:25", true),
            ("0.0.0.0:25", "127.0.0.1:25", true),
            ("[::]:25", "[::1]:25", true),
            ("127.0.0.1:25", "127.0.0.2:25", false),
            ("127.0.0.1:25", "127.0.0.1:587", false),
            ("127.0.0.1:0", "127.0.0.1:0", false),
            ("[::1]:25", "127.0.0.1:25", false),
        ];
        for (a, b, expected) in table {
            let (a, b) = (a.parse().unwrap(), b.parse().unwrap());
            assert_eq!(overlap(a, b), expected, "{a} {b}");
            assert_eq!(overlap(b, a), expected, "{b} {a}");
        }
    }

    #[test]
    fn ipv4_and_ipv6_wildcards_bind_together_on_one_port() {
        let v4 = bind("0.0.0.0:0".parse().unwrap()).unwrap();
        let port = v4.local_addr().unwrap().port();
        match bind(SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port))) {
            Ok(v6) => assert_eq!(v6.local_addr().unwrap().port(), port),
            // A machine without IPv6 at all cannot have the collision either.
            Err(e) if e.raw_os_error() == Some(97) => {
                eprintln!("no IPv6 on this machine ({e}): skipped")
            }
            Err(e) => panic!("[::]:{port} beside 0.0.0.0:{port}: {e}"),
        }
        let again = bind(SocketAddr::from(([0, 0, 0, 0], port)));
        assert_eq!(
            again.map(|_| ()).map_err(|e| e.kind()),
            Err(io::ErrorKind::AddrInUse)
        );
    }
}
