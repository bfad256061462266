//! TLS configuration for STARTTLS (RFC 3207): the certificate and key loaded from PEM files,
//! and [`ReloadableTls`], the one in force, which a reload (SIGHUP) replaces.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use tokio_rustls::rustls;

/// Why a certificate/key pair could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no certificate found in {0}")]
    NoCertificate(PathBuf),
    #[error("no private key found in {0}")]
    NoPrivateKey(PathBuf),
    #[error("invalid TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Loads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1) into a
/// rustls server configuration using the ring provider and its safe default versions.
pub fn load_tls_config(
    cert_path: &Path,
    key_path: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Read { path, source }
    };
    let mut certs_reader = BufReader::new(File::open(cert_path).map_err(read_err(cert_path))?);
    let certs = rustls_pemfile::certs(&mut certs_reader)
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err(cert_path))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert_path.to_path_buf()));
    }
    let mut key_reader = BufReader::new(File::open(key_path).map_err(read_err(key_path))?);
    let key = rustls_pemfile::private_key(&mut key_reader)
        .map_err(read_err(key_path))?
        .ok_or_else(|| TlsError::NoPrivateKey(key_path.to_path_buf()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// The TLS configuration in force, shared by every session and replaced on reload (certbot
/// renewals) without stopping anything: each STARTTLS takes the one current at that moment; a
/// session already in TLS keeps the one its handshake used.
#[derive(Debug)]
pub struct ReloadableTls {
    current: RwLock<Arc<rustls::ServerConfig>>,
}

impl ReloadableTls {
    pub fn new(config: Arc<rustls::ServerConfig>) -> Self {
        Self {
            current: RwLock::new(config),
        }
    }

    /// The configuration for the next handshake.
    pub fn current(&self) -> Arc<rustls::ServerConfig> {
        // Nothing can panic while the lock is held (an `Arc` is cloned or replaced), so a
        // poisoned lock still holds a whole value.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// From now on, handshakes use `config`.
    pub fn replace(&self, config: Arc<rustls::ServerConfig>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = config;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str) -> Arc<rustls::ServerConfig> {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let (cert, key) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
        load_tls_config(&cert, &key).unwrap()
    }

    #[test]
    fn a_replaced_configuration_serves_the_next_handshakes_and_the_old_one_lives_on() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (pair(dir.path(), "a"), pair(dir.path(), "b"));
        let tls = ReloadableTls::new(Arc::clone(&a));
        let in_use = tls.current();
        assert!(Arc::ptr_eq(&in_use, &a));
        tls.replace(Arc::clone(&b));
        assert!(Arc::ptr_eq(&tls.current(), &b));
        // A handshake that took `a` still holds it.
        assert!(Arc::ptr_eq(&in_use, &a));
    }
}
