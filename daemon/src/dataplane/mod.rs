//! The data-plane event loop: one thread owns the WireGuard UDP socket, the
//! peer table and the TCP/IP stack, with no locks and no per-packet hand-off
//! between tasks. Application tasks (backend connections) run on the same
//! thread and reach the stack through [`NetRef`]; after touching a socket
//! they [`Net::kick`] the loop so it polls the stack again.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::net::SocketAddr;
use std::ops::Deref;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use wingress_netstack::{Accepted, Ingress, PeerKey, Stack, TcpId, UdpDatagram};
use wingress_wg::{Device, Incoming, Outgoing, PeerId, MIN_OUT, OVERHEAD, TIMER_TICK};

pub(crate) mod client;
pub(crate) mod side_channel;
pub(crate) mod tcp_pump;
pub(crate) mod tunnel;
pub(crate) mod tunnel_stream;
pub(crate) mod udp_io;

pub(crate) use side_channel::SideChannel;
use udp_io::{TxBatch, UdpIo};

/// The state one data-plane thread owns.
pub(crate) struct Net {
    pub(crate) wg: Device,
    pub(crate) stack: Stack,
    /// Peers to start a handshake with on the next turn (added by a reload).
    pub(crate) initiate: Vec<PeerId>,
    /// STUN on the WireGuard socket (the NAT driver's).
    pub(crate) side: SideChannel,
    /// Outgoing datagrams dropped because the socket stayed blocked.
    pub(crate) tx_dropped: u64,
    kicked: bool,
    waker: Option<Waker>,
}

/// The shared handle on a data plane: the [`Net`] (borrowed by the loop
/// and by tasks in turn) and the connections to release that could not be
/// released on the spot.
pub(crate) struct NetCell {
    net: RefCell<Net>,
    /// Connections whose owner let go while `net` was borrowed; the loop
    /// releases them at the start of its next turn (at most a timer tick
    /// later). A `Cell` so that adding never fails.
    deferred: Cell<Vec<TcpId>>,
}

impl Deref for NetCell {
    type Target = RefCell<Net>;

    fn deref(&self) -> &RefCell<Net> {
        &self.net
    }
}

impl NetCell {
    pub(crate) fn new(wg: Device, stack: Stack) -> NetRef {
        Rc::new(NetCell {
            net: RefCell::new(Net {
                wg,
                stack,
                initiate: Vec::new(),
                side: SideChannel::default(),
                tx_dropped: 0,
                kicked: false,
                waker: None,
            }),
            deferred: Cell::new(Vec::new()),
        })
    }

    /// Releases a connection the application is done with: now when the
    /// stack is free, else on the loop's next turn; never skipped.
    pub(crate) fn release(&self, id: TcpId) {
        match self.net.try_borrow_mut() {
            Ok(mut n) => {
                n.stack.release(id);
                n.kick();
            }
            Err(_) => {
                let mut ids = self.deferred.take();
                ids.push(id);
                self.deferred.set(ids);
            }
        }
    }

    fn release_deferred(&self, net: &mut Net) {
        for id in self.deferred.take() {
            net.stack.release(id);
        }
    }
}

pub(crate) type NetRef = Rc<NetCell>;

impl Net {
    /// Asks the event loop to poll the stack: a socket has new data to send,
    /// or freed receive space worth announcing.
    pub(crate) fn kick(&mut self) {
        if !self.kicked {
            self.kicked = true;
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        }
    }
}

/// What the application does with traffic the stack delivers.
pub(crate) trait Handler {
    /// A TCP connection completed its handshake on a listened port.
    fn accepted(&mut self, net: &NetRef, conn: Accepted, peer: Option<PeerId>);
    /// A datagram for a bound UDP port. Called while the loop holds `net`:
    /// do not borrow it; clone `net_ref` into tasks instead.
    fn datagram(&mut self, net_ref: &NetRef, d: &UdpDatagram, peer: PeerId);
}

/// Room for one queued packet: the largest MTU plus WireGuard overhead.
const QUEUED_ROOM: usize = 9000 + OVERHEAD + MIN_OUT;

/// Receive batches per turn before the stack is polled and output flushed.
const RX_BATCHES_PER_TURN: usize = 8;

pub(crate) struct Driver<H> {
    net: NetRef,
    io: UdpIo,
    tx: TxBatch,
    handler: H,
    next_timers: Instant,
    accepted: Vec<(Accepted, Option<PeerId>)>,
    /// Scratch for WireGuard timer output.
    scratch: Vec<u8>,
}

