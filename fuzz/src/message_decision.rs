//! `message_decision`: bytes → `parse_message` (mail-parser) → `Engine::facts`
//! (`MessageFacts::extract`) → `Engine::decide` (`policy::decide`), with the shipped
//! `config/supportgate.toml` and the golden samples' `samples/directory.toml`.
//!
//! Input: one control byte (authentication source, envelope), then the message. Invariants:
//!
//! * every parsed message gets a `Decision`, the same one twice;
//! * `verdict == accept` iff `reason == accepted`; the action is the configured one; a reply is
//!   planned (sent or suppressed) iff the action is `reply`;
//! * `accepted` (and `authorization-required`, which is decided after P1) only when the From
//!   header is one mailbox, authenticated, registered as an agent of the decided account on
//!   exactly one profile, and `agent`/`role` are that profile's.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use supportgate::address::NormalizedAddress;
use supportgate::config::Config;
use supportgate::directory::{AddressListing, Directory};
use supportgate::pipeline::{parse_message, Engine};
use supportgate::policy::{
    Action, AuthResult, AuthSource, Envelope, FromHeader, Reason, ReplyMemoryView, ReplyPlan,
    Verdict,
};

const CONFIG: &str = include_str!("../../config/supportgate.toml");
const DIRECTORY: &str = include_str!("../../samples/directory.toml");
/// 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;

/// Envelope recipients the control byte picks from: a tag, a per-account mailbox, the plain
/// support address, an unknown tag, and one with odd syntax.
const RECIPIENTS: [&str; 6] = [
    "support+acme@vendor.example",
    "globex@support.vendor.example",
    "support@vendor.example",
    "support+nobody@vendor.example",
    "support+initech@VENDOR.example",
    "\"odd local\"@vendor.example",
];

struct NoMemory;

impl ReplyMemoryView for NoMemory {
    fn replied_since(&self, _: &NormalizedAddress, _: Reason, _: u64) -> bool {
        false
    }
}

/// The repository root (holding `config/`), from either crate that includes this file.
fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    if manifest.join("config/supportgate.toml").is_file() {
        manifest.to_path_buf()
    } else {
        manifest.parent().unwrap_or(manifest).to_path_buf()
    }
}

pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let path = repo_root().join("config/supportgate.toml");
        let config = Config::from_toml(CONFIG, &path).expect("shipped configuration is valid");
        let directory = Directory::from_toml(DIRECTORY, &config.address_rules)
            .expect("samples/directory.toml parses");
        Engine::assemble(config, directory).expect("templates load")
    })
}

pub fn check(input: &[u8]) {
    let [control, raw @ ..] = input else {
        return;
    };
    let Ok(message) = parse_message(raw) else {
        return;
    };
    let engine = engine();
    let facts = engine.facts(&message);
    let auth = match control & 3 {
        0 => AuthResult::with_source(AuthSource::Off),
        1 => AuthResult::from_trusted_header(
            &facts.authentication_results,
            &["mx.vendor.example".to_string()],
        ),
        2 => AuthResult::with_source(AuthSource::NotVerified),
        _ => AuthResult::with_source(AuthSource::Assumed),
    };
    let from_mailbox = match &facts.from {
        Some(FromHeader::Mailbox(raw)) => Some(raw.clone()),
        _ => None,
    };
    let mail_from = match (control >> 2) & 3 {
        0 => None,
        1 => Some("bounces@lists.example".to_string()),
        2 => Some("not an address".to_string()),
        _ => from_mailbox.clone(),
    };
    let first = usize::from(control >> 4) % RECIPIENTS.len();
    let count = 1 + usize::from(control >> 7);
    let envelope = Envelope {
        mail_from,
        recipients: RECIPIENTS
            .iter()
            .cycle()
            .skip(first)
            .take(count)
            .map(|r| r.to_string())
            .collect(),
    };
    let decision = engine.decide(
        &facts,
        &envelope,
        &auth,
        &NoMemory,
        &Default::default(),
        NOW,
    );
    let again = engine.decide(
        &facts,
        &envelope,
        &auth,
        &NoMemory,
        &Default::default(),
        NOW,
    );
    assert_eq!(
        decision, again,
        "the same message decided twice differently"
    );

    assert_eq!(
        decision.verdict == Verdict::Accept,
        decision.reason == Reason::Accepted,
        "verdict and reason disagree: {decision:?}"
    );
    assert_eq!(decision.action, engine.config.action(decision.reason));
    // `hold` answers too (held-for-approval, or the refusal when nobody can approve).
    assert_eq!(
        matches!(decision.action, Action::Reply | Action::Hold),
        decision.reply != ReplyPlan::NotApplicable,
        "reply plan without a replying action, or the reverse: {decision:?}"
    );
    if !matches!(
        decision.reason,
        Reason::Accepted | Reason::AuthorizationRequired
    ) {
        return;
    }
    // Past P1: the From header is a registered, authenticated agent of the decided account.
    let directory = &engine.directory;
    let raw = from_mailbox
        .unwrap_or_else(|| panic!("{:?} without a From mailbox: {decision:?}", decision.reason));
    let sender = NormalizedAddress::parse(&raw, directory.address_rules()).unwrap_or_else(|e| {
        panic!(
            "{:?} with an unusable From {raw:?} ({e:?})",
            decision.reason
        )
    });
    assert_eq!(
        decision.sender.as_deref(),
        Some(sender.as_str()),
        "sender is not the From"
    );
    assert!(
        auth.authenticates(sender.domain(), engine.config.policy.require_dmarc),
        "{:?} but not authenticated: {decision:?}",
        decision.reason
    );
    let account_name = decision
        .account
        .as_deref()
        .unwrap_or_else(|| panic!("{:?} without an account", decision.reason));
    let account = directory
        .account_by_id(account_name)
        .unwrap_or_else(|| panic!("decided for an unknown account {account_name:?}"));
    let mut profiles: Vec<u32> = directory
        .listings(&sender)
        .iter()
        .filter_map(|l| match *l {
            AddressListing::Agent {
                account: a, agent, ..
            } if a == account => Some(agent),
            _ => None,
        })
        .collect();
    profiles.sort_unstable();
    profiles.dedup();
    let [profile] = profiles[..] else {
        panic!(
            "{:?} but {sender} is on {} profiles of {account_name}: {decision:?}",
            decision.reason,
            profiles.len()
        );
    };
    let agent = directory.agent(account, profile);
    assert_eq!(decision.role, Some(agent.role), "role is not the profile's");
    assert_eq!(
        decision.agent.as_deref(),
        agent.primary().map(|p| p.as_str()),
        "agent is not the profile's primary address"
    );
    if decision.reason == Reason::AuthorizationRequired {
        assert!(
            decision.category.is_some(),
            "authorization required without a category"
        );
    } else {
        assert!(decision.category.is_none() && decision.notify.is_empty());
    }
}
