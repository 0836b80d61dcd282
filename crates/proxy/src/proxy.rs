//! The [`Proxy`]: a compiled route table with per-route backend pools.

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::client::BackendClient;
use crate::dns::CachingResolver;
use crate::forward_auth::AuthTarget;
use crate::router::{RouteKey, Router};
use crate::server::{serve_connection, Handler, HandlerFuture};
use crate::spec::{
    Access, BackendHealth, BackendStatus, ConnInfo, ProxyOptions, RouteSpec, RouteStatus,
};
use crate::stats::{ProxyStats, RouteStats};
use crate::upstream::Upstream;
use crate::{forward, health};

/// An HTTP reverse proxy for one route table. Build one per configuration
/// and swap the `Arc` on reload; connections already being served keep the
/// table they started with.
///
/// Call order: [`Proxy::new`], then [`Proxy::start_health_checks`] once
/// (from within a tokio runtime), then [`Proxy::serve`] for every accepted
/// connection, each on its own `spawn_local` task.
#[derive(Debug)]
pub struct Proxy {
    pub(crate) router: Router,
    pub(crate) routes: Vec<Route>,
    pub(crate) opts: ProxyOptions,
    pub(crate) stats: Arc<ProxyStats>,
    health_started: AtomicBool,
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

impl Proxy {
    pub fn new(routes: Vec<RouteSpec>, opts: ProxyOptions) -> Arc<Proxy> {
        Self::with_stats(routes, opts, ProxyStats::new())
    }

    /// [`Proxy::new`] counting requests into `stats`, which outlives this
    /// proxy: pass the same one to every proxy a reload builds.
    pub fn with_stats(
        routes: Vec<RouteSpec>,
        opts: ProxyOptions,
        stats: Arc<ProxyStats>,
    ) -> Arc<Proxy> {
        let router = Router::new(routes.iter().map(|r| {
            RouteKey::new(
                &r.host,
                &r.path_prefix,
                &r.entrypoints,
                r.allow_encoded_slashes,
            )
        }));
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
                    client: BackendClient::new(spec.connect_timeout, resolver.clone()),
                    upstream,
                    auth,
                    spec,
                }
            })
            .collect();
        Arc::new(Proxy {
            router,
            routes,
            opts,
            stats,
            health_started: AtomicBool::new(false),
        })
    }

    /// Serves one connection until it closes. Must run inside a tokio
    /// `LocalSet` (HTTP/2 streams are spawned with `spawn_local`), on any
    /// runtime flavour. The IO need not be `Send`.
    pub async fn serve<IO>(self: Arc<Self>, io: IO, conn: ConnInfo)
    where
        IO: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        let opts = self.opts.clone();
        let stats = self.stats.clone();
        serve_connection(io, conn, opts, Rc::new(ProxyHandler(self)), None, stats).await;
    }

    /// Spawns the active health checks (`tokio::spawn`) of routes that have
    /// them. They hold only a `Weak` and stop once the `Proxy` is dropped.
    /// Calling this again does nothing.
    pub fn start_health_checks(self: &Arc<Self>) {
        if !self.health_started.swap(true, Ordering::SeqCst) {
            health::spawn_all(self);
        }
    }

    /// The state of every backend of every route, in configuration order.
    pub fn backend_status(&self) -> Vec<BackendStatus> {
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
    pub fn route_status(&self) -> Vec<RouteStatus> {
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

    /// The route (its index in the `Vec<RouteSpec>` given to
    /// [`Proxy::new`]) that a request for `host` (a `Host` value) and `path`
    /// (as received, without the query) on `entrypoint` goes to, and the
    /// path its backend receives; `Ok(None)` when no route matches (404).
    /// Requests are routed by this same code; it is public for tests and
    /// fuzzing.
    pub fn route_for<'p>(
        &self,
        host: &str,
        path: &'p str,
        entrypoint: &str,
    ) -> Result<Option<(usize, Cow<'p, str>)>, RequestError> {
        let host = crate::host::normalize_host(host)?;
        let selected = self.router.select(&host, path, entrypoint)?;
        Ok(selected.map(|s| (s.index, s.path)))
    }

    /// The counters this proxy adds to (the ones given to
    /// [`Proxy::with_stats`]).
    pub fn stats(&self) -> &Arc<ProxyStats> {
        &self.stats
    }

    /// Counters of requests that no route took.
    pub fn unrouted_stats(&self) -> crate::RouteStatsSnapshot {
        self.stats.unrouted().snapshot()
    }
}

/// Why [`Proxy::route_for`] refused a request (a 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Host(#[from] crate::HostError),
    #[error(transparent)]
    Path(#[from] crate::PathError),
}

pub(crate) struct ProxyHandler(pub(crate) Arc<Proxy>);

impl Handler for ProxyHandler {
    fn handle(
        &self,
        req: http::Request<hyper::body::Incoming>,
        conn: Rc<crate::conn::ConnState>,
    ) -> HandlerFuture {
        let proxy = self.0.clone();
        Box::pin(async move {
            let mut handled = forward::handle(&proxy, req, conn).await;
            if handled.stats.is_none() {
                handled.stats = Some(proxy.stats.unrouted().clone());
            }
            handled
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Proxy>();
        assert_send_sync::<Arc<Proxy>>();
    }
}
