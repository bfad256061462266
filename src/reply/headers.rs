//! Writing an RFC 5322 message safely: every value copied from the incoming mail goes through
//! [`clean_text`] or [`message_id`] before it reaches a header, and [`HeaderBlock`] refuses
//! (in debug builds) any value that could start a new header line.

use std::fmt::Write as _;
use time::format_description::well_known::Rfc2822;
use time::OffsetDateTime;

/// How many characters of an incoming subject we copy.
pub const SUBJECT_CHARS: usize = 200;
/// Message ids longer than this are dropped rather than copied.
const MESSAGE_ID_MAX: usize = 250;
/// RFC 5322 §3.6.4 lets a long References be trimmed; we keep the first and the last ones.
const REFERENCES_MAX: usize = 20;
/// Encoded text per RFC 2047 encoded-word, so that each folded line stays under 78 octets.
const ENCODED_TEXT_MAX: usize = 45;
/// Quoted-printable line length (RFC 2045 §6.7: at most 76 characters).
const QP_LINE_MAX: usize = 76;

/// One line of text: control characters (CR, LF, NUL, TAB, DEL, C1…) and Unicode line and
/// paragraph separators become spaces, runs of whitespace one space, and the result is trimmed
/// and cut to `max_chars` characters.
pub fn clean_text(value: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(value.len().min(max_chars * 4));
    let mut count = 0;
    let mut pending_space = false;
    for c in value.chars() {
        if c.is_control() || c.is_whitespace() || c == '\u{2028}' || c == '\u{2029}' {
            pending_space = !out.is_empty();
            continue;
        }
        // Bidi embeddings, overrides, isolates and marks: an RLO in a Subject copied into our
        // reply would make it read backwards ("txt.exe" shown as "exe.txt").
        if crate::printable::is_unsafe(c) {
            continue;
        }
        if count + usize::from(pending_space) + 1 > max_chars {
            break;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// A message id as `<left@right>`, from a value with or without angle brackets; `None` unless
/// it is a plausible RFC 5322 msg-id made of printable ASCII.
pub fn message_id(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let inner = raw
        .strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or(raw);
    let (left, right) = inner.rsplit_once('@')?;
    let allowed = |c: char| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '\\' | '@');
    let ok = !left.is_empty()
        && !right.is_empty()
        && inner.len() <= MESSAGE_ID_MAX
        && left.chars().all(allowed)
        && right.chars().all(allowed);
    ok.then(|| format!("<{inner}>"))
}

/// `References` of a reply (RFC 5322 §3.6.4): the original's References, then its Message-ID;
/// ill-formed ids and repeats dropped; at most [`REFERENCES_MAX`], keeping the first.
pub fn references(original: &[String], message_id_value: Option<&str>) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for id in original
        .iter()
        .map(String::as_str)
        .chain(message_id_value)
        .filter_map(message_id)
    {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.len() > REFERENCES_MAX {
        let tail = ids.split_off(ids.len() - (REFERENCES_MAX - 1));
        ids.truncate(1);
        ids.extend(tail);
    }
    ids
}

/// A token for the left part of our own Message-ID: only `[A-Za-z0-9._-]`, at most 64.
pub fn id_token(token: &str) -> String {
    let clean: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(64)
        .collect();
    if clean.is_empty() {
        "reply".to_string()
    } else {
        clean
    }
}

/// `Date:` for `now` (Unix seconds), in UTC; out-of-range values fall back to the epoch.
pub fn date(now: u64) -> String {
    let moment = i64::try_from(now)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    moment
        .format(&Rfc2822)
        .unwrap_or_else(|_| "Thu, 01 Jan 1970 00:00:00 +0000".to_string())
}

/// An unstructured header value (a Subject): as is when it is plain ASCII, otherwise RFC 2047
/// `Q` encoded-words in UTF-8, folded onto continuation lines. `value` is already one line.
pub fn unstructured(value: &str) -> String {
    let plain = value.chars().all(|c| c.is_ascii_graphic() || c == ' ');
    if plain && !value.contains("=?") {
        return value.to_string();
    }
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in value.chars() {
        let mut encoded = String::new();
        match c {
            ' ' => encoded.push('_'),
            c if c.is_ascii_alphanumeric() || matches!(c, '!' | '*' | '+' | '-' | '/') => {
                encoded.push(c)
            }
            c => {
                let mut buf = [0u8; 4];
                for byte in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(encoded, "={byte:02X}");
                }
            }
        }
        if current.len() + encoded.len() > ENCODED_TEXT_MAX && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push_str(&encoded);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
        .iter()
        .map(|w| format!("=?UTF-8?Q?{w}?="))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// A text body as quoted-printable (RFC 2045 §6.7) with CRLF line ends: every line ≤ 76
/// octets, so the message passes any relay, with or without 8BITMIME.
pub fn quoted_printable(body: &str) -> String {
    let mut out = String::with_capacity(body.len() * 2);
    for line in body.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut width = 0;
        let bytes = line.as_bytes();
        for (i, &byte) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let literal = matches!(byte, b'!'..=b'<' | b'>'..=b'~') || (byte == b' ' && !last);
            let piece = if literal {
                (byte as char).to_string()
            } else {
                format!("={byte:02X}")
            };
            // Leave room for the soft break "=" unless this is the line's last piece.
            let room = if last { QP_LINE_MAX } else { QP_LINE_MAX - 1 };
            if width + piece.len() > room {
                out.push_str("=\r\n");
                width = 0;
            }
            out.push_str(&piece);
            width += piece.len();
        }
        out.push_str("\r\n");
    }
    // `split` yields one line after a final LF: drop the CRLF it added.
    if body.ends_with('\n') {
        out.truncate(out.len() - 2);
    }
    out
}

/// The header section being written.
#[derive(Debug, Default)]
pub struct HeaderBlock {
    text: String,
}

impl HeaderBlock {
    /// Adds `name: value`. `value` may only contain folding (`CRLF` followed by a space); a
    /// value with any other control character is a bug here, and is flattened in release builds.
    pub fn push(&mut self, name: &str, value: &str) {
        let safe = is_safe_value(value);
        debug_assert!(safe, "unsafe header value for {name}: {value:?}");
        if safe {
            let _ = write!(self.text, "{name}: {value}\r\n");
        } else {
            let _ = write!(self.text, "{name}: {}\r\n", clean_text(value, 900));
        }
    }

    /// The header section, the empty line, then `body` (already CRLF).
    pub fn finish(self, body: &str) -> Vec<u8> {
        let mut bytes = self.text.into_bytes();
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body.as_bytes());
        bytes
    }
}

