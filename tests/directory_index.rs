//! Queries of the loaded directory: address normalisation on load (SPEC §3 "Address
//! comparison"), primary and secondary addresses, lookups by account id and host.

use supportgate::address::{AddressRules, NormalizedAddress};
use supportgate::directory::{AddressListing, Directory, Language, Role};

const DIRECTORY: &str = r#"
[[account]]
id = "acme"
name = "Acme SAS"
language = "fr"
sign_in_url = "https://acme.vendor.example"
hosts = ["acme.vendor.example", "Bücher.Vendor.example"]
mailboxes = ["acme@support.vendor.example"]
helpdesk_addresses = ["support@acme.example"]
group_addresses = ["team@acme.example"]

[[account.agent]]
name = "Alice Martin"
role = "owner"
emails = ["Alice@ACME.example", "alice.martin+tickets@gmail.example"]

[[account.agent]]
name = "Bob"
role = "admin"
emails = ["bob@bücher.example"]

[[account]]
id = "globex"
name = "Globex"

[[account.agent]]
name = "Gina"
role = "owner"
emails = ["gina@globex.example"]
"#;

fn load(rules: &AddressRules) -> Directory {
    let directory = Directory::from_toml(DIRECTORY, rules).expect("directory format");
    assert_eq!(directory.findings(), &[], "{:?}", directory.findings());
    directory
}

fn lookup(directory: &Directory, raw: &str) -> Vec<AddressListing> {
    let address = NormalizedAddress::parse(raw, directory.address_rules()).expect("valid");
    directory.listings(&address).to_vec()
}

fn agent(agent: u32, primary: bool) -> Vec<AddressListing> {
    vec![AddressListing::Agent {
        account: 0,
        agent,
        primary,
    }]
}

#[test]
fn first_address_is_primary_the_others_secondary() {
    let directory = load(&AddressRules::default());
    assert_eq!(lookup(&directory, "alice@acme.example"), agent(0, true));
    assert_eq!(
        lookup(&directory, "alice.martin+tickets@gmail.example"),
        agent(0, false)
    );
    let alice = directory.agent(0, 0);
    assert_eq!(alice.name.as_ref(), "Alice Martin");
    assert_eq!(alice.role, Role::Owner);
    assert_eq!(
        alice.primary().map(NormalizedAddress::as_str),
        Some("alice@acme.example")
    );
    assert_eq!(alice.emails.len(), 2);
}

#[test]
fn idna_domains_compare_in_ascii_form() {
    let directory = load(&AddressRules::default());
    assert_eq!(
        lookup(&directory, "bob@xn--bcher-kva.example"),
        agent(1, true)
    );
    assert_eq!(lookup(&directory, "BOB@BÜCHER.example"), agent(1, true));
    assert_eq!(
        directory
            .agent(0, 1)
            .primary()
            .map(NormalizedAddress::as_str),
        Some("bob@xn--bcher-kva.example")
    );
}

#[test]
fn local_parts_fold_case_by_default() {
    let directory = load(&AddressRules::default());
    assert_eq!(lookup(&directory, "ALICE@acme.example"), agent(0, true));
}

#[test]
fn local_parts_keep_case_when_configured() {
    let rules = AddressRules {
        case_insensitive_local_part: false,
        ..AddressRules::default()
    };
    let directory = load(&rules);
    // Registered as "Alice@ACME.example": the domain folds, the local part does not.
    assert_eq!(lookup(&directory, "Alice@acme.example"), agent(0, true));
    assert_eq!(lookup(&directory, "alice@acme.example"), vec![]);
}

#[test]
fn subaddress_tags_are_kept_unless_configured() {
    let directory = load(&AddressRules::default());
    assert_eq!(lookup(&directory, "alice.martin@gmail.example"), vec![]);

    let stripping = AddressRules {
        strip_subaddress: true,
        ..AddressRules::default()
    };
    let directory = load(&stripping);
    assert_eq!(
        lookup(&directory, "alice.martin@gmail.example"),
        agent(0, false)
    );
    assert_eq!(
        lookup(&directory, "alice.martin+other@gmail.example"),
        agent(0, false)
    );
}

#[test]
fn helpdesk_group_and_mailbox_addresses_are_listed() {
    let directory = load(&AddressRules::default());
    assert_eq!(
        lookup(&directory, "Support@acme.example"),
        vec![AddressListing::Helpdesk { account: 0 }]
    );
    assert_eq!(
        lookup(&directory, "team@acme.example"),
        vec![AddressListing::Group { account: 0 }]
    );
    assert_eq!(
        lookup(&directory, "acme@support.vendor.example"),
        vec![AddressListing::Mailbox { account: 0 }]
    );
    assert_eq!(lookup(&directory, "nobody@acme.example"), vec![]);
}

#[test]
fn accounts_by_id_and_by_host() {
    let directory = load(&AddressRules::default());
    assert_eq!(directory.account_by_id("acme"), Some(0));
    assert_eq!(directory.account_by_id("globex"), Some(1));
    assert_eq!(directory.account_by_id("ACME"), None, "ids are exact");
    assert_eq!(directory.account_by_id("initech"), None);

    assert_eq!(directory.account_by_host("acme.vendor.example"), Some(0));
    assert_eq!(
        directory.account_by_host("xn--bcher-kva.vendor.example"),
        Some(0),
        "hosts are stored in lower-case ASCII form"
    );
    assert_eq!(directory.account_by_host("globex.vendor.example"), None);

    let acme = directory.account(0);
    assert_eq!(acme.id.as_ref(), "acme");
    assert_eq!(acme.language, Some(Language::Fr));
    assert_eq!(
        acme.sign_in_url.as_deref(),
        Some("https://acme.vendor.example")
    );
    assert_eq!(directory.account_count(), 2);
    assert_eq!(directory.agent_count(), 3);
}

#[test]
fn load_reads_a_file_and_names_it_in_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("directory.toml");
    std::fs::write(&path, DIRECTORY).expect("write");
    let directory = Directory::load(&path, &AddressRules::default()).expect("loads");
    assert_eq!(directory.agent_count(), 3);

    std::fs::write(&path, "[[account]]\nid = \"acme\n").expect("write");
    let error = Directory::load(&path, &AddressRules::default()).unwrap_err();
    assert!(
        error.to_string().starts_with(&path.display().to_string()),
        "{error}"
    );
    let missing = dir.path().join("missing.toml");
    assert!(Directory::load(&missing, &AddressRules::default()).is_err());
}
