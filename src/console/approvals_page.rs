//! The approvals page. Approval by the owner or an admin (SPEC §11) is not built yet: the page
//! says so instead of showing an empty list that would read as "nothing pending".

use super::visitor::Visitor;
use super::ConsoleState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use minijinja::context;
use std::sync::Arc;

pub async fn page(
    State(state): State<Arc<ConsoleState>>,
    Extension(visitor): Extension<Visitor>,
) -> Response {
    state.pages.render(
        StatusCode::OK,
        "approvals.html",
        &visitor,
        context! { show_sign_out => state.shows_sign_out() },
    )
}
