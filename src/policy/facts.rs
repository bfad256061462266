//! What the policy needs to know about a message, read once from the parsed headers.

use super::text::part_texts;
use mail_parser::{Address, HeaderName, HeaderValue, Message, MessageParser, MimeHeaders};

/// The sender as read from the From header(s), before any directory lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromHeader {
    /// Exactly one mailbox: its addr-spec as written.
    Mailbox(String),
    Missing,
    /// More than one From header, or a From with several mailboxes.
    Several,
    /// RFC 5322 group syntax (`Team: a@x, b@y;`), not a mailbox.
    Group,
    /// A From header without a usable address.
    Unparsable,
}

/// Headers and text that the rules look at. Values are decoded (RFC 2047) and untrusted.
#[derive(Debug, Clone, Default)]
pub struct MessageFacts {
    pub from: Option<FromHeader>,
    pub subject: String,
    /// The start of every text part (HTML reduced to its text, attached messages included), in
    /// matching form, for P4 category matching ([`part_texts`]).
    pub part_texts: Vec<String>,
    /// Header fields that RFC 5322 §3.6 allows once but that appear more than once
    /// ([`SINGLETON_HEADERS`]): a reader and the policy could read different ones (P7).
    pub duplicated_headers: Vec<&'static str>,
    pub message_id: Option<String>,
    pub references: Vec<String>,
    pub content_language: Option<String>,
    /// The value of `Auto-Submitted`, lower-cased, if present.
    pub auto_submitted: Option<String>,
    /// The value of `Precedence`, lower-cased, if present.
    pub precedence: Option<String>,
    /// The value of `X-Auto-Response-Suppress`, lower-cased, if present.
    pub auto_response_suppress: Option<String>,
    /// Any `List-*` header (RFC 2369, RFC 2919).
    pub has_list_header: bool,
    /// A marker of a mailing list or group delivery that is not a `List-*` header: `Sender:`
    /// naming a list, Google Groups or Microsoft 365 group headers. Names the marker.
    pub group_marker: Option<String>,
    /// The `Authentication-Results` headers, topmost first (raw, unfolded).
    pub authentication_results: Vec<String>,
    /// An auto-responder's own header (`X-Autoreply`, `X-Autorespond`, `X-Autoresponder`),
    /// named as written (SPEC §10 `automated`).
    pub autoresponder_header: Option<String>,
    /// The `report-type` of a top-level `multipart/report` (RFC 6522: `delivery-status`,
    /// `disposition-notification`, …; empty when not given).
    pub report_type: Option<String>,
    /// Every address of the `Reply-To` header(s), as written (mailboxes without one left out).
    pub reply_to: Vec<String>,
    /// The address of the `Sender` header, as written.
    pub sender_header: Option<String>,
}

/// How much of the first text part [`text_start`] keeps.
pub const TEXT_START_CHARS: usize = 600;

/// The start of the first text part of `raw`, as written (the approval request quotes it).
/// Only a held request needs it, so it is not one of the [`MessageFacts`] every message pays
/// for.
pub fn text_start(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|message| {
            message
                .body_text(0)
                .map(|text| text.chars().take(TEXT_START_CHARS).collect())
        })
        .unwrap_or_default()
}

/// Headers that only auto-responders add (their value does not matter).
const AUTORESPONDER_HEADERS: [&str; 3] = ["x-autoreply", "x-autorespond", "x-autoresponder"];

/// Header fields that a message has at most once (RFC 5322 §3.6) and that someone reads: the
/// ticket keeps every copy, mail clients show the first, mail-parser reads the last.
pub const SINGLETON_HEADERS: [&str; 7] = [
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Subject",
    "Message-ID",
    "Date",
];

/// Headers that only mailing-list and group deliveries add.
const GROUP_HEADERS: [&str; 6] = [
    "x-google-group-id",
    "x-google-loop",
    "mailing-list",
    "x-mailing-list",
    "x-ms-exchange-groupplatform-originatingaddress",
    "x-ms-exchange-organization-groupmailbox",
];

