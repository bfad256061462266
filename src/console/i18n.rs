//! The console in English and French: the language comes from the `lang` switch (a query
//! parameter, then remembered in the `sg_lang` cookie), else `Accept-Language`, else English.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    En,
    Fr,
}

pub const COOKIE: &str = "sg_lang";

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
        }
    }

    pub fn from_code(code: &str) -> Option<Language> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Language::En),
            "fr" => Some(Language::Fr),
            _ => None,
        }
    }

    /// The preferred of English and French in an `Accept-Language` value (RFC 9110 §12.5.4:
    /// `fr-CH, fr;q=0.9, en;q=0.8`); English when neither is named.
    pub fn from_accept_language(value: &str) -> Language {
        let mut best: Option<(f32, Language)> = None;
        for item in value.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let primary = tag.split('-').next().unwrap_or("");
            let Some(language) = Language::from_code(primary) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, language));
            }
        }
        best.map_or(Language::En, |(_, l)| l)
    }

    /// Every string of the pages, for the templates (`t.release`).
    pub fn strings(self) -> BTreeMap<&'static str, &'static str> {
        STRINGS
            .iter()
            .map(|(key, en, fr)| {
                (
                    *key,
                    match self {
                        Language::En => *en,
                        Language::Fr => *fr,
                    },
                )
            })
            .collect()
    }
}

