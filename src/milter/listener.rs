//! Where the MTA reaches us: a TCP address (`inet:127.0.0.1:8891` to Postfix) or a Unix socket
//! (`unix:/run/supportgate/milter.sock`). [`run`] accepts up to `max_connections` at once (a
//! connection over the limit is closed at once: the MTA applies `milter_default_action`) and
//! on shutdown lets open connections finish their message within `shutdown_grace`.

use super::{connection, MilterHandler, MilterLimits};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

/// `[milter] listen`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MilterAddress {
    Inet(SocketAddr),
    Unix(PathBuf),
}

impl MilterAddress {
    /// `"127.0.0.1:8891"`, `"[::1]:8891"` or `"unix:/run/supportgate/milter.sock"`.
    pub fn parse(value: &str) -> Option<MilterAddress> {
        if let Some(path) = value.strip_prefix("unix:") {
            let path = PathBuf::from(path);
            return path.is_absolute().then_some(MilterAddress::Unix(path));
        }
        value
            .strip_prefix("inet:")
            .unwrap_or(value)
            .parse()
            .ok()
            .map(MilterAddress::Inet)
    }
}

impl std::fmt::Display for MilterAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MilterAddress::Inet(address) => write!(f, "inet:{address}"),
            MilterAddress::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

pub enum MilterListener {
    Tcp(TcpListener),
    /// The socket file is removed when the listener stops.
    Unix(UnixListener, PathBuf),
    /// Passed by socket activation: systemd owns the socket file (it stays at stop).
    InheritedUnix(UnixListener),
}

impl MilterListener {
    /// A TCP listener passed by socket activation (non-blocking already).
    pub fn inherited_tcp(listener: std::net::TcpListener) -> std::io::Result<MilterListener> {
        Ok(MilterListener::Tcp(TcpListener::from_std(listener)?))
    }

    /// A Unix stream listener passed by socket activation (non-blocking already).
    pub fn inherited_unix(
        listener: std::os::unix::net::UnixListener,
    ) -> std::io::Result<MilterListener> {
        Ok(MilterListener::InheritedUnix(UnixListener::from_std(
            listener,
        )?))
    }

    /// Where the MTA reaches this listener, for the log.
    pub fn address(&self) -> String {
        match self {
            MilterListener::Tcp(listener) => match listener.local_addr() {
                Ok(address) => format!("inet:{address}"),
                Err(e) => format!("inet:({e})"),
            },
            MilterListener::Unix(listener, _) | MilterListener::InheritedUnix(listener) => {
                unix_address(listener)
            }
        }
    }
}

fn unix_address(listener: &UnixListener) -> String {
    match listener.local_addr() {
        Ok(address) => match address.as_pathname() {
            Some(path) => format!("unix:{}", path.display()),
            None => "unix:(unnamed)".to_string(),
        },
        Err(e) => format!("unix:({e})"),
    }
}

/// Binds `address`. A Unix socket file left by an earlier run is replaced (only a socket: any
/// other file there is an error).
pub fn bind(address: &MilterAddress) -> std::io::Result<MilterListener> {
    match address {
        MilterAddress::Inet(address) => Ok(MilterListener::Tcp(TcpListener::from_std(
            crate::smtp::listener::bind(*address)?,
        )?)),
        MilterAddress::Unix(path) => {
            remove_stale_socket(path)?;
            Ok(MilterListener::Unix(
                UnixListener::bind(path)?,
                path.clone(),
            ))
        }
    }
}

fn remove_stale_socket(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        )),
        Err(_) => Ok(()),
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

struct Accepted {
    stream: Box<dyn Stream>,
    peer: String,
}

