//! The milter wire format (Sendmail's libmilter protocol, version 6, as Postfix speaks it),
//! sans IO: [`FrameDecoder`] turns bytes into [`Command`]s, [`Response::encode`] writes the
//! answers. A frame is a 4-byte big-endian length, then that many bytes: a command byte and
//! its data. Every length is bounded ([`FrameDecoder::new`]); a malformed frame is an
//! [`CodecError`], never a panic.

use thiserror::Error;

/// The protocol version we speak (Postfix ≥ 2.6 offers 6).
pub const VERSION: u32 = 6;

/// `SMFIF_*`: the message modifications we may ask for.
pub mod actions {
    pub const ADD_HEADERS: u32 = 0x01;
    pub const DELETE_RECIPIENTS: u32 = 0x08;
    pub const CHANGE_HEADERS: u32 = 0x10;
}

/// `SMFIP_*`: steps the MTA may skip, and replies it need not wait for.
pub mod protocol {
    pub const NO_UNKNOWN: u32 = 0x100;
    pub const NO_DATA: u32 = 0x200;
    pub const NO_REPLY_CONNECT: u32 = 0x1000;
    pub const NO_REPLY_HELO: u32 = 0x2000;
    pub const NO_REPLY_MAIL: u32 = 0x4000;
    pub const NO_REPLY_RCPT: u32 = 0x8000;
    pub const NO_REPLY_HEADER: u32 = 0x80;
    pub const NO_REPLY_BODY: u32 = 0x80000;
    /// Header values keep their leading white space, so the message is rebuilt byte for byte
    /// (DKIM verifies it).
    pub const HEADER_LEADING_SPACE: u32 = 0x100000;
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("frame of {0} bytes is over the limit")]
    FrameTooLarge(usize),
    #[error("empty frame")]
    EmptyFrame,
    #[error("command {0:?}: malformed data")]
    Malformed(char),
    #[error("unknown command byte 0x{0:02x}")]
    UnknownCommand(u8),
}

/// How the client reached the MTA (`SMFIC_CONNECT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAddress {
    Inet(std::net::SocketAddr),
    /// A Unix socket, or an address the MTA does not know.
    Unknown,
}

/// One command from the MTA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `O`: version, offered actions, offered protocol steps.
    Negotiate {
        version: u32,
        actions: u32,
        protocol: u32,
    },
    /// `D`: macros for the command `stage` that follows.
    Macros {
        stage: u8,
        pairs: Vec<(String, String)>,
    },
    /// `C`
    Connect {
        hostname: String,
        address: ClientAddress,
    },
    /// `H`
    Helo(String),
    /// `M`: the reverse-path (with its angle brackets) and ESMTP arguments.
    Mail(Vec<String>),
    /// `R`
    Recipient(Vec<String>),
    /// `T`
    Data,
    /// `L`
    Header { name: String, value: String },
    /// `N`
    EndOfHeaders,
    /// `B`
    Body(Vec<u8>),
    /// `E`: end of message (data, if any, is a last body chunk).
    EndOfMessage(Vec<u8>),
    /// `A`: the message is abandoned; the connection stays.
    Abort,
    /// `Q`
    Quit,
    /// `K`: this SMTP session is over, the next one uses the same connection.
    QuitNewConnection,
    /// `U`
    Unknown(Vec<u8>),
}

/// Accumulates bytes and yields whole commands.
#[derive(Debug)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
    max_frame: usize,
}

impl FrameDecoder {
    /// `max_frame`: the largest frame accepted (a body chunk is at most 64 KiB).
    pub fn new(max_frame: usize) -> FrameDecoder {
        FrameDecoder {
            buffer: Vec::new(),
            max_frame,
        }
    }

