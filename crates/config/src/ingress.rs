//! The HTTPS ingress of a server config: `[[entrypoint]]` (where HTTP(S)
//! connections arrive), `[tls]` (where certificates come from) and
//! `[[route]]` (which host and path go to which backends, and who may reach
//! them).
//!
//! Everything here is parse-only: certificate files are not read and names
//! are not resolved; the daemon does that when it starts serving.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::acme::{parse_acme, AcmeConfig};
use crate::cursor::Table;
use crate::error::{Diagnostics, Span, Spanned};
use crate::ingress_values::{bare_port_hint, BackendUrl, ForwardAuthUrl, HostPattern, Listen};
use crate::route::parse_routes;

/// One `[[entrypoint]]`: a listening socket for HTTPS, or for plain HTTP
/// that only redirects to HTTPS (and answers ACME HTTP-01 challenges).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrypointConfig {
    /// Unique; `[A-Za-z0-9._-]{1,64}`; routes name it in `entrypoints`.
    pub name: String,
    /// Unique among entrypoints; a tunnel port is not also a `[[tcp]]` port.
    pub listen: Listen,
    pub protocol: EntrypointProtocol,
    /// Connections open at once; more are closed as they arrive.
    pub max_connections: u32,
    /// Connections open at once from one source: a tunnel peer (however
    /// many addresses it has), or a client address on host entrypoints.
    pub max_connections_per_source: u32,
}

/// `max_connections` unless set: what a small host serves without running
/// out of memory (a TLS connection costs tens of KiB).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4096;
/// `max_connections_per_source` unless set: well above a browser's use
/// (6 connections per host over HTTP/1.1, one with HTTP/2), so one client
/// cannot take an entrypoint's whole budget.
pub const DEFAULT_MAX_CONNECTIONS_PER_SOURCE: u32 = 256;

/// The range of both connection caps.
const CONNECTIONS: std::ops::RangeInclusive<u32> = 1..=1_000_000;

/// `protocol` of an `[[entrypoint]]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum EntrypointProtocol {
    /// TLS, then the routes.
    #[default]
    Https,
    /// Plain HTTP: redirects to HTTPS, except ACME HTTP-01 challenge paths.
    Http,
}

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

/// One `[[route]]`: requests for `host` under `path_prefix` go to `backends`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    pub host: HostPattern,
    /// Starts with `/`; `/` unless set. The longest matching prefix wins.
    pub path_prefix: String,
    /// At least one.
    pub backends: Vec<BackendUrl>,
    /// Empty: equal weights. Otherwise one weight (at least 1) per backend,
    /// for weighted round robin.
    pub weights: Vec<u32>,
    pub health_check: Option<HealthCheck>,
    pub access: Access,
    /// Empty: every tunnel peer (for `access = "tunnel"`). Otherwise only
    /// peers matching a rule. Never set with [`Access::Public`].
    pub allow: Vec<AllowRule>,
    /// Set exactly when `access` is [`Access::ForwardAuth`].
    pub forward_auth: Option<ForwardAuthUrl>,
    /// Key `forward_auth_headers`: the response headers of the forward-auth
    /// service copied into the request to the backend. Empty: every header
    /// whose name starts with `Remote-` or `X-Auth` (any case), which covers
    /// Authelia, Authentik and oauth2-proxy; see
    /// [`RouteConfig::copies_auth_header`].
    pub forward_auth_response_headers: Vec<String>,
    /// Set exactly when `access` is [`Access::Mtls`]: the CA that signs
    /// client certificates, resolved against the config file's folder.
    pub client_ca: Option<PathBuf>,
    /// Names of https entrypoints. Empty: every https entrypoint.
    pub entrypoints: Vec<String>,
    /// Time for the backend to send its response headers; `60s` unless set.
    pub timeout: Duration,
    /// Time to connect to a backend; `5s` unless set.
    pub connect_timeout: Duration,
    /// Key `allow_encoded_slashes`: paths with `%2F` are served (kept
    /// encoded) instead of refused, when decoding them would not select
    /// another route. Off unless set.
    pub allow_encoded_slashes: bool,
    /// Key `upgrades`: the `Upgrade` protocols passed to the backend
    /// (lowercase); `["websocket"]` unless set, `[]` for none. Never
    /// `h2c`.
    pub upgrades: Vec<String>,
    /// 1-based `(line, col)` of the `[[route]]` header, for messages about
    /// this route at run time (no certificate, backend unresolvable).
    pub location: (usize, usize),
}

