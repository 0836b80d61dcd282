//! The byte tunnel behind an HTTP/1.1 upgrade (WebSocket and friends).

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::conn::TrackedIo;

/// Copies bytes both ways between the client connection (hyper has written
/// the 101 on it; bytes it had already read are replayed first) and the
/// upgraded backend connection, until either side closes.
pub(crate) async fn tunnel<IO>(mut client: TrackedIo<IO>, backend: OnUpgrade)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut backend = match backend.await {
        Ok(upgraded) => TokioIo::new(upgraded),
        Err(e) => {
            tracing::debug!(error = %e, "backend upgrade failed");
            return;
        }
    };
    match tokio::io::copy_bidirectional(&mut client, &mut backend).await {
        Ok((up, down)) => tracing::trace!(up, down, "upgraded connection closed"),
        Err(e) => tracing::debug!(error = %e, "upgraded connection failed"),
    }
}
