//! Drives one client connection: picks HTTP/1.1 or HTTP/2, runs hyper's
//! server on it with a [`Handler`], enforces the head, idle and send
//! timeouts (see `conn`), and hands HTTP/1.1 upgrades to the tunnel.
//!
//! Everything here runs on the connection's own task, inside a `LocalSet`:
//! HTTP/2 streams are spawned with `spawn_local`, so neither the IO nor the
//! handler futures need to be `Send`.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::{sleep_until, timeout_at, Instant};

use crate::access_log::{self, LoggedBody, RequestLog};
use crate::client::Chain;
use crate::conn::{ConnState, Expiry, TrackedIo, NO_DEADLINE};
use crate::limits::Limit;
use crate::pages::RespBody;
use crate::spec::nonzero;
use crate::spec::{ConnInfo, ProxyOptions, Scheme};
use crate::stats::{ProxyStats, RouteStats};
use crate::websocket;

/// What a handler produced for one request.
pub(crate) struct Handled {
    pub(crate) response: Response<RespBody>,
    /// The backend that answered, for the access log.
    pub(crate) backend: Option<Arc<str>>,
    /// The counters this request goes into once its response is done.
    pub(crate) stats: Option<Arc<RouteStats>>,
    /// The backend connection place the request holds until its response
    /// has been sent (see `ConnState::backend_slot`).
    pub(crate) slot: Option<OwnedSemaphorePermit>,
}

impl From<Response<RespBody>> for Handled {
    fn from(response: Response<RespBody>) -> Self {
        Handled {
            response,
            backend: None,
            stats: None,
            slot: None,
        }
    }
}

pub(crate) type HandlerFuture = Pin<Box<dyn Future<Output = Handled>>>;

/// Turns requests into responses; errors are responses too.
pub(crate) trait Handler: 'static {
    fn handle(&self, req: Request<Incoming>, conn: Rc<ConnState>) -> HandlerFuture;
}

type ServiceFuture = Pin<Box<dyn Future<Output = Result<Response<LoggedBody>, Infallible>>>>;

/// How long a connection that is being closed gets to finish politely.
const GRACE: Duration = Duration::from_secs(1);

const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// hyper's default read buffer limit; larger header limits raise it.
const HYPER_MAX_BUF: usize = 8192 + 4096 * 100;

/// Set to `true` when the process is shutting down: connections finish the
/// requests in flight, then close (HTTP/1.1 without keep-alive, HTTP/2 with
/// GOAWAY); idle ones close at once.
pub(crate) type Drain = Option<watch::Receiver<bool>>;

pub(crate) async fn serve_connection<IO>(
    io: IO,
    info: ConnInfo,
    opts: ProxyOptions,
    handler: Rc<dyn Handler>,
    mut drain: Drain,
    stats: Arc<ProxyStats>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let conn = Rc::new(ConnState::new(info, &opts, stats));
    let mut io = TrackedIo::new(io, conn.clone());
    let h2 = if conn.info.alpn_h2 {
        true
    } else if conn.info.scheme == Scheme::Http {
        let sniffed = tokio::select! {
            sniffed = sniff_h2(&mut io, &opts) => sniffed,
            () = draining(&mut drain) => None,
        };
        match sniffed {
            Some(h2) => h2,
            None => return,
        }
    } else {
        false
    };

    let service_conn = conn.clone();
    let service = service_fn(move |req: Request<Incoming>| -> ServiceFuture {
        let conn = service_conn.clone();
        let handler = handler.clone();
        Box::pin(async move {
            let mut log = RequestLog::start(conn.clone(), &req);
            let handled = handler.handle(req, conn).await;
            log.status = handled.response.status().as_u16();
            log.backend = handled.backend;
            log.stats = handled.stats;
            log.slot = handled.slot;
            Ok(handled.response.map(|body| LoggedBody::new(body, log)))
        })
    });

    if h2 {
        conn.set_h2(&opts);
        serve_h2(io, service, &conn, &opts, drain).await;
    } else {
        serve_h1(io, service, &conn, &opts, drain).await;
    }
}

