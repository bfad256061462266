//! TLS to PostgreSQL (`sslmode=require` in a connection string), for the directory and the
//! state alike: the same rustls as STARTTLS, with the system's certificate authorities.

use std::sync::Arc;
use tokio_rustls::rustls;

/// TLS to the database with the system's certificate authorities (Debian's bundle).
pub fn connector() -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
    let pem = std::fs::read(BUNDLE).map_err(|e| format!("{BUNDLE}: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_pemfile::certs(&mut pem.as_slice()) {
        let certificate = certificate.map_err(|e| format!("{BUNDLE}: {e}"))?;
        // A certificate rustls cannot use is skipped, as any TLS client does with a bundle.
        let _ = roots.add(certificate);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}
