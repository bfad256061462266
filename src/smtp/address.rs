//! Recipient paths that are refused before the handler is asked (relay hacks).
//!
//! smtp-proto parses the command but normalises the path on the way (it drops source routes
//! and quotes), so the checks here look at the raw path as the client wrote it, between the
//! first `<` and its closing `>`. Every hack is answered with `550 5.1.1` (a refusal of the
//! recipient, like an unknown user), not `553`: the address may be well-formed, we refuse to
//! route it. Paths smtp-proto cannot parse at all get `553 5.1.3` (see [`super::reply`]).

use std::net::Ipv4Addr;

/// Why a recipient path was refused before reaching the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayHack {
    /// `<@a,@b:user@d>` (RFC 5321 §C: source routes must not be honoured for relaying).
    SourceRoute,
    /// `user%other@ours`: the percent hack.
    PercentHack,
    /// `host!user@ours`: UUCP bang path.
    BangPath,
    /// `"user@other"@ours`: a quoted (or escaped) local part that hides an `@`.
    AtInLocalPart,
    /// `user@[192.0.2.1]` or a bare dotted quad: address literals are never local here.
    IpLiteral,
    /// `user@ours.`: trailing dot in the domain.
    TrailingDot,
    /// `<user>`, `<user@>` or `<>`.
    MissingDomain,
}

/// The raw path of a MAIL/RCPT command line: the bytes between the first `<` and the `>` that
/// closes it (a `>` inside a quoted string does not close it). `None` if there is no `<...>`.
pub fn raw_path(line: &[u8]) -> Option<&[u8]> {
    let start = line.iter().position(|&b| b == b'<')? + 1;
    let rest = line.get(start..)?;
    let mut in_quote = false;
    let mut escaped = false;
    for (i, &b) in rest.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if in_quote => escaped = true,
            b'"' => in_quote = !in_quote,
            b'>' if !in_quote => return rest.get(..i),
            b'\r' | b'\n' => return None,
            _ => {}
        }
    }
    None
}

/// Checks a raw forward-path (as returned by [`raw_path`]) for relay hacks.
pub fn check_forward_path(path: &[u8]) -> Result<(), RelayHack> {
    if path.first() == Some(&b'@') {
        return Err(RelayHack::SourceRoute);
    }
    let Some(at) = path.iter().rposition(|&b| b == b'@') else {
        return Err(RelayHack::MissingDomain);
    };
    let (local, domain) = (&path[..at], &path[at + 1..]);
    if local.contains(&b'@') {
        return Err(RelayHack::AtInLocalPart);
    }
    if local.contains(&b'%') {
        return Err(RelayHack::PercentHack);
    }
    if local.contains(&b'!') || domain.contains(&b'!') {
        return Err(RelayHack::BangPath);
    }
    if domain.is_empty() {
        return Err(RelayHack::MissingDomain);
    }
    if domain.first() == Some(&b'[') {
        return Err(RelayHack::IpLiteral);
    }
    if domain.last() == Some(&b'.') {
        return Err(RelayHack::TrailingDot);
    }
    let looks_like_ipv4 = std::str::from_utf8(domain)
        .ok()
        .and_then(|d| d.parse::<Ipv4Addr>().ok())
        .is_some();
    if looks_like_ipv4 {
        return Err(RelayHack::IpLiteral);
    }
    Ok(())
}

/// True if a MAIL line declares `SIZE=` with only digits: smtp-proto refuses such a value
/// only when it does not fit in a number, i.e. when it is larger than any limit.
pub(crate) fn declares_huge_size(line: &[u8]) -> bool {
    let params = line
        .iter()
        .rposition(|&b| b == b'>')
        .and_then(|end| line.get(end + 1..))
        .unwrap_or_default();
    params
        .split(|b| b.is_ascii_whitespace())
        .filter_map(|param| {
            let (name, value) = param.split_at_checked(5)?;
            name.eq_ignore_ascii_case(b"SIZE=").then_some(value)
        })
        .any(|value| !value.is_empty() && value.iter().all(u8::is_ascii_digit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_sizes_are_told_from_bad_ones() {
        assert!(declares_huge_size(
            b"MAIL FROM:<a@b> SIZE=99999999999999999999\r\n"
        ));
        assert!(declares_huge_size(
            b"MAIL FROM:<a@b> BODY=8BITMIME size=18446744073709551615"
        ));
        assert!(!declares_huge_size(b"MAIL FROM:<a@b> SIZE=ABC\r\n"));
        assert!(!declares_huge_size(b"MAIL FROM:<a@b> SIZE=\r\n"));
        assert!(!declares_huge_size(b"MAIL FROM:<a@b> SIZE=-1\r\n"));
        assert!(!declares_huge_size(b"MAIL FROM:<SIZE=1@b>\r\n"));
    }

    fn check(line: &str) -> Result<(), RelayHack> {
        let path = raw_path(line.as_bytes()).expect("test line has a path");
        check_forward_path(path)
    }

    #[test]
    fn relay_hacks_table() {
        let table: &[(&str, Result<(), RelayHack>)] = &[
            ("RCPT TO:<support@vendor.example>", Ok(())),
            ("RCPT TO:<support+acme@vendor.example> NOTIFY=NEVER", Ok(())),
            ("RCPT TO:<\"john doe\"@vendor.example>", Ok(())),
            (
                "RCPT TO:<@relay.example,@b.example:u@vendor.example>",
                Err(RelayHack::SourceRoute),
            ),
            (
                "RCPT TO:<u%other.example@vendor.example>",
                Err(RelayHack::PercentHack),
            ),
            ("RCPT TO:<other!u@vendor.example>", Err(RelayHack::BangPath)),
            (
                "RCPT TO:<\"u@other.example\"@vendor.example>",
                Err(RelayHack::AtInLocalPart),
            ),
            (
                "RCPT TO:<\"u\\@other\"@vendor.example>",
                Err(RelayHack::AtInLocalPart),
            ),
            ("RCPT TO:<\"a>b\"@vendor.example>", Ok(())),
            ("RCPT TO:<u@[192.0.2.1]>", Err(RelayHack::IpLiteral)),
            ("RCPT TO:<u@[IPv6:2001:db8::1]>", Err(RelayHack::IpLiteral)),
            ("RCPT TO:<u@192.0.2.1>", Err(RelayHack::IpLiteral)),
            ("RCPT TO:<u@vendor.example.>", Err(RelayHack::TrailingDot)),
            ("RCPT TO:<postmaster>", Err(RelayHack::MissingDomain)),
            ("RCPT TO:<u@>", Err(RelayHack::MissingDomain)),
            ("RCPT TO:<>", Err(RelayHack::MissingDomain)),
        ];
        for (line, expected) in table {
            assert_eq!(check(line), *expected, "{line}");
        }
    }

    #[test]
    fn raw_path_needs_brackets() {
        assert_eq!(raw_path(b"RCPT TO:u@d\r\n"), None);
        assert_eq!(raw_path(b"RCPT TO:<u@d\r\n"), None);
    }
}
