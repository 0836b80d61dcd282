//! The proxy's input types: who is connecting, and the already-validated
//! route table. The daemon maps its configuration into these; this crate
//! depends on no other wingress crate.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;

use crate::in_process::InProcessConnector;

/// A WireGuard peer known to the daemon, attached to connections that came
/// through the tunnel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    pub name: String,
    /// The peer's public key, standard base64.
    pub public_key: String,
    pub tags: Vec<String>,
}

/// The scheme the client used to reach the entrypoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Everything the proxy knows about one accepted client connection.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    /// The client's address: the peer's tunnel address, or the host socket's peer.
    pub remote: SocketAddr,
    /// The entrypoint (listener) name the connection arrived on.
    pub entrypoint: Arc<str>,
    pub scheme: Scheme,
    /// `Some` only for connections that came through WireGuard from a known peer.
    pub peer: Option<Arc<PeerIdentity>>,
    /// The client certificate chain presented during the TLS handshake, if any.
    pub client_chain: Option<Arc<Vec<CertificateDer<'static>>>>,
    /// The TLS layer negotiated `h2`: serve HTTP/2 only. Otherwise TLS
    /// connections get HTTP/1.1 only, and plain connections are sniffed for
    /// the HTTP/2 prior-knowledge preface.
    pub alpn_h2: bool,
}

/// Which `Host` a route answers for. Hosts are compared lowercased, without
/// the port and without a trailing dot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMatch {
    /// Exactly this host.
    Exact(String),
    /// Any host of one more label than this suffix, as a certificate's
    /// wildcard: `.home.arpa` matches `a.home.arpa`, not `a.b.home.arpa`
    /// nor `home.arpa` itself. `*.home.arpa` and `home.arpa` are accepted
    /// and mean the same.
    Wildcard(String),
    /// Every host, including requests without one.
    Any,
}

impl fmt::Display for HostMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostMatch::Exact(host) => f.write_str(host),
            HostMatch::Wildcard(suffix) => {
                let suffix = suffix.trim_start_matches('*').trim_start_matches('.');
                write!(f, "*.{suffix}")
            }
            HostMatch::Any => f.write_str("*"),
        }
    }
}

/// Who may use a route.
#[derive(Clone)]
pub enum Access {
    /// Only WireGuard peers admitted by the route's `allow` list.
    Tunnel,
    /// Only clients whose certificate chain passes the check. Tunnel peers
    /// are not exempt.
    Mtls(Arc<dyn ClientCertCheck>),
    /// Admitted tunnel peers pass; everyone else is asked of an
    /// authentication service, like Traefik's forwardAuth.
    ForwardAuth(ForwardAuthSpec),
    /// Anyone.
    Public,
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Tunnel => f.write_str("Tunnel"),
            Access::Mtls(_) => f.write_str("Mtls(..)"),
            Access::ForwardAuth(spec) => f.debug_tuple("ForwardAuth").field(spec).finish(),
            Access::Public => f.write_str("Public"),
        }
    }
}

impl Access {
    /// The config spelling: `tunnel`, `mtls`, `forward-auth`, `public`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Access::Tunnel => "tunnel",
            Access::Mtls(_) => "mtls",
            Access::ForwardAuth(_) => "forward-auth",
            Access::Public => "public",
        }
    }
}

