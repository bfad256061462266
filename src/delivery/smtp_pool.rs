//! A pool of SMTP client connections to one relay ([`super::smtp_client`], pipelined).
//!
//! The streams have `TCP_NODELAY`: with Nagle's algorithm on (lettre's pooled transport, 0.11)
//! a short last write waits for the peer's delayed ACK, ~40 ms per message on loopback
//! (measured with `bench/relay.sh`, see README).

use super::smtp_client::{ClientError, SmtpClient};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// How long an idle connection is kept (Postfix's smtpd drops idle clients after 300 s).
const IDLE_LIMIT: Duration = Duration::from_secs(60);

pub struct SmtpPool {
    host: String,
    port: u16,
    hello: String,
    timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<(SmtpClient, Instant)>>,
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
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take_idle(&self) -> Option<SmtpClient> {
        let mut idle = match self.idle.lock() {
            Ok(idle) => idle,
            Err(poisoned) => poisoned.into_inner(),
        };
        while let Some((connection, since)) = idle.pop() {
            if since.elapsed() < IDLE_LIMIT && !connection.is_broken() {
                return Some(connection);
            }
        }
        None
    }

    fn give_back(&self, connection: SmtpClient) {
        let mut idle = match self.idle.lock() {
            Ok(idle) => idle,
            Err(poisoned) => poisoned.into_inner(),
        };
        if idle.len() < self.max_idle && !connection.is_broken() {
            idle.push((connection, Instant::now()));
        }
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
    /// while idle) is replaced by a fresh one, once.
    pub async fn send(
        &self,
        mail_from: Option<&str>,
        recipients: &[String],
        message: &[u8],
    ) -> Result<(), SendError> {
        let attempt = async {
            if let Some(mut connection) = self.take_idle() {
                match connection.send(mail_from, recipients, message).await {
                    Ok(()) => {
                        self.give_back(connection);
                        return Ok(());
                    }
                    // A broken stale connection: try a fresh one below.
                    Err(ClientError::Broken(_)) => {}
                    // An SMTP answer is the relay's verdict on this message: final.
                    Err(refused) => return Err(SendError::Smtp(refused)),
                }
            }
            let mut connection = self.connect().await?;
            connection
                .send(mail_from, recipients, message)
                .await
                .map_err(|e| match e {
                    ClientError::Broken(why) => SendError::Unreachable(why),
                    refused => SendError::Smtp(refused),
                })?;
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
