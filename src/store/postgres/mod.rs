//! `[state] backend = "postgres"`: the state a fleet of gateways shares (SPEC §12), in schema
//! `supportgate` of one PostgreSQL database. [`StateDatabase`] is the shared client every store
//! of this backend uses: the reply memory, the sender history and the pending approvals (a new
//! store adds a module here and a migration step, `migrations.rs`).
//!
//! A few connections (`[state] connections`), each opened on first use and reopened after it
//! was lost; every operation is bounded by `[state] timeout`, so a database that is down or
//! unreachable costs a message at most that long (then the caller does what it does on any
//! store error: log, count, and never hold the mail back). A slot whose connection attempt
//! failed is not tried again for [`RECONNECT_AFTER`], so while the database is down messages
//! fail fast instead of each waiting for a connection.

mod approvals;
mod migrations;
mod reply_memory;
mod sender_history;

pub use approvals::PostgresApprovalStore;
pub use migrations::{migrate, Migrated, MIGRATIONS};
pub use reply_memory::PostgresReplyMemory;
pub use sender_history::PostgresSenderHistory;

use crate::config::PostgresStateSettings;
use crate::store::state_error::StateError;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::config::SslMode;
use tokio_postgres::Client;

/// How long a slot waits after a failed connection attempt before it tries again.
pub const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The shared client of the `postgres` state backend.
pub struct StateDatabase {
    settings: PostgresStateSettings,
    slots: Vec<tokio::sync::Mutex<Slot>>,
    next: AtomicUsize,
}

#[derive(Default)]
struct Slot {
    client: Option<Arc<Client>>,
    /// After a failed attempt: not before this.
    retry_at: Option<Instant>,
}

impl StateDatabase {
    /// Connects once (a database that cannot be reached is a clear error at start), brings the
    /// schema up to date ([`migrate`]) and keeps that connection as the first of the pool.
    pub async fn open(settings: &PostgresStateSettings) -> Result<Arc<StateDatabase>, StateError> {
        let (client, migrated) = connect_and_migrate(settings).await?;
        migrated.log();
        let database = StateDatabase::unconnected(settings);
        database.slots[0].lock().await.client = Some(Arc::new(client));
        Ok(Arc::new(database))
    }

    fn unconnected(settings: &PostgresStateSettings) -> StateDatabase {
        StateDatabase {
            settings: settings.clone(),
            slots: (0..settings.connections.max(1))
                .map(|_| tokio::sync::Mutex::new(Slot::default()))
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Runs `work` with one of the pool's clients, within `[state] timeout` (the wait for a
    /// connection included).
    pub async fn with_client<T, F, Fut>(&self, work: F) -> Result<T, StateError>
    where
        F: FnOnce(Arc<Client>) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let timeout = self.settings.timeout;
        bounded(timeout, async {
            let client = self.client().await?;
            work(client).await.map_err(StateError::from)
        })
        .await
    }

    /// A live client of the next slot, connecting it if needed.
    async fn client(&self) -> Result<Arc<Client>, StateError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut slot = self.slots[index].lock().await;
        if let Some(client) = slot.client.as_ref().filter(|c| !c.is_closed()) {
            return Ok(Arc::clone(client));
        }
        slot.client = None;
        if slot.retry_at.is_some_and(|at| Instant::now() < at) {
            return Err(StateError::Unavailable(
                "not connected (reconnecting)".into(),
            ));
        }
        match connect(&self.settings).await {
            Ok(client) => {
                tracing::info!(database = %self.settings.redacted_url(), "state database: connected");
                let client = Arc::new(client);
                slot.retry_at = None;
                slot.client = Some(Arc::clone(&client));
                Ok(client)
            }
            Err(e) => {
                slot.retry_at = Some(Instant::now() + RECONNECT_AFTER);
                Err(e)
            }
        }
    }
}

/// One connection, with the schema brought up to date on it (`supportgate state migrate`, and
/// every start). Migrating may take longer than one operation: ten times `[state] timeout`.
pub async fn connect_and_migrate(
    settings: &PostgresStateSettings,
) -> Result<(Client, Migrated), StateError> {
    let mut client = bounded(settings.timeout, connect(settings)).await?;
    let migrated = bounded(settings.timeout * 10, migrate(&mut client)).await?;
    Ok((client, migrated))
}

/// `work`, or [`StateError::Timeout`] once `timeout` has passed.
async fn bounded<T>(
    timeout: Duration,
    work: impl Future<Output = Result<T, StateError>>,
) -> Result<T, StateError> {
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(StateError::Timeout(timeout)))
}

/// One connection (TLS when the URL says `sslmode=require`), driven by a task of its own.
async fn connect(settings: &PostgresStateSettings) -> Result<Client, StateError> {
    let mut config: tokio_postgres::Config = settings
        .url
        .parse()
        .map_err(|e| StateError::Unavailable(format!("{e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(settings.timeout);
    }
    config.application_name("supportgate");
    let client = if config.get_ssl_mode() == SslMode::Require {
        let tls = crate::postgres_tls::connector().map_err(StateError::Unavailable)?;
        let (client, connection) = config.connect(tls).await?;
        tokio::spawn(drive(connection));
        client
    } else {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(drive(connection));
        client
    };
    Ok(client)
}

async fn drive<F: Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(e) = connection.await {
        tracing::warn!(error = %e, "state database: connection lost");
    }
}

/// A key as PostgreSQL's `text` can hold it: the store's keys separate their parts with NUL
/// ([`crate::store::reply_memory::reply_key`]), which `text` refuses; it becomes U+001F (unit
/// separator), which no address or Message-ID that reaches a store contains.
pub(crate) fn text(key: &str) -> String {
    key.replace('\0', "\u{1f}")
}

/// Unix seconds as PostgreSQL's `bigint`.
pub(crate) fn seconds(at: u64) -> i64 {
    i64::try_from(at).unwrap_or(i64::MAX)
}

/// A `bigint` read back as Unix seconds (a negative one, never written by us, is 0).
pub(crate) fn unix(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
