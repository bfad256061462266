//! Table tests of P1–P8 over a small directory, without any file or network.

use super::*;
use crate::address::{AddressRules, NormalizedAddress};
use crate::directory::{Directory, Role};
use crate::policy::suppression::NoReplyMemory;
use crate::policy::{AuthSource, CategoryRule, IdentificationStrategy};

const DIRECTORY: &str = r#"
[[account]]
id = "acme"
name = "Acme"
hosts = ["acme.vendor.example"]
mailboxes = ["acme@support.vendor.example"]
helpdesk_addresses = ["help@acme.example"]
group_addresses = ["team@acme.example"]
[[account.agent]]
name = "Owner"
role = "owner"
emails = ["owner@acme.example", "owner.private@mail.example"]
[[account.agent]]
name = "Admin"
role = "admin"
emails = ["admin@acme.example"]
[[account.agent]]
name = "Agent"
role = "agent"
emails = ["agent@acme.example"]
[[account.agent]]
name = "Sharer one"
role = "agent"
emails = ["shared@acme.example"]
[[account.agent]]
name = "Sharer two"
role = "agent"
emails = ["shared@acme.example"]

[[account]]
id = "globex"
name = "Globex"
[[account.agent]]
name = "G owner"
role = "owner"
emails = ["g@globex.example"]
[[account.agent]]
name = "Consultant"
role = "agent"
emails = ["consultant@mail.example"]

[[account]]
id = "initech"
name = "Initech"
[[account.agent]]
name = "Consultant"
role = "admin"
emails = ["consultant@mail.example"]

[[account]]
id = "dormant"
name = "Dormant"
status = "suspended"
[[account.agent]]
name = "Sleeper"
role = "owner"
emails = ["sleeper@dormant.example"]
"#;

fn settings() -> PolicySettings {
    let rules = AddressRules::default();
    let mut settings = PolicySettings {
        support_addresses: vec![NormalizedAddress::parse("support@vendor.example", &rules).unwrap()],
        own_addresses: vec![NormalizedAddress::parse("no-reply@vendor.example", &rules).unwrap()],
        ..PolicySettings::default()
    };
    settings.categories.push(
        CategoryRule::new("billing", Role::Admin, &["factur".into(), "invoice".into()]).unwrap(),
    );
    settings
        .categories
        .push(CategoryRule::new("ownership", Role::Owner, &["ownership".into()]).unwrap());
    settings
}

struct Case {
    from: &'static str,
    rcpt: &'static str,
    subject: &'static str,
    authenticated: bool,
    list_header: bool,
    reason: Reason,
    account: Option<&'static str>,
    role: Option<Role>,
}

const fn case(
    from: &'static str,
    rcpt: &'static str,
    subject: &'static str,
    reason: Reason,
) -> Case {
    Case {
        from,
        rcpt,
        subject,
        authenticated: true,
        list_header: false,
        reason,
        account: None,
        role: None,
    }
}

fn run(case: &Case, settings: &PolicySettings, directory: &Directory) -> Decision {
    let facts = MessageFacts {
        from: Some(if case.from.is_empty() {
            FromHeader::Missing
        } else {
            FromHeader::Mailbox(case.from.to_string())
        }),
        subject: case.subject.to_string(),
        has_list_header: case.list_header,
        ..MessageFacts::default()
    };
    let auth = AuthResult::with_source(if case.authenticated {
        AuthSource::Assumed
    } else {
        AuthSource::NotVerified
    });
    let envelope = Envelope {
        mail_from: Some(case.from.to_string()).filter(|f| !f.is_empty()),
        recipients: vec![case.rcpt.to_string()],
    };
    decide(&PolicyInput {
        envelope: &envelope,
        facts: &facts,
        auth: &auth,
        directory,
        settings,
        reply_memory: &NoReplyMemory,
        sender_history: &SenderHistory::default(),
        now: 1_000_000,
    })
}