impl MessageFacts {
    /// Reads the facts from a parsed message; `body_chars` bounds how much text of each part
    /// is kept (0: none).
    pub fn extract(message: &Message<'_>, body_chars: usize) -> MessageFacts {
        let mut facts = MessageFacts {
            from: Some(from_header(message)),
            subject: subject(message),
            message_id: message.message_id().map(str::to_string),
            references: text_list(message.references()),
            ..MessageFacts::default()
        };
        facts.part_texts = part_texts(message, body_chars);
        facts.report_type = message
            .content_type()
            .filter(|ct| {
                ct.ctype().eq_ignore_ascii_case("multipart")
                    && ct
                        .subtype()
                        .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            })
            .map(|ct| {
                ct.attribute("report-type")
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            });
        facts.reply_to = message
            .header_values(HeaderName::ReplyTo)
            .filter_map(HeaderValue::as_address)
            .flat_map(Address::iter)
            .filter_map(|a| a.address().map(str::trim))
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        let mut seen = [0u8; SINGLETON_HEADERS.len()];
        for header in message.headers() {
            let name = header.name.as_str();
            if let Some(i) = SINGLETON_HEADERS
                .iter()
                .position(|s| s.eq_ignore_ascii_case(name))
            {
                seen[i] = seen[i].saturating_add(1);
                if seen[i] == 2 {
                    facts.duplicated_headers.push(SINGLETON_HEADERS[i]);
                }
            }
            let lower = name.to_ascii_lowercase();
            let raw = || raw_value(message, header.offset_start, header.offset_end);
            match lower.as_str() {
                "auto-submitted" => facts.auto_submitted = Some(first_word(&raw())),
                "precedence" => facts.precedence = Some(first_word(&raw())),
                "x-auto-response-suppress" => {
                    facts.auto_response_suppress = Some(raw().trim().to_ascii_lowercase())
                }
                "content-language" => facts.content_language = Some(raw().trim().to_string()),
                "authentication-results" => facts.authentication_results.push(raw()),
                "sender" => {
                    if let Some(list) = sender_names_list(&header.value) {
                        facts.group_marker = Some(format!("Sender: {list}"));
                    }
                    facts.sender_header = header
                        .value
                        .as_address()
                        .and_then(Address::first)
                        .and_then(|a| a.address())
                        .map(str::trim)
                        .filter(|a| !a.is_empty())
                        .map(str::to_string);
                }
                _ if AUTORESPONDER_HEADERS.contains(&lower.as_str()) => {
                    facts.autoresponder_header = Some(name.to_string())
                }
                _ if lower.starts_with("list-") => facts.has_list_header = true,
                _ if GROUP_HEADERS.contains(&lower.as_str()) => {
                    facts.group_marker = Some(name.to_string())
                }
                _ => {}
            }
        }
        facts
    }
}

fn raw_value(message: &Message<'_>, start: u32, end: u32) -> String {
    let bytes = message
        .raw_message()
        .get(start as usize..end as usize)
        .unwrap_or_default();
    unfold(&String::from_utf8_lossy(bytes))
}

