//! Shared by the `smtp_*` integration tests: a recording handler, a server on loopback and a
//! raw SMTP client with bounded waits.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use supportgate::smtp::{
    self, Envelope, LimitKind, MessageHandler, RcptCheck, ServerConfig, SessionEvents, SessionInfo,
    SmtpReply,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Upper bound for any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(5);

/// Accepts recipients ending in `@vendor.example`, records what it is given, answers 250.
#[derive(Default)]
pub struct RecordingHandler {
    pub delivered: Mutex<Vec<(SessionInfo, Envelope, Vec<u8>)>>,
}

impl RecordingHandler {
    pub fn messages(&self) -> Vec<(SessionInfo, Envelope, Vec<u8>)> {
        self.delivered.lock().unwrap().clone()
    }
}

impl MessageHandler for RecordingHandler {
    fn check_recipient(&self, _session: &SessionInfo, address: &str) -> RcptCheck {
        if address.ends_with("@vendor.example") {
            RcptCheck::Accept
        } else {
            RcptCheck::Reject(SmtpReply::no_such_recipient("No such recipient"))
        }
    }

    async fn deliver(
        &self,
        session: &SessionInfo,
        envelope: &Envelope,
        message: Vec<u8>,
    ) -> SmtpReply {
        self.delivered
            .lock()
            .unwrap()
            .push((session.clone(), envelope.clone(), message));
        SmtpReply::accepted("Queued")
    }
}

/// Counts what the server reports, so a test can see a session end that its client cannot
/// observe (a client that does not read).
#[derive(Debug, Default)]
pub struct CountingEvents {
    closed: Mutex<usize>,
    limits: Mutex<Vec<&'static str>>,
}

impl CountingEvents {
    pub fn closed(&self) -> usize {
        *self.closed.lock().unwrap()
    }

    /// The limits hit so far, by `LimitKind::as_str`.
    pub fn limits(&self) -> Vec<&'static str> {
        self.limits.lock().unwrap().clone()
    }

    /// True once `n` sessions have closed, within `within`.
    pub async fn wait_closed(&self, n: usize, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if self.closed() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.closed() >= n
    }
}

impl SessionEvents for CountingEvents {
    fn session_closed(&self) {
        *self.closed.lock().unwrap() += 1;
    }

    fn limit_hit(&self, kind: LimitKind) {
        self.limits.lock().unwrap().push(kind.as_str());
    }
}

pub struct TestServer {
    pub addrs: Vec<std::net::SocketAddr>,
    pub handler: Arc<RecordingHandler>,
    shutdown: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addrs[0]
    }

    /// Resolves `shutdown`; the server task then drains and returns.
    pub fn request_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn test_config() -> ServerConfig {
    let mut config = ServerConfig::new("mx.test");
    config.shutdown_grace = Duration::from_secs(2);
    config
}

pub async fn start(config: ServerConfig) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    start_on(vec![listener], config).await
}

pub async fn start_on(listeners: Vec<TcpListener>, config: ServerConfig) -> TestServer {
    let addrs = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    let handler = Arc::new(RecordingHandler::default());
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(smtp::run(
        listeners,
        Arc::new(config),
        handler.clone(),
        async move {
            let _ = rx.await;
        },
    ));
    TestServer {
        addrs,
        handler,
        shutdown: Some(tx),
        task,
    }
}

/// A raw SMTP client over any stream.
pub struct Client<S> {
    pub stream: BufReader<S>,
}

impl Client<TcpStream> {
    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect timeout")
            .expect("connect");
        Client {
            stream: BufReader::new(stream),
        }
    }

    /// Connects and reads the greeting.
    pub async fn greeted(addr: std::net::SocketAddr) -> Self {
        let mut client = Self::connect(addr).await;
        let greeting = client.reply().await;
        assert!(greeting.starts_with("220 "), "{greeting}");
        client
    }

    pub fn into_inner(self) -> TcpStream {
        self.stream.into_inner()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub fn new(stream: S) -> Self {
        Client {
            stream: BufReader::new(stream),
        }
    }

    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        let s = self.stream.get_mut();
        s.write_all(bytes.as_ref()).await.expect("write");
        s.flush().await.expect("flush");
    }

    /// Reads one (possibly multiline) reply; all its lines joined with `\n`.
    /// Returns an empty string if the server closed the connection.
    pub async fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        for _ in 0..100 {
            let mut line = String::new();
            let n = tokio::time::timeout(WAIT, self.stream.read_line(&mut line))
                .await
                .expect("reply timeout")
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            let line = line.trim_end().to_string();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                break;
            }
        }
        lines.join("\n")
    }

    /// Sends one command line and returns its reply.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n")).await;
        self.reply().await
    }

    /// Sends, and asserts the reply starts with `expected` (code and enhanced code).
    pub async fn expect(&mut self, line: &str, expected: &str) -> String {
        let reply = self.cmd(line).await;
        assert!(
            reply.starts_with(expected),
            "{line:?} -> {reply:?}, expected {expected:?}"
        );
        reply
    }

    /// EHLO, one sender, `support@vendor.example`, DATA: ready for the message (`354`).
    pub async fn open_data(&mut self) {
        self.cmd("EHLO client.example").await;
        self.expect("MAIL FROM:<a@example.org>", "250").await;
        self.expect("RCPT TO:<support@vendor.example>", "250").await;
        self.expect("DATA", "354").await;
    }

    /// True if the server closed the connection (EOF) within [`WAIT`].
    pub async fn closed(&mut self) -> bool {
        let mut rest = String::new();
        matches!(
            tokio::time::timeout(WAIT, self.stream.read_line(&mut rest)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// EHLO, MAIL, RCPT, DATA with `body` (already terminated), returning the final reply.
pub async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut Client<S>,
    body: &[u8],
) -> String {
    client
        .expect("MAIL FROM:<sender@example.org>", "250 2.1.0")
        .await;
    client
        .expect("RCPT TO:<support@vendor.example>", "250 2.1.5")
        .await;
    client.expect("DATA", "354").await;
    client.send(body).await;
    client.reply().await
}
