//! Datagrams on the WireGuard socket that are not WireGuard: STUN requests
//! out, STUN answers in. STUN is sent from this socket so that what the
//! servers see (and what the router maps) is the port peers use.
//!
//! Anyone can send STUN-shaped datagrams to the port, so only answers to a
//! transaction we sent are delivered: the side channel notes the
//! transaction id of every request as it leaves (ids are random, 96 bits)
//! and forgets it once no answer can still come. Junk is counted, never
//! queued, so it cannot crowd out real answers.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use wingress_nat::stun::{transaction_id, TransactionId};

/// Answers waiting to be read at most; beyond that they are dropped (the
/// reader is stalled, and memory must not grow).
const INBOX: usize = 64;

/// Transactions awaited at most; a probe has a few in flight.
const EXPECTED: usize = 64;

/// How long an answer to a request is awaited: a STUN transaction gives
/// up after 39.5 s (RFC 8489 §6.2.1), and a retransmission renews it.
const ANSWER_WAIT: Duration = Duration::from_secs(40);

#[derive(Default)]
pub(crate) struct SideChannel {
    inbox: VecDeque<(SocketAddr, Vec<u8>)>,
    outbox: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Transactions sent, until when their answers are welcome.
    expected: Vec<(TransactionId, Instant)>,
    reader: Option<Waker>,
    /// Answers dropped because nobody read them in time.
    pub(crate) dropped: u64,
    /// STUN-shaped datagrams that answer no transaction of ours.
    pub(crate) unsolicited: u64,
}

impl SideChannel {
    /// The data plane received a STUN-shaped datagram.
    pub(crate) fn deliver(&mut self, now: Instant, from: SocketAddr, d: &[u8]) {
        self.expected.retain(|(_, until)| now < *until);
        let ours = transaction_id(d).is_some_and(|id| self.expected.iter().any(|(e, _)| *e == id));
        if !ours {
            self.unsolicited += 1;
            tracing::trace!(%from, "unsolicited STUN-shaped datagram dropped");
            return;
        }
        if self.inbox.len() >= INBOX {
            self.dropped += 1;
            return;
        }
        self.inbox.push_back((from, d.to_vec()));
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }

    /// Queues `bytes` to go out of the WireGuard socket; the caller then
    /// kicks the loop.
    pub(crate) fn send(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        self.outbox.push_back((to, bytes));
    }

    /// Whether a datagram waits to be sent.
    pub(crate) fn has_outgoing(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// The next datagram to send; its transaction's answer is awaited from
    /// `now` on.
    pub(crate) fn poll_transmit(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        let (to, bytes) = self.outbox.pop_front()?;
        if let Some(id) = transaction_id(&bytes) {
            self.expect(now, id);
        }
        Some((to, bytes))
    }

    fn expect(&mut self, now: Instant, id: TransactionId) {
        let until = now + ANSWER_WAIT;
        if let Some(e) = self.expected.iter_mut().find(|(e, _)| *e == id) {
            e.1 = until;
            return;
        }
        if self.expected.len() >= EXPECTED {
            // Forget the transaction closest to giving up.
            if let Some(i) = (0..self.expected.len()).min_by_key(|&i| self.expected[i].1) {
                self.expected.swap_remove(i);
            }
        }
        self.expected.push((id, until));
    }

    /// The next received answer, or `Pending` (woken on arrival).
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<(SocketAddr, Vec<u8>)> {
        match self.inbox.pop_front() {
            Some(d) => Poll::Ready(d),
            None => {
                self.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    #[cfg(test)]
    fn try_recv(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.inbox.pop_front()
    }
}

#[cfg(test)]
#[path = "side_channel_tests.rs"]
mod tests;