/// (key, English, French).
const STRINGS: &[(&str, &str, &str)] = &[
    ("console", "supportgate console", "console supportgate"),
    ("nav_quarantine", "Quarantine", "Quarantaine"),
    ("nav_approvals", "Approvals", "Approbations"),
    ("nav_spool", "Spool", "File d'attente"),
    ("nav_audit", "Audit log", "Journal d'audit"),
    ("signed_in_as", "Signed in as", "Connecté en tant que"),
    ("sign_in", "Sign in", "Se connecter"),
    ("sign_out", "Sign out", "Se déconnecter"),
    ("username", "User name", "Nom d'utilisateur"),
    ("password", "Password", "Mot de passe"),
    ("sign_in_failed", "Wrong user name or password.", "Nom d'utilisateur ou mot de passe incorrect."),
    ("sign_in_limited", "Too many failed sign-ins. Try again later.", "Trop d'échecs de connexion. Réessayez plus tard."),
    ("sso_only", "Sign-in is through your organisation's single sign-on.", "La connexion passe par l'authentification unique de votre organisation."),
    ("reason", "Reason", "Motif"),
    ("all_reasons", "All reasons", "Tous les motifs"),
    ("account", "Account", "Compte"),
    ("sender", "Sender", "Expéditeur"),
    ("date_from", "From date", "Du"),
    ("date_to", "To date", "Au"),
    ("subject_search", "Subject contains", "Le sujet contient"),
    ("filter", "Filter", "Filtrer"),
    ("clear", "Clear", "Effacer"),
    ("counts_14d", "Messages kept per reason, last 14 days", "Messages retenus par motif, 14 derniers jours"),
    ("matching", "messages match", "messages correspondent"),
    ("damaged", "damaged records not shown", "enregistrements endommagés non affichés"),
    ("queue_id", "Queue id", "Identifiant"),
    ("received", "Received", "Reçu"),
    ("from", "From", "De"),
    ("subject", "Subject", "Sujet"),
    ("status", "Status", "État"),
    ("released_by", "released by", "libéré par"),
    ("kept", "kept", "retenu"),
    ("no_messages", "No message matches.", "Aucun message ne correspond."),
    ("previous", "Previous", "Précédent"),
    ("next", "Next", "Suivant"),
    ("page", "Page", "Page"),
    ("selection", "With the selected messages:", "Avec les messages sélectionnés :"),
    ("select", "Select", "Sélectionner"),
    ("release", "Release", "Libérer"),
    ("delete", "Delete", "Supprimer"),
    ("envelope", "Envelope", "Enveloppe"),
    ("peer", "Client", "Client"),
    ("helo", "HELO", "HELO"),
    ("mail_from", "MAIL FROM", "MAIL FROM"),
    ("recipients", "Recipients", "Destinataires"),
    ("message_id", "Message-ID", "Message-ID"),
    ("size", "Size", "Taille"),
    ("bytes", "bytes", "octets"),
    ("decision", "Decision", "Décision"),
    ("verdict", "Verdict", "Verdict"),
    ("why", "Why", "Pourquoi"),
    ("action", "Action", "Action"),
    ("agent", "Agent", "Agent"),
    ("role", "Role", "Rôle"),
    ("category", "Category", "Catégorie"),
    ("note", "Note", "Note"),
    ("authentication", "Authentication", "Authentification"),
    ("auto_reply", "Auto-reply", "Réponse automatique"),
    ("release_history", "Releases", "Libérations"),
    ("headers", "Headers", "En-têtes"),
    ("body", "Text", "Texte"),
    ("body_note", "Shown as plain text: HTML is never rendered and nothing remote is loaded.", "Affiché en texte brut : le HTML n'est jamais interprété et rien n'est chargé à distance."),
    ("no_text", "No text in this message.", "Pas de texte dans ce message."),
    ("truncated", "(truncated)", "(tronqué)"),
    ("attachments", "Attachments", "Pièces jointes"),
    ("name", "Name", "Nom"),
    ("type", "Type", "Type"),
    ("none", "none", "aucune"),
    ("unparsable", "This message could not be parsed; its headers are shown as received.", "Ce message n'a pas pu être analysé ; ses en-têtes sont affichés tels que reçus."),
    ("confirm_title", "Please confirm", "Confirmez"),
    ("confirm_release", "Release these messages to the ticket queue?", "Libérer ces messages vers la file des tickets ?"),
    ("confirm_delete", "Delete these messages for good?", "Supprimer définitivement ces messages ?"),
    ("confirm", "Confirm", "Confirmer"),
    ("cancel", "Cancel", "Annuler"),
    ("nothing_selected", "No message was selected.", "Aucun message n'a été sélectionné."),
    ("results", "Done", "Terminé"),
    ("back", "Back to the quarantine", "Retour à la quarantaine"),
    ("approvals_intro", "Requests held until the account's owner or an admin approves them (SPEC 11), oldest first. Approving or declining here does it on their behalf, under your name.", "Demandes retenues jusqu'à l'accord du propriétaire du compte ou d'un administrateur, les plus anciennes d'abord. Les approuver ou les refuser ici le fait en leur nom, sous votre nom."),
    ("approvals_off", "Requests that need the owner or an admin are not held on this gateway ([actions] authorization-required is not hold): they are answered by an auto-reply and kept in the quarantine.", "Les demandes qui exigent le propriétaire ou un administrateur ne sont pas retenues sur cette passerelle ([actions] authorization-required n'est pas hold) : elles reçoivent une réponse automatique et sont conservées en quarantaine."),
    ("approvals_empty", "No request waits for approval.", "Aucune demande n'attend d'accord."),
    ("requester", "Requester", "Demandeur"),
    ("waiting", "Waiting for", "En attente depuis"),
    ("asked", "Asked", "Sollicités"),
    ("expires", "Expires", "Expire"),
    ("approval_selection", "With the selected requests:", "Avec les demandes sélectionnées :"),
    ("approve", "Approve", "Approuver"),
    ("decline", "Decline", "Refuser"),
    ("confirm_approve", "Approve these requests on the owner's behalf? Each goes to the ticket queue, and its requester is told.", "Approuver ces demandes au nom du propriétaire ? Chacune part vers la file des tickets, et son demandeur est prévenu."),
    ("confirm_decline", "Decline these requests on the owner's behalf? Each is kept in the quarantine, and its requester is told.", "Refuser ces demandes au nom du propriétaire ? Chacune est conservée en quarantaine, et son demandeur est prévenu."),
    ("back_approvals", "Back to the approvals", "Retour aux approbations"),
    ("spool_intro", "Messages the gateway answered for and has not delivered yet: tickets, auto-replies, notifications and releases.", "Messages dont la passerelle a pris la charge et qu'elle n'a pas encore livrés : tickets, réponses automatiques, notifications et libérations."),
    ("spool_empty", "Nothing waits for delivery.", "Rien n'attend d'être livré."),
    ("purpose", "Purpose", "Nature"),
    ("attempts", "Attempts", "Tentatives"),
    ("next_attempt", "Next attempt", "Prochaine tentative"),
    ("last_answer", "Last answer", "Dernière réponse"),
    ("attempt_now", "Attempt now", "Tenter maintenant"),
    ("flushed", "Delivery is being attempted now for", "Livraison tentée maintenant pour"),
    ("audit_intro", "Every sign-in and action in this console, newest first.", "Chaque connexion et action dans cette console, la plus récente d'abord."),
    ("audit_empty", "Nothing recorded yet.", "Rien n'est encore enregistré."),
    ("time", "Time", "Heure"),
    ("user", "User", "Utilisateur"),
    ("target", "Message", "Message"),
    ("outcome", "Outcome", "Résultat"),
    ("client", "Client", "Client"),
    ("not_found", "Not found.", "Introuvable."),
    ("bad_request", "This request cannot be used.", "Cette requête est inutilisable."),
    ("csrf_failed", "This form has expired. Reload the page and try again.", "Ce formulaire a expiré. Rechargez la page et réessayez."),
    ("error", "Something went wrong; the log says more.", "Une erreur s'est produite ; le journal en dit plus."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language() {
        assert_eq!(
            Language::from_accept_language("fr-CH, fr;q=0.9, en;q=0.8"),
            Language::Fr
        );
        assert_eq!(
            Language::from_accept_language("de, en;q=0.5, fr;q=0.4"),
            Language::En
        );
        assert_eq!(Language::from_accept_language("de"), Language::En);
        assert_eq!(
            Language::from_accept_language("en;q=0.1, fr;q=0"),
            Language::En
        );
        assert_eq!(Language::from_accept_language(""), Language::En);
    }

    #[test]
    fn every_key_once() {
        let mut keys: Vec<_> = STRINGS.iter().map(|(k, _, _)| k).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), STRINGS.len());
    }
}
