//! Listeners, connection admission and graceful shutdown.
//!
//! Admission, in order:
//! 1. Each listener's accept loop takes a *socket slot* permit **before** `accept()`, so the
//!    process never holds more than `max_connections + REJECT_SLOTS` client sockets, whatever
//!    the load; the permit moves into the task that owns the socket.
//! 2. After accept, a *session* permit (`max_connections`) and the per-client count
//!    (`max_connections_per_ip`) are checked without waiting; a client over either limit gets
//!    `421 4.7.0` and is closed, using only its socket slot for that short write. A client is
//!    an IPv4 address or an IPv6 /64 ([`client_network`]): one IPv6 subscriber gets a whole
//!    /64 and could otherwise open its connections from as many addresses as it likes.
//!
//! Shutdown: when the `shutdown` future resolves, the accept loops stop, sessions get
//! `ServerConfig::shutdown_grace` to finish, then every session still open is sent
//! `421 4.3.2` and closed, and [`run`] returns.

use crate::locking::lock;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use super::config::Phase;
/// Still reachable as `smtp::server::ServerConfig`, where it lived before `config`.
pub use super::config::ServerConfig;
use super::connection::Connection;
use super::events::LimitKind;
use super::handler::{MessageHandler, SessionInfo};
use super::reply::{Outcome, SmtpReply};
use super::session::Session;

/// Extra sockets beyond `max_connections` that may be open just to be told `421 4.7.0`.
const REJECT_SLOTS: usize = 10;
/// How long a refused client gets to read its `421`.
const REJECT_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// After the grace period and the `421 4.3.2`, how long sessions get to wind down before
/// their tasks are aborted (a handler may be in the middle of a delivery).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

struct Accepted {
    stream: TcpStream,
    peer: SocketAddr,
    /// The listener's own address when it is a definite one (every connection it accepts has
    /// it); `None` for a wildcard listener, whose connections are asked.
    local: Option<SocketAddr>,
    slot: OwnedSemaphorePermit,
}

/// Serves SMTP on every listener until `shutdown` resolves, then shuts down gracefully. The
/// caller, which bound the listeners, logs them.
pub async fn run<H: MessageHandler>(
    listeners: Vec<TcpListener>,
    config: Arc<ServerConfig>,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let max = config.limits.max_connections;
    let slots = Arc::new(Semaphore::new(max + REJECT_SLOTS));
    let session_permits = Arc::new(Semaphore::new(max));
    let per_ip = Arc::new(Mutex::new(HashMap::new()));
    let (phase_tx, phase_rx) = watch::channel(Phase::Running);
    let (accepted_tx, mut accepted_rx) = mpsc::channel::<Accepted>(16);

    let mut acceptors = JoinSet::new();
    for listener in listeners {
        acceptors.spawn(accept_loop(listener, slots.clone(), accepted_tx.clone()));
    }
    drop(accepted_tx);

    let mut sessions = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(accepted) = accepted_rx.recv() => {
                let admitted = admit(&config, &session_permits, &per_ip, accepted.peer.ip());
                match admitted {
                    Ok(guards) => {
                        let session = serve(accepted, guards, config.clone(), handler.clone(), phase_rx.clone());
                        sessions.spawn(session);
                    }
                    Err(()) => {
                        let reply = config.reply(Outcome::TooManyConnections);
                        config.events.reply_sent(reply.code);
                        sessions.spawn(refuse(accepted, reply));
                    }
                }
            }
            Some(joined) = sessions.join_next(), if !sessions.is_empty() => {
                if let Err(e) = joined {
                    error!(error = %e, "session task failed");
                }
            }
        }
    }

    info!(
        open = sessions.len(),
        "shutdown requested: no longer accepting"
    );
    acceptors.abort_all();
    accepted_rx.close();
    while accepted_rx.recv().await.is_some() {}
    let drained = tokio::time::timeout(config.shutdown_grace, join_all(&mut sessions)).await;
    if drained.is_err() {
        info!(open = sessions.len(), "grace period over: closing sessions");
        phase_tx.send_replace(Phase::Closing);
        if tokio::time::timeout(CLOSE_TIMEOUT, join_all(&mut sessions))
            .await
            .is_err()
        {
            warn!(
                open = sessions.len(),
                "aborting sessions that did not close"
            );
            sessions.abort_all();
            join_all(&mut sessions).await;
        }
    }
    info!("shutdown complete");
    Ok(())
}

async fn join_all(sessions: &mut JoinSet<()>) {
    while sessions.join_next().await.is_some() {}
}

