//! The WireGuard UDP socket: batched receive (recvmmsg, GRO) and batched
//! send (GSO runs of equal-sized datagrams to one destination).

use std::io::{self, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState, BATCH_SIZE};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// One receive buffer holds a whole GRO train (up to 64 KiB).
const RX_BUF: usize = 64 * 1024;
/// Kernel socket buffers: several MB, so bursts are not dropped.
const SOCKET_BUFFER: usize = 8 << 20;
/// A GSO send may carry at most this many bytes.
const GSO_MAX_BYTES: usize = 64_000;

pub struct UdpIo {
    sock: UdpSocket,
    state: UdpSocketState,
    rx: Vec<Vec<u8>>,
    meta: Vec<RecvMeta>,
    dual_stack: bool,
}

impl UdpIo {
    /// Binds the WireGuard port on all addresses, IPv6 and IPv4 together
    /// where the host allows, else IPv4 only.
    pub fn bind(port: u16) -> io::Result<Self> {
        let (sock, dual_stack) = match bind_dual(port) {
            Ok(s) => (s, true),
            Err(_) => {
                let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
                s.bind(&SocketAddr::from(([0, 0, 0, 0], port)).into())?;
                (s, false)
            }
        };
        if let Err(e) = crate::sys::set_socket_buffers(&sock, SOCKET_BUFFER) {
            tracing::debug!(error = %e, "could not enlarge UDP socket buffers");
        }
        sock.set_nonblocking(true)?;
        let std_sock: std::net::UdpSocket = sock.into();
        let state = UdpSocketState::new(UdpSockRef::from(&std_sock))?;
        let sock = UdpSocket::from_std(std_sock)?;
        let batch = BATCH_SIZE.min(32);
        Ok(Self {
            sock,
            state,
            rx: (0..batch).map(|_| vec![0u8; RX_BUF]).collect(),
            meta: vec![RecvMeta::default(); batch],
            dual_stack,
        })
    }

    pub fn local_port(&self) -> io::Result<u16> {
        Ok(self.sock.local_addr()?.port())
    }

    pub async fn readable(&self) -> io::Result<()> {
        self.sock.readable().await
    }

    pub async fn writable(&self) -> io::Result<()> {
        self.sock.writable().await
    }

    /// Receives one batch without blocking and calls `f` for every datagram
    /// (GRO trains are split). Returns how many datagrams; 0 when none wait.
    pub fn recv_batch(&mut self, mut f: impl FnMut(SocketAddr, &[u8])) -> io::Result<usize> {
        let Self {
            sock,
            state,
            rx,
            meta,
            ..
        } = self;
        let mut iovs: Vec<IoSliceMut<'_>> = rx.iter_mut().map(|b| IoSliceMut::new(b)).collect();
        let n = match sock.try_io(Interest::READABLE, || {
            state.recv(UdpSockRef::from(&*sock), &mut iovs, meta)
        }) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut count = 0;
        for (m, buf) in meta.iter().zip(iovs.iter()).take(n) {
            let from = canonical(m.addr);
            let stride = m.stride.max(1);
            for seg in buf[..m.len].chunks(stride) {
                f(from, seg);
                count += 1;
            }
        }
        Ok(count)
    }

    fn send(&self, to: SocketAddr, contents: &[u8], segment_size: Option<usize>) -> io::Result<()> {
        let destination = if self.dual_stack { mapped(to) } else { to };
        let t = Transmit {
            destination,
            ecn: None,
            contents,
            segment_size,
            src_ip: None,
        };
        self.sock.try_io(Interest::WRITABLE, || {
            self.state.try_send(UdpSockRef::from(&self.sock), &t)
        })
    }

    fn max_gso_segments(&self) -> usize {
        self.state.max_gso_segments()
    }
}

fn bind_dual(port: u16) -> io::Result<Socket> {
    let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_only_v6(false)?;
    s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
    Ok(s)
}

/// IPv4 peers show up on a dual-stack socket as `::ffff:a.b.c.d`.
fn canonical(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => a,
        },
        v4 => v4,
    }
}

fn mapped(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V4(v4) => {
            SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        v6 => v6,
    }
}

