//! The byte tunnel behind an HTTP/1.1 upgrade (WebSocket, or what a route
//! allows): copied both ways until either side closes, or until nothing
//! has moved either way for the upgrade idle timeout. Open tunnels are
//! counted in [`crate::ProxyStats::open_upgrades`].

use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep_until, Instant};

use crate::conn::{ConnState, TrackedIo};
use crate::limits::Limit;
use crate::spec::nonzero;

/// Copies bytes both ways between the client connection (hyper has written
/// the 101 on it; bytes it had already read are replayed first) and the
/// upgraded backend connection.
pub(crate) async fn tunnel<IO>(
    client: TrackedIo<IO>,
    backend: OnUpgrade,
    conn: &ConnState,
    idle_timeout: Duration,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let backend = match backend.await {
        Ok(upgraded) => TokioIo::new(upgraded),
        Err(e) => {
            tracing::debug!(error = %e, "backend upgrade failed");
            return;
        }
    };
    let _open = conn.stats.upgrade_opened();
    let last = Rc::new(Cell::new(Instant::now()));
    let mut client = Active {
        io: client,
        last: last.clone(),
    };
    let mut backend = Active {
        io: backend,
        last: last.clone(),
    };
    let copy = tokio::io::copy_bidirectional(&mut client, &mut backend);
    let idle = async {
        let Some(timeout) = nonzero(idle_timeout) else {
            return std::future::pending().await;
        };
        // Sleeps to the deadline the last byte set; no timer reset per read.
        loop {
            let deadline = last.get() + timeout;
            if deadline <= Instant::now() {
                return;
            }
            sleep_until(deadline).await;
        }
    };
    tokio::select! {
        copied = copy => match copied {
            Ok((up, down)) => tracing::trace!(up, down, "upgraded connection closed"),
            Err(e) => tracing::debug!(error = %e, "upgraded connection failed"),
        },
        () = idle => conn.limit_hit(Limit::UpgradeIdle),
    }
}

/// Notes when bytes were last read from `io`.
struct Active<IO> {
    io: IO,
    last: Rc<Cell<Instant>>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Active<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.last.set(Instant::now());
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Active<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
