//! The pages' HTML: minijinja templates embedded in the binary, auto-escaped (every name ends
//! in `.html`), so every string that came from a message is escaped by the engine. Text from
//! a message also goes through [`shown`] first: control characters become visible escapes
//! (`\x1b`, `\r\n`), as on the command line.

use super::visitor::Visitor;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::{context, Environment, Value};

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("sign_in.html", include_str!("templates/sign_in.html")),
    ("quarantine.html", include_str!("templates/quarantine.html")),
    ("message.html", include_str!("templates/message.html")),
    ("confirm.html", include_str!("templates/confirm.html")),
    ("results.html", include_str!("templates/results.html")),
    ("approvals.html", include_str!("templates/approvals.html")),
    (
        "approval_confirm.html",
        include_str!("templates/approval_confirm.html"),
    ),
    ("spool.html", include_str!("templates/spool.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("error.html", include_str!("templates/error.html")),
];

pub struct Pages {
    env: Environment<'static>,
}

/// Message-derived text as a person may see it: one line, controls escaped.
pub fn shown(text: &str) -> String {
    crate::printable::one_line(text).into_owned()
}

/// Unix seconds as `2026-12-01 12:00:00 UTC`.
pub fn when(unix: u64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    i64::try_from(unix)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| unix.to_string())
}

impl Pages {
    pub fn new() -> Result<Pages, String> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| format!("console template {name}: {e}"))?;
        }
        Ok(Pages { env })
    }

    /// Renders `name` for `visitor` with the page's own values `page`.
    pub fn render(
        &self,
        status: StatusCode,
        name: &str,
        visitor: &Visitor,
        page: Value,
    ) -> Response {
        let ctx = context! {
            t => visitor.language.strings(),
            lang => visitor.language.code(),
            user => visitor.user.clone(),
            csrf => visitor.csrf.clone(),
            ..page
        };
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(target: "supportgate::console", template = name, error = %e, "console: page not rendered");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "page not rendered; the log says why\n",
                )
                    .into_response()
            }
        }
    }

    /// A short page that says what went wrong (`key`: a string of [`super::i18n`]).
    pub fn error(&self, status: StatusCode, visitor: &Visitor, key: &str) -> Response {
        self.render(status, "error.html", visitor, context! { key => key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_times_read() {
        assert!(Pages::new().is_ok());
        assert_eq!(when(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(shown("a\u{1b}[31m\r\nb"), "a\\x1b[31m\\r\\nb");
    }
}
