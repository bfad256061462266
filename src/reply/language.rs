//! Which language a reply is written in (SPEC §5), and the few phrases the code itself supplies.

use crate::directory::Language;
use crate::policy::Reason;

/// The account's language from the directory, else the first tag of the message's
/// `Content-Language` that we ship (`de, fr-CA` → French), else the configured default.
pub fn choose_language(
    account: Option<Language>,
    content_language: Option<&str>,
    default: Language,
) -> Language {
    account
        .or_else(|| {
            content_language?
                .split(',')
                .find_map(|tag| Language::from_tag(tag.trim()))
        })
        .unwrap_or(default)
}

/// `{{account_name}}` when the account is not known. Templates use the name where "your
/// account" also reads well ("registered on Acme SAS" / "registered on your account").
pub fn unknown_account_name(language: Language) -> &'static str {
    match language {
        Language::Fr => "votre compte",
        Language::En => "your account",
    }
}

/// What the reply's Subject names when the original had none.
pub fn default_subject(language: Language) -> &'static str {
    match language {
        Language::Fr => "Votre message à l'assistance",
        Language::En => "Your message to support",
    }
}

/// `{{original_subject}}` in a body when the original had none.
pub fn no_subject(language: Language) -> &'static str {
    match language {
        Language::Fr => "(sans objet)",
        Language::En => "(no subject)",
    }
}

/// The Subject of the P4 notification; `account` is already sanitised.
pub fn notification_subject(language: Language, account: &str) -> String {
    match language {
        Language::Fr => format!(
            "Compte {account} : une demande attend l'accord du propriétaire ou d'un administrateur"
        ),
        Language::En => format!("Account {account}: a request needs the owner or an admin"),
    }
}

/// `{{reason_text}}`: the reason in a few plain words, lower case, no final full stop.
pub fn reason_text(reason: Reason, language: Language) -> &'static str {
    match language {
        Language::Fr => match reason {
            Reason::Accepted => "message accepté",
            Reason::NotRegistered => {
                "l'adresse d'envoi ne figure sur aucun profil d'agent de ce compte"
            }
            Reason::UnknownSender => "l'adresse d'envoi ne figure sur aucun profil d'agent",
            Reason::HelpdeskAddress => {
                "le message vient d'une adresse à laquelle écrivent les clients du compte"
            }
            Reason::GroupAddress => {
                "le message vient d'une liste de diffusion, d'un alias ou d'une boîte partagée"
            }
            Reason::AuthorizationRequired => {
                "cette demande doit venir du propriétaire du compte ou d'un administrateur"
            }
            Reason::SharedAddress => "l'adresse d'envoi figure sur plusieurs profils",
            Reason::UnauthenticatedSender => "l'expéditeur n'a pas pu être authentifié",
            Reason::MalformedSender => {
                "le message n'a pas une adresse d'expéditeur unique et valide"
            }
            Reason::AmbiguousAccount => "le message n'indique pas le compte concerné",
            Reason::BlockedSender => "les messages de cet expéditeur ne sont pas acceptés",
            Reason::Automated => "le message a été envoyé automatiquement",
            Reason::NoReplySender => "le message vient d'une adresse qui ne reçoit pas de réponse",
            Reason::MailLoop => "trop de messages sont arrivés de cette adresse en peu de temps",
            Reason::AccountInactive => "le compte concerné n'est pas actif",
            Reason::UnregisteredReplyTo => {
                "les réponses iraient à une adresse qui ne figure sur aucun profil du compte"
            }
        },
        Language::En => match reason {
            Reason::Accepted => "message accepted",
            Reason::NotRegistered => {
                "the sending address is not on any agent profile of this account"
            }
            Reason::UnknownSender => "the sending address is not on any agent profile",
            Reason::HelpdeskAddress => {
                "the message came from an address that the account's own customers write to"
            }
            Reason::GroupAddress => "the message came from a list, an alias or a shared mailbox",
            Reason::AuthorizationRequired => {
                "this request must come from the account owner or an admin"
            }
            Reason::SharedAddress => "the sending address is on more than one profile",
            Reason::UnauthenticatedSender => "the sender could not be authenticated",
            Reason::MalformedSender => "the message has no single, valid sender address",
            Reason::AmbiguousAccount => "the message does not say which account it concerns",
            Reason::BlockedSender => "messages from this sender are not accepted",
            Reason::Automated => "the message was sent automatically",
            Reason::NoReplySender => "the message came from an address that takes no replies",
            Reason::MailLoop => "too many messages came from this address in a short time",
            Reason::AccountInactive => "the account concerned is not active",
            Reason::UnregisteredReplyTo => {
                "replies would go to an address that is on no profile of the account"
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Language::{En, Fr};

    #[test]
    fn language_choice_table() {
        // (account language, Content-Language, default) → chosen
        let cases: [(Option<Language>, Option<&str>, Language, Language); 10] = [
            (Some(Fr), Some("en"), En, Fr),
            (Some(En), Some("fr"), Fr, En),
            (None, Some("fr"), En, Fr),
            (None, Some("fr-CA"), En, Fr),
            (None, Some("en-GB"), Fr, En),
            (None, Some("de, fr-CH"), En, Fr),
            (None, Some(" DE ,  EN-us"), Fr, En),
            (None, Some("de"), Fr, Fr),
            (None, Some(""), En, En),
            (None, None, Fr, Fr),
        ];
        for (account, header, default, expected) in cases {
            assert_eq!(
                choose_language(account, header, default),
                expected,
                "{account:?} {header:?} {default:?}"
            );
        }
    }

    #[test]
    fn every_reason_has_a_text_in_every_language() {
        for language in Language::ALL {
            for reason in Reason::ALL {
                let text = reason_text(reason, language);
                assert!(
                    !text.is_empty() && !text.ends_with('.'),
                    "{reason} {language}"
                );
            }
        }
    }
}
