//! What the policy needs to know about a message, read once from the parsed headers.

use mail_parser::{Address, HeaderName, HeaderValue, Message};

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
    /// The start of the first text body, for P4 category matching.
    pub body_start: String,
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
}

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
    /// Reads the facts from a parsed message; `body_chars` bounds how much body text is kept.
    pub fn extract(message: &Message<'_>, body_chars: usize) -> MessageFacts {
        let mut facts = MessageFacts {
            from: Some(from_header(message)),
            subject: message.subject().map(str::to_string).unwrap_or_default(),
            message_id: message.message_id().map(str::to_string),
            references: text_list(message.references()),
            ..MessageFacts::default()
        };
        if body_chars > 0 {
            if let Some(text) = message.body_text(0) {
                facts.body_start = text.chars().take(body_chars).collect();
            }
        }
        for header in message.headers() {
            let name = header.name.as_str();
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
    let text = String::from_utf8_lossy(bytes);
    // Unfold (RFC 5322 §2.2.3) so that the value is one line.
    text.split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
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
