//! Who is asking: every request passes through [`resolve`], which finds (or starts) the
//! session, signs in from the trusted SSO header when configured, picks the language, sends
//! anyone not signed in to the sign-in page, and adds the security headers to every answer.
//! Every POST reads its body through [`CheckedForm`], which refuses a missing or wrong CSRF
//! token: no handler can forget the check.

use super::i18n::{self, Language};
use super::session::{self, same_token};
use super::ConsoleState;
use crate::config::ConsoleSignIn;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The visitor of one request, as the pages see it.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// Signed in as; `None` only on the sign-in page and the assets.
    pub user: Option<String>,
    pub token: String,
    pub csrf: String,
    pub language: Language,
    pub client: IpAddr,
}

impl Visitor {
    /// The signed-in user's name (pages behind sign-in only).
    pub fn name(&self) -> &str {
        self.user.as_deref().unwrap_or("")
    }
}

/// Paths open without signing in.
fn is_public(path: &str) -> bool {
    path == "/sign-in" || path.starts_with("/assets/")
}

pub async fn resolve(
    State(state): State<Arc<ConsoleState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let cookies = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let existing = session::cookie_value(cookies, session::COOKIE)
        .and_then(|token| state.sessions.get(token).map(|s| (token.to_string(), s)));
    let switch = request.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "lang")
            .and_then(|(_, v)| Language::from_code(&v))
    });
    let language = switch
        .or_else(|| session::cookie_value(cookies, i18n::COOKIE).and_then(Language::from_code))
        .unwrap_or_else(|| {
            Language::from_accept_language(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
            )
        });
    let mut new_session = None;
    let (token, session) = match (&state.settings.sign_in, existing) {
        (ConsoleSignIn::TrustedHeader(name), existing) => {
            let Some(user) = headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|u| super::users::valid_name(u))
            else {
                return secured(
                    &state,
                    (
                        StatusCode::UNAUTHORIZED,
                        "no user named by the sign-on proxy\n",
                    )
                        .into_response(),
                );
            };
            match existing {
                Some((token, s)) if s.user.as_deref() == Some(user) => (token, s),
                _ => {
                    let created = state.sessions.create(Some(user.to_string()));
                    new_session = Some(created.0.clone());
                    created
                }
            }
        }
        (ConsoleSignIn::Users(_), Some(existing)) => existing,
        (ConsoleSignIn::Users(_), None) => {
            let created = state.sessions.create(None);
            new_session = Some(created.0.clone());
            created
        }
    };
    let path = request.uri().path().to_string();
    let visitor = Visitor {
        user: session.user.clone(),
        token,
        csrf: session.csrf.clone(),
        language,
        client: peer.ip(),
    };
    let mut response = if visitor.user.is_none() && !is_public(&path) {
        Redirect::to("/sign-in").into_response()
    } else {
        request.extensions_mut().insert(visitor);
        next.run(request).await
    };
    let headers = response.headers_mut();
    if let Some(token) = new_session {
        let cookie = session::cookie(&token, state.settings.secure_cookies());
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    if let Some(language) = switch {
        let cookie = format!(
            "{}={}; Path=/; SameSite=Strict; Max-Age=31536000{}",
            i18n::COOKIE,
            language.code(),
            if state.settings.secure_cookies() {
                "; Secure"
            } else {
                ""
            }
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    secured(&state, response)
}

/// The headers every answer carries.
fn secured(_state: &ConsoleState, mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        "content-security-policy",
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    );
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "referrer-policy", "no-referrer");
    set(headers, "x-frame-options", "DENY");
    set(headers, "cache-control", "no-store");
    response
}

/// A POST body (`application/x-www-form-urlencoded`) whose `csrf` field matched the session's.
pub struct CheckedForm {
    pub visitor: Visitor,
    pairs: Vec<(String, String)>,
}

impl CheckedForm {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (checkboxes), in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Bodies larger than this are refused (a form holds ids and a token).
const MAX_FORM: usize = 64 * 1024;

impl<S: Send + Sync> FromRequest<S> for CheckedForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let Some(visitor) = request.extensions().get::<Visitor>().cloned() else {
            return Err(StatusCode::FORBIDDEN.into_response());
        };
        let language = visitor.language;
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if body.len() > MAX_FORM {
            return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response());
        }
        let pairs: Vec<(String, String)> = form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let sent = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v);
        if !sent.is_some_and(|token| same_token(token, &visitor.csrf)) {
            tracing::warn!(target: "supportgate::console", client = %visitor.client, "console: POST refused: missing or wrong CSRF token");
            let message = language.strings().get("csrf_failed").copied().unwrap_or("");
            return Err((StatusCode::FORBIDDEN, format!("{message}\n")).into_response());
        }
        Ok(CheckedForm { visitor, pairs })
    }
}
