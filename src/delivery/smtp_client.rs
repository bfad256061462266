//! A small SMTP client for `smtp://` relays, with PIPELINING (RFC 2920).
//!
//! lettre's connection sends `MAIL`, each `RCPT` and `DATA` one at a time, waiting for each
//! answer: four round trips and a dozen system calls per message on both sides. A relay that
//! offers PIPELINING (Postfix, Exim, Exchange and `smtp-sink` all do) gets the envelope in one
//! write and the message with its end in another, as Postfix's own client sends it. Without
//! PIPELINING, the commands go one at a time. Every refusal ends the connection before any
//! data is sent, so a recipient refused among several never leads to a half delivery.
//!
//! The message is dot-stuffed here; `BODY=8BITMIME` and `SMTPUTF8` are asked for when the
//! message or the envelope needs them, and a relay that cannot take them is a temporary
//! failure (as with lettre). Answers are bounded in size: a relay that talks without end is
//! a broken relay.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most bytes of one answer (all its lines) that are read.
const MAX_REPLY: usize = 16 * 1024;

/// One answer of the relay: its code and its lines' text, joined by spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

/// Why a transaction did not end with the relay's `250`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The relay answered this to the named step.
    Refused { step: &'static str, reply: Reply },
    /// The connection failed, or the relay's answer made no sense.
    Broken(String),
    /// The message needs an extension the relay does not offer.
    Unsupported(&'static str),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Refused { step, reply } => {
                write!(
                    f,
                    "{step}: the relay answered {} {}",
                    reply.code, reply.text
                )
            }
            ClientError::Broken(why) => f.write_str(why),
            ClientError::Unsupported(what) => write!(f, "the relay does not offer {what}"),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Extensions {
    pipelining: bool,
    eight_bit_mime: bool,
    smtp_utf8: bool,
}

/// One transaction's commands, `MAIL FROM` to `DATA`, ready to be written, and what the
/// message needs of the relay.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Every command, CRLF-ended, in order.
    commands: String,
    /// What each command is, for its answer.
    steps: Vec<&'static str>,
    eight_bit: bool,
    utf8: bool,
}

impl Envelope {
    pub fn new(mail_from: Option<&str>, recipients: &[String], message: &[u8]) -> Envelope {
        let eight_bit = !message.is_ascii();
        let utf8 = !mail_from.unwrap_or("").is_ascii() || recipients.iter().any(|r| !r.is_ascii());
        let mut commands = format!("MAIL FROM:<{}>", mail_from.unwrap_or(""));
        if eight_bit {
            commands.push_str(" BODY=8BITMIME");
        }
        if utf8 {
            commands.push_str(" SMTPUTF8");
        }
        commands.push_str("\r\n");
        let mut steps = vec!["MAIL FROM"];
        for recipient in recipients {
            commands.push_str("RCPT TO:<");
            commands.push_str(recipient);
            commands.push_str(">\r\n");
            steps.push("RCPT TO");
        }
        commands.push_str("DATA\r\n");
        steps.push("DATA");
        Envelope {
            commands,
            steps,
            eight_bit,
            utf8,
        }
    }

    /// The commands one by one, CRLF included.
    fn lines(&self) -> impl Iterator<Item = &str> {
        self.commands.split_inclusive('\n')
    }
}

/// One open connection, greeted and introduced (EHLO, or HELO when EHLO is refused).
pub struct SmtpClient {
    stream: TcpStream,
    /// Bytes read and not yet used.
    buffer: Vec<u8>,
    extensions: Extensions,
    /// Set by every failure: the connection is not used again.
    broken: bool,
}

fn broken(e: impl std::fmt::Display) -> ClientError {
    ClientError::Broken(e.to_string())
}

impl SmtpClient {
    /// Reads the greeting and introduces us as `hello`.
    pub async fn start(stream: TcpStream, hello: &str) -> Result<SmtpClient, ClientError> {
        let mut client = SmtpClient {
            stream,
            buffer: Vec::with_capacity(1024),
            extensions: Extensions::default(),
            broken: false,
        };
        client.expect("greeting").await?;
        client.write(format!("EHLO {hello}\r\n").as_bytes()).await?;
        let (ehlo, extensions) = client.reply_and_keywords().await?;
        if ehlo.code == 250 {
            client.extensions = extensions;
        } else {
            client.write(format!("HELO {hello}\r\n").as_bytes()).await?;
            client.expect("HELO").await?;
        }
        Ok(client)
    }

