//! HTTP routing for wingress: Host/path routes, access policy by WireGuard
//! peer, identity headers, load balancing, health checks.
//!
//! The caller accepts connections (and terminates TLS), describes each one
//! with a [`ConnInfo`], and spawns [`Proxy::serve`] on a `LocalSet`. The
//! request path reads top-down in `forward`: `router` picks a route,
//! `policy` decides access, `forward_auth` asks an auth service when the
//! route says so, `headers` rewrites identity and forwarding headers, and
//! `upstream` picks a healthy backend, which `client` talks to over pooled
//! HTTP/1.1 or HTTP/2 (`sender`: h2c by prior knowledge, h2 by ALPN), on
//! TLS for `https://` backends (`backend_tls`), or in-process duplex
//! streams for a backend inside this process (`in_process`). `server`
//! drives the client connection (HTTP/1.1 or HTTP/2, timeouts, upgrades).
//!
//! # Behaviour worth knowing
//!
//! - **Routing.** Host (or the absolute-form/`:authority` authority) is
//!   checked (`host`: 400 for what no DNS name has), lowercased and stripped
//!   of port and trailing dot. Among the routes whose entrypoint, host and
//!   path all match (the path as [`PathMatch`] says: a plain-string prefix
//!   like Traefik's `PathPrefix`, where `/api` matches `/apix`, or
//!   Kubernetes' `Prefix` and `Exact` path types), the most specific wins:
//!   exact host, then the longest wildcard suffix (one label), then `Any`;
//!   then the longest prefix, `Exact` first at equal length. A host
//!   whose routes don't cover a path falls through to wildcard and catch-all
//!   routes. Paths are made canonical first (`path`: unreserved escapes
//!   decoded, dot segments removed, slashes merged; encoded slashes,
//!   backslashes, controls and double encodings refused with 400), and the
//!   canonical path is what the backend and forward-auth receive. No match:
//!   404.
//! - **Identity.** Every client-supplied header in the `X-Wingress-*`
//!   namespace is removed (also spelled with `_`), then `X-Wingress-Peer`,
//!   `-Peer-Key` and `-Peer-Tags` are set for tunnel peers, and
//!   `X-Wingress-Client-Subject` for requests admitted by an mTLS route.
//!   `X-Forwarded-For` and `X-Real-Ip` are replaced by the client address.
//! - **Forward-auth.** The headers the auth service may set (`copy_headers`,
//!   or `remote-*`/`x-auth*`) are always removed from the client's request
//!   first, so they can only come from the auth service.
//! - **Backends.** A connect failure ejects the backend (until its next good
//!   health check, or for 10 s) and a bodyless GET/HEAD is retried once on
//!   another backend; otherwise 502. 503 only when no backend was up to try,
//!   which includes routes without backends (a Kubernetes Service with no
//!   ready endpoint).
//!   The response timeout starts once the request body has been sent.
//! - **Connections.** `header_read_timeout` runs from the first byte of a
//!   request head; `idle_timeout` from the end of the last response. Requests
//!   hyper rejects itself (malformed: 400, head over `max_header_bytes`: 431)
//!   get an access log line with `-` for method, host and path.
#![forbid(unsafe_code)]

mod access_log;
mod backend_tls;
mod body;
mod client;
mod conn;
mod dns;
mod forward;
mod forward_auth;
#[doc(hidden)]
pub mod fuzzing;
mod grpc;
mod headers;
mod health;
mod host;
mod in_process;
mod limits;
mod live;
mod pages;
mod path;
mod policy;
mod pool;
mod proxy;
mod redirect;
mod router;
mod sender;
mod server;
mod spec;
mod stats;
mod status;
mod table;
mod upstream;
mod websocket;

pub use host::{normalize_host, HostError};
pub use in_process::{in_process, InProcessConnector, InProcessListener, IN_PROCESS_BUFFER};
pub use limits::{ConnCaps, ConnLimiter, ConnPermit, Limit, Source};
pub use live::LiveProxy;
pub use path::{normalize as normalize_path, EncodedSlash, PathError};
pub use proxy::{Proxy, RequestError};
pub use redirect::{serve_redirect, Http01Responder};
pub use spec::{
    Access, AllowRule, BackendAddr, BackendScheme, BackendTls, ClientCertCheck, ConnInfo,
    ForwardAuthSpec, HealthCheckSpec, HostMatch, PathMatch, PeerIdentity, ProxyOptions, RouteSpec,
    Scheme,
};
pub use stats::{ProxyStats, RouteStats, RouteStatsSnapshot, LATENCY_BUCKETS, STATUS_CLASSES};
pub use status::{BackendHealth, BackendStatus, RouteStatus};
