//! The admin thread: HTTP/1.1 on the Unix socket and the TCP address, on
//! its own single-threaded runtime, so a slow or hostile admin client
//! never runs on (or waits for) the data-plane thread. It holds only what
//! it needs: [`Health`] for the probes, a [`DataPlane`] to ask for the
//! status, the metrics and reloads, the TCP token, and its counters.
//!
//! Bounds: at most [`MAX_CONNECTIONS`] per listener (more are closed at
//! once and counted), [`HEADER_TIMEOUT`] to send a request head (also the
//! idle time allowed between keep-alive requests), heads of at most
//! [`MAX_HEAD`] bytes, and [`MAX_LIFETIME`] per connection.

use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;

use super::query::{DataPlane, Query, Reply};
use super::token::Token;
use crate::control::ready::{Health, Probe};
use crate::control::registry::Exposition;

/// Open connections per listener; admin clients are a CLI, a scraper and
/// probes.
pub(crate) const MAX_CONNECTIONS: usize = 32;
/// To send a whole request head, and to start the next one on a
/// keep-alive connection.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A request head larger than this is not an admin client's (hyper's
/// smallest buffer).
const MAX_HEAD: usize = 8192;
/// No connection lives longer, whatever it does (a reload takes less).
const MAX_LIFETIME: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Unix,
    Tcp,
}

impl Origin {
    fn index(self) -> usize {
        match self {
            Origin::Unix => 0,
            Origin::Tcp => 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Origin::Unix => "unix",
            Origin::Tcp => "tcp",
        }
    }
}

/// Counters for `/metrics`, kept by the admin thread.
#[derive(Debug, Default)]
pub(crate) struct AdminStats {
    open: [AtomicI64; 2],
    refused: [AtomicU64; 2],
    timed_out: [AtomicU64; 2],
    unauthorized: AtomicU64,
}

impl AdminStats {
    pub(crate) fn render(&self, m: &mut Exposition) {
        let per_listener =
            |m: &mut Exposition, name: &str, kind: &str, help: &str, v: &dyn Fn(usize) -> f64| {
                m.family(name, kind, help);
                for origin in [Origin::Unix, Origin::Tcp] {
                    m.sample(name, &[("listener", origin.name())], v(origin.index()));
                }
            };
        per_listener(
            m,
            "wingress_admin_open_connections",
            "gauge",
            "Open connections to the admin API.",
            &|i| self.open[i].load(Ordering::Relaxed) as f64,
        );
        per_listener(
            m,
            "wingress_admin_connections_refused_total",
            "counter",
            "Admin connections closed at once because the listener had its maximum open.",
            &|i| self.refused[i].load(Ordering::Relaxed) as f64,
        );
        per_listener(
            m,
            "wingress_admin_connections_timed_out_total",
            "counter",
            "Admin connections closed for a slow request head, idleness, or their lifetime limit.",
            &|i| self.timed_out[i].load(Ordering::Relaxed) as f64,
        );
        m.family(
            "wingress_admin_unauthorized_total",
            "counter",
            "Admin requests over TCP refused for a missing or wrong bearer token.",
        );
        m.sample(
            "wingress_admin_unauthorized_total",
            &[],
            self.unauthorized.load(Ordering::Relaxed) as f64,
        );
    }
}

/// What the admin thread holds.
pub(crate) struct Inputs {
    pub(crate) health: Arc<Health>,
    pub(crate) data_plane: DataPlane,
    pub(crate) token: Option<Token>,
    pub(crate) stats: Arc<AdminStats>,
    /// The web dashboard, started on this thread's runtime.
    pub(crate) dashboard: Option<crate::control::dashboard::Start>,
}

/// The listeners, ready to move to the admin thread.
pub(crate) struct Listeners {
    pub(crate) unix: std::os::unix::net::UnixListener,
    pub(crate) tcp: Option<std::net::TcpListener>,
}

/// Runs the admin thread until `stop` fires (or its sender is dropped).
pub(crate) fn run(
    rt: tokio::runtime::Runtime,
    listeners: Listeners,
    mut inputs: Inputs,
    stop: oneshot::Receiver<()>,
) {
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        if let Some(dashboard) = inputs.dashboard.take() {
            dashboard.spawn(inputs.data_plane.clone());
        }
        let inputs = Rc::new(inputs);
        let unix = match tokio::net::UnixListener::from_std(listeners.unix) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "admin socket unusable; the admin api is off");
                return;
            }
        };
        let tcp = listeners
            .tcp
            .map(tokio::net::TcpListener::from_std)
            .transpose();
        let tcp = match tcp {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "admin tcp listener unusable; the admin api serves the unix socket only");
                None
            }
        };
        let unix_loop = {
            let (inputs, open) = (inputs.clone(), Rc::new(Cell::new(0)));
            async move {
                loop {
                    match unix.accept().await {
                        Ok((s, _)) => admit(&inputs, &open, s, Origin::Unix),
                        Err(e) => backoff("admin socket accept failed", &e).await,
                    }
                }
            }
        };
        let tcp_loop = async move {
            let Some(tcp) = tcp else {
                return std::future::pending().await;
            };
            let open = Rc::new(Cell::new(0));
            loop {
                match tcp.accept().await {
                    Ok((s, _)) => admit(&inputs, &open, s, Origin::Tcp),
                    Err(e) => backoff("admin tcp accept failed", &e).await,
                }
            }
        };
        tokio::select! {
            _ = stop => {}
            () = unix_loop => {}
            () = tcp_loop => {}
        }
    });
}