    /// True once a failure made this connection unusable.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// True when the relay takes commands in groups (RFC 2920).
    pub fn pipelining(&self) -> bool {
        self.extensions.pipelining
    }

    /// Whether this relay can take `envelope`'s message (8BITMIME, SMTPUTF8).
    pub fn fits(&self, envelope: &Envelope) -> Result<(), ClientError> {
        if envelope.eight_bit && !self.extensions.eight_bit_mime {
            return Err(ClientError::Unsupported("8BITMIME"));
        }
        if envelope.utf8 && !self.extensions.smtp_utf8 {
            return Err(ClientError::Unsupported("SMTPUTF8"));
        }
        Ok(())
    }

    /// Sends one message to `recipients`; `message` is CRLF-ended text, not dot-stuffed. (The
    /// pool goes through the same steps, with a rider's envelope after the message.)
    #[cfg(test)]
    pub async fn send(
        &mut self,
        mail_from: Option<&str>,
        recipients: &[String],
        message: &[u8],
    ) -> Result<(), ClientError> {
        let envelope = Envelope::new(mail_from, recipients, message);
        let result = async {
            self.fits(&envelope)?;
            self.open(&envelope).await?;
            self.write_message(message, None).await?;
            self.expect_end().await
        }
        .await;
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    /// Sends `envelope` (in one write with PIPELINING, else a command at a time) and reads
    /// its answers, up to DATA's 354. A refusal breaks the connection: with PIPELINING the
    /// DATA already sent may have been accepted, and only closing ends it without a message.
    pub async fn open(&mut self, envelope: &Envelope) -> Result<(), ClientError> {
        let result = async {
            if self.extensions.pipelining {
                self.write(envelope.commands.as_bytes()).await?;
                self.expect_envelope(envelope).await
            } else {
                for (step, command) in envelope.steps.iter().zip(envelope.lines()) {
                    self.write(command.as_bytes()).await?;
                    self.expect(step).await?;
                }
                Ok(())
            }
        }
        .await;
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    /// Reads the answers to `envelope`'s commands, already written (by [`Self::open`], or
    /// after the previous message by [`Self::write_message`]).
    pub async fn expect_envelope(&mut self, envelope: &Envelope) -> Result<(), ClientError> {
        for step in &envelope.steps {
            if let Err(e) = self.expect(step).await {
                self.broken = true;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Writes the message, dot-stuffed and ended, and `next`'s envelope in the same write:
    /// RFC 2920 lets a client send the next transaction's commands right after the end of
    /// data, before its answer. One write and one read a message instead of two of each, on
    /// both sides, while deliveries follow each other.
    pub async fn write_message(
        &mut self,
        message: &[u8],
        next: Option<&Envelope>,
    ) -> Result<(), ClientError> {
        let mut pieces: Vec<std::io::IoSlice<'_>> = stuffed_pieces(message)
            .into_iter()
            .chain(next.map(|envelope| envelope.commands.as_bytes()))
            .map(std::io::IoSlice::new)
            .collect();
        self.write_pieces(&mut pieces).await
    }

    /// The answer to the end of data. A refusal ends that transaction only: the connection
    /// stays usable (the caller may have written the next envelope already).
    pub async fn expect_end(&mut self) -> Result<(), ClientError> {
        self.expect("end of data").await
    }

    /// The answer to `step`: 220 for the greeting, 354 for DATA, 2xx for the others.
    async fn expect(&mut self, step: &'static str) -> Result<(), ClientError> {
        let reply = self.reply().await?;
        let expected = match step {
            "greeting" => reply.code == 220,
            "DATA" => reply.code == 354,
            _ => (200..300).contains(&reply.code),
        };
        if expected {
            Ok(())
        } else {
            Err(ClientError::Refused { step, reply })
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.write_pieces(&mut [std::io::IoSlice::new(bytes)]).await
    }

    /// Writes every piece, in as few system calls as the socket takes them (one, usually); a
    /// failure breaks the connection.
    async fn write_pieces(
        &mut self,
        mut pieces: &mut [std::io::IoSlice<'_>],
    ) -> Result<(), ClientError> {
        while !pieces.is_empty() {
            let written = match self.stream.write_vectored(pieces).await {
                Ok(0) => Err(broken("write to the relay: connection closed")),
                Ok(written) => Ok(written),
                Err(e) => Err(broken(format!("write to the relay: {e}"))),
            };
            let written = written.inspect_err(|_| self.broken = true)?;
            std::io::IoSlice::advance_slices(&mut pieces, written);
        }
        Ok(())
    }

    async fn reply(&mut self) -> Result<Reply, ClientError> {
        Ok(self.reply_and_keywords().await?.0)
    }

    /// Reads one whole answer (every `ddd-` line and the `ddd ` one).
    async fn reply_and_keywords(&mut self) -> Result<(Reply, Extensions), ClientError> {
        loop {
            match parse_reply(&self.buffer) {
                Parsed::Complete {
                    reply,
                    used,
                    extensions,
                } => {
                    self.buffer.drain(..used);
                    return Ok((reply, extensions));
                }
                Parsed::Invalid(why) => {
                    self.broken = true;
                    return Err(broken(format!("the relay's answer makes no sense: {why}")));
                }
                Parsed::Incomplete if self.buffer.len() >= MAX_REPLY => {
                    self.broken = true;
                    return Err(broken("the relay's answer is longer than 16 KiB"));
                }
                Parsed::Incomplete => {}
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.map_err(|e| {
                self.broken = true;
                broken(format!("read from the relay: {e}"))
            })?;
            if n == 0 {
                self.broken = true;
                return Err(broken("the relay closed the connection"));
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

enum Parsed {
    Complete {
        reply: Reply,
        used: usize,
        extensions: Extensions,
    },
    Incomplete,
    Invalid(String),
}

/// One answer from the start of `buffer`, with the EHLO keywords its lines name.
fn parse_reply(buffer: &[u8]) -> Parsed {
    let mut at = 0;
    let mut text = Vec::new();
    let mut extensions = Extensions::default();
    let mut first = true;
    while let Some(end) = memchr::memchr(b'\n', &buffer[at..]) {
        let line = &buffer[at..at + end];
        at += end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = String::from_utf8_lossy(line);
        let (code, rest) = match (line.get(..3), line.get(3..)) {
            (Some(code), Some(rest)) if code.bytes().all(|b| b.is_ascii_digit()) => (code, rest),
            _ => return Parsed::Invalid(format!("{line:?}")),
        };
        let last = !rest.starts_with('-');
        let words = rest.get(1..).unwrap_or("").trim();
        if !first {
            let keyword = words.split_whitespace().next().unwrap_or("");
            match keyword.to_ascii_uppercase().as_str() {
                "PIPELINING" => extensions.pipelining = true,
                "8BITMIME" => extensions.eight_bit_mime = true,
                "SMTPUTF8" => extensions.smtp_utf8 = true,
                _ => {}
            }
        }
        first = false;
        text.push(words.to_string());
        if last {
            let code = code.parse().unwrap_or(0);
            return Parsed::Complete {
                reply: Reply {
                    code,
                    text: text.join(" "),
                },
                used: at,
                extensions,
            };
        }
    }
    Parsed::Incomplete
}

/// The message dot-stuffed and ended (`.` CRLF, after a CRLF if it lacks one), as pieces: its
/// own bytes between the lines that start with a dot, and the dots and ending added. Nothing
/// of the message is copied.
fn stuffed_pieces(message: &[u8]) -> Vec<&[u8]> {
    let mut pieces = Vec::with_capacity(3);
    let mut from = 0;
    let dotted_lines = (message.first() == Some(&b'.'))
        .then_some(0)
        .into_iter()
        .chain(memchr::memmem::find_iter(message, b"\n.").map(|lf| lf + 1));
    for line_start in dotted_lines {
        pieces.push(&message[from..line_start]);
        pieces.push(b".".as_slice());
        from = line_start;
    }
    pieces.push(&message[from..]);
    if !message.is_empty() && !message.ends_with(b"\r\n") {
        pieces.push(b"\r\n".as_slice());
    }
    pieces.push(b".\r\n".as_slice());
    pieces.retain(|piece| !piece.is_empty());
    pieces
}

#[cfg(test)]
pub(super) mod tests;
