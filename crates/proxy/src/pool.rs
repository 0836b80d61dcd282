//! Keep-alive HTTP/1.1 and HTTP/2 connections to backends (plain or TLS),
//! one pool per thread.
//!
//! A pooled connection is a hyper `SendRequest` whose connection driver is a
//! `spawn_local` task on the thread that opened it, so a request, its
//! backend connection and the client connection it serves all run on one
//! event loop and nothing crosses threads. Idle connections are reused
//! newest first (their windows and caches are warm) and closed after
//! [`POOL_IDLE`]; a connection goes back to the pool only when its response
//! body has been read to the end (see [`BackendBody`]), so a request is
//! never queued behind another one's slow body. An HTTP/2 connection stays
//! in the pool while it is open and every request on the thread shares it.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;
use wingress_sync::lock;

use crate::backend_tls::{self, TlsConnectError};
use crate::body::{BoxError, ReqBody};
use crate::client::ConnSettings;
use crate::dns::CachingResolver;
use crate::in_process::InProcessConnector;
use crate::sender::Sender;
use crate::spec::{nonzero, BackendAddr, BackendScheme, BackendTls};

/// How long an unused pooled backend connection is kept.
pub(crate) const POOL_IDLE: Duration = Duration::from_secs(90);

/// Idle connections kept per backend and thread; more are closed.
const MAX_IDLE: usize = 512;

/// How often each thread closes connections idle for longer than
/// [`POOL_IDLE`] (so an idle pool does not hold sockets forever).
const SWEEP_EVERY: Duration = Duration::from_secs(15);

struct IdleConn {
    sender: Sender,
    since: Instant,
}

/// One backend's idle connections on this thread, oldest at the front.
/// Only this thread touches it; the lock (never contended) is there because
/// response bodies, which carry it, must be `Send`.
#[derive(Default)]
pub(crate) struct Idle {
    conns: Mutex<VecDeque<IdleConn>>,
}

/// FNV-1a: the keys are short, trusted (from config) and hashed on every
/// request, where SipHash's DoS resistance buys nothing.
type Fast = fnv::FnvBuildHasher;

/// Per way of connecting and backend address. Keys outlive the routes that
/// made them (a reload's new routes find their predecessors' connections);
/// the sweep drops a key once its list is empty and no client holds it.
/// Two levels, so that a request looks its list up by reference, without
/// building an owned key.
type Pools = HashMap<ConnSettings, HashMap<BackendAddr, Arc<Idle>, Fast>, Fast>;

thread_local! {
    static POOLS: RefCell<Option<Pools>> = const { RefCell::new(None) };
}

/// This thread's idle list for connections made with `settings` to
/// `addr`, created (with the thread's sweeper) on first use.
pub(crate) fn idle_for(settings: ConnSettings, addr: &BackendAddr) -> Arc<Idle> {
    POOLS.with(|pools| {
        let mut pools = pools.borrow_mut();
        let pools = pools.get_or_insert_with(|| {
            tokio::task::spawn_local(sweep());
            Pools::default()
        });
        let by_addr = pools.entry(settings).or_default();
        if let Some(idle) = by_addr.get(addr) {
            return idle.clone();
        }
        let idle = Arc::new(Idle::default());
        by_addr.insert(addr.clone(), idle.clone());
        idle
    })
}

async fn sweep() {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        sweep_once(Instant::now());
    }
}

/// Closes this thread's connections idle for longer than [`POOL_IDLE`],
/// and forgets the lists left empty that nothing else holds (the backend
/// or route is gone): the map follows the routes in use, not every
/// address and setting ever configured.
pub(crate) fn sweep_once(now: Instant) {
    POOLS.with(|p| {
        if let Some(pools) = p.borrow_mut().as_mut() {
            pools.retain(|_, by_addr| {
                by_addr.retain(|_, idle| {
                    idle.expire(now);
                    Arc::strong_count(idle) > 1 || !idle.lock().is_empty()
                });
                !by_addr.is_empty()
            });
        }
    });
}

/// How many idle lists this thread keeps (for tests).
#[cfg(test)]
pub(crate) fn lists() -> usize {
    POOLS.with(|p| {
        p.borrow()
            .as_ref()
            .map_or(0, |p| p.values().map(HashMap::len).sum())
    })
}

