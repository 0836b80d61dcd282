//! What the stack keeps beside each smoltcp socket: who holds it, which
//! peer it is charged to, and the acknowledgement history that loss repair
//! and the send-stall timeout read.

use std::net::SocketAddr;
use std::time::Instant;

use crate::limits::PeerKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Created by the stack for a SYN; not yet handed out by `accept`.
    Pending { since: Instant },
    /// The application holds the id.
    App,
    /// The application is done; freed once closed.
    Released,
}

#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) key: (u16, SocketAddr),
    pub(crate) owner: Owner,
    /// The peer the connection is charged to; `None` for connections the
    /// application opened.
    pub(crate) peer: Option<PeerKey>,
    /// Bytes queued in its buffers as last counted (see `Stack::account`).
    pub(crate) buffered: usize,
    /// The sizes of its two rings, as charged to its peer.
    pub(crate) rings: usize,
    /// Whether it waits in `Stack::dirty` to be counted again.
    pub(crate) dirty: bool,
    /// While bytes wait to go out: since when the peer has acknowledged
    /// none of them (the send-stall timeout counts from here).
    pub(crate) owed_since: Option<Instant>,
    /// The last hole (ACK number) [`Conn::take_hole`] acted on.
    repaired_hole: Option<u32>,
    /// The peer's latest acknowledgement number and when it last moved.
    acked: Option<u32>,
    pub(crate) progress_at: Instant,
    /// The peer's latest pure ACK, if it carries `acked`: what
    /// `Stack::repair_stalls` replays.
    pub(crate) last_ack: Vec<u8>,
    /// Stall repairs since the acknowledgement last moved.
    pub(crate) stall_repairs: u32,
}

impl Conn {
    pub(crate) fn new(
        key: (u16, SocketAddr),
        owner: Owner,
        peer: Option<PeerKey>,
        now: Instant,
    ) -> Self {
        Self {
            key,
            owner,
            peer,
            buffered: 0,
            rings: 0,
            dirty: false,
            owed_since: None,
            repaired_hole: None,
            acked: None,
            progress_at: now,
            last_ack: Vec::new(),
            stall_repairs: 0,
        }
    }

    pub(crate) fn is_pending(&self) -> bool {
        matches!(self.owner, Owner::Pending { .. })
    }

    /// Tracks acknowledgement progress, and keeps the latest pure ACK.
    pub(crate) fn note_ack(&mut self, now: Instant, ack: u32, pure: Option<&[u8]>) {
        if self.acked != Some(ack) {
            self.acked = Some(ack);
            self.progress_at = now;
            self.stall_repairs = 0;
            self.last_ack.clear();
            if self.owed_since.is_some() {
                self.owed_since = Some(now);
            }
        }
        if let Some(pkt) = pure {
            self.last_ack.clear();
            self.last_ack.extend_from_slice(pkt);
        }
    }

    /// Whether to make smoltcp retransmit the segment at `hole` now.
    ///
    /// smoltcp (0.14) retransmits one segment after three duplicate ACKs
    /// and otherwise waits for its retransmission timer (at least 1 s). When
    /// a burst of segments is lost, as when a receiver's UDP socket
    /// overflows, the ACK for the first retransmission acknowledges up to
    /// the next hole; no further duplicates come because the window is full,
    /// so every burst cost a second's stall. The receiver's SACK blocks say
    /// exactly where the holes are: for each new hole, the hole-reporting ACK
    /// is delivered `DUP_ACKS` more times, which is smoltcp's fast-retransmit
    /// trigger (NewReno's partial-ACK retransmission, RFC 6582). Once per
    /// hole, so a stream of duplicate ACKs for the same hole repairs it once.
    pub(crate) fn take_hole(&mut self, hole: u32) -> bool {
        if self.repaired_hole == Some(hole) {
            return false;
        }
        self.repaired_hole = Some(hole);
        true
    }
}
