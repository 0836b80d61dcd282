//! One access log line per request, written when the response has been
//! sent (or abandoned), so `duration_ms` covers the whole exchange.
//!
//! The line goes to target `wingress::access` at INFO, with the client
//! address and host as fields: filter that target to keep addresses out of
//! the general log.

use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use crate::body::BoxError;
use crate::conn::ConnState;
use crate::host::normalize_host;
use crate::pages::RespBody;
use crate::stats::RouteStats;

/// Status logged when the client went away before a response existed
/// (nginx's convention).
const CLIENT_CLOSED: u16 = 499;

/// Lives as long as the request: counts it in flight on its connection and
/// logs it when dropped.
pub(crate) struct RequestLog {
    conn: Rc<ConnState>,
    start: Instant,
    /// What the line says about the request; `None` when the access log
    /// is filtered out, so nothing is copied for it.
    line: Option<Line>,
    pub(crate) status: u16,
    pub(crate) backend: Option<Arc<str>>,
    /// Where the request is counted; `None` (the client left before a
    /// response existed) counts nowhere.
    pub(crate) stats: Option<Arc<RouteStats>>,
    /// The backend connection place the request holds, given back with
    /// the response.
    pub(crate) slot: Option<OwnedSemaphorePermit>,
}

struct Line {
    method: Method,
    host: String,
    path: String,
}

impl RequestLog {
    pub(crate) fn start<B>(conn: Rc<ConnState>, req: &Request<B>) -> Self {
        conn.request_started();
        let line = tracing::enabled!(target: "wingress::access", tracing::Level::INFO)
            .then(|| Line::of(req));
        RequestLog {
            conn,
            start: Instant::now(),
            line,
            status: CLIENT_CLOSED,
            backend: None,
            stats: None,
            slot: None,
        }
    }
}

impl Line {
    fn of<B>(req: &Request<B>) -> Self {
        let host = req
            .uri()
            .authority()
            .map(|a| a.as_str())
            .or_else(|| {
                req.headers()
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
            })
            // A refused host is logged as sent (a header value is visible
            // ASCII), to show what the 400 was about.
            .map(|raw| normalize_host(raw).unwrap_or_else(|_| raw.to_owned()))
            .unwrap_or_default();
        Line {
            method: req.method().clone(),
            host,
            path: req.uri().path().to_owned(),
        }
    }
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        let took = self.start.elapsed();
        if let Some(stats) = &self.stats {
            stats.record(self.status, took);
        }
        if let Some(line) = &self.line {
            write_line(
                &self.conn,
                [line.method.as_str(), &line.host, &line.path],
                self.status,
                took,
                self.backend.as_deref().unwrap_or("-"),
            );
        }
        self.conn.request_finished();
    }
}

/// The line for a request hyper answered itself because it could not
/// parse it (400, or 431 for a head over the size limit): there is no
/// method, host or path to report, and no route to count it against.
pub(crate) fn rejected(conn: &ConnState, status: u16) {
    if !tracing::enabled!(target: "wingress::access", tracing::Level::INFO) {
        return;
    }
    let took = conn
        .head_started()
        .map_or(Duration::ZERO, |at| at.elapsed());
    write_line(conn, ["-", "-", "-"], status, took, "-");
}

/// The one access-log line format; `request` is method, host and path.
fn write_line(conn: &ConnState, request: [&str; 3], status: u16, took: Duration, backend: &str) {
    let info = &conn.info;
    let [method, host, path] = request;
    tracing::info!(
        target: "wingress::access",
        peer = info.peer.as_deref().map_or("-", |p| p.name.as_str()),
        remote = %info.remote,
        entrypoint = &*info.entrypoint,
        method = %method,
        host = %host,
        path = %path,
        status,
        duration_ms = took.as_millis() as u64,
        backend,
    );
}

/// A response body that carries its request's log entry, and tells the
/// connection when it waits on the client (see `ConnState::deadline`).
pub(crate) struct LoggedBody {
    inner: RespBody,
    log: RequestLog,
    stall: usize,
}

impl LoggedBody {
    pub(crate) fn new(inner: RespBody, log: RequestLog) -> Self {
        let stall = log.conn.response_started();
        LoggedBody { inner, log, stall }
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        self.log.conn.response_finished(self.stall);
    }
}

impl Body for LoggedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        // A frame handed over is waiting on the client until hyper asks
        // for the next; anything else is not.
        let waiting = matches!(polled, Poll::Ready(Some(Ok(_)))) && !this.inner.is_end_stream();
        this.log.conn.response_waiting(this.stall, waiting);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