async fn accept_loop(listener: TcpListener, slots: Arc<Semaphore>, tx: mpsc::Sender<Accepted>) {
    // One system call per connection less for a listener on a definite address.
    let local = listener
        .local_addr()
        .ok()
        .filter(|address| !address.ip().is_unspecified());
    // Every reply is written whole; Nagle's algorithm would only hold a reply back behind the
    // client's delayed ACK. Accepted sockets take TCP_NODELAY from their listener (Linux):
    // set there once, it saves a system call per connection. A connection that completed its
    // handshake before the listener had it (queued while `serve` started, or by systemd for
    // socket activation) does not carry it: until one connection shows that it carries over,
    // each is checked, and set if not (the accept queue is in order: after the first that
    // carries it, all do).
    let set_on_listener = socket2::SockRef::from(&listener)
        .set_tcp_nodelay(true)
        .is_ok();
    let mut carries_over = false;
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((stream, peer)) => {
                if !carries_over {
                    carries_over = set_on_listener && stream.nodelay().unwrap_or(false);
                }
                if !carries_over {
                    if let Err(e) = stream.set_nodelay(true) {
                        warn!(error = %e, "TCP_NODELAY not set on a client connection");
                    }
                }
                let accepted = Accepted {
                    stream,
                    peer,
                    local,
                    slot,
                };
                if tx.send(accepted).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// What a session holds while it runs; dropping it frees its place.
struct Admission {
    _session: OwnedSemaphorePermit,
    _ip: IpCount,
}

type IpCounts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// What per-client limits count as one client: an IPv4 address (also when it arrives as an
/// IPv4-mapped IPv6 address on a dual-stack listener), or the /64 of an IPv6 address.
fn client_network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
    }
}

/// One connection counted against its client network until dropped.
struct IpCount {
    counts: IpCounts,
    ip: IpAddr,
}

impl Drop for IpCount {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(n) = counts.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

fn admit(
    config: &ServerConfig,
    session_permits: &Arc<Semaphore>,
    per_ip: &IpCounts,
    ip: IpAddr,
) -> Result<Admission, ()> {
    let Ok(session) = session_permits.clone().try_acquire_owned() else {
        warn!(%ip, "connection limit hit");
        config.events.limit_hit(LimitKind::Connections);
        return Err(());
    };
    let client = client_network(ip);
    let mut counts = lock(per_ip);
    let n = counts.entry(client).or_insert(0);
    if *n >= config.limits.max_connections_per_ip {
        warn!(%ip, %client, "per-IP connection limit hit");
        config.events.limit_hit(LimitKind::ConnectionsPerIp);
        return Err(());
    }
    *n += 1;
    drop(counts);
    Ok(Admission {
        _session: session,
        _ip: IpCount {
            counts: per_ip.clone(),
            ip: client,
        },
    })
}

async fn refuse(accepted: Accepted, reply: SmtpReply) {
    let Accepted {
        mut stream, slot, ..
    } = accepted;
    let mut out = Vec::new();
    reply.write_to(&mut out);
    let _ = tokio::time::timeout(REJECT_WRITE_TIMEOUT, async {
        stream.write_all(&out).await?;
        stream.shutdown().await
    })
    .await;
    drop(slot);
}

async fn serve<H: MessageHandler>(
    accepted: Accepted,
    admission: Admission,
    config: Arc<ServerConfig>,
    handler: Arc<H>,
    phase: watch::Receiver<Phase>,
) {
    let Accepted {
        stream,
        peer,
        local,
        slot,
    } = accepted;
    let local = local
        .or_else(|| stream.local_addr().ok())
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let info = SessionInfo {
        peer,
        local,
        helo: None,
        tls: false,
        session_id: format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff),
    };
    let events = Arc::clone(&config.events);
    events.session_opened();
    let session = Session::new(info, config, handler, Connection::new(stream), phase);
    session.run().await;
    events.session_closed();
    drop(admission);
    drop(slot);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// Issue 10 §3: per-IP limits must count an IPv6 /64 as one client. (Black-box tests cannot
    /// connect from two addresses of one /64 on a machine that has only `::1`.)
    #[test]
    fn per_ip_limit_counts_an_ipv6_64_as_one_client() {
        let mut config = ServerConfig::new("mx.test");
        config.limits.max_connections_per_ip = 1;
        let permits = Arc::new(Semaphore::new(100));
        let counts: IpCounts = Arc::default();
        let first = admit(&config, &permits, &counts, ip("2001:db8:1:2::1"));
        assert!(first.is_ok());
        assert!(admit(&config, &permits, &counts, ip("2001:db8:1:2:ffff::2")).is_err());
        // Another /64, and IPv4 addresses (plain or mapped), are other clients.
        let other = admit(&config, &permits, &counts, ip("2001:db8:1:3::1"));
        assert!(other.is_ok());
        let v4 = admit(&config, &permits, &counts, ip("::ffff:192.0.2.1"));
        assert!(v4.is_ok());
        assert!(admit(&config, &permits, &counts, ip("192.0.2.1")).is_err());
        assert!(admit(&config, &permits, &counts, ip("192.0.2.2")).is_ok());
        // A freed place is freed for the whole /64.
        drop(first);
        assert!(admit(&config, &permits, &counts, ip("2001:db8:1:2::99")).is_ok());
    }

    #[test]
    fn client_networks() {
        let table = [
            ("192.0.2.1", "192.0.2.1"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("2001:db8:a:b:c:d:e:f", "2001:db8:a:b::"),
            ("::1", "::"),
        ];
        for (addr, network) in table {
            assert_eq!(client_network(ip(addr)), ip(network), "{addr}");
        }
    }
}
