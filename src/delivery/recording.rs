//! [`RecordingTarget`]: a test double that keeps what it is given and answers as scripted, so
//! that the act stage can be tested without a Maildir, a relay or a command.

use super::target::{Delivery, DeliveryContext, DeliveryError, Parcel, Target};
use crate::locking::lock;
use std::collections::VecDeque;
use std::sync::Mutex;

/// One delivery attempt as the target saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub mail_from: Option<String>,
    pub recipients: Vec<String>,
    pub bytes: Vec<u8>,
    pub unique: String,
    pub context: DeliveryContext,
}

impl Recorded {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Records every attempt; answers with the scripted results in order, then with `Ok`.
#[derive(Default)]
pub struct RecordingTarget {
    attempts: Mutex<Vec<Recorded>>,
    script: Mutex<VecDeque<Result<(), DeliveryError>>>,
}

impl RecordingTarget {
    pub fn new() -> RecordingTarget {
        RecordingTarget::default()
    }

    /// The next attempts get these answers, in order.
    pub fn answer(&self, results: impl IntoIterator<Item = Result<(), DeliveryError>>) {
        lock(&self.script).extend(results);
    }

    /// Every attempt so far, failed ones included.
    pub fn attempts(&self) -> Vec<Recorded> {
        lock(&self.attempts).clone()
    }
}

impl Target for RecordingTarget {
    fn description(&self) -> &str {
        "recording"
    }

    fn deliver<'a>(&'a self, parcel: Parcel<'a>) -> Delivery<'a> {
        lock(&self.attempts).push(Recorded {
            mail_from: parcel.mail_from.map(str::to_string),
            recipients: parcel.recipients.to_vec(),
            bytes: parcel.bytes.to_vec(),
            unique: parcel.unique.to_string(),
            context: parcel.context.clone(),
        });
        let answer = lock(&self.script).pop_front().unwrap_or(Ok(()));
        Box::pin(async move { answer })
    }
}
