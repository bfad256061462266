//! `smtp://HOST:PORT`: an SMTP or LMTP-fronted relay (the helpdesk's inbound server, a
//! smarthost for replies), over a pool of kept-open connections ([`super::smtp_pool`]).

use super::envelope::lettre_envelope;
use super::smtp_client::ClientError;
use super::smtp_pool::{SendError, SmtpPool};
use super::target::{Delivery, DeliveryError, Parcel, Target};
use std::time::Duration;

/// Connections kept open to one relay.
const MAX_IDLE: usize = 64;

pub struct RelayTarget {
    pool: SmtpPool,
    description: String,
}

impl RelayTarget {
    pub fn new(host: &str, port: u16, hostname: &str, timeout: Duration) -> RelayTarget {
        RelayTarget {
            pool: SmtpPool::new(host, port, hostname, timeout, MAX_IDLE),
            description: format!("smtp://{host}:{port}"),
        }
    }
}

impl Target for RelayTarget {
    fn description(&self) -> &str {
        &self.description
    }

    fn deliver<'a>(&'a self, parcel: Parcel<'a>) -> Delivery<'a> {
        Box::pin(async move {
            // The addresses are checked as for every SMTP target (a bad one is permanent).
            lettre_envelope(parcel.mail_from, parcel.recipients)?;
            self.pool
                .send(parcel.mail_from, parcel.recipients, parcel.bytes)
                .await
                .map_err(|e| match e {
                    SendError::Smtp(e) => refusal(e),
                    SendError::Unreachable(why) => DeliveryError::Temporary(why),
                })
        })
    }
}

/// A 5xx answer is permanent; a 4xx, a missing extension or anything else is temporary.
fn refusal(error: ClientError) -> DeliveryError {
    let text = error.to_string().replace(['\r', '\n'], " ");
    match error {
        ClientError::Refused { reply, .. } if (500..600).contains(&reply.code) => {
            DeliveryError::Permanent(text)
        }
        _ => DeliveryError::Temporary(text),
    }
}
