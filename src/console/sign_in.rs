//! Signing in and out with a name and password from the users file. Failed attempts are
//! counted per user name and per client address ([`super::rate_limit`]); past the limit the
//! attempt is refused before the password is even checked. A successful sign-in starts a new
//! session (new token, new CSRF token). With a trusted SSO header there is no form.

use super::visitor::{CheckedForm, Visitor};
use super::ConsoleState;
use crate::config::ConsoleSignIn;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use minijinja::context;
use std::sync::Arc;
use std::time::Instant;

pub async fn form(
    State(state): State<Arc<ConsoleState>>,
    Extension(visitor): Extension<Visitor>,
) -> Response {
    if visitor.user.is_some() {
        return Redirect::to("/quarantine").into_response();
    }
    state.pages.render(
        StatusCode::OK,
        "sign_in.html",
        &visitor,
        context! { sso => matches!(state.settings.sign_in, ConsoleSignIn::TrustedHeader(_)) },
    )
}

pub async fn submit(State(state): State<Arc<ConsoleState>>, form: CheckedForm) -> Response {
    let ConsoleSignIn::Users(users) = &state.settings.sign_in else {
        return Redirect::to("/quarantine").into_response();
    };
    let visitor = form.visitor.clone();
    let name = form.get("username").unwrap_or("").trim().to_string();
    let password = form.get("password").unwrap_or("").to_string();
    let user_key = format!("user:{}", name.to_lowercase());
    let ip_key = format!("ip:{}", visitor.client);
    let now = Instant::now();
    let refuse = |status, problem: &str| {
        state.pages.render(
            status,
            "sign_in.html",
            &visitor,
            context! { problem, username => super::render::shown(&name) },
        )
    };
    let audited_name = super::render::shown(&name);
    if state.failed.is_limited(&user_key, now) || state.failed.is_limited(&ip_key, now) {
        state
            .audit_async(
                audited_name,
                visitor.client,
                "sign-in-refused",
                None,
                "too many failed sign-ins",
            )
            .await;
        return refuse(StatusCode::TOO_MANY_REQUESTS, "sign_in_limited");
    }
    let path = users.clone();
    let checked_name = name.clone();
    let ok = state
        .read("users file", move || {
            super::users::verify(&path, &checked_name, &password)
        })
        .await
        .unwrap_or(false);
    if !ok {
        state.failed.record_failure(&user_key, now);
        state.failed.record_failure(&ip_key, now);
        state
            .audit_async(
                audited_name,
                visitor.client,
                "sign-in-failed",
                None,
                "wrong user name or password",
            )
            .await;
        return refuse(StatusCode::UNAUTHORIZED, "sign_in_failed");
    }
    state.failed.forget(&user_key);
    state.sessions.remove(&visitor.token);
    let (token, _) = state.sessions.create(Some(name.clone()));
    state
        .audit_async(name, visitor.client, "sign-in", None, "ok")
        .await;
    let mut response = Redirect::to("/quarantine").into_response();
    let cookie = super::session::cookie(&token, state.settings.secure_cookies());
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

pub async fn sign_out(State(state): State<Arc<ConsoleState>>, form: CheckedForm) -> Response {
    state.sessions.remove(&form.visitor.token);
    state
        .audit_async(
            form.visitor.name().to_string(),
            form.visitor.client,
            "sign-out",
            None,
            "ok",
        )
        .await;
    let mut response = Redirect::to("/sign-in").into_response();
    let expired = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        super::session::COOKIE,
        if state.settings.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    );
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
