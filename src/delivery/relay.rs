//! `smtp://HOST:PORT`: an SMTP or LMTP-fronted relay (the helpdesk's inbound server, a
//! smarthost for replies), over a pool of kept-open connections ([`super::smtp_pool`]).

use super::envelope::{classify, lettre_envelope};
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
            let envelope = lettre_envelope(parcel.mail_from, parcel.recipients)?;
            self.pool
                .send(&envelope, parcel.bytes)
                .await
                .map_err(|e| match e {
                    SendError::Smtp(e) => classify(e),
                    SendError::Unreachable(why) => DeliveryError::Temporary(why),
                })
        })
    }
}