    pub fn extend(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole command, `Ok(None)` if more bytes are needed. After an error the
    /// connection must be closed: the stream is out of step.
    pub fn next_command(&mut self) -> Result<Option<Command>, CodecError> {
        let Some(length) = self.buffer.get(..4) else {
            return Ok(None);
        };
        let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
        if length == 0 {
            return Err(CodecError::EmptyFrame);
        }
        if length > self.max_frame {
            return Err(CodecError::FrameTooLarge(length));
        }
        if self.buffer.len() < 4 + length {
            return Ok(None);
        }
        let frame: Vec<u8> = self.buffer.drain(..4 + length).skip(4).collect();
        parse_command(frame[0], &frame[1..]).map(Some)
    }

    /// Bytes received and not yet part of a command.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }
}

fn parse_command(code: u8, data: &[u8]) -> Result<Command, CodecError> {
    let malformed = || CodecError::Malformed(code as char);
    Ok(match code {
        b'O' => {
            let word = |i: usize| {
                data.get(i * 4..i * 4 + 4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    .ok_or_else(malformed)
            };
            Command::Negotiate {
                version: word(0)?,
                actions: word(1)?,
                protocol: word(2)?,
            }
        }
        b'D' => {
            let (&stage, rest) = data.split_first().ok_or_else(malformed)?;
            let strings = strings(rest).ok_or_else(malformed)?;
            let mut pairs = Vec::with_capacity(strings.len() / 2);
            let mut iter = strings.into_iter();
            while let Some(name) = iter.next() {
                // Postfix sends a name without a value for a macro it has no value for.
                pairs.push((name, iter.next().unwrap_or_default()));
            }
            Command::Macros { stage, pairs }
        }
        b'C' => parse_connect(data).ok_or_else(malformed)?,
        b'H' => Command::Helo(first_string(data).ok_or_else(malformed)?),
        b'M' => Command::Mail(nonempty_strings(data).ok_or_else(malformed)?),
        b'R' => Command::Recipient(nonempty_strings(data).ok_or_else(malformed)?),
        b'T' => Command::Data,
        b'L' => {
            let strings = strings(data).ok_or_else(malformed)?;
            match <[String; 2]>::try_from(strings) {
                Ok([name, value]) => Command::Header { name, value },
                Err(_) => return Err(malformed()),
            }
        }
        b'N' => Command::EndOfHeaders,
        b'B' => Command::Body(data.to_vec()),
        b'E' => Command::EndOfMessage(data.to_vec()),
        b'A' => Command::Abort,
        b'Q' => Command::Quit,
        b'K' => Command::QuitNewConnection,
        b'U' => Command::Unknown(data.to_vec()),
        other => return Err(CodecError::UnknownCommand(other)),
    })
}

/// `hostname\0 family [port address\0]`: family `4` or `6` with a port and an address, `L`
/// (a Unix socket path) or `U` (unknown).
fn parse_connect(data: &[u8]) -> Option<Command> {
    let end = data.iter().position(|&b| b == 0)?;
    let hostname = lossy(&data[..end]);
    let rest = &data[end + 1..];
    let (&family, rest) = rest.split_first()?;
    let address = match family {
        b'4' | b'6' => {
            let port = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]);
            let text = first_string(&rest[2..])?;
            // Postfix writes IPv6 addresses as `IPv6:2001:db8::1` in some versions.
            let text = text.strip_prefix("IPv6:").unwrap_or(&text);
            match text.parse::<std::net::IpAddr>() {
                Ok(ip) => ClientAddress::Inet(std::net::SocketAddr::new(ip, port)),
                Err(_) => ClientAddress::Unknown,
            }
        }
        _ => ClientAddress::Unknown,
    };
    Some(Command::Connect { hostname, address })
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// NUL-terminated strings filling `data` exactly; `None` if the last is not terminated.
fn strings(data: &[u8]) -> Option<Vec<String>> {
    if data.is_empty() {
        return Some(Vec::new());
    }
    if data.last() != Some(&0) {
        return None;
    }
    Some(
        data[..data.len() - 1]
            .split(|&b| b == 0)
            .map(lossy)
            .collect(),
    )
}

fn nonempty_strings(data: &[u8]) -> Option<Vec<String>> {
    strings(data).filter(|s| !s.is_empty())
}

fn first_string(data: &[u8]) -> Option<String> {
    let end = data.iter().position(|&b| b == 0)?;
    Some(lossy(&data[..end]))
}

/// One answer to the MTA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `O`: what we speak, the actions we need, the steps to skip.
    Negotiate {
        version: u32,
        actions: u32,
        protocol: u32,
    },
    /// `c`
    Continue,
    /// `a`: accept the message; no more commands for it.
    Accept,
    /// `d`: accept and discard (for every recipient).
    Discard,
    /// `t`
    TempFail,
    /// `y`: an SMTP reply (`550 5.7.1 text`): 4xx is a temporary failure, 5xx a refusal.
    ReplyCode(String),
    /// `i`: insert a header field at `index` (0: on top).
    InsertHeader {
        index: u32,
        name: String,
        value: String,
    },
    /// `m`: change the `index`th (from 1) field called `name`; an empty value removes it.
    ChangeHeader {
        index: u32,
        name: String,
        value: String,
    },
    /// `-`
    DeleteRecipient(String),
}