/// Resolves once `drain` says the process is shutting down; never without one.
async fn draining(drain: &mut Drain) {
    match drain {
        Some(rx) => {
            // An error means the sender is gone: nobody can ask for a drain any more.
            if rx.wait_for(|d| *d).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// Plain connections may start with the HTTP/2 prior-knowledge preface.
/// Reads until the preface is matched or ruled out (usually the first
/// byte), then arranges for the bytes to be replayed. `None`: the client
/// went away or was too slow.
async fn sniff_h2<IO>(io: &mut TrackedIo<IO>, opts: &ProxyOptions) -> Option<bool>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = [0u8; H2_PREFACE.len()];
    let mut len = 0;
    let mut deadline = Instant::now() + nonzero(opts.idle_timeout).unwrap_or(NO_DEADLINE);
    let h2 = loop {
        if buf[..len] != H2_PREFACE[..len] {
            break false;
        }
        if len == buf.len() {
            break true;
        }
        match timeout_at(deadline, io.read(&mut buf[len..])).await {
            Ok(Ok(n)) if n > 0 => {
                if len == 0 {
                    deadline =
                        Instant::now() + nonzero(opts.header_read_timeout).unwrap_or(NO_DEADLINE);
                }
                len += n;
            }
            _ => return None,
        }
    };
    io.replay_first(Bytes::copy_from_slice(&buf[..len]));
    Some(h2)
}

async fn serve_h1<IO, S>(
    io: TrackedIo<IO>,
    service: S,
    conn: &ConnState,
    opts: &ProxyOptions,
    mut drain: Drain,
) where
    IO: AsyncRead + AsyncWrite + Unpin + 'static,
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<LoggedBody>,
            Error = Infallible,
        > + Unpin,
    S::Future: Unpin + 'static,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // Replaced by the driver below; see `conn`.
        .header_read_timeout(None)
        .max_header_size(opts.max_header_bytes.max(1));
    if opts.max_header_bytes >= HYPER_MAX_BUF {
        builder.max_buf_size(opts.max_header_bytes + 8192);
    }
    let mut http = builder.serve_connection(TokioIo::new(io), service);
    let mut closing: Option<Instant> = None;
    let mut drained = false;
    let timer = sleep_until(Instant::now());
    let mut timer = pin!(timer);
    let result = loop {
        let deadline = match closing {
            Some(at) => Some(at),
            None => conn.deadline(opts, true).map(|(at, _)| at),
        };
        let wake_at = conn.arm(Instant::now(), deadline);
        if timer.deadline() != wake_at {
            timer.as_mut().reset(wake_at);
        }
        tokio::select! {
            result = poll_fn(|cx| http.poll_without_shutdown(cx)) => break result,
            () = conn.wake.notified() => continue,
            () = draining(&mut drain), if !drained => {
                // Finish the request in flight, then close; the shutdown's
                // own timeout bounds how long that may take.
                drained = true;
                Pin::new(&mut http).graceful_shutdown();
                continue;
            }
            () = timer.as_mut() => {}
        }
        if closing.is_some_and(|at| at <= Instant::now()) {
            tracing::debug!("connection did not close in time, dropping it");
            return;
        }
        match conn.deadline(opts, true) {
            Some((at, Expiry::SlowHead)) if at <= Instant::now() => {
                tracing::debug!("request head not received in time, closing connection");
                return;
            }
            Some((at, Expiry::SendStalled)) if at <= Instant::now() => {
                conn.limit_hit(Limit::SendTimeout);
                return;
            }
            Some((at, Expiry::Idle)) if at <= Instant::now() && closing.is_none() => {
                tracing::trace!("idle connection, closing");
                Pin::new(&mut http).graceful_shutdown();
                closing = Some(Instant::now() + GRACE);
            }
            _ => {}
        }
    };
    if let Err(e) = &result {
        tracing::debug!(error = %Chain(e), "http/1.1 connection error");
        if let Some(status) = automatic_status(e) {
            access_log::rejected(conn, status);
        }
    }
    let parts = http.into_parts();
    let mut io = parts.io.into_inner();
    match conn.take_upgrade() {
        Some(upgrade) if result.is_ok() => {
            io.replay_first(parts.read_buf);
            websocket::tunnel(io, upgrade, conn, opts.upgrade_idle_timeout).await;
        }
        _ => {
            let _ = tokio::time::timeout(GRACE, io.shutdown()).await;
        }
    }
}

/// The status hyper's HTTP/1.1 server answered with itself when it could
/// not parse a request head (before any service call), as its `on_error`
/// does: 431 for a head over the limit, 414 for a URI over hyper's own
/// limit, 400 for a bad method, URI, version or header. `None` for errors
/// hyper answers nothing to (an HTTP/2 preface, an internal error, I/O).
fn automatic_status(e: &hyper::Error) -> Option<u16> {
    if e.is_parse_too_large() {
        // The two kinds share the predicate; only the message tells them apart.
        return Some(if e.to_string().starts_with("URI") {
            414
        } else {
            431
        });
    }
    if !e.is_parse() || e.is_parse_version_h2() || e.is_parse_status() {
        return None;
    }
    (!e.to_string().starts_with("internal")).then_some(400)
}

async fn serve_h2<IO, S>(
    io: TrackedIo<IO>,
    service: S,
    conn: &ConnState,
    opts: &ProxyOptions,
    mut drain: Drain,
) where
    IO: AsyncRead + AsyncWrite + Unpin + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = LoggedBody> + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: 'static,
{
    let max_header_list = u32::try_from(opts.max_header_bytes).unwrap_or(u32::MAX);
    let http = http2::Builder::new(LocalExec)
        .timer(TokioTimer::new())
        .max_header_list_size(max_header_list)
        .max_concurrent_streams(opts.max_streams)
        .serve_connection(TokioIo::new(io), service);
    let mut http = pin!(http);
    let mut closing: Option<Instant> = None;
    let mut drained = false;
    let timer = sleep_until(Instant::now());
    let mut timer = pin!(timer);
    loop {
        let deadline = match closing {
            Some(at) => Some(at),
            None => conn.deadline(opts, false).map(|(at, _)| at),
        };
        let wake_at = conn.arm(Instant::now(), deadline);
        if timer.deadline() != wake_at {
            timer.as_mut().reset(wake_at);
        }
        tokio::select! {
            result = http.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %Chain(&e), "http/2 connection error");
                }
                return;
            }
            () = conn.wake.notified() => continue,
            () = draining(&mut drain), if !drained => {
                drained = true;
                http.as_mut().graceful_shutdown();
                continue;
            }
            () = timer.as_mut() => {}
        }
        if closing.is_some_and(|at| at <= Instant::now()) {
            tracing::debug!("connection did not close in time, dropping it");
            return;
        }
        match conn.deadline(opts, false) {
            // A client that keeps a stream's window shut would hold a
            // graceful shutdown open too.
            Some((at, Expiry::SendStalled)) if at <= Instant::now() => {
                conn.limit_hit(Limit::SendTimeout);
                return;
            }
            Some((at, _)) if at <= Instant::now() && closing.is_none() => {
                tracing::trace!("idle connection, sending GOAWAY");
                http.as_mut().graceful_shutdown();
                closing = Some(Instant::now() + GRACE);
            }
            _ => {}
        }
    }
}

/// Runs HTTP/2 streams on the connection's `LocalSet`.
#[derive(Clone, Copy, Debug)]
struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(fut);
    }
}
