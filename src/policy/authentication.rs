//! Authentication results as the policy sees them (P6), in RFC 8601 vocabulary.
//!
//! The policy never resolves DNS: it receives an [`AuthResult`] built by the verifier, read from a
//! trusted relay's `Authentication-Results` header ([`AuthResult::from_trusted_header`], pure), or
//! fixed by configuration (`mode = "off"`).

use serde::Serialize;
use std::fmt;

/// RFC 8601 result values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthOutcome {
    Pass,
    Fail,
    SoftFail,
    Neutral,
    #[default]
    None,
    TempError,
    PermError,
}

impl AuthOutcome {
    pub fn is_none(&self) -> bool {
        *self == AuthOutcome::None
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthOutcome::Pass => "pass",
            AuthOutcome::Fail => "fail",
            AuthOutcome::SoftFail => "softfail",
            AuthOutcome::Neutral => "neutral",
            AuthOutcome::None => "none",
            AuthOutcome::TempError => "temperror",
            AuthOutcome::PermError => "permerror",
        }
    }

    fn parse(value: &str) -> AuthOutcome {
        match value.to_ascii_lowercase().as_str() {
            "pass" => AuthOutcome::Pass,
            "fail" | "hardfail" => AuthOutcome::Fail,
            "softfail" => AuthOutcome::SoftFail,
            "neutral" => AuthOutcome::Neutral,
            "temperror" => AuthOutcome::TempError,
            "permerror" | "policy" => AuthOutcome::PermError,
            _ => AuthOutcome::None,
        }
    }
}

impl fmt::Display for AuthOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One method's result and the domain it vouches for (SPF: the MAIL FROM or HELO domain; DKIM:
/// the `d=` domain; DMARC: the From domain).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct MethodResult {
    pub result: AuthOutcome,
    pub domain: Option<String>,
    /// DKIM: the selector (`s=`); DMARC: the domain's published policy (`none`, `quarantine`,
    /// `reject`). Informative only: [`AuthResult::authenticates`] never reads it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl MethodResult {
    pub fn new(result: AuthOutcome, domain: Option<String>) -> MethodResult {
        MethodResult {
            result,
            domain,
            detail: None,
        }
    }
}

/// Which identity SPF checked: the MAIL FROM domain, or the HELO name when MAIL FROM is null.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpfIdentity {
    #[default]
    MailFrom,
    Helo,
}

impl SpfIdentity {
    fn is_mail_from(&self) -> bool {
        *self == SpfIdentity::MailFrom
    }
}

/// Where the result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthSource {
    /// `[authentication] mode = "off"`: every sender is taken as authenticated.
    Off,
    /// Offline (`check` without `--auth`/`--assume-authenticated`): nothing could be verified.
    NotVerified,
    /// `--assume-authenticated`.
    Assumed,
    /// The topmost `Authentication-Results` of a trusted relay.
    TrustedHeader,
    /// Our own SPF, DKIM and DMARC verification.
    Verified,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthResult {
    pub source: AuthSource,
    pub spf: MethodResult,
    #[serde(skip_serializing_if = "SpfIdentity::is_mail_from")]
    pub spf_identity: SpfIdentity,
    pub dkim: Vec<MethodResult>,
    pub dmarc: MethodResult,
    /// The ARC chain's validation (RFC 8617), recorded for the log and our header but never
    /// trusted: [`AuthResult::authenticates`] ignores it.
    #[serde(skip_serializing_if = "AuthOutcome::is_none")]
    pub arc: AuthOutcome,
}

impl AuthResult {
    pub fn with_source(source: AuthSource) -> AuthResult {
        AuthResult {
            source,
            spf: MethodResult::default(),
            spf_identity: SpfIdentity::MailFrom,
            dkim: Vec::new(),
            dmarc: MethodResult::default(),
            arc: AuthOutcome::None,
        }
    }

    /// P6: does this result authenticate `from_domain` (the From header's domain)?
    /// DMARC pass counts; without a DMARC record (`dmarc=none`) an aligned SPF or DKIM pass still
    /// counts unless `require_dmarc`.
    pub fn authenticates(&self, from_domain: &str, require_dmarc: bool) -> bool {
        match self.source {
            AuthSource::Off | AuthSource::Assumed => return true,
            AuthSource::NotVerified => return false,
            AuthSource::TrustedHeader | AuthSource::Verified => {}
        }
        let names_from = |d: &Option<String>| {
            d.as_deref()
                .is_none_or(|d| d.eq_ignore_ascii_case(from_domain))
        };
        match self.dmarc.result {
            AuthOutcome::Pass => names_from(&self.dmarc.domain),
            AuthOutcome::None if !require_dmarc => {
                let aligned_pass = |m: &MethodResult| {
                    m.result == AuthOutcome::Pass
                        && m.domain
                            .as_deref()
                            .is_some_and(|d| relaxed_aligned(d, from_domain))
                };
                aligned_pass(&self.spf) || self.dkim.iter().any(aligned_pass)
            }
            _ => false,
        }
    }