impl<H: Handler> Driver<H> {
    pub(crate) fn new(net: NetRef, io: UdpIo, handler: H) -> Self {
        Self {
            net,
            io,
            tx: TxBatch::default(),
            handler,
            next_timers: Instant::now(),
            accepted: Vec::new(),
            scratch: vec![0u8; MIN_OUT.max(256)],
        }
    }

    /// Starts handshakes with every peer whose endpoint is known, so the
    /// first connection does not wait for one and the peer learns where we are.
    pub(crate) fn initiate_handshakes(&mut self) {
        let mut net = self.net.borrow_mut();
        let ids: Vec<PeerId> = net.wg.peer_ids().collect();
        for id in ids {
            let wg = &mut net.wg;
            self.tx.push_with(MIN_OUT, |out| {
                wg.initiate(id, out).map(|t| (t.to, t.bytes.len()))
            });
        }
        drop(net);
        let _ = self.flush();
    }

    /// Runs until the task is dropped.
    pub(crate) async fn run(mut self) {
        let sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(sleep);
        loop {
            let work = self.turn();
            for (conn, peer) in self.accepted.drain(..) {
                self.handler.accepted(&self.net, conn, peer);
            }
            if !self.tx.is_empty() {
                // The socket's send buffer is full: wait, then finish.
                let _ = self.io.writable().await;
                continue;
            }
            if work {
                // Let the connection tasks this turn woke run before the next.
                tokio::task::yield_now().await;
                continue;
            }
            let deadline = self.deadline();
            sleep
                .as_mut()
                .reset(tokio::time::Instant::from_std(deadline));
            let net = &self.net;
            tokio::select! {
                biased;
                r = self.io.readable() => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "udp socket failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                _ = kicked(net) => {}
                _ = &mut sleep => {}
            }
        }
    }

    fn deadline(&self) -> Instant {
        let now = Instant::now();
        let mut net = self.net.borrow_mut();
        let stack = net
            .stack
            .poll_delay(now)
            .map_or(self.next_timers, |d| now + d);
        stack.min(self.next_timers)
    }

    /// One pass: receive, run the stack, send. Returns whether anything
    /// happened (so the loop should go round again before sleeping).
    fn turn(&mut self) -> bool {
        let now = Instant::now();
        let net_rc = self.net.clone();
        let mut net_guard = net_rc.borrow_mut();
        let net = &mut *net_guard;
        net.kicked = false;
        net_rc.release_deferred(net);
        for id in std::mem::take(&mut net.initiate) {
            let wg = &mut net.wg;
            self.tx.push_with(MIN_OUT, |out| {
                wg.initiate(id, out).map(|t| (t.to, t.bytes.len()))
            });
        }
        let mut received = 0;
        for _ in 0..RX_BATCHES_PER_TURN {
            let tx = &mut self.tx;
            let handler = &mut self.handler;
            let net_ref = &self.net;
            match self
                .io
                .recv_batch(|from, d| on_datagram(net, net_ref, handler, tx, now, from, d))
            {
                Ok(0) => break,
                Ok(n) => received += n,
                Err(e) => {
                    tracing::debug!(error = %e, "udp receive failed");
                    break;
                }
            }
        }
        while let Some((to, bytes)) = net.side.poll_transmit(now) {
            self.tx.push(to, &bytes);
        }
        net.stack.poll(now);
        while let Some(conn) = net.stack.accept() {
            let peer = net.wg.peer_for_addr(conn.remote.ip());
            self.accepted.push((conn, peer));
        }
        if now >= self.next_timers {
            self.next_timers = now + TIMER_TICK;
            let tx = &mut self.tx;
            net.wg
                .poll_timers(now, &mut self.scratch, |t| tx.push(t.to, t.bytes));
        }
        let mut sent = 0;
        loop {
            if self.tx.is_full() && self.tx.flush(&self.io).is_err() {
                // Blocked: the rest stays in the stack's queue.
                return true;
            }
            let Some(pkt) = net.stack.poll_transmit() else {
                break;
            };
            sent += 1;
            let wg = &mut net.wg;
            self.tx.push_with(pkt.len() + OVERHEAD + MIN_OUT, |out| {
                match wg.encapsulate(&pkt, out) {
                    Outgoing::Send(t) => Some((t.to, t.bytes.len())),
                    Outgoing::Queued | Outgoing::Dropped(_) => None,
                }
            });
            net.stack.recycle(pkt);
        }
        net.tx_dropped = self.tx.dropped;
        drop(net_guard);
        let _ = self.flush();
        received > 0 || sent > 0
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tx.flush(&self.io)
    }
}

