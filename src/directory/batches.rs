//! Reading `directory.toml` a few accounts at a time.
//!
//! Parsing the whole file in one `toml::from_str` builds a document tree many times the size of
//! the text before serde sees a single account: for 1,000,000 agents (135 MB of TOML) that was
//! 2.7 GB and 8.5 s with `toml` 0.8, and no better with 0.9 or 1.x (3.2 GB, 6.9 s). The scale goal
//! is under 1 GiB and 5 s, so the text is cut before `[[account]]` header lines into batches of
//! [`ACCOUNTS_PER_BATCH`] accounts, and each batch is parsed on its own: only one batch's tree is
//! alive at a time. Batches are parsed with `toml` 1.x, which needs half the CPU time of 0.8 on
//! them (1.9 s against 4.2 s for the million agents), on a few threads while the calling thread
//! builds the index.
//!
//! Why this gives the same result as parsing the whole file: the file format has no top-level
//! key other than `account` (`deny_unknown_fields`), so after the first `[[account]]` everything
//! belongs to an account element or to one of its sub-tables (`[[account.agent]]`), and each
//! `[[account]]` line starts a fresh element. A line that reads `[[account]]` but is not a header
//! can only be inside a multi-line string; the batch before the cut then ends inside an open
//! string and fails to parse. Any batch error makes the caller parse the whole text instead,
//! which reports the error with its real line number (or succeeds, in that string case).

use super::model::{AccountEntry, DirectoryFile};

/// Large enough that per-parse overhead does not count, small enough that a batch's document
/// tree stays a few hundred KB.
pub(super) const ACCOUNTS_PER_BATCH: usize = 64;

/// `text` cut into batches that each parse as a `DirectoryFile`.
#[derive(Debug)]
pub(super) struct Batches<'a> {
    pub batches: Vec<&'a str>,
    /// `[[account.agent]]` header lines seen: a capacity hint, not a count to rely on.
    pub agent_headers: usize,
}

/// Cuts `text` before every [`ACCOUNTS_PER_BATCH`]-th `[[account]]` header line. The first batch
/// starts at the beginning of the text, comments before the first account included.
pub(super) fn split(text: &str) -> Batches<'_> {
    let mut batches = Vec::new();
    let mut agent_headers = 0;
    let mut accounts: usize = 0;
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        match header(line) {
            Some(Header::Account) => {
                if accounts > 0 && accounts.is_multiple_of(ACCOUNTS_PER_BATCH) {
                    batches.push(&text[start..offset]);
                    start = offset;
                }
                accounts += 1;
            }
            Some(Header::Agent) => agent_headers += 1,
            None => {}
        }
        offset += line.len();
    }
    batches.push(&text[start..]);
    Batches {
        batches,
        agent_headers,
    }
}

/// Parses `batches` and hands their accounts to `add`, in file order. Parsing is most of the load
/// time and batches are independent, so up to [`MAX_PARSERS`] threads parse while the calling
/// thread runs `add` (which builds the index, and cannot be shared). Bounded channels keep only a
/// few parsed batches waiting. Stops at the first batch that does not parse.
pub(super) fn parse_each(
    batches: &[&str],
    mut add: impl FnMut(Vec<AccountEntry>),
) -> Result<(), BatchFailed> {
    let parsers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_PARSERS)
        .min(batches.len() / 4);
    if parsers < 2 {
        for batch in batches {
            add(parse(batch).map_err(|_| BatchFailed)?);
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        // Parser `p` takes batches p, p + parsers, p + 2 × parsers…; reading the channels in turn
        // gives the batches back in file order.
        let receivers: Vec<_> = (0..parsers)
            .map(|p| {
                let (sender, receiver) = std::sync::mpsc::sync_channel(4);
                scope.spawn(move || {
                    for batch in batches.iter().skip(p).step_by(parsers) {
                        let parsed = parse(batch);
                        let failed = parsed.is_err();
                        // A closed channel means the reader stopped at an error: stop too.
                        if sender.send(parsed).is_err() || failed {
                            break;
                        }
                    }
                });
                receiver
            })
            .collect();
        for index in 0..batches.len() {
            match receivers[index % parsers].recv() {
                Ok(Ok(entries)) => add(entries),
                // A parse error, or a parser that ended without sending (it panicked).
                Ok(Err(_)) | Err(_) => return Err(BatchFailed),
            }
        }
        Ok(())
    })
}

/// A batch did not parse: the caller parses the whole text for the real error.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct BatchFailed;

/// Parser threads at most: beyond a few, building the index on the calling thread is the limit.
const MAX_PARSERS: usize = 3;

/// Parses one batch.
fn parse(batch: &str) -> Result<Vec<AccountEntry>, toml_v1::de::Error> {
    toml_v1::from_str::<DirectoryFile>(batch).map(|file| file.account)
}

/// Parses the whole text at once: the reference the batches must agree with, and the source of
/// error messages with line numbers that refer to the file.
pub(super) fn parse_whole(text: &str) -> Result<Vec<AccountEntry>, String> {
    toml_v1::from_str::<DirectoryFile>(text)
        .map(|file| file.account)
        .map_err(|e| e.to_string())
}

#[derive(Debug, PartialEq, Eq)]
enum Header {
    Account,
    Agent,
}

