//! The headers prepended to forwarded mail (SPEC §4): `Received:`, our
//! `Authentication-Results:` and `X-Supportgate-*`; inbound `X-Supportgate-*` headers (and
//! `Authentication-Results` claiming our authserv-id) are removed first, so that a sender cannot
//! forge a verdict.

use crate::policy::{AuthResult, Decision};

/// What the trace headers say about one message.
pub struct Trace<'a> {
    pub hostname: &'a str,
    pub queue_id: &'a str,
    pub peer_ip: Option<std::net::IpAddr>,
    pub helo: Option<&'a str>,
    pub tls: bool,
    pub recipient: Option<&'a str>,
    /// RFC 5322 date-time of reception.
    pub date: &'a str,
}

/// Replaces control characters and non-ASCII in a value we copy into a header.
fn header_safe(value: &str) -> String {
    HeaderSafe(value).to_string()
}

/// A value we copy into a header, written safe: control characters and non-ASCII replaced by
/// `?`, at most 200 characters. Written where it goes, without a copy of its own.
struct HeaderSafe<'a>(&'a str);

impl std::fmt::Display for HeaderSafe<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        let value = self.0;
        // The common case: printable ASCII, written as it is.
        let plain = value.len() <= 200 && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if plain {
            return f.write_str(value);
        }
        for c in value.chars().take(200) {
            f.write_char(if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            })?;
        }
        Ok(())
    }
}

/// A stored `Authentication-Results` value, written safe: its own folding (CRLF + tab) is
/// kept, any other control character is replaced (each folded piece as [`HeaderSafe`]).
struct HeaderValueSafe<'a>(&'a str);

impl std::fmt::Display for HeaderValueSafe<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, piece) in self.0.split("\r\n\t").enumerate() {
            if n > 0 {
                f.write_str("\r\n\t")?;
            }
            write!(f, "{}", HeaderSafe(piece))?;
        }
        Ok(())
    }
}

/// `message` with inbound `X-Supportgate-*` headers and `Authentication-Results` of our own
/// authserv-id removed from its header section (folded continuation lines included). The body
/// is untouched.
pub fn strip_inbound_headers(message: &[u8], own_authserv_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    strip_inbound_headers_into(&mut out, message, own_authserv_id);
    out
}

/// [`strip_inbound_headers`], appended to `out`: the fields kept are copied as they are, in
/// runs, and the body in one piece.
fn strip_inbound_headers_into(out: &mut Vec<u8>, message: &[u8], own_authserv_id: &str) {
    let header_end = find_header_end(message);
    let (headers, body) = message.split_at(header_end);
    // Whole fields (first line and its continuation lines), so that a folded value is judged
    // as one: `Authentication-Results:\r\n\tour.id; dmarc=pass` is ours too.
    let mut field_start = 0;
    let mut at = 0;
    let keep = |from: usize, to: usize, out: &mut Vec<u8>| {
        let field = &headers[from..to];
        if !field.is_empty() && !is_forgeable(field, own_authserv_id) {
            out.extend_from_slice(field);
        }
    };
    for line in headers.split_inclusive(|&b| b == b'\n') {
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continuation {
            keep(field_start, at, out);
            field_start = at;
        }
        at += line.len();
    }
    keep(field_start, at, out);
    out.extend_from_slice(body);
}

fn is_forgeable(field: &[u8], own_authserv_id: &str) -> bool {
    let Some(colon) = field.iter().position(|&b| b == b':') else {
        return false;
    };
    // Borrowed, not copied, for the valid UTF-8 of nearly every field.
    is_forgeable_field(
        &String::from_utf8_lossy(&field[..colon]),
        &String::from_utf8_lossy(&field[colon + 1..]),
        own_authserv_id,
    )
}

