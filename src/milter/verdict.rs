//! What the front answers at the end of a message, and the one place that maps the act stage's
//! typed outcomes to milter replies ([`Verdict::for_outcomes`]), as `SmtpReply::for_outcome`
//! does for the SMTP front.

use super::codec::Response;
use crate::act::{Acted, Outcome};
use crate::smtp::SmtpReply;

/// Changes to the message that goes on through the MTA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edits {
    /// Header fields to put on top, in order.
    pub insert: Vec<(String, String)>,
    /// Inbound header fields to remove: name and occurrence (from 1) among fields of that name.
    pub remove: Vec<(String, u32)>,
    /// Envelope recipients to remove, as the MTA gave them.
    pub delete_recipients: Vec<String>,
}

/// The answer to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let the message go on, changed by `Edits`.
    Continue(Edits),
    /// Nothing is delivered: we have kept it (quarantine), the client gets its `250`.
    Discard,
    /// A refusal (5xx) or a temporary failure (4xx) in the client's session.
    Reply(SmtpReply),
}

impl Verdict {
    /// The decisions about the support recipients of one message → one verdict. `others`:
    /// recipients outside the pipeline (left alone) are in the same transaction. `stamp`: our
    /// header fields for a forwarded message; `inbound`: the forgeable fields it arrived with.
    pub fn for_outcomes(
        handled: &[Acted],
        others: bool,
        stamp: Vec<(String, String)>,
        inbound: Vec<(String, u32)>,
    ) -> Verdict {
        // A temporary failure of any decision wins, as on the SMTP front (the client retries
        // the whole transaction).
        if let Some(deferred) = handled
            .iter()
            .find(|a| matches!(a.outcome, Outcome::Deferred(_)))
        {
            return Verdict::Reply(SmtpReply::for_outcome(deferred));
        }
        let goes_on = |a: &&Acted| a.outcome == Outcome::Passed;
        let passing = handled.iter().any(|a| goes_on(&a));
        if !passing && !others {
            let kept = |a: &Acted| {
                matches!(
                    a.outcome,
                    Outcome::Quarantined | Outcome::Held | Outcome::Consumed
                )
            };
            if handled.iter().any(kept) {
                return Verdict::Discard;
            }
            return match handled.first() {
                Some(refused) => Verdict::Reply(SmtpReply::for_outcome(refused)),
                // Nothing concerned us: the front never asks then.
                None => Verdict::Continue(Edits::default()),
            };
        }
        let delete_recipients = handled
            .iter()
            .filter(|a| !goes_on(a))
            .flat_map(|a| a.recipients.iter().cloned())
            .collect();
        let (insert, remove) = if passing {
            (stamp, inbound)
        } else {
            // Only other recipients remain: their message is left as it came.
            (Vec::new(), Vec::new())
        };
        Verdict::Continue(Edits {
            insert,
            remove,
            delete_recipients,
        })
    }

    /// The SMTP code the client gets, for the decision log.
    pub fn smtp_code(&self) -> u16 {
        match self {
            Verdict::Continue(_) | Verdict::Discard => 250,
            Verdict::Reply(reply) => reply.code,
        }
    }

    /// The word in the log.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Continue(edits) if edits.delete_recipients.is_empty() => "continue",
            Verdict::Continue(_) => "continue-without-some-recipients",
            Verdict::Discard => "discard",
            Verdict::Reply(reply) if reply.code < 500 => "tempfail",
            Verdict::Reply(_) => "reject",
        }
    }

    /// The replies that carry this verdict: the edits, then the final answer.
    pub fn responses(&self) -> Vec<Response> {
        match self {
            Verdict::Continue(edits) => {
                let mut out = Vec::new();
                for (name, index) in &edits.remove {
                    out.push(Response::ChangeHeader {
                        index: *index,
                        name: name.clone(),
                        value: String::new(),
                    });
                }
                // Inserted on top one by one: the last inserted ends up first.
                for (name, value) in edits.insert.iter().rev() {
                    out.push(Response::InsertHeader {
                        index: 0,
                        name: name.clone(),
                        value: value.clone(),
                    });
                }
                for rcpt in &edits.delete_recipients {
                    out.push(Response::DeleteRecipient(rcpt.clone()));
                }
                out.push(Response::Continue);
                out
            }
            Verdict::Discard => vec![Response::Discard],
            Verdict::Reply(reply) => vec![Response::ReplyCode(reply_text(reply))],
        }
    }
}

