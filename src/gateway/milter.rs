//! The milter front (SPEC §15): the same [`Gateway`] answers Postfix as a milter. Recipients
//! that are not support addresses or per-account mailboxes are left to the MTA; the message of
//! the others goes through [`crate::pipeline::receive`] with [`Forwarding::Mta`] (a forwarded
//! message goes on through Postfix, stamped), and [`Verdict::for_outcomes`] is the mapping.

use super::Gateway;
use crate::act::{Acted, Client, Forwarding};
use crate::delivery::headers::{
    authentication_results_value, is_forgeable_field, stamp_fields, Stamp,
};
use crate::milter::{ClientAddress, MilterHandler, MilterMessage, Verdict};
use crate::pipeline::Transaction;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};

impl MilterHandler for Gateway {
    fn concerns(&self, recipient: &str) -> bool {
        crate::pipeline::is_support_recipient(&self.engine(), recipient)
    }

    async fn decide(&self, message: MilterMessage) -> Verdict {
        let engine = self.engine();
        let (ours, others): (Vec<_>, Vec<_>) = message
            .recipients
            .iter()
            .partition(|(_, address)| crate::pipeline::is_support_recipient(&engine, address));
        // A client on a Unix socket of the MTA, or one it cannot name: no address to verify.
        let peer = match message.client {
            ClientAddress::Inet(address) => address,
            ClientAddress::Unknown => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        };
        let transaction = Transaction {
            client: Client {
                session_id: message.session_id.clone(),
                peer,
                helo: message.helo.clone(),
                tls: message.tls,
            },
            mail_from: message.mail_from.clone(),
            recipients: ours.iter().map(|(_, address)| address.clone()).collect(),
            bytes: message.bytes,
            forwarding: Forwarding::Mta,
            others_served: !others.is_empty(),
        };
        let receipt = crate::pipeline::receive(&engine, self.actor(), transaction).await;
        let hostname = &engine.config.server.hostname;
        let stamp = receipt
            .handled
            .iter()
            .find(|(_, acted)| acted.outcome == crate::act::Outcome::Passed)
            .map(|(decided, acted)| {
                stamp_fields(
                    hostname,
                    &acted.queue_id,
                    &authentication_results_value(&receipt.received.auth),
                    &Stamp::of(&decided.decision),
                )
            })
            .unwrap_or_default();
        // SMFIR_DELRCPT names a recipient as the MTA gave it (`<a@b>`).
        let as_given = |address: &String| {
            ours.iter()
                .find(|(_, a)| a == address)
                .map_or_else(|| address.clone(), |(given, _)| given.clone())
        };
        let acted: Vec<Acted> = receipt
            .acted()
            .map(|acted| Acted {
                recipients: acted.recipients.iter().map(as_given).collect(),
                ..acted.clone()
            })
            .collect();
        let verdict = Verdict::for_outcomes(
            &acted,
            !others.is_empty(),
            stamp,
            forgeable_fields(&message.headers, hostname),
        );
        let code = verdict.smtp_code();
        for (decided, acted) in &receipt.handled {
            crate::act::log::decision(&receipt.received, decided, acted, code);
            tracing::info!(
                session = %message.session_id,
                queue_id = %acted.queue_id,
                mta_queue_id = message.mta_queue_id.as_deref().unwrap_or(""),
                mta = message.mta_hostname.as_deref().unwrap_or(""),
                client = %message.hostname,
                sasl_login = message.authenticated_as.as_deref().unwrap_or(""),
                others = others.len(),
                verdict = verdict.as_str(),
                "milter: answered"
            );
        }
        for approval in &receipt.approvals {
            crate::act::log::approval(&receipt.received, approval, code);
        }
        self.actor()
            .metrics()
            .message_time(receipt.received.started.elapsed());
        verdict
    }
}

/// The inbound fields to remove, by name and occurrence among fields of that name (from 1,
/// names compared without case), as `SMFIR_CHGHEADER` counts them.
fn forgeable_fields(headers: &[(String, String)], own_authserv_id: &str) -> Vec<(String, u32)> {
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut out = Vec::new();
    for (name, value) in headers {
        let index = seen.entry(name.to_ascii_lowercase()).or_insert(0);
        *index += 1;
        if is_forgeable_field(name, value, own_authserv_id) {
            out.push((name.clone(), *index));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_fields_are_named_by_their_occurrence() {
        let headers = [
            ("Authentication-Results", " mx.other.example; dmarc=pass"),
            ("Subject", " hi"),
            ("authentication-results", " gw.example; dmarc=pass"),
            ("X-Supportgate-Verdict", " accept"),
        ]
        .map(|(n, v)| (n.to_string(), v.to_string()));
        assert_eq!(
            forgeable_fields(&headers, "gw.example"),
            vec![
                ("authentication-results".to_string(), 2),
                ("X-Supportgate-Verdict".to_string(), 1)
            ]
        );
    }
}