/// A header field a sender could forge our verdict with: any `X-Supportgate-*`, and an
/// `Authentication-Results` claiming our authserv-id. (Compared without a lower-cased copy:
/// this runs for every header field of every forwarded message.)
pub fn is_forgeable_field(name: &str, value: &str, own_authserv_id: &str) -> bool {
    let name = name.trim();
    let prefix = b"x-supportgate-";
    if name
        .as_bytes()
        .get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
    {
        return true;
    }
    if name.eq_ignore_ascii_case("authentication-results") {
        let id = value
            .split([';', ' ', '\t', '\r', '\n'])
            .find(|s| !s.is_empty())
            .unwrap_or("");
        return id.eq_ignore_ascii_case(own_authserv_id);
    }
    false
}

/// Offset of the first byte after the blank line ending the header section (or the end).
fn find_header_end(message: &[u8]) -> usize {
    let mut start = 0;
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            return start;
        }
        start += line.len();
    }
    message.len()
}

/// The verdict stamped on forwarded mail (`X-Supportgate-*`), as stable codes.
pub struct Stamp<'a> {
    pub verdict: &'a str,
    pub reason: &'a str,
    pub account: Option<&'a str>,
    pub agent: Option<&'a str>,
    pub role: Option<&'a str>,
    /// Who released it from the quarantine, for a released message.
    pub released_by: Option<&'a str>,
    /// SPEC §11: the primary address and role of the owner or admin who approved it.
    pub approved_by: Option<&'a str>,
    pub approved_role: Option<&'a str>,
}

