//! Shared by the milter black-box tests that run without Postfix: a milter client speaking
//! protocol version 6 the way an MTA does (negotiate, macros, connect, HELO, MAIL, RCPT,
//! header fields, end of headers, body, end of message, quit) over a real socket. It offers
//! no "no reply" flags, so every step is answered and the client stays in lockstep.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::IpAddr;
use std::time::Duration;

/// One response frame: its command byte and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: u8,
    pub data: Vec<u8>,
}

impl Response {
    /// `SMFIR_ADDHEADER` (`h`) or `SMFIR_INSHEADER` (`i`): the field's name and value.
    pub fn added_header(&self) -> Option<(String, String)> {
        let fields = match self.code {
            b'h' => &self.data[..],
            b'i' => self.data.get(4..)?,
            _ => return None,
        };
        let mut parts = fields.split(|&b| b == 0);
        let name = String::from_utf8_lossy(parts.next()?).into_owned();
        let value = String::from_utf8_lossy(parts.next()?).into_owned();
        Some((name, value))
    }
}

/// What the milter said to one message.
#[derive(Debug)]
pub struct Answer {
    /// Every response from `SMFIC_EOH` on (or the one that ended the message earlier).
    pub responses: Vec<Response>,
}

impl Answer {
    /// The last response's command byte: `c` continue, `a` accept, `d` discard, `t` tempfail,
    /// `y` reply code, `r` reject.
    pub fn final_code(&self) -> char {
        self.responses.last().map_or('?', |r| r.code as char)
    }

    /// The value of our added field `name` (case-insensitive), whitespace folded.
    pub fn added(&self, name: &str) -> Option<String> {
        self.responses
            .iter()
            .filter_map(Response::added_header)
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// The SMTP session the MTA reports.
pub struct Envelope<'a> {
    pub client_ip: IpAddr,
    pub helo: &'a str,
    pub mail_from: &'a str,
    pub recipients: &'a [&'a str],
}

fn frame(code: u8, data: &[u8]) -> Vec<u8> {
    let mut out = ((data.len() + 1) as u32).to_be_bytes().to_vec();
    out.push(code);
    out.extend_from_slice(data);
    out
}

fn strings(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(part.as_bytes());
        out.push(0);
    }
    out
}

fn read_response(stream: &mut impl Read) -> Response {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).expect("a response frame");
    let length = u32::from_be_bytes(length) as usize;
    assert!((1..1 << 20).contains(&length), "frame length {length}");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("the frame's body");
    Response {
        code: body[0],
        data: body[1..].to_vec(),
    }
}

/// Reads until a response that is not a modification (`h i m - + e 8 p` ...): the step's
/// answer. Modifications come only at the end of the message.
fn read_until_final(stream: &mut impl Read, into: &mut Vec<Response>) {
    for _ in 0..1000 {
        let response = read_response(stream);
        let is_final = matches!(response.code, b'c' | b'a' | b'd' | b't' | b'y' | b'r');
        into.push(response);
        if is_final {
            return;
        }
    }
    panic!("no final response within 1000 frames");
}

/// A milter connection: negotiated at once.
pub struct MilterClient<S: Read + Write> {
    stream: S,
}

impl<S: Read + Write> MilterClient<S> {
    pub fn negotiate(mut stream: S) -> MilterClient<S> {
        let mut data = Vec::new();
        // Version 6, every action, no protocol flags (every step answered).
        for word in [6u32, 0x1ff, 0] {
            data.extend_from_slice(&word.to_be_bytes());
        }
        stream.write_all(&frame(b'O', &data)).unwrap();
        let reply = read_response(&mut stream);
        assert_eq!(reply.code, b'O', "{reply:?}");
        MilterClient { stream }
    }

    /// One step answered by one final response (`c` unless the milter ends the message).
    fn step(&mut self, code: u8, data: &[u8]) -> Response {
        self.stream.write_all(&frame(code, data)).unwrap();
        let mut responses = Vec::new();
        read_until_final(&mut self.stream, &mut responses);
        responses.pop().expect("a response")
    }

    /// One message (`message`: header fields, blank line, body, CRLF), from the connect step
    /// on, as Postfix sends it; one message per connection.
    pub fn send(&mut self, envelope: &Envelope, message: &[u8]) -> Answer {
        let family = if envelope.client_ip.is_ipv4() {
            "4"
        } else {
            "6"
        };
        let mut connect = b"client.example\0".to_vec();
        connect.extend_from_slice(family.as_bytes());
        connect.extend_from_slice(&25000u16.to_be_bytes());
        connect.extend_from_slice(envelope.client_ip.to_string().as_bytes());
        connect.push(0);
        for (code, data) in [
            (b'C', connect),
            (b'H', strings(&[envelope.helo])),
            (b'M', strings(&[&format!("<{}>", envelope.mail_from)])),
        ] {
            let reply = self.step(code, &data);
            assert_eq!(reply.code, b'c', "step {}: {reply:?}", code as char);
        }
        for rcpt in envelope.recipients {
            let reply = self.step(b'R', &strings(&[&format!("<{rcpt}>")]));
            assert_eq!(reply.code, b'c', "RCPT {rcpt}: {reply:?}");
        }
        let text = String::from_utf8_lossy(message).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            match (line.starts_with([' ', '\t']), fields.last_mut()) {
                (true, Some((_, value))) => {
                    value.push_str("\r\n");
                    value.push_str(line);
                }
                _ => {
                    let (name, value) = line.split_once(':').unwrap_or((line, ""));
                    fields.push((name.to_string(), value.trim_start().to_string()));
                }
            }
        }
        for (name, value) in &fields {
            let reply = self.step(b'L', &strings(&[name, value]));
            if reply.code != b'c' {
                return Answer {
                    responses: vec![reply],
                };
            }
        }
        let mut responses = vec![self.step(b'N', b"")];
        if responses[0].code != b'c' {
            return Answer { responses };
        }
        let reply = self.step(b'B', body.as_bytes());
        if reply.code != b'c' {
            return Answer {
                responses: vec![reply],
            };
        }
        self.stream.write_all(&frame(b'E', b"")).unwrap();
        responses.clear();
        read_until_final(&mut self.stream, &mut responses);
        Answer { responses }
    }

    pub fn quit(mut self) {
        let _ = self.stream.write_all(&frame(b'Q', b""));
    }
}

/// A TCP milter connection to `127.0.0.1:port`, with a read timeout.
pub fn connect_tcp(port: u16) -> MilterClient<std::net::TcpStream> {
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("milter port");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    MilterClient::negotiate(stream)
}

/// A Unix-socket milter connection, with a read timeout.
pub fn connect_unix(path: &std::path::Path) -> MilterClient<std::os::unix::net::UnixStream> {
    let stream = std::os::unix::net::UnixStream::connect(path).expect("milter socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    MilterClient::negotiate(stream)
}

/// Waits (bounded) until `port` accepts on loopback.
pub fn wait_port(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}
