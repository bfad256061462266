//! SIGHUP (`systemctl reload supportgate`, `supportgate directory reload`, a certbot deploy
//! hook): configuration, directory, templates and the STARTTLS certificate are read again and
//! replace the ones in force only if all of them load. Sessions go on: a message in progress
//! finishes with the engine it started with, and a session already in TLS keeps its
//! certificate; the next message, and the next STARTTLS, see the new ones.

use crate::config::Config;
use crate::directory::Directory;
use crate::gateway::Gateway;
use crate::metrics::Metrics;
use crate::pipeline::{Engine, EngineError};
use crate::smtp::{self, ReloadableTls};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_rustls::rustls;

/// SIGHUP: load a new engine and certificate; keep the old ones if anything is wrong with the
/// new files. `tls` is the certificate in force, if STARTTLS was on at start (turning it on or
/// off takes a restart, as for the listeners).
pub(super) async fn reload_on_sighup(
    gateway: Arc<Gateway>,
    config_path: PathBuf,
    tls: Option<Arc<ReloadableTls>>,
    metrics: Arc<Metrics>,
    directory_resync: Option<Arc<Notify>>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot watch SIGHUP: reload disabled");
        return;
    };
    while hup.recv().await.is_some() {
        let path = config_path.clone();
        let tls_on = tls.is_some();
        let live = directory_resync
            .as_ref()
            .map(|_| gateway.engine().directory.clone());
        match tokio::task::spawn_blocking(move || load(&path, tls_on, live)).await {
            Ok(Ok(Reloaded {
                engine,
                certificate,
            })) => {
                if let (Some(tls), Some((config, path))) = (&tls, certificate) {
                    tls.replace(config);
                    tracing::info!(certificate = %path.display(), "SIGHUP: TLS certificate reloaded");
                }
                metrics.reload(true);
                if let Some(resync) = &directory_resync {
                    gateway.replace_settings(engine);
                    resync.notify_one();
                    tracing::info!("SIGHUP: configuration and templates reloaded; the directory database is read again");
                } else {
                    gateway.replace_engine(engine);
                    tracing::info!("SIGHUP: configuration, directory and templates reloaded");
                }
            }
            Ok(Err(e)) => {
                metrics.reload(false);
                tracing::error!(error = %e, "SIGHUP: reload failed; keeping the previous configuration")
            }
            Err(e) => {
                metrics.reload(false);
                tracing::error!(error = %e, "SIGHUP: reload task failed")
            }
        }
    }
}

/// What a reload brings: the engine, and the certificate with the path it came from.
struct Reloaded {
    engine: Engine,
    certificate: Option<(Arc<rustls::ServerConfig>, PathBuf)>,
}

/// Reads the files (blocking). A certificate that does not load fails the whole reload.
/// `live`: the directory in force, kept (a live source follows its database itself).
fn load(
    config_path: &Path,
    tls_on: bool,
    live: Option<Arc<Directory>>,
) -> Result<Reloaded, String> {
    let engine = match live {
        None => Engine::load(config_path),
        Some(directory) => Config::load(config_path)
            .map_err(EngineError::Config)
            .and_then(|config| Engine::with_config(config, directory)),
    }
    .map_err(|e| e.to_string())?;
    let certificate = match (&engine.config.server.tls, tls_on) {
        (Some((cert, key)), true) => {
            let config =
                smtp::load_tls_config(cert, key).map_err(|e| format!("server.tls: {e}"))?;
            Some((config, cert.clone()))
        }
        (None, true) => {
            tracing::warn!("SIGHUP: [server.tls] removed; STARTTLS stays on with the current certificate until a restart");
            None
        }
        (Some(_), false) => {
            tracing::warn!("SIGHUP: [server.tls] added; STARTTLS is offered only after a restart");
            None
        }
        (None, false) => None,
    };
    Ok(Reloaded {
        engine,
        certificate,
    })
}