/// `health_check = { path = "/api/health", interval = "5s" }` of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// The request path (and query) probed on every backend.
    pub path: String,
    /// `5s` unless set; at least `100ms`.
    pub interval: Duration,
    /// `2s` unless set.
    pub timeout: Duration,
}

/// `access` of a route: who may reach it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Access {
    /// Only requests arriving through the tunnel, from peers `allow` admits.
    #[default]
    Tunnel,
    /// Clients presenting a certificate signed by `client_ca`.
    Mtls,
    /// Requests the `forward_auth` service approves.
    ForwardAuth,
    /// Anyone who can reach the entrypoint.
    Public,
}

/// One `allow` entry of a route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AllowRule {
    /// `peer:NAME`: the `[[peer]]` of that name.
    Peer(String),
    /// `tag:NAME`: every peer with that tag.
    Tag(String),
}

/// The entrypoints used when routes exist but no `[[entrypoint]]` is
/// written: HTTPS on tunnel port 443, and the redirect on tunnel port 80.
pub(crate) fn default_entrypoints() -> Vec<EntrypointConfig> {
    vec![
        EntrypointConfig {
            name: "tunnel-https".to_string(),
            listen: Listen::Tunnel { port: 443 },
            protocol: EntrypointProtocol::Https,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_source: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
        },
        EntrypointConfig {
            name: "tunnel-http".to_string(),
            listen: Listen::Tunnel { port: 80 },
            protocol: EntrypointProtocol::Http,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_source: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
        },
    ]
}

// === impl EntrypointProtocol ===

impl FromStr for EntrypointProtocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "https" => Ok(EntrypointProtocol::Https),
            "http" => Ok(EntrypointProtocol::Http),
            other => Err(format!(
                "`{other}` is not an entrypoint protocol (expected \"https\" or \"http\")"
            )),
        }
    }
}

// === impl RouteConfig ===

impl RouteConfig {
    /// Whether a response header of the forward-auth service is copied into
    /// the request to the backend.
    pub fn copies_auth_header(&self, name: &str) -> bool {
        if self.forward_auth_response_headers.is_empty() {
            let starts = |prefix: &str| {
                name.get(..prefix.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            };
            starts("remote-") || starts("x-auth")
        } else {
            self.forward_auth_response_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
        }
    }
}

// === impl Access ===

impl FromStr for Access {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tunnel" => Ok(Access::Tunnel),
            "mtls" => Ok(Access::Mtls),
            "forward-auth" => Ok(Access::ForwardAuth),
            "public" => Ok(Access::Public),
            other => Err(format!(
                "`{other}` is not an access mode (expected \"tunnel\", \"mtls\", \
                 \"forward-auth\" or \"public\")"
            )),
        }
    }
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
}

pub(crate) fn parse_ingress(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    base: &Path,
    cx: &IngressContext<'_>,
) -> Ingress {
    let (entrypoints, declared) = parse_entrypoints(root, d, cx);
    let tls = parse_tls(root, d, base);
    let routes = parse_routes(root, d, base, cx, &declared);
    check_wildcards_have_dns(d, &tls, &routes);
    Ingress {
        entrypoints,
        tls,
        routes,
    }
}

/// The entrypoints routes can name: those written (by name, with their
/// protocol when it parsed), or the defaults when none is written.
pub(crate) struct Declared {
    pub(crate) written: bool,
    pub(crate) entrypoints: Vec<(String, Option<EntrypointProtocol>)>,
    /// Whether any entrypoint may serve routes: one is https, or has a
    /// mistake (in its name or protocol) that hides what it is meant to be.
    pub(crate) may_serve_https: bool,
}

