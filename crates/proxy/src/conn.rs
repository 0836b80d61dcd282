//! Per-connection state shared between the connection driver and its
//! requests, and the IO wrapper that feeds it.
//!
//! hyper's own `header_read_timeout` also runs while a keep-alive connection
//! sits idle, so it would close idle connections after the (short) header
//! timeout. Instead the driver in `server` watches this state: with no request
//! in flight, a connection that has not sent a byte since its last response
//! is idle (`idle_timeout`); one that has started a request head must finish
//! it within `header_read_timeout`. With requests in flight, a response
//! that has handed hyper a frame and not been asked for the next one for
//! `send_timeout` is waiting on a client that stopped reading (HTTP/1.1:
//! the socket is full; HTTP/2: the stream's window stays shut), and the
//! connection is closed.

use std::cell::{Cell, OnceCell, RefCell};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::HeaderValue;
use hyper::upgrade::OnUpgrade;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio::time::Instant;

use crate::headers::forwarded_for;
use crate::limits::Limit;
use crate::spec::nonzero;
use crate::spec::{ConnInfo, ProxyOptions};
use crate::stats::ProxyStats;

#[derive(Debug)]
pub(crate) struct ConnState {
    pub(crate) info: ConnInfo,
    /// `X-Forwarded-For` for this client, formatted once.
    pub(crate) forwarded_for: HeaderValue,
    /// Where limit hits and upgraded connections are counted.
    pub(crate) stats: Arc<ProxyStats>,
    in_flight: Cell<usize>,
    idle_since: Cell<Instant>,
    head_started: Cell<Option<Instant>>,
    /// Wakes the driver when its deadline moved earlier than its timer.
    pub(crate) wake: Notify,
    /// When the driver's timer fires (`None`: not armed yet). The driver
    /// never arms it further out than the shortest timeout, so a deadline
    /// set later is never earlier than the timer and needs no wake-up: the
    /// common request cycle costs no timer changes.
    armed: Cell<Option<Instant>>,
    header_read_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    send_timeout: Option<Duration>,
    /// How long a request body may wait for the client (see `client`).
    pub(crate) body_timeout: Duration,
    /// The shortest of the timeouts: the driver never sleeps longer.
    shortest: Duration,
    /// The backend side of an upgrade answered with 101, waiting for the
    /// client side to be handed over once hyper has written the 101.
    upgrade: RefCell<Option<OnUpgrade>>,
    /// Responses in flight, each waiting on the client since the time
    /// here (`None`: not waiting on the client).
    stalls: RefCell<Stalls>,
    /// HTTP/2 only (HTTP/1.1 serves one request at a time): the backend
    /// connections this connection's requests may hold at once.
    backend_slots: OnceCell<Arc<Semaphore>>,
    /// HTTP/2: streams the client may open at once.
    max_streams: Cell<Option<usize>>,
}

/// Why a connection's deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expiry {
    Idle,
    SlowHead,
    /// A response waited `send_timeout` for the client.
    SendStalled,
}

/// One entry per response body alive, reused once the body is gone, so
/// the request cycle allocates nothing here after the first requests.
#[derive(Debug, Default)]
struct Stalls {
    since: Vec<Option<Instant>>,
    free: Vec<usize>,
}

impl ConnState {
    pub(crate) fn new(info: ConnInfo, opts: &ProxyOptions, stats: Arc<ProxyStats>) -> Self {
        let header_read_timeout = nonzero(opts.header_read_timeout);
        let idle_timeout = nonzero(opts.idle_timeout);
        let send_timeout = nonzero(opts.send_timeout);
        let shortest = [header_read_timeout, idle_timeout, send_timeout]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(NO_DEADLINE);
        ConnState {
            armed: Cell::new(None),
            header_read_timeout,
            idle_timeout,
            send_timeout,
            body_timeout: opts.body_timeout,
            shortest,
            forwarded_for: forwarded_for(info.remote.ip()),
            stats,
            info,
            in_flight: Cell::new(0),
            idle_since: Cell::new(Instant::now()),
            head_started: Cell::new(None),
            wake: Notify::new(),
            upgrade: RefCell::new(None),
            stalls: RefCell::default(),
            backend_slots: OnceCell::new(),
            max_streams: Cell::new(None),
        }
    }

    /// The connection speaks HTTP/2: its streams and the backend
    /// connections they hold are capped.
    pub(crate) fn set_h2(&self, opts: &ProxyOptions) {
        let slots = usize::try_from(opts.max_backend_connections.max(1)).unwrap_or(usize::MAX);
        let _ = self.backend_slots.set(Arc::new(Semaphore::new(slots)));
        self.max_streams.set(usize::try_from(opts.max_streams).ok());
    }

    /// Counts a hit of `limit` on this connection's entrypoint.
    pub(crate) fn limit_hit(&self, limit: Limit) {
        tracing::debug!(
            entrypoint = &*self.info.entrypoint,
            limit = limit.as_str(),
            "limit hit"
        );
        self.stats.limit_hit(&self.info.entrypoint, limit);
    }

