//! Approve and decline on the owner's behalf, for one held request or a selection:
//! `/approvals/confirm` shows what was chosen and asks; `/approvals/approve` and
//! `/approvals/decline` act, through [`settle`] as `supportgate approval approve|decline --by
//! NAME` does (the signed-in user's name is recorded, with the role `operator`; the first
//! decision wins, whoever makes it). Approved: the original goes to the ticket queue with the
//! approval headers; declined: into the quarantine; the requester is told either way, all
//! through the spool, which is woken at once. Each request acted on is an audit entry.

use super::actions::{results_page, selection, Back, Done};
use super::approvals_page::Row;
use super::visitor::CheckedForm;
use super::ConsoleState;
use crate::act::approval::{settle, Settlement};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use std::sync::Arc;

/// The role recorded for a decision made in the console, as for the command line's.
const ROLE: &str = "operator";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decide {
    Approve,
    Decline,
}

impl Decide {
    fn parse(value: &str) -> Option<Decide> {
        match value {
            "approve" => Some(Decide::Approve),
            "decline" => Some(Decide::Decline),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Decide::Approve => "approve",
            Decide::Decline => "decline",
        }
    }

    fn settlement(self, user: &str) -> Settlement {
        let (by, role) = (user.to_string(), ROLE.to_string());
        match self {
            Decide::Approve => Settlement::Approve { by, role },
            Decide::Decline => Settlement::Decline { by, role },
        }
    }

    /// What the results page says of a request this settled.
    fn done(self) -> &'static str {
        match self {
            Decide::Approve => "approved: sent to the ticket queue; the requester is told",
            Decide::Decline => "declined: kept in the quarantine; the requester is told",
        }
    }
}

pub async fn confirm(State(state): State<Arc<ConsoleState>>, form: CheckedForm) -> Response {
    let Some(decide) = form.get("action").and_then(Decide::parse) else {
        return state
            .pages
            .error(StatusCode::BAD_REQUEST, &form.visitor, "bad_request");
    };
    let ids = match selection(&state, &form) {
        Ok(ids) => ids,
        Err(page) => return *page,
    };
    let requests = match state.actor.approvals().cloned() {
        Some(store) => tokio::task::spawn_blocking(move || {
            ids.iter()
                .filter_map(|id| store.get(id).ok().flatten())
                .filter(|p| p.state.is_pending())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default(),
        None => Vec::new(),
    };
    if requests.is_empty() {
        return state
            .pages
            .error(StatusCode::NOT_FOUND, &form.visitor, "not_found");
    }
    let now = crate::act::unix_now();
    let rows: Vec<Row> = requests
        .iter()
        .map(|p| Row::of(p, now, form.visitor.language))
        .collect();
    state.pages.render(
        StatusCode::OK,
        "approval_confirm.html",
        &form.visitor,
        context! { rows, action => decide.as_str(), show_sign_out => state.shows_sign_out() },
    )
}

pub async fn approve(State(state): State<Arc<ConsoleState>>, form: CheckedForm) -> Response {
    act(state, form, Decide::Approve).await
}

pub async fn decline(State(state): State<Arc<ConsoleState>>, form: CheckedForm) -> Response {
    act(state, form, Decide::Decline).await
}

async fn act(state: Arc<ConsoleState>, form: CheckedForm, decide: Decide) -> Response {
    let ids = match selection(&state, &form) {
        Ok(ids) => ids,
        Err(page) => return *page,
    };
    let Some(store) = state.actor.approvals().cloned() else {
        return state
            .pages
            .error(StatusCode::NOT_FOUND, &form.visitor, "not_found");
    };
    let visitor = form.visitor.clone();
    let (worker, engine) = (Arc::clone(&state), state.gateway.engine());
    let (user, client) = (visitor.name().to_string(), visitor.client);
    let results = tokio::task::spawn_blocking(move || {
        let settlement = decide.settlement(&user);
        ids.iter()
            .map(|id| {
                let now = crate::act::unix_now();
                let outcome = settle(&engine, store.as_ref(), id, &settlement, now)
                    .map(|_| decide.done().to_string())
                    .map_err(|e| format!("not {}d: {e}", decide.as_str()));
                if outcome.is_ok() {
                    worker.actor.metrics().approval(settlement.as_str());
                }
                Done::audited(&worker, &user, client, decide.as_str(), id, outcome)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    if results.iter().any(|r| r.ok) {
        state.actor.adopt_written_segments().await;
    }
    results_page(&state, &visitor, decide.as_str(), results, Back::Approvals)
}