// === [[entrypoint]] ===

fn parse_entrypoints(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    cx: &IngressContext<'_>,
) -> (Vec<EntrypointConfig>, Declared) {
    let tables = root.array_of_tables(d, "entrypoint");
    let written = !tables.is_empty();
    let mut may_serve_https = !written;
    let mut names: Vec<(String, Span)> = Vec::new();
    let mut protocols = Vec::new();
    let mut listens: Vec<(Listen, Span)> = Vec::new();
    let mut configs = Vec::new();
    for mut t in tables {
        let name = t.required_with(d, "name", parse_entrypoint_name);
        let listen = t.required_with_hint(d, "listen", str::parse::<Listen>, bare_port_hint);
        // `None` only when `protocol` is written and invalid.
        let protocol_written = t.contains("protocol");
        let protocol = match t.optional_parsed::<EntrypointProtocol>(d, "protocol") {
            Some(p) => Some(p.value),
            None if protocol_written => None,
            None => Some(EntrypointProtocol::default()),
        };
        let max_connections = t
            .optional_int(d, "max_connections", CONNECTIONS)
            .map_or(DEFAULT_MAX_CONNECTIONS, |v| v.value);
        let max_connections_per_source = t
            .optional_int(d, "max_connections_per_source", CONNECTIONS)
            .map_or(DEFAULT_MAX_CONNECTIONS_PER_SOURCE, |v| v.value);
        t.finish(d);
        if name.is_none() || protocol != Some(EntrypointProtocol::Http) {
            may_serve_https = true;
        }

        if let Some(name) = &name {
            match names.iter().find(|(other, _)| *other == name.value) {
                Some((_, first)) => {
                    let line = d.line_of(first);
                    let message = format!(
                        "name: entrypoint name `{}` is already used on line {line}",
                        name.value
                    );
                    d.error(&name.span, message);
                }
                None => {
                    names.push((name.value.clone(), name.span.clone()));
                    protocols.push((name.value.clone(), protocol));
                }
            }
        }
        if let Some(listen) = &listen {
            check_listen(d, &listens, cx, listen);
            listens.push((listen.value, listen.span.clone()));
        }
        if let (Some(name), Some(listen), Some(protocol)) = (name, listen, protocol) {
            configs.push(EntrypointConfig {
                name: name.value,
                listen: listen.value,
                protocol,
                max_connections,
                max_connections_per_source,
            });
        }
    }
    let declared = Declared {
        written,
        entrypoints: if written {
            protocols
        } else {
            default_entrypoints()
                .into_iter()
                .map(|e| (e.name, Some(e.protocol)))
                .collect()
        },
        may_serve_https,
    };
    (configs, declared)
}

/// Listen addresses are unique, and a tunnel port is not also a `[[tcp]]`
/// service port (the netstack has one listener per port).
fn check_listen(
    d: &mut Diagnostics<'_>,
    earlier: &[(Listen, Span)],
    cx: &IngressContext<'_>,
    listen: &Spanned<Listen>,
) {
    let value = listen.value;
    if let Some((other, first)) = earlier.iter().find(|(other, _)| other.clashes_with(&value)) {
        let line = d.line_of(first);
        let message = if *other == value {
            format!("listen: {value} is already used on line {line}")
        } else {
            format!("listen: {value} clashes with {other} on line {line} (same port)")
        };
        d.error(&listen.span, message);
    }
    if let Listen::Tunnel { port } = value {
        if let Some((_, tcp)) = cx.tcp_ports.iter().find(|(p, _)| *p == port) {
            let line = d.line_of(tcp);
            let message =
                format!("listen: tunnel port {port} is already used by [[tcp]] on line {line}");
            d.error(&listen.span, message);
        }
    }
}

fn parse_entrypoint_name(s: &str) -> Result<String, String> {
    let valid = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a valid entrypoint name (1 to 64 of A-Z, a-z, 0-9, `.`, `_` and `-`)"
        ))
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
