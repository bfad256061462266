//! `[policy]`, `[actions]`, `[[category]]` (the policy core's settings) and `[addresses]` (how
//! addresses are compared, for the directory and the policy alike).

use super::checker::Checker;
use super::file;
use crate::address::AddressRules;
use crate::directory::{Language, Role};
use crate::policy::{Action, CategoryRule, IdentificationStrategy, PolicySettings, Reason};
use std::collections::BTreeMap;
use std::str::FromStr;

impl Checker {
    pub(super) fn address_rules(&mut self, raw: &file::AddressesFile) -> AddressRules {
        let case_insensitive_local_part = match raw.local_part_case.as_str() {
            "insensitive" => true,
            "sensitive" => false,
            other => {
                self.problem(
                    "addresses.local_part_case",
                    format!("{other:?}: expected \"insensitive\" or \"sensitive\""),
                );
                true
            }
        };
        let mut chars = raw.subaddress_separator.chars();
        let subaddress_separator = match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_alphanumeric() && c != '@' => c,
            _ => {
                self.problem(
                    "addresses.subaddress_separator",
                    "expected one punctuation character, e.g. \"+\"",
                );
                '+'
            }
        };
        AddressRules {
            case_insensitive_local_part,
            strip_subaddress: raw.strip_sender_subaddress,
            subaddress_separator,
        }
    }

    pub(super) fn policy(
        &mut self,
        raw: &file::PolicyFile,
        actions: &BTreeMap<String, String>,
        categories: &[file::CategoryFile],
    ) -> PolicySettings {
        let mut settings = PolicySettings::default();
        settings.account_order.clear();
        for name in &raw.account_order {
            match IdentificationStrategy::from_str(name) {
                Ok(s) if !settings.account_order.contains(&s) => settings.account_order.push(s),
                Ok(_) => self.problem("policy.account_order", format!("{name:?} is listed twice")),
                Err(()) => self.problem(
                    "policy.account_order",
                    format!(
                        "{name:?}: expected recipient-tag, recipient-mailbox, subject or sender"
                    ),
                ),
            }
        }
        settings.categories_match_body = raw.categories_match_body;
        settings.category_body_chars = raw.category_body_chars;
        settings.notify_privileged = raw.notify_privileged;
        for (reason, action) in actions {
            let key = format!("actions.{reason}");
            let Ok(reason) = Reason::from_str(reason) else {
                let known: Vec<_> = Reason::ALL.iter().map(|r| r.code()).collect();
                self.problem(
                    &key,
                    format!("unknown reason code; known: {}", known.join(", ")),
                );
                continue;
            };
            match Action::from_str(action) {
                Ok(action) => settings.set_action(reason, action),
                Err(()) => self.problem(
                    &key,
                    format!(
                        "unknown action {action:?}: expected forward, reply, hold, reject or quarantine"
                    ),
                ),
            }
        }
        let mut rules = Vec::with_capacity(categories.len());
        for (i, category) in categories.iter().enumerate() {
            let key = format!("category[{i}] ({})", category.name);
            let requires = match category.requires.as_str() {
                "owner" => Role::Owner,
                "admin" => Role::Admin,
                other => {
                    self.problem(
                        &format!("{key}.requires"),
                        format!("{other:?}: expected \"owner\" or \"admin\""),
                    );
                    Role::Admin
                }
            };
            if category.patterns.is_empty() {
                self.problem(&format!("{key}.patterns"), "at least one pattern is needed");
            }
            match CategoryRule::new(&category.name, requires, &category.patterns) {
                Ok(rule) => {
                    let rule = self.category_labels(&key, rule, &category.label);
                    rules.push(rule);
                }
                Err(e) => self.problem(&format!("{key}.patterns"), e),
            }
        }
        settings.categories = crate::policy::categories::Categories::from_rules(rules);
        settings
    }

    /// `label = { en = "…", fr = "…" }`: one label per shipped language, none empty.
    fn category_labels(
        &mut self,
        key: &str,
        mut rule: CategoryRule,
        labels: &BTreeMap<String, String>,
    ) -> CategoryRule {
        for (code, label) in labels {
            let label_key = format!("{key}.label.{code}");
            let Some(language) = Language::ALL.into_iter().find(|l| l.as_str() == code) else {
                let known: Vec<_> = Language::ALL.iter().map(|l| l.as_str()).collect();
                self.problem(
                    &label_key,
                    format!("unknown language; known: {}", known.join(", ")),
                );
                continue;
            };
            if label.trim().is_empty() {
                self.problem(
                    &label_key,
                    "empty label: leave the language out to show the name",
                );
                continue;
            }
            rule = rule.with_label(language, label.trim());
        }
        rule
    }
}