/// Serves the MTA on `listeners` until `shutdown` completes, then lets open connections end
/// their message (within `limits.shutdown_grace`).
pub async fn run<H: MilterHandler>(
    listeners: Vec<MilterListener>,
    limits: MilterLimits,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stopping_tx, stopping) = watch::channel(false);
    let (accepted_tx, mut accepted_rx) = mpsc::channel::<Accepted>(16);
    let mut acceptors = JoinSet::new();
    let mut sockets = Vec::new();
    for listener in listeners {
        let tx = accepted_tx.clone();
        match listener {
            MilterListener::Tcp(listener) => {
                acceptors.spawn(async move {
                    loop {
                        match listener.accept().await {
                            Ok((stream, peer)) => {
                                let accepted = Accepted {
                                    stream: Box::new(stream),
                                    peer: peer.to_string(),
                                };
                                if tx.send(accepted).await.is_err() {
                                    return;
                                }
                            }
                            Err(e) => accept_failed(e).await,
                        }
                    }
                });
            }
            MilterListener::Unix(listener, path) => {
                sockets.push(path);
                acceptors.spawn(accept_unix(listener, tx));
            }
            MilterListener::InheritedUnix(listener) => {
                acceptors.spawn(accept_unix(listener, tx));
            }
        }
    }
    drop(accepted_tx);
    let mut sessions = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(accepted) = accepted_rx.recv() => {
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    tracing::warn!(peer = %accepted.peer, max = limits.max_connections, "milter: too many connections; closed (the MTA applies milter_default_action)");
                    continue;
                };
                let session_id = format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
                tracing::debug!(session = %session_id, peer = %accepted.peer, "milter: connect");
                let handler = Arc::clone(&handler);
                let stopping = stopping.clone();
                sessions.spawn(async move {
                    connection::serve(accepted.stream, session_id, limits, handler, stopping).await;
                    drop(permit);
                });
            }
            Some(joined) = sessions.join_next(), if !sessions.is_empty() => {
                if let Err(e) = joined {
                    tracing::error!(error = %e, "milter: connection task failed");
                }
            }
        }
    }
    acceptors.abort_all();
    stopping_tx.send_replace(true);
    tracing::info!(open = sessions.len(), "milter: no longer accepting");
    let drain = async { while sessions.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, drain)
        .await
        .is_err()
    {
        tracing::info!(
            open = sessions.len(),
            "milter: grace period over: closing connections"
        );
        sessions.abort_all();
    }
    for path in sockets {
        let _ = std::fs::remove_file(path);
    }
}

async fn accept_unix(listener: UnixListener, tx: mpsc::Sender<Accepted>) {
    let name = unix_address(&listener);
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let accepted = Accepted {
                    stream: Box::new(stream),
                    peer: name.clone(),
                };
                if tx.send(accepted).await.is_err() {
                    return;
                }
            }
            Err(e) => accept_failed(e).await,
        }
    }
}

/// Out of descriptors and the like: logged, and a short pause so the loop does not spin.
async fn accept_failed(e: std::io::Error) {
    tracing::warn!(error = %e, "milter: accept failed");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::milter::{MilterMessage, Verdict};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct Nobody;

    impl MilterHandler for Nobody {
        fn concerns(&self, _: &str) -> bool {
            false
        }

        async fn decide(&self, _: MilterMessage) -> Verdict {
            Verdict::Discard
        }
    }

    fn limits() -> MilterLimits {
        MilterLimits {
            max_frame: 1024,
            max_message_size: 4096,
            max_header_size: 1024,
            max_header_count: 10,
            max_recipients: 10,
            max_macros: 10,
            max_connections: 1,
            idle_timeout: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(1),
        }
    }

    #[tokio::test]
    async fn a_unix_socket_negotiates_closes_on_a_bad_frame_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("milter.sock");
        // A socket left by a crash is replaced.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let listener = bind(&MilterAddress::Unix(path.clone())).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(run(vec![listener], limits(), Arc::new(Nobody), async {
            let _ = stopped.await;
        }));
        let mut client = tokio::net::UnixStream::connect(&path).await.unwrap();
        let mut negotiate = vec![0, 0, 0, 13, b'O'];
        for word in [6u32, 0x1ff, 0x1f_ffff] {
            negotiate.extend_from_slice(&word.to_be_bytes());
        }
        client.write_all(&negotiate).await.unwrap();
        let mut reply = [0u8; 17];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply[..5], &[0, 0, 0, 13, b'O']);
        // A frame over the limit: the connection is closed, the server goes on.
        client.write_all(&[0x7f, 0, 0, 0, b'B']).await.unwrap();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest));
        assert_eq!(read.await.unwrap().unwrap(), 0);
        // The connection's permit comes back (just after its socket closes): a second
        // connection is served.
        let mut served = false;
        for _ in 0..20 {
            let mut again = tokio::net::UnixStream::connect(&path).await.unwrap();
            again.write_all(&negotiate).await.unwrap();
            if again.read_exact(&mut reply).await.is_ok() {
                served = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(served, "the permit of a closed connection never came back");
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap();
        assert!(!path.exists(), "socket file left behind");
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("milter.sock");
        std::fs::write(&path, "data").unwrap();
        assert!(remove_stale_socket(&path).is_err());
        assert!(path.exists());
    }
}
