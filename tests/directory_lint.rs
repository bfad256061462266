//! Lint findings of the directory (SPEC §9): each inconsistency is reported once, about the right
//! account, with a message that names the problem; a clean directory reports nothing.

use supportgate::address::AddressRules;
use supportgate::directory::{Directory, Finding, Severity};

fn findings(toml: &str) -> Vec<(String, String)> {
    let directory = Directory::from_toml(toml, &AddressRules::default()).expect("directory format");
    directory
        .findings()
        .iter()
        .map(|f| {
            assert_eq!(f.severity, Severity::Error, "{f}");
            (f.account.clone(), f.message.clone())
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, m)| (a.to_string(), m.to_string()))
        .collect()
}

/// An account with an owner and one agent; `extra` is appended inside the account table and
/// `agents` after it.
fn account(id: &str, extra: &str, agents: &str) -> String {
    format!(
        "[[account]]\nid = \"{id}\"\nname = \"Account {id}\"\n{extra}\n\
         [[account.agent]]\nname = \"Owner of {id}\"\nrole = \"owner\"\nemails = [\"owner@{id}.example\"]\n\
         {agents}\n"
    )
}

const CLEAN: &str = r#"
[[account]]
id = "acme"
name = "Acme SAS"
language = "fr"
sign_in_url = "https://acme.vendor.example"
hosts = ["acme.vendor.example"]
mailboxes = ["acme@support.vendor.example"]
helpdesk_addresses = ["support@acme.example"]
group_addresses = ["team@acme.example"]

[[account.agent]]
name = "Alice Martin"
role = "owner"
emails = ["alice@acme.example", "alice.martin@gmail.example"]

[[account.agent]]
name = "Bob"
role = "admin"
emails = ["bob@acme.example"]

[[account.agent]]
name = "Carol"
role = "agent"
emails = ["carol@acme.example"]

[[account]]
id = "globex-2"
name = "Globex"
language = "en-GB"

[[account.agent]]
name = "Gina"
role = "owner"
emails = ["gina@globex.example"]
"#;

#[test]
fn clean_directory_has_no_findings() {
    assert_eq!(findings(CLEAN), vec![]);
}

#[test]
fn address_on_two_profiles_of_one_account_is_licence_sharing() {
    let agents =
        "[[account.agent]]\nname = \"Bob\"\nrole = \"agent\"\nemails = [\"Owner@ACME.example\"]\n";
    assert_eq!(
        findings(&account("acme", "", agents)),
        pairs(&[(
            "acme",
            "owner@acme.example is on 2 profiles (Owner of acme, Bob): licence sharing"
        )])
    );
}

#[test]
fn address_twice_on_one_profile_is_not_licence_sharing() {
    let agents =
        "[[account.agent]]\nname = \"Bob\"\nrole = \"agent\"\nemails = [\"bob@acme.example\", \"BOB@acme.example\"]\n";
    let directory = Directory::from_toml(&account("acme", "", agents), &AddressRules::default())
        .expect("directory format");
    assert_eq!(directory.findings(), &[] as &[Finding]);
    let bob = directory.agent(0, 1);
    assert_eq!(bob.emails.len(), 1, "the repeated address is kept once");
}

#[test]
fn helpdesk_or_group_address_on_a_profile_is_reported() {
    let extra = "helpdesk_addresses = [\"support@acme.example\"]\ngroup_addresses = [\"team@acme.example\"]";
    let agents = "[[account.agent]]\nname = \"Bob\"\nrole = \"agent\"\n\
                  emails = [\"bob@acme.example\", \"Support@acme.example\", \"team@ACME.example\"]\n";
    assert_eq!(
        findings(&account("acme", extra, agents)),
        pairs(&[
            (
                "acme",
                "support@acme.example is a helpdesk address and also on the profile of Bob"
            ),
            (
                "acme",
                "team@acme.example is a group address and also on the profile of Bob"
            ),
        ])
    );
}