    /// A DNS failure that may go away: the sending MTA should retry rather than be refused.
    /// DMARC `pass` or `fail` is final (a temporary error on an aligned check already makes
    /// DMARC `temperror`); without a DMARC verdict, any method's temporary error counts.
    pub fn is_temporary_failure(&self) -> bool {
        match self.dmarc.result {
            AuthOutcome::TempError => true,
            AuthOutcome::None => {
                self.spf.result == AuthOutcome::TempError
                    || self.dkim.iter().any(|d| d.result == AuthOutcome::TempError)
            }
            _ => false,
        }
    }

    /// `spf=pass dkim=pass dmarc=pass`, for logs.
    pub fn summary(&self) -> String {
        let dkim = if self.dkim.is_empty() {
            AuthOutcome::None
        } else if self.dkim.iter().any(|d| d.result == AuthOutcome::Pass) {
            AuthOutcome::Pass
        } else {
            self.dkim[0].result
        };
        let mut summary = format!(
            "spf={} dkim={} dmarc={}",
            self.spf.result, dkim, self.dmarc.result
        );
        if !self.arc.is_none() {
            summary.push_str(&format!(" arc={}", self.arc));
        }
        summary
    }

    /// Reads the topmost `Authentication-Results` header (`headers` topmost first) if its
    /// authserv-id is trusted. A lower header, or one from another authserv-id, is ignored:
    /// senders forge them.
    pub fn from_trusted_header(headers: &[String], trusted_ids: &[String]) -> AuthResult {
        let mut result = AuthResult::with_source(AuthSource::NotVerified);
        let Some(top) = headers.first() else {
            return result;
        };
        let mut parts = top.split(';');
        let authserv_id = parts
            .next()
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or("");
        if !trusted_ids
            .iter()
            .any(|t| t.eq_ignore_ascii_case(authserv_id))
        {
            return result;
        }
        result.source = AuthSource::TrustedHeader;
        for resinfo in parts {
            let mut tokens = resinfo.split_whitespace();
            let Some((method, outcome)) = tokens.next().and_then(|t| t.split_once('=')) else {
                continue;
            };
            let outcome = AuthOutcome::parse(outcome);
            let property = |wanted: &[&str]| {
                resinfo.split_whitespace().find_map(|t| {
                    let (key, value) = t.split_once('=')?;
                    wanted
                        .iter()
                        .any(|w| key.eq_ignore_ascii_case(w))
                        .then(|| domain_of(value))
                })
            };
            match method.to_ascii_lowercase().as_str() {
                "spf" => {
                    result.spf =
                        MethodResult::new(outcome, property(&["smtp.mailfrom", "smtp.helo"]))
                }
                "dkim" => result.dkim.push(MethodResult::new(
                    outcome,
                    property(&["header.d", "header.i"]),
                )),
                "dmarc" => result.dmarc = MethodResult::new(outcome, property(&["header.from"])),
                _ => {}
            }
        }
        result
    }
}

fn domain_of(value: &str) -> String {
    let value = value.trim_matches(|c| c == '"' || c == '(' || c == ')');
    value
        .rsplit_once('@')
        .map_or(value, |(_, d)| d)
        .to_ascii_lowercase()
}