#[test]
fn each_rule_gives_its_reason() {
    let directory = Directory::from_toml(DIRECTORY, &AddressRules::default()).unwrap();
    let settings = settings();
    let support = "support@vendor.example";
    let acme = "support+acme@vendor.example";
    let cases = [
        Case {
            account: Some("acme"),
            role: Some(Role::Agent),
            ..case("agent@acme.example", support, "Hello", Reason::Accepted)
        },
        Case {
            account: Some("acme"),
            role: Some(Role::Owner),
            ..case(
                "OWNER.private@Mail.Example",
                support,
                "Hi",
                Reason::Accepted,
            )
        },
        Case {
            account: Some("acme"),
            role: Some(Role::Agent),
            ..case(
                "agent@acme.example",
                "acme@support.vendor.example",
                "x",
                Reason::Accepted,
            )
        },
        // P1
        Case {
            account: Some("acme"),
            ..case(
                "stranger@else.example",
                acme,
                "Hello",
                Reason::NotRegistered,
            )
        },
        Case {
            account: Some("acme"),
            ..case(
                "stranger@else.example",
                support,
                "[acme] help",
                Reason::NotRegistered,
            )
        },
        Case {
            account: Some("acme"),
            ..case(
                "stranger@else.example",
                support,
                "about acme.vendor.example",
                Reason::NotRegistered,
            )
        },
        Case {
            account: Some("globex"),
            ..case(
                "agent@acme.example",
                "support+globex@vendor.example",
                "Hello",
                Reason::NotRegistered,
            )
        },
        case(
            "stranger@else.example",
            support,
            "Hello",
            Reason::UnknownSender,
        ),
        // an unknown tag names nothing: the next strategies are tried
        case(
            "stranger@else.example",
            "support+nope@vendor.example",
            "Hello",
            Reason::UnknownSender,
        ),
        // P2, P3
        Case {
            account: Some("acme"),
            ..case(
                "help@acme.example",
                support,
                "Hello",
                Reason::HelpdeskAddress,
            )
        },
        Case {
            account: Some("acme"),
            ..case("team@acme.example", support, "Hello", Reason::GroupAddress)
        },
        Case {
            account: Some("acme"),
            list_header: true,
            ..case("agent@acme.example", support, "Hello", Reason::GroupAddress)
        },
        // P4
        Case {
            account: Some("acme"),
            role: Some(Role::Agent),
            ..case(
                "agent@acme.example",
                support,
                "Facture de mars",
                Reason::AuthorizationRequired,
            )
        },
        Case {
            account: Some("acme"),
            role: Some(Role::Admin),
            ..case("admin@acme.example", support, "Invoice", Reason::Accepted)
        },
        Case {
            account: Some("acme"),
            role: Some(Role::Admin),
            ..case(
                "admin@acme.example",
                support,
                "Ownership transfer",
                Reason::AuthorizationRequired,
            )
        },
        Case {
            account: Some("acme"),
            role: Some(Role::Owner),
            ..case(
                "owner@acme.example",
                support,
                "Ownership transfer",
                Reason::Accepted,
            )
        },
        // P5
        Case {
            account: Some("acme"),
            ..case(
                "shared@acme.example",
                support,
                "Hello",
                Reason::SharedAddress,
            )
        },
        // P6
        Case {
            authenticated: false,
            ..case(
                "owner@acme.example",
                support,
                "Hello",
                Reason::UnauthenticatedSender,
            )
        },
        // P7
        case("", support, "Hello", Reason::MalformedSender),
        case("not an address", support, "Hello", Reason::MalformedSender),
        // P8, and how naming the account resolves it
        case(
            "consultant@mail.example",
            support,
            "Hello",
            Reason::AmbiguousAccount,
        ),
        Case {
            account: Some("initech"),
            role: Some(Role::Admin),
            ..case(
                "consultant@mail.example",
                "support+initech@vendor.example",
                "Hello",
                Reason::Accepted,
            )
        },
        Case {
            account: Some("globex"),
            role: Some(Role::Agent),
            ..case(
                "consultant@mail.example",
                support,
                "[globex] Hello",
                Reason::Accepted,
            )
        },
    ];
    for c in &cases {
        let decision = run(c, &settings, &directory);
        let label = format!("{} → {} ({})", c.from, c.rcpt, c.subject);
        assert_eq!(decision.reason, c.reason, "{label}");
        assert_eq!(decision.account.as_deref(), c.account, "{label}");
        assert_eq!(decision.role, c.role, "{label}");
        assert_eq!(decision.action, c.reason.default_action(), "{label}");
        assert_eq!(
            decision.verdict == Verdict::Accept,
            c.reason == Reason::Accepted,
            "{label}"
        );
    }
}

