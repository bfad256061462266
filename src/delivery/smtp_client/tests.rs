//! The client against a scripted relay on loopback (a test double: the integration tests
//! deliver to real `smtp-sink` and Postfix).

use super::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the scripted relay answers, and what it offers after EHLO.
struct Script {
    ehlo: &'static str,
    /// Answer to each command line (by its first word) that is not DATA's content.
    refuse_rcpt: Option<&'static str>,
}

/// Runs one scripted session; returns every line it read (commands and data) and the batches
/// of commands that arrived in one read.
async fn relay(script: Script) -> (u16, tokio::task::JoinHandle<(Vec<String>, Vec<usize>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        let mut reader = BufReader::new(read);
        write.write_all(b"220 relay ready\r\n").await.unwrap();
        let mut lines = Vec::new();
        let mut batches = Vec::new();
        let mut in_data = false;
        let mut line = String::new();
        loop {
            line.clear();
            let before = reader.buffer().len();
            if reader.read_line(&mut line).await.unwrap() == 0 {
                break;
            }
            // Commands already waiting in the buffer when this one was read arrived with it.
            batches.push(before);
            let text = line.trim_end_matches("\r\n").to_string();
            lines.push(text.clone());
            if in_data {
                if text == "." {
                    in_data = false;
                    write.write_all(b"250 2.0.0 queued as X\r\n").await.unwrap();
                }
                continue;
            }
            let answer: String = match command_verb(&text).as_str() {
                "EHLO" => script.ehlo.to_string(),
                "HELO" | "MAIL" => "250 ok\r\n".into(),
                "RCPT" => match script.refuse_rcpt {
                    Some(refusal) if text.contains("refused") => refusal.to_string(),
                    _ => "250 ok\r\n".into(),
                },
                "DATA" => {
                    in_data = true;
                    "354 go ahead\r\n".into()
                }
                "QUIT" => break,
                _ => "500 what\r\n".into(),
            };
            write.write_all(answer.as_bytes()).await.unwrap();
        }
        (lines, batches)
    });
    (port, handle)
}

/// A command line's verb, upper-cased (`MAIL` of `mail from:<a@b>`), for the scripted relays
/// here and in the pool's tests.
pub(in crate::delivery) fn command_verb(line: &str) -> String {
    line.split([' ', ':'])
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

const PIPELINING: &str = "250-relay\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10240000\r\n";

async fn client(port: u16) -> SmtpClient {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    SmtpClient::start(stream, "gateway.example").await.unwrap()
}

#[tokio::test]
async fn pipelines_the_envelope_and_stuffs_the_dots() {
    let (port, relay) = relay(Script {
        ehlo: PIPELINING,
        refuse_rcpt: None,
    })
    .await;
    let mut client = client(port).await;
    let recipients = [
        "a@helpdesk.example".to_string(),
        "b@helpdesk.example".to_string(),
    ];
    let message = b"Subject: x\r\n\r\n.leading dot\r\nend\r\n";
    client
        .send(Some("agent@acme.example"), &recipients, message)
        .await
        .unwrap();
    assert!(!client.is_broken());
    drop(client);
    let (lines, batches) = relay.await.unwrap();
    assert!(
        batches[2] > 0 && batches[4] > 0,
        "RCPT and DATA came with MAIL: {batches:?}"
    );
    assert_eq!(
        lines,
        [
            "EHLO gateway.example",
            "MAIL FROM:<agent@acme.example>",
            "RCPT TO:<a@helpdesk.example>",
            "RCPT TO:<b@helpdesk.example>",
            "DATA",
            "Subject: x",
            "",
            "..leading dot",
            "end",
            ".",
        ]
    );
}

#[tokio::test]
async fn without_pipelining_one_command_at_a_time_and_8bit_is_asked_for() {
    let (port, relay) = relay(Script {
        ehlo: "250-relay\r\n250 8BITMIME\r\n",
        refuse_rcpt: None,
    })
    .await;
    let mut client = client(port).await;
    client
        .send(
            None,
            &["a@helpdesk.example".to_string()],
            "Objet : é\r\n".as_bytes(),
        )
        .await
        .unwrap();
    drop(client);
    let (lines, batches) = relay.await.unwrap();
    assert_eq!(lines[1], "MAIL FROM:<> BODY=8BITMIME");
    assert_eq!(
        batches[1..4],
        [0, 0, 0],
        "each command waited for its answer"
    );
}

#[tokio::test]
async fn a_refused_recipient_sends_no_data_and_ends_the_connection() {
    let (port, relay) = relay(Script {
        ehlo: PIPELINING,
        refuse_rcpt: Some("550-5.1.1 no such user\r\n550 5.1.1 really\r\n"),
    })
    .await;
    let mut client = client(port).await;
    let recipients = [
        "ok@helpdesk.example".to_string(),
        "refused@helpdesk.example".to_string(),
    ];
    let error = client
        .send(Some("a@acme.example"), &recipients, b"x\r\n")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ClientError::Refused {
            step: "RCPT TO",
            reply: Reply {
                code: 550,
                text: "5.1.1 no such user 5.1.1 really".into()
            }
        }
    );
    assert!(client.is_broken(), "not used again");
    drop(client);
    let (lines, _) = relay.await.unwrap();
    assert!(
        !lines.iter().any(|l| l == "x"),
        "no data after a refusal: {lines:?}"
    );
}

