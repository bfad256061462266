//! The directory in PostgreSQL (SPEC §12): the tables (or views) of `sql/directory.sql`, read
//! whole or one account at a time, and the connection's notifications on the LISTEN channel.
//! What is read becomes [`AccountEntry`]s, indexed exactly as the file's are.

use super::model::{AccountEntry, AgentEntry};
use crate::config::PostgresDirectorySettings;
use std::collections::HashMap;
use tokio::sync::mpsc;
use tokio_postgres::config::SslMode;
use tokio_postgres::{AsyncMessage, Client, IsolationLevel, Row};

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("directory database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("directory database: TLS: {0}")]
    Tls(String),
    #[error("directory database: {0}")]
    Url(String),
    #[error("directory database: {0}")]
    Failed(String),
}

const ACCOUNT_COLUMNS: &str = "id, name, language, sign_in_url, status, hosts, mailboxes, \
     helpdesk_addresses, group_addresses";

/// One connection to the directory database, listening on the configured channel.
pub struct DirectoryDatabase {
    client: Client,
    /// The payloads (account ids) of the channel's notifications; closed when the connection is.
    notifications: mpsc::UnboundedReceiver<String>,
}

impl DirectoryDatabase {
    /// Connects (with TLS when the URL says `sslmode=require`) and LISTENs on the channel
    /// before anything is read, so that no change made during a full load is missed.
    pub async fn connect(settings: &PostgresDirectorySettings) -> Result<Self, DatabaseError> {
        let config: tokio_postgres::Config = settings
            .url
            .parse()
            .map_err(|e| DatabaseError::Url(format!("{e}")))?;
        let (sender, notifications) = mpsc::unbounded_channel();
        let client = if config.get_ssl_mode() == SslMode::Require {
            let (client, connection) = config
                .connect(crate::postgres_tls::connector().map_err(DatabaseError::Tls)?)
                .await?;
            tokio::spawn(drive(connection, settings.channel.clone(), sender));
            client
        } else {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(drive(connection, settings.channel.clone(), sender));
            client
        };
        // The channel is checked by `config` to need no quoting.
        client
            .batch_execute(&format!("LISTEN {}", settings.channel))
            .await?;
        Ok(DirectoryDatabase {
            client,
            notifications,
        })
    }

    /// The next changed account id; `None` once the connection is lost.
    pub async fn next_change(&mut self) -> Option<String> {
        self.notifications.recv().await
    }

    /// A change that has already arrived, if any (to apply changes that came together at once).
    pub fn pending_change(&mut self) -> Option<String> {
        self.notifications.try_recv().ok()
    }

    /// Every account with its agents, from one snapshot of the database.
    pub async fn load_all(&mut self) -> Result<Vec<AccountEntry>, DatabaseError> {
        self.read_all().await?.assemble()
    }

    /// [`DirectoryDatabase::load_all`]'s rows, not yet made into entries: for a million agents
    /// that takes a second of CPU, which a caller on a runtime thread does in a blocking task.
    pub async fn read_all(&mut self) -> Result<Snapshot, DatabaseError> {
        let transaction = self.snapshot().await?;
        let accounts = transaction
            .query(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM supportgate.accounts ORDER BY id"),
                &[],
            )
            .await?;
        let agents = transaction
            .query(
                "SELECT account_id, name, role, emails FROM supportgate.agents \
                 ORDER BY account_id, name",
                &[],
            )
            .await?;
        transaction.commit().await?;
        Ok(Snapshot { accounts, agents })
    }

    /// One account as the database has it now (`None`: it no longer exists).
    pub async fn load_account(&mut self, id: &str) -> Result<Option<AccountEntry>, DatabaseError> {
        let transaction = self.snapshot().await?;
        let accounts = transaction
            .query(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM supportgate.accounts WHERE id = $1"),
                &[&id],
            )
            .await?;
        let agents = transaction
            .query(
                "SELECT account_id, name, role, emails FROM supportgate.agents \
                 WHERE account_id = $1 ORDER BY name",
                &[&id],
            )
            .await?;
        transaction.commit().await?;
        Ok(assemble(&accounts, &agents)?.pop())
    }

    /// A read-only transaction that sees one snapshot: accounts and agents agree.
    async fn snapshot(&mut self) -> Result<tokio_postgres::Transaction<'_>, DatabaseError> {
        Ok(self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?)
    }
}

/// The rows of one snapshot of the whole directory.
pub struct Snapshot {
    accounts: Vec<Row>,
    agents: Vec<Row>,
}

impl Snapshot {
    pub fn assemble(self) -> Result<Vec<AccountEntry>, DatabaseError> {
        assemble(&self.accounts, &self.agents)
    }
}

/// Reads the whole directory once, on a thread of its own (the CLI and `serve` call it before
/// or outside any runtime; SIGHUP from a blocking task).
pub fn load_once(settings: &PostgresDirectorySettings) -> Result<Vec<AccountEntry>, DatabaseError> {
    let settings = settings.clone();
    let load = move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DatabaseError::Failed(format!("cannot start a runtime: {e}")))?;
        runtime.block_on(async {
            let mut database = DirectoryDatabase::connect(&settings).await?;
            database.load_all().await
        })
    };
    std::thread::spawn(load)
        .join()
        .unwrap_or_else(|_| Err(DatabaseError::Failed("the load thread failed".into())))
}

/// Runs the connection: forwards the channel's notifications until it ends.
async fn drive<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
    channel: String,
    notifications: mpsc::UnboundedSender<String>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notification(n))) if n.channel() == channel => {
                if notifications.send(n.payload().to_string()).is_err() {
                    return;
                }
            }
            Some(Ok(AsyncMessage::Notice(notice))) => {
                tracing::debug!(notice = %notice, "directory database notice")
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::warn!(error = %e, "directory database: connection lost");
                return;
            }
            None => return,
        }
    }
}

/// Rows to entries: each agent joins its account; an agent whose account is not among the rows
/// (a view that disagrees with itself) is left out.
fn assemble(accounts: &[Row], agents: &[Row]) -> Result<Vec<AccountEntry>, DatabaseError> {
    let mut entries = Vec::with_capacity(accounts.len());
    let mut by_id = HashMap::with_capacity(accounts.len());
    for row in accounts {
        let entry = account_entry(row)?;
        by_id.insert(entry.id.clone(), entries.len());
        entries.push(entry);
    }
    for row in agents {
        let account: String = row.try_get("account_id")?;
        let agent = AgentEntry {
            name: row.try_get("name")?,
            role: row.try_get("role")?,
            emails: texts(row, "emails")?,
        };
        if let Some(&index) = by_id.get(&account) {
            entries[index].agent.push(agent);
        }
    }
    Ok(entries)
}

fn account_entry(row: &Row) -> Result<AccountEntry, DatabaseError> {
    Ok(AccountEntry {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        language: row.try_get("language")?,
        sign_in_url: row.try_get("sign_in_url")?,
        // `active`, `suspended` or `closed`, checked as the file's (`directory lint`).
        status: row.try_get("status")?,
        hosts: texts(row, "hosts")?,
        mailboxes: texts(row, "mailboxes")?,
        helpdesk_addresses: texts(row, "helpdesk_addresses")?,
        group_addresses: texts(row, "group_addresses")?,
        agent: Vec::new(),
    })
}

/// A text array; a NULL array or NULL elements (a view's outer join) count as absent.
fn texts(row: &Row, column: &str) -> Result<Vec<String>, DatabaseError> {
    let values: Option<Vec<Option<String>>> = row.try_get(column)?;
    Ok(values.into_iter().flatten().flatten().collect())
}