/// One line: a milter reply code is a single SMTP reply line (`550 5.7.1 text`), without
/// control characters and without `%` (a format character to the MTA's reply code).
fn reply_text(reply: &SmtpReply) -> String {
    let line: String = reply
        .text
        .split('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && *c != '%')
        .collect();
    let code = reply.code.clamp(400, 599);
    match reply.enhanced {
        Some((class, subject, detail)) => format!("{code} {class}.{subject}.{detail} {line}"),
        None => format!("{code} {line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::{AutoReply, Defer};
    use crate::policy::Reason;

    fn acted(rcpt: &str, outcome: Outcome) -> Acted {
        Acted {
            queue_id: "Q1".into(),
            recipients: vec![rcpt.into()],
            outcome,
            auto_reply: AutoReply::None,
        }
    }

    fn stamp() -> Vec<(String, String)> {
        vec![("X-Supportgate-Verdict".into(), " accept".into())]
    }

    fn inbound() -> Vec<(String, u32)> {
        vec![("X-Supportgate-Verdict".into(), 1)]
    }

    #[test]
    fn forwarded_mail_goes_on_stamped() {
        let verdict = Verdict::for_outcomes(
            &[acted("<support@v>", Outcome::Passed)],
            false,
            stamp(),
            inbound(),
        );
        assert_eq!(
            verdict,
            Verdict::Continue(Edits {
                insert: stamp(),
                remove: inbound(),
                delete_recipients: vec![]
            })
        );
    }

    #[test]
    fn kept_mail_is_discarded_unless_others_remain() {
        let kept = [acted("<support@v>", Outcome::Quarantined)];
        assert_eq!(
            Verdict::for_outcomes(&kept, false, stamp(), inbound()),
            Verdict::Discard
        );
        assert_eq!(
            Verdict::for_outcomes(&kept, true, stamp(), inbound()),
            Verdict::Continue(Edits {
                insert: vec![],
                remove: vec![],
                delete_recipients: vec!["<support@v>".into()]
            })
        );
    }

    #[test]
    fn a_refusal_is_550_in_the_session_and_a_deferral_wins() {
        let rejected = acted("<support@v>", Outcome::Rejected(Reason::MalformedSender));
        let Verdict::Reply(reply) =
            Verdict::for_outcomes(std::slice::from_ref(&rejected), false, stamp(), inbound())
        else {
            panic!("not a reply");
        };
        assert_eq!((reply.code, reply.enhanced), (550, Some((5, 7, 1))));
        let deferred = acted("<b@v>", Outcome::Deferred(Defer::Storage));
        let Verdict::Reply(reply) = Verdict::for_outcomes(
            &[acted("<a@v>", Outcome::Passed), deferred],
            true,
            stamp(),
            inbound(),
        ) else {
            panic!("not a reply");
        };
        assert_eq!(reply.code, 452);
    }

    #[test]
    fn mixed_decisions_remove_only_the_refused_recipients() {
        let verdict = Verdict::for_outcomes(
            &[
                acted("<support+acme@v>", Outcome::Passed),
                acted("<support+globex@v>", Outcome::Quarantined),
            ],
            false,
            stamp(),
            inbound(),
        );
        let responses = verdict.responses();
        assert_eq!(
            responses,
            vec![
                Response::ChangeHeader {
                    index: 1,
                    name: "X-Supportgate-Verdict".into(),
                    value: String::new()
                },
                Response::InsertHeader {
                    index: 0,
                    name: "X-Supportgate-Verdict".into(),
                    value: " accept".into()
                },
                Response::DeleteRecipient("<support+globex@v>".into()),
                Response::Continue,
            ]
        );
    }

    #[test]
    fn reply_text_is_one_line_without_formats() {
        let reply = SmtpReply::new(451, (4, 4, 1), "100% busy\nsecond");
        assert_eq!(reply_text(&reply), "451 4.4.1 100 busy");
    }
}
