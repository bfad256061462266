//! A pool of SMTP client connections to one relay ([`super::smtp_client`], pipelined).
//!
//! The streams have `TCP_NODELAY`: with Nagle's algorithm on (lettre's pooled transport, 0.11)
//! a short last write waits for the peer's delayed ACK, ~40 ms per message on loopback
//! (measured with `bench/relay.sh`, see README).

use super::smtp_client::{ClientError, Envelope, SmtpClient};
use crate::locking::lock;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// How long an idle connection is kept (Postfix's smtpd drops idle clients after 300 s).
const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// Deliveries ride on a transaction in progress only while the relay answers the end of
/// data within this (on average): a rider waits for that answer, and with a slow relay
/// (content scanning, say) connections side by side go faster.
pub const RIDE_WHEN_ANSWERED_WITHIN: Duration = Duration::from_millis(10);

pub struct SmtpPool {
    host: String,
    port: u16,
    hello: String,
    timeout: Duration,
    max_idle: usize,
    shared: Mutex<Shared>,
}

/// The pool's connections between deliveries, and the deliveries waiting to ride on one.
#[derive(Default)]
struct Shared {
    idle: Vec<(SmtpClient, Instant)>,
    /// Deliveries whose envelope a transaction in progress may write after its message.
    riders: VecDeque<Rider>,
    /// Transactions between their envelope and their message: each takes at most one rider
    /// along. There are never more riders than these.
    pickups: usize,
    /// How long the relay takes to answer the end of data (moving average, microseconds).
    answer_micros: u64,
}

/// A delivery waiting for a connection: its envelope, and where the connection goes.
struct Rider {
    envelope: Arc<Envelope>,
    handoff: oneshot::Sender<Handoff>,
}

/// What a waiting delivery is handed.
enum Handoff {
    /// Its envelope was written after the previous message: read its answers next.
    Pipelined(SmtpClient),
    /// A connection between transactions.
    Free(SmtpClient),
    /// The transaction it waited on ended without taking it along: find a connection.
    GoAhead,
}

/// How a delivery got its connection.
enum Got {
    /// Its envelope is written already.
    Pipelined(SmtpClient),
    /// Kept open from an earlier delivery (may have died meanwhile).
    Reused(SmtpClient),
    Fresh(SmtpClient),
}

/// Counts a transaction as a pickup while it lives; when it goes without taking a rider,
/// a rider too many is told to go ahead on its own.
struct Pickup<'a> {
    pool: &'a SmtpPool,
    armed: bool,
}

impl Drop for Pickup<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut shared = self.pool.lock();
            shared.pickups -= 1;
            while shared.riders.len() > shared.pickups {
                if let Some(rider) = shared.riders.pop_back() {
                    let _ = rider.handoff.send(Handoff::GoAhead);
                }
            }
        }
    }
}

/// Why one attempt failed.
pub enum SendError {
    /// The relay refused the message (or cannot take it).
    Smtp(ClientError),
    /// No answer in time or no connection.
    Unreachable(String),
}

