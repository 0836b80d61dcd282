//! `[[transport]]`s as the proxy uses them: one rustls client configuration
//! each, and one for `https://` backends of routes without a transport
//! (the system's roots, the backend's host as the server name). Built with
//! each configuration generation, so a changed CA file is read on reload.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use anyhow::{anyhow, Context, Result};
use rustls_pki_types::ServerName;
use wingress_config::{self as config, ServerConfig};
use wingress_proxy::BackendTls;
use wingress_tls::{backend_client_config, BackendTlsOptions, SystemRoots};

/// What backends are offered by ALPN: HTTP/1.1 unless the transport says
/// `http2 = true` (WebSocket upgrades need HTTP/1.1).
const ALPN: &[&[u8]] = &[b"http/1.1"];
/// With `http2 = true`: HTTP/2 preferred.
const ALPN_H2: &[&[u8]] = &[b"h2", b"http/1.1"];

/// The client TLS settings of one configuration, by transport name.
pub(crate) struct Transports {
    by_name: HashMap<String, BackendTls>,
    /// For routes with TLS backends and no `transport`; `None` when no
    /// route needs it.
    default: Option<BackendTls>,
}

impl Transports {
    /// Reads every transport's files. The system's roots are read only if
    /// something uses them.
    pub(crate) fn build(cfg: &ServerConfig) -> Result<Self> {
        let needs_default = cfg
            .routes
            .iter()
            .any(|r| r.transport.is_none() && uses_tls(r));
        let needs_system = needs_default
            || cfg
                .transports
                .iter()
                .any(|t| t.ca.is_none() && !t.insecure_skip_verify);
        let system = if needs_system {
            let (roots, bad) = SystemRoots::load();
            if roots.is_empty() {
                tracing::warn!(
                    "no system CA certificates found: https:// backends of transports without `ca` will fail with \"unknown issuer\""
                );
            } else {
                tracing::debug!(
                    roots = roots.len(),
                    unreadable = bad,
                    "read the system's CA certificates"
                );
            }
            roots
        } else {
            SystemRoots::empty()
        };
        let mut by_name = HashMap::new();
        for t in &cfg.transports {
            let tls = transport(t, &system).with_context(|| {
                format!(
                    "{}:{}:{}: [[transport]] `{}`",
                    cfg.path.display(),
                    t.location.0,
                    t.location.1,
                    t.name
                )
            })?;
            if t.insecure_skip_verify {
                tracing::warn!(transport = %t.name, "insecure_skip_verify: backend certificates are not verified");
            }
            by_name.insert(t.name.clone(), tls);
        }
        let default = if needs_default {
            let config = backend_client_config(&BackendTlsOptions::default(), &system, ALPN)
                .context("cannot build the TLS client configuration for https:// backends")?;
            Some(BackendTls {
                config,
                server_name: None,
                // The system's roots, HTTP/1.1 only: one configuration.
                key: 0,
            })
        } else {
            None
        };
        Ok(Transports { by_name, default })
    }

    /// The TLS settings of `route`, if it has anything that speaks TLS.
    pub(crate) fn for_route(&self, route: &config::RouteConfig) -> Result<Option<BackendTls>> {
        match &route.transport {
            Some(name) => self
                .by_name
                .get(name)
                .cloned()
                .map(Some)
                .ok_or_else(|| anyhow!("route {}: no [[transport]] named `{name}`", route.host)),
            None if uses_tls(route) => Ok(self.default.clone()),
            None => Ok(None),
        }
    }
}

/// Whether the route has an `https://` backend or forward-auth service.
fn uses_tls(r: &config::RouteConfig) -> bool {
    r.backends.iter().any(|b| b.scheme.is_tls())
        || r.forward_auth.as_ref().is_some_and(|f| f.scheme_https)
}

fn transport(t: &config::TransportConfig, system: &SystemRoots) -> Result<BackendTls> {
    let opts = BackendTlsOptions {
        ca: t.ca.clone(),
        insecure_skip_verify: t.insecure_skip_verify,
        client_cert: t.client_cert.clone(),
    };
    let alpn = if t.http2 { ALPN_H2 } else { ALPN };
    let config = backend_client_config(&opts, system, alpn)?;
    let server_name = match &t.server_name {
        Some(name) => Some(
            ServerName::try_from(name.clone()).map_err(|e| anyhow!("server_name `{name}`: {e}"))?,
        ),
        None => None,
    };
    Ok(BackendTls {
        config,
        server_name,
        key: key_of(t),
    })
}

/// What `t`'s TLS configuration is made from, file contents included:
/// the proxy pools connections by it, so a reload that rebuilds an
/// unchanged transport keeps its connections, and one whose CA or client
/// certificate changed does not reuse connections made with the old one.
fn key_of(t: &config::TransportConfig) -> u64 {
    let read = |p: &std::path::Path| std::fs::read(p).unwrap_or_default();
    let mut h = std::hash::DefaultHasher::new();
    t.ca.as_deref().map(read).hash(&mut h);
    t.client_cert
        .as_ref()
        .map(|(cert, key)| (read(cert), read(key)))
        .hash(&mut h);
    (&t.server_name, t.insecure_skip_verify, t.http2).hash(&mut h);
    h.finish()
}

#[cfg(test)]
#[path = "transports_tests.rs"]
mod tests;
