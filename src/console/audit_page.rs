//! The audit log page: the latest entries of the console's audit log, newest first.

use super::render::shown;
use super::visitor::Visitor;
use super::ConsoleState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use minijinja::context;
use std::sync::Arc;

/// Entries shown.
const SHOWN: usize = 500;

pub async fn page(
    State(state): State<Arc<ConsoleState>>,
    Extension(visitor): Extension<Visitor>,
) -> Response {
    let audit = state.audit_log.clone();
    let Some(entries) = state.read("audit log", move || audit.recent(SHOWN)).await else {
        return state
            .pages
            .error(StatusCode::INTERNAL_SERVER_ERROR, &visitor, "error");
    };
    let entries: Vec<_> = entries
        .into_iter()
        .map(|mut e| {
            e.user = shown(&e.user);
            e.outcome = shown(&e.outcome);
            e
        })
        .collect();
    state.pages.render(
        StatusCode::OK,
        "audit.html",
        &visitor,
        context! { entries, show_sign_out => state.shows_sign_out() },
    )
}
