//! The pending approvals (SPEC §11): every request held for the owner or an admin, oldest
//! first — who asked, for which account and category, the Subject, how long it has waited and
//! who was asked — to approve or decline on their behalf (`approval_actions.rs`). Read through
//! the [`ApprovalStore`](crate::store::approvals::ApprovalStore) trait only, as `supportgate
//! approval list` reads it; the token (it approves) is never shown.

use super::i18n::Language;
use super::render::{shown, when};
use super::visitor::Visitor;
use super::ConsoleState;
use crate::policy::{Action, Reason};
use crate::store::approvals::Pending;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use minijinja::context;
use serde::Serialize;
use std::sync::Arc;

/// One held request as the pages show it; what came from the message is [`shown`].
#[derive(Debug, Serialize)]
pub(super) struct Row {
    pub id: String,
    pub requester: String,
    pub account: String,
    pub category: String,
    pub subject: String,
    /// How long it has waited (`3 h 20 min`).
    pub age: String,
    pub held: String,
    pub expires: String,
    /// The owners and admins who were sent the approval request.
    pub approvers: String,
}

impl Row {
    pub(super) fn of(pending: &Pending, now: u64, language: Language) -> Row {
        Row {
            id: pending.id.clone(),
            requester: shown(&pending.requester),
            account: shown(&pending.account),
            category: shown(&pending.category),
            subject: shown(&pending.subject),
            age: age(now.saturating_sub(pending.held_at), language),
            held: when(pending.held_at),
            expires: when(pending.expires_at),
            approvers: shown(&pending.approvers.join(", ")),
        }
    }
}

pub async fn page(
    State(state): State<Arc<ConsoleState>>,
    Extension(visitor): Extension<Visitor>,
) -> Response {
    let hold_off = state
        .gateway
        .engine()
        .config
        .action(Reason::AuthorizationRequired)
        != Action::Hold;
    let requests = match state.actor.approvals().cloned() {
        Some(store) => match state.read("approval store", move || store.list()).await {
            Some(requests) => requests,
            None => {
                return state
                    .pages
                    .error(StatusCode::INTERNAL_SERVER_ERROR, &visitor, "error")
            }
        },
        None => Vec::new(),
    };
    let now = crate::act::unix_now();
    let rows: Vec<Row> = requests
        .iter()
        .filter(|p| p.state.is_pending())
        .map(|p| Row::of(p, now, visitor.language))
        .collect();
    state.pages.render(
        StatusCode::OK,
        "approvals.html",
        &visitor,
        context! { rows, hold_off, show_sign_out => state.shows_sign_out() },
    )
}

/// A wait as a person reads it: the two largest units (`2 d 4 h`, `3 h 20 min`, `5 min`).
fn age(seconds: u64, language: Language) -> String {
    let day = match language {
        Language::En => "d",
        Language::Fr => "j",
    };
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
    );
    if days > 0 {
        format!("{days} {day} {hours} h")
    } else if hours > 0 {
        format!("{hours} h {minutes} min")
    } else {
        format!("{minutes} min")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_two_largest_units() {
        assert_eq!(age(0, Language::En), "0 min");
        assert_eq!(age(59, Language::En), "0 min");
        assert_eq!(age(5 * 60 + 7, Language::En), "5 min");
        assert_eq!(age(3 * 3_600 + 20 * 60, Language::En), "3 h 20 min");
        assert_eq!(age(2 * 86_400 + 4 * 3_600 + 59, Language::En), "2 d 4 h");
        assert_eq!(age(86_400, Language::Fr), "1 j 0 h");
    }
}
