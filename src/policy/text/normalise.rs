//! The form of text that P4 patterns are matched on.
//!
//! A reader sees `In​voice` (with a zero-width space), `іnvoice` (Cyrillic `і`), `ｉｎｖｏｉｃｅ`
//! (full-width) and `Invoice` alike, so the matcher must too. Each character is, in order:
//!
//! 1. decomposed for compatibility (NFKD: full-width, ligatures, mathematical letters and
//!    non-breaking spaces become their plain forms);
//! 2. dropped if it is a default-ignorable code point (zero-width spaces and joiners, soft
//!    hyphen, bidi controls, variation selectors, tags), a combining mark (the accents of
//!    `é`) or another control character;
//! 3. folded to Latin if it is a common confusable (Cyrillic and Greek letters that look like
//!    Latin ones, small capitals: [`confusable`]).
//!
//! NFKD followed by dropping marks is NFKC followed by the accent folding of earlier versions
//! ([`fold`] once did only the latter), in one pass and one character at a time. Runs of white
//! space become one space in message text ([`MatchText`]), so that a line break inside
//! `credit card` does not hide it; patterns keep theirs ([`fold`]).

use std::borrow::Cow;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// At most this many characters are read per character kept: a part that opens with a long run
/// of invisible characters costs little, and a request hidden behind more of them than that is
/// past the part's bound anyway.
const READ_PER_KEPT: usize = 16;

/// The most that [`MatchText::new`] reserves up front (a part's bound is 500 by default).
const PREALLOCATED: usize = 2048;

/// Message text in matching form, built piece by piece and bounded: at most `limit`
/// characters are kept. Pieces (an HTML reduction pushes many) are joined as they come.
#[derive(Debug)]
pub struct MatchText {
    text: String,
    kept: usize,
    limit: usize,
    read_left: usize,
    space_pending: bool,
}

impl MatchText {
    pub fn new(limit: usize) -> MatchText {
        MatchText {
            // Room for a part's bound, so that a part is not copied again as it grows.
            text: String::with_capacity(limit.min(PREALLOCATED)),
            kept: 0,
            limit,
            read_left: limit.saturating_mul(READ_PER_KEPT),
            space_pending: false,
        }
    }

    /// `text` normalised to at most `limit` characters.
    pub fn of(text: &str, limit: usize) -> String {
        let mut out = MatchText::new(limit);
        out.push_str(text);
        out.into_string()
    }

    /// Whether more text would be kept.
    pub fn wants_more(&self) -> bool {
        self.kept < self.limit && self.read_left > 0
    }

    /// Appends `text`; false once nothing more will be kept.
    pub fn push_str(&mut self, text: &str) -> bool {
        let mut rest = text;
        while let Some(first) = rest.chars().next() {
            if !self.wants_more() {
                return false;
            }
            // Most text is runs of printable ASCII, which is its own matching form: copied
            // whole, not a character at a time through the decomposition.
            let run = self.printable_ascii_run(rest);
            if run > 0 {
                self.keep_printable_ascii(&rest[..run]);
                rest = &rest[run..];
            } else if first.is_ascii_whitespace() {
                self.read_left -= 1;
                self.space_pending = !self.text.is_empty();
                rest = &rest[1..];
            } else {
                self.push_char(first);
                rest = &rest[first.len_utf8()..];
            }
        }
        self.wants_more()
    }

    /// How many leading bytes of `text` are printable ASCII other than space, bounded by what
    /// may still be read and kept (a pending space takes one place).
    fn printable_ascii_run(&self, text: &str) -> usize {
        let room = self.limit - self.kept - usize::from(self.space_pending);
        let most = room.min(self.read_left);
        text.bytes()
            .take(most)
            .take_while(|b| b.is_ascii_graphic())
            .count()
    }

    /// Keeps `run`, printable ASCII that [`Self::printable_ascii_run`] measured to fit.
    fn keep_printable_ascii(&mut self, run: &str) {
        if self.space_pending {
            self.text.push(' ');
            self.kept += 1;
            self.space_pending = false;
        }
        self.text.push_str(run);
        self.kept += run.len();
        self.read_left -= run.len();
    }

    /// Appends one character; false once nothing more will be kept.
    pub fn push_char(&mut self, c: char) -> bool {
        if !self.wants_more() {
            return false;
        }
        self.read_left -= 1;
        fold_char(c, &mut |folded| self.keep(folded));
        self.wants_more()
    }