#[tokio::test]
async fn eight_bit_to_a_relay_without_8bitmime_is_not_sent() {
    let (port, _relay) = relay(Script {
        ehlo: "250 relay\r\n",
        refuse_rcpt: None,
    })
    .await;
    let mut client = client(port).await;
    let error = client
        .send(None, &["a@x.example".to_string()], "é\r\n".as_bytes())
        .await
        .unwrap_err();
    assert_eq!(error, ClientError::Unsupported("8BITMIME"));
}

#[test]
fn answers_are_parsed_whole_or_not_at_all() {
    assert!(matches!(
        parse_reply(b"250-a\r\n250-PIPE"),
        Parsed::Incomplete
    ));
    assert!(matches!(parse_reply(b"hello\r\n"), Parsed::Invalid(_)));
    match parse_reply(b"250-relay\r\n250-pipelining\r\n250 SMTPUTF8\r\n354 next") {
        Parsed::Complete {
            reply,
            used,
            extensions,
        } => {
            assert_eq!(reply.code, 250);
            assert_eq!(used, 41);
            assert!(extensions.pipelining && extensions.smtp_utf8);
            assert!(!extensions.eight_bit_mime);
        }
        _ => panic!("a whole answer"),
    }
}

fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    stuffed_pieces(message).concat()
}

/// Byte by byte, as RFC 5321 §4.5.2 says it: a dot at the start of a line gets another.
fn reference_stuffing(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at_line_start = true;
    for &byte in message {
        if at_line_start && byte == b'.' {
            out.push(b'.');
        }
        out.push(byte);
        at_line_start = byte == b'\n';
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[test]
fn dot_stuffing_of_every_short_message_of_dots_and_line_ends_is_the_reference() {
    let alphabet = [b'.', b'\r', b'\n', b'x'];
    for len in 0..=7 {
        for n in 0..alphabet.len().pow(len) {
            let mut rest = n;
            let message: Vec<u8> = (0..len)
                .map(|_| {
                    let byte = alphabet[rest % alphabet.len()];
                    rest /= alphabet.len();
                    byte
                })
                .collect();
            assert_eq!(
                dot_stuffed(&message),
                reference_stuffing(&message),
                "{:?}",
                String::from_utf8_lossy(&message)
            );
        }
    }
}

#[test]
fn dot_stuffing_doubles_leading_dots_and_ends_the_data() {
    assert_eq!(dot_stuffed(b""), b".\r\n");
    assert_eq!(dot_stuffed(b"a\r\n"), b"a\r\n.\r\n");
    assert_eq!(dot_stuffed(b"a"), b"a\r\n.\r\n");
    assert_eq!(
        dot_stuffed(b".\r\n..\r\nx.\r\n"),
        b"..\r\n...\r\nx.\r\n.\r\n"
    );
}
