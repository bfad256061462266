//! `quarantine release`: a kept message goes to the ticket queue as if accepted — through the
//! spool (so with its retries, and with the full delivery context for a `pipe:` command), with
//! the trace headers of an accepted message and `X-Supportgate-Released-By`. The first release
//! wins; a second one is refused and delivers nothing. Every attempt is recorded.
//!
//! Blocking (files only): the CLI calls it, and the running server's spool delivery sends it.

use crate::config::Config;
use crate::delivery::headers::{stamped_message, Stamp, Trace};
use crate::store::quarantine::{Quarantine, QuarantineError, QuarantineRecord, Release};
use crate::store::spool::{Purpose, Spool, SpoolEntry, SpoolError};

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("{0}")]
    Quarantine(#[from] QuarantineError),
    #[error("spool: {0}")]
    Spool(#[from] SpoolError),
}

/// What was queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    /// The spool entry that carries it (`ID-released`).
    pub spool_id: String,
    pub recipients: Vec<String>,
}

/// Releases quarantined message `id` on behalf of `by` at `now` (Unix seconds).
pub fn release(config: &Config, id: &str, by: &str, now: u64) -> Result<Released, ReleaseError> {
    let quarantine = Quarantine::new(&config.quarantine_path);
    let message = quarantine.message(id)?;
    let attempt = Release {
        by: by.to_string(),
        at: now,
        outcome: "queued".into(),
    };
    // The claim and its record, under the record's lock: two releases at once, one wins.
    let claimed = quarantine.update(id, |record| {
        if let Some(earlier) = record.released.clone() {
            record.release_attempts.push(Release {
                outcome: format!("refused: already released by {}", earlier.by),
                ..attempt.clone()
            });
            return Ok(Err(earlier));
        }
        record.released = Some(attempt.clone());
        record.release_attempts.push(attempt.clone());
        Ok(Ok(record.clone()))
    })?;
    let record = claimed.map_err(|earlier| QuarantineError::AlreadyReleased {
        id: id.to_string(),
        by: earlier.by,
        at: crate::reply::rfc5322_date(earlier.at),
    })?;
    let spool = Spool::new(&config.spool.path);
    let purpose = Purpose::Release {
        quarantine_id: record.id.clone(),
    };
    let entry = spool_entry_of(&record, format!("{}-released", record.id), purpose, now);
    let bytes = accepted_message(config, &record, &message, now, Attribution::Released { by });
    let stored = spool.store(&entry, &bytes);
    if let Err(e) = stored {
        // Not queued: it does not count as released.
        let _ = quarantine.update(id, |record| {
            record.released = None;
            if let Some(last) = record.release_attempts.last_mut() {
                last.outcome = format!("failed: not queued: {e}");
            }
            Ok(())
        });
        return Err(e.into());
    }
    Ok(Released {
        spool_id: entry.id,
        recipients: record.recipients,
    })
}

/// The spool entry that carries kept message `record` to the ticket queue as `id`.
pub fn spool_entry_of(
    record: &QuarantineRecord,
    id: String,
    purpose: Purpose,
    now: u64,
) -> SpoolEntry {
    SpoolEntry {
        id,
        received_at: now,
        mail_from: Some(record.mail_from.clone()).filter(|m| !m.is_empty()),
        recipients: record.recipients.clone(),
        peer: record.peer.clone(),
        helo: record.helo.clone(),
        subject: record.subject.clone(),
        message_id: record.message_id.clone(),
        sender: record.from_header.clone(),
        decision: record.decision.clone(),
        attempts: 0,
        next_attempt: now,
        last_answer: None,
        purpose,
    }
}

/// Who let a message through, in its `X-Supportgate-*` fields.
#[derive(Debug, Clone, Copy)]
pub enum Attribution<'a> {
    /// An operator released it from the quarantine (`Released-By`).
    Released { by: &'a str },
    /// The owner or an admin approved it (SPEC §11: `Approved-By`, `Approved-Role`).
    Approved { by: &'a str, role: &'a str },
}

/// The kept bytes with the trace headers of an accepted message, stamped as released or
/// approved: a quarantine release and an approval build the ticket the same way.
pub fn accepted_message(
    config: &Config,
    record: &QuarantineRecord,
    message: &[u8],
    now: u64,
    attribution: Attribution<'_>,
) -> Vec<u8> {
    let peer_ip = record
        .peer
        .as_deref()
        .and_then(|p| p.parse::<std::net::SocketAddr>().ok())
        .map(|p| p.ip());
    let date = crate::reply::rfc5322_date(now);
    let trace = Trace {
        hostname: &config.server.hostname,
        queue_id: &record.id,
        peer_ip,
        helo: record.helo.as_deref(),
        tls: false,
        recipient: record.recipients.first().map(String::as_str),
        date: &date,
    };
    let decision = &record.decision;
    let stamp = Stamp {
        verdict: "accept",
        reason: &decision.reason,
        account: decision.account.as_deref(),
        agent: decision.agent.as_deref(),
        role: decision.role.as_deref(),
        released_by: match attribution {
            Attribution::Released { by } => Some(by),
            Attribution::Approved { .. } => None,
        },
        approved_by: match attribution {
            Attribution::Approved { by, .. } => Some(by),
            Attribution::Released { .. } => None,
        },
        approved_role: match attribution {
            Attribution::Approved { role, .. } => Some(role),
            Attribution::Released { .. } => None,
        },
    };
    let authentication = record.authentication.as_deref().unwrap_or("none");
    stamped_message(message, &trace, authentication, &stamp)
}