/// An address registered on two different accounts (a consultant, an agency) is legitimate: the
/// policy refuses such a sender only when a mail does not say which account it concerns (P8,
/// `ambiguous-account`). It must not be reported as licence sharing.
#[test]
fn address_on_two_accounts_is_not_a_finding() {
    let shared = "[[account.agent]]\nname = \"Consultant\"\nrole = \"agent\"\n\
                  emails = [\"consultant@freelance.example\"]\n";
    let text = account("acme", "", shared) + &account("globex", "", shared);
    let directory = Directory::from_toml(&text, &AddressRules::default()).expect("format");
    assert_eq!(directory.findings(), &[] as &[Finding]);
    let address = supportgate::address::NormalizedAddress::parse(
        "consultant@freelance.example",
        &AddressRules::default(),
    )
    .expect("valid");
    let accounts: Vec<_> = directory
        .listings(&address)
        .iter()
        .map(|l| l.account())
        .collect();
    assert_eq!(accounts, vec![0, 1]);
}

#[test]
fn account_without_owner_is_reported() {
    let text = "[[account]]\nid = \"acme\"\nname = \"Acme\"\n\
                [[account.agent]]\nname = \"Bob\"\nrole = \"admin\"\nemails = [\"bob@acme.example\"]\n\
                [[account]]\nid = \"empty\"\nname = \"No agents at all\"\n";
    assert_eq!(
        findings(text),
        pairs(&[
            ("acme", "account has no owner"),
            ("empty", "account has no owner")
        ])
    );
}

#[test]
fn duplicate_account_id_is_reported_and_the_first_account_keeps_it() {
    let text = account("acme", "", "") + &account("acme", "", "");
    assert_eq!(
        findings(&text),
        // The two owners share an address, but they are on two account records: not reported
        // as licence sharing on top of the duplicate id.
        pairs(&[("acme", "duplicate account id \"acme\"")])
    );
    let directory = Directory::from_toml(&text, &AddressRules::default()).expect("format");
    assert_eq!(directory.account_by_id("acme"), Some(0));
}

#[test]
fn invalid_account_fields_are_reported_one_by_one() {
    let cases: &[(&str, &str, &str)] = &[
        ("Acme", "", "account id \"Acme\" must match [a-z0-9-]+"),
        (
            "acme_sas",
            "",
            "account id \"acme_sas\" must match [a-z0-9-]+",
        ),
        ("", "", "account id \"\" must match [a-z0-9-]+"),
        (
            "acme",
            "language = \"de\"",
            "language \"de\": expected \"fr\" or \"en\"",
        ),
        (
            "acme",
            "hosts = [\"acme vendor.example\"]",
            "host \"acme vendor.example\": invalid domain",
        ),
        (
            "acme",
            "helpdesk_addresses = [\"support\"]",
            "address \"support\": no @ in address",
        ),
        (
            "acme",
            "group_addresses = [\"team@[10.0.0.1]\"]",
            "address \"team@[10.0.0.1]\": invalid domain",
        ),
        (
            "acme",
            "mailboxes = [\"a..b@support.vendor.example\"]",
            "address \"a..b@support.vendor.example\": invalid character in local part",
        ),
    ];
    for (id, extra, message) in cases {
        let text = account(id, extra, "");
        // The owner's address uses the id as domain: keep it valid for the invalid ids.
        let text = text.replace(&format!("owner@{id}.example"), "owner@acme.example");
        assert_eq!(findings(&text), pairs(&[(id, message)]), "{extra}");
    }
}

#[test]
fn invalid_agent_fields_are_reported() {
    let agents = "[[account.agent]]\nname = \"Mallory\"\nrole = \"boss\"\nemails = [\"mallory@acme.example\"]\n\
                  [[account.agent]]\nname = \"Bob\"\nrole = \"agent\"\nemails = [\"bob@\", \"bob@acme.example\"]\n\
                  [[account.agent]]\nname = \"Nobody\"\nrole = \"agent\"\nemails = []\n";
    assert_eq!(
        findings(&account("acme", "", agents)),
        pairs(&[
            (
                "acme",
                "agent \"Mallory\": role \"boss\": expected owner, admin or agent"
            ),
            ("acme", "address \"bob@\": invalid domain"),
            ("acme", "agent \"Nobody\" has no email address"),
        ])
    );
    // The invalid address is dropped; the next one becomes the primary.
    let directory =
        Directory::from_toml(&account("acme", "", agents), &AddressRules::default()).unwrap();
    let bob = directory.agent(0, 2);
    assert_eq!(bob.primary().map(|a| a.as_str()), Some("bob@acme.example"));
}

