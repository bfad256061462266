//! `maildir:PATH`: the ticket queue or reply outbox of the embedded default, fsync'd by
//! [`crate::store::maildir::deliver`].

use super::target::{Delivery, DeliveryError, Parcel, Target};
use std::path::PathBuf;

pub struct MaildirTarget {
    root: PathBuf,
    description: String,
}

impl MaildirTarget {
    pub fn new(root: PathBuf) -> MaildirTarget {
        MaildirTarget {
            description: format!("maildir:{}", root.display()),
            root,
        }
    }
}

impl Target for MaildirTarget {
    fn description(&self) -> &str {
        &self.description
    }

    fn deliver<'a>(&'a self, parcel: Parcel<'a>) -> Delivery<'a> {
        let (root, unique, bytes) = (
            self.root.clone(),
            parcel.unique.to_string(),
            parcel.bytes.to_vec(),
        );
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                crate::store::maildir::deliver(&root, &unique, &bytes)
            })
            .await
            .map_err(|e| DeliveryError::Temporary(format!("maildir task: {e}")))?
            .map(|_| ())
            .map_err(|e| DeliveryError::Temporary(format!("maildir: {e}")))
        })
    }
}