impl<'a> Stamp<'a> {
    pub fn of(decision: &'a Decision) -> Stamp<'a> {
        Stamp {
            verdict: match decision.verdict {
                crate::policy::Verdict::Accept => "accept",
                crate::policy::Verdict::Refuse => "refuse",
            },
            reason: decision.reason.code(),
            account: decision.account.as_deref(),
            agent: decision.agent.as_deref(),
            role: decision.role.map(|r| r.as_str()),
            released_by: None,
            approved_by: None,
            approved_role: None,
        }
    }
}

/// The headers to prepend, CRLF-terminated. `authentication` is the resinfo part of our
/// `Authentication-Results:` ([`authentication_results_value`]).
pub fn trace_headers(trace: &Trace<'_>, authentication: &str, stamp: &Stamp<'_>) -> String {
    use std::fmt::Write;
    // Writing into a String cannot fail.
    let mut out = String::with_capacity(512);
    let _ = match (trace.helo, trace.peer_ip) {
        (Some(helo), Some(ip)) => write!(out, "Received: from {} ([{ip}])", HeaderSafe(helo)),
        (None, Some(ip)) => write!(out, "Received: from [{ip}] ([{ip}])"),
        (Some(helo), None) => write!(out, "Received: from {}", HeaderSafe(helo)),
        (None, None) => write!(out, "Received: from localhost"),
    };
    let with = if trace.tls { "ESMTPS" } else { "ESMTP" };
    let _ = write!(
        out,
        "\r\n\tby {} (supportgate) with {with} id {}",
        trace.hostname, trace.queue_id
    );
    if let Some(rcpt) = trace.recipient {
        let _ = write!(out, "\r\n\tfor <{}>", HeaderSafe(rcpt));
    }
    let _ = write!(out, ";\r\n\t{}\r\n", trace.date);
    for_each_stamp_field(
        trace.hostname,
        trace.queue_id,
        authentication,
        stamp,
        |name, value| {
            let _ = write!(out, "{name}: {value}\r\n");
        },
    );
    out
}

/// Our `Authentication-Results:` and `X-Supportgate-*` fields, in order: (name, value), the
/// value made safe (folded with CRLF + tab). The milter front adds these without our
/// `Received:` (the MTA writes its own).
pub fn stamp_fields(
    hostname: &str,
    queue_id: &str,
    authentication: &str,
    stamp: &Stamp<'_>,
) -> Vec<(String, String)> {
    let mut fields = Vec::with_capacity(10);
    for_each_stamp_field(hostname, queue_id, authentication, stamp, |name, value| {
        fields.push((name.to_string(), value.to_string()));
    });
    fields
}

/// The one list of our stamped fields, in order: each name with its value written safe.
fn for_each_stamp_field(
    hostname: &str,
    queue_id: &str,
    authentication: &str,
    stamp: &Stamp<'_>,
    mut field: impl FnMut(&'static str, &dyn std::fmt::Display),
) {
    field(
        "Authentication-Results",
        &format_args!("{hostname}; {}", HeaderValueSafe(authentication)),
    );
    field("X-Supportgate-Verdict", &HeaderSafe(stamp.verdict));
    field("X-Supportgate-Reason", &HeaderSafe(stamp.reason));
    field("X-Supportgate-Queue-Id", &HeaderSafe(queue_id));
    for (name, value) in [
        ("X-Supportgate-Account", stamp.account),
        ("X-Supportgate-Agent", stamp.agent),
        ("X-Supportgate-Role", stamp.role),
        ("X-Supportgate-Released-By", stamp.released_by),
        ("X-Supportgate-Approved-By", stamp.approved_by),
        ("X-Supportgate-Approved-Role", stamp.approved_role),
    ] {
        if let Some(value) = value {
            field(name, &HeaderSafe(value));
        }
    }
}

/// The RFC 8601 resinfo part: `spf=pass smtp.mailfrom=…; dkim=…; dmarc=…`, or `none` when
/// nothing was verified.
pub fn authentication_results_value(auth: &AuthResult) -> String {
    use crate::policy::authentication::SpfIdentity;
    use crate::policy::AuthSource;
    match auth.source {
        AuthSource::Off => return "none (authentication disabled)".into(),
        AuthSource::Assumed | AuthSource::NotVerified => return "none".into(),
        AuthSource::TrustedHeader | AuthSource::Verified => {}
    }
    let mut parts = Vec::new();
    let spf = &auth.spf;
    let spf_property = match auth.spf_identity {
        SpfIdentity::MailFrom => "smtp.mailfrom",
        SpfIdentity::Helo => "smtp.helo",
    };
    parts.push(match &spf.domain {
        Some(d) => format!("spf={} {spf_property}={}", spf.result, header_safe(d)),
        None => format!("spf={}", spf.result),
    });
    if auth.dkim.is_empty() {
        parts.push("dkim=none".into());
    }
    for dkim in &auth.dkim {
        let mut part = format!("dkim={}", dkim.result);
        if let Some(d) = &dkim.domain {
            part.push_str(&format!(" header.d={}", header_safe(d)));
        }
        if let Some(selector) = &dkim.detail {
            part.push_str(&format!(" header.s={}", header_safe(selector)));
        }
        parts.push(part);
    }
    let dmarc = &auth.dmarc;
    let mut part = format!("dmarc={}", dmarc.result);
    if let Some(policy) = &dmarc.detail {
        part.push_str(&format!(" (p={})", header_safe(policy)));
    }
    if let Some(d) = &dmarc.domain {
        part.push_str(&format!(" header.from={}", header_safe(d)));
    }
    parts.push(part);
    if !auth.arc.is_none() {
        parts.push(format!("arc={}", auth.arc));
    }
    parts.join(";\r\n\t")
}

/// Builds the forwarded message: our headers, then the original with forgeable headers removed.
pub fn forwarded_message(
    original: &[u8],
    trace: &Trace<'_>,
    auth: &AuthResult,
    decision: &Decision,
) -> Vec<u8> {
    stamped_message(
        original,
        trace,
        &authentication_results_value(auth),
        &Stamp::of(decision),
    )
}

/// [`forwarded_message`] from stored values (a release from the quarantine).
pub fn stamped_message(
    original: &[u8],
    trace: &Trace<'_>,
    authentication: &str,
    stamp: &Stamp<'_>,
) -> Vec<u8> {
    let headers = trace_headers(trace, authentication, stamp);
    let mut out = Vec::with_capacity(headers.len() + original.len());
    out.extend_from_slice(headers.as_bytes());
    strip_inbound_headers_into(&mut out, original, trace.hostname);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_forged_verdicts_and_our_authentication_results_only() {
        let message = b"X-Supportgate-Verdict: accept\r\nX-SUPPORTGATE-Role: owner\r\n\tcontinued\r\nAuthentication-Results: gw.example; dmarc=pass\r\nAuthentication-Results: mx.other.example; dmarc=fail\r\nSubject: hi\r\n\r\nX-Supportgate-Verdict: in the body stays\r\n";
        let out = strip_inbound_headers(message, "gw.example");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Authentication-Results: mx.other.example; dmarc=fail\r\nSubject: hi\r\n\r\nX-Supportgate-Verdict: in the body stays\r\n"
        );
    }

    #[test]
    fn trace_headers_write_every_value_safe_and_the_milter_gets_the_same_fields() {
        let long = "a".repeat(250);
        let trace = Trace {
            hostname: "gw.example",
            queue_id: "Q1",
            peer_ip: Some("192.0.2.7".parse().unwrap()),
            helo: Some("h\u{e9}lo\r\nBcc: x"),
            tls: true,
            recipient: Some(&long),
            date: "Wed, 02 Dec 2026 02:40:00 +0000",
        };
        let stamp = Stamp {
            verdict: "accept",
            reason: "accepted",
            account: Some("acme"),
            agent: Some("Alice\tMartin"),
            role: Some("owner"),
            released_by: None,
            approved_by: None,
            approved_role: None,
        };
        let authentication = "spf=pass\r\n\tdkim=none\x1b[31m";
        let headers = trace_headers(&trace, authentication, &stamp);
        assert_eq!(
            headers,
            format!(
                "Received: from h?lo??Bcc: x ([192.0.2.7])\r\n\tby gw.example (supportgate) with ESMTPS id Q1\r\n\tfor <{}>;\r\n\tWed, 02 Dec 2026 02:40:00 +0000\r\n\
                 Authentication-Results: gw.example; spf=pass\r\n\tdkim=none?[31m\r\n\
                 X-Supportgate-Verdict: accept\r\n\
                 X-Supportgate-Reason: accepted\r\n\
                 X-Supportgate-Queue-Id: Q1\r\n\
                 X-Supportgate-Account: acme\r\n\
                 X-Supportgate-Agent: Alice?Martin\r\n\
                 X-Supportgate-Role: owner\r\n",
                "a".repeat(200)
            )
        );
        let stamped: String = stamp_fields("gw.example", "Q1", authentication, &stamp)
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        assert!(headers.ends_with(&stamped), "{stamped}");
    }

    #[test]
    fn copied_values_cannot_inject_headers() {
        assert_eq!(header_safe("evil\r\nBcc: x@y"), "evil??Bcc: x@y");
    }

    #[test]
    fn our_authentication_results_say_what_verification_knows() {
        use crate::policy::authentication::SpfIdentity;
        use crate::policy::{AuthOutcome, AuthSource, MethodResult};
        let auth = AuthResult {
            spf: MethodResult::new(AuthOutcome::Pass, Some("relay.example".into())),
            spf_identity: SpfIdentity::Helo,
            dkim: vec![MethodResult {
                result: AuthOutcome::Pass,
                domain: Some("acme.example".into()),
                detail: Some("sel1".into()),
            }],
            dmarc: MethodResult {
                result: AuthOutcome::Pass,
                domain: Some("acme.example".into()),
                detail: Some("reject".into()),
            },
            arc: AuthOutcome::Fail,
            ..AuthResult::with_source(AuthSource::Verified)
        };
        assert_eq!(
            authentication_results_value(&auth),
            "spf=pass smtp.helo=relay.example;\r\n\tdkim=pass header.d=acme.example header.s=sel1;\r\n\tdmarc=pass (p=reject) header.from=acme.example;\r\n\tarc=fail"
        );
    }
}
