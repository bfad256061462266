//! The quarantine page: kept messages newest first, filtered by reason, account, sender, date
//! and a Subject search, 50 to a page, with the counts per reason of the last 14 days drawn as
//! a bar chart (inline SVG, drawn by the server).

use super::render::{shown, when};
use super::visitor::Visitor;
use super::ConsoleState;
use crate::store::quarantine::QuarantineRecord;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use minijinja::context;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const PAGE_SIZE: usize = 50;
const CHART_DAYS: u64 = 14;
const DAY: u64 = 86_400;

/// The filters as the query string gives them (`?reason=…&account=…&sender=…&from=YYYY-MM-DD
/// &to=YYYY-MM-DD&q=…&page=N`); empty means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filters {
    pub reason: String,
    pub account: String,
    pub sender: String,
    pub from: String,
    pub to: String,
    pub q: String,
}

impl Filters {
    pub fn parse(query: &str) -> (Filters, usize) {
        let mut filters = Filters::default();
        let mut page = 1;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim().chars().take(200).collect::<String>();
            match key.as_ref() {
                "reason" => filters.reason = value,
                "account" => filters.account = value,
                "sender" => filters.sender = value,
                "from" => filters.from = value,
                "to" => filters.to = value,
                "q" => filters.q = value,
                "page" => page = value.parse().unwrap_or(1).max(1),
                _ => {}
            }
        }
        (filters, page)
    }

    /// The query string of these filters at `page`.
    fn query(&self, page: usize) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("reason", &self.reason),
            ("account", &self.account),
            ("sender", &self.sender),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ] {
            if !value.is_empty() {
                out.append_pair(key, value);
            }
        }
        out.append_pair("page", &page.to_string());
        out.finish()
    }

    pub fn keeps(&self, record: &QuarantineRecord) -> bool {
        let contains = |haystack: Option<&str>, needle: &str| {
            haystack.is_some_and(|h| h.to_lowercase().contains(&needle.to_lowercase()))
        };
        let from = day_start(&self.from);
        let to = day_start(&self.to).map(|t| t + DAY);
        (self.reason.is_empty() || record.decision.reason == self.reason)
            && (self.account.is_empty()
                || record
                    .decision
                    .account
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case(&self.account)))
            && (self.sender.is_empty()
                || contains(Some(&record.mail_from), &self.sender)
                || contains(record.from_header.as_deref(), &self.sender))
            && (self.q.is_empty() || contains(record.subject.as_deref(), &self.q))
            && from.is_none_or(|f| record.received_at >= f)
            && to.is_none_or(|t| record.received_at < t)
    }
}

/// `YYYY-MM-DD` as the Unix time of that day's start (UTC).
fn day_start(date: &str) -> Option<u64> {
    let mut parts = date.splitn(3, '-').map(str::parse::<i32>);
    let (Some(Ok(year)), Some(Ok(month)), Some(Ok(day))) =
        (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let day = time::Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    u64::try_from(day.midnight().assume_utc().unix_timestamp()).ok()
}

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    received: String,
    reason: String,
    account: String,
    from: String,
    subject: String,
    released_by: Option<String>,
}

impl Row {
    fn of(record: &QuarantineRecord) -> Row {
        Row {
            id: record.id.clone(),
            received: when(record.received_at),
            reason: shown(&record.decision.reason),
            account: shown(record.decision.account.as_deref().unwrap_or("")),
            from: shown(
                record
                    .from_header
                    .as_deref()
                    .unwrap_or(record.mail_from.as_str()),
            ),
            subject: shown(record.subject.as_deref().unwrap_or("")),
            released_by: record.released.as_ref().map(|r| shown(&r.by)),
        }
    }
}

#[derive(Debug, Serialize)]
struct Bar {
    reason: String,
    count: usize,
    width: usize,
    y: usize,
}

#[derive(Debug, Serialize)]
struct Chart {
    rows: Vec<Bar>,
    height: usize,
}

/// Messages received in the last 14 days, per reason, as bars up to 300 px wide.
fn chart(records: &[QuarantineRecord], now: u64) -> Chart {
    let since = now.saturating_sub(CHART_DAYS * DAY);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for record in records.iter().filter(|r| r.received_at >= since) {
        *counts.entry(record.decision.reason.as_str()).or_default() += 1;
    }
    let max = counts.values().copied().max().unwrap_or(1);
    let rows: Vec<Bar> = counts
        .into_iter()
        .enumerate()
        .map(|(i, (reason, count))| Bar {
            reason: shown(reason),
            count,
            width: (count * 300).div_ceil(max),
            y: i * 20,
        })
        .collect();
    Chart {
        height: rows.len() * 20 + 4,
        rows,
    }
}

pub async fn page(
    State(state): State<Arc<ConsoleState>>,
    Extension(visitor): Extension<Visitor>,
    RawQuery(query): RawQuery,
) -> Response {
    let (filters, page) = Filters::parse(query.as_deref().unwrap_or(""));
    let (records, damaged) = match state.kept_messages().await {
        Ok(listed) => listed,
        Err(e) => {
            tracing::error!(target: "supportgate::console", error = %e, "console: quarantine not readable");
            return state
                .pages
                .error(StatusCode::INTERNAL_SERVER_ERROR, &visitor, "error");
        }
    };
    let chart = chart(&records, crate::act::unix_now());
    let matching: Vec<&QuarantineRecord> =
        records.iter().rev().filter(|r| filters.keeps(r)).collect();
    let pages = matching.len().div_ceil(PAGE_SIZE).max(1);
    let page = page.min(pages);
    let rows: Vec<Row> = matching
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|r| Row::of(r))
        .collect();
    let reasons: Vec<&str> = crate::policy::Reason::ALL
        .iter()
        .map(|r| r.code())
        .collect();
    state.pages.render(
        StatusCode::OK,
        "quarantine.html",
        &visitor,
        context! {
            chart, rows, reasons, damaged, page, pages,
            total => matching.len(),
            previous => (page > 1).then(|| filters.query(page - 1)),
            next => (page < pages).then(|| filters.query(page + 1)),
            filters,
            show_sign_out => state.shows_sign_out(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_round_trip_and_dates() {
        let (filters, page) =
            Filters::parse("reason=not-registered&q=Hello+World&from=2025-01-06&page=3");
        assert_eq!(page, 3);
        assert_eq!(filters.q, "Hello World");
        assert_eq!(Filters::parse(&filters.query(3)), (filters.clone(), 3));
        assert_eq!(day_start("1970-01-02"), Some(DAY));
        assert_eq!(day_start("garbage"), None);
        assert_eq!(Filters::parse("page=0").1, 1);
        assert_eq!(Filters::parse("page=x").1, 1);
    }
}