/// Verifies a presented client certificate chain (leaf first). The TLS
/// layer may already have verified it; routes check again because one
/// listener can serve routes trusting different CAs.
pub trait ClientCertCheck: Send + Sync {
    fn verify(&self, chain: &[CertificateDer<'_>]) -> bool;
    /// A display name for the client, sent to the backend in
    /// `X-Wingress-Client-Subject` after a successful `verify`.
    fn subject(&self, chain: &[CertificateDer<'_>]) -> Option<String>;
}

/// Where and how to ask an authentication service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardAuthSpec {
    pub url: BackendAddr,
    /// Path and query of the auth endpoint, e.g. `/api/verify?rd=…`.
    pub path_and_query: String,
    /// Auth response headers copied onto the upstream request. Empty: every
    /// header whose name starts with `remote-` or `x-auth`.
    pub copy_headers: Vec<String>,
}

/// One entry of a route's allow list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowRule {
    /// The peer with this name.
    Peer(String),
    /// Any peer carrying this tag.
    Tag(String),
}

/// A backend (or auth service) address, and how it is spoken to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BackendAddr {
    /// A DNS name or an IP literal (IPv6 with or without brackets).
    pub host: String,
    pub port: u16,
    pub scheme: BackendScheme,
}

/// How a backend is spoken to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BackendScheme {
    /// HTTP/1.1 over TCP.
    #[default]
    Http,
    /// TLS as the route's [`BackendTls`] says; HTTP/2 when ALPN picks
    /// `h2` (offered only if the transport's ALPN list has it), otherwise
    /// HTTP/1.1.
    Https,
    /// HTTP/2 over TCP with prior knowledge (RFC 9113 section 3.3).
    H2c,
    /// HTTP/1.1 over in-process streams, opened by the route's
    /// [`RouteSpec::in_process`] connector; the address is only a name
    /// (shown in status and logs).
    InProcess,
}

impl BackendScheme {
    /// Whether connections run TLS.
    pub fn is_tls(self) -> bool {
        self == BackendScheme::Https
    }

    /// The URI scheme requests carry on HTTP/2 (`:scheme`).
    pub(crate) fn uri_scheme(self) -> http::uri::Scheme {
        if self.is_tls() {
            http::uri::Scheme::HTTPS
        } else {
            http::uri::Scheme::HTTP
        }
    }
}

/// How a route talks TLS to its `https://` backends and forward-auth
/// service: a rustls client configuration (roots, client certificate,
/// ALPN) and the name to send and verify, the backend's host unless set.
#[derive(Clone)]
pub struct BackendTls {
    pub config: Arc<rustls::ClientConfig>,
    pub server_name: Option<rustls_pki_types::ServerName<'static>>,
    /// What `config` and `server_name` were built from (the transport's
    /// settings and files): routes whose keys are equal share pooled
    /// connections, across reloads too. Two different configurations
    /// must not have the same key.
    pub key: u64,
}

impl fmt::Debug for BackendTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl BackendAddr {
    /// The host as an IP address, if it is a literal.
    pub(crate) fn ip_literal(&self) -> Option<IpAddr> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host.parse().ok()
    }
}

impl BackendAddr {
    /// The name sent as SNI and verified: the host, without brackets.
    pub(crate) fn server_name(&self) -> Option<rustls_pki_types::ServerName<'static>> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        rustls_pki_types::ServerName::try_from(host.to_string()).ok()
    }
}

impl BackendAddr {
    /// An in-process backend shown as `name`.
    pub fn in_process(name: &str) -> BackendAddr {
        BackendAddr {
            host: name.to_string(),
            port: 0,
            scheme: BackendScheme::InProcess,
        }
    }
}

impl fmt::Display for BackendAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scheme == BackendScheme::InProcess {
            return f.write_str(&self.host);
        }
        match self.ip_literal() {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            _ => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

/// Active health checking for a route's backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheckSpec {
    /// Path (and query) requested with GET; 2xx and 3xx mean healthy.
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
}

/// How a route's `path_prefix` compares with a request's canonical path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PathMatch {
    /// A plain string prefix, like Traefik's `PathPrefix`: `/api` matches
    /// `/api`, `/api/x` and `/apix`.
    #[default]
    Prefix,
    /// Kubernetes' `Prefix` path type: the prefix's `/`-separated elements
    /// are the path's first elements. `/foo` and `/foo/` match `/foo`,
    /// `/foo/` and `/foo/bar`, not `/foobar`; `/` matches every path.
    Segments,
    /// Kubernetes' `Exact` path type: the path is the prefix (`/foo` does
    /// not match `/foo/`).
    Exact,
}

