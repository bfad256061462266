//! P4 sensitive categories: patterns matched on the decoded Subject and the start of the body.
//!
//! Matching is case-insensitive and accent-insensitive: both the text and the patterns have
//! their diacritics removed (`sécurité` and `securite` are the same word), so administrators
//! need not write every spelling twice.

use crate::directory::Role;
use regex::bytes::{Regex, RegexBuilder};
use std::borrow::Cow;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// One `[[category]]`.
#[derive(Debug, Clone)]
pub struct CategoryRule {
    pub name: String,
    /// The lowest role that may ask: `Admin` (admin or owner) or `Owner`.
    pub requires: Role,
    matcher: Regex,
}

impl CategoryRule {
    /// Compiles the patterns (regular expressions, see the `regex` crate) into one matcher.
    pub fn new(name: &str, requires: Role, patterns: &[String]) -> Result<CategoryRule, String> {
        let alternatives: Vec<String> = patterns
            .iter()
            .map(|p| format!("(?:{})", fold(p)))
            .collect();
        // Text and patterns are folded to ASCII letters first, so ASCII-only case folding and
        // word boundaries suffice; they keep the matcher on the fast DFA path.
        let matcher = RegexBuilder::new(&alternatives.join("|"))
            .case_insensitive(true)
            .unicode(false)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("bad pattern: {}", e.to_string().replace('\n', " ")))?;
        Ok(CategoryRule {
            name: name.to_string(),
            requires,
            matcher,
        })
    }

    /// Whether `role` may ask for this category.
    pub fn allows(&self, role: Role) -> bool {
        match self.requires {
            Role::Owner => role == Role::Owner,
            _ => matches!(role, Role::Owner | Role::Admin),
        }
    }

    /// Matches text already passed through [`fold`].
    pub fn matches_folded(&self, folded: &str) -> bool {
        self.matcher.is_match(folded.as_bytes())
    }
}

/// Removes diacritics (NFD, then drops combining marks) and typographic apostrophes, so that
/// `Sécurité`, `securite` and `SECURITE` compare alike under a case-insensitive match.
pub fn fold(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' => '\'',
            '\u{a0}' => ' ',
            other => other,
        })
        .collect::<String>()
        .into()
}

/// The first category (in configuration order) that `subject` or `body_start` falls into.
pub fn find_category<'a>(
    rules: &'a [CategoryRule],
    subject: &str,
    body_start: Option<&str>,
) -> Option<&'a CategoryRule> {
    if rules.is_empty() {
        return None;
    }
    let subject = fold(subject);
    let body = body_start.map(fold);
    let body = body.as_deref();
    rules
        .iter()
        .find(|rule| rule.matches_folded(&subject) || body.is_some_and(|b| rule.matches_folded(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_without_case_or_accents() {
        let rule = CategoryRule::new(
            "security",
            Role::Admin,
            &["s[ée]curit[ée]".into(), r"\b2fa\b".into()],
        )
        .unwrap();
        let rules = [rule];
        for text in ["Problème de SÉCURITÉ", "securite", "Reset 2FA please"] {
            assert!(find_category(&rules, text, None).is_some(), "{text}");
        }
        for text in ["2fab", "sure"] {
            assert!(find_category(&rules, text, None).is_none(), "{text}");
        }
        assert!(find_category(&rules, "hello", Some("my 2FA device is lost")).is_some());
    }

    #[test]
    fn requires_means_at_least() {
        let admin = CategoryRule::new("billing", Role::Admin, &["invoice".into()]).unwrap();
        let owner = CategoryRule::new("ownership", Role::Owner, &["owner".into()]).unwrap();
        assert!(
            admin.allows(Role::Owner) && admin.allows(Role::Admin) && !admin.allows(Role::Agent)
        );
        assert!(owner.allows(Role::Owner) && !owner.allows(Role::Admin));
        assert!(CategoryRule::new("bad", Role::Admin, &["(".into()]).is_err());
    }
}