/// Decrypts one datagram and hands the packet inside to the stack or the
/// application.
fn on_datagram<H: Handler>(
    net: &mut Net,
    net_ref: &NetRef,
    handler: &mut H,
    tx: &mut TxBatch,
    now: Instant,
    from: SocketAddr,
    datagram: &[u8],
) {
    if datagram.len() > net.wg.max_datagram() {
        // Junk: refused before it takes (and grows) a pooled buffer.
        net.wg.refuse_oversized();
        return;
    }
    // Data messages (type 4) are nearly all traffic: one compare, then
    // straight to WireGuard.
    if datagram.first() != Some(&4) && wingress_nat::stun::looks_like_stun(datagram) {
        net.side.deliver(now, from, datagram);
        return;
    }
    let mut out = net.stack.take_buffer();
    out.resize(datagram.len().max(MIN_OUT), 0);
    let (flush_peer, packet) = match net.wg.handle_datagram(now, from, datagram, &mut out) {
        Incoming::Packet { peer, packet } => {
            let n = packet.len();
            (None, Some((peer, n)))
        }
        Incoming::Reply { peer, bytes } => {
            tx.push(from, bytes);
            (peer, None)
        }
        Incoming::Handled { peer } => (Some(peer), None),
        Incoming::CookieStored { .. } | Incoming::Dropped(_) => (None, None),
    };
    if let Some(peer) = flush_peer {
        // Packets that waited for this handshake can go now.
        let wg = &mut net.wg;
        loop {
            let mut more = false;
            tx.push_with(QUEUED_ROOM, |buf| {
                let t = wg.poll_queued(peer, buf)?;
                more = true;
                Some((t.to, t.bytes.len()))
            });
            if !more {
                break;
            }
        }
    }
    let Some((peer, n)) = packet else {
        net.stack.recycle(out);
        return;
    };
    out.truncate(n);
    if let Ingress::Udp(d) = net.stack.handle_packet(now, peer_key(peer), out) {
        handler.datagram(net_ref, &d, peer);
        net.stack.recycle(d.into_buffer());
    }
}

/// Resolves when a task has kicked the loop.
fn kicked(net: &NetRef) -> impl std::future::Future<Output = ()> + '_ {
    poll_fn(move |cx| {
        let mut n = net.borrow_mut();
        if n.kicked {
            n.kicked = false;
            Poll::Ready(())
        } else {
            n.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    })
}

/// The netstack's name for a WireGuard peer.
pub(crate) fn peer_key(id: PeerId) -> PeerKey {
    PeerKey(id.0)
}

#[cfg(test)]
mod tests {
    use wingress_netstack::StackConfig;
    use wingress_wg::PrivateKey;

    use super::*;
    use crate::dataplane::tunnel_stream::TunnelStream;

    struct Nothing;

    impl Handler for Nothing {
        fn accepted(&mut self, _: &NetRef, _: Accepted, _: Option<PeerId>) {}
        fn datagram(&mut self, _: &NetRef, _: &UdpDatagram, _: PeerId) {}
    }

    /// A stream dropped while the stack is borrowed (inside a callback of
    /// the loop, say) is released on the loop's next turn, not leaked.
    #[tokio::test]
    async fn a_stream_dropped_while_the_stack_is_borrowed_is_released() {
        let config = StackConfig {
            addresses: vec![("100.64.0.2".parse().unwrap(), 24)],
            ..StackConfig::default()
        };
        let stack = Stack::new(config, Instant::now());
        let net = NetCell::new(Device::new(PrivateKey::generate()), stack);
        let id = net
            .borrow_mut()
            .stack
            .connect("100.64.0.1:80".parse().unwrap())
            .unwrap();
        let stream = TunnelStream::new(net.clone(), id);
        let held = net.borrow_mut();
        drop(stream);
        drop(held);
        let mut driver = Driver::new(net.clone(), UdpIo::bind(0).unwrap(), Nothing);
        driver.turn();
        assert!(
            net.borrow_mut().stack.tcp(id).is_none(),
            "the connection is still owned by a stream that no longer exists"
        );
    }
}