fn is_safe_value(value: &str) -> bool {
    value
        .split("\r\n ")
        .all(|part| !part.chars().any(|c| c.is_control()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_removes_every_line_break_and_control() {
        let dirty = "Hello\r\nBcc: evil@x\0\u{7f}\u{85}\u{2028}end\t ";
        assert_eq!(clean_text(dirty, 200), "Hello Bcc: evil@x end");
        assert_eq!(clean_text("  \r\n ", 200), "");
    }

    #[test]
    fn clean_text_drops_bidi_controls() {
        assert_eq!(
            clean_text("Invoice \u{202e}fdp.exe\u{2066}x", 200),
            "Invoice fdp.exex"
        );
    }

    #[test]
    fn clean_text_cuts_on_a_char_boundary() {
        let long = "é".repeat(300);
        let cut = clean_text(&long, SUBJECT_CHARS);
        assert_eq!(cut.chars().count(), SUBJECT_CHARS);
        assert_eq!(clean_text("ab cd", 3), "ab");
    }

    #[test]
    fn message_ids_are_kept_only_when_well_formed() {
        assert_eq!(message_id("abc@x.example"), Some("<abc@x.example>".into()));
        assert_eq!(message_id(" <abc@x> "), Some("<abc@x>".into()));
        for bad in [
            "abc@x>\r\nBcc: evil@x",
            "no-at-sign",
            "@x",
            "a@",
            "a b@x",
            "<a@x",
            "a\"b@x",
            "é@x",
            "a@b@c",
        ] {
            assert_eq!(message_id(bad), None, "{bad:?}");
        }
        assert_eq!(message_id(&format!("{}@x", "a".repeat(300))), None);
    }

    #[test]
    fn references_append_the_message_id_and_drop_junk() {
        let original = vec!["a@x".to_string(), "bad id".into(), "<a@x>".into()];
        assert_eq!(references(&original, Some("b@x")), ["<a@x>", "<b@x>"]);
        let many: Vec<String> = (0..30).map(|i| format!("{i}@x")).collect();
        let kept = references(&many, Some("last@x"));
        assert_eq!(kept.len(), REFERENCES_MAX);
        assert_eq!(kept[0], "<0@x>");
        assert_eq!(kept[REFERENCES_MAX - 1], "<last@x>");
    }

    #[test]
    fn date_is_rfc_5322() {
        assert_eq!(date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(date(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 +0000");
        assert_eq!(date(u64::MAX), "Thu, 01 Jan 1970 00:00:00 +0000");
    }

    #[test]
    fn subjects_are_encoded_only_when_needed() {
        assert_eq!(unstructured("Invoice 42"), "Invoice 42");
        assert_eq!(
            unstructured("Facture été"),
            "=?UTF-8?Q?Facture_=C3=A9t=C3=A9?="
        );
        assert_eq!(unstructured("a =?x?= b"), "=?UTF-8?Q?a_=3D=3Fx=3F=3D_b?=");
        let long = unstructured(&"é".repeat(40));
        for line in long.split("\r\n") {
            assert!(line.len() <= 76, "{line}");
        }
    }

    #[test]
    fn quoted_printable_lines_stay_short_and_round_trip_markers() {
        let body = format!("Café = bon\ntrailing space \n{}\n", "x".repeat(200));
        let qp = quoted_printable(&body);
        assert!(qp.starts_with("Caf=C3=A9 =3D bon\r\ntrailing space=20\r\n"));
        assert!(qp.ends_with("\r\n") && !qp.ends_with("\r\n\r\n"));
        for line in qp.split("\r\n") {
            assert!(line.len() <= QP_LINE_MAX, "{line}");
        }
    }
}
