//! Composition tests over the shipped templates: what a customer and an admin actually receive.

use super::templates::tests::shipped_settings;
use super::*;
use crate::address::{AddressRules, NormalizedAddress};
use crate::directory::{Account, Language, Role};
use crate::policy::{Action, CategoryRule, Decision, MessageFacts, Reason, ReplyPlan, Verdict};
use mail_parser::{HeaderValue, MessageParser};

const NOW: u64 = 1_700_000_000;

fn address(s: &str) -> NormalizedAddress {
    NormalizedAddress::parse(s, &AddressRules::default()).unwrap()
}

fn acme(language: Option<Language>) -> Account {
    Account {
        id: "acme".into(),
        name: "Acme SAS".into(),
        language,
        sign_in_url: Some("https://acme.vendor.example".into()),
        status: crate::directory::AccountStatus::Active,
        hosts: vec!["acme.vendor.example".into()],
        agents: Vec::new(),
        own_addresses: Vec::new(),
    }
}

fn decision(reason: Reason) -> Decision {
    Decision {
        verdict: Verdict::Refuse,
        reason,
        account: Some("acme".into()),
        agent: None,
        role: None,
        action: Action::Reply,
        reply: ReplyPlan::Send {
            to: address("bob@acme.example"),
        },
        category: None,
        notify: Vec::new(),
        sender: Some("bob@acme.example".into()),
    }
}

fn facts(subject: &str) -> MessageFacts {
    MessageFacts {
        subject: subject.into(),
        message_id: Some("orig-1@mail.acme.example".into()),
        references: vec!["root@mail.acme.example".into()],
        ..MessageFacts::default()
    }
}

struct Case {
    decision: Decision,
    facts: MessageFacts,
    account: Option<Account>,
    /// The configured rule of `decision.category`, when the case gives one.
    category: Option<CategoryRule>,
    notified: bool,
}

impl Case {
    fn new(reason: Reason, subject: &str) -> Case {
        Case {
            decision: decision(reason),
            facts: facts(subject),
            account: Some(acme(Some(Language::En))),
            category: None,
            notified: false,
        }
    }

    fn reply(&self) -> OutgoingMessage {
        let settings = shipped_settings();
        let templates = Templates::load(&settings).unwrap();
        let input = ReplyInput {
            decision: &self.decision,
            recipient: &address("bob@acme.example"),
            facts: &self.facts,
            account: self.account.as_ref(),
            category: self.category.as_ref(),
            support_address: &address("support@vendor.example"),
            owner_notified: self.notified,
            now: NOW,
            message_token: "tok123",
        };
        compose_reply(&input, &templates, &settings).unwrap()
    }
}

fn header_text<'a>(message: &'a mail_parser::Message<'a>, name: &'a str) -> Option<&'a str> {
    message.header(name).and_then(HeaderValue::as_text)
}

/// The names of the header lines, in order (continuation lines are not names).
fn header_names(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let head = text.split("\r\n\r\n").next().unwrap();
    head.split("\r\n")
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

#[test]
fn reply_reparses_with_the_rfc_3834_headers() {
    let sent = Case::new(Reason::NotRegistered, "Invoice question").reply();
    assert_eq!(sent.mail_from, None);
    assert_eq!(sent.recipients, ["bob@acme.example"]);
    assert_eq!(sent.subject, "Auto: Invoice question");
    let parsed = MessageParser::default().parse(&sent.bytes).unwrap();
    assert_eq!(parsed.subject(), Some("Auto: Invoice question"));
    let from = parsed.from().and_then(|a| a.first()).unwrap();
    assert_eq!(from.address(), Some("no-reply@vendor.example"));
    let to = parsed.to().and_then(|a| a.first()).unwrap();
    assert_eq!(to.address(), Some("bob@acme.example"));
    assert_eq!(parsed.message_id(), Some("tok123@vendor.example"));
    assert_eq!(
        parsed.in_reply_to().as_text(),
        Some("orig-1@mail.acme.example")
    );
    let references: Vec<_> = parsed
        .references()
        .as_text_list()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        references,
        ["root@mail.acme.example", "orig-1@mail.acme.example"]
    );
    assert_eq!(
        parsed.date().unwrap().to_timestamp(),
        i64::try_from(NOW).unwrap()
    );
    assert_eq!(header_text(&parsed, "Auto-Submitted"), Some("auto-replied"));
    assert_eq!(
        header_text(&parsed, "X-Supportgate-Reason"),
        Some("not-registered")
    );
    let raw = String::from_utf8(sent.bytes.clone()).unwrap();
    assert!(raw.contains("\r\nContent-Language: en\r\n"));
    let body = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    assert_eq!(body, sent.body);
    // A stranger (not-registered) is not told which account `support+acme@` is (enumeration).
    assert!(
        !body.contains("Acme SAS") && !body.contains("acme.vendor.example"),
        "{body}"
    );
    assert!(body.contains("your account"), "{body}");
    assert!(body.contains("\"View profile\"") && body.contains("\"+ add contact\""));
    for line in String::from_utf8(sent.bytes).unwrap().split("\r\n") {
        assert!(line.len() <= 78, "{line}");
    }
}