impl Response {
    /// Appends the frame to `out`. Strings lose any NUL (it would end them early).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut data = Vec::new();
        let code = match self {
            Response::Negotiate {
                version,
                actions,
                protocol,
            } => {
                for word in [version, actions, protocol] {
                    data.extend_from_slice(&word.to_be_bytes());
                }
                b'O'
            }
            Response::Continue => b'c',
            Response::Accept => b'a',
            Response::Discard => b'd',
            Response::TempFail => b't',
            Response::ReplyCode(text) => {
                push_string(&mut data, text);
                b'y'
            }
            Response::InsertHeader { index, name, value } => {
                data.extend_from_slice(&index.to_be_bytes());
                push_string(&mut data, name);
                push_string(&mut data, value);
                b'i'
            }
            Response::ChangeHeader { index, name, value } => {
                data.extend_from_slice(&index.to_be_bytes());
                push_string(&mut data, name);
                push_string(&mut data, value);
                b'm'
            }
            Response::DeleteRecipient(rcpt) => {
                push_string(&mut data, rcpt);
                b'-'
            }
        };
        let length = u32::try_from(data.len() + 1).unwrap_or(u32::MAX);
        out.extend_from_slice(&length.to_be_bytes());
        out.push(code);
        out.extend_from_slice(&data);
    }
}

