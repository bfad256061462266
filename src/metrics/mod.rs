//! Prometheus metrics (SPEC §7), with `prometheus-client`: one [`Metrics`] registry shared by
//! the gateway (decisions, replies, transports, authentication, latency), the SMTP layer
//! (through [`crate::smtp::SessionEvents`], so `smtp/` stays free of Prometheus types) and
//! the reload task. [`http`] serves it as text on `[metrics] listen`.
//!
//! Names follow Prometheus conventions: counters end in `_total`, durations are in seconds.

pub mod http;

use crate::smtp::{LimitKind, SessionEvents};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    verdict: &'static str,
    reason: &'static str,
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabel {
    cause: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabel {
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabel {
    store: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabels {
    transport: &'static str,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthLabels {
    method: &'static str,
    result: &'static str,
}

/// Which transport failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportRole {
    /// The ticket queue (`[queue] target`).
    Queue,
    /// Auto-replies and owner/admin notifications (`[replies] transport`).
    Replies,
    /// The spool's disk: a write refused (ENOSPC, EROFS, EACCES...).
    Spool,
}

/// Every metric of the process. Cheap to update from any thread.
pub struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    auto_replies: Family<ResultLabel, Counter>,
    auto_replies_suppressed: Family<CauseLabel, Counter>,
    smtp_replies: Family<ClassLabel, Counter>,
    sessions_open: Gauge,
    sessions: Counter,
    limit_hits: Family<KindLabel, Counter>,
    transport_errors: Family<TransportLabels, Counter>,
    authentication: Family<AuthLabels, Counter>,
    decision_seconds: Histogram,
    message_seconds: Histogram,
    quarantine_messages: Gauge,
    reply_memory_entries: Gauge,
    blocked_senders: Gauge,
    approvals_pending: Gauge,
    approvals: Family<ResultLabel, Counter>,
    state_errors: Family<StoreLabel, Counter>,
    reloads: Family<ResultLabel, Counter>,
    directory_source_up: Gauge,
    quarantine_purged: Counter,
    spool_messages: Gauge,
    spool_oldest_age: Gauge,
    spool_deliveries: Family<ResultLabel, Counter>,
    spool_syncs: Counter,
    spool_sync_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    spool_stored: Counter,
    spool: std::sync::RwLock<Option<std::sync::Arc<crate::store::spool::LiveSpool>>>,
    quarantine_root: std::sync::RwLock<Option<PathBuf>>,
    reply_memory:
        std::sync::RwLock<Option<std::sync::Arc<dyn crate::store::reply_memory::ReplyMemory>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Histogram buckets from 1 ms to 60 s: a decision takes microseconds to milliseconds, a
/// message with an SMTP upstream or a pipe command up to its timeout.
fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ]
    .into_iter()
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("supportgate");
        let m = Metrics {
            decisions: Family::default(),
            auto_replies: Family::default(),
            auto_replies_suppressed: Family::default(),
            smtp_replies: Family::default(),
            sessions_open: Gauge::default(),
            sessions: Counter::default(),
            limit_hits: Family::default(),
            transport_errors: Family::default(),
            authentication: Family::default(),
            decision_seconds: Histogram::new(latency_buckets()),
            message_seconds: Histogram::new(latency_buckets()),
            quarantine_messages: Gauge::default(),
            reply_memory_entries: Gauge::default(),
            blocked_senders: Gauge::default(),
            approvals_pending: Gauge::default(),
            approvals: Family::default(),
            state_errors: Family::default(),
            reloads: Family::default(),
            directory_source_up: Gauge::default(),
            quarantine_purged: Counter::default(),
            spool_messages: Gauge::default(),
            spool_oldest_age: Gauge::default(),
            spool_deliveries: Family::default(),
            spool_syncs: Counter::default(),
            spool_sync_seconds: Counter::default(),
            spool_stored: Counter::default(),
            spool: std::sync::RwLock::new(None),
            quarantine_root: std::sync::RwLock::new(None),
            reply_memory: std::sync::RwLock::new(None),
            registry: Registry::default(),
        };
        registry.register(
            "build",
            "Version of the running binary",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register(
            "decisions",
            "Decisions, one per message and account concerned, by verdict, reason code and action taken",
            m.decisions.clone(),
        );
        registry.register(
            "auto_replies",
            "Auto-replies by result: queued (at the decision), sent or failed (when the spool delivers or gives up)",
            m.auto_replies.clone(),
        );
        registry.register(
            "auto_replies_suppressed",
            "Auto-replies not sent, by cause (SPEC §5 suppression rules)",
            m.auto_replies_suppressed.clone(),
        );
        registry.register(
            "smtp_replies",
            "SMTP replies sent to clients, by code class (2xx, 3xx, 4xx, 5xx)",
            m.smtp_replies.clone(),
        );
        registry.register(
            "smtp_sessions_open",
            "SMTP sessions in progress",
            m.sessions_open.clone(),
        );
        registry.register(
            "smtp_sessions",
            "SMTP sessions admitted since start",
            m.sessions.clone(),
        );
        registry.register(
            "smtp_limit_hits",
            "Session limits hit, by kind",
            m.limit_hits.clone(),
        );
        registry.register(
            "transport_errors",
            "Delivery failures, by transport (queue, replies) and kind (temporary, permanent)",
            m.transport_errors.clone(),
        );
        registry.register(
            "authentication_results",
            "Authentication results of decided messages, by method (spf, dkim, dmarc) and result",
            m.authentication.clone(),
        );
        registry.register_with_unit(
            "decision_duration",
            "Time to parse, authenticate and decide one message for one account",
            Unit::Seconds,
            m.decision_seconds.clone(),
        );
        registry.register_with_unit(
            "message_duration",
            "Time from the end of DATA to the final reply (decide and act, all accounts)",
            Unit::Seconds,
            m.message_seconds.clone(),
        );
        registry.register(
            "quarantine_messages",
            "Messages in the quarantine (counted at scrape time)",
            m.quarantine_messages.clone(),
        );
        registry.register(
            "reply_memory_entries",
            "Addresses and reasons remembered by the reply memory (counted at scrape time; pruned hourly)",
            m.reply_memory_entries.clone(),
        );
        registry.register(
            "blocked_senders",
            "Senders held back by a mail-loop block (SPEC §10 mail-loop)",
            m.blocked_senders.clone(),
        );
        registry.register(
            "approvals_pending",
            "Requests held for the owner's or an admin's approval (SPEC §11)",
            m.approvals_pending.clone(),
        );
        registry.register(
            "approvals",
            "Approval events: held, approved, declined, expired, no-longer-pending, ignored",
            m.approvals.clone(),
        );
        registry.register(
            "state_errors",
            "State store operations that failed ([state]: the database down, a timeout, a file unreadable), by store (reply_memory, sender_history); the message went on without it",
            m.state_errors.clone(),
        );
        registry.register(
            "config_reloads",
            "Configuration reloads on SIGHUP, by result (success, failure)",
            m.reloads.clone(),
        );
        registry.register(
            "directory_source_up",
            "1 while the directory source is readable (always for a file; for PostgreSQL, while connected)",
            m.directory_source_up.clone(),
        );
        registry.register(
            "quarantine_purged",
            "Quarantined messages purged after [quarantine] retention",
            m.quarantine_purged.clone(),
        );
        registry.register(
            "spool_messages",
            "Messages waiting in the spool (tickets, replies, notifications, releases; at scrape time)",
            m.spool_messages.clone(),
        );
        registry.register_with_unit(
            "spool_oldest_message_age",
            "Age of the oldest message waiting in the spool (0 when it is empty; at scrape time)",
            Unit::Seconds,
            m.spool_oldest_age.clone(),
        );
        registry.register(
            "spool_deliveries",
            "Spool delivery attempts by result (delivered, deferred, quarantined, failed)",
            m.spool_deliveries.clone(),
        );
        registry.register(
            "spool_syncs",
            "Batches the spool writer wrote and fdatasync'd (group commit: stored / syncs is the messages per fsync)",
            m.spool_syncs.clone(),
        );
        registry.register_with_unit(
            "spool_sync",
            "Time the spool writer spent writing and fdatasyncing its batches (/ syncs: the disk's latency)",
            Unit::Seconds,
            m.spool_sync_seconds.clone(),
        );
        registry.register(
            "spool_stored",
            "Messages the spool made durable (each one's 250 followed)",
            m.spool_stored.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The spool counted into `supportgate_spool_messages` and its oldest message's age at
    /// each scrape (from memory: no file is read).
    pub fn watch_spool(&self, spool: std::sync::Arc<crate::store::spool::LiveSpool>) {
        if let Ok(mut slot) = self.spool.write() {
            *slot = Some(spool);
        }
    }

    /// One spool delivery attempt's result.
    pub fn spool_delivery(&self, result: &'static str) {
        self.spool_deliveries
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// The quarantine folder counted into `supportgate_quarantine_messages` at each scrape.
    pub fn watch_quarantine(&self, root: PathBuf) {
        if let Ok(mut slot) = self.quarantine_root.write() {
            *slot = Some(root);
        }
    }

    /// The reply memory counted into `supportgate_reply_memory_entries` at each scrape.
    pub fn watch_reply_memory(
        &self,
        memory: std::sync::Arc<dyn crate::store::reply_memory::ReplyMemory>,
    ) {
        if let Ok(mut slot) = self.reply_memory.write() {
            *slot = Some(memory);
        }
    }

    /// Counts the watched reply memory (at each scrape, before [`Metrics::render`]): a store
    /// that does not answer within `bound` leaves the gauge as it was.
    pub async fn count_reply_memory(&self, bound: Duration) {
        let memory = self.reply_memory.read().ok().and_then(|m| m.clone());
        if let Some(memory) = memory {
            if let Ok(Ok(entries)) = tokio::time::timeout(bound, memory.entries()).await {
                self.reply_memory_size(entries);
            }
        }
    }

    /// The text exposition (OpenMetrics text, which Prometheus reads).
    pub fn render(&self) -> String {
        // The write lock: two scrapes at once must not both add the writer's progress.
        if let Ok(slot) = self.spool.write() {
            if let Some(spool) = slot.as_ref() {
                let (waiting, oldest) = spool.backlog();
                let age = oldest.map_or(0, |at| crate::act::unix_now().saturating_sub(at));
                self.spool_messages
                    .set(i64::try_from(waiting).unwrap_or(i64::MAX));
                self.spool_oldest_age
                    .set(i64::try_from(age).unwrap_or(i64::MAX));
                let writer = spool.writer_stats();
                self.spool_syncs
                    .inc_by(writer.syncs().saturating_sub(self.spool_syncs.get()));
                self.spool_stored
                    .inc_by(writer.stored().saturating_sub(self.spool_stored.get()));
                let seconds = writer.sync_seconds() - self.spool_sync_seconds.get();
                if seconds > 0.0 {
                    self.spool_sync_seconds.inc_by(seconds);
                }
            }
        }
        let root = self.quarantine_root.read().ok().and_then(|r| r.clone());
        if let Some(root) = root {
            let count = crate::store::quarantine::Quarantine::new(root).count();
            self.quarantine_messages
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    pub fn decision(&self, verdict: &'static str, reason: &'static str, action: &'static str) {
        self.decisions
            .get_or_create(&DecisionLabels {
                verdict,
                reason,
                action,
            })
            .inc();
    }

    /// An auto-reply's fate: `queued` (at the decision), then `sent` or `failed` (when the
    /// spool delivers it or gives up), or `suppressed:<why>`; `failed: <why>` counts as
    /// `failed`, anything else (`none`) is not counted.
    pub fn auto_reply(&self, outcome: &str) {
        match outcome {
            "queued" | "sent" => self
                .auto_replies
                .get_or_create(&ResultLabel {
                    result: if outcome == "sent" { "sent" } else { "queued" },
                })
                .inc(),
            failed if failed.starts_with("failed") => self
                .auto_replies
                .get_or_create(&ResultLabel { result: "failed" })
                .inc(),
            other => match other.strip_prefix("suppressed:") {
                Some(cause) => self
                    .auto_replies_suppressed
                    .get_or_create(&CauseLabel {
                        cause: cause.to_string(),
                    })
                    .inc(),
                None => 0,
            },
        };
    }

    pub fn directory_source_up(&self, up: bool) {
        self.directory_source_up.set(i64::from(up));
    }

    /// The reply memory's size, after pruning.
    pub fn reply_memory_size(&self, entries: u64) {
        self.reply_memory_entries
            .set(i64::try_from(entries).unwrap_or(i64::MAX));
    }

    /// Requests pending approval now.
    pub fn approvals_pending(&self, pending: u64) {
        self.approvals_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// One approval event (`held`, `approved`, `declined`, `expired`, `no-longer-pending`,
    /// `ignored`).
    pub fn approval(&self, result: &'static str) {
        self.approvals.get_or_create(&ResultLabel { result }).inc();
    }

    /// A state store operation failed (`store`: `reply_memory`, `sender_history`).
    pub fn state_error(&self, store: &'static str) {
        self.state_errors.get_or_create(&StoreLabel { store }).inc();
    }

    /// Senders held back by a `mail-loop` block now.
    pub fn blocked_senders(&self, blocked: u64) {
        self.blocked_senders
            .set(i64::try_from(blocked).unwrap_or(i64::MAX));
    }

    pub fn transport_error(&self, transport: TransportRole, permanent: bool) {
        let labels = TransportLabels {
            transport: match transport {
                TransportRole::Queue => "queue",
                TransportRole::Replies => "replies",
                TransportRole::Spool => "spool",
            },
            kind: if permanent { "permanent" } else { "temporary" },
        };
        self.transport_errors.get_or_create(&labels).inc();
    }

    pub fn authentication(&self, method: &'static str, result: &'static str) {
        self.authentication
            .get_or_create(&AuthLabels { method, result })
            .inc();
    }

    pub fn decision_time(&self, took: Duration) {
        self.decision_seconds.observe(took.as_secs_f64());
    }

    pub fn message_time(&self, took: Duration) {
        self.message_seconds.observe(took.as_secs_f64());
    }

    pub fn quarantine_purged(&self, removed: usize) {
        self.quarantine_purged.inc_by(removed as u64);
    }

    pub fn reload(&self, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.reloads.get_or_create(&ResultLabel { result }).inc();
    }
}

impl SessionEvents for Metrics {
    fn session_opened(&self) {
        self.sessions.inc();
        self.sessions_open.inc();
    }

    fn session_closed(&self) {
        self.sessions_open.dec();
    }

    fn limit_hit(&self, kind: LimitKind) {
        self.limit_hits
            .get_or_create(&KindLabel {
                kind: kind.as_str(),
            })
            .inc();
    }

    fn reply_sent(&self, code: u16) {
        let class = match code / 100 {
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            5 => "5xx",
            _ => "other",
        };
        self.smtp_replies.get_or_create(&ClassLabel { class }).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let m = Metrics::new();
        m.decision("refuse", "not-registered", "reply");
        m.auto_reply("suppressed:already-replied");
        m.reply_sent(250);
        m.limit_hit(LimitKind::MessageSize);
        m.transport_error(TransportRole::Queue, false);
        m.decision_time(Duration::from_millis(3));
        m.reload(false);
        let text = m.render();
        for line in [
            "supportgate_build_info{version=\"",
            "supportgate_decisions_total{verdict=\"refuse\",reason=\"not-registered\",action=\"reply\"} 1",
            "supportgate_auto_replies_suppressed_total{cause=\"already-replied\"} 1",
            "supportgate_smtp_replies_total{class=\"2xx\"} 1",
            "supportgate_smtp_limit_hits_total{kind=\"message-size\"} 1",
            "supportgate_transport_errors_total{transport=\"queue\",kind=\"temporary\"} 1",
            "supportgate_decision_duration_seconds_count 1",
            "supportgate_config_reloads_total{result=\"failure\"} 1",
            "supportgate_smtp_sessions_open 0",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
    }

    #[test]
    fn a_closed_session_leaves_the_open_gauge() {
        let m = Metrics::new();
        m.session_opened();
        m.session_opened();
        m.session_closed();
        let text = m.render();
        assert!(text.contains("supportgate_smtp_sessions_open 1"), "{text}");
        assert!(text.contains("supportgate_smtp_sessions_total 2"), "{text}");
    }
}
