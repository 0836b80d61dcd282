//! The WireGuard UDP socket: batched receive (recvmmsg, GRO) and batched
//! send (GSO runs of equal-sized datagrams to one destination).

use std::io::{self, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState, BATCH_SIZE};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use crate::dataplane::shed::{program, Filter};

/// One receive buffer holds a whole GRO train (up to 64 KiB).
const RX_BUF: usize = 64 * 1024;
/// Kernel socket buffers: several MB, so bursts are not dropped.
const SOCKET_BUFFER: usize = 8 << 20;
/// A GSO send may carry at most this many bytes.
const GSO_MAX_BYTES: usize = 64_000;

pub(crate) struct UdpIo {
    sock: UdpSocket,
    state: UdpSocketState,
    rx: Vec<Vec<u8>>,
    meta: Vec<RecvMeta>,
    dual_stack: bool,
}

impl UdpIo {
    /// Binds the WireGuard port on all addresses, IPv6 and IPv4 together
    /// where the host allows, else IPv4 only.
    pub(crate) fn bind(port: u16) -> io::Result<Self> {
        let (sock, dual_stack) = match bind_dual(port) {
            Ok(s) => (s, true),
            Err(_) => {
                let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
                s.bind(&SocketAddr::from(([0, 0, 0, 0], port)).into())?;
                (s, false)
            }
        };
        if let Err(e) = crate::platform::sys::set_socket_buffers(&sock, SOCKET_BUFFER) {
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

    pub(crate) fn local_port(&self) -> io::Result<u16> {
        Ok(self.sock.local_addr()?.port())
    }

    pub(crate) async fn readable(&self) -> io::Result<()> {
        self.sock.readable().await
    }

    pub(crate) async fn writable(&self) -> io::Result<()> {
        self.sock.writable().await
    }

    /// Receives one batch without blocking and calls `f` for every datagram
    /// (GRO trains are split). Returns how many datagrams; 0 when none wait.
    pub(crate) fn recv_batch(&mut self, mut f: impl FnMut(SocketAddr, &[u8])) -> io::Result<usize> {
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

    /// Attaches the kernel's load-shedding filter (see `super::shed`), or
    /// detaches it with `None`. Replaces any filter attached before, in
    /// one system call: no datagram sees neither.
    pub(crate) fn set_filter(&self, filter: Option<&Filter>) -> io::Result<()> {
        let sock = socket2::SockRef::from(&self.sock);
        match filter {
            Some(f) => sock.attach_filter(&program(f)),
            None => match sock.detach_filter() {
                // Nothing attached: already the wanted state.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
                r => r,
            },
        }
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
///
/// Every datagram is appended at `len`, right after the previous one, and
/// a flush that sends everything starts the buffer over; so a GSO run is
/// always one contiguous slice, and memory is bounded by [`MAX_QUEUED`]
/// (plus one datagram's room) however long the daemon runs.
#[derive(Debug, Default)]
pub(crate) struct TxBatch {
    /// Queued datagrams back to back in `buf[..len]`. Beyond `len`, `buf`
    /// keeps zeroed room from earlier batches, so appending does not zero
    /// fresh room for every datagram; it is cut back after a burst.
    buf: Vec<u8>,
    len: usize,
    segs: Vec<Seg>,
    next: usize,
    /// Datagrams refused because [`MAX_QUEUED`] bytes were waiting.
    pub(crate) dropped: u64,
}

/// Flush once this much is queued.
const BATCH_BYTES: usize = 512 * 1024;

/// Queued bytes at most: beyond this (the socket has been blocked for a
/// while) new datagrams are dropped; the tunnelled transports recover.
const MAX_QUEUED: usize = 4 * BATCH_BYTES;

/// Queued datagrams at most (the smallest is 20 bytes, a STUN request).
const MAX_SEGS: usize = MAX_QUEUED / 32;

/// Room kept in `buf` after a flush; a burst beyond it is given back.
const KEPT_ROOM: usize = BATCH_BYTES + 64 * 1024;
/// Segment slots kept after a flush.
const KEPT_SEGS: usize = 4096;

impl TxBatch {
    pub(crate) fn is_full(&self) -> bool {
        self.len >= BATCH_BYTES
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.next == self.segs.len()
    }

    /// Appends one datagram. `write` gets at least `room` bytes and returns
    /// the destination and length it wrote at the start of them, or `None`
    /// to append nothing. Not called when [`MAX_QUEUED`] bytes wait.
    pub(crate) fn push_with(
        &mut self,
        room: usize,
        write: impl FnOnce(&mut [u8]) -> Option<(SocketAddr, usize)>,
    ) {
        let start = self.len;
        let end = start + room;
        if end > MAX_QUEUED || self.segs.len() >= MAX_SEGS {
            self.dropped += 1;
            return;
        }
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        if let Some((to, len)) = write(&mut self.buf[start..end]) {
            let len = len.min(room);
            self.len = start + len;
            self.segs.push(Seg { to, start, len });
        }
    }

    /// Appends a copy of `bytes` (tests; the data plane writes in place
    /// with [`TxBatch::push_with`]).
    #[cfg(test)]
    pub(crate) fn push(&mut self, to: SocketAddr, bytes: &[u8]) {
        self.push_with(bytes.len(), |out| {
            out.copy_from_slice(bytes);
            Some((to, bytes.len()))
        });
    }

    /// Sends everything queued. On `WouldBlock` the unsent rest stays
    /// queued; wait for the socket to become writable and call again. Other
    /// errors drop the run that failed (the tunnelled transports recover).
    pub(crate) fn flush(&mut self, io: &UdpIo) -> io::Result<()> {
        let max_segs = io.max_gso_segments().max(1);
        while let Some((first, end, bytes)) = self.next_run(max_segs) {
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
        if self.buf.len() > KEPT_ROOM {
            self.buf.truncate(KEPT_ROOM);
            self.buf.shrink_to_fit();
        }
        self.segs.shrink_to(KEPT_SEGS);
        Ok(())
    }

    /// The next run of segments one send can carry: its first segment,
    /// the index after its last, and its bytes. A GSO run is contiguous in
    /// `buf`, goes to one destination, and every segment but the last has
    /// the first one's size.
    fn next_run(&self, max_segs: usize) -> Option<(Seg, usize, usize)> {
        let first = *self.segs.get(self.next)?;
        let mut end = self.next + 1;
        let mut bytes = first.len;
        while end < self.segs.len() && end - self.next < max_segs {
            let s = self.segs[end];
            let prev = self.segs[end - 1];
            if s.to != first.to
                || prev.len != first.len
                || s.len > first.len
                || s.start != prev.start + prev.len
                || bytes + s.len > GSO_MAX_BYTES
            {
                break;
            }
            bytes += s.len;
            end += 1;
        }
        Some((first, end, bytes))
    }
}

#[cfg(test)]
#[path = "udp_io_tests.rs"]
mod tests;
