//! The impairment core of the UDP relay: loss, duplication, delay, jitter
//! and reordering of datagrams, decided by a seeded RNG. Sans-IO: it owns no
//! socket and reads no clock, so tests drive it with made-up instants.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// Datagrams waiting beyond this many are dropped (and counted): a relay
/// must not grow without bound when its sender outpaces the delay line.
const MAX_QUEUED: usize = 65_536;

// === impl SplitMix64 ===

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast and fully specified, so
/// a seed gives the same impairments on every machine and in every version.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n) for n > 0 (modulo bias is irrelevant at these sizes).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `p`; draws nothing when `p` is zero, so adding
    /// a zero-probability impairment does not shift the others' sequence.
    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.next_f64() < p
    }
}

// === impl Impairment ===

/// What to do to datagrams, per direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Impairment {
    /// Probability that a datagram is dropped.
    pub loss: f64,
    /// Probability that a datagram is held back and sent after later ones.
    pub reorder: f64,
    /// Probability that a datagram is sent twice.
    pub duplicate: f64,
    /// Added to every datagram's transit time.
    pub delay: Duration,
    /// Up to this much more, uniformly; datagrams overtake each other when
    /// it exceeds their spacing, as on a real jittery path.
    pub jitter: Duration,
    /// A held datagram is released after 1..=`reorder_gap` later datagrams…
    pub reorder_gap: u32,
    /// …or after this long when no later datagram comes.
    pub reorder_timeout: Duration,
}

impl Default for Impairment {
    fn default() -> Self {
        Impairment {
            loss: 0.0,
            reorder: 0.0,
            duplicate: 0.0,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            reorder_gap: 3,
            reorder_timeout: Duration::from_millis(5),
        }
    }
}

impl Impairment {
    /// Probabilities must lie in [0, 1] and the gap must be at least 1.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("reorder", self.reorder),
            ("duplicate", self.duplicate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "{name} must be a probability between 0 and 1, not {p}"
                ));
            }
        }
        if self.reorder_gap == 0 {
            return Err("reorder gap must be at least 1".into());
        }
        Ok(())
    }
}

/// Counters of one direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImpairStats {
    pub received: u64,
    /// Lost on purpose (or because the delay line was full).
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
    /// Handed out by `poll_transmit`.
    pub sent: u64,
}

// === impl Impairer ===

/// One direction of an impaired link.
///
/// Call order, as in quinn: `handle_datagram(now, …)` for every datagram
/// that arrives; then `poll_transmit(now)` until it returns `None`; then
/// wait until `poll_timeout()` or the next arrival, whichever is first.
#[derive(Debug)]
pub struct Impairer {
    cfg: Impairment,
    rng: SplitMix64,
    queue: BinaryHeap<Reverse<Scheduled>>,
    held: Option<Held>,
    seq: u64,
    stats: ImpairStats,
}

#[derive(Debug)]
struct Scheduled {
    due: Instant,
    /// Ties on `due` keep arrival order.
    seq: u64,
    payload: Vec<u8>,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// The datagram being held back for reordering (one at a time).
#[derive(Debug)]
struct Held {
    payload: Vec<u8>,
    /// Later datagrams still to pass it.
    remaining: u32,
    deadline: Instant,
}

impl Impairer {
    pub fn new(cfg: Impairment, seed: u64) -> Impairer {
        Impairer {
            cfg,
            rng: SplitMix64::new(seed),
            queue: BinaryHeap::new(),
            held: None,
            seq: 0,
            stats: ImpairStats::default(),
        }
    }

    pub fn stats(&self) -> ImpairStats {
        self.stats
    }

    /// A datagram arrived at `now`.
    pub fn handle_datagram(&mut self, now: Instant, payload: Vec<u8>) {
        self.stats.received += 1;
        if self.rng.chance(self.cfg.loss) || self.queue.len() >= MAX_QUEUED {
            self.stats.dropped += 1;
            return;
        }
        let mut due = now + self.cfg.delay;
        if !self.cfg.jitter.is_zero() {
            let nanos = self.cfg.jitter.as_nanos().min(u128::from(u64::MAX)) as u64;
            due += Duration::from_nanos(self.rng.below(nanos + 1));
        }
        if self.rng.chance(self.cfg.duplicate) {
            self.stats.duplicated += 1;
            self.schedule(due, payload.clone());
        }
        if self.held.is_none() && self.rng.chance(self.cfg.reorder) {
            self.stats.reordered += 1;
            let remaining = 1 + self.rng.below(u64::from(self.cfg.reorder_gap)) as u32;
            self.held = Some(Held {
                payload,
                remaining,
                deadline: due + self.cfg.reorder_timeout,
            });
            return;
        }
        self.schedule(due, payload);
        // This datagram has now passed the held one.
        if let Some(h) = &mut self.held {
            h.remaining -= 1;
            if h.remaining == 0 {
                let h = self.held.take().expect("held is Some");
                self.schedule(due, h.payload);
            }
        }
    }

    /// The next datagram to send at `now`, if one is due.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.held.as_ref().is_some_and(|h| h.deadline <= now) {
            let h = self.held.take().expect("held is Some");
            self.schedule(h.deadline, h.payload);
        }
        if self.queue.peek().is_some_and(|Reverse(s)| s.due <= now) {
            let Reverse(s) = self.queue.pop().expect("peeked");
            self.stats.sent += 1;
            return Some(s.payload);
        }
        None
    }

    /// When `poll_transmit` will next have something, if anything is waiting.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let queued = self.queue.peek().map(|Reverse(s)| s.due);
        let held = self.held.as_ref().map(|h| h.deadline);
        match (queued, held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn schedule(&mut self, due: Instant, payload: Vec<u8>) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            due,
            seq: self.seq,
            payload,
        }));
    }
}

#[cfg(test)]
#[path = "impair_tests.rs"]
mod tests;