#[test]
fn identification_order_is_configurable() {
    let directory = Directory::from_toml(DIRECTORY, &AddressRules::default()).unwrap();
    let mut settings = settings();
    let c = case(
        "consultant@mail.example",
        "support+initech@vendor.example",
        "[globex] Hello",
        Reason::Accepted,
    );
    assert_eq!(
        run(&c, &settings, &directory).account.as_deref(),
        Some("initech")
    );
    settings.account_order = vec![
        IdentificationStrategy::Subject,
        IdentificationStrategy::RecipientTag,
    ];
    assert_eq!(
        run(&c, &settings, &directory).account.as_deref(),
        Some("globex")
    );
    // Without the sender strategy, a registered sender who names no account is not guessed.
    settings.account_order = vec![IdentificationStrategy::RecipientTag];
    let c = case(
        "agent@acme.example",
        "support@vendor.example",
        "Hello",
        Reason::AmbiguousAccount,
    );
    assert_eq!(
        run(&c, &settings, &directory).reason,
        Reason::AmbiguousAccount
    );
}

#[test]
fn authorization_notifies_privileged_primaries_only() {
    let directory = Directory::from_toml(DIRECTORY, &AddressRules::default()).unwrap();
    let mut settings = settings();
    let c = case(
        "agent@acme.example",
        "support@vendor.example",
        "Invoice",
        Reason::AuthorizationRequired,
    );
    let decision = run(&c, &settings, &directory);
    assert_eq!(decision.category.as_deref(), Some("billing"));
    assert_eq!(
        decision.notify,
        vec!["owner@acme.example", "admin@acme.example"]
    );
    let c = case(
        "admin@acme.example",
        "support@vendor.example",
        "ownership",
        Reason::AuthorizationRequired,
    );
    assert_eq!(
        run(&c, &settings, &directory).notify,
        vec!["owner@acme.example"]
    );
    settings.notify_privileged = false;
    assert!(run(&c, &settings, &directory).notify.is_empty());
}

#[test]
fn actions_and_reply_plans_follow_configuration() {
    let directory = Directory::from_toml(DIRECTORY, &AddressRules::default()).unwrap();
    let mut settings = settings();
    let c = case(
        "stranger@else.example",
        "support+acme@vendor.example",
        "Hello",
        Reason::NotRegistered,
    );
    let decision = run(&c, &settings, &directory);
    assert_eq!(
        decision.reply,
        ReplyPlan::Send {
            to: NormalizedAddress::parse("stranger@else.example", &AddressRules::default())
                .unwrap()
        }
    );
    settings.set_action(Reason::NotRegistered, Action::Reject);
    let decision = run(&c, &settings, &directory);
    assert_eq!(
        (decision.action, decision.reply),
        (Action::Reject, ReplyPlan::NotApplicable)
    );
    // Replying to an unauthenticated sender is suppressed even if configured.
    settings.set_action(Reason::UnauthenticatedSender, Action::Reply);
    let c = Case {
        authenticated: false,
        ..c
    };
    assert_eq!(
        run(&c, &settings, &directory).reply,
        ReplyPlan::Suppressed(Suppression::Unauthenticated)
    );
}

#[test]
fn reply_memory_suppresses_within_the_interval() {
    struct RepliedAt(u64);
    impl ReplyMemoryView for RepliedAt {
        fn replied_since(&self, _: &NormalizedAddress, reason: Reason, since: u64) -> bool {
            reason == Reason::NotRegistered && self.0 >= since
        }
    }
    let directory = Directory::from_toml(DIRECTORY, &AddressRules::default()).unwrap();
    let settings = settings();
    let c = case(
        "stranger@else.example",
        "support+acme@vendor.example",
        "Hello",
        Reason::NotRegistered,
    );
    let facts = MessageFacts {
        from: Some(FromHeader::Mailbox(c.from.into())),
        ..MessageFacts::default()
    };
    let envelope = Envelope {
        mail_from: Some(c.from.into()),
        recipients: vec![c.rcpt.into()],
    };
    let auth = AuthResult::with_source(AuthSource::Assumed);
    let now = 10_000_000;
    for (replied_at, expected_suppressed) in [(now - 3600, true), (now - 8 * 86_400, false)] {
        let decision = decide(&PolicyInput {
            envelope: &envelope,
            facts: &facts,
            auth: &auth,
            directory: &directory,
            settings: &settings,
            reply_memory: &RepliedAt(replied_at),
            sender_history: &SenderHistory::default(),
            now,
        });
        assert_eq!(
            decision.reply == ReplyPlan::Suppressed(Suppression::AlreadyReplied),
            expected_suppressed
        );
    }
}

