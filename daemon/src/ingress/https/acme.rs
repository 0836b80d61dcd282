//! Wiring `[tls.acme]` into the daemon: which route hosts get ACME
//! certificates, and the settings (secrets read and checked here, before
//! anything starts or a reload applies).

use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use wingress_config::{self as config, ConfigError, HostPattern, ServerConfig};
use wingress_tls::{
    read_ca_roots, read_secret, AcmeChallenge, AcmeManager, AcmeSettings, CertStore, Rfc2136,
    TsigAlgorithm, TsigKey,
};

/// A new ACME manager for `cfg` and its new `store`, every saved
/// certificate for `names` already in the store; `None` without
/// `[tls.acme]`. Nothing is ordered until it is spawned.
pub(crate) fn manager(
    cfg: &ServerConfig,
    store: &Arc<CertStore>,
    names: &[String],
) -> Result<Option<AcmeManager>> {
    let Some(acme) = &cfg.tls.acme else {
        return Ok(None);
    };
    let settings = settings(acme)?;
    let manager = AcmeManager::new(settings, Arc::clone(store), &cfg.node.state_dir, names)
        .context("cannot start ACME")?;
    tracing::info!(
        names = names.len(),
        directory = %acme.directory,
        challenge = acme.challenge.as_str(),
        "ACME manages the route hosts without a static certificate"
    );
    Ok(Some(manager))
}

/// The route hosts no static certificate nor certificate from memory
/// (Kubernetes Secret) covers: `app.example.com`, and
/// `*.example.com` for wildcard routes (dns-01 only). `host = "*"` and IP
/// literals get none (no CA issues for them here).
pub(crate) fn names(cfg: &ServerConfig, store: &CertStore) -> Result<Vec<String>> {
    let dns_configured = cfg.tls.acme.as_ref().is_some_and(|a| a.dns.is_some());
    let mut names = Vec::new();
    for route in &cfg.routes {
        let name = match &route.host {
            HostPattern::Exact(h) if h.parse::<std::net::IpAddr>().is_ok() => continue,
            HostPattern::Exact(h) => h.to_ascii_lowercase(),
            HostPattern::Wildcard(suffix) => format!("*{}", suffix.to_ascii_lowercase()),
            HostPattern::Any => continue,
        };
        if store.covers(&name) || names.contains(&name) {
            continue;
        }
        if name.starts_with("*.") && !dns_configured {
            let (line, col) = route.location;
            bail!(
                "{}",
                ConfigError {
                    path: cfg.path.clone(),
                    line,
                    col,
                    message: format!(
                        "route host `{}` needs a wildcard certificate, which ACME CAs issue only \
                         through dns-01, and no [[tls.certificate]] covers it: add [tls.acme.dns]",
                        route.host
                    ),
                }
            );
        }
        names.push(name);
    }
    // The dashboard's host, as one more route host (never a wildcard).
    if let Some(host) = cfg.dashboard.served_host() {
        let name = host.to_ascii_lowercase();
        let ip = name.parse::<std::net::IpAddr>().is_ok();
        if !ip && !store.covers(&name) && !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// A fingerprint of what the ACME settings read from files (the TSIG
/// secret, the EAB key, the extra CA roots), so a reload after one of them
/// was rewritten in place builds a new manager even though the config's
/// paths did not change. A hash, so the generation holds no secret; an
/// unreadable file hashes as such (and `manager` then reports it).
pub(crate) fn files_fingerprint(cfg: &ServerConfig) -> u64 {
    use std::hash::{Hash, Hasher};
    let Some(acme) = &cfg.tls.acme else {
        return 0;
    };
    let files = [
        acme.dns.as_ref().map(|d| d.tsig_secret_file.as_path()),
        acme.eab.as_ref().map(|e| e.hmac_key_file.as_path()),
        acme.ca_root.as_deref(),
    ];
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for path in files.into_iter().flatten() {
        std::fs::read(path).ok().hash(&mut hasher);
    }
    hasher.finish()
}

fn settings(acme: &config::AcmeConfig) -> Result<AcmeSettings> {
    let ca_roots = match &acme.ca_root {
        Some(path) => read_ca_roots(path).context("[tls.acme] ca_root")?,
        None => Vec::new(),
    };
    let eab = match &acme.eab {
        Some(eab) => {
            let text = read_secret(&eab.hmac_key_file).context("[tls.acme] eab.hmac_key_file")?;
            let text = text.trim().trim_end_matches('=');
            let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
                .map_err(|_| {
                    anyhow!(
                        "[tls.acme] eab.hmac_key_file {}: the key is not base64",
                        eab.hmac_key_file.display()
                    )
                })?;
            Some((eab.kid.clone(), key))
        }
        None => None,
    };
    let dns = match &acme.dns {
        Some(dns) => {
            let path = &dns.tsig_secret_file;
            let text = read_secret(path).context("[tls.acme.dns] tsig_secret_file")?;
            let algorithm = match dns.tsig_algorithm {
                config::TsigAlgorithm::HmacSha256 => TsigAlgorithm::HmacSha256,
                config::TsigAlgorithm::HmacSha384 => TsigAlgorithm::HmacSha384,
                config::TsigAlgorithm::HmacSha512 => TsigAlgorithm::HmacSha512,
            };
            let key =
                TsigKey::from_secret_file(&text, &dns.tsig_key_name, algorithm).map_err(|why| {
                    anyhow!("[tls.acme.dns] tsig_secret_file {}: {why}", path.display())
                })?;
            Some(Rfc2136::new(dns.server, &dns.zone, key))
        }
        None => None,
    };
    Ok(AcmeSettings {
        directory: acme.directory.clone(),
        email: acme.email.clone(),
        ca_roots,
        challenge: match acme.challenge {
            config::AcmeChallenge::Http01 => AcmeChallenge::Http01,
            config::AcmeChallenge::TlsAlpn01 => AcmeChallenge::TlsAlpn01,
            config::AcmeChallenge::Dns01 => AcmeChallenge::Dns01,
        },
        eab,
        dns,
    })
}
