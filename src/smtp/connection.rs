//! The socket side of a session: plain or TLS stream, bounded input buffer, reply buffer.
//!
//! Replies are queued and written when the session is about to wait for input, which is what
//! PIPELINING (RFC 2920) asks for: a batch of commands gets its replies in one write.
//! Every write has a deadline, so a client that never reads cannot hold its session.

use std::io;
use std::sync::Arc;

use bytes::BufMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;

use super::reply::SmtpReply;

/// Largest single read; the input buffer never grows by more than this past a limit check.
/// A message of ordinary size (10 KB) arrives in one read.
const READ_CHUNK: usize = 16 * 1024;

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only seen if a handshake failed; every operation then fails.
    Broken,
}

pub(crate) struct Connection {
    stream: Stream,
    /// Received bytes not yet consumed by the session.
    pub(crate) input: Vec<u8>,
    output: Vec<u8>,
}

impl Connection {
    pub(crate) fn new(stream: TcpStream) -> Self {
        Self {
            stream: Stream::Plain(stream),
            input: Vec::new(),
            output: Vec::new(),
        }
    }

    pub(crate) fn queue(&mut self, reply: &SmtpReply) {
        reply.write_to(&mut self.output);
    }

    pub(crate) fn queue_raw(&mut self, bytes: &[u8]) {
        self.output.extend_from_slice(bytes);
    }

    /// Reads once (at most [`READ_CHUNK`] bytes) and appends to `input`; 0 means EOF. The
    /// bytes land in `input` directly (no copy through a buffer of our own).
    pub(crate) async fn read_more(&mut self) -> io::Result<usize> {
        self.input.reserve(READ_CHUNK);
        let mut room = (&mut self.input).limit(READ_CHUNK);
        match &mut self.stream {
            Stream::Plain(s) => s.read_buf(&mut room).await,
            Stream::Tls(s) => s.read_buf(&mut room).await,
            Stream::Broken => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Writes queued replies, failing with `TimedOut` if the client has not taken them by
    /// `deadline`.
    pub(crate) async fn flush_by(&mut self, deadline: Instant) -> io::Result<()> {
        match tokio::time::timeout_at(deadline, self.flush()).await {
            Ok(written) => written,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// Drops replies that could not be written (the client does not read them).
    pub(crate) fn discard_output(&mut self) {
        self.output.clear();
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        match &mut self.stream {
            Stream::Plain(s) => s.write_all(&self.output).await?,
            Stream::Tls(s) => {
                s.write_all(&self.output).await?;
                s.flush().await?;
            }
            Stream::Broken => return Err(io::ErrorKind::NotConnected.into()),
        }
        self.output.clear();
        Ok(())
    }

    /// Closes the stream (TLS: close_notify first), giving up at `deadline`. A plain stream
    /// needs nothing before it is dropped: closing the socket sends the FIN after what is
    /// queued, as `shutdown` would (one system call a session less; the client has usually
    /// closed first after `221`, and `shutdown` then failed with ENOTCONN).
    pub(crate) async fn shutdown_by(&mut self, deadline: Instant) {
        let close = async {
            match &mut self.stream {
                Stream::Plain(_) | Stream::Broken => Ok(()),
                Stream::Tls(s) => s.shutdown().await,
            }
        };
        let _ = tokio::time::timeout_at(deadline, close).await;
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Flushes queued replies (the `220` to STARTTLS), drops any input pipelined after
    /// STARTTLS (RFC 3207 §4.2: it must not be honoured) and performs the handshake.
    /// Returns how many plaintext bytes were discarded. The caller bounds it in time.
    pub(crate) async fn start_tls(
        &mut self,
        config: Arc<rustls::ServerConfig>,
    ) -> io::Result<usize> {
        let discarded = self.input.len();
        self.input.clear();
        self.flush().await?;
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Broken) else {
            return Err(io::ErrorKind::InvalidInput.into());
        };
        let tls = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await?;
        self.stream = Stream::Tls(Box::new(tls));
        Ok(discarded)
    }
}
