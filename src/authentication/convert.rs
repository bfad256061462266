//! mail-auth's outputs in our vocabulary: the [`AuthResult`] the policy reads (pure).

use crate::policy::authentication::SpfIdentity;
use crate::policy::{AuthOutcome, AuthResult, AuthSource, MethodResult};
use mail_auth::dmarc::Policy;
use mail_auth::{DkimOutput, DkimResult, DmarcOutput, DmarcResult, SpfOutput, SpfResult};

pub fn spf(output: &SpfOutput) -> MethodResult {
    let result = match output.result() {
        SpfResult::Pass => AuthOutcome::Pass,
        SpfResult::Fail => AuthOutcome::Fail,
        SpfResult::SoftFail => AuthOutcome::SoftFail,
        SpfResult::Neutral => AuthOutcome::Neutral,
        SpfResult::TempError => AuthOutcome::TempError,
        SpfResult::PermError => AuthOutcome::PermError,
        SpfResult::None => AuthOutcome::None,
    };
    MethodResult::new(result, non_empty(output.domain()))
}

pub fn dkim_outcome(result: &DkimResult) -> AuthOutcome {
    match result {
        DkimResult::Pass => AuthOutcome::Pass,
        DkimResult::Neutral(_) => AuthOutcome::Neutral,
        DkimResult::Fail(_) => AuthOutcome::Fail,
        DkimResult::PermError(_) => AuthOutcome::PermError,
        DkimResult::TempError(_) => AuthOutcome::TempError,
        DkimResult::None => AuthOutcome::None,
    }
}

pub fn dkim(output: &DkimOutput<'_>) -> MethodResult {
    let signature = output.signature();
    MethodResult {
        result: dkim_outcome(output.result()),
        domain: signature.and_then(|s| non_empty(&s.d)),
        detail: signature.and_then(|s| non_empty(&s.s)),
    }
}

pub fn dmarc(output: &DmarcOutput) -> MethodResult {
    let result = match output.result() {
        DmarcResult::Pass => AuthOutcome::Pass,
        DmarcResult::Fail(_) => AuthOutcome::Fail,
        DmarcResult::TempError(_) => AuthOutcome::TempError,
        DmarcResult::PermError(_) => AuthOutcome::PermError,
        DmarcResult::None => AuthOutcome::None,
    };
    let policy = output.dmarc_record().map(|_| match output.policy() {
        Policy::None | Policy::Unspecified => "none",
        Policy::Quarantine => "quarantine",
        Policy::Reject => "reject",
    });
    MethodResult {
        result,
        domain: non_empty(output.domain()),
        detail: policy.map(str::to_string),
    }
}

/// The whole result of our own verification.
pub fn verified(
    spf_output: &SpfOutput,
    spf_identity: SpfIdentity,
    dkim_outputs: &[DkimOutput<'_>],
    dmarc_output: &DmarcOutput,
    arc: AuthOutcome,
) -> AuthResult {
    AuthResult {
        source: AuthSource::Verified,
        spf: spf(spf_output),
        spf_identity,
        dkim: dkim_outputs.iter().map(dkim).collect(),
        dmarc: dmarc(dmarc_output),
        arc,
    }
}

/// Every method `temperror`: DNS did not answer in time.
pub fn timed_out(from_domain: Option<String>) -> AuthResult {
    AuthResult {
        spf: MethodResult::new(AuthOutcome::TempError, None),
        dmarc: MethodResult::new(AuthOutcome::TempError, from_domain),
        ..AuthResult::with_source(AuthSource::Verified)
    }
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_output_is_none_everywhere() {
        let result = verified(
            &SpfOutput::new(String::new()),
            SpfIdentity::MailFrom,
            &[],
            &DmarcOutput::default(),
            AuthOutcome::None,
        );
        assert_eq!(result.summary(), "spf=none dkim=none dmarc=none");
        assert_eq!(result.spf.domain, None);
        assert!(!result.authenticates("acme.example", false));
    }

    #[test]
    fn a_timeout_is_a_temporary_failure() {
        let result = timed_out(Some("acme.example".into()));
        assert!(result.is_temporary_failure());
        assert!(!result.authenticates("acme.example", false));
    }
}
