//! The envelope and the answer of an SMTP delivery, shared by the relay and the MX targets.

use super::target::DeliveryError;
use lettre::address::Envelope;
use lettre::Address;

/// lettre's envelope; a bad address is permanent (retrying will not fix it).
pub fn lettre_envelope(
    mail_from: Option<&str>,
    recipients: &[String],
) -> Result<Envelope, DeliveryError> {
    let from = match mail_from {
        Some(address) => Some(
            address
                .parse::<Address>()
                .map_err(|e| DeliveryError::Permanent(format!("bad sender {address:?}: {e}")))?,
        ),
        None => None,
    };
    let to = recipients
        .iter()
        .map(|r| {
            r.parse::<Address>()
                .map_err(|e| DeliveryError::Permanent(format!("bad recipient {r:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(from, to).map_err(|e| DeliveryError::Permanent(e.to_string()))
}

/// The upstream's refusal, kept as text: a 5xx is permanent, everything else (4xx, connection
/// refused, timeout) is temporary.
pub fn classify(error: lettre::transport::smtp::Error) -> DeliveryError {
    let text = error.to_string().replace(['\r', '\n'], " ");
    if error.is_permanent() {
        DeliveryError::Permanent(text)
    } else {
        DeliveryError::Temporary(text)
    }
}