#[test]
fn a_null_and_an_unusable_reverse_path_are_told_apart() {
    let directory = Directory::from_toml(DIRECTORY, &AddressRules::default()).unwrap();
    let settings = settings();
    let facts = MessageFacts {
        from: Some(FromHeader::Mailbox("stranger@else.example".into())),
        ..MessageFacts::default()
    };
    let auth = AuthResult::with_source(AuthSource::Assumed);
    let stranger = NormalizedAddress::parse("stranger@else.example", &AddressRules::default());
    let table = [
        (None, ReplyPlan::Suppressed(Suppression::NullReversePath)),
        (
            Some("garbage"),
            ReplyPlan::Suppressed(Suppression::InvalidReversePath),
        ),
        (
            Some("a@@b"),
            ReplyPlan::Suppressed(Suppression::InvalidReversePath),
        ),
        (
            Some("stranger@else.example"),
            ReplyPlan::Send {
                to: stranger.unwrap(),
            },
        ),
    ];
    for (mail_from, expected) in table {
        let envelope = Envelope {
            mail_from: mail_from.map(str::to_string),
            recipients: vec!["support+acme@vendor.example".into()],
        };
        let decision = decide(&PolicyInput {
            envelope: &envelope,
            facts: &facts,
            auth: &auth,
            directory: &directory,
            settings: &settings,
            reply_memory: &NoReplyMemory,
            sender_history: &SenderHistory::default(),
            now: 1_000_000,
        });
        assert_eq!(decision.reason, Reason::NotRegistered, "{mail_from:?}");
        assert_eq!(decision.reply, expected, "{mail_from:?}");
    }
}

/// Decides a whole message as `check` would: parsed by mail-parser, facts extracted with the
/// settings' body bound, From as the envelope sender, sent to the support address.
fn decide_raw(raw: &str, settings: &PolicySettings, directory: &Directory) -> Decision {
    let message = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("the test message parses");
    let facts = MessageFacts::extract(&message, settings.category_body_chars);
    let mail_from = match &facts.from {
        Some(FromHeader::Mailbox(address)) => Some(address.clone()),
        _ => None,
    };
    let envelope = Envelope {
        mail_from,
        recipients: vec!["support@vendor.example".into()],
    };
    decide(&PolicyInput {
        envelope: &envelope,
        facts: &facts,
        auth: &AuthResult::with_source(AuthSource::Assumed),
        directory,
        settings,
        reply_memory: &NoReplyMemory,
        sender_history: &SenderHistory::default(),
        now: 1_000_000,
    })
}

/// `From: <from>`, the extra `headers`, then `rest` (more headers, a blank line and a body).
fn mail(from: &str, headers: &str, rest: &str) -> String {
    format!("From: {from}\nDate: Mon, 02 Mar 2026 09:15:00 +0100\nMessage-ID: <t@acme.example>\n{headers}{rest}")
}

fn alternative(text: &str, html: &str) -> String {
    format!(
        "Subject: Question\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n\
         --b\nContent-Type: text/plain; charset=utf-8\n\n{text}\n\
         --b\nContent-Type: text/html; charset=utf-8\n\n{html}\n--b--\n"
    )
}

fn mixed(parts: &[(&str, &str)]) -> String {
    let mut body = String::from(
        "Subject: Question\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=m\n\n",
    );
    for (headers, content) in parts {
        body.push_str(&format!("--m\n{headers}\n\n{content}\n"));
    }
    body.push_str("--m--\n");
    body
}