    /// A place among the backend connections this connection may hold,
    /// waited for when all are taken; `None` when there is no cap
    /// (HTTP/1.1). Held until the response has been sent.
    pub(crate) async fn backend_slot(&self) -> Option<OwnedSemaphorePermit> {
        let slots = self.backend_slots.get()?.clone();
        match slots.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(TryAcquireError::NoPermits) => {
                self.limit_hit(Limit::BackendConnections);
                slots.acquire_owned().await.ok()
            }
            Err(TryAcquireError::Closed) => None,
        }
    }

    /// A request head has been parsed and handed to the service.
    pub(crate) fn request_started(&self) {
        let in_flight = self.in_flight.get() + 1;
        self.in_flight.set(in_flight);
        self.head_started.set(None);
        if self.max_streams.get() == Some(in_flight) {
            self.limit_hit(Limit::Streams);
        }
    }

    /// A response body starts: its place among the stalls.
    pub(crate) fn response_started(&self) -> usize {
        let mut stalls = self.stalls.borrow_mut();
        match stalls.free.pop() {
            Some(slot) => slot,
            None => {
                stalls.since.push(None);
                stalls.since.len() - 1
            }
        }
    }

    /// The response in `slot` handed over a frame (`waiting`: the client
    /// has to take it before the next is asked for), or was asked for the
    /// next one (`!waiting`).
    pub(crate) fn response_waiting(&self, slot: usize, waiting: bool) {
        let since = waiting.then(Instant::now);
        if let Some(entry) = self.stalls.borrow_mut().since.get_mut(slot) {
            *entry = since;
        }
        if let Some(now) = since {
            self.wake_if_before(now, self.send_timeout);
        }
    }

    /// The response body in `slot` is gone.
    pub(crate) fn response_finished(&self, slot: usize) {
        let mut stalls = self.stalls.borrow_mut();
        if let Some(entry) = stalls.since.get_mut(slot) {
            *entry = None;
            stalls.free.push(slot);
        }
    }

    /// A response has been sent (or abandoned).
    pub(crate) fn request_finished(&self) {
        let left = self.in_flight.get().saturating_sub(1);
        self.in_flight.set(left);
        if left == 0 {
            let now = Instant::now();
            self.idle_since.set(now);
            self.head_started.set(None);
            self.wake_if_before(now, self.idle_timeout);
        }
    }

    fn bytes_read(&self) {
        if self.in_flight.get() == 0 && self.head_started.get().is_none() {
            let now = Instant::now();
            self.head_started.set(Some(now));
            self.wake_if_before(now, self.header_read_timeout);
        }
    }

    /// Wakes the driver if a deadline `timeout` after `now` comes before
    /// its timer.
    fn wake_if_before(&self, now: Instant, timeout: Option<Duration>) {
        let Some(timeout) = timeout else { return };
        if self.armed.get().is_none_or(|armed| now + timeout < armed) {
            self.wake.notify_one();
        }
    }

    /// When the driver should next look at the deadline: the deadline, but
    /// no later than the shortest timeout from now (see `armed`).
    pub(crate) fn arm(&self, now: Instant, deadline: Option<Instant>) -> Instant {
        let cap = self.shortest;
        let at = deadline.map_or(now + cap, |d| d.min(now + cap));
        self.armed.set(Some(at));
        at
    }

    /// When the request head being read began (`None` between requests).
    pub(crate) fn head_started(&self) -> Option<Instant> {
        self.head_started.get()
    }

    pub(crate) fn set_upgrade(&self, upgrade: OnUpgrade) {
        *self.upgrade.borrow_mut() = Some(upgrade);
    }

    pub(crate) fn take_upgrade(&self) -> Option<OnUpgrade> {
        self.upgrade.borrow_mut().take()
    }

    /// When the connection should be closed if nothing changes, and why.
    /// HTTP/2 has no request heads to time at this level (`heads = false`).
    pub(crate) fn deadline(&self, opts: &ProxyOptions, heads: bool) -> Option<(Instant, Expiry)> {
        if self.in_flight.get() > 0 {
            let send_timeout = self.send_timeout?;
            let stalls = self.stalls.borrow();
            let oldest = stalls.since.iter().flatten().min()?;
            return Some((*oldest + send_timeout, Expiry::SendStalled));
        }
        match self.head_started.get() {
            Some(started) if heads => {
                nonzero(opts.header_read_timeout).map(|t| (started + t, Expiry::SlowHead))
            }
            _ => nonzero(opts.idle_timeout).map(|t| (self.idle_since.get() + t, Expiry::Idle)),
        }
    }
}

/// Far enough in the future to mean "no deadline" for `sleep_until`.
pub(crate) const NO_DEADLINE: Duration = Duration::from_secs(24 * 3600);

/// The client connection as hyper sees it: reports reads to the
/// [`ConnState`], and first replays bytes consumed while sniffing for the
/// HTTP/2 preface or left in hyper's buffer at an upgrade.
#[derive(Debug)]
pub(crate) struct TrackedIo<IO> {
    io: IO,
    prefix: Bytes,
    state: Rc<ConnState>,
}

impl<IO> TrackedIo<IO> {
    pub(crate) fn new(io: IO, state: Rc<ConnState>) -> Self {
        TrackedIo {
            io,
            prefix: Bytes::new(),
            state,
        }
    }

    pub(crate) fn replay_first(&mut self, bytes: Bytes) {
        self.prefix = bytes;
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for TrackedIo<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.bytes_read();
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for TrackedIo<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
