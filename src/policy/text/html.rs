//! An HTML part reduced to the text a mail client shows, for P4 matching only (never shown to
//! anyone, so it need not be pretty).
//!
//! Tags are removed; inline ones (`<b>`, `<span>`, unknown elements) join their neighbours as a
//! browser does (`In<b>voice</b>` reads `Invoice`), block ones (`<p>`, `<div>`, `<br>`, table
//! cells) separate words. Comments and the content of `<script>` and `<style>` are dropped, up to
//! their end or, unterminated, to the end of the part, as a browser would. Character references
//! (`&amp;`, `&#105;`, `&#x69;`, the Latin-1 letters such as `&eacute;`) are decoded, with or
//! without the final `;` where browsers accept that. The reduction stops as soon as the
//! [`MatchText`] it writes to is full.

use super::normalise::MatchText;

/// Elements that start a new line or a new cell when rendered.
const BLOCK_TAGS: [&str; 34] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "caption",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
    "body",
];

/// Elements whose content is never shown.
const HIDDEN_CONTENT: [&str; 2] = ["script", "style"];

/// Writes the text of `html` to `out` until `out` is full.
pub fn push_text(html: &str, out: &mut MatchText) {
    let bytes = html.as_bytes();
    let mut at = 0;
    while at < bytes.len() && out.wants_more() {
        let Some(offset) = bytes[at..].iter().position(|&b| b == b'<' || b == b'&') else {
            out.push_str(&html[at..]);
            return;
        };
        let special = at + offset;
        if !out.push_str(&html[at..special]) {
            return;
        }
        at = if bytes[special] == b'&' {
            character_reference(html, special, out)
        } else {
            match tag(html, special, out) {
                Some(next) => next,
                None => return,
            }
        };
    }
}

/// Reads the markup that starts with `<` at `start`; the position after it, or None when the
/// rest of the part is markup (an unterminated comment, tag, script or style).
fn tag(html: &str, start: usize, out: &mut MatchText) -> Option<usize> {
    let bytes = html.as_bytes();
    let rest = &bytes[start + 1..];
    if rest.starts_with(b"!--") {
        let end = find(bytes, start + 4, b"-->")?;
        return Some(end + 3);
    }
    let closing = rest.first() == Some(&b'/');
    let name_start = start + 1 + usize::from(closing);
    let name_len = bytes[name_start..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'_'))
        .count();
    let starts_markup = bytes.get(name_start).is_some_and(u8::is_ascii_alphabetic)
        || matches!(rest.first(), Some(b'!' | b'?'))
        || (closing && rest.len() > 1);
    if !starts_markup {
        // `a < b`, `<3`: a less-than sign as text.
        out.push_char('<');
        return Some(start + 1);
    }
    let end = end_of_tag(bytes, name_start + name_len)?;
    let name = html[name_start..name_start + name_len].to_ascii_lowercase();
    if BLOCK_TAGS.contains(&name.as_str()) {
        out.push_char('\n');
    }
    if !closing && HIDDEN_CONTENT.contains(&name.as_str()) {
        let close = format!("</{name}");
        return find_ignoring_case(bytes, end + 1, close.as_bytes());
    }
    Some(end + 1)
}

/// The position of the `>` that ends a tag whose attributes start at `from`; quoted attribute
/// values may contain `>`.
fn end_of_tag(bytes: &[u8], from: usize) -> Option<usize> {
    let mut quote = None;
    for (i, &b) in bytes.iter().enumerate().skip(from) {
        match (quote, b) {
            (None, b'>') => return Some(i),
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), b) if b == q => quote = None,
            _ => {}
        }
    }
    None
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn find_ignoring_case(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p + from)
}

/// Decodes the reference that starts with `&` at `start` into `out`; the position after it.
fn character_reference(html: &str, start: usize, out: &mut MatchText) -> usize {
    let bytes = html.as_bytes();
    let after = start + 1;
    if bytes.get(after) == Some(&b'#') {
        let hex = matches!(bytes.get(after + 1), Some(b'x' | b'X'));
        let digits_start = after + 1 + usize::from(hex);
        let digits = bytes[digits_start.min(bytes.len())..]
            .iter()
            .take_while(|b| {
                if hex {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                }
            })
            .count();
        if digits == 0 {
            out.push_char('&');
            return after;
        }
        let text = &html[digits_start..digits_start + digits.min(8)];
        let value = u32::from_str_radix(text, if hex { 16 } else { 10 }).unwrap_or(0);
        let c = char::from_u32(value)
            .filter(|&c| c != '\0')
            .unwrap_or('\u{fffd}');
        out.push_char(c);
        let end = digits_start + digits;
        return end + usize::from(bytes.get(end) == Some(&b';'));
    }
    let name_len = bytes[after..]
        .iter()
        .take(32)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let name = &html[after..after + name_len];
    if bytes.get(after + name_len) == Some(&b';') {
        if let Some(text) = named(name) {
            out.push_str(text);
            return after + name_len + 1;
        }
    }
    // Without `;`, browsers still read the legacy (HTML 3.2, Latin-1) names, longest first.
    for len in (2..=name_len).rev() {
        if let Some(text) = named(&name[..len]).filter(|_| is_legacy(&name[..len])) {
            out.push_str(text);
            return after + len;
        }
    }
    out.push_char('&');
    after
}

/// Accents that the Latin-1 entity names spell out (`eacute`, `ccedil`, ...).
const ACCENTS: [&str; 8] = [
    "grave", "acute", "circ", "tilde", "uml", "ring", "cedil", "slash",
];

