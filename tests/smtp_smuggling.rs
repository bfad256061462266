//! SMTP smuggling (CVE-2023-51764 family): fake end-of-data sequences must never end the
//! message, and a message carrying one is refused rather than passed on.
//!
//! Each attack is `hello <fake end> MAIL FROM:<evil@x> ... DATA smuggled CRLF.CRLF`: the
//! smuggled transaction's own terminator is the real end of the one message, so a correct
//! server answers exactly once; a vulnerable one would answer (and deliver) twice.

mod smtp_support;

use smtp_support::*;
use supportgate::smtp::BareLineEndings;

const SMUGGLED: &[u8] =
    b"MAIL FROM:<evil@x>\r\nRCPT TO:<support@vendor.example>\r\nDATA\r\nsmuggled\r\n.\r\n";

const FAKE_ENDS: &[(&str, &[u8])] = &[
    ("LF.LF", b"\n.\n"),
    ("LF.CRLF", b"\n.\r\n"),
    ("CRLF.LF", b"\r\n.\n"),
    ("CR.CRLF", b"\r.\r\n"),
    ("CRLF.CR", b"\r\n.\r"),
    ("CR.CR", b"\r.\r"),
    ("LF.CR", b"\n.\r"),
    ("CR.LF", b"\r.\n"),
    ("NUL", b"\r\n\0.\r\n"),
];

fn smuggling_body(fake_end: &[u8]) -> Vec<u8> {
    let mut body = b"Subject: innocent\r\n\r\nhello".to_vec();
    body.extend_from_slice(fake_end);
    body.extend_from_slice(SMUGGLED);
    body
}

#[tokio::test]
async fn fake_end_of_data_is_refused_and_nothing_is_smuggled() {
    let server = start(test_config()).await;
    for (name, fake_end) in FAKE_ENDS {
        let mut c = Client::greeted(server.addr()).await;
        c.cmd("EHLO client.example").await;
        let reply = transaction(&mut c, &smuggling_body(fake_end)).await;
        assert!(reply.starts_with("550 5.5.2"), "{name}: {reply}");
        // Exactly one reply to the data, and the session continues in a clean state with no
        // transaction open (a smuggled MAIL would have opened one).
        c.expect("RCPT TO:<support@vendor.example>", "503 5.5.1")
            .await;
        c.expect("QUIT", "221").await;
        assert!(
            server.handler.messages().is_empty(),
            "{name}: a message got through"
        );
    }
}

#[tokio::test]
async fn normalize_mode_keeps_the_smuggled_part_inside_the_one_message() {
    let mut config = test_config();
    config.bare_line_endings = BareLineEndings::Normalize;
    let server = start(config).await;
    for (name, fake_end) in FAKE_ENDS {
        let mut c = Client::greeted(server.addr()).await;
        c.cmd("EHLO client.example").await;
        let reply = transaction(&mut c, &smuggling_body(fake_end)).await;
        if *name == "NUL" {
            assert!(reply.starts_with("550 5.5.2"), "{name}: {reply}");
        } else {
            assert!(reply.starts_with("250"), "{name}: {reply}");
        }
        // No extra replies queued for smuggled commands.
        c.expect("QUIT", "221").await;
    }
    let messages = server.handler.messages();
    assert_eq!(
        messages.len(),
        FAKE_ENDS.len() - 1,
        "one message per session, no more"
    );
    for (_, envelope, body) in &messages {
        assert_eq!(envelope.mail_from.as_deref(), Some("sender@example.org"));
        let text = String::from_utf8_lossy(body);
        assert!(text.ends_with("DATA\r\nsmuggled\r\n"), "{text}");
        let bare_cr = body.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n');
        let bare_lf = body
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\n' && (i == 0 || body[i - 1] != b'\r'));
        assert!(!bare_cr && !bare_lf, "{}", String::from_utf8_lossy(body));
    }
}

#[tokio::test]
async fn fake_end_split_across_packets_is_still_not_an_end() {
    let server = start(test_config()).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    c.expect("MAIL FROM:<a@example.org>", "250").await;
    c.expect("RCPT TO:<support@vendor.example>", "250").await;
    c.expect("DATA", "354").await;
    for piece in [&b"hello\n"[..], b".", b"\n", SMUGGLED] {
        c.send(piece).await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(c.reply().await.starts_with("550 5.5.2"));
    c.expect("NOOP", "250").await;
    assert!(server.handler.messages().is_empty());
}
