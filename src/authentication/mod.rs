//! Sender authentication against DNS (SPEC §3 P6): SPF, DKIM, DMARC and ARC with `mail-auth`
//! over `hickory-resolver`. This is the IO side; the policy only sees the [`AuthResult`] it
//! returns (`policy::authentication`, pure), and `AuthResult::authenticates` alone says what
//! passes P6.
//!
//! - SPF checks the MAIL FROM identity, or the HELO name when MAIL FROM is null.
//! - DKIM checks every signature; DMARC applies the From domain's record and its alignment
//!   (`aspf`, `adkim`); ARC is verified and recorded, never trusted.
//! - Nameservers: `[authentication] nameservers`, else the system's resolv.conf. Each query is
//!   bounded by `dns_timeout`, one whole verification by [`Verifier::bound`]. Answers are kept
//!   for their TTL in mail-auth's caches ([`cache::TtlCache`]) and in the resolver's.

pub mod cache;
mod convert;

use crate::config::AuthenticationSettings;
use crate::policy::authentication::SpfIdentity;
use crate::policy::AuthResult;
use cache::TtlCache;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, MessageAuthenticator, RecordSet, Txt, MX};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Entries per cache (TXT, MX, A, AAAA, PTR).
const CACHE_ENTRIES: usize = 16_384;

#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    #[error("DNS resolver: {0}")]
    Resolver(String),
}

/// What the SMTP session knows about the sender.
#[derive(Debug, Clone, Copy)]
pub struct Connection<'a> {
    /// The connecting client's address (what SPF authorises).
    pub ip: IpAddr,
    /// The EHLO/HELO name, if one was given.
    pub helo: Option<&'a str>,
    /// The MAIL FROM address; `None` for the null reverse-path `<>`.
    pub mail_from: Option<&'a str>,
}

struct Caches {
    txt: TtlCache<Box<str>, Txt>,
    mx: TtlCache<Box<str>, RecordSet<MX>>,
    ipv4: TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    ipv6: TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    ptr: TtlCache<IpAddr, RecordSet<Box<str>>>,
}

/// The resolver and its caches; one per loaded configuration (a reload builds a new one).
pub struct Verifier {
    authenticator: MessageAuthenticator,
    caches: Caches,
    /// Our host name: SPF's `%{r}` macro.
    hostname: String,
    dns_timeout: Duration,
}

/// The DNS resolver configuration of `[authentication]`: its `nameservers` when set (each
/// `IP:PORT`, over UDP and TCP), else the system's `/etc/resolv.conf`. The one place both the
/// verifier and the `mx` reply target read it.
pub fn resolver_config(
    settings: &AuthenticationSettings,
) -> Result<(ResolverConfig, ResolverOpts), String> {
    if settings.nameservers.is_empty() {
        return hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| format!("/etc/resolv.conf: {e}"));
    }
    let servers = settings
        .nameservers
        .iter()
        .map(|addr| {
            let mut server = NameServerConfig::udp_and_tcp(addr.ip());
            for connection in &mut server.connections {
                connection.port = addr.port();
            }
            server
        })
        .collect();
    Ok((
        ResolverConfig::from_name_servers(servers),
        ResolverOpts::default(),
    ))
}

impl Verifier {
    /// A verifier for `settings` (nameservers, timeout); reads resolv.conf when no nameserver
    /// is configured. Sends nothing until [`Verifier::verify`].
    pub fn new(
        settings: &AuthenticationSettings,
        hostname: &str,
    ) -> Result<Verifier, VerifierError> {
        let (config, mut options) = resolver_config(settings).map_err(VerifierError::Resolver)?;
        options.timeout = settings.dns_timeout;
        options.attempts = 1;
        // mail-auth caches answers, not "no such name": every message from a domain without a
        // record at some name it checks (e.g. the public-suffix DMARC lookup `_dmarc.example`)
        // would otherwise query the DNS again. Keep negative answers for a minute at least, as
        // if the server had sent an SOA with that minimum (RFC 2308).
        options.negative_min_ttl = Some(std::time::Duration::from_secs(60));
        let authenticator = MessageAuthenticator::new(config, options)
            .map_err(|e| VerifierError::Resolver(e.to_string()))?;
        Ok(Verifier {
            authenticator,
            caches: Caches {
                txt: TtlCache::new(CACHE_ENTRIES),
                mx: TtlCache::new(CACHE_ENTRIES),
                ipv4: TtlCache::new(CACHE_ENTRIES),
                ipv6: TtlCache::new(CACHE_ENTRIES),
                ptr: TtlCache::new(CACHE_ENTRIES),
            },
            hostname: hostname.to_string(),
            dns_timeout: settings.dns_timeout,
        })
    }

    /// The most one verification may take: SPF may need several lookups in a row, then DKIM,
    /// DMARC and ARC. Past it, the result is `temperror` (the client is asked to retry).
    pub fn bound(&self) -> Duration {
        self.dns_timeout * 4
    }

    /// SPF, DKIM, DMARC and ARC of one message as received on `connection`.
    pub async fn verify(&self, message: &[u8], connection: &Connection<'_>) -> AuthResult {
        match tokio::time::timeout(self.bound(), self.verify_unbounded(message, connection)).await {
            Ok(result) => result,
            Err(_) => {
                let from_domain = AuthenticatedMessage::parse(message)
                    .and_then(|m| m.from.first().cloned())
                    .and_then(|f| f.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()));
                tracing::warn!(bound = ?self.bound(), "authentication: DNS did not answer in time");
                convert::timed_out(from_domain)
            }
        }
    }

    async fn verify_unbounded(&self, message: &[u8], connection: &Connection<'_>) -> AuthResult {
        let parsed = AuthenticatedMessage::parse(message).unwrap_or_default();
        let c = &self.caches;
        macro_rules! params {
            ($p:expr) => {
                mail_auth::Parameters::new($p)
                    .with_txt_cache(&c.txt)
                    .with_mx_cache(&c.mx)
                    .with_ipv4_cache(&c.ipv4)
                    .with_ipv6_cache(&c.ipv6)
                    .with_ptr_cache(&c.ptr)
            };
        }
        let helo = connection.helo.unwrap_or_default();
        let (spf_params, identity) = match connection.mail_from.filter(|m| !m.is_empty()) {
            Some(sender) => (
                SpfParameters::verify_mail_from(connection.ip, helo, &self.hostname, sender),
                SpfIdentity::MailFrom,
            ),
            None => (
                SpfParameters::verify_ehlo(connection.ip, helo, &self.hostname),
                SpfIdentity::Helo,
            ),
        };
        let dkim = self.authenticator.verify_dkim(params!(&parsed)).await;
        let spf = self.authenticator.verify_spf(params!(spf_params)).await;
        let arc = self.authenticator.verify_arc(params!(&parsed)).await;
        // RFC 7489 §3.1.2: with a null MAIL FROM, SPF alignment uses the HELO identity.
        let spf_domain = spf.domain().to_string();
        let dmarc = self
            .authenticator
            .verify_dmarc(params!(DmarcParameters::new(
                &parsed,
                &dkim,
                &spf_domain,
                &spf
            )))
            .await;
        let arc_outcome = convert::dkim_outcome(arc.result());
        if !arc_outcome.is_none() {
            let sealers: Vec<&str> = arc
                .sets()
                .iter()
                .map(|set| set.seal.header.d.as_str())
                .collect();
            tracing::info!(arc = %arc_outcome, sealers = ?sealers, "authentication: ARC chain recorded (not trusted)");
        }
        convert::verified(&spf, identity, &dkim, &dmarc, arc_outcome)
    }
}