fn assert_reasons(table: &[(&str, String, Reason)]) {
    let directory = Directory::from_toml(DIRECTORY, &AddressRules::default()).unwrap();
    let settings = settings();
    let wrong: Vec<String> = table
        .iter()
        .filter_map(|(label, raw, reason)| {
            let decision = decide_raw(raw, &settings, &directory);
            (decision.reason != *reason)
                .then(|| format!("{label}: {} instead of {reason}", decision.reason))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

const AGENT: &str = "Agent <agent@acme.example>";
const OWNER: &str = "Owner <owner@acme.example>";
const TEXT: &str = "Content-Type: text/plain; charset=utf-8";

/// Issue 10, finding 2 (a): a second singleton header. The ticket keeps both Subjects and mail
/// clients show the first, while the policy read the last one.
#[test]
fn p4_evasion_a_duplicated_singleton_headers_are_malformed() {
    let mut table = vec![(
        "two Subjects, the request in the first",
        mail(
            AGENT,
            "Subject: Invoice for March\nSubject: Hello\n",
            "\nHi\n",
        ),
        Reason::MalformedSender,
    )];
    for (name, value) in [
        ("Sender", "agent@acme.example"),
        ("Reply-To", "agent@acme.example"),
        ("To", "support@vendor.example"),
        ("Message-ID", "<other@acme.example>"),
        ("Date", "Tue, 03 Mar 2026 09:15:00 +0100"),
        ("subject", "Hello"),
    ] {
        table.push((
            name,
            mail(
                AGENT,
                &format!("Subject: Hello\nTo: support@vendor.example\nSender: agent@acme.example\nReply-To: agent@acme.example\n{name}: {value}\n"),
                "\nHi\n",
            ),
            Reason::MalformedSender,
        ));
    }
    table.push((
        "each singleton once",
        mail(
            AGENT,
            "Subject: Hello\nTo: support@vendor.example\nSender: agent@acme.example\nReply-To: agent@acme.example\n",
            "\nHi\n",
        ),
        Reason::Accepted,
    ));
    // Not singletons (RFC 5322 §3.6): any number is fine.
    table.push((
        "two Received, two Comments, two Keywords",
        mail(
            AGENT,
            "Received: from a by b; Mon, 02 Mar 2026 09:15:00 +0100\nReceived: from c by a; Mon, 02 Mar 2026 09:14:00 +0100\nComments: one\nComments: two\nKeywords: x\nKeywords: y\nSubject: Hello\n",
            "\nHi\n",
        ),
        Reason::Accepted,
    ));
    assert_reasons(&table);
}

/// Issue 10, finding 2 (b): the request only in the HTML alternative, which is what mail
/// clients (and the helpdesk) show.
#[test]
fn p4_evasion_b_request_only_in_the_html_part() {
    assert_reasons(&[
        (
            "invoice only in text/html",
            mail(AGENT, "", &alternative("Hello,\n\nsee below.", "<p>Please send the <b>in</b>voice of March</p>")),
            Reason::AuthorizationRequired,
        ),
        (
            "entities and a block boundary",
            mail(AGENT, "", &alternative("Hello", "<div>the</div><div>&#x69;nvoice</div>")),
            Reason::AuthorizationRequired,
        ),
        (
            "an owner may ask in HTML",
            mail(OWNER, "", &alternative("Hello", "<p>Please send the invoice</p>")),
            Reason::Accepted,
        ),
        (
            "an innocent HTML part",
            mail(AGENT, "", &alternative("Hello, the export fails.", "<p>Hello, the import fails.</p>")),
            Reason::Accepted,
        ),
        (
            "invoice only in style, script and comments",
            mail(
                AGENT,
                "",
                &alternative(
                    "Hello",
                    "<html><head><style>.invoice { color: red }</style><script>var invoice = 1;</script></head><body><!-- invoice --><p class=\"invoice\">Hello</p></body></html>",
                ),
            ),
            Reason::Accepted,
        ),
    ]);
}

/// Issue 10, finding 2 (c): invisible or look-alike characters inside the keyword.
#[test]
fn p4_evasion_c_invisible_and_look_alike_characters() {
    let mut table = Vec::new();
    for (label, subject) in [
        ("zero-width space", "In\u{200b}voice for March"),
        ("soft hyphen", "In\u{ad}voice for March"),
        ("word joiner and BOM", "In\u{2060}vo\u{feff}ice"),
        ("bidi controls", "In\u{202e}vo\u{2066}ice\u{2069}"),
        ("Cyrillic i", "\u{456}nvoice for March"),
        ("Cyrillic o and e", "Inv\u{43e}ic\u{435}"),
        ("Greek omicron, capital", "INV\u{39f}ICE"),
        (
            "full-width",
            "\u{ff49}\u{ff4e}\u{ff56}\u{ff4f}\u{ff49}\u{ff43}\u{ff45}",
        ),
    ] {
        table.push((
            label,
            mail(
                AGENT,
                &format!("Subject: {subject}\n"),
                &format!("{TEXT}\n\nHi\n"),
            ),
            Reason::AuthorizationRequired,
        ));
    }
    table.push((
        "the same tricks in the body",
        mail(
            AGENT,
            "Subject: Hello\n",
            &format!("{TEXT}\n\nPlease send the f\u{200b}a\u{441}tur\u{435}.\n"),
        ),
        Reason::AuthorizationRequired,
    ));
    table.push((
        "Russian text is not a category",
        mail(
            AGENT,
            "Subject: \u{41f}\u{440}\u{438}\u{432}\u{435}\u{442}\n",
            &format!("{TEXT}\n\n\u{421}\u{43f}\u{430}\u{441}\u{438}\u{431}\u{43e}\n"),
        ),
        Reason::Accepted,
    ));
    table.push((
        "an owner may use them",
        mail(
            OWNER,
            "Subject: In\u{200b}voice\n",
            &format!("{TEXT}\n\nHi\n"),
        ),
        Reason::Accepted,
    ));
    assert_reasons(&table);
}

/// Issue 10, finding 2 (d): the request in a part after the first text body.
#[test]
fn p4_evasion_d_request_in_another_part() {
    let rfc822 = "Content-Type: message/rfc822";
    assert_reasons(&[
        (
            "second text part",
            mail(AGENT, "", &mixed(&[(TEXT, "Hello"), (TEXT, "Please send the invoice.")])),
            Reason::AuthorizationRequired,
        ),
        (
            "text attachment",
            mail(
                AGENT,
                "",
                &mixed(&[
                    (TEXT, "Hello, see the attached file."),
                    ("Content-Type: text/plain; name=request.txt\nContent-Disposition: attachment; filename=request.txt", "Please send the invoice."),
                ]),
            ),
            Reason::AuthorizationRequired,
        ),
        (
            "attached message",
            mail(
                AGENT,
                "",
                &mixed(&[
                    (TEXT, "Hello, forwarding this."),
                    (rfc822, "From: someone@else.example\nSubject: Hi\nContent-Type: text/plain\n\nPlease send the invoice."),
                ]),
            ),
            Reason::AuthorizationRequired,
        ),
        (
            "an owner may attach it",
            mail(OWNER, "", &mixed(&[(TEXT, "Hello"), (TEXT, "Please send the invoice.")])),
            Reason::Accepted,
        ),
        (
            "innocent attachments",
            mail(
                AGENT,
                "",
                &mixed(&[
                    (TEXT, "Hello, the logs."),
                    ("Content-Type: text/plain; name=log.txt\nContent-Disposition: attachment", "import failed"),
                    ("Content-Type: application/pdf\nContent-Transfer-Encoding: base64", "aW52b2ljZQ=="),
                ]),
            ),
            Reason::Accepted,
        ),
        (
            "beyond category_body_chars of its part",
            mail(
                AGENT,
                "",
                &mixed(&[(TEXT, "Hello"), (TEXT, &format!("{} invoice", "word ".repeat(120)))]),
            ),
            Reason::Accepted,
        ),
    ]);
}

/// SPEC §10's settings as shipped, with a block list.
fn suspension_settings() -> PolicySettings {
    let mut settings = settings();
    let rules = AddressRules::default();
    for entry in ["blocked.example", "*.spam.example", "Pest@acme.example"] {
        settings.block.add(entry, &rules).unwrap();
    }
    settings.no_reply_local_parts = ["noreply", "no-reply", "donotreply", "do-not-reply"]
        .map(String::from)
        .to_vec();
    settings.out_of_office_subjects = ["out of office", "automatic reply", "réponse automatique"]
        .map(String::from)
        .to_vec();
    settings
}

fn decide_with(raw: &str, settings: &PolicySettings, history: SenderHistory) -> Decision {
    let directory = Directory::from_toml(DIRECTORY, &AddressRules::default()).unwrap();
    let message = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("the test message parses");
    let facts = MessageFacts::extract(&message, settings.category_body_chars);
    let mail_from = match &facts.from {
        Some(FromHeader::Mailbox(address)) => Some(address.clone()),
        _ => None,
    };
    decide(&PolicyInput {
        envelope: &Envelope {
            mail_from,
            recipients: vec!["support@vendor.example".into()],
        },
        facts: &facts,
        auth: &AuthResult::with_source(AuthSource::Assumed),
        directory: &directory,
        settings,
        reply_memory: &NoReplyMemory,
        sender_history: &history,
        now: 1_000_000,
    })
}

/// SPEC §10: each suspension cause fires where it should, in the order of the SPEC, and not
/// where it should not.
#[test]
fn suspension_causes_fire_in_spec_order_and_only_there() {
    let settings = suspension_settings();
    let plain = |from: &str, extra: &str| mail(from, extra, "Subject: Printer\n\nHello\n");
    let subject =
        |from: &str, subject: &str| mail(from, "", &format!("Subject: {subject}\n\nHi\n"));
    let report = "Subject: Undelivered\nMIME-Version: 1.0\nContent-Type: multipart/report; \
                  report-type=delivery-status; boundary=r\n\n--r\nContent-Type: text/plain\n\n\
                  Could not deliver\n--r--\n";
    let table: Vec<(&str, String, Reason)> = vec![
        // blocked-sender: address (any tag), domain, subdomain; before P6 and everything else.
        (
            "blocked domain",
            plain("x@blocked.example", ""),
            Reason::BlockedSender,
        ),
        (
            "blocked subdomain",
            plain("x@mx.spam.example", ""),
            Reason::BlockedSender,
        ),
        (
            "blocked address, tagged",
            plain("pest+1@acme.example", ""),
            Reason::BlockedSender,
        ),
        (
            "blocked beats automated",
            plain("x@blocked.example", "Auto-Submitted: auto-replied\n"),
            Reason::BlockedSender,
        ),
        (
            "not blocked: parent of *.spam",
            plain("x@spam.example", ""),
            Reason::UnknownSender,
        ),
        (
            "not blocked: sub of a plain domain",
            plain("x@mx.blocked.example", ""),
            Reason::UnknownSender,
        ),
        // automated, registered agents too; before no-reply and identification.
        (
            "auto-replied agent",
            plain(AGENT, "Auto-Submitted: auto-replied\n"),
            Reason::Automated,
        ),
        (
            "auto-generated",
            plain(AGENT, "Auto-Submitted: auto-generated\n"),
            Reason::Automated,
        ),
        (
            "Auto-Submitted: no is a person",
            plain(AGENT, "Auto-Submitted: no\n"),
            Reason::Accepted,
        ),
        (
            "X-Autoreply",
            plain(AGENT, "X-Autoreply: yes\n"),
            Reason::Automated,
        ),
        (
            "X-Autorespond",
            plain(AGENT, "X-Autorespond: x\n"),
            Reason::Automated,
        ),
        (
            "X-Autoresponder",
            plain(AGENT, "X-Autoresponder: x\n"),
            Reason::Automated,
        ),
        (
            "Precedence: auto_reply",
            plain(AGENT, "Precedence: auto_reply\n"),
            Reason::Automated,
        ),
        (
            "Exchange OOF",
            plain(
                AGENT,
                "X-Auto-Response-Suppress: All\nAuto-Submitted: auto-replied\n",
            ),
            Reason::Automated,
        ),
        (
            "X-Auto-Response-Suppress alone",
            plain(AGENT, "X-Auto-Response-Suppress: All\n"),
            Reason::Accepted,
        ),
        (
            "DSN",
            mail("MAILER-DAEMON@acme.example", "", report),
            Reason::Automated,
        ),
        (
            "OOO subject en",
            subject(AGENT, "Automatic reply: Printer"),
            Reason::Automated,
        ),
        (
            "OOO subject fr",
            subject(AGENT, "Réponse automatique : Imprimante"),
            Reason::Automated,
        ),
        (
            "OOO words in a person's subject",
            subject(AGENT, "Automatic reply rules are broken"),
            Reason::Accepted,
        ),
        (
            "automated beats no-reply",
            plain("noreply@acme.example", "X-Autoreply: yes\n"),
            Reason::Automated,
        ),
        // no-reply-sender
        (
            "noreply",
            plain("noreply@acme.example", ""),
            Reason::NoReplySender,
        ),
        (
            "Do-Not-Reply tagged",
            plain("Do-Not-Reply+x@acme.example", ""),
            Reason::NoReplySender,
        ),
        (
            "reply is not no-reply",
            plain("reply@acme.example", ""),
            Reason::UnknownSender,
        ),
        // account-inactive, before P2/P3 and P1.
        (
            "suspended account, its owner",
            plain("sleeper@dormant.example", ""),
            Reason::AccountInactive,
        ),
        (
            "suspended account by tag, a stranger",
            mail("x@else.example", "", "Subject: [dormant] x\n\nHi\n"),
            Reason::AccountInactive,
        ),
        ("active account", plain(OWNER, ""), Reason::Accepted),
        // unregistered-reply-to: after P5, before P4.
        (
            "Reply-To a stranger",
            plain(AGENT, "Reply-To: someone@else.example\n"),
            Reason::UnregisteredReplyTo,
        ),
        (
            "Sender a stranger",
            plain(AGENT, "Sender: secretary@else.example\n"),
            Reason::UnregisteredReplyTo,
        ),
        (
            "Reply-To own secondary",
            plain(
                "owner@acme.example",
                "Reply-To: Owner.Private@mail.example\n",
            ),
            Reason::Accepted,
        ),
        (
            "Reply-To a colleague",
            plain(AGENT, "Reply-To: admin@acme.example\n"),
            Reason::Accepted,
        ),
        (
            "Reply-To an agent of another account",
            plain(AGENT, "Reply-To: g@globex.example\n"),
            Reason::UnregisteredReplyTo,
        ),
        (
            "Reply-To self",
            plain(AGENT, "Reply-To: Agent <AGENT@acme.example>\n"),
            Reason::Accepted,
        ),
        (
            "Reply-To beats P4",
            mail(
                AGENT,
                "Reply-To: x@else.example\n",
                "Subject: Invoice\n\nHi\n",
            ),
            Reason::UnregisteredReplyTo,
        ),
        (
            "P1 beats Reply-To",
            plain("x@else.example", "Reply-To: y@else.example\n"),
            Reason::UnknownSender,
        ),
    ];
    let wrong: Vec<String> = table
        .iter()
        .filter_map(|(label, raw, reason)| {
            let decision = decide_with(raw, &settings, SenderHistory::default());
            (decision.reason != *reason)
                .then(|| format!("{label}: {} instead of {reason}", decision.reason))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// SPEC §10 `mail-loop`: the history the pipeline hands in decides, after `no-reply-sender`
/// and before identification; the actions are the SPEC's defaults and `automated` never gets a
/// reply even when configured to.
#[test]
fn mail_loop_and_the_suspension_defaults() {
    let settings = suspension_settings();
    let agent = mail(AGENT, "", "Subject: Printer\n\nHello\n");
    let seen = |recent_messages, repeated_message_id, blocked_until| SenderHistory {
        recent_messages,
        repeated_message_id,
        blocked_until,
    };
    let rows = [
        (seen(19, false, None), Reason::Accepted),
        (seen(20, false, None), Reason::MailLoop),
        (seen(0, true, None), Reason::MailLoop),
        (seen(0, false, Some(1_000_001)), Reason::MailLoop),
        (seen(0, false, Some(1_000_000)), Reason::Accepted),
    ];
    for (history, reason) in rows {
        let decision = decide_with(&agent, &settings, history);
        assert_eq!(decision.reason, reason, "{history:?}");
    }
    let no_reply = mail("noreply@acme.example", "", "Subject: x\n\nHi\n");
    assert_eq!(
        decide_with(&no_reply, &settings, seen(50, false, None)).reason,
        Reason::NoReplySender,
        "no-reply-sender comes before mail-loop"
    );
    let looped = decide_with(&agent, &settings, seen(20, false, None));
    assert_eq!(looped.action, Action::Quarantine);
    assert_eq!(looped.account, None, "before identification");
    let inactive = decide_with(
        &mail("sleeper@dormant.example", "", "Subject: x\n\nHi\n"),
        &settings,
        SenderHistory::default(),
    );
    assert_eq!(inactive.account.as_deref(), Some("dormant"));
    assert!(matches!(inactive.reply, ReplyPlan::Send { .. }));
    let blocked = decide_with(
        &mail("x@blocked.example", "", "Subject: x\n\nHi\n"),
        &settings,
        SenderHistory::default(),
    );
    assert_eq!(blocked.action, Action::Reject);
    let mut replying = settings.clone();
    replying.set_action(Reason::Automated, Action::Reply);
    let automated = decide_with(
        &mail(
            AGENT,
            "Auto-Submitted: auto-replied\n",
            "Subject: x\n\nHi\n",
        ),
        &replying,
        SenderHistory::default(),
    );
    assert_eq!(
        automated.reply,
        ReplyPlan::Suppressed(Suppression::Automated)
    );
}
