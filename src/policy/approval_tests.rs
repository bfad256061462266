//! The approval rule as a table: who may approve what, and what changes nothing.

use super::*;
use crate::address::AddressRules;
use crate::policy::{AuthSource, FromHeader};

const DIRECTORY: &str = r#"
[[account]]
id = "acme"
name = "Acme"
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

[[account]]
id = "globex"
name = "Globex"
[[account.agent]]
name = "G owner"
role = "owner"
emails = ["g@globex.example"]
"#;

fn known(requires: Role, open: bool) -> TokenState {
    TokenState::Known {
        account: "acme".into(),
        requires,
        open,
    }
}

fn run(
    from: &str,
    authenticated: bool,
    extra: impl FnOnce(&mut MessageFacts),
    token: &TokenState,
) -> String {
    let directory = Directory::from_toml(DIRECTORY, &AddressRules::default()).unwrap();
    let mut facts = MessageFacts {
        from: Some(FromHeader::Mailbox(from.into())),
        subject: "Re: approval needed".into(),
        ..MessageFacts::default()
    };
    extra(&mut facts);
    let auth = AuthResult::with_source(if authenticated {
        AuthSource::Assumed
    } else {
        AuthSource::NotVerified
    });
    let verdict = decide_approval(&ApprovalInput {
        kind: ApprovalKind::Approve,
        facts: &facts,
        auth: &auth,
        directory: &directory,
        settings: &PolicySettings::default(),
        token,
    });
    match verdict {
        ApprovalVerdict::Decide { approver, .. } => {
            format!("approved by {} ({})", approver.primary, approver.role)
        }
        ApprovalVerdict::NoLongerPending { approver } => {
            format!("no-longer-pending for {}", approver.primary)
        }
        ApprovalVerdict::Ignored(why) => why.to_string(),
    }
}

#[test]
fn who_may_approve_and_what_changes_nothing() {
    let admin_needed = known(Role::Admin, true);
    let owner_needed = known(Role::Owner, true);
    let none = |_: &mut MessageFacts| {};
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "owner",
            run("owner@acme.example", true, none, &admin_needed),
            "approved by owner@acme.example (owner)",
        ),
        // A secondary address approves; the header names the primary.
        (
            "owner from secondary",
            run("owner.private@mail.example", true, none, &admin_needed),
            "approved by owner@acme.example (owner)",
        ),
        (
            "admin",
            run("admin@acme.example", true, none, &admin_needed),
            "approved by admin@acme.example (admin)",
        ),
        (
            "admin, owner required",
            run("admin@acme.example", true, none, &owner_needed),
            "not-an-approver",
        ),
        (
            "plain agent",
            run("agent@acme.example", true, none, &admin_needed),
            "not-an-approver",
        ),
        (
            "another account's owner",
            run("g@globex.example", true, none, &admin_needed),
            "not-an-approver",
        ),
        (
            "stranger",
            run("someone@else.example", true, none, &admin_needed),
            "not-an-approver",
        ),
        (
            "forged owner",
            run("owner@acme.example", false, none, &admin_needed),
            "unauthenticated-sender",
        ),
        (
            "unknown token",
            run("owner@acme.example", true, none, &TokenState::Unknown),
            "unknown-token",
        ),
        (
            "closed",
            run("owner@acme.example", true, none, &known(Role::Admin, false)),
            "no-longer-pending for owner@acme.example",
        ),
        (
            "closed, not an approver",
            run("agent@acme.example", true, none, &known(Role::Admin, false)),
            "not-an-approver",
        ),
        (
            "out of office",
            run(
                "owner@acme.example",
                true,
                |f| f.auto_submitted = Some("auto-replied".into()),
                &admin_needed,
            ),
            "automated",
        ),
        (
            "two Froms",
            run(
                "owner@acme.example",
                true,
                |f| f.duplicated_headers = vec!["From"],
                &admin_needed,
            ),
            "malformed-sender",
        ),
    ];
    for (name, got, want) in cases {
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn approval_addresses_are_read_and_built_on_the_support_address() {
    let rules = AddressRules::default();
    let token = "abcdefghijklmnopqrstuvwxyz234567";
    let support = NormalizedAddress::parse("support@vendor.example", &rules).unwrap();
    let approve = build_address(&support, '+', ApprovalKind::Approve, token);
    assert_eq!(approve, format!("support+approve-{token}@vendor.example"));
    let parsed = NormalizedAddress::parse(&approve.to_uppercase(), &rules).unwrap();
    assert_eq!(
        approval_address(&parsed, '+'),
        Some(ApprovalAddress {
            kind: ApprovalKind::Approve,
            token: token.into()
        })
    );
    let decline = NormalizedAddress::parse(
        &build_address(&support, '+', ApprovalKind::Decline, token),
        &rules,
    )
    .unwrap();
    assert_eq!(
        approval_address(&decline, '+').map(|a| a.kind),
        Some(ApprovalKind::Decline)
    );
    for not_ours in [
        "support+acme@vendor.example",
        "support+approve-short@vendor.example",
        "support+approve-abcdefghijklmnopqrstuvwxyz01@vendor.example",
        "support@vendor.example",
    ] {
        let address = NormalizedAddress::parse(not_ours, &rules).unwrap();
        assert_eq!(approval_address(&address, '+'), None, "{not_ours}");
    }
}
