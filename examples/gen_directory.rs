//! Writes a synthetic, deterministic directory in the SPEC §9 TOML format, for measuring the
//! directory's scale goal (1,000,000 agents load in under 5 s and under 1 GiB).
//!
//! ```text
//! cargo run --release --example gen_directory -- target/directory-1m.toml 100000 10
//! ```
//!
//! Arguments: output path, number of accounts (default 100,000), agents per account (default 10).
//! The same arguments always give the same file. The directory it describes is clean (no lint
//! findings): one owner per account, admins and agents, one or two addresses per agent, some
//! IDNA and mixed-case addresses, hosts, mailboxes, helpdesk and group addresses, and a few
//! consultants registered on two accounts (legitimate, not a finding).
//!
//! `benches/directory_load.rs` includes this file as a module to generate smaller directories
//! in-process.

use std::io::{self, BufWriter, Write};

const FIRST: [&str; 16] = [
    "alice", "bob", "carol", "david", "emma", "farid", "gaelle", "hugo", "ines", "jules", "karim",
    "lea", "marc", "nora", "oscar", "paula",
];
const LAST: [&str; 12] = [
    "martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy",
    "moreau", "simon", "laurent",
];
const FREEMAIL: [&str; 4] = [
    "gmail.example",
    "outlook.example",
    "laposte.example",
    "proton.example",
];

/// A small deterministic generator (SplitMix64), so the file does not depend on `rand`'s version.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The company domain of account `i`; one in 97 is internationalised.
fn domain(i: usize) -> String {
    if i.is_multiple_of(97) {
        format!("bücher-{i}.example")
    } else {
        format!("acct-{i:06}.example")
    }
}

/// The address of the consultant who works for account `i` and also for account `i + 1`.
fn consultant(i: usize) -> String {
    format!("consultant-{i}@freelance.example")
}

/// Writes `accounts` accounts of `agents_per_account` agents each to `out`.
pub fn write_directory(
    out: &mut impl Write,
    accounts: usize,
    agents_per_account: usize,
) -> io::Result<()> {
    let mut rng = SplitMix(0x5EED);
    writeln!(
        out,
        "# Synthetic directory: {accounts} accounts x {agents_per_account} agents (gen_directory)"
    )?;
    for i in 0..accounts {
        let domain = domain(i);
        writeln!(out, "\n[[account]]")?;
        writeln!(out, "id = \"acct-{i:06}\"")?;
        writeln!(out, "name = \"Company {i} SAS\"")?;
        if i % 3 != 2 {
            let language = if i.is_multiple_of(3) { "fr" } else { "en" };
            writeln!(out, "language = \"{language}\"")?;
        }
        if i.is_multiple_of(4) {
            writeln!(out, "sign_in_url = \"https://acct-{i:06}.vendor.example\"")?;
            writeln!(out, "hosts = [\"acct-{i:06}.vendor.example\"]")?;
        }
        if i.is_multiple_of(10) {
            writeln!(out, "mailboxes = [\"acct-{i:06}@support.vendor.example\"]")?;
        }
        if i.is_multiple_of(5) {
            writeln!(out, "helpdesk_addresses = [\"support@{domain}\"]")?;
        }
        if i.is_multiple_of(7) {
            writeln!(
                out,
                "group_addresses = [\"team@{domain}\", \"it@{domain}\"]"
            )?;
        }
        for a in 0..agents_per_account {
            let first = FIRST[rng.below(FIRST.len())];
            let last = LAST[rng.below(LAST.len())];
            let role = match a {
                0 => "owner",
                1 | 2 => "admin",
                _ => "agent",
            };
            let mut emails = Vec::with_capacity(2);
            if a + 1 == agents_per_account && i % 50 == 1 && i > 0 {
                // The previous account's consultant, registered here too.
                emails.push(consultant(i - 1));
            } else if a + 1 == agents_per_account && i.is_multiple_of(50) {
                emails.push(consultant(i));
            } else if i.is_multiple_of(11) && a == 1 {
                // Mixed case, to be folded by the default address rules.
                emails.push(format!("{}.{}{a}@{}", first.to_uppercase(), last, domain));
            } else {
                emails.push(format!("{first}.{last}{a}@{domain}"));
            }
            if rng.below(2) == 0 {
                let freemail = FREEMAIL[rng.below(FREEMAIL.len())];
                emails.push(format!("{first}.{last}.{i}.{a}@{freemail}"));
            }
            writeln!(out, "\n[[account.agent]]")?;
            writeln!(
                out,
                "name = \"{} {} {a}\"",
                capitalise(first),
                capitalise(last)
            )?;
            writeln!(out, "role = \"{role}\"")?;
            let list: Vec<String> = emails.iter().map(|e| format!("\"{e}\"")).collect();
            writeln!(out, "emails = [{}]", list.join(", "))?;
        }
    }
    Ok(())
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "target/directory-1m.toml".to_string());
    let accounts = args
        .next()
        .map_or(100_000, |a| a.parse().expect("accounts"));
    let agents = args.next().map_or(10, |a| a.parse().expect("agents"));
    let mut out = BufWriter::new(std::fs::File::create(&path)?);
    write_directory(&mut out, accounts, agents)?;
    out.flush()?;
    eprintln!("{path}: {accounts} accounts, {} agents", accounts * agents);
    Ok(())
}
