//! A pool of SMTP client connections to one relay, built on lettre's `AsyncSmtpConnection`.
//!
//! lettre's own pooled transport (0.11) leaves Nagle's algorithm on: the 5-byte end-of-data
//! write then waits for the peer's delayed ACK, ~40 ms per message on loopback (measured with
//! `bench/relay.sh`, see README). We open the TCP stream ourselves with `TCP_NODELAY` and hand
//! it to lettre, which still speaks the protocol.

use lettre::address::Envelope;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// How long an idle connection is kept (Postfix's smtpd drops idle clients after 300 s).
const IDLE_LIMIT: Duration = Duration::from_secs(60);

pub struct SmtpPool {
    host: String,
    port: u16,
    hello: ClientId,
    timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

/// Why one attempt failed.
pub enum SendError {
    /// The relay answered with this error (or a client-side check failed).
    Smtp(lettre::transport::smtp::Error),
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
            hello: ClientId::Domain(hostname.to_string()),
            timeout,
            max_idle,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = match self.idle.lock() {
            Ok(idle) => idle,
            Err(poisoned) => poisoned.into_inner(),
        };
        while let Some((connection, since)) = idle.pop() {
            if since.elapsed() < IDLE_LIMIT && !connection.has_broken() {
                return Some(connection);
            }
        }
        None
    }

    fn give_back(&self, connection: AsyncSmtpConnection) {
        let mut idle = match self.idle.lock() {
            Ok(idle) => idle,
            Err(poisoned) => poisoned.into_inner(),
        };
        if idle.len() < self.max_idle && !connection.has_broken() {
            idle.push((connection, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let address = (self.host.as_str(), self.port);
        let stream = TcpStream::connect(address).await.map_err(|e| {
            SendError::Unreachable(format!("connect to {}:{}: {e}", self.host, self.port))
        })?;
        stream
            .set_nodelay(true)
            .map_err(|e| SendError::Unreachable(format!("TCP_NODELAY: {e}")))?;
        AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
            .await
            .map_err(SendError::Smtp)
    }

    /// Sends one message. A reused connection that turns out to be dead (the relay closed it
    /// while idle) is replaced by a fresh one, once.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        // lettre writes `CRLF . CRLF` after the data: without this, every message would gain
        // an empty last line.
        let message = message.strip_suffix(b"\r\n").unwrap_or(message);
        let attempt = async {
            if let Some(mut connection) = self.take_idle() {
                match connection.send(envelope, message).await {
                    Ok(_) => {
                        self.give_back(connection);
                        return Ok(());
                    }
                    // An SMTP answer is the relay's verdict on this message: final.
                    Err(e) if e.is_transient() || e.is_permanent() => {
                        return Err(SendError::Smtp(e))
                    }
                    // A broken stale connection: try a fresh one below.
                    Err(_) => {}
                }
            }
            let mut connection = self.connect().await?;
            connection
                .send(envelope, message)
                .await
                .map_err(SendError::Smtp)?;
            self.give_back(connection);
            Ok(())
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
}
