//! The console's routes and its listener, on the server's own tokio runtime.

use super::ConsoleState;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

const STYLESHEET: &str = include_str!("assets/console.css");

pub fn router(state: Arc<ConsoleState>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/quarantine") }))
        .route(
            "/sign-in",
            get(super::sign_in::form).post(super::sign_in::submit),
        )
        .route("/sign-out", post(super::sign_in::sign_out))
        .route("/quarantine", get(super::quarantine_page::page))
        .route("/message/{id}", get(super::message_page::page))
        .route("/confirm", post(super::actions::confirm))
        .route("/release", post(super::actions::release))
        .route("/delete", post(super::actions::delete))
        .route("/approvals", get(super::approvals_page::page))
        .route("/approvals/confirm", post(super::approval_actions::confirm))
        .route("/approvals/approve", post(super::approval_actions::approve))
        .route("/approvals/decline", post(super::approval_actions::decline))
        .route("/spool", get(super::spool_page::page))
        .route("/spool/flush", post(super::spool_page::flush))
        .route("/audit", get(super::audit_page::page))
        .route(
            "/assets/console.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    STYLESHEET,
                )
            }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n").into_response() })
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            super::visitor::resolve,
        ))
        .with_state(state)
}

/// Serves the console on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ConsoleState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(target: "supportgate::console", error = %e, "console stopped");
    }
}

/// Starts the console on `listener` (bound at start with the other listeners); it stops when
/// `stopped` turns true (after the SMTP sessions have finished).
pub fn spawn(
    config: &crate::config::Config,
    gateway: Arc<crate::gateway::Gateway>,
    listener: tokio::net::TcpListener,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    let Some(state) = ConsoleState::new(config, gateway)? else {
        return Ok(());
    };
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    match &state.settings.sign_in {
        crate::config::ConsoleSignIn::Users(path) if !path.is_file() => tracing::warn!(
            users = %path.display(),
            "console: no users file yet: nobody can sign in (supportgate console passwd NAME)"
        ),
        _ => {}
    }
    tracing::info!(address = %address, "console on http://{address}/");
    tokio::spawn(serve(listener, Arc::new(state), async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    Ok(())
}
