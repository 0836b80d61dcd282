//! Per-connection state shared between the connection driver and its
//! requests, and the IO wrapper that feeds it.
//!
//! hyper's own `header_read_timeout` also runs while a keep-alive connection
//! sits idle, so it would close idle connections after the (short) header
//! timeout. Instead the driver in `server` watches this state: with no request
//! in flight, a connection that has not sent a byte since its last response
//! is idle (`idle_timeout`); one that has started a request head must finish
//! it within `header_read_timeout`.

use std::cell::{Cell, RefCell};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::HeaderValue;
use hyper::upgrade::OnUpgrade;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::client::nonzero;
use crate::headers::forwarded_for;
use crate::spec::{ConnInfo, ProxyOptions};

#[derive(Debug)]
pub(crate) struct ConnState {
    pub(crate) info: ConnInfo,
    /// `X-Forwarded-For` for this client, formatted once.
    pub(crate) forwarded_for: HeaderValue,
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
    /// The backend side of an upgrade answered with 101, waiting for the
    /// client side to be handed over once hyper has written the 101.
    upgrade: RefCell<Option<OnUpgrade>>,
}

/// Why a connection's deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expiry {
    Idle,
    SlowHead,
}

impl ConnState {
    pub(crate) fn new(info: ConnInfo, opts: &ProxyOptions) -> Self {
        ConnState {
            armed: Cell::new(None),
            header_read_timeout: nonzero(opts.header_read_timeout),
            idle_timeout: nonzero(opts.idle_timeout),
            forwarded_for: forwarded_for(info.remote.ip()),
            info,
            in_flight: Cell::new(0),
            idle_since: Cell::new(Instant::now()),
            head_started: Cell::new(None),
            wake: Notify::new(),
            upgrade: RefCell::new(None),
        }
    }

    /// A request head has been parsed and handed to the service.
    pub(crate) fn request_started(&self) {
        self.in_flight.set(self.in_flight.get() + 1);
        self.head_started.set(None);
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
        let cap = match (self.header_read_timeout, self.idle_timeout) {
            (Some(a), Some(b)) => a.min(b),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => NO_DEADLINE,
        };
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
            return None;
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