impl Idle {
    fn lock(&self) -> MutexGuard<'_, VecDeque<IdleConn>> {
        // Every update is a single push or pop: a panic cannot leave the
        // list inconsistent, so poisoning is ignored.
        lock(&self.conns)
    }

    /// The newest idle connection that is still open, if any. An HTTP/2
    /// connection stays in the list (it takes more requests at once): the
    /// caller gets a second handle on it.
    pub(crate) fn take(&self, now: Instant) -> Option<Sender> {
        let mut conns = self.lock();
        while let Some(c) = conns.pop_back() {
            if c.sender.is_closed() || now.duration_since(c.since) >= POOL_IDLE {
                continue;
            }
            if let Some(shared) = c.sender.share() {
                conns.push_back(IdleConn {
                    sender: shared,
                    since: now,
                });
            }
            return Some(c.sender);
        }
        None
    }

    /// Returns a connection whose last response has been read completely.
    pub(crate) fn put(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut conns = self.lock();
        if conns.len() >= MAX_IDLE {
            conns.pop_front();
        }
        conns.push_back(IdleConn {
            sender,
            since: Instant::now(),
        });
    }

    fn expire(&self, now: Instant) {
        let mut conns = self.lock();
        while conns
            .front()
            .is_some_and(|c| c.sender.is_closed() || now.duration_since(c.since) >= POOL_IDLE)
        {
            conns.pop_front();
        }
    }
}

/// Why a new connection could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// No TCP connection (or none within the timeout): the backend is down
    /// or unreachable.
    #[error("cannot connect")]
    Tcp(#[source] BoxError),
    /// Connected, but the TLS handshake failed: a certificate or transport
    /// setting to fix, not a backend to take out of rotation.
    #[error("tls to backend failed")]
    Tls(#[from] TlsConnectError),
    /// Connected, but HTTP could not start on the connection.
    #[error("cannot start http")]
    Http(#[source] hyper::Error),
}

/// Opens a new connection to `target`: resolves it (IP literals directly,
/// names through the caching resolver), tries each address in turn within
/// `connect_timeout` in all, runs the TLS handshake for `https://` targets
/// (within the same timeout), and starts hyper's client on it: HTTP/2 for
/// `h2c://` and for TLS that negotiated `h2`, HTTP/1.1 otherwise.
pub(crate) async fn connect(
    target: &BackendAddr,
    resolver: &CachingResolver,
    connect_timeout: Duration,
    tls: Option<&BackendTls>,
) -> Result<Sender, ConnectError> {
    let attempt = async {
        let addrs: Vec<SocketAddr> = match target.ip_literal() {
            Some(ip) => vec![SocketAddr::new(ip, target.port)],
            None => resolver
                .resolve(&target.host)
                .await?
                .into_iter()
                .map(|a| SocketAddr::new(a.ip(), target.port))
                .collect(),
        };
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no addresses");
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = e,
            }
        }
        Err(last)
    };
    let deadline = nonzero(connect_timeout).map(|t| Instant::now() + t);
    let timed_out = || io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
    let stream = match deadline {
        Some(at) => tokio::time::timeout_at(at, attempt)
            .await
            .map_err(|_| ConnectError::Tcp(timed_out().into()))?,
        None => attempt.await,
    }
    .map_err(|e| ConnectError::Tcp(e.into()))?;
    stream
        .set_nodelay(true)
        .map_err(|e| ConnectError::Tcp(e.into()))?;
    match target.scheme {
        BackendScheme::Http => return start_http1(stream).await,
        BackendScheme::H2c => return start_http2(stream).await,
        BackendScheme::Https => {}
        // `client` sends these to `connect_in_process`; a spec that gives
        // one a socket address cannot reach it this way.
        BackendScheme::InProcess => {
            let e = io::Error::new(io::ErrorKind::Unsupported, "in-process backend");
            return Err(ConnectError::Tcp(e.into()));
        }
    }
    let handshake = backend_tls::handshake(stream, target, tls);
    let stream = match deadline {
        Some(at) => tokio::time::timeout_at(at, handshake)
            .await
            .map_err(|_| ConnectError::Tcp(timed_out().into()))??,
        None => handshake.await?,
    };
    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        start_http2(stream).await
    } else {
        start_http1(stream).await
    }
}