/// Unfolds (RFC 5322 §2.2.3) so that the value is one line.
fn unfold(text: &str) -> String {
    text.split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The (last, as mail-parser reads it) Subject, decoded. mail-parser reads raw 8-bit bytes as
/// UTF-8 and replaces what is not with U+FFFD, which hides P4 keywords such as "Sécurité" sent
/// unencoded by old mailers; such bytes are read as windows-1252 instead (see [`decode_8bit`]).
fn subject(message: &Message<'_>) -> String {
    let Some(header) = message
        .headers()
        .iter()
        .rev()
        .find(|h| h.name == HeaderName::Subject)
    else {
        return String::new();
    };
    let raw = message
        .raw_message()
        .get(header.offset_start as usize..header.offset_end as usize)
        .unwrap_or_default();
    if std::str::from_utf8(raw).is_ok() {
        return header.value.as_text().unwrap_or_default().to_string();
    }
    decode_8bit(raw)
}

/// A header value whose raw bytes are not UTF-8: valid UTF-8 sequences are kept, every other
/// byte is read as windows-1252 (a superset of ISO-8859-1 in practice, as WHATWG reads it), then
/// the now-UTF-8 value goes through mail-parser again for unfolding and RFC 2047 words.
fn decode_8bit(raw: &[u8]) -> String {
    let mut text = String::with_capacity(raw.len() + 8);
    for chunk in raw.utf8_chunks() {
        text.push_str(chunk.valid());
        text.extend(chunk.invalid().iter().map(|&b| windows_1252(b)));
    }
    let reparsed = format!("Subject:{text}\r\n\r\n");
    MessageParser::new()
        .parse_headers(reparsed.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| unfold(&text))
}

/// windows-1252 differs from ISO-8859-1 only in 0x80–0x9F; its five unassigned bytes map to
/// the C1 controls of the same value, as in the WHATWG Encoding Standard.
fn windows_1252(byte: u8) -> char {
    const C1: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}',
        '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}',
        '\u{2014}', '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}',
        '\u{178}',
    ];
    match byte {
        0x80..=0x9F => C1[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

fn first_word(value: &str) -> String {
    value
        .split(|c: char| c.is_whitespace() || c == ';')
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn text_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn from_header(message: &Message<'_>) -> FromHeader {
    let mut values = message.header_values(HeaderName::From);
    let Some(first) = values.next() else {
        return FromHeader::Missing;
    };
    if values.next().is_some() {
        return FromHeader::Several;
    }
    match first {
        HeaderValue::Address(Address::List(list)) => match list.as_slice() {
            [one] => match one.address.as_deref() {
                Some(address) if !address.trim().is_empty() => {
                    FromHeader::Mailbox(address.trim().to_string())
                }
                _ => FromHeader::Unparsable,
            },
            [] => FromHeader::Unparsable,
            _ => FromHeader::Several,
        },
        HeaderValue::Address(Address::Group(_)) => FromHeader::Group,
        _ => FromHeader::Unparsable,
    }
}

/// A `Sender:` whose address is a list's administrative address (`x-bounces@`, `x-request@`,
/// `owner-x@`, `x-owner@`).
fn sender_names_list(value: &HeaderValue<'_>) -> Option<String> {
    let address = value.as_address()?.first()?.address.as_deref()?;
    let local = address.rsplit_once('@')?.0.to_ascii_lowercase();
    let list_like = local.ends_with("-bounces")
        || local.ends_with("-request")
        || local.ends_with("-owner")
        || local.starts_with("owner-")
        || local.contains("-bounces+");
    list_like.then(|| address.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject_of(raw: &[u8]) -> String {
        let message = MessageParser::new().parse(raw).expect("parses");
        MessageFacts::extract(&message, 0).subject
    }

    #[test]
    fn raw_8bit_subject_is_read_as_windows_1252() {
        let table: [(&[u8], &str); 7] = [
            (
                b"Subject: S\xe9curit\xe9 du compte\n\nx\n",
                "Sécurité du compte",
            ),
            // 0x92 is windows-1252's right single quote, not a C1 control.
            (b"Subject: l\x92acc\xe8s\n\nx\n", "l\u{2019}accès"),
            // Valid UTF-8 mixed with a stray Latin-1 byte keeps its UTF-8.
            (b"Subject: d\xc3\xa9j\xe0 vu\n\nx\n", "déjà vu"),
            // Folded, and with an encoded-word beside the raw bytes.
            (
                b"Subject: R\xe9siliation\n du compte\n\nx\n",
                "Résiliation du compte",
            ),
            (
                b"Subject: =?utf-8?q?caf=C3=A9?= \xe9t\xe9\n\nx\n",
                "café été",
            ),
            // UTF-8 and RFC 2047 subjects are mail-parser's reading, unchanged.
            ("Subject: Sécurité\n\nx\n".as_bytes(), "Sécurité"),
            (b"Subject: =?ISO-8859-1?Q?S=E9curit=E9?=\n\nx\n", "Sécurité"),
        ];
        for (raw, expected) in table {
            assert_eq!(subject_of(raw), expected, "{}", raw.escape_ascii());
        }
    }

    #[test]
    fn the_last_subject_is_the_one_read() {
        assert_eq!(
            subject_of(b"Subject: first\nSubject: s\xe9cond\n\nx\n"),
            "sécond"
        );
        assert_eq!(subject_of(b"From: a@b.example\n\nx\n"), "");
    }

    #[test]
    fn duplicated_singleton_headers_are_named_once_each() {
        let raw = b"From: a@b.example\nTO: x@y.example\nReceived: x\nReceived: y\n\
            Subject: one\nto: z@y.example\nsubject: two\nSUBJECT: three\n\nx\n";
        let message = MessageParser::new().parse(&raw[..]).expect("parses");
        let facts = MessageFacts::extract(&message, 0);
        assert_eq!(facts.duplicated_headers, ["To", "Subject"]);
        let single = MessageParser::new()
            .parse(&b"From: a@b.example\nSubject: one\nComments: a\nComments: b\n\nx\n"[..])
            .expect("parses");
        assert!(MessageFacts::extract(&single, 0)
            .duplicated_headers
            .is_empty());
    }

    #[test]
    fn windows_1252_table_edges() {
        assert_eq!(windows_1252(b'A'), 'A');
        assert_eq!(windows_1252(0x80), '€');
        assert_eq!(windows_1252(0x81), '\u{81}');
        assert_eq!(windows_1252(0x9F), 'Ÿ');
        assert_eq!(windows_1252(0xA0), '\u{A0}');
        assert_eq!(windows_1252(0xFF), 'ÿ');
    }
}