fn push_string(data: &mut Vec<u8>, text: &str) {
    data.extend(text.bytes().filter(|&b| b != 0));
    data.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(code: u8, data: &[u8]) -> Vec<u8> {
        let mut out = ((data.len() + 1) as u32).to_be_bytes().to_vec();
        out.push(code);
        out.extend_from_slice(data);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Option<Command>, CodecError> {
        let mut decoder = FrameDecoder::new(1 << 20);
        decoder.extend(bytes);
        decoder.next_command()
    }

    #[test]
    fn negotiation_is_three_words() {
        let mut data = Vec::new();
        for w in [6u32, 0x1ff, 0x1fffff] {
            data.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(
            decode(&frame(b'O', &data)),
            Ok(Some(Command::Negotiate {
                version: 6,
                actions: 0x1ff,
                protocol: 0x1fffff
            }))
        );
        assert_eq!(
            decode(&frame(b'O', &data[..8])),
            Err(CodecError::Malformed('O'))
        );
    }

    #[test]
    fn connect_carries_the_client_address() {
        let mut data = b"client.example\x004".to_vec();
        data.extend_from_slice(&2525u16.to_be_bytes());
        data.extend_from_slice(b"192.0.2.7\0");
        assert_eq!(
            decode(&frame(b'C', &data)),
            Ok(Some(Command::Connect {
                hostname: "client.example".into(),
                address: ClientAddress::Inet("192.0.2.7:2525".parse().unwrap()),
            }))
        );
        let mut data = b"[2001:db8::1]\x006".to_vec();
        data.extend_from_slice(&25u16.to_be_bytes());
        data.extend_from_slice(b"IPv6:2001:db8::1\0");
        let Ok(Some(Command::Connect { address, .. })) = decode(&frame(b'C', &data)) else {
            panic!("not a connect");
        };
        assert_eq!(
            address,
            ClientAddress::Inet("[2001:db8::1]:25".parse().unwrap())
        );
        assert_eq!(
            decode(&frame(b'C', b"localhost\0U")),
            Ok(Some(Command::Connect {
                hostname: "localhost".into(),
                address: ClientAddress::Unknown
            }))
        );
        assert_eq!(
            decode(&frame(b'C', b"h\x004\x00")),
            Err(CodecError::Malformed('C'))
        );
    }

    #[test]
    fn macros_headers_and_envelope() {
        assert_eq!(
            decode(&frame(b'D', b"Mi\0ABC123\0{auth_authen}\0\0")),
            Ok(Some(Command::Macros {
                stage: b'M',
                pairs: vec![
                    ("i".into(), "ABC123".into()),
                    ("{auth_authen}".into(), String::new())
                ]
            }))
        );
        assert_eq!(
            decode(&frame(b'L', b"Subject\0 hi\0")),
            Ok(Some(Command::Header {
                name: "Subject".into(),
                value: " hi".into()
            }))
        );
        assert_eq!(
            decode(&frame(b'L', b"Subject\0 hi")),
            Err(CodecError::Malformed('L'))
        );
        assert_eq!(
            decode(&frame(b'M', b"<a@b.example>\0SIZE=10\0")),
            Ok(Some(Command::Mail(vec![
                "<a@b.example>".into(),
                "SIZE=10".into()
            ])))
        );
        assert_eq!(decode(&frame(b'R', b"")), Err(CodecError::Malformed('R')));
    }

    #[test]
    fn frames_arrive_in_pieces_and_back_to_back() {
        let mut bytes = frame(b'B', b"hello");
        bytes.extend(frame(b'E', b""));
        let mut decoder = FrameDecoder::new(100);
        for byte in &bytes[..7] {
            decoder.extend(&[*byte]);
            assert_eq!(decoder.next_command(), Ok(None));
        }
        decoder.extend(&bytes[7..]);
        assert_eq!(
            decoder.next_command(),
            Ok(Some(Command::Body(b"hello".to_vec())))
        );
        assert_eq!(
            decoder.next_command(),
            Ok(Some(Command::EndOfMessage(Vec::new())))
        );
        assert_eq!(decoder.next_command(), Ok(None));
        assert_eq!(decoder.pending(), 0);
    }

    #[test]
    fn oversized_empty_and_unknown_frames_are_errors() {
        let mut decoder = FrameDecoder::new(100);
        decoder.extend(&1000u32.to_be_bytes());
        assert_eq!(decoder.next_command(), Err(CodecError::FrameTooLarge(1000)));
        assert_eq!(decode(&[0, 0, 0, 0]), Err(CodecError::EmptyFrame));
        assert_eq!(
            decode(&frame(b'Z', b"")),
            Err(CodecError::UnknownCommand(b'Z'))
        );
        assert!(decode(&[0xff, 0xff, 0xff, 0xff, 1]).is_err());
    }

    #[test]
    fn responses_encode_as_frames() {
        let mut out = Vec::new();
        Response::Continue.encode(&mut out);
        Response::ReplyCode("550 5.7.1 No".into()).encode(&mut out);
        Response::ChangeHeader {
            index: 2,
            name: "X-Supportgate-Verdict".into(),
            value: String::new(),
        }
        .encode(&mut out);
        let mut expected = frame(b'c', b"");
        expected.extend(frame(b'y', b"550 5.7.1 No\0"));
        expected.extend(frame(b'm', b"\0\0\0\x02X-Supportgate-Verdict\0\0"));
        assert_eq!(out, expected);
        let mut out = Vec::new();
        Response::DeleteRecipient("<a\0b>".into()).encode(&mut out);
        assert_eq!(out, frame(b'-', b"<ab>\0"));
    }
}