/// Relaxed alignment without a public-suffix list: the same domain, or one a subdomain of the
/// other. (Full verification uses mail-auth's organisational-domain logic instead.)
pub(crate) fn relaxed_aligned(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(header: &str) -> AuthResult {
        AuthResult::from_trusted_header(&[header.to_string()], &["mx.vendor.example".to_string()])
    }

    #[test]
    fn maps_results_to_p6() {
        // (header, From domain, require_dmarc, authenticated)
        let table = [
            (
                "mx.vendor.example; dmarc=pass header.from=acme.example",
                "acme.example",
                false,
                true,
            ),
            (
                "mx.vendor.example; dmarc=pass header.from=evil.example",
                "acme.example",
                false,
                false,
            ),
            (
                "mx.vendor.example; dmarc=fail header.from=acme.example",
                "acme.example",
                false,
                false,
            ),
            (
                "mx.vendor.example; spf=pass smtp.mailfrom=a@acme.example; dmarc=none",
                "acme.example",
                false,
                true,
            ),
            (
                "mx.vendor.example; spf=pass smtp.mailfrom=a@acme.example; dmarc=none",
                "acme.example",
                true,
                false,
            ),
            (
                "mx.vendor.example; spf=pass smtp.mailfrom=a@evil.example",
                "acme.example",
                false,
                false,
            ),
            (
                "mx.vendor.example; dkim=pass header.d=mail.acme.example",
                "acme.example",
                false,
                true,
            ),
            (
                "mx.vendor.example; dkim=fail header.d=acme.example",
                "acme.example",
                false,
                false,
            ),
            (
                "evil.example; dmarc=pass header.from=acme.example",
                "acme.example",
                false,
                false,
            ),
            (
                "mx.vendor.example; dmarc=temperror header.from=acme.example",
                "acme.example",
                false,
                false,
            ),
        ];
        for (header, from, require, expected) in table {
            assert_eq!(
                trusted(header).authenticates(from, require),
                expected,
                "{header}"
            );
        }
    }

    #[test]
    fn only_the_topmost_header_counts() {
        let forged_below = vec![
            "mx.vendor.example; dmarc=fail header.from=acme.example".to_string(),
            "mx.vendor.example; dmarc=pass header.from=acme.example".to_string(),
        ];
        let result = AuthResult::from_trusted_header(&forged_below, &["mx.vendor.example".into()]);
        assert!(!result.authenticates("acme.example", false));
    }

    #[test]
    fn temporary_failures_are_recognised() {
        assert!(trusted("mx.vendor.example; dmarc=temperror").is_temporary_failure());
        assert!(!trusted("mx.vendor.example; dmarc=pass; spf=temperror").is_temporary_failure());
        // A DMARC verdict is final; without one, a method's temporary error is retried.
        assert!(!trusted("mx.vendor.example; dmarc=fail; dkim=temperror").is_temporary_failure());
        assert!(trusted("mx.vendor.example; spf=temperror; dmarc=none").is_temporary_failure());
        assert!(!trusted("mx.vendor.example; spf=fail; dmarc=none").is_temporary_failure());
        assert_eq!(
            trusted("mx.vendor.example; spf=pass; dkim=fail; dmarc=pass").summary(),
            "spf=pass dkim=fail dmarc=pass"
        );
    }

    fn verified(
        spf: (AuthOutcome, &str),
        dkim: &[(AuthOutcome, &str)],
        dmarc: AuthOutcome,
    ) -> AuthResult {
        let domain = |d: &str| (!d.is_empty()).then(|| d.to_string());
        AuthResult {
            spf: MethodResult::new(spf.0, domain(spf.1)),
            dkim: dkim
                .iter()
                .map(|(r, d)| MethodResult::new(*r, domain(d)))
                .collect(),
            dmarc: MethodResult::new(dmarc, Some("acme.example".into())),
            ..AuthResult::with_source(AuthSource::Verified)
        }
    }

    /// (spf, dkim, dmarc, require_dmarc, authenticated)
    type Row<'a> = (
        (AuthOutcome, &'a str),
        &'a [(AuthOutcome, &'a str)],
        AuthOutcome,
        bool,
        bool,
    );

    #[test]
    fn maps_verified_results_to_p6() {
        use AuthOutcome::{Fail, None, Pass, SoftFail, TempError};
        // (spf, dkim, dmarc, require_dmarc, authenticated) for From: x@acme.example
        let table: &[Row] = &[
            // DMARC says it: mail-auth applied the record's alignment.
            ((Pass, "acme.example"), &[], Pass, false, true),
            (
                (Fail, "acme.example"),
                &[(Pass, "acme.example")],
                Pass,
                true,
                true,
            ),
            (
                (Pass, "evil.example"),
                &[(Pass, "evil.example")],
                Fail,
                false,
                false,
            ),
            ((SoftFail, "evil.example"), &[], Fail, false, false),
            ((TempError, "acme.example"), &[], TempError, false, false),
            // No DMARC record: an aligned pass is still required, unless require_dmarc.
            ((Pass, "acme.example"), &[], None, false, true),
            ((Pass, "bounces.acme.example"), &[], None, false, true),
            (
                (Fail, "acme.example"),
                &[(Pass, "mail.acme.example")],
                None,
                false,
                true,
            ),
            ((Pass, "acme.example"), &[], None, true, false),
            (
                (Pass, "evil.example"),
                &[(Pass, "third-party.example")],
                None,
                false,
                false,
            ),
            (
                (Fail, "acme.example"),
                &[(Fail, "acme.example")],
                None,
                false,
                false,
            ),
            ((None, ""), &[], None, false, false),
        ];
        for (spf, dkim, dmarc, require, expected) in table {
            let result = verified(*spf, dkim, *dmarc);
            assert_eq!(
                result.authenticates("acme.example", *require),
                *expected,
                "{} require_dmarc={require}",
                result.summary()
            );
        }
    }

    #[test]
    fn arc_is_recorded_but_never_trusted() {
        let mut result = verified((AuthOutcome::Fail, "evil.example"), &[], AuthOutcome::Fail);
        result.arc = AuthOutcome::Pass;
        assert!(!result.authenticates("acme.example", false));
        assert_eq!(result.summary(), "spf=fail dkim=none dmarc=fail arc=pass");
    }
}
