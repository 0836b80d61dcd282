//! What the stack does around smoltcp on each poll: loss repair, the
//! send-stall timeout, moving handshaken connections to the accept queue,
//! freeing finished ones, and counting the bytes each peer has queued.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{self, State};

use super::{from_endpoint, Accepted, Stack, TcpId, DUP_ACKS, RUNAWAY_ACKS, STALL_CHECK_EVERY};
use crate::conn::Owner;
use crate::limits::{LimitHit, PeerKey};
use crate::packet::{classify, shrink_window, Header};

/// A connection with bytes to deliver whose acknowledgement has not moved
/// for this long (doubling per attempt) gets its first unacknowledged
/// segment retransmitted, instead of waiting for smoltcp's timer (1 s at
/// least, doubling): tail losses and lost retransmissions otherwise cost
/// seconds each on a lossy link.
const STALL_AFTER: Duration = Duration::from_millis(200);
/// Attempts before leaving it to smoltcp's own timer (200, 400, 800 ms).
const STALL_REPAIRS_MAX: u32 = 3;

impl Stack {
    /// Retransmits the first unacknowledged segment of connections whose
    /// peer has stopped acknowledging while bytes are outstanding; resets
    /// those whose peer has acknowledged nothing for the send-stall timeout.
    ///
    /// smoltcp retransmits on three duplicate ACKs, or on its timer. The
    /// peer's latest ACK is replayed four times: once with its window one
    /// unit smaller, which smoltcp takes as a window update and which
    /// restarts its duplicate count (an earlier fast retransmit may have
    /// left it above three), then three duplicates of that. The peer's
    /// real window returns with its next ACK. Called before each poll;
    /// scans at most every [`STALL_CHECK_EVERY`].
    pub(super) fn repair_stalls(&mut self, now: Instant) {
        if now < self.next_stall_check {
            return;
        }
        self.next_stall_check = now + STALL_CHECK_EVERY;
        self.in_flight = false;
        let stall_timeout = self.usage.limits.send_stall_timeout;
        for (h, conn) in self.conns.iter_mut() {
            if conn.is_pending() {
                continue;
            }
            let s = self.sockets.get_mut::<tcp::Socket<'static>>(*h);
            let sending = matches!(
                s.state(),
                State::Established
                    | State::CloseWait
                    | State::FinWait1
                    | State::Closing
                    | State::LastAck
            ) && s.send_queue() > 0;
            if !sending {
                conn.owed_since = None;
                continue;
            }
            let owed_since = *conn.owed_since.get_or_insert(now);
            if now.saturating_duration_since(owed_since) >= stall_timeout {
                // A zero window, or a peer that stopped reading or
                // vanished: its queued bytes would stay committed for good.
                s.abort();
                conn.owed_since = None;
                self.usage.count(conn.peer, LimitHit::SendStalled);
                if !conn.dirty {
                    conn.dirty = true;
                    self.dirty.push(*h);
                }
                continue;
            }
            self.in_flight = true;
            let wait = STALL_AFTER * (1 << conn.stall_repairs.min(STALL_REPAIRS_MAX));
            if conn.last_ack.is_empty()
                || conn.stall_repairs >= STALL_REPAIRS_MAX
                || now.saturating_duration_since(conn.progress_at) < wait
            {
                continue;
            }
            let mut update = self.device.pool.take();
            update.extend_from_slice(&conn.last_ack);
            if !shrink_window(&mut update) {
                self.device.pool.put(update);
                continue;
            }
            self.device.receive_copies(&update, DUP_ACKS);
            self.device.rx.push_front(update);
            conn.progress_at = now;
            conn.stall_repairs += 1;
            self.stats.stall_repairs += 1;
        }
    }

    /// Charges a connection's queued bytes as they are now; returns its peer.
    pub(super) fn recount(&mut self, h: SocketHandle) -> Option<PeerKey> {
        let conn = self.conns.get_mut(&h)?;
        let s = self.sockets.get::<tcp::Socket<'static>>(h);
        let queued = s.recv_queue() + s.send_queue();
        self.usage.charge(conn.peer, conn.buffered, queued);
        conn.buffered = queued;
        conn.peer
    }

    /// Counts again the queues of connections that received packets or
    /// that the application touched, and charges the differences.
    pub(super) fn account(&mut self) {
        while let Some(h) = self.dirty.pop() {
            if let Some(conn) = self.conns.get_mut(&h) {
                conn.dirty = false;
                self.recount(h);
            }
        }
        self.granted.clear();
        self.usage.settle();
    }

