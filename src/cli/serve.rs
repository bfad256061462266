//! `supportgate serve`: the SMTP gateway. Stops on SIGTERM or SIGINT (finishing sessions
//! within `[server] shutdown_grace`); re-reads configuration, directory, templates and the TLS
//! certificate on SIGHUP (`reload`; listeners, limits, transports, the quarantine folder and
//! the metrics address stay as they were at start). Under systemd: listeners from socket activation (the one named `milter` for the milter
//! front), `READY=1` once listening,
//! `STOPPING=1` on shutdown, the watchdog if `WatchdogSec=` is set. The spool delivery runs
//! beside the sessions (tickets with `[spool]` on; replies, notifications and releases always);
//! SIGUSR1 makes it attempt everything at once (`supportgate queue flush`). The reply memory
//! is pruned at start and hourly, and so is the quarantine (`[quarantine] retention`); the
//! sender history (`mail-loop`) every minute, and blocks that are over are ended within a
//! second. With `[console] listen`, the web console for support staff is served too.

use crate::act::Actor;
use crate::config::Config;
use crate::gateway::Gateway;
use crate::metrics::Metrics;
use crate::pipeline::Engine;
use crate::smtp::{self, ServerConfig, SessionLimits, Timeouts};
use crate::store::approvals::ApprovalStore;
use crate::store::reply_memory::ReplyMemory;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: super::config_location::ConfigArg,
    /// Listen on this address instead of `[server] listen` (repeatable), e.g. 127.0.0.1:2525.
    #[arg(long)]
    listen: Vec<SocketAddr>,
}

