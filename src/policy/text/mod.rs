//! The text of a message that P4 categories are matched on, in matching form.
//!
//! Every text part counts, not only the first body: a request in the HTML alternative, in a
//! second text part, in a text attachment or in an attached message (`message/rfc822`, whose
//! Subject counts too) reaches the helpdesk as well. Each part is read up to
//! `category_body_chars` characters after normalisation ([`normalise`]), HTML reduced to its
//! text first ([`html`]). At most [`MAX_TEXT_PARTS`] are read, so that a message of thousands
//! of parts costs no more than a few.

pub mod html;
pub mod normalise;

use mail_parser::{Message, PartType};
pub use normalise::{fold, MatchText};

/// Text parts (and attached messages' Subjects) read per message, nested messages included.
pub const MAX_TEXT_PARTS: usize = 50;

/// The start of every text part of `message`, in matching form, at most `chars_per_part`
/// characters each; empty parts are left out.
pub fn part_texts(message: &Message<'_>, chars_per_part: usize) -> Vec<String> {
    let mut texts = Vec::new();
    if chars_per_part > 0 {
        let mut budget = MAX_TEXT_PARTS;
        collect(message, chars_per_part, &mut budget, &mut texts);
    }
    texts
}

fn collect(message: &Message<'_>, chars: usize, budget: &mut usize, texts: &mut Vec<String>) {
    for part in &message.parts {
        if *budget == 0 {
            return;
        }
        let text = match &part.body {
            PartType::Text(text) => MatchText::of(text, chars),
            PartType::Html(html) => {
                let mut out = MatchText::new(chars);
                html::push_text(html, &mut out);
                out.into_string()
            }
            PartType::Message(attached) => {
                // mail-parser bounds the nesting (three levels), the budget the parts read.
                let subject = attached.subject().map(|s| MatchText::of(s, chars));
                *budget -= 1;
                texts.extend(subject.filter(|s| !s.is_empty()));
                collect(attached, chars, budget, texts);
                continue;
            }
            PartType::Binary(_) | PartType::InlineBinary(_) | PartType::Multipart(_) => continue,
        };
        *budget -= 1;
        if !text.is_empty() {
            texts.push(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn texts_of(raw: &str, chars: usize) -> Vec<String> {
        let message = MessageParser::default().parse(raw.as_bytes()).unwrap();
        part_texts(&message, chars)
    }

    #[test]
    fn every_text_part_is_read() {
        let raw = "From: a@b.example\nContent-Type: multipart/mixed; boundary=m\n\n\
            --m\nContent-Type: multipart/alternative; boundary=a\n\n\
            --a\nContent-Type: text/plain\n\nplain text\n\
            --a\nContent-Type: text/html\n\n<p>html&nbsp;text</p>\n--a--\n\
            --m\nContent-Type: text/plain\n\nsecond part\n\
            --m\nContent-Type: text/csv; name=x.csv\nContent-Disposition: attachment\n\na,b\n\
            --m\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\naW52b2ljZQ==\n\
            --m\nContent-Type: message/rfc822\n\nSubject: inner subject\n\ninner body\n\
            --m--\n";
        assert_eq!(
            texts_of(raw, 100),
            [
                "plain text",
                "html text",
                "second part",
                "a,b",
                "inner subject",
                "inner body"
            ]
        );
        assert_eq!(texts_of(raw, 5)[0], "plain");
        assert!(texts_of(raw, 0).is_empty());
    }

    #[test]
    fn the_number_of_parts_read_is_bounded() {
        let mut raw =
            String::from("From: a@b.example\nContent-Type: multipart/mixed; boundary=m\n\n");
        for i in 0..200 {
            raw.push_str(&format!("--m\nContent-Type: text/plain\n\npart {i}\n"));
        }
        raw.push_str("--m--\n");
        let texts = texts_of(&raw, 100);
        assert_eq!(texts.len(), MAX_TEXT_PARTS);
        assert_eq!(texts.last().map(String::as_str), Some("part 49"));
    }
}
