//! `smtp_session`: raw client bytes through the real server (`smtp::run`, the real session state
//! machine) over loopback TCP, since `Session` owns a `TcpStream`.
//!
//! Input: one control byte (bit 0: bare line endings rejected or normalised; bits 1..: chunking
//! seed), then what the client sends. The client writes it (in chunks when the seed says so),
//! half-closes, and reads every reply until the server closes. Each input is sent twice: in one
//! write and in chunks. Invariants:
//!
//! * no panic in a session (a panicking session task would surface as missing replies and is
//!   also caught by the panic hook libFuzzer installs);
//! * every reply line is `[2-5]DD` then space or dash, printable text, CRLF; a dash line is
//!   followed by a line of the same code; the output ends with a complete reply; it starts with
//!   `220`; nothing follows a `221` or a `421`;
//! * every message given to the handler has no bare CR, bare LF or NUL, ends with CRLF unless
//!   empty and fits the size limit; there are at most as many as `354` replies;
//! * the same replies and messages whatever the packet boundaries.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use supportgate::smtp::{
    self, BareLineEndings, Envelope, MessageHandler, RcptCheck, ServerConfig, SessionInfo,
    SmtpReply,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

/// Small limits, so the fuzzer reaches them.
const MAX_MESSAGE_SIZE: usize = 4096;
const MAX_LINE_LENGTH: usize = 512;

/// Accepts recipients at `@vendor.example`; answers DATA with a reply whose text is the
/// message's first line, so that message bytes reach the reply writer.
#[derive(Default)]
struct Recorder {
    delivered: Mutex<Vec<Vec<u8>>>,
}

impl MessageHandler for Recorder {
    fn check_recipient(&self, _session: &SessionInfo, address: &str) -> RcptCheck {
        if address.ends_with("@vendor.example") {
            RcptCheck::Accept
        } else {
            RcptCheck::Reject(SmtpReply::no_such_recipient(format!(
                "No such user {address}"
            )))
        }
    }

    async fn deliver(
        &self,
        _session: &SessionInfo,
        _envelope: &Envelope,
        message: Vec<u8>,
    ) -> SmtpReply {
        let first = message.split(|&b| b == b'\n').next().unwrap_or_default();
        let text = format!("Queued {}", String::from_utf8_lossy(first));
        let reply = if first.starts_with(b"X") {
            SmtpReply::rejected(text)
        } else {
            SmtpReply::accepted(text)
        };
        self.delivered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
        reply
    }
}

/// A current-thread runtime with two servers (one per bare-line-endings mode); server tasks run
/// while the client's `block_on` does.
pub struct Harness {
    runtime: Runtime,
    servers: [(SocketAddr, Arc<Recorder>); 2],
}

impl Harness {
    pub fn new() -> Harness {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let servers = [BareLineEndings::Reject, BareLineEndings::Normalize]
            .map(|mode| runtime.block_on(start(mode)));
        Harness { runtime, servers }
    }

    /// One harness per process (the fuzz target's; the stable replay makes its own).
    #[allow(dead_code)]
    pub fn shared() -> &'static Harness {
        static HARNESS: OnceLock<Harness> = OnceLock::new();
        HARNESS.get_or_init(Harness::new)
    }

    pub fn check(&self, input: &[u8]) {
        let [control, data @ ..] = input else {
            return;
        };
        let (addr, recorder) = &self.servers[usize::from(control & 1)];
        let seed = control >> 1;
        let whole = self.session(*addr, recorder, data, 0);
        check_transcript(&whole);
        if seed != 0 && !data.is_empty() {
            let chunked = self.session(*addr, recorder, data, seed);
            check_transcript(&chunked);
            if !whole.reset && !chunked.reset {
                assert_eq!(
                    String::from_utf8_lossy(&whole.replies),
                    String::from_utf8_lossy(&chunked.replies),
                    "packet boundaries changed the replies"
                );
                assert_eq!(
                    whole.delivered, chunked.delivered,
                    "packet boundaries changed the messages"
                );
            }
        }
    }

    fn session(&self, addr: SocketAddr, recorder: &Recorder, data: &[u8], seed: u8) -> Transcript {
        let (replies, reset) = self.runtime.block_on(talk(addr, data, seed));
        let delivered =
            std::mem::take(&mut *recorder.delivered.lock().unwrap_or_else(|e| e.into_inner()));
        Transcript {
            replies,
            reset,
            delivered,
        }
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

async fn start(mode: BareLineEndings) -> (SocketAddr, Arc<Recorder>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let mut config = ServerConfig::new("mx.fuzz");
    config.bare_line_endings = mode;
    config.limits.max_message_size = MAX_MESSAGE_SIZE;
    config.limits.max_line_length = MAX_LINE_LENGTH;
    config.limits.max_recipients = 3;
    config.limits.max_errors = 10;
    config.limits.max_connections = 10_000;
    config.limits.max_connections_per_ip = 10_000;
    config.limits.timeouts.command = Duration::from_secs(10);
    config.limits.timeouts.data_block = Duration::from_secs(10);
    config.limits.timeouts.data_termination = Duration::from_secs(10);
    let recorder = Arc::new(Recorder::default());
    let handler = recorder.clone();
    tokio::spawn(async move {
        let _ = smtp::run(
            vec![listener],
            Arc::new(config),
            handler,
            std::future::pending(),
        )
        .await;
    });
    (addr, recorder)
}

struct Transcript {
    replies: Vec<u8>,
    /// The connection ended with an error (RST when the server closed with input unread).
    reset: bool,
    delivered: Vec<Vec<u8>>,
}

/// Sends `data` (in one write when `seed` is 0), half-closes, reads until the server closes.
async fn talk(addr: SocketAddr, data: &[u8], seed: u8) -> (Vec<u8>, bool) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).ok();
    let (mut rx, mut tx) = stream.into_split();
    let write = async move {
        if seed == 0 {
            let _ = tx.write_all(data).await;
        } else {
            let mut state = u32::from(seed) | 0x100;
            let mut rest = data;
            while !rest.is_empty() {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let size = (1 + state as usize % 64).min(rest.len());
                let (chunk, after) = rest.split_at(size);
                rest = after;
                if tx.write_all(chunk).await.is_err() {
                    break;
                }
                // Let the server read this chunk on its own.
                tokio::task::yield_now().await;
            }
        }
        let _ = tx.shutdown().await;
    };
    let read = async move {
        let mut replies = Vec::new();
        let reset = rx.read_to_end(&mut replies).await.is_err();
        (replies, reset)
    };
    let limit = Duration::from_secs(30);
    let ((), out) = tokio::time::timeout(limit, async { tokio::join!(write, read) })
        .await
        .expect("session did not end within 30 s");
    out
}