#[derive(Debug, Clone, Copy)]
struct Seg {
    to: SocketAddr,
    start: usize,
    len: usize,
}

/// Outgoing datagrams written back to back into one buffer, so runs of
/// equal-sized datagrams to one peer leave in a single GSO send.
#[derive(Debug, Default)]
pub struct TxBatch {
    /// Queued datagrams back to back in `buf[..len]`. `buf` only grows and
    /// is never truncated, so appending does not zero fresh room for every
    /// datagram.
    buf: Vec<u8>,
    len: usize,
    segs: Vec<Seg>,
    next: usize,
}

/// Flush once this much is queued.
const BATCH_BYTES: usize = 512 * 1024;

impl TxBatch {
    pub fn is_full(&self) -> bool {
        self.len >= BATCH_BYTES
    }

    pub fn is_empty(&self) -> bool {
        self.next == self.segs.len()
    }

    /// Appends one datagram. `write` gets at least `room` bytes and returns
    /// the destination and length it wrote at the start of them, or `None`
    /// to append nothing.
    pub fn push_with(
        &mut self,
        room: usize,
        write: impl FnOnce(&mut [u8]) -> Option<(SocketAddr, usize)>,
    ) {
        let start = self.len;
        if self.buf.len() < start + room {
            self.buf.resize(start + room, 0);
        }
        if let Some((to, len)) = write(&mut self.buf[start..start + room]) {
            self.len = start + len;
            self.segs.push(Seg { to, start, len });
        }
    }

    pub fn push(&mut self, to: SocketAddr, bytes: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(bytes);
        self.segs.push(Seg {
            to,
            start,
            len: bytes.len(),
        });
    }

    /// Sends everything queued. On `WouldBlock` the unsent rest stays
    /// queued; wait for the socket to become writable and call again. Other
    /// errors drop the run that failed (the tunnelled transports recover).
    pub fn flush(&mut self, io: &UdpIo) -> io::Result<()> {
        let max_segs = io.max_gso_segments().max(1);
        while self.next < self.segs.len() {
            let first = self.segs[self.next];
            let mut end = self.next + 1;
            let mut bytes = first.len;
            while end < self.segs.len() && end - self.next < max_segs {
                let s = self.segs[end];
                let prev = self.segs[end - 1];
                // GSO: every segment but the last has the first one's size.
                if s.to != first.to
                    || prev.len != first.len
                    || s.len > first.len
                    || bytes + s.len > GSO_MAX_BYTES
                {
                    break;
                }
                bytes += s.len;
                end += 1;
            }
            let contents = &self.buf[first.start..first.start + bytes];
            let seg = (end - self.next > 1).then_some(first.len);
            match io.send(first.to, contents, seg) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(e),
                Err(e) => tracing::debug!(error = %e, to = %first.to, "udp send failed"),
            }
            self.next = end;
        }
        self.len = 0;
        self.segs.clear();
        self.next = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_cross_loopback_intact() {
        let mut a = UdpIo::bind(0).unwrap();
        let b = UdpIo::bind(0).unwrap();
        let to: SocketAddr = ([127, 0, 0, 1], a.local_port().unwrap()).into();
        let mut batch = TxBatch::default();
        let mut want = Vec::new();
        for i in 0..100u32 {
            // Mostly full-size datagrams with a few odd ones, as a bulk flow
            // interleaved with ACKs looks.
            let len = if i % 17 == 0 { 60 } else { 1452 };
            let d: Vec<u8> = (0..len).map(|j| (i as usize * 7 + j) as u8).collect();
            batch.push(to, &d);
            want.push(d);
        }
        // A fresh socket's write readiness is unknown until the reactor has
        // seen it: wait for it exactly as the event loop does.
        while let Err(e) = batch.flush(&b) {
            assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}");
            b.writable().await.unwrap();
        }
        assert!(batch.is_empty());
        let mut got = Vec::new();
        while got.len() < want.len() {
            a.readable().await.unwrap();
            a.recv_batch(|_, d| got.push(d.to_vec())).unwrap();
        }
        assert_eq!(got, want);
    }
}