impl SmtpPool {
    pub fn new(
        host: &str,
        port: u16,
        hostname: &str,
        timeout: Duration,
        max_idle: usize,
    ) -> SmtpPool {
        SmtpPool {
            host: host.to_string(),
            port,
            hello: hostname.to_string(),
            timeout,
            max_idle,
            shared: Mutex::new(Shared::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    /// An idle connection, else a place among the riders of a transaction in progress,
    /// else a new connection.
    async fn acquire(&self, envelope: &Arc<Envelope>) -> Result<Got, SendError> {
        let mut may_ride = true;
        loop {
            let waiting = {
                let mut shared = self.lock();
                let relay_is_quick =
                    shared.answer_micros < RIDE_WHEN_ANSWERED_WITHIN.as_micros() as u64;
                if !may_ride || !relay_is_quick || shared.pickups <= shared.riders.len() {
                    let mut reused = None;
                    while let Some((connection, since)) = shared.idle.pop() {
                        if since.elapsed() < IDLE_LIMIT && !connection.is_broken() {
                            reused = Some(connection);
                            break;
                        }
                    }
                    if let Some(connection) = reused {
                        return Ok(Got::Reused(connection));
                    }
                    None
                } else {
                    let (handoff, handed) = oneshot::channel();
                    shared.riders.push_back(Rider {
                        envelope: Arc::clone(envelope),
                        handoff,
                    });
                    Some(handed)
                }
            };
            let Some(handed) = waiting else {
                return self.connect().await.map(Got::Fresh);
            };
            match handed.await {
                Ok(Handoff::Pipelined(connection)) => return Ok(Got::Pipelined(connection)),
                Ok(Handoff::Free(connection)) => return Ok(Got::Reused(connection)),
                // Its transaction failed before it could take us along: once more, without
                // waiting again.
                Ok(Handoff::GoAhead) | Err(_) => may_ride = false,
            }
        }
    }

    /// A connection between transactions goes to the first rider still waiting, else idle.
    fn give_back(&self, connection: SmtpClient) {
        if connection.is_broken() {
            return;
        }
        let mut shared = self.lock();
        let mut connection = connection;
        while let Some(rider) = shared.riders.pop_front() {
            match rider.handoff.send(Handoff::Free(connection)) {
                Ok(()) => return,
                Err(Handoff::Free(back)) => connection = back,
                Err(_) => return,
            }
        }
        if shared.idle.len() < self.max_idle {
            shared.idle.push((connection, Instant::now()));
        }
    }

    /// The first rider still waiting whose message this connection can take; the pickup is
    /// then used up (in the same lock: no rider comes for a pickup that is gone).
    fn take_rider(&self, connection: &SmtpClient, pickup: &mut Pickup<'_>) -> Option<Rider> {
        if !pickup.armed {
            return None;
        }
        let mut shared = self.lock();
        let at = shared
            .riders
            .iter()
            .position(|r| !r.handoff.is_closed() && connection.fits(&r.envelope).is_ok())?;
        let rider = shared.riders.remove(at)?;
        shared.pickups -= 1;
        pickup.armed = false;
        Some(rider)
    }

    async fn connect(&self) -> Result<SmtpClient, SendError> {
        let address = (self.host.as_str(), self.port);
        let stream = TcpStream::connect(address).await.map_err(|e| {
            SendError::Unreachable(format!("connect to {}:{}: {e}", self.host, self.port))
        })?;
        stream
            .set_nodelay(true)
            .map_err(|e| SendError::Unreachable(format!("TCP_NODELAY: {e}")))?;
        SmtpClient::start(stream, &self.hello)
            .await
            .map_err(|e| match e {
                ClientError::Broken(why) => SendError::Unreachable(why),
                refused => SendError::Smtp(refused),
            })
    }

    /// Sends one message. A reused connection that turns out to be dead (the relay closed it
    /// while idle) is replaced by a fresh one, once. While one transaction is between its
    /// envelope and its message, the next delivery waits to have its envelope written right
    /// after that message ([`SmtpClient::write_message`]) instead of opening a connection.
    pub async fn send(
        &self,
        mail_from: Option<&str>,
        recipients: &[String],
        message: &[u8],
    ) -> Result<(), SendError> {
        let envelope = Arc::new(Envelope::new(mail_from, recipients, message));
        let unreachable = |e: ClientError| match e {
            ClientError::Broken(why) => SendError::Unreachable(why),
            refused => SendError::Smtp(refused),
        };
        let attempt = async {
            let mut pickup = Pickup {
                pool: self,
                armed: false,
            };
            let mut connection = match self.acquire(&envelope).await? {
                Got::Pipelined(mut connection) => {
                    self.arm(&mut pickup, &connection);
                    connection
                        .expect_envelope(&envelope)
                        .await
                        .map_err(unreachable)?;
                    connection
                }
                Got::Reused(connection) => {
                    match self.open_on(connection, &envelope, &mut pickup).await {
                        Ok(connection) => connection,
                        // A broken stale connection: a fresh one.
                        Err(ClientError::Broken(_)) => {
                            let fresh = self.connect().await?;
                            self.open_on(fresh, &envelope, &mut pickup)
                                .await
                                .map_err(unreachable)?
                        }
                        // An SMTP answer is the relay's verdict on this message: final.
                        Err(refused) => return Err(SendError::Smtp(refused)),
                    }
                }
                Got::Fresh(connection) => self
                    .open_on(connection, &envelope, &mut pickup)
                    .await
                    .map_err(unreachable)?,
            };
            let rider = self.take_rider(&connection, &mut pickup);
            drop(pickup);
            let started = Instant::now();
            connection
                .write_message(message, rider.as_ref().map(|r| &*r.envelope))
                .await
                .map_err(unreachable)?;
            let end = connection.expect_end().await;
            self.note_answer_time(started.elapsed());
            match rider {
                // Dead, or the rider gone meanwhile: the connection closes in the middle of
                // the rider's DATA, and the relay keeps nothing of it.
                Some(rider) if !connection.is_broken() => {
                    let _ = rider.handoff.send(Handoff::Pipelined(connection));
                }
                Some(_) => {}
                None if end.is_ok() => self.give_back(connection),
                // Refused: not used again (as before riders).
                None => {}
            }
            end.map_err(unreachable)
        };
        tokio::time::timeout(self.timeout, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(SendError::Unreachable(format!(
                    "no answer from {}:{} within {:?}",
                    self.host, self.port, self.timeout
                )))
            })
    }

    /// Folds one end-of-data answer time into the moving average (an eighth each).
    fn note_answer_time(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let mut shared = self.lock();
        shared.answer_micros =
            (shared.answer_micros.saturating_mul(7) / 8).saturating_add(micros / 8);
    }

    /// Starts `envelope`'s transaction on `connection` (which must be able to take the
    /// message), counted as a pickup from then on.
    async fn open_on(
        &self,
        mut connection: SmtpClient,
        envelope: &Envelope,
        pickup: &mut Pickup<'_>,
    ) -> Result<SmtpClient, ClientError> {
        connection.fits(envelope)?;
        self.arm(pickup, &connection);
        connection.open(envelope).await?;
        Ok(connection)
    }

    /// Counts `pickup`'s transaction among those that may take a rider along (with a relay
    /// that pipelines: without, a rider would wait a whole transaction for its connection),
    /// once.
    fn arm(&self, pickup: &mut Pickup<'_>, connection: &SmtpClient) {
        if !pickup.armed && connection.pipelining() {
            self.lock().pickups += 1;
            pickup.armed = true;
        }
    }
}

#[cfg(test)]
mod tests;
