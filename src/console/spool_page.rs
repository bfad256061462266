//! The spool page: what waits for delivery (tickets, auto-replies, notifications, releases),
//! with its attempts and last answer, and "attempt now". The one console file that reads the
//! spool, and only through what `supportgate queue list|show|flush` uses (`Spool::list`,
//! `Spool::entry`, and a flush of the spool delivery), so a new spool storage changes here
//! alone.

use super::render::{shown, when};
use super::visitor::{CheckedForm, Visitor};
use super::ConsoleState;
use crate::store::spool::{Spool, SpoolEntry, SpoolError};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use minijinja::context;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    purpose: &'static str,
    received: String,
    recipients: String,
    subject: String,
    attempts: u32,
    next_attempt: String,
    last_answer: String,
}

impl Row {
    fn of(entry: &SpoolEntry) -> Row {
        Row {
            id: entry.id.clone(),
            purpose: entry.purpose.as_str(),
            received: when(entry.received_at),
            recipients: shown(&entry.recipients.join(", ")),
            subject: shown(entry.subject.as_deref().unwrap_or("")),
            attempts: entry.attempts,
            next_attempt: when(entry.next_attempt),
            last_answer: shown(entry.last_answer.as_deref().unwrap_or("")),
        }
    }
}

fn spool(state: &ConsoleState) -> Spool {
    Spool::new(&state.config.spool.path)
}

pub async fn page(
    State(state): State<Arc<ConsoleState>>,
    Extension(visitor): Extension<Visitor>,
    RawQuery(query): RawQuery,
) -> Response {
    let spool = spool(&state);
    let Some(entries) = state.read("spool", move || spool.list()).await else {
        return state
            .pages
            .error(StatusCode::INTERNAL_SERVER_ERROR, &visitor, "error");
    };
    let rows: Vec<Row> = entries.iter().map(Row::of).collect();
    let flushed = query.as_deref().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "flushed")
            .map(|(_, v)| shown(&v))
    });
    state.pages.render(
        StatusCode::OK,
        "spool.html",
        &visitor,
        context! { entries => rows, flushed, show_sign_out => state.shows_sign_out() },
    )
}

/// "Attempt now" for one waiting message: the spool delivery attempts what is waiting at once,
/// whatever its retry time (as `queue flush`), this message among them.
pub async fn flush(State(state): State<Arc<ConsoleState>>, form: CheckedForm) -> Response {
    let Some(id) = form.get("id").map(str::to_string) else {
        return state
            .pages
            .error(StatusCode::BAD_REQUEST, &form.visitor, "bad_request");
    };
    let spool = spool(&state);
    let lookup = id.clone();
    let found = tokio::task::spawn_blocking(move || spool.entry(&lookup)).await;
    let user = form.visitor.name().to_string();
    let client = form.visitor.client;
    let outcome = match &found {
        Ok(Ok(_)) => "ok".to_string(),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    let worker = Arc::clone(&state);
    let audited = id.clone();
    let _ = tokio::task::spawn_blocking(move || {
        worker.audit(&user, client, "flush", Some(&audited), &outcome)
    })
    .await;
    match found {
        Ok(Ok(_)) => {
            state.actor.flush_spool();
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("flushed", &id)
                .finish();
            Redirect::to(&format!("/spool?{query}")).into_response()
        }
        Ok(Err(SpoolError::NotFound(_) | SpoolError::BadId(_))) => {
            state
                .pages
                .error(StatusCode::NOT_FOUND, &form.visitor, "not_found")
        }
        _ => state
            .pages
            .error(StatusCode::INTERNAL_SERVER_ERROR, &form.visitor, "error"),
    }
}
