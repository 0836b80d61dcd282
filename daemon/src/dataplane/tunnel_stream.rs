//! A TCP connection inside the userspace stack as a tokio byte stream, for
//! protocols layered on it in the daemon (TLS, HTTP). Plain port forwards
//! use [`crate::dataplane::tcp_pump`] instead, which copies between ring buffers
//! without this adapter's intermediate buffers.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wingress_netstack::{TcpId, TcpSocket, TcpState};

use crate::dataplane::NetRef;

/// One accepted (or connected) tunnel TCP connection. Reading and writing
/// go straight to the smoltcp socket's buffers; dropping the stream closes
/// the connection gracefully (FIN after the queued bytes).
pub(crate) struct TunnelStream {
    net: NetRef,
    id: TcpId,
    write_closed: bool,
}

impl TunnelStream {
    pub(crate) fn new(net: NetRef, id: TcpId) -> Self {
        Self {
            net,
            id,
            write_closed: false,
        }
    }
}

impl TunnelStream {
    /// Resets the connection (RST) instead of closing it gracefully.
    pub(crate) fn abort(&mut self) {
        self.write_closed = true;
        let mut n = self.net.borrow_mut();
        if let Some(s) = n.stack_mut().tcp(self.id) {
            s.abort();
        }
        n.kick();
    }
}

pub(crate) fn reset() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "tunnel connection reset")
}

/// Why a tunnel socket that may no longer receive has no more input: the
/// peer's FIN (`Ok`, EOF; the socket is in CloseWait or a later closing
/// state) or a reset or timeout (the socket is Closed).
pub(crate) fn end_of_input(s: &TcpSocket<'_>) -> io::Result<()> {
    if matches!(s.state(), TcpState::Closed | TcpState::Listen) {
        Err(reset())
    } else {
        Ok(())
    }
}

impl AsyncRead for TunnelStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut n = this.net.borrow_mut();
        let Some(s) = n.stack_mut().tcp(this.id) else {
            return Poll::Ready(Err(reset()));
        };
        if s.can_recv() {
            let dst = buf.initialize_unfilled();
            return match s.recv_slice(dst) {
                Ok(k) => {
                    buf.advance(k);
                    // Freed receive window: let the loop announce it.
                    n.kick();
                    Poll::Ready(Ok(()))
                }
                Err(_) => Poll::Ready(Err(reset())),
            };
        }
        if !s.may_recv() {
            return Poll::Ready(end_of_input(s));
        }
        s.register_recv_waker(cx.waker());
        Poll::Pending
    }
}

impl AsyncWrite for TunnelStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.write_closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write side closed",
            )));
        }
        let mut n = this.net.borrow_mut();
        let Some(s) = n.stack_mut().tcp(this.id) else {
            return Poll::Ready(Err(reset()));
        };
        if !s.may_send() {
            return Poll::Ready(Err(reset()));
        }
        // Within the socket's free space and the peer's buffer budget.
        let room = n.stack_mut().send_room(this.id, cx.waker());
        if room == 0 {
            return Poll::Pending;
        }
        let Some(s) = n.stack_mut().tcp(this.id) else {
            return Poll::Ready(Err(reset()));
        };
        match s.send_slice(&data[..room.min(data.len())]) {
            Ok(k) => {
                n.kick();
                Poll::Ready(Ok(k))
            }
            Err(_) => Poll::Ready(Err(reset())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Bytes in smoltcp's send buffer leave as fast as the window
        // allows; there is nothing to push.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.write_closed {
            this.write_closed = true;
            let mut n = this.net.borrow_mut();
            if let Some(s) = n.stack_mut().tcp(this.id) {
                s.close();
            }
            n.kick();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for TunnelStream {
    fn drop(&mut self) {
        // A stream dropped while the stack is borrowed (say, inside a
        // callback of the loop) is released on the loop's next turn: the
        // socket and its buffers are never leaked.
        self.net.release(self.id);
    }
}
