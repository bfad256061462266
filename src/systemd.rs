//! systemd integration, all optional: readiness and stop notifications (`sd_notify`, written
//! here over the `NOTIFY_SOCKET` datagram socket: a one-line protocol needs no library), the
//! watchdog, and listeners passed by socket activation (`LISTEN_FDS`), taken with the
//! `listenfd` crate because turning an inherited descriptor into a socket needs `unsafe`,
//! which this crate forbids in its own code.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends one notification (`READY=1`, `STOPPING=1`, `STATUS=...`, `WATCHDOG=1`) to the
/// service manager. Without `NOTIFY_SOCKET` (not under systemd, or not `Type=notify`) it does
/// nothing and returns `Ok(false)`.
pub fn notify(state: &str) -> io::Result<bool> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let socket = UnixDatagram::unbound()?;
    let bytes = path.as_encoded_bytes();
    match bytes.strip_prefix(b"@") {
        // Abstract namespace: a leading NUL instead of the `@`.
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(state.as_bytes(), &address)?;
        }
        None => {
            socket.send_to(state.as_bytes(), &path)?;
        }
    }
    Ok(true)
}

/// [`notify`], logging a failure instead of returning it: a lost notification must not stop
/// the gateway (systemd then times the start out and says so).
pub fn notify_or_log(state: &str) {
    if let Err(e) = notify(state) {
        tracing::warn!(error = %e, state, "cannot notify systemd");
    }
}

/// The watchdog interval asked by `WatchdogSec=` (`WATCHDOG_USEC`, for this process if
/// `WATCHDOG_PID` says so), if any.
pub fn watchdog_interval() -> Option<Duration> {
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.trim() != std::process::id().to_string() {
            return None;
        }
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Pets the watchdog at half its interval for as long as the runtime runs. A stuck runtime
/// stops petting and systemd restarts the service.
pub async fn watchdog(interval: Duration) {
    let mut tick = tokio::time::interval(interval / 2);
    loop {
        tick.tick().await;
        notify_or_log("WATCHDOG=1");
    }
}

/// The TCP listeners passed by socket activation, in order; empty when not socket-activated.
/// Must be called before any thread is started: `listenfd` removes `LISTEN_FDS` and
/// `LISTEN_PID` from the environment so that children do not inherit them.
pub fn activated_listeners() -> io::Result<Vec<std::net::TcpListener>> {
    let mut fds = listenfd::ListenFd::from_env();
    let mut listeners = Vec::with_capacity(fds.len());
    for i in 0..fds.len() {
        match fds.take_tcp_listener(i)? {
            Some(listener) => {
                listener.set_nonblocking(true)?;
                listeners.push(listener);
            }
            None => {
                return Err(io::Error::other(format!(
                    "LISTEN_FDS: descriptor {} is not a TCP listening socket",
                    i + 3
                )))
            }
        }
    }
    Ok(listeners)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_reaches_a_socket_named_by_path() {
        // Only this test sets NOTIFY_SOCKET in this process.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        std::env::set_var("NOTIFY_SOCKET", &path);
        assert!(notify("READY=1").unwrap());
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");

        let name = format!("supportgate-test-{}", std::process::id());
        let abstract_server = {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            UnixDatagram::bind_addr(&addr).unwrap()
        };
        std::env::set_var("NOTIFY_SOCKET", format!("@{name}"));
        assert!(notify("STOPPING=1").unwrap());
        let n = abstract_server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
        std::env::remove_var("NOTIFY_SOCKET");
    }
}
