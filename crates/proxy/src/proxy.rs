//! The [`Proxy`]: a compiled route table with per-route backend pools.

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::server::{serve_connection, Handler, HandlerFuture};
use crate::spec::{ConnInfo, ProxyOptions, RouteSpec};
use crate::stats::ProxyStats;
use crate::status::{BackendStatus, RouteStatus};
use crate::table::RouteTable;
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
    /// Shared with the health checks, which hold it weakly: they stop when
    /// the proxy is dropped.
    pub(crate) table: Arc<RouteTable>,
    health_started: AtomicBool,
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
        Arc::new(Proxy {
            table: Arc::new(RouteTable::new(routes, opts, stats)),
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
        let opts = self.table.opts.clone();
        let stats = self.table.stats.clone();
        serve_connection(io, conn, opts, Rc::new(ProxyHandler(self)), None, stats).await;
    }

    /// Spawns the active health checks (`tokio::spawn`) of routes that have
    /// them. They hold only a `Weak` and stop once the `Proxy` is dropped.
    /// Calling this again does nothing.
    pub fn start_health_checks(self: &Arc<Self>) {
        if !self.health_started.swap(true, Ordering::SeqCst) {
            health::spawn_all(&self.table);
        }
    }

    /// The state of every backend of every route, in configuration order.
    pub fn backend_status(&self) -> Vec<BackendStatus> {
        self.table.backend_status()
    }

    /// Every route in configuration order, with its backends' health and
    /// its request counters.
    pub fn route_status(&self) -> Vec<RouteStatus> {
        self.table.route_status()
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
        let selected = self.table.router.select(&host, path, entrypoint)?;
        Ok(selected.map(|s| (s.index, s.path)))
    }

    /// The counters this proxy adds to (the ones given to
    /// [`Proxy::with_stats`]).
    pub fn stats(&self) -> &Arc<ProxyStats> {
        &self.table.stats
    }

    /// Counters of requests that no route took.
    pub fn unrouted_stats(&self) -> crate::RouteStatsSnapshot {
        self.table.stats.unrouted().snapshot()
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

impl AsRef<Proxy> for Proxy {
    fn as_ref(&self) -> &Proxy {
        self
    }
}

/// Serves connections with one fixed [`Proxy`].
struct ProxyHandler(Arc<Proxy>);

impl Handler for ProxyHandler {
    fn handle(
        &self,
        req: http::Request<hyper::body::Incoming>,
        conn: Rc<crate::conn::ConnState>,
    ) -> HandlerFuture {
        handle_request(self.0.clone(), req, conn)
    }
}

/// Serves one request with the proxy `table` carries (a [`Proxy`], or a
/// generation holding one: see [`crate::LiveProxy`]).
pub(crate) fn handle_request<T>(
    table: Arc<T>,
    req: http::Request<hyper::body::Incoming>,
    conn: Rc<crate::conn::ConnState>,
) -> HandlerFuture
where
    T: AsRef<Proxy> + 'static,
{
    Box::pin(async move {
        let proxy: &Proxy = (*table).as_ref();
        let mut handled = forward::handle(&proxy.table, req, conn).await;
        if handled.stats.is_none() {
            handled.stats = Some(proxy.table.stats.unrouted().clone());
        }
        handled
    })
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
