//! Release and delete, for one message or a selection: `/confirm` shows what was chosen and
//! asks; `/release` and `/delete` act. Release goes through the same code as `supportgate
//! quarantine release` (into the spool, then the spool delivery is woken); delete through
//! `Quarantine::delete`, as `quarantine delete`. Each message acted on is an audit entry.

use super::render::shown;
use super::visitor::{CheckedForm, Visitor};
use super::ConsoleState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Serialize;
use std::sync::Arc;

/// At most one page of messages (or held requests) at once.
const MAX_SELECTION: usize = super::quarantine_page::PAGE_SIZE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Release,
    Delete,
}

impl Act {
    fn parse(value: &str) -> Option<Act> {
        match value {
            "release" => Some(Act::Release),
            "delete" => Some(Act::Delete),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Act::Release => "release",
            Act::Delete => "delete",
        }
    }
}

#[derive(Debug, Serialize)]
struct Chosen {
    id: String,
    reason: String,
    from: String,
    subject: String,
}

/// One message or request acted on, as the results page shows it.
#[derive(Debug, Serialize)]
pub(super) struct Done {
    pub id: String,
    pub ok: bool,
    pub outcome: String,
}

/// The selection, or the page that says why it cannot be used.
pub(super) fn selection(
    state: &ConsoleState,
    form: &CheckedForm,
) -> Result<Vec<String>, Box<Response>> {
    let mut ids = form.all("id");
    ids.dedup();
    let problem = if ids.is_empty() {
        "nothing_selected"
    } else if ids.len() > MAX_SELECTION {
        "bad_request"
    } else {
        return Ok(ids);
    };
    Err(Box::new(state.pages.error(
        StatusCode::BAD_REQUEST,
        &form.visitor,
        problem,
    )))
}

pub async fn confirm(State(state): State<Arc<ConsoleState>>, form: CheckedForm) -> Response {
    let Some(act) = form.get("action").and_then(Act::parse) else {
        return state
            .pages
            .error(StatusCode::BAD_REQUEST, &form.visitor, "bad_request");
    };
    let ids = match selection(&state, &form) {
        Ok(ids) => ids,
        Err(page) => return *page,
    };
    let quarantine = state.quarantine.clone();
    let records = tokio::task::spawn_blocking(move || {
        ids.iter()
            .filter_map(|id| quarantine.record(id).ok())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    if records.is_empty() {
        return state
            .pages
            .error(StatusCode::NOT_FOUND, &form.visitor, "not_found");
    }
    let rows: Vec<Chosen> = records
        .iter()
        .map(|r| Chosen {
            id: r.id.clone(),
            reason: shown(&r.decision.reason),
            from: shown(r.from_header.as_deref().unwrap_or(&r.mail_from)),
            subject: shown(r.subject.as_deref().unwrap_or("")),
        })
        .collect();
    state.pages.render(
        StatusCode::OK,
        "confirm.html",
        &form.visitor,
        context! { rows, action => act.as_str(), show_sign_out => state.shows_sign_out() },
    )
}

pub async fn release(State(state): State<Arc<ConsoleState>>, form: CheckedForm) -> Response {
    act(state, form, Act::Release).await
}

pub async fn delete(State(state): State<Arc<ConsoleState>>, form: CheckedForm) -> Response {
    act(state, form, Act::Delete).await
}

async fn act(state: Arc<ConsoleState>, form: CheckedForm, act: Act) -> Response {
    let ids = match selection(&state, &form) {
        Ok(ids) => ids,
        Err(page) => return *page,
    };
    let visitor: Visitor = form.visitor.clone();
    let worker = Arc::clone(&state);
    let user = visitor.name().to_string();
    let client = visitor.client;
    let results = tokio::task::spawn_blocking(move || {
        ids.iter()
            .map(|id| {
                let outcome = match act {
                    Act::Release => release_one(&worker, id, &user),
                    Act::Delete => worker
                        .quarantine
                        .delete(id)
                        .map(|()| "deleted".to_string())
                        .map_err(|e| e.to_string()),
                };
                Done::audited(&worker, &user, client, act.as_str(), id, outcome)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    if act == Act::Release && results.iter().any(|r| r.ok) {
        state.actor.adopt_written_segments().await;
    }
    results_page(&state, &visitor, act.as_str(), results, Back::Quarantine)
}

impl Done {
    /// What acting on `id` came to (`Ok`: what was done; `Err`: why not), written to the
    /// audit log as `action` by `user` (blocking).
    pub(super) fn audited(
        state: &ConsoleState,
        user: &str,
        client: std::net::IpAddr,
        action: &str,
        id: &str,
        outcome: Result<String, String>,
    ) -> Done {
        let (ok, outcome) = match outcome {
            Ok(text) => (true, text),
            Err(e) => (false, e),
        };
        state.audit(
            user,
            client,
            action,
            Some(id),
            if ok { "ok" } else { &outcome },
        );
        Done {
            id: id.to_string(),
            ok,
            outcome,
        }
    }
}

/// Where the results page leads back to.
#[derive(Debug, Clone, Copy)]
pub(super) enum Back {
    Quarantine,
    Approvals,
}

/// The results of acting on a selection: `200` when every one went through, else `409`.
pub(super) fn results_page(
    state: &ConsoleState,
    visitor: &Visitor,
    action: &str,
    results: Vec<Done>,
    back: Back,
) -> Response {
    let status = if results.iter().all(|r| r.ok) {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    let results: Vec<Done> = results
        .into_iter()
        .map(|r| Done {
            outcome: shown(&r.outcome),
            ..r
        })
        .collect();
    let (back_href, back_key) = match back {
        Back::Quarantine => ("/quarantine", "back"),
        Back::Approvals => ("/approvals", "back_approvals"),
    };
    state.pages.render(
        status,
        "results.html",
        visitor,
        context! { results, action, back_href, back_key, show_sign_out => state.shows_sign_out() },
    )
}

/// `quarantine release ID --by USER`, as the CLI does it.
fn release_one(state: &ConsoleState, id: &str, user: &str) -> Result<String, String> {
    crate::act::release::release(&state.config, id, user, crate::act::unix_now())
        .map(|released| {
            format!(
                "released: queued as {} for {}",
                released.spool_id,
                released.recipients.join(", ")
            )
        })
        .map_err(|e| format!("not released: {e}"))
}
