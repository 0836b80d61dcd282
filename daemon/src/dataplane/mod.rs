//! The data-plane event loop: one thread owns the WireGuard UDP socket and
//! the sans-IO [`Core`] (peer table, TCP/IP stack, STUN side channel), with
//! no locks and no per-packet hand-off between tasks. [`Driver`] is the
//! core's one driver, for `wingress run` and `wingress forward` alike.
//!
//! Call order, per turn ([`Driver::turn`]):
//! 1. release connections dropped while the core was borrowed;
//! 2. up to [`RX_BATCHES_PER_TURN`] receive batches into
//!    [`Core::handle_datagram`], the core's events handed to the
//!    [`Handler`] after each batch (the core not borrowed);
//! 3. [`Core::handle_timeout`], a change of the kernel's load-shedding
//!    filter to the socket ([`Core::poll_filter`]), then the core's events
//!    to the handler;
//! 4. [`Core::poll_transmit`] into the send batch until empty, then flush;
//! 5. if anything moved, yield to the tasks it woke and go round again;
//!    else sleep until [`Core::poll_timeout`], a readable socket or a kick.
//!
//! Application tasks (backend connections, reloads) run on the same thread
//! and reach the core through [`NetRef`]: [`NetCell::act`] borrows, acts
//! and kicks the loop; hot paths that may find nothing to do borrow and
//! [`Net::kick`] themselves.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use wingress_netstack::{Accepted, Stack, TcpId, UdpDatagram};
use wingress_wg::{Device, PeerId};

pub(crate) mod client;
pub(crate) mod core;
pub(crate) mod shed;
pub(crate) mod side_channel;
pub(crate) mod tcp_pump;
pub(crate) mod tunnel;
pub(crate) mod tunnel_stream;
pub(crate) mod udp_io;

pub(crate) use self::core::peer_key;
use self::core::{Core, Event, TRANSMIT_ROOM};
pub(crate) use side_channel::SideChannel;
use udp_io::{TxBatch, UdpIo};

/// The state one data-plane thread owns: the sans-IO [`Core`] (reached
/// through `Deref`) and what the driver adds around it.
pub(crate) struct Net {
    core: Core,
    /// Outgoing datagrams dropped because the socket stayed blocked.
    pub(crate) tx_dropped: u64,
    kicked: bool,
    waker: Option<Waker>,
}