/// Recognises `[[account]]` and `[[account.agent]]` lines, with optional blanks and a trailing
/// comment. Quoted spellings (`[["account"]]`) are not recognised: they merely make a batch
/// larger.
fn header(line: &str) -> Option<Header> {
    let rest = line.trim_start().strip_prefix("[[")?;
    let close = rest.find("]]")?;
    let after = rest[close + 2..].trim();
    if !(after.is_empty() || after.starts_with('#')) {
        return None;
    }
    let mut key = rest[..close].split('.').map(str::trim);
    match (key.next(), key.next(), key.next()) {
        (Some("account"), None, _) => Some(Header::Account),
        (Some("account"), Some("agent"), None) => Some(Header::Agent),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::AddressRules;
    use crate::directory::Directory;

    #[test]
    fn recognises_header_lines() {
        let cases = [
            ("[[account]]\n", Some(Header::Account)),
            (
                "  [[ account ]]  # next customer\r\n",
                Some(Header::Account),
            ),
            ("[[account.agent]]\n", Some(Header::Agent)),
            ("[[ account . agent ]]", Some(Header::Agent)),
            ("[account]\n", None),
            ("[[accounts]]\n", None),
            ("[[account]] x = 1\n", None),
            ("[[\"account\"]]\n", None),
            ("name = \"[[account]]\"\n", None),
        ];
        for (line, expected) in cases {
            assert_eq!(header(line), expected, "{line:?}");
        }
    }

    #[test]
    fn cuts_every_batch_of_accounts_and_keeps_all_text() {
        let mut text = String::from("# directory\n");
        for i in 0..(ACCOUNTS_PER_BATCH * 2 + 1) {
            text.push_str(&format!(
                "[[account]]\nid = \"a{i}\"\nname = \"A\"\n[[account.agent]]\nname = \"X\"\n\
                 role = \"owner\"\nemails = [\"x@a{i}.example\"]\n"
            ));
        }
        let split = split(&text);
        assert_eq!(split.batches.len(), 3);
        assert_eq!(split.batches.concat(), text);
        assert!(split.batches[0].starts_with("# directory\n[[account]]"));
        assert!(split.batches[1].starts_with("[[account]]\nid = \"a64\""));
        assert_eq!(split.agent_headers, ACCOUNTS_PER_BATCH * 2 + 1);
        let parsed: Vec<_> = split
            .batches
            .iter()
            .flat_map(|b| parse(b).unwrap())
            .collect();
        let whole = parse_whole(&text).unwrap();
        let ids =
            |entries: &[AccountEntry]| entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&parsed), ids(&whole));
    }

    /// A directory with errors of every kind scattered over many batches, so that the threaded
    /// path runs and findings come from several batches.
    fn messy_directory(accounts: usize) -> String {
        let mut text = String::from("# many accounts\n");
        for i in 0..accounts {
            let id = if i % 97 == 5 {
                "dup".to_string()
            } else {
                format!("a{i}")
            };
            text.push_str(&format!("\n[[account]]\nid = \"{id}\"\nname = \"A {i}\"\n"));
            if i.is_multiple_of(13) {
                text.push_str("language = \"de\"\nhosts = [\"shared.vendor.example\"]\n");
            }
            text.push_str(&format!("helpdesk_addresses = [\"help@a{i}.example\"]\n"));
            for a in 0..3 {
                let role = if i.is_multiple_of(11) {
                    "boss"
                } else {
                    ["owner", "admin", "agent"][a]
                };
                let email = match (i % 7, a) {
                    (0, 2) => format!("help@a{i}.example"),
                    (1, 2) => format!("u1@a{i}.example"),
                    (2, 2) => "not-an-address".to_string(),
                    _ => format!("U{a}@A{i}.example"),
                };
                text.push_str(&format!(
                    "[[account.agent]]\nname = \"U{a}\"\nrole = \"{role}\"\n\
                     emails = [\"{email}\", \"consultant@freelance.example\"]\n"
                ));
            }
        }
        text
    }

    fn summary(dir: &Directory) -> String {
        let mut listings: Vec<_> = dir
            .all_listings()
            .map(|(address, listings)| format!("{address} {listings:?}"))
            .collect();
        listings.sort();
        format!(
            "{:?}\n{:?}\n{listings:?}",
            dir.accounts().collect::<Vec<_>>(),
            dir.findings()
        )
    }

    #[test]
    fn batched_load_builds_the_same_directory_as_a_whole_parse() {
        let text = messy_directory(ACCOUNTS_PER_BATCH * 10 + 3);
        let rules = AddressRules::default();
        let batched = Directory::from_toml(&text, &rules).unwrap();
        let whole = Directory::build(parse_whole(&text).unwrap(), &rules);
        assert!(
            batched.findings().len() > 100,
            "{}",
            batched.findings().len()
        );
        assert_eq!(summary(&batched), summary(&whole));
    }

    #[test]
    fn a_syntax_error_in_a_late_batch_is_reported_with_its_file_line() {
        let mut text = messy_directory(ACCOUNTS_PER_BATCH * 10);
        let line = text.lines().count() + 3;
        text.push_str("\n[[account]]\nid = \"broken\n");
        let error = Directory::from_toml(&text, &AddressRules::default()).unwrap_err();
        assert!(error.contains(&format!("line {line}")), "{error}");
    }

    #[test]
    fn a_cut_inside_a_multiline_string_fails_the_batch() {
        // The last account's name holds the line on which the batch is cut.
        let mut text = String::new();
        for i in 0..ACCOUNTS_PER_BATCH - 1 {
            text.push_str(&format!("[[account]]\nid = \"a{i}\"\nname = \"A\"\n"));
        }
        text.push_str("[[account]]\nid = \"z\"\nname = \"\"\"\n[[account]]\n\"\"\"\n");
        let split = split(&text);
        assert_eq!(split.batches.len(), 2);
        assert!(split.batches.iter().any(|b| parse(b).is_err()));
        assert_eq!(parse_whole(&text).unwrap().len(), ACCOUNTS_PER_BATCH);
    }
}