/// Too many open descriptors and the like: wait rather than spin.
async fn backoff(what: &str, e: &std::io::Error) {
    tracing::warn!(error = %e, "{what}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Serves `io` unless the listener already has its maximum open.
fn admit<IO>(inputs: &Rc<Inputs>, open: &Rc<Cell<usize>>, io: IO, origin: Origin)
where
    IO: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let stats = &inputs.stats;
    if open.get() >= MAX_CONNECTIONS {
        stats.refused[origin.index()].fetch_add(1, Ordering::Relaxed);
        tracing::trace!(
            listener = origin.name(),
            "admin connection refused: too many open"
        );
        return;
    }
    let slot = Slot::take(open, stats.clone(), origin);
    let inputs = inputs.clone();
    tokio::task::spawn_local(async move {
        let _slot = slot;
        let service = {
            let inputs = inputs.clone();
            service_fn(move |req| {
                let inputs = inputs.clone();
                async move { Ok::<_, Infallible>(handle(&inputs, req, origin).await) }
            })
        };
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(MAX_HEAD);
        let conn = builder.serve_connection(TokioIo::new(io), service);
        let timed_out = match tokio::time::timeout(MAX_LIFETIME, conn).await {
            Err(_) => true,
            Ok(Err(e)) => e.is_timeout(),
            Ok(Ok(())) => false,
        };
        if timed_out {
            inputs.stats.timed_out[origin.index()].fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// One open connection, counted while it lives.
struct Slot {
    open: Rc<Cell<usize>>,
    stats: Arc<AdminStats>,
    origin: Origin,
}

impl Slot {
    fn take(open: &Rc<Cell<usize>>, stats: Arc<AdminStats>, origin: Origin) -> Slot {
        open.set(open.get() + 1);
        stats.open[origin.index()].fetch_add(1, Ordering::Relaxed);
        Slot {
            open: open.clone(),
            stats,
            origin,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.set(self.open.get().saturating_sub(1));
        self.stats.open[self.origin.index()].fetch_sub(1, Ordering::Relaxed);
    }
}

async fn handle(inputs: &Inputs, req: Request<Incoming>, origin: Origin) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    let post = req.method() == Method::POST;
    // The probes are open everywhere and say nothing else.
    match (path, get) {
        ("/healthz", true) => return probe(inputs.health.live(Instant::now()), "ok\n"),
        ("/readyz", true) => return probe(inputs.health.readiness(Instant::now()), "ready\n"),
        _ => {}
    }
    if origin == Origin::Tcp {
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        let allowed = inputs
            .token
            .as_ref()
            .is_some_and(|t| t.accepts(authorization));
        if !allowed {
            inputs.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
            let why = match inputs.token {
                Some(_) => "a bearer token is required\n",
                None => "this address serves /healthz and /readyz only: set [admin] token_file for the rest\n",
            };
            let mut r = respond(Reply::text(401, why));
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
            return r;
        }
    }
    let reply = match (path, get, post) {
        ("/status", true, _) => inputs.data_plane.ask(Query::Status).await,
        ("/metrics", true, _) => inputs.data_plane.ask(Query::Metrics).await,
        // A Unix socket's file mode says who may reload; the TCP token is
        // for reading (scrapers), not for changing the daemon.
        ("/reload", _, true) if origin == Origin::Tcp => Reply::json(
            403,
            &serde_json::json!({"error": "reload is accepted only on the admin unix socket"}),
        ),
        ("/reload", _, true) => inputs.data_plane.ask(Query::Reload).await,
        ("/status" | "/metrics" | "/healthz" | "/readyz" | "/reload", _, _) => {
            Reply::text(405, "method not allowed\n")
        }
        _ => Reply::text(404, "not found\n"),
    };
    respond(reply)
}

fn probe(p: Probe, ok: &str) -> Response<Full<Bytes>> {
    respond(match p {
        Probe::Ok => Reply::text(200, ok),
        Probe::Starting => Reply::text(503, "starting\n"),
        Probe::Draining => Reply::text(503, "draining\n"),
        Probe::Stalled => Reply::text(503, "stalled\n"),
    })
}

fn respond(reply: Reply) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, reply.content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(reply.body)))
        .unwrap_or_default()
}
