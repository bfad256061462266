//! P4 sensitive categories: patterns matched on the decoded Subject and the start of every
//! text part ([`super::text`]).
//!
//! Matching is case-insensitive, accent-insensitive and blind to invisible and look-alike
//! characters: text and patterns go through the same normalisation ([`super::text::normalise`]:
//! `sécurité` and `securite` are the same word, and so are `In\u{200b}voice`, `іnvoice` with a
//! Cyrillic `і` and the full-width `ｉｎｖｏｉｃｅ`), so administrators need not write every
//! spelling twice.
//!
//! A category's `name` is its stable code (logs, metrics, headers, the [`super::Decision`]);
//! its `label` is what people read in replies and notifications, per language.

use crate::directory::{Language, Role};
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

pub use super::text::fold;
use super::text::MatchText;

/// One `[[category]]`.
#[derive(Debug, Clone)]
pub struct CategoryRule {
    pub name: String,
    /// The lowest role that may ask: `Admin` (admin or owner) or `Owner`.
    pub requires: Role,
    /// The name shown to people, per language (`label = { fr = "facturation" }`); a language
    /// without one shows `name`.
    labels: Vec<(Language, String)>,
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
            labels: Vec::new(),
            matcher,
        })
    }

    /// Sets the label shown in `language` (replacing an earlier one).
    pub fn with_label(mut self, language: Language, label: &str) -> CategoryRule {
        self.labels.retain(|(l, _)| *l != language);
        self.labels.push((language, label.to_string()));
        self
    }

    /// What people read in `language`: its label, else the name.
    pub fn label(&self, language: Language) -> &str {
        self.labels
            .iter()
            .find(|(l, _)| *l == language)
            .map_or(self.name.as_str(), |(_, label)| label.as_str())
    }

    /// Whether `role` may ask for this category.
    pub fn allows(&self, role: Role) -> bool {
        match self.requires {
            Role::Owner => role == Role::Owner,
            _ => matches!(role, Role::Owner | Role::Admin),
        }
    }

    /// Matches text already in matching form ([`fold`], [`MatchText`]).
    pub fn matches_folded(&self, folded: &str) -> bool {
        self.matcher.is_match(folded.as_bytes())
    }
}

/// All `[[category]]` rules, with one matcher over all of them so that a message is scanned
/// once, whatever the number of categories.
///
/// Most messages fall into no category: they are scanned by `any_match`, one regular
/// expression of every pattern, which stops at the first match and costs a third of the set's
/// scan (measured with callgrind on the shipped categories, issue 10). Only a message that
/// matches is scanned again by `which`, the set that says which categories it falls into.
#[derive(Debug, Clone, Default)]
pub struct Categories {
    rules: Vec<CategoryRule>,
    any_match: Option<Regex>,
    which: Option<RegexSet>,
}

impl Categories {
    /// All the rules at once (configuration order is match priority): the matchers are built
    /// once, however many rules there are.
    pub fn from_rules(rules: Vec<CategoryRule>) -> Categories {
        let mut categories = Categories {
            rules,
            ..Categories::default()
        };
        categories.build_matchers();
        categories
    }

    /// Adds a rule after the others (and builds the matchers again).
    pub fn push(&mut self, rule: CategoryRule) {
        self.rules.push(rule);
        self.build_matchers();
    }

    fn build_matchers(&mut self) {
        if self.rules.is_empty() {
            return;
        }
        let patterns: Vec<&str> = self.rules.iter().map(|r| r.matcher.as_str()).collect();
        let alternatives: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
        self.any_match = RegexBuilder::new(&alternatives.join("|"))
            .case_insensitive(true)
            .unicode(false)
            .size_limit(8 << 20)
            .build()
            .ok();
        self.which = RegexSetBuilder::new(patterns)
            .case_insensitive(true)
            .unicode(false)
            .size_limit(8 << 20)
            .build()
            .ok();
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &CategoryRule> {
        self.rules.iter()
    }

    /// The rule called `name` ([`super::Decision::category`]), for its labels.
    pub fn get(&self, name: &str) -> Option<&CategoryRule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// The first category (in configuration order) that `subject` or one of `parts` falls
    /// into. `subject` is as decoded; `parts` are already in matching form
    /// ([`MessageFacts::part_texts`](super::MessageFacts::part_texts)).
    pub fn find(&self, subject: &str, parts: &[String]) -> Option<&CategoryRule> {
        if self.rules.is_empty() {
            return None;
        }
        let mut text = MatchText::of(subject, usize::MAX);
        for part in parts {
            // A blank line between them (runs of white space inside are one space): no
            // pattern spans two.
            text.push_str("\n\n");
            text.push_str(part);
        }
        if let Some(any_match) = &self.any_match {
            if !any_match.is_match(text.as_bytes()) {
                return None;
            }
        }
        match &self.which {
            Some(set) => set
                .matches(text.as_bytes())
                .iter()
                .next()
                .and_then(|i| self.rules.get(i)),
            None => self.rules.iter().find(|r| r.matches_folded(&text)),
        }
    }
}

/// The first category of `rules` that `subject` or one of `parts` falls into.
pub fn find_category<'a>(
    rules: &'a Categories,
    subject: &str,
    parts: &[String],
) -> Option<&'a CategoryRule> {
    rules.find(subject, parts)
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
        let mut rules = Categories::default();
        rules.push(rule);
        for text in ["Problème de SÉCURITÉ", "securite", "Reset 2FA please"] {
            assert!(find_category(&rules, text, &[]).is_some(), "{text}");
        }
        for text in ["2fab", "sure"] {
            assert!(find_category(&rules, text, &[]).is_none(), "{text}");
        }
        assert!(find_category(&rules, "hello", &["my 2FA device is lost".into()]).is_some());
    }

    #[test]
    fn configuration_order_wins_wherever_the_match_is() {
        let mut rules = Categories::default();
        rules.push(CategoryRule::new("billing", Role::Admin, &["invoice".into()]).unwrap());
        rules.push(CategoryRule::new("data-export", Role::Admin, &["export".into()]).unwrap());
        let found = find_category(&rules, "export first", &["then the invoice".into()]);
        assert_eq!(found.map(|r| r.name.as_str()), Some("billing"));
        let found = find_category(&rules, "only an export", &[]);
        assert_eq!(found.map(|r| r.name.as_str()), Some("data-export"));
        assert!(find_category(&rules, "nothing sensitive", &["at all".into()]).is_none());
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

    #[test]
    fn label_in_the_language_else_the_name() {
        let mut rules = Categories::default();
        rules.push(
            CategoryRule::new("billing", Role::Admin, &["invoice".into()])
                .unwrap()
                .with_label(Language::Fr, "facturation"),
        );
        rules.push(CategoryRule::new("data-export", Role::Admin, &["export".into()]).unwrap());
        let billing = rules.get("billing").unwrap();
        assert_eq!(billing.label(Language::Fr), "facturation");
        assert_eq!(billing.label(Language::En), "billing");
        let export = rules.get("data-export").unwrap();
        for language in Language::ALL {
            assert_eq!(export.label(language), "data-export");
        }
        assert!(rules.get("nope").is_none());
        let relabelled = rules
            .get("billing")
            .unwrap()
            .clone()
            .with_label(Language::Fr, "paiements");
        assert_eq!(relabelled.label(Language::Fr), "paiements");
    }
}