fn check_transcript(t: &Transcript) {
    check_replies(&t.replies, t.reset);
    let data_starts = t
        .replies
        .split(|&b| b == b'\n')
        .filter(|line| line.starts_with(b"354 "))
        .count();
    assert!(
        t.delivered.len() <= data_starts,
        "more messages than DATA commands"
    );
    for message in &t.delivered {
        assert!(message.len() <= MAX_MESSAGE_SIZE, "message over the limit");
        assert!(
            message.is_empty() || message.ends_with(b"\r\n"),
            "message does not end with CRLF"
        );
        for (i, &b) in message.iter().enumerate() {
            assert_ne!(b, 0, "NUL in a delivered message");
            if b == b'\r' {
                assert_eq!(
                    message.get(i + 1),
                    Some(&b'\n'),
                    "bare CR in a delivered message"
                );
            }
            if b == b'\n' {
                assert!(
                    i > 0 && message[i - 1] == b'\r',
                    "bare LF in a delivered message"
                );
            }
        }
    }
}

/// Reply syntax (RFC 5321 §4.2). When the connection was reset, an unfinished last line is
/// allowed (it was cut, not written that way).
pub fn check_replies(out: &[u8], reset: bool) {
    let text = String::from_utf8_lossy(out);
    let complete_len = match out.windows(2).rposition(|w| w == b"\r\n") {
        Some(i) => i + 2,
        None => 0,
    };
    if !reset {
        assert_eq!(
            complete_len,
            out.len(),
            "output ends with an unterminated line: {text:?}"
        );
        assert!(!out.is_empty(), "no greeting");
    }
    // Each piece but the last (empty, after the final LF) is a line without its LF.
    let mut lines: Vec<&[u8]> = out[..complete_len].split(|&b| b == b'\n').collect();
    lines.pop();
    let mut continued: Option<&[u8]> = None;
    let mut closed = false;
    for (n, line) in lines.iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or_else(|| {
            panic!("line {n} not ended by CRLF: {text:?}");
        });
        assert!(line.len() >= 4, "short reply line {n}: {text:?}");
        let (code, rest) = line.split_at(3);
        assert!(
            matches!(code[0], b'2'..=b'5') && code[1..].iter().all(u8::is_ascii_digit),
            "bad reply code on line {n}: {text:?}"
        );
        assert!(
            !line.iter().any(|&b| b < 0x20 || b == 0x7f),
            "control character in reply line {n}: {text:?}"
        );
        if n == 0 {
            assert_eq!(code, b"220", "first reply is not the greeting: {text:?}");
        }
        assert!(!closed, "a reply after 221 or 421: {text:?}");
        if let Some(previous) = continued {
            assert_eq!(
                previous, code,
                "multiline reply changed code on line {n}: {text:?}"
            );
        }
        match rest[0] {
            b'-' => continued = Some(code),
            b' ' => {
                continued = None;
                closed = code == b"221" || code == b"421";
            }
            _ => panic!("no space or dash after the code on line {n}: {text:?}"),
        }
    }
    if !reset {
        assert!(
            continued.is_none(),
            "output ends inside a multiline reply: {text:?}"
        );
    }
}
