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
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feeds datagrams 0..n (one byte: their index) at `t0`, returns what comes out at `t`.
    fn run(imp: &mut Impairer, n: u8, t0: Instant, t: Instant) -> Vec<u8> {
        for i in 0..n {
            imp.handle_datagram(t0, vec![i]);
        }
        drain(imp, t)
    }

    fn drain(imp: &mut Impairer, t: Instant) -> Vec<u8> {
        std::iter::from_fn(|| imp.poll_transmit(t))
            .map(|p| p[0])
            .collect()
    }

    #[test]
    fn passes_everything_in_order_without_impairments() {
        let t = Instant::now();
        let mut imp = Impairer::new(Impairment::default(), 1);
        assert_eq!(run(&mut imp, 10, t, t), (0..10).collect::<Vec<_>>());
        assert_eq!(imp.poll_timeout(), None);
        let s = imp.stats();
        assert_eq!((s.received, s.sent, s.dropped), (10, 10, 0));
    }

    #[test]
    fn total_loss_drops_all() {
        let t = Instant::now();
        let mut imp = Impairer::new(
            Impairment {
                loss: 1.0,
                ..Default::default()
            },
            1,
        );
        assert!(run(&mut imp, 10, t, t).is_empty());
        assert_eq!(imp.stats().dropped, 10);
    }

    #[test]
    fn duplicates_follow_their_original() {
        let t = Instant::now();
        let mut imp = Impairer::new(
            Impairment {
                duplicate: 1.0,
                ..Default::default()
            },
            1,
        );
        assert_eq!(run(&mut imp, 3, t, t), [0, 0, 1, 1, 2, 2]);
        assert_eq!(imp.stats().duplicated, 3);
    }

    #[test]
    fn reorder_with_gap_one_swaps_pairs() {
        let t = Instant::now();
        let cfg = Impairment {
            reorder: 1.0,
            reorder_gap: 1,
            ..Default::default()
        };
        let mut imp = Impairer::new(cfg, 1);
        // 0 is held, 1 passes and releases it; 2 is held, 3 releases it; 4 is held.
        assert_eq!(run(&mut imp, 5, t, t), [1, 0, 3, 2]);
        assert_eq!(imp.stats().reordered, 3);
        // With no later datagram, the held one leaves at its deadline.
        assert_eq!(imp.poll_timeout(), Some(t + ms(5)));
        assert!(drain(&mut imp, t + ms(4)).is_empty());
        assert_eq!(drain(&mut imp, t + ms(5)), [4]);
        assert_eq!(imp.poll_timeout(), None);
    }

    #[test]
    fn reordering_loses_and_invents_nothing() {
        let t = Instant::now();
        let cfg = Impairment {
            reorder: 0.3,
            reorder_gap: 3,
            ..Default::default()
        };
        let mut imp = Impairer::new(cfg, 42);
        let mut out = run(&mut imp, 200, t, t);
        out.extend(drain(&mut imp, t + ms(10)));
        assert_ne!(out, (0..200).collect::<Vec<_>>(), "some datagrams moved");
        out.sort_unstable();
        assert_eq!(out, (0..200).collect::<Vec<_>>());
        let s = imp.stats();
        assert_eq!((s.received, s.sent), (200, 200));
        assert!(s.reordered > 0);
    }

    #[test]
    fn delay_holds_until_due() {
        let t = Instant::now();
        let mut imp = Impairer::new(
            Impairment {
                delay: ms(2),
                ..Default::default()
            },
            1,
        );
        assert!(run(&mut imp, 3, t, t + ms(1)).is_empty());
        assert_eq!(imp.poll_timeout(), Some(t + ms(2)));
        assert_eq!(drain(&mut imp, t + ms(2)), [0, 1, 2]);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let t = Instant::now();
        let cfg = Impairment {
            delay: ms(2),
            jitter: ms(3),
            ..Default::default()
        };
        let mut imp = Impairer::new(cfg, 5);
        for i in 0..100u8 {
            imp.handle_datagram(t, vec![i]);
        }
        assert!(imp.poll_timeout().unwrap() >= t + ms(2));
        assert!(drain(&mut imp, t + ms(2) - Duration::from_nanos(1)).is_empty());
        assert_eq!(drain(&mut imp, t + ms(5)).len(), 100);
    }

    #[test]
    fn loss_rate_matches_probability() {
        let t = Instant::now();
        let mut imp = Impairer::new(
            Impairment {
                loss: 0.02,
                ..Default::default()
            },
            1,
        );
        for _ in 0..100_000 {
            imp.handle_datagram(t, vec![0]);
            while imp.poll_transmit(t).is_some() {}
        }
        let s = imp.stats();
        assert!((1_500..2_500).contains(&s.dropped), "{s:?}");
        assert_eq!(s.sent + s.dropped, s.received);
    }

    #[test]
    fn same_seed_same_impairments() {
        let cfg = Impairment {
            loss: 0.1,
            reorder: 0.1,
            duplicate: 0.1,
            jitter: ms(1),
            ..Default::default()
        };
        let t = Instant::now();
        let out = |seed| {
            let mut imp = Impairer::new(cfg.clone(), seed);
            let mut v = run(&mut imp, 250, t, t);
            v.extend(drain(&mut imp, t + ms(100)));
            v
        };
        assert_eq!(out(7), out(7));
        assert_ne!(out(7), out(8));
    }

    #[test]
    fn validates_probabilities() {
        assert!(Impairment::default().validate().is_ok());
        assert!(Impairment {
            loss: 1.5,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(Impairment {
            reorder: -0.1,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(Impairment {
            reorder_gap: 0,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
}