#[test]
fn header_injection_through_subject_and_ids_adds_no_header() {
    let mut case = Case::new(Reason::NotRegistered, "Hi\r\nBcc: evil@x\r\n\r\nbody");
    case.facts.message_id = Some("abc@x>\r\nBcc: evil@x".into());
    case.facts.references = vec!["<ok@x>".into(), "a@b>\nX-Evil: 1".into()];
    let sent = case.reply();
    let expected = [
        "Date",
        "From",
        "To",
        "Subject",
        "Message-ID",
        "References",
        "Auto-Submitted",
        "X-Auto-Response-Suppress",
        "X-Supportgate-Reason",
        "Content-Language",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    ];
    assert_eq!(header_names(&sent.bytes), expected);
    let parsed = MessageParser::default().parse(&sent.bytes).unwrap();
    assert!(parsed.header("Bcc").is_none() && parsed.header("X-Evil").is_none());
    assert_eq!(parsed.subject(), Some("Auto: Hi Bcc: evil@x body"));
    assert_eq!(parsed.references().as_text(), Some("ok@x"));
    assert!(!sent.body.contains('\r'));
}

#[test]
fn non_ascii_subject_is_rfc_2047_encoded_and_long_ones_are_cut() {
    let mut case = Case::new(Reason::NotRegistered, "Problème de facturation – été 2024");
    case.account = Some(acme(Some(Language::Fr)));
    let sent = case.reply();
    let raw = String::from_utf8(sent.bytes.clone()).unwrap();
    let subject_line = raw.lines().find(|l| l.starts_with("Subject:")).unwrap();
    assert!(subject_line.starts_with("Subject: Auto: =?UTF-8?Q?Probl=C3=A8me"));
    let head = raw.split("\r\n\r\n").next().unwrap();
    assert!(head.is_ascii(), "{head}");
    let parsed = MessageParser::default().parse(&sent.bytes).unwrap();
    assert_eq!(
        parsed.subject(),
        Some("Auto: Problème de facturation – été 2024")
    );
    assert_eq!(sent.language, Language::Fr);
    assert!(sent.body.contains("« Afficher le profil »"));
    assert!(sent.body.contains("« + ajouter un contact »"));

    let long = Case::new(Reason::NotRegistered, &"ü".repeat(500)).reply();
    assert_eq!(long.subject.chars().count(), "Auto: ".len() + 200);
    let parsed = MessageParser::default().parse(&long.bytes).unwrap();
    assert_eq!(parsed.subject(), Some(long.subject.as_str()));
}

#[test]
fn empty_subject_gets_a_default_in_the_reply_language() {
    let mut case = Case::new(Reason::UnknownSender, "  ");
    case.account = None;
    case.facts.content_language = Some("fr-FR".into());
    let sent = case.reply();
    assert_eq!(sent.subject, "Auto: Votre message à l'assistance");
    assert!(sent.body.contains("« (sans objet) »"));
    assert!(sent.body.contains("https://vendor.example/sign-in"));
}

#[test]
fn ambiguous_account_reply_names_no_account() {
    let mut case = Case::new(Reason::AmbiguousAccount, "Help");
    case.decision.account = Some("acme".into());
    for language in Language::ALL {
        case.facts.content_language = Some(language.as_str().into());
        case.account = Some(acme(Some(language)));
        let sent = case.reply();
        let raw = String::from_utf8(sent.bytes).unwrap().to_lowercase();
        assert!(!raw.contains("acme.vendor.example"), "{raw}");
        assert!(!sent.body.to_lowercase().contains("acme"), "{}", sent.body);
        assert!(sent.body.contains("support+"), "{}", sent.body);
        assert!(sent.body.contains("@vendor.example"));
        assert!(sent.body.contains("] Help"));
    }
}

fn billing_labelled_in_french() -> CategoryRule {
    CategoryRule::new("billing", Role::Admin, &["invoice".into()])
        .unwrap()
        .with_label(Language::Fr, "facturation")
}

#[test]
fn category_label_follows_the_reply_language_else_the_name() {
    // (account language, rule given, text the body must contain)
    let cases = [
        (Language::Fr, true, "« facturation »"),
        (Language::En, true, "\"billing\""),
        (Language::Fr, false, "« billing »"),
    ];
    for (language, with_rule, wanted) in cases {
        let mut case = Case::new(Reason::AuthorizationRequired, "Facture");
        case.account = Some(acme(Some(language)));
        case.decision.category = Some("billing".into());
        case.category = with_rule.then(billing_labelled_in_french);
        let sent = case.reply();
        assert!(
            sent.body.contains(wanted),
            "{language} {with_rule}: {}",
            sent.body
        );
    }
}

