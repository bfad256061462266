//! Text that came from a message, shown to a human (CLI tables, `quarantine show`, text log
//! lines): control characters, C1 controls and bidirectional overrides are written as visible
//! escapes, so that a hostile Subject cannot add a fake row, move the cursor, write to the
//! clipboard (OSC 52) or reverse what the reader sees (RLO).

use std::borrow::Cow;
use std::io::{self, Write};

/// True for what must not reach a terminal as is: C0 controls and DEL, C1 controls, the bidi
/// embeddings, overrides, isolates and marks, and the line and paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        | '\u{061c}' | '\u{2028}' | '\u{2029}')
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
    }
}

/// `text` with every unsafe character escaped (`\x1b`, `\r`, `\n`, `\u{202e}`): one line.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Like [`one_line`], but line breaks (`\n` or `\r\n`) stay line breaks: for a header block.
pub fn lines(text: &str) -> String {
    text.split('\n')
        .map(|line| one_line(line.strip_suffix('\r').unwrap_or(line)).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// For JSON shown to a human: bidi controls and C1 controls (which JSON leaves as they are)
/// written as `\uXXXX` escapes, which JSON reads back as the same characters.
pub fn json(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            // JSON's own structure (pretty-printing's line breaks); controls in strings are
            // already escaped by serde_json.
            '\n' | '\t' | '\r' => out.push(c),
            c if is_unsafe(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A writer for text log lines: each write is one formatted event (tracing-subscriber
/// formats an event into a buffer and writes it whole); everything unsafe in it is escaped,
/// except the line break that ends it. The line goes out in one `write_all` (one system call
/// on an unbuffered stderr or a log file), and a line with nothing to escape is written as it
/// came, without a copy.
pub struct EscapingWriter<W: Write>(pub W);

/// True for printable ASCII (space to `~`): what never needs an escape.
fn is_plain_ascii(byte: u8) -> bool {
    (0x20..0x7f).contains(&byte)
}

impl<W: Write> Write for EscapingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (body, end): (&[u8], &[u8]) = match buf.strip_suffix(b"\n") {
            Some(body) => (body, b"\n"),
            None => (buf, b""),
        };
        if body.iter().all(|&b| is_plain_ascii(b)) {
            self.0.write_all(buf)?;
            return Ok(buf.len());
        }
        let text = String::from_utf8_lossy(body);
        let mut line = one_line(&text).into_owned().into_bytes();
        line.extend_from_slice(end);
        self.0.write_all(&line)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_would_fake_a_row_or_drive_the_terminal() {
        assert_eq!(one_line("Invoice"), "Invoice");
        assert_eq!(
            one_line("a\r\n0067  2026  fake row\x1b]52;c;aGk=\x07"),
            "a\\r\\n0067  2026  fake row\\x1b]52;c;aGk=\\x07"
        );
        assert_eq!(one_line("txt.\u{202e}fdp"), "txt.\\u{202e}fdp");
        assert_eq!(one_line("\u{9b}31m"), "\\x9b31m");
        assert_eq!(one_line("Réponse"), "Réponse");
    }

    #[test]
    fn header_blocks_keep_their_lines() {
        assert_eq!(
            lines("Subject: a\x1b[2J\r\nFrom: b\r\n"),
            "Subject: a\\x1b[2J\nFrom: b\n"
        );
    }

    #[test]
    fn json_stays_json() {
        let value = serde_json::json!({"subject": "x\u{202e}y\u{85}"});
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let shown = json(&pretty);
        assert!(!shown.contains('\u{202e}'), "{shown}");
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back, value);
    }

    /// Counts the writes that reach the file.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn log_writer_writes_each_line_once() {
        for line in [
            &b"INFO decision queue_id=1 from=a@b.example\n"[..],
            b"INFO subject=\"R\xc3\xa9ponse \x1b[2J\"\n",
            b"INFO bad utf-8 \xff\n",
            b"no line break",
        ] {
            let mut writes = Writes::default();
            EscapingWriter(&mut writes).write_all(line).unwrap();
            assert_eq!(writes.0.len(), 1, "{:?}", String::from_utf8_lossy(line));
        }
        let mut writes = Writes::default();
        EscapingWriter(&mut writes)
            .write_all(b"INFO subject=\"R\xc3\xa9ponse \xe2\x80\xae\x1b\" \xff\n")
            .unwrap();
        assert_eq!(
            String::from_utf8(writes.0.concat()).unwrap(),
            "INFO subject=\"R\u{e9}ponse \\u{202e}\\x1b\" \u{fffd}\n"
        );
    }

    #[test]
    fn log_writer_escapes_inside_the_line_only() {
        let mut out = Vec::new();
        EscapingWriter(&mut out)
            .write_all(b"INFO rcpt=\"a\x1b[31m\nfake\" x\n")
            .unwrap();
        assert_eq!(out, b"INFO rcpt=\"a\\x1b[31m\\nfake\" x\n");
    }
}