    /// Moves handshaken connections to the accept queue and frees closed ones.
    pub(super) fn sweep(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.pending.len() {
            let h = self.pending[i];
            let s = self.sockets.get::<tcp::Socket<'static>>(h);
            let state = s.state();
            let tuple = s.local_endpoint().zip(s.remote_endpoint());
            let since = match self.conns.get(&h).map(|c| c.owner) {
                Some(Owner::Pending { since }) => since,
                _ => now,
            };
            let age = now.saturating_duration_since(since);
            match state {
                State::Established | State::CloseWait => {
                    self.pending.swap_remove(i);
                    if let Some((local, remote)) = tuple {
                        let (local, remote) = (from_endpoint(local), from_endpoint(remote));
                        self.rekey(h, (local.port(), remote));
                        if let Some(c) = self.conns.get_mut(&h) {
                            c.owner = Owner::App;
                            self.usage.established(c.peer);
                        }
                        self.accepted.push(Accepted {
                            id: TcpId(h),
                            local,
                            remote,
                        });
                    }
                }
                // A listener still listening after a poll has no SYN: its
                // SYN went to another listener on the port (see `rekey`),
                // smoltcp refused it, or the peer reset the handshake.
                State::Closed | State::TimeWait | State::Listen => {
                    self.pending.swap_remove(i);
                    self.remove(h);
                }
                State::SynReceived if age > self.usage.limits.handshake_timeout => {
                    // smoltcp would keep retrying for its whole timeout
                    // (minutes): a SYN flood would hold its peer's cap.
                    let peer = self.conns.get(&h).and_then(|c| c.peer);
                    self.usage.count(peer, LimitHit::HandshakeTimeout);
                    self.pending.swap_remove(i);
                    self.remove(h);
                }
                _ => {
                    if let Some((local, remote)) = tuple {
                        self.rekey(h, (local.port, from_endpoint(remote)));
                    }
                    i += 1;
                }
            }
        }
        // Every SYN of this turn is in a listener now, rekeyed.
        self.syn_peers.clear();
        let mut i = 0;
        while i < self.released.len() {
            let h = self.released[i];
            let state = self.sockets.get::<tcp::Socket<'static>>(h).state();
            if matches!(state, State::Closed | State::TimeWait) {
                self.released.swap_remove(i);
                self.remove(h);
            } else {
                i += 1;
            }
        }
    }

    /// After a poll hit the egress budget: resets the connections that
    /// sent [`RUNAWAY_ACKS`] or more bare ACKs in it (the packets queued
    /// from `from` on), and takes all but the first of those ACKs out of
    /// the queue, so they are neither encrypted nor sent.
    ///
    /// smoltcp (0.14) sends a bare ACK only when it has an acknowledgement
    /// or a window to announce, once per pass; a socket that sends one on
    /// every pass is stuck, and `Interface::poll` would go round until it
    /// ran out of memory. Two ways in are known, both found by the
    /// `netstack` fuzz target and replayed in `egress_tests`: the
    /// zero-window-probe timer stays armed when the peer acknowledges our
    /// data and FIN with a zero window, and in FIN-WAIT-2 the probe has
    /// nothing to carry, so the timer is never rewound; the same after the
    /// peer's acknowledgement came with out-of-order data. Judging by what
    /// a socket sends, not by its state, also covers ways not yet found.
    /// Such a connection has nothing left to deliver that would arrive:
    /// nothing is lost by resetting it. Counted in
    /// [`crate::NetStats::runaway_resets`].
    pub(super) fn end_runaways(&mut self, from: usize) {
        // Each packet of this poll's: its connection, if it is a bare ACK.
        let keys: Vec<Option<(u16, SocketAddr)>> = self
            .device
            .tx
            .iter()
            .skip(from)
            .map(|pkt| match classify(pkt) {
                Some(Header::Tcp {
                    src,
                    dst,
                    pure_ack: true,
                    ..
                }) => Some((src.port(), dst)),
                _ => None,
            })
            .collect();
        let mut acks: HashMap<(u16, SocketAddr), usize> = HashMap::new();
        for key in keys.iter().flatten() {
            *acks.entry(*key).or_default() += 1;
        }
        acks.retain(|_, n| *n >= RUNAWAY_ACKS);
        if acks.is_empty() {
            return;
        }
        for key in acks.keys() {
            if let Some(h) = self.by_key.get(key) {
                self.sockets.get_mut::<tcp::Socket<'static>>(*h).abort();
                self.stats.runaway_resets += 1;
            }
        }
        // Keep each runaway's first ACK (and everything else) in order.
        let mut kept: HashSet<(u16, SocketAddr)> = HashSet::new();
        let queue = std::mem::take(&mut self.device.tx);
        for (i, pkt) in queue.into_iter().enumerate() {
            let key = i
                .checked_sub(from)
                .and_then(|k| keys.get(k).copied().flatten());
            let drop = key.is_some_and(|k| acks.contains_key(&k) && !kept.insert(k));
            if drop {
                self.device.pool.put(pkt);
            } else {
                self.device.tx.push_back(pkt);
            }
        }
    }

    /// When two SYNs arrive in one batch, smoltcp may give each to the other's
    /// listener; keep the lookup keyed by what the socket really holds.
    fn rekey(&mut self, h: SocketHandle, key: (u16, SocketAddr)) {
        let Some(conn) = self.conns.get_mut(&h) else {
            return;
        };
        if conn.key == key {
            return;
        }
        let old = std::mem::replace(&mut conn.key, key);
        if let Some(peer) = self.syn_peers.get(&key).copied() {
            self.usage.transfer(
                conn.peer,
                Some(peer),
                conn.is_pending(),
                conn.buffered,
                conn.rings,
            );
            conn.peer = Some(peer);
        }
        if self.by_key.get(&old) == Some(&h) {
            self.by_key.remove(&old);
        }
        self.by_key.insert(key, h);
    }

    pub(super) fn remove(&mut self, h: SocketHandle) {
        if let Some(conn) = self.conns.remove(&h) {
            if self.by_key.get(&conn.key) == Some(&h) {
                self.by_key.remove(&conn.key);
            }
            self.usage
                .closed(h, conn.peer, conn.is_pending(), conn.buffered, conn.rings);
            self.sockets.remove(h);
        }
    }
}