/// One route: which requests it takes, who may use it, where they go.
#[derive(Clone, Debug)]
pub struct RouteSpec {
    pub host: HostMatch,
    /// The request path this route takes, compared as `path_match` says.
    /// Empty means `/`.
    pub path_prefix: String,
    /// How `path_prefix` matches: a string prefix for routes from the
    /// file, Kubernetes' path types for routes from Ingresses. Among
    /// matching routes of one host the longest `path_prefix` wins, and
    /// [`PathMatch::Exact`] beats the others at equal length.
    pub path_match: PathMatch,
    /// May be empty (a Kubernetes Service with no ready endpoint): the
    /// route then answers 503, like one whose backends are all down.
    pub backends: Vec<BackendAddr>,
    /// One weight per backend; empty means equal weights. A missing entry
    /// counts as 1; a zero weight takes the backend out of rotation.
    pub weights: Vec<u32>,
    pub health_check: Option<HealthCheckSpec>,
    pub access: Access,
    /// Which tunnel peers pass `Tunnel` (and skip `ForwardAuth`). Empty: every
    /// tunnel peer.
    pub allow: Vec<AllowRule>,
    /// Entrypoints the route is served on. Empty: all.
    pub entrypoints: Vec<String>,
    /// How long to wait for the backend's response headers once the request
    /// has been sent. Zero disables the limit.
    pub timeout: Duration,
    /// A request's `grpc-timeout` (the gRPC client's deadline), plus a
    /// second, replaces `timeout` for that request, longer or shorter.
    pub grpc_deadline: bool,
    /// TCP connect timeout towards backends. Zero disables the limit.
    pub connect_timeout: Duration,
    /// Paths with encoded slashes (`%2F`) are served, the slashes kept
    /// encoded, when every reading of the path (slashes decoded or not)
    /// selects this route. Otherwise such paths get 400.
    pub allow_encoded_slashes: bool,
    /// The `Upgrade` protocols passed to the backend, lowercase (names
    /// without version); others are dropped from the request. The daemon
    /// gives `["websocket"]` unless the route says otherwise; `h2c` is
    /// never forwarded.
    pub upgrades: Vec<String>,
    /// TLS for the backends (and forward-auth service) whose address has
    /// `tls` set. Needed when one has; a TLS address without it cannot be
    /// connected to.
    pub tls: Option<BackendTls>,
    /// Opens the connections of the backends whose scheme is
    /// [`BackendScheme::InProcess`]. Needed when one is; without it (or
    /// once its listener is gone) connecting fails like a refused TCP
    /// connection.
    pub in_process: Option<InProcessConnector>,
}

/// Per-connection limits, shared by all routes. A zero duration disables
/// that timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyOptions {
    /// How long a client may take to send a request head once it started.
    pub header_read_timeout: Duration,
    /// Largest accepted request head (request line plus headers); larger
    /// heads get 431.
    pub max_header_bytes: usize,
    /// How long a connection may sit without a request in flight.
    pub idle_timeout: Duration,
    /// How long a request body may go without a byte from the client; then
    /// the request is answered 408 and the backend request abandoned.
    pub body_timeout: Duration,
    /// How long a response may wait for the client to take more of it (the
    /// client stopped reading, or keeps an HTTP/2 window shut); then the
    /// connection is closed.
    pub send_timeout: Duration,
    /// Concurrent HTTP/2 streams per connection (announced to the client).
    pub max_streams: u32,
    /// Backend connections one client connection may hold at once (its
    /// requests in flight to backends and forward-auth); more wait.
    pub max_backend_connections: u32,
    /// How long an upgraded connection (WebSocket) may carry no byte either
    /// way before it is closed.
    pub upgrade_idle_timeout: Duration,
    /// How often backend host names are resolved again.
    pub dns_refresh: Duration,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            idle_timeout: Duration::from_secs(90),
            body_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
            max_streams: 100,
            max_backend_connections: 32,
            upgrade_idle_timeout: Duration::from_secs(3600),
            dns_refresh: Duration::from_secs(30),
        }
    }
}

/// A timeout from the spec: zero means none.
pub(crate) fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}