/// The text of a named reference: what P4 patterns need, the accented Latin letters as their
/// base letter (accents are folded away before matching anyway).
fn named(name: &str) -> Option<&'static str> {
    const LETTERS: &str = "AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz";
    if let Some(accent) = name.get(1..) {
        let letter = name.as_bytes()[0];
        if letter.is_ascii_alphabetic() && ACCENTS.contains(&accent) {
            let at = LETTERS.find(char::from(letter))?;
            return LETTERS.get(at..at + 1);
        }
    }
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" | "lsquo" | "rsquo" | "prime" => "'",
        "ldquo" | "rdquo" | "bdquo" | "laquo" | "raquo" => "\"",
        "nbsp" | "ensp" | "emsp" | "thinsp" => " ",
        "shy" => "\u{ad}",
        "zwsp" | "ZeroWidthSpace" => "\u{200b}",
        "zwnj" => "\u{200c}",
        "zwj" => "\u{200d}",
        "lrm" => "\u{200e}",
        "rlm" => "\u{200f}",
        "NoBreak" => "\u{2060}",
        "ndash" | "mdash" | "hyphen" => "-",
        "hellip" => "...",
        "aelig" => "ae",
        "AElig" => "AE",
        "oelig" => "oe",
        "OElig" => "OE",
        "szlig" => "ss",
        "euro" => "€",
        "copy" => "©",
        "reg" => "®",
        _ => return None,
    })
}

fn is_legacy(name: &str) -> bool {
    matches!(
        name,
        "amp"
            | "lt"
            | "gt"
            | "quot"
            | "nbsp"
            | "shy"
            | "laquo"
            | "raquo"
            | "aelig"
            | "AElig"
            | "szlig"
            | "copy"
            | "reg"
    ) || name
        .get(1..)
        .is_some_and(|accent| ACCENTS.contains(&accent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(html: &str) -> String {
        let mut out = MatchText::new(1000);
        push_text(html, &mut out);
        out.into_string()
    }

    #[test]
    fn tags_go_inline_ones_join_block_ones_separate() {
        let table = [
            (
                "<p>Please send the <b>in</b>voice</p>",
                "Please send the invoice",
            ),
            ("<span>In</span><span>voice</span>", "Invoice"),
            ("<div>the</div><div>invoice</div>", "the invoice"),
            ("one<br>two<br/>three", "one two three"),
            ("<table><tr><td>a</td><td>b</td></tr></table>", "a b"),
            ("<a href=\"x>y\" title='>'>link</a> text", "link text"),
            (
                "<o:p>office</o:p> <X-UNKNOWN>tags</X-UNKNOWN>",
                "office tags",
            ),
            // `</` and a non-letter is a bogus comment, dropped like `<!...>`.
            ("a < b and 3<4, <3 </ x> </>!", "a < b and 3<4, <3 !"),
            ("<!DOCTYPE html><?xml version=\"1.0\"?>hi", "hi"),
            ("unterminated <p class=\"x", "unterminated"),
        ];
        for (html, expected) in table {
            assert_eq!(text_of(html), expected, "{html}");
        }
    }

    #[test]
    fn hidden_content_is_dropped() {
        let table = [
            (
                "<head><style>.invoice { color: red }</style></head><body>hello</body>",
                "hello",
            ),
            ("<script type=\"x\">var invoice;</script>hello", "hello"),
            ("a<SCRIPT>x</sCrIpT>b", "ab"),
            ("a<!-- invoice -->b", "ab"),
            ("a<!-- invoice", "a"),
            ("a<style>invoice", "a"),
        ];
        for (html, expected) in table {
            assert_eq!(text_of(html), expected, "{html}");
        }
    }

    #[test]
    fn character_references_are_decoded() {
        let table = [
            ("&lt;p&gt; &amp; &quot;x&quot;", "<p> & \"x\""),
            (
                "&#105;nvoice &#x69;nvoice &#X49;nvoice",
                "invoice invoice Invoice",
            ),
            ("&#105nvoice", "invoice"),
            (
                "In&shy;voice In&shyvoice In&#173;voice",
                "Invoice Invoice Invoice",
            ),
            (
                "In&zwnj;voice In&#8203;voice In&ZeroWidthSpace;voice",
                "Invoice Invoice Invoice",
            ),
            (
                "s&eacute;curit&eacute; s&Eacute;curit&eacutee",
                "securite sEcuritee",
            ),
            ("&agrave; &ccedil;a &oelig;uvre", "a ca oeuvre"),
            ("l&rsquo;acc&egrave;s&nbsp;refus&eacute;", "l'acces refuse"),
            (
                "&unknown; &; & &#; &#x; &#0; &#99999999999;",
                "&unknown; &; & &#; &#x; \u{fffd} \u{fffd}",
            ),
        ];
        for (html, expected) in table {
            assert_eq!(text_of(html), expected, "{html}");
        }
    }

    #[test]
    fn stops_when_the_text_is_full() {
        let mut out = MatchText::new(5);
        push_text("<p>abc</p><p>defgh</p><script>", &mut out);
        assert_eq!(out.into_string(), "abc d");
        // Markup does not count towards the bound, only text.
        let mut out = MatchText::new(7);
        push_text(&format!("{}invoice", "<span></span>".repeat(500)), &mut out);
        assert_eq!(out.into_string(), "invoice");
    }
}
