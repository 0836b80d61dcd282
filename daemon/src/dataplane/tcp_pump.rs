//! Moves bytes between a connection in the userspace stack and a kernel TCP
//! socket, straight between smoltcp's ring buffers and the kernel: no
//! intermediate copy, no per-chunk allocation. A connection that moves no
//! byte either way for its idle timeout is reset on both sides.

use std::cell::Cell;
use std::future::poll_fn;
use std::io;
use std::task::Poll;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};
use wingress_netstack::TcpId;

use crate::dataplane::tunnel_stream::{end_of_input, reset};
use crate::dataplane::NetRef;

/// How a pump ended.
#[derive(Debug)]
pub(crate) enum PumpEnd {
    /// Both directions finished with FINs.
    Closed,
    /// The tunnel side was reset or timed out.
    TunnelReset,
    /// The kernel socket failed.
    Io(io::Error),
    /// Nothing moved either way for the idle timeout.
    Idle,
}

/// Copies both ways until both directions have closed, then releases the
/// tunnel connection. Bytes moved: (tunnel → kernel, kernel → tunnel). An
/// error either way ends both at once: a reset tunnel side must not wait
/// for an idle backend to speak first. So does `idle` without a byte moved.
pub(crate) async fn pump(
    net: &NetRef,
    id: TcpId,
    stream: TcpStream,
    idle: Option<Duration>,
) -> (PumpEnd, u64, u64) {
    let last = Cell::new(Instant::now());
    let both = async {
        tokio::try_join!(
            tunnel_to_kernel(net, id, &stream, &last),
            kernel_to_tunnel(net, id, &stream, &last)
        )
    };
    let idle_for = async {
        let Some(idle) = idle else {
            return std::future::pending().await;
        };
        // Sleeps to the deadline the last byte set; no timer reset per read.
        loop {
            let deadline = last.get() + idle;
            if deadline <= Instant::now() {
                return;
            }
            sleep_until(deadline).await;
        }
    };
    let both = tokio::select! {
        both = both => both,
        () = idle_for => Err(io::Error::new(io::ErrorKind::TimedOut, "idle")),
    };
    let end = match both {
        Ok((a, b)) => (PumpEnd::Closed, a, b),
        Err(e) => {
            let reset = e.kind() == io::ErrorKind::ConnectionReset;
            let idle = e.kind() == io::ErrorKind::TimedOut;
            if idle {
                // A reset, not a FIN: the backend must not wait for more.
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            }
            let mut n = net.borrow_mut();
            if let Some(s) = n.stack_mut().tcp(id) {
                // Tell the tunnel side the connection is gone, rather than
                // letting it wait for bytes that will never come.
                s.abort();
            }
            n.kick();
            (
                if idle {
                    PumpEnd::Idle
                } else if reset {
                    PumpEnd::TunnelReset
                } else {
                    PumpEnd::Io(e)
                },
                0,
                0,
            )
        }
    };
    let mut n = net.borrow_mut();
    n.stack_mut().release(id);
    n.kick();
    end
}

/// Tunnel → kernel: drain smoltcp's receive buffer into the socket.
async fn tunnel_to_kernel(
    net: &NetRef,
    id: TcpId,
    stream: &TcpStream,
    last: &Cell<Instant>,
) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        // Wait for bytes, or for the peer's FIN.
        let open = poll_fn(|cx| {
            let mut n = net.borrow_mut();
            let Some(s) = n.stack_mut().tcp(id) else {
                return Poll::Ready(Err(reset()));
            };
            if s.can_recv() {
                Poll::Ready(Ok(true))
            } else if !s.may_recv() {
                Poll::Ready(end_of_input(s).map(|()| false))
            } else {
                s.register_recv_waker(cx.waker());
                Poll::Pending
            }
        })
        .await?;
        if !open {
            // Half-close: the peer is done sending; so are we, towards the
            // backend. It may still answer.
            let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write);
            return Ok(total);
        }
        stream.writable().await?;
        let mut n = net.borrow_mut();
        let Some(s) = n.stack_mut().tcp(id) else {
            return Err(reset());
        };
        let r = s.recv(|buf| match stream.try_write(buf) {
            Ok(k) => (k, Ok(k)),
            Err(e) => (0, Err(e)),
        });
        match r {
            Ok(Ok(k)) => {
                total += k as u64;
                last.set(Instant::now());
                // Freed window: let the loop decide whether to announce it.
                n.kick();
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(reset()),
        }
    }
}

/// Kernel → tunnel: read from the socket straight into smoltcp's send buffer.
async fn kernel_to_tunnel(
    net: &NetRef,
    id: TcpId,
    stream: &TcpStream,
    last: &Cell<Instant>,
) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        stream.readable().await?;
        // Wait for room in the send buffer, within the peer's buffer budget.
        let room = poll_fn(|cx| {
            let mut n = net.borrow_mut();
            let Some(s) = n.stack_mut().tcp(id) else {
                return Poll::Ready(Err(reset()));
            };
            if !s.may_send() {
                return Poll::Ready(Err(reset()));
            }
            match n.stack_mut().send_room(id, cx.waker()) {
                0 => Poll::Pending,
                room => Poll::Ready(Ok(room)),
            }
        })
        .await?;
        let mut n = net.borrow_mut();
        let Some(s) = n.stack_mut().tcp(id) else {
            return Err(reset());
        };
        let r = s.send(|buf| {
            let len = buf.len().min(room);
            match stream.try_read(&mut buf[..len]) {
                Ok(0) => (0, Ok(None)),
                Ok(k) => (k, Ok(Some(k))),
                Err(e) => (0, Err(e)),
            }
        });
        match r {
            Ok(Ok(Some(k))) => {
                total += k as u64;
                last.set(Instant::now());
                n.kick();
            }
            Ok(Ok(None)) => {
                // EOF from the kernel side: send our FIN into the tunnel.
                s.close();
                n.kick();
                return Ok(total);
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(reset()),
        }
    }
}
