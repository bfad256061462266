//! A small upstream SMTP server for the `smtp://` ticket queue and reply transport: raw TCP on
//! loopback, speaks just enough SMTP (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), records
//! what it was given and answers the end of DATA as configured.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The answer to the end of DATA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Accept,
    /// `451 4.3.0` — try again later.
    TempFail,
    /// `550 5.7.1` — refused for good.
    PermFail,
    /// The connection is dropped in the middle of DATA, without an answer.
    DropInData,
}

/// One message as the sink received it (the DATA un-dot-stuffed).
#[derive(Clone, Debug, Default)]
pub struct Received {
    /// The MAIL FROM argument as written, e.g. `<>` or `<a@b>`, with any parameters.
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: String,
    /// Whether we answered 250 to it.
    pub accepted: bool,
}

pub struct Sink {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Sink {
    pub fn start(answer: Answer) -> Sink {
        Sink::start_on(0, answer)
    }

    /// On a given loopback port (0: any), e.g. an upstream that was down and comes back.
    pub fn start_on(port: u16, answer: Answer) -> Sink {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // SO_REUSEADDR: a sink that comes back on the port of one that just went away must not
        // wait for the old connections' TIME_WAIT.
        // The previous sink's listener may take a moment to close after its runtime is dropped:
        // try again for a bounded while.
        let bind = || -> std::io::Result<tokio::net::TcpListener> {
            runtime.block_on(async {
                let socket = tokio::net::TcpSocket::new_v4()?;
                socket.set_reuseaddr(true)?;
                socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], port)))?;
                socket.listen(128)
            })
        };
        let mut attempt = bind();
        for _ in 0..50 {
            match &attempt {
                Err(e) if port != 0 && e.kind() == std::io::ErrorKind::AddrInUse => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    attempt = bind();
                }
                _ => break,
            }
        }
        let listener = attempt.expect("bind sink");
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, answer, Arc::clone(&log)));
            }
        });
        Sink {
            port,
            received,
            runtime: Some(runtime),
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (bounded) until at least `n` messages arrived; returns them all.
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        super::poll(|| {
            let r = self.received();
            (r.len() >= n).then_some(r)
        })
        .unwrap_or_else(|| panic!("sink: expected {n} message(s), got {:?}", self.received()))
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A loopback port with nothing listening on it: an upstream that is down.
pub fn closed_port() -> u16 {
    super::free_port()
}

async fn session(stream: tokio::net::TcpStream, answer: Answer, log: Arc<Mutex<Vec<Received>>>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut current = Received::default();
    if write.write_all(b"220 sink.test ESMTP\r\n").await.is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match tokio::time::timeout(super::WAIT * 6, reader.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return,
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 2.0.0 ok\r\n"
        } else if upper.starts_with("RSET") {
            current = Received::default();
            b"250 2.0.0 ok\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            current = Received {
                mail_from: line["MAIL FROM:".len()..].trim().to_string(),
                ..Received::default()
            };
            b"250 2.1.0 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            current
                .rcpt_to
                .push(line["RCPT TO:".len()..].trim().to_string());
            b"250 2.1.5 ok\r\n"
        } else if upper.starts_with("DATA") {
            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                return;
            }
            let mut data = String::new();
            loop {
                let mut l = String::new();
                match tokio::time::timeout(super::WAIT * 6, reader.read_line(&mut l)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => return,
                }
                if answer == Answer::DropInData {
                    return;
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            let mut received = std::mem::take(&mut current);
            received.data = data;
            received.accepted = answer == Answer::Accept;
            log.lock().unwrap().push(received);
            match answer {
                Answer::Accept => b"250 2.0.0 queued by sink\r\n",
                Answer::TempFail => b"451 4.3.0 sink: try again later\r\n",
                Answer::PermFail => b"550 5.7.1 sink: refused\r\n",
                Answer::DropInData => return,
            }
        } else if upper.starts_with("QUIT") {
            let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
            return;
        } else {
            b"502 5.5.1 not implemented\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