#[test]
fn authorization_reply_mentions_the_notification_only_when_it_was_sent() {
    let mut case = Case::new(Reason::AuthorizationRequired, "Close our account");
    case.decision.category = Some("account-deletion".into());
    case.decision.notify = vec!["alice@acme.example".into()];
    let quiet = case.reply();
    case.notified = true;
    let told = case.reply();
    assert!(quiet.body.contains("\"account-deletion\""));
    assert!(!quiet.body.contains("already told"), "{}", quiet.body);
    assert!(told.body.contains("already told"), "{}", told.body);
    for sent in [quiet, told] {
        let raw = String::from_utf8(sent.bytes).unwrap();
        assert!(
            !raw.contains("alice"),
            "the reply discloses an admin: {raw}"
        );
        assert!(!sent.body.contains("alice"));
        assert!(!sent.body.contains("\n\n\n"), "{}", sent.body);
    }
}

#[test]
fn notification_goes_to_each_admin_alone_and_names_the_sender() {
    let settings = shipped_settings();
    let templates = Templates::load(&settings).unwrap();
    let billing = billing_labelled_in_french();
    let mut d = decision(Reason::AuthorizationRequired);
    d.category = Some("billing".into());
    d.role = Some(Role::Agent);
    d.notify = vec!["alice@acme.example".into(), "carol@acme.example".into()];
    let account = acme(Some(Language::Fr));
    let facts = facts("Changer la carte\r\nBcc: x@y");
    let input = NotificationInput {
        decision: &d,
        sender: "bob@acme.example",
        facts: &facts,
        account: &account,
        category: Some(&billing),
        support_address: &address("support@vendor.example"),
        now: NOW,
        message_token: "n-1",
    };
    let sent = compose_notification(&input, &templates, &settings).unwrap();
    assert_eq!(sent.len(), 2);
    for (message, me, other) in [(&sent[0], "alice", "carol"), (&sent[1], "carol", "alice")] {
        assert_eq!(message.recipients, [format!("{me}@acme.example")]);
        assert_eq!(message.language, Language::Fr);
        let raw = String::from_utf8(message.bytes.clone()).unwrap();
        assert!(!raw.contains(other), "{raw}");
        let parsed = MessageParser::default().parse(&message.bytes).unwrap();
        assert_eq!(
            header_text(&parsed, "Auto-Submitted"),
            Some("auto-generated")
        );
        assert!(parsed.header("Bcc").is_none() && parsed.in_reply_to().is_empty());
        assert_eq!(parsed.subject(), Some(message.subject.as_str()));
        let body = parsed.body_text(0).unwrap().replace("\r\n", "\n");
        assert!(body.contains("bob@acme.example") && body.contains("« facturation »"));
        assert!(body.contains("Acme SAS"));
    }
    assert_ne!(
        MessageParser::default()
            .parse(&sent[0].bytes)
            .unwrap()
            .message_id(),
        MessageParser::default()
            .parse(&sent[1].bytes)
            .unwrap()
            .message_id()
    );

    let nobody = Decision {
        notify: Vec::new(),
        ..d.clone()
    };
    let input = NotificationInput {
        decision: &nobody,
        ..input
    };
    assert!(compose_notification(&input, &templates, &settings)
        .unwrap()
        .is_empty());
}

#[test]
fn accepted_has_no_reply() {
    let settings = shipped_settings();
    let templates = Templates::load(&settings).unwrap();
    let case = Case::new(Reason::Accepted, "x");
    let input = ReplyInput {
        decision: &case.decision,
        recipient: &address("bob@acme.example"),
        facts: &case.facts,
        account: None,
        category: None,
        support_address: &address("support@vendor.example"),
        owner_notified: false,
        now: NOW,
        message_token: "t",
    };
    assert_eq!(
        compose_reply(&input, &templates, &settings),
        Err(ComposeError::NoTemplate(Reason::Accepted))
    );
}

#[test]
fn every_reply_reason_renders_in_both_languages_without_leftover_braces() {
    for reason in Reason::ALL.into_iter().filter(|r| r.may_reply()) {
        for language in Language::ALL {
            let mut case = Case::new(reason, "Subject");
            case.account = Some(acme(Some(language)));
            // ambiguous-account ignores the account: the header decides.
            case.facts.content_language = Some(language.as_str().into());
            case.decision.category = Some("billing".into());
            case.notified = true;
            let sent = case.reply();
            assert_eq!(sent.language, language);
            assert!(!sent.body.contains("{{") && !sent.body.contains("}}"));
            assert!(
                sent.body.contains("support@vendor.example"),
                "{reason} {language}"
            );
            assert!(sent.body.contains(reason.code()), "{reason} {language}");
            MessageParser::default().parse(&sent.bytes).unwrap();
        }
    }
}
