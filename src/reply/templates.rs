//! The set of template files: one per refusal reason and language, plus the P4 notification
//! and the messages of an approval (SPEC §11, [`ApprovalTemplate`]).
//!
//! Files live at `{replies.templates}/{lang}/{name}.txt`; `[replies.template_files]` can point
//! any `"lang/name"` elsewhere. [`Templates::load`] is the module's only IO: it reads every
//! file, parses it (so a bad variable is found at start-up, not when a reply goes out) and
//! reports every problem at once.

use super::approval::ApprovalTemplate;
use super::template::{Template, TemplateKind};
use super::{ReplySettings, NOTIFY_TEMPLATE};
use crate::directory::Language;
use crate::policy::Reason;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Larger template files are refused: a template is a few paragraphs.
const MAX_TEMPLATE_BYTES: u64 = 64 * 1024;

/// One template file's identity: `fr/not-registered`, `en/notify-privileged`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TemplateName {
    Reply(Reason),
    Notification,
    Approval(ApprovalTemplate),
}

impl TemplateName {
    /// Every template a complete set has: each reason that may be replied to
    /// ([`Reason::may_reply`]: not `accepted`, not `automated`), and the notification.
    pub fn all() -> impl Iterator<Item = TemplateName> {
        Reason::ALL
            .into_iter()
            .filter(|r| r.may_reply())
            .map(TemplateName::Reply)
            .chain([TemplateName::Notification])
            .chain(ApprovalTemplate::ALL.map(TemplateName::Approval))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TemplateName::Reply(reason) => reason.code(),
            TemplateName::Notification => NOTIFY_TEMPLATE,
            TemplateName::Approval(which) => which.code(),
        }
    }

    fn kind(self) -> TemplateKind {
        match self {
            TemplateName::Reply(_) => TemplateKind::Reply,
            TemplateName::Notification => TemplateKind::Notification,
            TemplateName::Approval(ApprovalTemplate::Request) => TemplateKind::ApprovalRequest,
            TemplateName::Approval(_) => TemplateKind::Reply,
        }
    }

    fn parse(name: &str) -> Option<TemplateName> {
        if name == NOTIFY_TEMPLATE {
            return Some(TemplateName::Notification);
        }
        if let Some(which) = ApprovalTemplate::ALL.into_iter().find(|t| t.code() == name) {
            return Some(TemplateName::Approval(which));
        }
        Reason::from_str(name)
            .ok()
            .filter(|r| r.may_reply())
            .map(TemplateName::Reply)
    }
}

/// `"fr/not-registered"`, the key of `[replies.template_files]`.
pub fn template_key(language: Language, name: TemplateName) -> String {
    format!("{}/{}", language.as_str(), name.as_str())
}

/// A complete, validated set of templates.
#[derive(Debug, Clone)]
pub struct Templates {
    by_name: HashMap<(Language, TemplateName), Template>,
}

impl Templates {
    /// Reads and checks every template file; `Err` has one line per problem, e.g.
    /// `template fr/not-registered: /etc/supportgate/templates/fr/not-registered.txt does not exist`.
    pub fn load(settings: &ReplySettings) -> Result<Templates, Vec<String>> {
        let mut by_name = HashMap::new();
        let mut problems = Vec::new();
        // A missing folder is one problem, not one per template that would be in it.
        let missing = |folder: &Path| !folder.is_dir();
        let root_missing = missing(&settings.templates);
        if root_missing {
            problems.push(format!(
                "folder {} does not exist (the templates are read from it)",
                settings.templates.display()
            ));
        }
        for language in Language::ALL {
            let folder = settings.templates.join(language.as_str());
            let folder_missing = !root_missing && missing(&folder);
            if folder_missing {
                problems.push(format!(
                    "folder {} does not exist (the {} templates are read from it)",
                    folder.display(),
                    language.as_str()
                ));
            }
            for name in TemplateName::all() {
                let key = template_key(language, name);
                let elsewhere = settings.template_files.contains_key(&key);
                if (root_missing || folder_missing) && !elsewhere {
                    continue;
                }
                let path = template_path(settings, &key);
                let parsed = read_template(&path).and_then(|text| {
                    Template::parse(&text, name.kind())
                        .map_err(|e| format!("{}: {e}", path.display()))
                });
                match parsed {
                    Ok(template) => {
                        by_name.insert((language, name), template);
                    }
                    Err(problem) => problems.push(format!("template {key}: {problem}")),
                }
            }
        }
        if problems.is_empty() {
            Ok(Templates { by_name })
        } else {
            Err(problems)
        }
    }

