//! Black-box regression tests for issue 10 finding 4 (output injection): an encoded Subject
//! that decodes to CR/LF, terminal escapes (OSC 52 clipboard writes) or RLO printed raw in
//! `quarantine list` (a fake second row) and `show`; a quoted RCPT local part with ESC printed
//! raw in text log lines. Everything a human reads is escaped now.

mod gateway_support;

use gateway_support::{poll, Gateway, Options};

const ESC: char = '\u{1b}';
const RLO: char = '\u{202e}';

/// RFC 2047 base64 of `text` as an encoded-word.
fn encoded_word(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("=?utf-8?b?{out}?=")
}

fn hostile_subject() -> String {
    format!("Hi{ESC}]52;c;aGk=\u{7} {RLO}fdp\r\n0067FFFFFFFFFFFF  2026-12-01T00:00:00Z  accepted  boss@acme.example")
}

#[test]
fn output_injection_a_hostile_subject_is_escaped_in_list_and_show() {
    let gw = Gateway::start(Options::default());
    let subject = encoded_word(&hostile_subject());
    let body = gateway_support::message("mallory@else.example", &subject, &[], "Hi.\n");
    let reply = gw.send(
        "mallory@else.example",
        &["support+acme@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let kept = poll(|| {
        let kept = gw.quarantine();
        (!kept.is_empty()).then_some(kept)
    })
    .unwrap();
    // The record keeps the decoded Subject as it is (for JSON readers).
    assert!(kept[0].1["subject"].as_str().unwrap().contains(ESC));

    let listed = gw.cli(&["quarantine", "list"]);
    assert!(listed.status.success());
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert_eq!(
        text.lines().count(),
        1,
        "one row, no fake second row: {text:?}"
    );
    assert!(
        !text.contains(ESC) && !text.contains(RLO) && !text.contains('\r'),
        "{text:?}"
    );
    assert!(text.contains("\\x1b]52"), "the escape is visible: {text:?}");

    let shown = gw.cli(&["quarantine", "show", &kept[0].0]);
    assert!(shown.status.success());
    let text = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(!text.contains(ESC) && !text.contains(RLO), "{text:?}");

    // The auto-reply's Subject carries no control and no bidi override either.
    let outbox = gw.outbox();
    assert_eq!(outbox.len(), 1);
    let reply_subject = gateway_support::header(&outbox[0], "Subject");
    assert!(
        !reply_subject.contains(RLO) && !reply_subject.contains(ESC),
        "{reply_subject:?}"
    );
}

#[test]
fn output_injection_text_log_lines_escape_what_the_client_sent() {
    let mut gw = Gateway::start(Options::default());
    gw.reconfigure("log", "format", "text".into());
    let mut smtp = gw.smtp();
    smtp.expect("EHLO client.example", "250");
    smtp.expect("MAIL FROM:<x@else.example>", "250");
    let answer = smtp.cmd(&format!(
        "RCPT TO:<\"a{ESC}[2J{ESC}]52;c;aGk=\u{7}b\"@else.example>"
    ));
    assert!(answer.starts_with('5'), "{answer}");
    smtp.quit();
    let log = poll(|| {
        let log = gw.log();
        log.contains("recipient refused").then_some(log)
    })
    .unwrap_or_else(|| panic!("no refusal logged:\n{}", gw.log()));
    assert!(!log.contains(ESC), "raw ESC in the text log:\n{log:?}");
    assert!(log.contains("\\x1b[2J"), "{log:?}");
}