#[test]
fn host_naming_two_accounts_is_reported() {
    let text = account("acme", "hosts = [\"shared.vendor.example\"]", "")
        + &account("globex", "hosts = [\"Shared.Vendor.Example\"]", "");
    assert_eq!(
        findings(&text),
        pairs(&[(
            "globex",
            "host \"shared.vendor.example\" also names another account"
        )])
    );
}

#[test]
fn findings_display_names_level_and_account() {
    let text = account("acme", "language = \"de\"", "");
    let directory = Directory::from_toml(&text, &AddressRules::default()).unwrap();
    assert_eq!(
        directory.findings()[0].to_string(),
        "error: account \"acme\": language \"de\": expected \"fr\" or \"en\""
    );
}

#[test]
fn text_that_is_not_the_directory_format_is_an_error_not_a_finding() {
    let rules = AddressRules::default();
    for text in [
        "[[account]]\nid = \"acme\"\n", // no name
        "[[account]]\nid = \"acme\"\nname = \"A\"\ncolour = \"red\"\n", // unknown key
        "[[account]\n",                 // not TOML
        "[[account]]\nid = 3\nname = \"A\"\n", // wrong type
    ] {
        assert!(Directory::from_toml(text, &rules).is_err(), "{text}");
    }
    assert_eq!(Directory::from_toml("", &rules).unwrap().account_count(), 0);
}

/// The fixture that `supportgate directory lint` black-box tests run on: every kind of finding,
/// as listed in its header comment.
#[test]
fn bad_fixture_has_every_kind_of_finding() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/directory_lint_bad.toml");
    let directory = Directory::load(&path, &AddressRules::default()).expect("directory format");
    let messages: Vec<String> = directory.findings().iter().map(|f| f.to_string()).collect();
    let expected = [
        "error: account \"acme\": duplicate account id \"acme\"",
        "error: account \"acme\": language \"de\": expected \"fr\" or \"en\"",
        "error: account \"acme\": host \"bad host.example\": invalid domain",
        "error: account \"acme\": address \"not-an-address\": no @ in address",
        "error: account \"acme\": agent \"Mallory\": role \"boss\": expected owner, admin or agent",
        "error: account \"acme\": agent \"Nobody\" has no email address",
        "error: account \"Bad_Id\": account id \"Bad_Id\" must match [a-z0-9-]+",
        "error: account \"Bad_Id\": account has no owner",
        "error: account \"globex\": shared@globex.example is on 2 profiles (Gina, Gus): licence sharing",
        "error: account \"globex\": support@globex.example is a helpdesk address and also on the profile of Gina",
        "error: account \"globex\": team@globex.example is a group address and also on the profile of Gus",
    ];
    let mut sorted_messages = messages.clone();
    sorted_messages.sort();
    let mut sorted_expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    sorted_expected.sort();
    assert_eq!(sorted_messages, sorted_expected, "{messages:#?}");
}

#[test]
fn account_status_is_active_suspended_or_closed() {
    for status in ["active", "suspended", "closed"] {
        let extra = format!("status = \"{status}\"");
        assert_eq!(
            findings(&account("acme", &extra, "")),
            pairs(&[]),
            "{status}"
        );
    }
    assert_eq!(
        findings(&account("acme", "status = \"suspend\"", "")),
        pairs(&[(
            "acme",
            "status \"suspend\": expected \"active\", \"suspended\" or \"closed\" (held as suspended)"
        )])
    );
    let directory = Directory::from_toml(
        &account("acme", "status = \"Closed\"", ""),
        &AddressRules::default(),
    )
    .unwrap();
    assert_eq!(
        directory.accounts().next().expect("one account").status,
        supportgate::directory::AccountStatus::Suspended,
        "a status nobody can read is not taken as active"
    );
}