/// Opens a new in-process connection (HTTP/1.1) through `connector`,
/// within `connect_timeout`. No connector, or its listener gone, fails as
/// a refused TCP connection: the backend is down.
pub(crate) async fn connect_in_process(
    connector: Option<&InProcessConnector>,
    connect_timeout: Duration,
) -> Result<Sender, ConnectError> {
    let Some(connector) = connector else {
        let e = io::Error::new(io::ErrorKind::ConnectionRefused, "no in-process listener");
        return Err(ConnectError::Tcp(e.into()));
    };
    let stream = connector
        .connect(connect_timeout)
        .await
        .map_err(|e| ConnectError::Tcp(e.into()))?;
    start_http1(stream).await
}

/// Starts hyper's HTTP/1.1 client on a connected stream, its connection
/// driver a task of this thread.
async fn start_http1<S>(stream: S) -> Result<Sender, ConnectError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::Builder::new()
        .handshake::<_, ReqBody>(TokioIo::new(stream))
        .await
        .map_err(ConnectError::Http)?;
    tokio::task::spawn_local(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::trace!(error = %e, "backend connection ended");
        }
    });
    Ok(Sender::Http1(sender))
}

/// Starts hyper's HTTP/2 client on a connected stream (h2c, or TLS that
/// negotiated `h2`); the connection and its streams' tasks run on this
/// thread.
async fn start_http2<S>(stream: S) -> Result<Sender, ConnectError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http2::Builder::new(LocalExec)
        .handshake::<_, ReqBody>(TokioIo::new(stream))
        .await
        .map_err(ConnectError::Http)?;
    tokio::task::spawn_local(async move {
        if let Err(e) = conn.await {
            tracing::trace!(error = %e, "backend connection ended");
        }
    });
    Ok(Sender::Http2(sender))
}

/// Runs hyper's HTTP/2 tasks on this thread's `LocalSet`, where the
/// connection that needs them lives (request bodies are not `Sync`, and
/// nothing here crosses threads).
#[derive(Clone, Copy)]
struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: std::future::Future + 'static,
{
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(fut);
    }
}

/// A backend response body that returns its connection to the pool once it
/// has been read to the end. Dropped early, it takes the connection with it
/// (hyper closes a connection whose response was abandoned).
pub(crate) struct BackendBody {
    inner: Incoming,
    reuse: Option<(Sender, Arc<Idle>)>,
}

impl BackendBody {
    pub(crate) fn wrap(
        response: Response<Incoming>,
        sender: Sender,
        idle: Arc<Idle>,
    ) -> Response<Self> {
        // An upgraded connection belongs to the upgrade; one the backend is
        // closing is of no further use.
        let reusable = response.status() != StatusCode::SWITCHING_PROTOCOLS
            && !response
                .headers()
                .get_all(header::CONNECTION)
                .iter()
                .any(is_close);
        // An HTTP/2 connection is already back in the pool (see
        // `Idle::take`); only HTTP/1.1 ones wait for the body's end.
        let reusable = reusable && matches!(sender, Sender::Http1(_));
        let mut reuse = reusable.then_some((sender, idle));
        if response.body().is_end_stream() {
            if let Some((sender, idle)) = reuse.take() {
                idle.put(sender);
            }
        }
        response.map(|inner| BackendBody { inner, reuse })
    }

    /// As a boxed body for responses that go back to the client.
    pub(crate) fn boxed(self) -> UnsyncBoxBody<Bytes, BoxError> {
        self.boxed_unsync()
    }
}

impl BackendBody {
    /// The body has been read to the end: the connection can take the
    /// next request.
    fn release(&mut self) {
        if let Some((sender, idle)) = self.reuse.take() {
            idle.put(sender);
        }
    }
}

impl Drop for BackendBody {
    fn drop(&mut self) {
        if self.inner.is_end_stream() {
            self.release();
        }
    }
}

fn is_close(v: &HeaderValue) -> bool {
    v.to_str()
        .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
}

impl Body for BackendBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            // Consumers stop polling once `is_end_stream` says so, so the
            // end is noticed after the last frame, not only at `None`.
            Poll::Ready(None) => self.release(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.release(),
            Poll::Ready(Some(Err(_))) => self.reuse = None,
            _ => {}
        }
        polled.map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
