//! systemd integration, all optional: readiness and stop notifications (`sd_notify`, written
//! here over the `NOTIFY_SOCKET` datagram socket: a one-line protocol needs no library), the
//! watchdog, and listeners passed by socket activation (`LISTEN_FDS`), taken with the
//! `listenfd` crate because turning an inherited descriptor into a socket needs `unsafe`,
//! which this crate forbids in its own code. `LISTEN_FDNAMES` (`FileDescriptorName=` in the
//! socket unit) tells them apart: [`MILTER_FD_NAME`] is the milter front's, any other name
//! (or none) is an SMTP listener.

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

/// The `FileDescriptorName=` of a socket for the milter front (`supportgate-milter.socket`).
pub const MILTER_FD_NAME: &str = "milter";

/// The listeners passed by socket activation, sorted by front; both empty when not
/// socket-activated.
#[derive(Debug, Default)]
pub struct ActivatedListeners {
    /// TCP listeners for the SMTP front, in order.
    pub smtp: Vec<std::net::TcpListener>,
    /// Listeners named [`MILTER_FD_NAME`]: TCP or Unix stream sockets.
    pub milter: Vec<ActivatedMilter>,
}

#[derive(Debug)]
pub enum ActivatedMilter {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

/// Takes the listeners systemd passed. Must be called before any thread is started:
/// `listenfd` removes `LISTEN_FDS` and `LISTEN_PID` from the environment, and this removes
/// `LISTEN_FDNAMES`, so that children do not inherit them.
pub fn activated_listeners() -> io::Result<ActivatedListeners> {
    let names = std::env::var("LISTEN_FDNAMES").ok();
    std::env::remove_var("LISTEN_FDNAMES");
    let mut fds = listenfd::ListenFd::from_env();
    let names = descriptor_names(names.as_deref(), fds.len());
    let mut activated = ActivatedListeners::default();
    for (i, name) in names.iter().enumerate() {
        let not_a = |what: &str| {
            io::Error::other(format!(
                "LISTEN_FDS: descriptor {} (named {name:?}) is not {what}",
                i + 3
            ))
        };
        if name == MILTER_FD_NAME {
            let listener = match fds.take_tcp_listener(i) {
                Ok(Some(listener)) => ActivatedMilter::Tcp(listener),
                _ => match fds.take_unix_listener(i) {
                    Ok(Some(listener)) => ActivatedMilter::Unix(listener),
                    _ => return Err(not_a("a TCP or Unix stream listening socket")),
                },
            };
            activated.milter.push(listener);
        } else {
            match fds.take_tcp_listener(i) {
                Ok(Some(listener)) => activated.smtp.push(listener),
                _ => return Err(not_a("a TCP listening socket")),
            }
        }
    }
    for listener in &activated.smtp {
        listener.set_nonblocking(true)?;
    }
    for listener in &activated.milter {
        match listener {
            ActivatedMilter::Tcp(l) => l.set_nonblocking(true)?,
            ActivatedMilter::Unix(l) => l.set_nonblocking(true)?,
        }
    }
    Ok(activated)
}

/// One name per passed descriptor, from `LISTEN_FDNAMES` (colon-separated). Without it, or
/// when it does not name every descriptor, all are `unknown`, as `sd_listen_fds_with_names`
/// has it (then all are SMTP listeners, as before names existed).
fn descriptor_names(value: Option<&str>, count: usize) -> Vec<String> {
    let names: Vec<String> = value
        .map(|v| v.split(':').map(str::to_string).collect())
        .unwrap_or_default();
    if names.len() == count {
        names
    } else {
        vec!["unknown".to_string(); count]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_are_named_only_when_every_one_is() {
        assert_eq!(
            descriptor_names(Some("smtp:milter"), 2),
            vec!["smtp".to_string(), "milter".to_string()]
        );
        // systemd's default name is the socket unit's: not the milter.
        assert_eq!(
            descriptor_names(Some("supportgate.socket"), 1),
            vec!["supportgate.socket".to_string()]
        );
        assert_eq!(descriptor_names(Some("milter"), 2), vec!["unknown"; 2]);
        assert_eq!(descriptor_names(None, 1), vec!["unknown"]);
        assert!(descriptor_names(None, 0).is_empty());
        assert!(descriptor_names(Some(""), 0).is_empty());
    }

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
