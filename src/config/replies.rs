//! `[replies]`: validated here into the reply layer's own [`ReplySettings`]. The templates
//! themselves are read and parsed once, by `reply::Templates::load` when the engine is put
//! together (or by `config check`); `Config::template_problems` names what it found.

use super::checker::Checker;
use super::file;
use super::targets::{parse_target, Target};
use crate::address::{AddressRules, NormalizedAddress};
use crate::directory::Language;
use crate::policy::Reason;
use crate::reply::{ReplySettings, ReplyTransport, NOTIFY_TEMPLATE};
use std::collections::BTreeMap;
use std::str::FromStr;

impl Checker {
    pub(super) fn replies(
        &mut self,
        raw: file::RepliesFile,
        rules: &AddressRules,
    ) -> ReplySettings {
        let from = self
            .address("replies.from", &raw.from, rules)
            .unwrap_or_else(|| {
                NormalizedAddress::parse("invalid@invalid.example", rules).expect("valid literal")
            });
        let transport = if raw.transport == "mx" {
            ReplyTransport::Mx
        } else {
            match parse_target(&raw.transport) {
                Some(Target::Maildir(p)) => ReplyTransport::Maildir(self.path(&p)),
                Some(Target::Smtp(host, port)) => ReplyTransport::Smtp { host, port },
                Some(Target::Pipe(_)) | None => {
                    self.problem(
                        "replies.transport",
                        format!(
                            "{:?}: expected \"maildir:PATH\", \"smtp://HOST:PORT\" or \"mx\"",
                            raw.transport
                        ),
                    );
                    ReplyTransport::Mx
                }
            }
        };
        let default_language = Language::from_tag(&raw.default_language).unwrap_or_else(|| {
            self.problem(
                "replies.default_language",
                format!("{:?}: expected \"fr\" or \"en\"", raw.default_language),
            );
            Language::En
        });
        let interval = self.duration("replies.interval", &raw.interval);
        let templates = self.path(&raw.templates);
        let mut template_files = BTreeMap::new();
        for (name, value) in &raw.template_files {
            let valid_name = name.split_once('/').is_some_and(|(lang, reason)| {
                Language::from_tag(lang).is_some()
                    && (reason == NOTIFY_TEMPLATE || Reason::from_str(reason).is_ok())
            });
            if !valid_name {
                self.problem(
                    &format!("replies.template_files.\"{name}\""),
                    "expected LANG/REASON, e.g. \"fr/not-registered\" or \"en/notify-privileged\"",
                );
            }
            template_files.insert(name.clone(), self.path(value));
        }
        self.positive("replies.max_per_hour", raw.max_per_hour.into());
        if raw.billing_contact.trim().is_empty() {
            self.problem(
                "replies.billing_contact",
                "empty: replies about an inactive account must say whom to contact",
            );
        }
        ReplySettings {
            max_per_hour: raw.max_per_hour,
            from,
            transport,
            default_language,
            interval,
            templates,
            template_files,
            sign_in_url: raw.sign_in_url,
            billing_contact: raw.billing_contact.trim().to_string(),
        }
    }
}
