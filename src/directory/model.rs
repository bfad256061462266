//! The directory's data model, as written in `directory.toml`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What an agent may ask for (SPEC §1): owner, admin or plain agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "agent" => Ok(Role::Agent),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The languages auto-replies are shipped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Fr,
    En,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::Fr, Language::En];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }

    /// Reads a language tag such as `fr`, `fr-CA` or `en_GB` (only the primary subtag counts).
    pub fn from_tag(tag: &str) -> Option<Language> {
        let primary = tag
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "fr" => Some(Language::Fr),
            "en" => Some(Language::En),
            _ => None,
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an account may be served (SPEC §10 `account-inactive`): `status` in the directory,
/// `active` when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    #[default]
    Active,
    Suspended,
    Closed,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Closed => "closed",
        }
    }
}

impl FromStr for AccountStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "active" => Ok(AccountStatus::Active),
            "suspended" => Ok(AccountStatus::Suspended),
            "closed" => Ok(AccountStatus::Closed),
            _ => Err(()),
        }
    }
}

/// One `[[account]]` as written. Strings stay unchecked here; [`super::Directory`] validates them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub sign_in_url: Option<String>,
    /// `active` (the default), `suspended` or `closed`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub mailboxes: Vec<String>,
    #[serde(default)]
    pub helpdesk_addresses: Vec<String>,
    #[serde(default)]
    pub group_addresses: Vec<String>,
    #[serde(default)]
    pub agent: Vec<AgentEntry>,
}

/// One `[[account.agent]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentEntry {
    pub name: String,
    pub role: String,
    pub emails: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryFile {
    #[serde(default)]
    pub account: Vec<AccountEntry>,
}

/// A loaded account.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: Box<str>,
    pub name: Box<str>,
    pub language: Option<Language>,
    pub sign_in_url: Option<Box<str>>,
    pub status: AccountStatus,
    pub hosts: Vec<Box<str>>,
    pub agents: Vec<Agent>,
    /// The account's own addresses, parsed: its mailboxes, then its helpdesk and group
    /// addresses (the agents' are on their profiles).
    pub own_addresses: Vec<crate::address::NormalizedAddress>,
}

/// A loaded agent profile. `emails[0]` is the primary address, the rest are secondary.
#[derive(Debug, Clone)]
pub struct Agent {
    pub name: Box<str>,
    pub role: Role,
    pub emails: Vec<crate::address::NormalizedAddress>,
}

impl Agent {
    pub fn primary(&self) -> Option<&crate::address::NormalizedAddress> {
        self.emails.first()
    }
}