pub fn run(args: ServeArgs) -> ExitCode {
    // Before any thread starts: `listenfd` edits the environment.
    let activated = match crate::systemd::activated_listeners() {
        Ok(listeners) => listeners,
        Err(e) => {
            eprintln!("supportgate serve: cannot start: socket activation: {e}");
            return ExitCode::from(1);
        }
    };
    let location = args.config.locate();
    let engine = match location
        .load()
        .map_err(crate::pipeline::EngineError::Config)
        .and_then(Engine::from_config)
    {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("supportgate serve: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    // Dropped at the end of this function: writes the log lines still collected.
    let _log = match super::logging::init_logging(&engine.config) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("supportgate serve: cannot start: log: {e}");
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("supportgate serve: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    // On a worker thread, not on this one (block_on's): the SMTP front's accept loop hands
    // every connection to the task that admits it, and a hop to this thread would cost a
    // thread wake-up per connection.
    let served = runtime.block_on(async {
        match tokio::spawn(serve(args, location.path, engine, activated)).await {
            Ok(served) => served,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(e.to_string()),
        }
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("supportgate serve: {e}");
            ExitCode::from(1)
        }
    }
}

/// The SMTP layer's settings from the configuration.
pub fn server_config(config: &Config) -> Result<ServerConfig, String> {
    let s = &config.server;
    let tls = match &s.tls {
        Some((cert, key)) => Some(Arc::new(smtp::ReloadableTls::new(
            smtp::load_tls_config(cert, key).map_err(|e| format!("server.tls: {e}"))?,
        ))),
        None => None,
    };
    Ok(ServerConfig {
        hostname: s.hostname.clone(),
        limits: SessionLimits {
            max_message_size: s.max_message_size as usize,
            max_recipients: s.max_recipients as usize,
            max_line_length: s.max_line_length as usize,
            max_connections: s.max_connections as usize,
            max_connections_per_ip: s.max_connections_per_ip as usize,
            max_errors: s.max_errors,
            max_junk_commands: s.max_junk_commands,
            max_header_size: s.max_header_size as usize,
            max_header_count: s.max_header_count as usize,
            min_data_rate: s.min_data_rate.into(),
            timeouts: Timeouts {
                command: s.command_timeout,
                data_block: s.data_block_timeout,
                data_termination: s.data_termination_timeout,
                ..Timeouts::default()
            },
        },
        tls,
        bare_line_endings: s.bare_line_endings,
        shutdown_grace: s.shutdown_grace,
        events: Arc::new(smtp::NoEvents),
        xforward_from: s.xforward_from.clone(),
    })
}

async fn serve(
    args: ServeArgs,
    config_path: PathBuf,
    engine: Engine,
    activated: crate::systemd::ActivatedListeners,
) -> Result<(), String> {
    // Before any listener is bound: a client (or a test) that sees the port open may send
    // SIGTERM at once, and the default action would kill the process mid-start.
    let stop_signals = StopSignals::watch()?;
    let config = engine.config.clone();
    let metrics = Arc::new(Metrics::new());
    metrics.watch_quarantine(config.quarantine_path.clone());
    let mut server = server_config(&config)?;
    server.events = metrics.clone();
    let server = Arc::new(server);
    let addresses = if args.listen.is_empty() {
        config.server.listen.clone()
    } else {
        args.listen.clone()
    };
    let mut listeners = Vec::with_capacity(addresses.len());
    for listener in activated.smtp {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| format!("socket activation: {e}"))?;
        tracing::info!(address = %listener.local_addr().map_err(|e| e.to_string())?, "listening (socket activation)");
        listeners.push(listener);
    }
    // Socket activation wins: systemd owns the port then.
    let addresses = if listeners.is_empty() {
        addresses
    } else {
        Vec::new()
    };
    for &address in &addresses {
        let listener = bind(address).map_err(|e| format!("cannot listen on {address}: {e}"))?;
        tracing::info!(address = %listener.local_addr().map_err(|e| e.to_string())?, "listening");
        listeners.push(listener);
    }
    let milter = milter_listeners(&config, activated.milter)?;
    let (stop_http, http_stopped) = tokio::sync::watch::channel(false);
    let console_listener = match &config.console {
        Some(console) => Some(
            bind(console.listen)
                .map_err(|e| format!("console.listen: cannot listen on {}: {e}", console.listen))?,
        ),
        None => None,
    };
    if let Some(address) = config.metrics_listen {
        let listener = bind(address)
            .map_err(|e| format!("metrics.listen: cannot listen on {address}: {e}"))?;
        tracing::info!(address = %address, "metrics on http://{address}/metrics");
        let mut stopped = http_stopped.clone();
        tokio::spawn(crate::metrics::http::serve(
            listener,
            Arc::clone(&metrics),
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ));
    }
    // Only once every listener is bound: a start that fails leaves no reply memory behind
    // (as root, a file the service's own user could not open later).
    let state = open_state(&config).await?;
    match crate::store::quarantine::Quarantine::new(&config.quarantine_path).remove_staging() {
        Ok(0) => {}
        Ok(removed) => {
            tracing::info!(
                removed,
                "quarantine: half-written folders left by a crash removed"
            )
        }
        Err(e) => tracing::warn!(error = %e, "quarantine: staging folders not cleaned"),
    }
    let (memory, history, approvals) = (state.reply_memory, state.sender_history, state.approvals);
    metrics.watch_reply_memory(Arc::clone(&memory));
    let actor = Arc::new(
        Actor::new(&config, Arc::clone(&memory), Arc::clone(&metrics))?
            .with_sender_history(Arc::clone(&history))
            .with_approvals(Arc::clone(&approvals)),
    );
    tokio::spawn(crate::pipeline::loop_guard::sweep(
        history,
        Arc::clone(&metrics),
        config.sender_limits.window.as_secs(),
    ));
    let gateway = Arc::new(Gateway::new(engine, Arc::clone(&actor)));
    tokio::spawn(expire_approvals(
        Arc::clone(&gateway),
        approvals,
        Arc::clone(&metrics),
    ));
    let directory_resync = follow_directory(&config, &gateway, &metrics);
    tokio::spawn(super::reload::reload_on_sighup(
        Arc::clone(&gateway),
        config_path.clone(),
        server.tls.clone(),
        Arc::clone(&metrics),
        directory_resync,
    ));
    // Always: auto-replies, notifications and releases go through the spool even when
    // forwarded mail does not (`[spool] enabled = false`).
    tokio::spawn(crate::act::scheduler::run(Arc::clone(&actor)));
    tokio::spawn(flush_on_sigusr1(Arc::clone(&actor)));
    tokio::spawn(crate::act::retention::run(
        crate::store::quarantine::Quarantine::new(&config.quarantine_path),
        config.quarantine_retention,
        Arc::clone(&metrics),
    ));
    if let Some(listener) = console_listener {
        crate::console::server::spawn(
            &config,
            Arc::clone(&gateway),
            listener,
            http_stopped.clone(),
        )?;
    }
    tokio::spawn(prune_reply_memory(
        memory,
        config.replies.interval,
        Arc::clone(&metrics),
    ));
    if let Some(interval) = crate::systemd::watchdog_interval() {
        tokio::spawn(crate::systemd::watchdog(interval));
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %shown(&config_path),
        queue = %config_queue(&config),
        "supportgate ready"
    );
    let pid_file = config
        .server
        .pid_file
        .clone()
        .map(super::pid_file::PidFile::write)
        .transpose()?;
    crate::systemd::notify_or_log("READY=1\nSTATUS=accepting mail");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stop_signals.wait().await;
        crate::systemd::notify_or_log("STOPPING=1\nSTATUS=finishing sessions");
        stop.send_replace(true);
    });
    let when_stopped = || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let milter_front = async {
        if !milter.is_empty() {
            let limits = milter_limits(&config);
            crate::milter::run(milter, limits, Arc::clone(&gateway), when_stopped()).await;
        }
    };
    let (served, ()) = tokio::join!(
        smtp::run(listeners, server, Arc::clone(&gateway), when_stopped()),
        milter_front
    );
    served.map_err(|e| e.to_string())?;
    // The last `done` markers on disk: a clean stop re-delivers nothing.
    actor.sync_spool().await;
    stop_http.send_replace(true);
    drop(pid_file);
    tracing::info!("supportgate stopped");
    Ok(())
}

