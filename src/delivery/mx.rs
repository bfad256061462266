//! `mx`: direct delivery to the recipient domain's MX hosts (RFC 5321 §5.1), for replies. The
//! resolver is built once, from `[authentication] nameservers` (or `/etc/resolv.conf`), and
//! kept: hickory caches answers by their TTL. MX and host addresses both come from it.
//!
//! STARTTLS is opportunistic, as MTAs do it between MX hosts (RFC 7435; Postfix's
//! `smtp_tls_security_level = may`): used whenever the MX offers it, with the certificate
//! not verified — MX names come from unauthenticated DNS, so a verified name would prove
//! nothing without DANE or MTA-STS, and a receiver with a self-signed or mismatched
//! certificate must still get the reply. This protects against passive eavesdropping only.
//! A host whose connection fails with TLS (a failed handshake among others: lettre does not
//! tell them apart) is tried once more without TLS, as Postfix does.

use super::envelope::{classify, lettre_envelope};
use super::target::{Delivery, DeliveryError, Parcel, Target};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use lettre::transport::smtp::client::{CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

pub struct MxTarget {
    resolver: TokioResolver,
    hostname: String,
    timeout: Duration,
    /// The SMTP port of every MX host: 25, except in tests.
    port: u16,
}

impl MxTarget {
    /// A target resolving with `config` and `options` (see
    /// [`crate::authentication::resolver_config`]).
    pub fn new(
        config: hickory_resolver::config::ResolverConfig,
        options: hickory_resolver::config::ResolverOpts,
        hostname: &str,
        timeout: Duration,
        port: u16,
    ) -> Result<MxTarget, String> {
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .map_err(|e| format!("resolver: {e}"))?;
        Ok(MxTarget {
            resolver,
            hostname: hostname.to_string(),
            timeout,
            port,
        })
    }

    /// The MX hosts of `domain`, best preference first; the domain itself when it has none.
    async fn hosts(&self, domain: &str) -> Result<Vec<String>, DeliveryError> {
        let mut hosts: Vec<(u16, String)> = match self.resolver.mx_lookup(domain).await {
            Ok(lookup) => lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some((mx.preference, mx.exchange.to_utf8())),
                    _ => None,
                })
                .collect(),
            // The domain does not exist: no retry will find it.
            Err(e) if e.is_nx_domain() => {
                return Err(DeliveryError::Permanent(format!(
                    "{domain}: no such domain (NXDOMAIN)"
                )))
            }
            // The domain exists without MX records: its own address is the implicit MX.
            Err(e) if e.is_no_records_found() => Vec::new(),
            Err(e) => {
                return Err(DeliveryError::Temporary(format!(
                    "MX lookup for {domain}: {e}"
                )))
            }
        };
        if hosts.is_empty() {
            hosts.push((0, domain.to_string()));
        }
        hosts.sort();
        Ok(hosts
            .into_iter()
            .map(|(_, host)| host.trim_end_matches('.').to_string())
            .collect())
    }
}

impl MxTarget {
    /// One attempt at `address` (an address of MX `host`): STARTTLS if offered, and without
    /// TLS again if the handshake failed.
    async fn send_to(
        &self,
        host: &str,
        address: std::net::IpAddr,
        envelope: &lettre::address::Envelope,
        bytes: &[u8],
    ) -> Result<(), DeliveryError> {
        let opportunistic = TlsParameters::builder(host.to_string())
            .certificate_store(CertificateStore::None)
            .dangerous_accept_invalid_certs(true)
            .dangerous_accept_invalid_hostnames(true)
            .build_rustls()
            .map(Tls::Opportunistic);
        let tls = match opportunistic {
            Ok(tls) => tls,
            Err(e) => {
                tracing::warn!(host, error = %e, "mx: no TLS parameters; sending without TLS");
                Tls::None
            }
        };
        let with_tls = !matches!(tls, Tls::None);
        match self.relay(address, tls).send_raw(envelope, bytes).await {
            Ok(_) => Ok(()),
            // Not an SMTP reply, nor a timeout: the connection or its TLS handshake failed
            // (lettre reports both as connection errors), so once more without TLS.
            Err(e) if with_tls && !e.is_permanent() && !e.is_transient() && !e.is_timeout() => {
                tracing::info!(host, %address, error = %e, "mx: failed with STARTTLS; retrying without TLS");
                self.relay(address, Tls::None)
                    .send_raw(envelope, bytes)
                    .await
                    .map(|_| ())
                    .map_err(classify)
            }
            Err(e) => Err(classify(e)),
        }
    }

    fn relay(&self, address: std::net::IpAddr, tls: Tls) -> AsyncSmtpTransport<Tokio1Executor> {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.to_string())
            .port(self.port)
            .hello_name(ClientId::Domain(self.hostname.clone()))
            .timeout(Some(self.timeout))
            .tls(tls)
            .build()
    }
}

impl Target for MxTarget {
    fn description(&self) -> &str {
        "mx"
    }

    fn deliver<'a>(&'a self, parcel: Parcel<'a>) -> Delivery<'a> {
        Box::pin(async move {
            let envelope = lettre_envelope(parcel.mail_from, parcel.recipients)?;
            let domain = parcel
                .recipients
                .first()
                .and_then(|r| r.rsplit_once('@'))
                .map(|(_, d)| d.to_string())
                .ok_or_else(|| DeliveryError::Permanent("no recipient".into()))?;
            let bytes = parcel.bytes.strip_suffix(b"\r\n").unwrap_or(parcel.bytes);
            let mut last = DeliveryError::Temporary(format!("no MX host for {domain} answered"));
            for host in self.hosts(&domain).await? {
                // The host's addresses from the same resolver (never the system's).
                let addresses = match self.resolver.lookup_ip(host.as_str()).await {
                    Ok(lookup) => lookup.iter().collect::<Vec<_>>(),
                    Err(e) => {
                        last = DeliveryError::Temporary(format!("address of {host}: {e}"));
                        continue;
                    }
                };
                for address in addresses {
                    match self.send_to(&host, address, &envelope, bytes).await {
                        Ok(()) => return Ok(()),
                        Err(e) => {
                            last = e;
                            if matches!(last, DeliveryError::Permanent(_)) {
                                return Err(last);
                            }
                        }
                    }
                }
            }
            Err(last)
        })
    }
}
