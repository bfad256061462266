//! XFORWARD (Postfix's XFORWARD_README): the SMTP client in front of a content filter — here
//! Postfix's before-queue proxy (`smtpd_proxy_filter`) — passes on who its own client was, so
//! that SPF is checked against the original client's address and HELO name, not the proxy's.
//!
//! Whoever may send XFORWARD decides which address SPF checks, so it is offered and accepted
//! only from the peers listed in `ServerConfig::xforward_from` (empty by default); to anyone
//! else the keyword is not advertised and the command is unknown (`500 5.5.1`). The
//! attributes apply to the next transaction only: they are forgotten at the end of DATA, at
//! RSET and at STARTTLS.

use std::net::{IpAddr, SocketAddr};

/// The EHLO keyword and the attributes we take (`IDENT`, `PROTO` and `SOURCE` are accepted
/// and ignored: Postfix sends whatever is announced).
pub(crate) const EHLO_KEYWORD: &str = "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE";

/// What the proxy said about its client; `None` is "not said" or `[UNAVAILABLE]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Forwarded {
    pub addr: Option<IpAddr>,
    pub port: Option<u16>,
    pub helo: Option<String>,
    /// The client's host name as the proxy resolved it: for the log only.
    pub name: Option<String>,
}

impl Forwarded {
    /// The session as the handler should see it: the original client's address (the port
    /// too, 0 when not said) and HELO name where the proxy gave them.
    pub(crate) fn apply(&self, mut info: super::SessionInfo) -> super::SessionInfo {
        if let Some(addr) = self.addr {
            info.peer = SocketAddr::new(addr, self.port.unwrap_or(0));
        }
        if let Some(helo) = &self.helo {
            info.helo = Some(helo.clone());
        }
        info
    }
}

/// True if `line` is an XFORWARD command (case-insensitive, as every SMTP verb).
pub(crate) fn is_xforward(line: &[u8]) -> bool {
    let verb = b"XFORWARD";
    line.len() >= verb.len()
        && line[..verb.len()].eq_ignore_ascii_case(verb)
        && line
            .get(verb.len())
            .is_none_or(|&b| b == b' ' || b == b'\r' || b == b'\n')
}

/// Adds the attributes of one XFORWARD line to `into` (a proxy may spread them over several
/// commands). On a syntax error nothing is changed and the reason is returned.
pub(crate) fn parse(line: &[u8], into: &mut Forwarded) -> Result<(), &'static str> {
    let text = std::str::from_utf8(line).map_err(|_| "not UTF-8")?;
    let mut words = text.split_ascii_whitespace();
    words.next(); // XFORWARD
    let mut next = into.clone();
    let mut any = false;
    for word in words {
        any = true;
        let (name, value) = word.split_once('=').ok_or("expected NAME=VALUE")?;
        let value = xtext_decode(value).ok_or("bad xtext value")?;
        let value = (value != "[UNAVAILABLE]" && value != "[TEMPUNAVAIL]").then_some(value);
        match name.to_ascii_uppercase().as_str() {
            "ADDR" => next.addr = value.as_deref().map(parse_addr).transpose()?,
            "PORT" => {
                next.port = value
                    .as_deref()
                    .map(|v| v.parse::<u16>().map_err(|_| "bad PORT"))
                    .transpose()?
            }
            "HELO" => next.helo = value.map(checked_name).transpose()?,
            "NAME" => next.name = value.map(checked_name).transpose()?,
            "PROTO" | "IDENT" | "SOURCE" => {}
            _ => return Err("unknown attribute"),
        }
    }
    if !any {
        return Err("no attribute");
    }
    *into = next;
    Ok(())
}

/// `1.2.3.4`, or `IPv6:2001:db8::1` (Postfix's form; a bare IPv6 address is taken too).
fn parse_addr(value: &str) -> Result<IpAddr, &'static str> {
    let bare = match value.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("IPv6:") => &value[5..],
        _ => value,
    };
    bare.parse::<IpAddr>()
        .map(|ip| ip.to_canonical())
        .map_err(|_| "bad ADDR")
}

/// A HELO or host name: printable ASCII without spaces, at most 255 bytes (it ends up in logs
/// and in our `Received:` header).
fn checked_name(value: String) -> Result<String, &'static str> {
    if value.is_empty() || value.len() > 255 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("bad host name");
    }
    Ok(value)
}

/// RFC 3461 §4 xtext: `+` followed by two upper-case hex digits stands for that byte.
fn xtext_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'+' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// True if `peer` may send XFORWARD.
pub(crate) fn allowed(peer: IpAddr, trusted: &[IpAddr]) -> bool {
    let peer = peer.to_canonical();
    trusted.iter().any(|t| t.to_canonical() == peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Result<Forwarded, &'static str> {
        let mut f = Forwarded::default();
        parse(line.as_bytes(), &mut f).map(|()| f)
    }

    #[test]
    fn postfix_attributes_are_read() {
        let f = parsed(
            "XFORWARD NAME=mail.example.org ADDR=192.0.2.7 PORT=40123 PROTO=ESMTP \
             HELO=mail.example.org SOURCE=REMOTE IDENT=[UNAVAILABLE]\r\n",
        )
        .unwrap();
        assert_eq!(f.addr, Some("192.0.2.7".parse().unwrap()));
        assert_eq!(f.port, Some(40123));
        assert_eq!(f.helo.as_deref(), Some("mail.example.org"));
        assert_eq!(f.name.as_deref(), Some("mail.example.org"));
        let f = parsed("xforward addr=IPv6:2001:db8::7 name=[UNAVAILABLE]").unwrap();
        assert_eq!(f.addr, Some("2001:db8::7".parse().unwrap()));
        assert_eq!(f.name, None);
        let f = parsed("XFORWARD HELO=a+2Bb").unwrap();
        assert_eq!(f.helo.as_deref(), Some("a+b"));
    }

    #[test]
    fn attributes_accumulate_and_an_error_changes_nothing() {
        let mut f = Forwarded::default();
        parse(b"XFORWARD ADDR=192.0.2.7", &mut f).unwrap();
        parse(b"XFORWARD HELO=client.example", &mut f).unwrap();
        assert_eq!(f.addr, Some("192.0.2.7".parse().unwrap()));
        let before = f.clone();
        for bad in [
            "XFORWARD",
            "XFORWARD ADDR=300.1.1.1",
            "XFORWARD HELO=x ADDR=nope",
            "XFORWARD PORT=70000",
            "XFORWARD COLOR=blue",
            "XFORWARD HELO",
            "XFORWARD HELO=a+4",
            "XFORWARD HELO=a+00b",
        ] {
            assert!(parse(bad.as_bytes(), &mut f).is_err(), "{bad}");
            assert_eq!(f, before, "{bad}");
        }
    }

    #[test]
    fn only_the_verb_itself_is_recognised() {
        assert!(is_xforward(b"XFORWARD ADDR=1.2.3.4\r\n"));
        assert!(is_xforward(b"xforward\r\n"));
        assert!(!is_xforward(b"XFORWARDED ADDR=1.2.3.4\r\n"));
        assert!(!is_xforward(b"XFORW\r\n"));
    }

    #[test]
    fn trusted_peers_compare_as_addresses() {
        let trusted = ["127.0.0.1".parse().unwrap()];
        assert!(allowed("127.0.0.1".parse().unwrap(), &trusted));
        assert!(allowed("::ffff:127.0.0.1".parse().unwrap(), &trusted));
        assert!(!allowed("127.0.0.2".parse().unwrap(), &trusted));
        assert!(!allowed("127.0.0.1".parse().unwrap(), &[]));
    }
}