    /// A set from texts keyed `"lang/name"` (tests, embedded sets); every template is required.
    pub fn from_texts<'a>(
        texts: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Templates, Vec<String>> {
        let mut by_name = HashMap::new();
        let mut problems = Vec::new();
        for (key, text) in texts {
            let parsed_key = key.split_once('/').and_then(|(lang, name)| {
                Some((Language::from_tag(lang)?, TemplateName::parse(name)?))
            });
            let Some((language, name)) = parsed_key else {
                problems.push(format!("template {key}: not a LANG/REASON name"));
                continue;
            };
            match Template::parse(text, name.kind()) {
                Ok(template) => {
                    by_name.insert((language, name), template);
                }
                Err(e) => problems.push(format!("template {key}: {e}")),
            }
        }
        for language in Language::ALL {
            for name in TemplateName::all() {
                if !by_name.contains_key(&(language, name)) {
                    problems.push(format!(
                        "template {}: missing",
                        template_key(language, name)
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(Templates { by_name })
        } else {
            Err(problems)
        }
    }

    /// The reply template for a refusal reason; `None` only for `accepted`.
    pub fn reply(&self, language: Language, reason: Reason) -> Option<&Template> {
        self.by_name.get(&(language, TemplateName::Reply(reason)))
    }

    /// The P4 notification template.
    pub fn notification(&self, language: Language) -> Option<&Template> {
        self.by_name.get(&(language, TemplateName::Notification))
    }

    /// One of the messages of an approval.
    pub fn approval(&self, language: Language, which: ApprovalTemplate) -> Option<&Template> {
        self.by_name.get(&(language, TemplateName::Approval(which)))
    }
}

/// The override from `[replies.template_files]`, else `{templates}/{lang}/{name}.txt`.
fn template_path(settings: &ReplySettings, key: &str) -> PathBuf {
    settings
        .template_files
        .get(key)
        .cloned()
        .unwrap_or_else(|| settings.templates.join(format!("{key}.txt")))
}

fn read_template(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let metadata = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{shown} does not exist"),
        _ => format!("{shown}: cannot read: {e}"),
    })?;
    if !metadata.is_file() {
        return Err(format!("{shown} is not a file"));
    }
    if metadata.len() > MAX_TEMPLATE_BYTES {
        return Err(format!(
            "{shown} is larger than {} KiB",
            MAX_TEMPLATE_BYTES / 1024
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{shown}: not valid UTF-8"))?;
    if text.trim().is_empty() {
        return Err(format!("{shown} is empty"));
    }
    Ok(text)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::address::{AddressRules, NormalizedAddress};
    use crate::reply::ReplyTransport;
    use std::collections::BTreeMap;
    use std::time::Duration;

    /// Settings that point at the shipped `config/templates`.
    pub(crate) fn shipped_settings() -> ReplySettings {
        ReplySettings {
            max_per_hour: 500,
            from: NormalizedAddress::parse("no-reply@vendor.example", &AddressRules::default())
                .unwrap(),
            transport: ReplyTransport::Mx,
            default_language: Language::En,
            interval: Duration::from_secs(7 * 86400),
            templates: Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates"),
            template_files: BTreeMap::new(),
            sign_in_url: "https://vendor.example/sign-in".into(),
            billing_contact: "billing@vendor.example".into(),
        }
    }

    #[test]
    fn a_missing_templates_folder_is_one_problem_not_one_per_template() {
        let mut settings = shipped_settings();
        settings.templates = PathBuf::from("/nonexistent/templates");
        let problems = Templates::load(&settings).unwrap_err();
        assert_eq!(
            problems,
            ["folder /nonexistent/templates does not exist (the templates are read from it)"]
        );
        // One language's folder missing: that folder, once.
        let dir = tempfile::tempdir().unwrap();
        let en = dir.path().join("en");
        std::fs::create_dir(&en).unwrap();
        for entry in std::fs::read_dir(shipped_settings().templates.join("en")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), en.join(entry.file_name())).unwrap();
        }
        settings.templates = dir.path().to_path_buf();
        let problems = Templates::load(&settings).unwrap_err();
        assert_eq!(
            problems,
            [format!(
                "folder {}/fr does not exist (the fr templates are read from it)",
                dir.path().display()
            )]
        );
    }

    #[test]
    fn every_shipped_template_is_present_and_valid_in_both_languages() {
        let settings = shipped_settings();
        let templates = Templates::load(&settings).unwrap();
        let mut count = 0;
        for language in Language::ALL {
            for reason in Reason::ALL.into_iter().filter(|r| r.may_reply()) {
                assert!(
                    templates.reply(language, reason).is_some(),
                    "{language}/{reason}"
                );
                count += 1;
            }
            assert!(templates.notification(language).is_some());
            count += 1;
        }
        for language in Language::ALL {
            for which in ApprovalTemplate::ALL {
                assert!(
                    templates.approval(language, which).is_some(),
                    "{language}/{which:?}"
                );
                count += 1;
            }
        }
        assert_eq!(count, 42);
        assert!(templates.reply(Language::Fr, Reason::Accepted).is_none());
    }

    #[test]
    fn missing_and_invalid_files_are_reported_one_line_each() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = shipped_settings();
        let bad = dir.path().join("bad.txt");
        std::fs::write(&bad, "Hello {{first_name}}\n").unwrap();
        let absent = dir.path().join("absent.txt");
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, " \n").unwrap();
        settings.template_files = BTreeMap::from([
            ("fr/not-registered".to_string(), absent.clone()),
            ("en/group-address".to_string(), bad.clone()),
            ("en/notify-privileged".to_string(), empty.clone()),
            ("fr/shared-address".to_string(), dir.path().to_path_buf()),
        ]);
        let problems = Templates::load(&settings).unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        let expect = [
            format!(
                "template fr/not-registered: {} does not exist",
                absent.display()
            ),
            format!(
                "template en/group-address: {}: line 1: unknown variable {{{{first_name}}}}",
                bad.display()
            ),
            format!(
                "template en/notify-privileged: {} is empty",
                empty.display()
            ),
            format!(
                "template fr/shared-address: {} is not a file",
                dir.path().display()
            ),
        ];
        for e in expect {
            assert!(
                problems.iter().any(|p| p.starts_with(&e)),
                "{e}\n{problems:#?}"
            );
        }
    }

    #[test]
    fn an_empty_templates_folder_reports_each_language_folder_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = shipped_settings();
        settings.templates = dir.path().to_path_buf();
        let problems = Templates::load(&settings).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        for (problem, language) in problems.iter().zip(["fr", "en"]) {
            assert!(
                problem.contains(&format!("/{language} does not exist")),
                "{problem}"
            );
        }
    }

    #[test]
    fn from_texts_requires_a_complete_set() {
        let err = Templates::from_texts([("en/not-registered", "x")]).unwrap_err();
        assert!(err
            .iter()
            .any(|p| p == "template fr/not-registered: missing"));
        let err = Templates::from_texts([("de/not-registered", "x")]).unwrap_err();
        assert_eq!(err[0], "template de/not-registered: not a LANG/REASON name");
        assert_eq!(err.len(), 43);
    }
}