/// With `[directory] source = "postgres"`: follows the database (what SIGHUP pokes for a full
/// resynchronisation). A file is read at start and on SIGHUP only, and is always "up".
fn follow_directory(
    config: &Config,
    gateway: &Arc<Gateway>,
    metrics: &Metrics,
) -> Option<Arc<tokio::sync::Notify>> {
    match &config.directory_source {
        crate::config::DirectorySource::File => {
            metrics.directory_source_up(true);
            None
        }
        crate::config::DirectorySource::Postgres(settings) => {
            // The start-up load has just read it.
            metrics.directory_source_up(true);
            let resync = Arc::new(tokio::sync::Notify::new());
            let host: Arc<dyn crate::directory::DirectoryHost> = gateway.clone();
            tokio::spawn(crate::directory::follow(
                settings.clone(),
                host,
                Arc::clone(&resync),
            ));
            Some(resync)
        }
    }
}

/// The milter front's listeners: those systemd passed named `milter` (then systemd owns the
/// address, and `[milter] listen` is not bound), else `[milter] listen` if set.
fn milter_listeners(
    config: &Config,
    activated: Vec<crate::systemd::ActivatedMilter>,
) -> Result<Vec<crate::milter::MilterListener>, String> {
    use crate::milter::MilterListener;
    use crate::systemd::ActivatedMilter;
    let mut listeners = Vec::with_capacity(activated.len().max(1));
    for listener in activated {
        let listener = match listener {
            ActivatedMilter::Tcp(l) => MilterListener::inherited_tcp(l),
            ActivatedMilter::Unix(l) => MilterListener::inherited_unix(l),
        }
        .map_err(|e| format!("socket activation (milter): {e}"))?;
        tracing::info!(address = %listener.address(), "milter listening (socket activation)");
        listeners.push(listener);
    }
    if let (true, Some(address)) = (listeners.is_empty(), &config.milter.listen) {
        let listener = crate::milter::bind(address)
            .map_err(|e| format!("milter.listen: cannot listen on {address}: {e}"))?;
        tracing::info!(address = %address, "milter listening");
        listeners.push(listener);
    }
    Ok(listeners)
}

/// The milter front's bounds: its own `[milter]` keys, and `[server]`'s message limits.
fn milter_limits(config: &Config) -> crate::milter::MilterLimits {
    let s = &config.server;
    crate::milter::MilterLimits {
        max_frame: crate::milter::MAX_FRAME,
        max_message_size: s.max_message_size as usize,
        max_header_size: s.max_header_size as usize,
        max_header_count: s.max_header_count as usize,
        max_recipients: s.max_recipients as usize,
        max_macros: 64,
        max_connections: config.milter.max_connections as usize,
        idle_timeout: config.milter.idle_timeout,
        shutdown_grace: s.shutdown_grace,
    }
}

/// A listener bound as `config check` tries it ([`smtp::listener::bind`]: IPv6 sockets
/// IPv6-only), handed to tokio.
fn bind(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::from_std(smtp::listener::bind(address)?)
}

fn config_queue(config: &Config) -> String {
    match &config.queue {
        crate::config::QueueTarget::Maildir(p) => format!("maildir:{}", shown(p)),
        crate::config::QueueTarget::Smtp { host, port } => format!("smtp://{host}:{port}"),
        crate::config::QueueTarget::Pipe(pipe) => format!("pipe:{}", shown(&pipe.program)),
    }
}

/// A path as the start-up line shows it: absolute, without `.` or `..` (the configuration's
/// relative paths are joined to its folder, `config/../var/tickets`). One that does not
/// exist yet (a Maildir made at the first message) is folded lexically.
fn shown(path: &std::path::Path) -> String {
    use std::path::Component;
    if let Ok(real) = std::fs::canonicalize(path) {
        return real.display().to_string();
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut folded = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                folded.pop();
            }
            other => folded.push(other),
        }
    }
    folded.display().to_string()
}

