//! [`RouteTable`]: one configuration's routes compiled for serving: the
//! router, and per route its backends, client, forward-auth target and
//! counters. The request path (`forward`) and the health checks (`health`)
//! read it; [`crate::Proxy`] owns it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::client::BackendClient;
use crate::dns::CachingResolver;
use crate::forward_auth::AuthTarget;
use crate::router::{RouteKey, Router};
use crate::spec::{Access, ProxyOptions, RouteSpec};
use crate::stats::{ProxyStats, RouteStats};
use crate::status::{BackendHealth, BackendStatus, RouteStatus};
use crate::upstream::Upstream;

#[derive(Debug)]
pub(crate) struct RouteTable {
    pub(crate) router: Router,
    pub(crate) routes: Vec<Route>,
    pub(crate) opts: ProxyOptions,
    pub(crate) stats: Arc<ProxyStats>,
}

/// One route, ready to serve.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) spec: RouteSpec,
    pub(crate) upstream: Upstream,
    pub(crate) client: BackendClient,
    pub(crate) auth: Option<AuthTarget>,
    pub(crate) stats: Arc<RouteStats>,
}

impl RouteTable {
    pub(crate) fn new(routes: Vec<RouteSpec>, opts: ProxyOptions, stats: Arc<ProxyStats>) -> Self {
        let router = Router::new(routes.iter().map(|r| {
            RouteKey::new(
                &r.host,
                &r.path_prefix,
                &r.entrypoints,
                r.allow_encoded_slashes,
            )
            .matching(r.path_match)
        }));
        stats.forget_unused();
        // One cache for all routes: they often share backends.
        let resolver = CachingResolver::new(opts.dns_refresh);
        let routes = routes
            .into_iter()
            .map(|spec| {
                let upstream =
                    Upstream::new(&spec.backends, &spec.weights, spec.health_check.is_some());
                let auth = match &spec.access {
                    Access::ForwardAuth(auth) => Some(AuthTarget::new(auth)),
                    _ => None,
                };
                Route {
                    stats: stats.route(&spec.host.to_string(), &spec.path_prefix),
                    client: BackendClient::new(
                        spec.connect_timeout,
                        resolver.clone(),
                        spec.tls.clone(),
                        spec.in_process.clone(),
                    ),
                    upstream,
                    auth,
                    spec,
                }
            })
            .collect();
        RouteTable {
            router,
            routes,
            opts,
            stats,
        }
    }

    /// The state of every backend of every route, in configuration order.
    pub(crate) fn backend_status(&self) -> Vec<BackendStatus> {
        let now = tokio::time::Instant::now();
        let mut status = Vec::new();
        for (index, route) in self.routes.iter().enumerate() {
            for (b, backend) in route.upstream.backends.iter().enumerate() {
                status.push(BackendStatus {
                    route: index,
                    route_host: route.spec.host.to_string(),
                    path_prefix: route.spec.path_prefix.clone(),
                    backend: backend.addr.clone(),
                    healthy: route.upstream.is_up(b, now),
                    requests: backend.requests.load(Ordering::Relaxed),
                });
            }
        }
        status
    }

    /// Every route in configuration order, with its backends' health and
    /// its request counters.
    pub(crate) fn route_status(&self) -> Vec<RouteStatus> {
        let now = tokio::time::Instant::now();
        self.routes
            .iter()
            .map(|route| RouteStatus {
                host: route.spec.host.to_string(),
                path_prefix: if route.spec.path_prefix.is_empty() {
                    "/".to_owned()
                } else {
                    route.spec.path_prefix.clone()
                },
                access: route.spec.access.as_str(),
                entrypoints: route.spec.entrypoints.clone(),
                backends: route
                    .upstream
                    .backends
                    .iter()
                    .enumerate()
                    .map(|(b, backend)| BackendHealth {
                        address: backend.addr.to_string(),
                        healthy: route.upstream.is_up(b, now),
                        health_checked: route.spec.health_check.is_some(),
                        requests: backend.requests.load(Ordering::Relaxed),
                    })
                    .collect(),
                stats: route.stats.snapshot(),
            })
            .collect()
    }
}