    fn keep(&mut self, c: char) {
        if c.is_whitespace() {
            self.space_pending = !self.text.is_empty();
            return;
        }
        if self.space_pending && self.kept < self.limit {
            self.text.push(' ');
            self.kept += 1;
            self.space_pending = false;
        }
        if self.kept < self.limit {
            self.text.push(c);
            self.kept += 1;
        }
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

/// A pattern or short text in matching form, white space kept as written. ASCII is returned as
/// is (but for control characters, which never reach a pattern).
pub fn fold(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char(c, &mut |folded| out.push(folded));
    }
    Cow::Owned(out)
}

/// One character in matching form: none, one or a few characters.
fn fold_char(c: char, emit: &mut impl FnMut(char)) {
    if c.is_ascii() {
        if !c.is_ascii_control() || c.is_ascii_whitespace() {
            emit(c);
        }
        return;
    }
    decompose_compatible(c, |part| match part {
        part if part.is_ascii() => emit(part),
        part if is_default_ignorable(part) || is_combining_mark(part) => {}
        part if part.is_control() && !part.is_whitespace() => {}
        '\u{2018}' | '\u{2019}' | '\u{2032}' => emit('\''),
        'œ' | 'Œ' | 'æ' | 'Æ' => {
            let (first, second) = match part {
                'œ' => ('o', 'e'),
                'Œ' => ('O', 'E'),
                'æ' => ('a', 'e'),
                _ => ('A', 'E'),
            };
            emit(first);
            emit(second);
        }
        part => emit(confusable(part).unwrap_or(part)),
    });
}

/// Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): characters that render
/// as nothing unless a font chooses otherwise.
pub fn is_default_ignorable(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// The Latin letter that a common look-alike stands for (after the confusables of Unicode's
/// UTS #39 that matter for Latin words: Cyrillic, Greek, small capitals and a few IPA letters).
/// Capitals map to capitals: matching is case-insensitive anyway.
pub fn confusable(c: char) -> Option<char> {
    Some(match c {
        // Cyrillic
        'а' => 'a',
        'в' => 'b',
        'ԁ' => 'd',
        'е' | 'ё' => 'e',
        'һ' | 'н' => 'h',
        'і' => 'i',
        'ј' => 'j',
        'к' => 'k',
        'ӏ' => 'l',
        'м' => 'm',
        'о' => 'o',
        'р' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'т' => 't',
        'с' => 'c',
        'у' => 'y',
        'ԝ' => 'w',
        'х' => 'x',
        'А' => 'A',
        'В' => 'B',
        'С' => 'C',
        'Е' => 'E',
        'Н' => 'H',
        'І' => 'I',
        'Ј' => 'J',
        'К' => 'K',
        'М' => 'M',
        'О' => 'O',
        'Р' => 'P',
        'Ѕ' => 'S',
        'Т' => 'T',
        'У' => 'Y',
        'Х' => 'X',
        // Greek
        'α' => 'a',
        'ε' => 'e',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ο' => 'o',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        'Α' => 'A',
        'Β' => 'B',
        'Ε' => 'E',
        'Ζ' => 'Z',
        'Η' => 'H',
        'Ι' => 'I',
        'Κ' => 'K',
        'Μ' => 'M',
        'Ν' => 'N',
        'Ο' => 'O',
        'Ρ' => 'P',
        'Τ' => 'T',
        'Υ' => 'Y',
        'Χ' => 'X',
        // Latin look-alikes outside ASCII: dotless i, IPA, small capitals
        'ı' => 'i',
        'ɑ' => 'a',
        'ɡ' => 'g',
        'ᴀ' => 'a',
        'ʙ' => 'b',
        'ᴄ' => 'c',
        'ᴅ' => 'd',
        'ᴇ' => 'e',
        'ɢ' => 'g',
        'ʜ' => 'h',
        'ɪ' => 'i',
        'ᴊ' => 'j',
        'ᴋ' => 'k',
        'ʟ' => 'l',
        'ᴍ' => 'm',
        'ɴ' => 'n',
        'ᴏ' => 'o',
        'ᴘ' => 'p',
        'ʀ' => 'r',
        'ꜱ' => 's',
        'ᴛ' => 't',
        'ᴜ' => 'u',
        'ᴠ' => 'v',
        'ᴡ' => 'w',
        'ʏ' => 'y',
        'ᴢ' => 'z',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evasions_normalise_to_the_plain_word() {
        let table = [
            ("In\u{200b}voice", "Invoice"),
            ("In\u{ad}voice", "Invoice"),
            ("In\u{200c}vo\u{200d}ice", "Invoice"),
            ("In\u{2060}voice\u{feff}", "Invoice"),
            ("\u{202e}In\u{200e}vo\u{200f}i\u{2066}ce\u{2069}", "Invoice"),
            ("Inv\u{fe0f}oice", "Invoice"),
            ("\u{456}nvoice", "invoice"),
            ("\u{406}NV\u{41e}\u{406}\u{421}\u{415}", "INVOICE"),
            ("\u{3b9}nv\u{3bf}\u{3b9}ce", "invoice"),
            (
                "\u{ff49}\u{ff4e}\u{ff56}\u{ff4f}\u{ff49}\u{ff43}\u{ff45}",
                "invoice",
            ),
            ("\u{1d422}\u{1d427}\u{1d42f}oice", "invoice"),
            ("ᴘᴀssᴡᴏʀᴅ", "password"),
            ("Sécurité", "Securite"),
            ("Ｓｅ́curite\u{301}", "Securite"),
            ("l’œuvre", "l'oeuvre"),
            ("\u{fb01}n", "fin"),
        ];
        for (text, expected) in table {
            assert_eq!(
                MatchText::of(text, 100),
                expected,
                "{}",
                text.escape_unicode()
            );
            assert_eq!(fold(text), expected, "{}", text.escape_unicode());
        }
    }

    #[test]
    fn white_space_collapses_in_text_only() {
        assert_eq!(
            MatchText::of("  credit\r\n\t card\u{a0}\u{3000}number  ", 100),
            "credit card number"
        );
        assert_eq!(fold("a  b\u{a0}c"), "a  b c");
        assert_eq!(MatchText::of("a\0b\x1bc\u{85}d\u{9f}e", 100), "abc de");
    }

    #[test]
    fn the_bound_counts_kept_characters() {
        assert_eq!(MatchText::of("abcdef", 3), "abc");
        assert_eq!(MatchText::of(&"\u{200b}".repeat(40), 3), "");
        // Invisible padding does not use up the bound, up to 16 characters read per kept one.
        let padded = format!("{}invoice", "\u{200b}".repeat(30));
        assert_eq!(MatchText::of(&padded, 7), "invoice");
        let too_much = format!("{}invoice", "\u{200b}".repeat(200));
        assert_eq!(MatchText::of(&too_much, 7), "");
        let mut out = MatchText::new(5);
        assert!(out.push_str("ab "));
        assert!(!out.push_str("cdef"));
        assert!(!out.push_char('g'));
        assert_eq!(out.into_string(), "ab cd");
    }

    #[test]
    fn the_ascii_fast_path_keeps_what_one_character_at_a_time_keeps() {
        let texts = [
            "plain words, then   spaces\r\n\tand lines",
            "  leading and trailing  ",
            "mixed Sécurité and In\u{200b}voice and ｉｎｖｏｉｃｅ here",
            "ctl\x01\x1b[31mred\x07 end",
            "\u{200b}\u{200b}\u{200b}abc def",
        ];
        for text in texts {
            for limit in [0, 1, 2, 3, 5, 8, 13, 100] {
                let mut slow = MatchText::new(limit);
                for c in text.chars() {
                    slow.push_char(c);
                }
                let slow = slow.into_string();
                assert_eq!(MatchText::of(text, limit), slow, "{text:?} at {limit}");
                // Pieces pushed one after another agree with the whole.
                let mut pieces = MatchText::new(limit);
                for piece in text.split_inclusive(' ') {
                    pieces.push_str(piece);
                }
                assert_eq!(pieces.into_string(), slow, "{text:?} in pieces at {limit}");
            }
        }
    }

    #[test]
    fn other_scripts_are_left_alone() {
        assert_eq!(MatchText::of("Спасибо", 100), "Cпacибo");
        assert_eq!(MatchText::of("日本語", 100), "日本語");
        assert_eq!(confusable('b'), None);
        assert!(is_default_ignorable('\u{e0041}') && !is_default_ignorable(' '));
    }
}