/// SIGTERM and SIGINT, watched from the start of `serve`.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn watch() -> Result<StopSignals, String> {
        use tokio::signal::unix::{signal, SignalKind};
        let watch = |kind, name| signal(kind).map_err(|e| format!("cannot watch {name}: {e}"));
        Ok(StopSignals {
            term: watch(SignalKind::terminate(), "SIGTERM")?,
            int: watch(SignalKind::interrupt(), "SIGINT")?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => tracing::info!("SIGTERM: finishing sessions, then stopping"),
            _ = self.int.recv() => tracing::info!("SIGINT: finishing sessions, then stopping"),
        }
    }
}

/// How often the reply memory forgets what is older than `[replies] interval`.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// At start and every [`PRUNE_EVERY`]: the reply memory forgets replies older than the
/// interval (they no longer suppress anything), and its size goes to the metrics.
async fn prune_reply_memory(
    memory: Arc<dyn ReplyMemory>,
    interval: std::time::Duration,
    metrics: Arc<Metrics>,
) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    loop {
        tick.tick().await;
        let before = crate::act::unix_now().saturating_sub(interval.as_secs());
        let pruned = async {
            let removed = memory.prune(before).await?;
            Ok::<_, crate::store::state_error::StateError>((removed, memory.entries().await?))
        };
        match pruned.await {
            Ok((removed, left)) => {
                metrics.reply_memory_size(left);
                tracing::info!(removed, left, "reply memory pruned");
            }
            Err(e) => {
                metrics.state_error("reply_memory");
                tracing::error!(error = %e, "reply memory not pruned")
            }
        }
    }
}

/// At start and then every minute (more often for a short `[approval] expiry`): held requests
/// past their expiry go to the quarantine (SPEC §11), decisions a crash interrupted are
/// completed, closed requests older than twice the expiry are forgotten, and the pending
/// gauge is set.
async fn expire_approvals(
    gateway: Arc<Gateway>,
    store: Arc<dyn ApprovalStore>,
    metrics: Arc<Metrics>,
) {
    let expiry = gateway.engine().config.approval.expiry;
    let every = (expiry / 4).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(60),
    );
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let (engine, store) = (gateway.engine(), Arc::clone(&store));
        let swept = tokio::task::spawn_blocking(move || {
            let now = crate::act::unix_now();
            let expired = crate::act::approval_expiry::expire_due(&engine, store.as_ref(), now);
            let forget_before = now.saturating_sub(2 * engine.config.approval.expiry.as_secs());
            if let Err(e) = store.prune(forget_before) {
                tracing::warn!(error = %e, "approval store not pruned");
            }
            let pending = store
                .list()
                .map(|all| all.iter().filter(|p| p.state.is_pending()).count() as u64);
            (expired, pending)
        })
        .await;
        match swept {
            Ok((expired, pending)) => {
                for _ in 0..expired {
                    metrics.approval("expired");
                }
                if expired > 0 {
                    gateway.actor().adopt_written_segments().await;
                }
                match pending {
                    Ok(pending) => metrics.approvals_pending(pending),
                    Err(e) => tracing::error!(error = %e, "approval store unreadable"),
                }
            }
            Err(e) => tracing::error!(error = %e, "approval expiry task failed"),
        }
    }
}

/// `[state]`, opened once every listener is bound: a start that fails leaves no state file
/// behind (as root, a file the service's own user could not open later). A state database
/// that cannot be reached stops the start with the reason.
async fn open_state(config: &Config) -> Result<crate::store::state::State, String> {
    let state = crate::store::state::State::open(&config.state, &config.approval.path)
        .await
        .map_err(|e| match &config.state {
            crate::config::StateSettings::Postgres(database) => format!(
                "[state] backend = \"postgres\": cannot use {}: {e}",
                database.redacted_url()
            ),
            crate::config::StateSettings::Embedded(_) => format!("[state]: {e}"),
        })?;
    tracing::info!(backend = state.backend, "state opened");
    Ok(state)
}

/// SIGUSR1 (`supportgate queue flush`): attempt everything in the spool now.
async fn flush_on_sigusr1(gateway: Arc<Actor>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut usr1) = signal(SignalKind::user_defined1()) else {
        tracing::warn!("cannot watch SIGUSR1: queue flush waits for the next retry");
        return;
    };
    while usr1.recv().await.is_some() {
        tracing::info!("SIGUSR1: attempting everything in the spool now");
        gateway.flush_spool();
    }
}
