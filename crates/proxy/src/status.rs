//! What the proxy reports about its routes and backends, for `wingress
//! status` and the metrics.

use serde::Serialize;

use crate::spec::BackendAddr;
use crate::stats::RouteStatsSnapshot;

/// The state of one backend of one route, for status pages and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendStatus {
    /// Index of the route in the `Vec<RouteSpec>` given to `Proxy::new`.
    pub route: usize,
    /// The route's host, as `example.com`, `*.home.arpa` or `*`.
    pub route_host: String,
    pub path_prefix: String,
    pub backend: BackendAddr,
    pub healthy: bool,
    /// Requests sent to this backend (each attempt counts).
    pub requests: u64,
}

/// One route as `wingress status` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouteStatus {
    /// `example.com`, `*.home.arpa` or `*`.
    pub host: String,
    pub path_prefix: String,
    pub access: &'static str,
    /// Empty: every entrypoint.
    pub entrypoints: Vec<String>,
    pub backends: Vec<BackendHealth>,
    pub stats: RouteStatsSnapshot,
}

/// One backend of a route, for status pages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackendHealth {
    pub address: String,
    /// In rotation: its last health check passed (or it has none) and it
    /// is not passively ejected.
    pub healthy: bool,
    /// Whether an active health check runs for it.
    pub health_checked: bool,
    /// Requests sent to it (each attempt counts).
    pub requests: u64,
}