impl Deref for Net {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl DerefMut for Net {
    fn deref_mut(&mut self) -> &mut Core {
        &mut self.core
    }
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
                core: Core::new(wg, stack, Instant::now()),
                tx_dropped: 0,
                kicked: false,
                waker: None,
            }),
            deferred: Cell::new(Vec::new()),
        })
    }

    /// Runs `f` on the core, then wakes the loop so that whatever `f`
    /// changed (a socket opened, closed or written, a datagram queued, a
    /// peer added) is acted on: the one way for code off the loop to change
    /// the data plane without forgetting [`Net::kick`]. Hot paths that
    /// only sometimes change anything (a read that may find no data) borrow
    /// and kick themselves, so as not to wake the loop for nothing.
    pub(crate) fn act<R>(&self, f: impl FnOnce(&mut Core) -> R) -> R {
        let mut n = self.net.borrow_mut();
        let r = f(&mut n.core);
        n.kick();
        r
    }

    /// Releases a connection the application is done with: now when the
    /// stack is free, else on the loop's next turn; never skipped.
    pub(crate) fn release(&self, id: TcpId) {
        match self.net.try_borrow_mut() {
            Ok(mut n) => {
                n.stack_mut().release(id);
                n.kick();
            }
            Err(_) => {
                let mut ids = self.deferred.take();
                ids.push(id);
                self.deferred.set(ids);
            }
        }
    }

    fn release_deferred(&self, core: &mut Core) {
        for id in self.deferred.take() {
            core.stack_mut().release(id);
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

/// What the application does with traffic the stack delivers. Both are
/// called while the loop does not hold `net`: borrow it to answer at once.
pub(crate) trait Handler {
    /// A TCP connection completed its handshake on a listened port.
    fn accepted(&mut self, net: &NetRef, conn: Accepted, peer: Option<PeerId>);
    /// A datagram for a bound UDP port.
    fn datagram(&mut self, net: &NetRef, d: &UdpDatagram, peer: PeerId);
}

/// Receive batches per turn before the stack is polled and output flushed.
const RX_BATCHES_PER_TURN: usize = 8;

/// The one driver of a [`Core`]: owns the WireGuard UDP socket and the
/// clock, feeds received batches to the core, sends what it transmits,
/// hands its events to the [`Handler`], and sleeps until the core's
/// timeout, a datagram, or a [`Net::kick`].
pub(crate) struct Driver<H> {
    net: NetRef,
    io: UdpIo,
    tx: TxBatch,
    handler: H,
}

impl<H: Handler> Driver<H> {
    pub(crate) fn new(net: NetRef, io: UdpIo, handler: H) -> Self {
        Self {
            net,
            io,
            tx: TxBatch::default(),
            handler,
        }
    }

    /// Starts handshakes with every peer whose endpoint is known, so the
    /// first connection does not wait for one and the peer learns where we are.
    pub(crate) fn initiate_handshakes(&mut self) {
        let net_rc = self.net.clone();
        let mut net = net_rc.borrow_mut();
        net.initiate_all();
        self.transmit(&mut net);
        drop(net);
        let _ = self.flush();
    }

    /// Runs until the task is dropped.
    pub(crate) async fn run(mut self) {
        let sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(sleep);
        loop {
            let work = self.turn();
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
            let deadline = self.net.borrow_mut().poll_timeout(Instant::now());
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

    /// One pass: receive, run the core, hand out its events, send. Returns
    /// whether anything was received or sent (so the loop should go round
    /// again before sleeping).
    fn turn(&mut self) -> bool {
        let now = Instant::now();
        {
            let mut net = self.net.borrow_mut();
            net.kicked = false;
            self.net.release_deferred(&mut net);
        }
        let mut received = 0;
        for _ in 0..RX_BATCHES_PER_TURN {
            let mut net = self.net.borrow_mut();
            let r = self
                .io
                .recv_batch(|from, d| net.handle_datagram(now, from, d));
            drop(net);
            // Datagrams for bound ports, answered while the core is free.
            self.dispatch();
            match r {
                Ok(0) => break,
                Ok(n) => received += n,
                Err(e) => {
                    tracing::debug!(error = %e, "udp receive failed");
                    break;
                }
            }
        }
        let filter = {
            let mut net = self.net.borrow_mut();
            net.handle_timeout(now);
            net.poll_filter()
        };
        if let Some(filter) = filter {
            if let Err(e) = self.io.set_filter(filter.as_ref()) {
                tracing::warn!(error = %e, "could not change the kernel's load-shedding filter");
            }
        }
        self.dispatch();
        let net_rc = self.net.clone();
        let mut net = net_rc.borrow_mut();
        let sent = self.transmit(&mut net);
        net.tx_dropped = self.tx.dropped;
        drop(net);
        let _ = self.flush();
        received > 0 || sent > 0
    }

    /// Hands the core's events to the handler, the core not borrowed.
    fn dispatch(&mut self) {
        loop {
            // The borrow ends here: the handler may borrow the core.
            let event = self.net.borrow_mut().poll_event();
            let Some(event) = event else {
                return;
            };
            match event {
                Event::Accepted { conn, peer } => self.handler.accepted(&self.net, conn, peer),
                Event::Datagram { datagram, peer } => {
                    self.handler.datagram(&self.net, &datagram, peer);
                    self.net.borrow_mut().recycle(datagram.into_buffer());
                }
            }
        }
    }

    /// Moves the core's datagrams into the send batch, each encrypted
    /// straight into the batch's buffer, flushing whenever the batch is
    /// full. Returns how many; stops early while the socket is blocked
    /// (the rest waits in the core).
    fn transmit(&mut self, net: &mut Net) -> usize {
        let mut sent = 0;
        loop {
            if self.tx.is_full() && self.tx.flush(&self.io).is_err() {
                // Blocked: the rest stays in the core.
                return sent.max(1);
            }
            let mut more = false;
            let core = &mut net.core;
            self.tx.push_with(TRANSMIT_ROOM, |buf| {
                let t = core.poll_transmit(buf);
                more = t.is_some();
                t
            });
            if !more {
                return sent;
            }
            sent += 1;
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tx.flush(&self.io)
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

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
