//! The HTTPS ingress of a server config: `[[entrypoint]]` (where HTTP(S)
//! connections arrive, `entrypoint`), `[tls]` (where certificates come
//! from, here) and `[[route]]` (which host and path go to which backends,
//! and who may reach them, `route`), and the checks that tie them.
//!
//! Everything here is parse-only: certificate files are not read and names
//! are not resolved; the daemon does that when it starts serving.

use std::path::{Path, PathBuf};

use crate::acme::{parse_acme, AcmeConfig};
use crate::cursor::Table;
use crate::entrypoint::{parse_entrypoints, Declared, EntrypointConfig};
use crate::error::{Diagnostics, Span};
use crate::ingress_values::HostPattern;
use crate::route::{parse_routes, RouteConfig, RouteContext};
use crate::transport::{parse_transports, TransportConfig};

/// `[tls]`: where certificates come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// The daemon's own CA (kept in the state directory) signs certificates
    /// for hosts that no other source covers. Off unless set.
    pub internal_ca: bool,
    /// `[[tls.certificate]]`: static files, chosen by SNI.
    pub certificates: Vec<CertificateFiles>,
    /// `[tls.acme]`: certificates from an ACME CA for every route host the
    /// static certificates do not cover.
    pub acme: Option<AcmeConfig>,
}

/// One `[[tls.certificate]]`. Paths are resolved against the config file's
/// folder; the files are read (and watched) by the daemon, not the parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFiles {
    /// PEM: the certificate, then its chain.
    pub cert_file: PathBuf,
    /// PEM: the private key.
    pub key_file: PathBuf,
}

// === walker ===

/// What the ingress sections need from the rest of the config.
pub(crate) struct IngressContext<'c> {
    /// Names of the `[[peer]]`s, for `allow = ["peer:NAME"]`.
    pub(crate) peer_names: &'c [String],
    /// `[[tcp]]` listen ports, which tunnel entrypoints must not take.
    pub(crate) tcp_ports: &'c [(u16, Span)],
}

/// The parsed ingress sections.
pub(crate) struct Ingress {
    pub(crate) entrypoints: Vec<EntrypointConfig>,
    pub(crate) tls: TlsConfig,
    pub(crate) routes: Vec<RouteConfig>,
    pub(crate) transports: Vec<TransportConfig>,
    /// The entrypoints routes (and `[dashboard]`) may name.
    pub(crate) declared: Declared,
}

pub(crate) fn parse_ingress(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    base: &Path,
    cx: &IngressContext<'_>,
) -> Ingress {
    let (entrypoints, declared) = parse_entrypoints(root, d, cx.tcp_ports);
    let tls = parse_tls(root, d, base);
    let transports = parse_transports(root, d, base);
    let routes = parse_routes(
        root,
        d,
        base,
        &RouteContext {
            peer_names: cx.peer_names,
            tcp_ports: cx.tcp_ports,
            declared: &declared,
            transports: &transports,
        },
    );
    check_wildcards_have_dns(d, &tls, &routes);
    Ingress {
        entrypoints,
        tls,
        routes,
        transports,
        declared,
    }
}

// === [tls] ===

fn parse_tls(root: &mut Table<'_>, d: &mut Diagnostics<'_>, base: &Path) -> TlsConfig {
    let Some(mut tls) = root.optional_table(d, "tls") else {
        return TlsConfig::default();
    };
    let internal_ca = tls.optional_bool(d, "internal_ca").is_some_and(|b| b.value);
    let mut certificates = Vec::new();
    for mut t in tls.array_of_tables(d, "certificate") {
        let cert_file = t.required_path(d, "cert_file", base);
        let key_file = t.required_path(d, "key_file", base);
        t.finish(d);
        if let (Some(cert_file), Some(key_file)) = (cert_file, key_file) {
            certificates.push(CertificateFiles {
                cert_file: cert_file.value,
                key_file: key_file.value,
            });
        }
    }
    let acme = parse_acme(&mut tls, d, base);
    tls.finish(d);
    TlsConfig {
        internal_ca,
        certificates,
        acme,
    }
}

/// CAs validate wildcard names only with dns-01. Without static
/// certificates nothing else can cover a wildcard route host, so the
/// missing `[tls.acme.dns]` is certain here; with static certificates the
/// daemon checks what their files cover when it loads them.
fn check_wildcards_have_dns(d: &mut Diagnostics<'_>, tls: &TlsConfig, routes: &[RouteConfig]) {
    let Some(acme) = &tls.acme else {
        return;
    };
    if acme.dns.is_some() || !tls.certificates.is_empty() {
        return;
    }
    for route in routes {
        if let HostPattern::Wildcard(_) = route.host {
            d.error_at(
                route.location,
                format!(
                    "route host `{}` needs a wildcard certificate, which ACME CAs issue only \
                     through dns-01: add [tls.acme.dns], or a [[tls.certificate]] that covers it",
                    route.host
                ),
            );
        }
    }
}

#[cfg(test)]
#[path = "ingress_tests.rs"]
pub(crate) mod tests;
