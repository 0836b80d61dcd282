//! Which handshake messages may cost a Diffie-Hellman. Every handshake
//! initiation and response passes [`HandshakeGate::admit`] before any
//! `Tunn` or X25519 sees it:
//!
//! 1. mac1 must verify (the sender knows our public key: attackers do).
//! 2. Under load (more than [`HandshakeLimits::under_load`] such messages
//!    in the current second), mac2 must verify too: the sender proves it
//!    receives at its address. Without it the sender gets a cookie reply,
//!    within a budget per source address and one for the device, so a
//!    flood from spoofed addresses cannot make us a reflector or cost a
//!    send per packet.
//! 3. Under load, a source address with a valid cookie still gets only
//!    [`HandshakeLimits::per_source`] handshakes (a token bucket per IPv4
//!    address or IPv6 /64, as the kernel module and wireguard-go do).
//! 4. Always, the whole device gets at most [`HandshakeLimits::handshakes`]
//!    handshakes that reach X25519, so handshakes cannot starve the data
//!    path on the one data-plane thread. When that budget is spent, a
//!    source with a valid cookie that has been quiet (its own bucket full:
//!    a real peer retrying, not a flooder) may still draw on a small
//!    reserve, [`HandshakeLimits::quiet_reserve`]; so flooders holding
//!    cookies for many addresses cannot lock real peers out.
//!
//! Per-source state lives in tables of at most [`HandshakeLimits::sources`]
//! entries; idle entries are swept, and a full table refuses new sources
//! rather than grow. Sans-IO: time is the caller's `now`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::cookie::CookieChecker;
use crate::keys::PublicKey;
use crate::stats::DropReason;

/// A token-bucket rate: `per_second` on average, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl Rate {
    /// Nanoseconds of budget one event costs; `None`: nothing is allowed.
    fn cost(self) -> Option<u64> {
        (self.per_second > 0 && self.burst > 0).then(|| 1_000_000_000 / u64::from(self.per_second))
    }
}

/// The budgets of [`HandshakeGate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeLimits {
    /// Handshake messages with a valid mac1 per second before the device
    /// is under load and asks for cookies.
    pub under_load: u32,
    /// Handshakes per source address with a valid cookie, under load.
    pub per_source: Rate,
    /// Cookie replies per source address.
    pub cookie_replies_per_source: Rate,
    /// Cookie replies by the whole device.
    pub cookie_replies: Rate,
    /// Handshakes by the whole device that reach X25519.
    pub handshakes: Rate,
    /// Beyond `handshakes`, for quiet sources with a valid cookie.
    pub quiet_reserve: Rate,
    /// Source addresses each per-source table tracks at most.
    pub sources: usize,
}

impl Default for HandshakeLimits {
    /// A Diffie-Hellman costs about 60 µs here, so the device-wide 1,600
    /// handshakes a second (reserve included) take at most about 10% of
    /// the data-plane core;
    /// 64 sources at the kernel's 20 a second fit inside it with room for
    /// real peers. A real peer needs one cookie per two minutes.
    fn default() -> Self {
        Self {
            under_load: 100,
            per_source: Rate {
                per_second: 20,
                burst: 5,
            },
            cookie_replies_per_source: Rate {
                per_second: 5,
                burst: 5,
            },
            cookie_replies: Rate {
                per_second: 1_000,
                burst: 100,
            },
            handshakes: Rate {
                per_second: 1_500,
                burst: 150,
            },
            quiet_reserve: Rate {
                per_second: 100,
                burst: 20,
            },
            sources: 4096,
        }
    }
}

// === impl Bucket ===

/// A token bucket counted in nanoseconds of budget (as the kernel's
/// ratelimiter does): time adds budget, each event spends its cost.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    budget: u64,
    last: Instant,
}

impl Bucket {
    fn full(now: Instant, rate: Rate) -> Self {
        let budget = rate
            .cost()
            .map_or(0, |c| c.saturating_mul(u64::from(rate.burst)));
        Self { budget, last: now }
    }

    fn refill(&mut self, now: Instant, rate: Rate) -> Option<u64> {
        let cost = rate.cost()?;
        let max = cost.saturating_mul(u64::from(rate.burst));
        let gained = now.saturating_duration_since(self.last).as_nanos();
        let gained = u64::try_from(gained).unwrap_or(u64::MAX);
        self.budget = self.budget.saturating_add(gained).min(max);
        self.last = now.max(self.last);
        Some(cost)
    }

    fn take(&mut self, now: Instant, rate: Rate) -> bool {
        match self.refill(now, rate) {
            Some(cost) if self.budget >= cost => {
                self.budget -= cost;
                true
            }
            _ => false,
        }
    }

    /// Whether the bucket would be full again at `now` (its source has
    /// been idle long enough that forgetting it changes nothing).
    fn idle(&self, now: Instant, rate: Rate) -> bool {
        let mut b = *self;
        match b.refill(now, rate) {
            Some(cost) => b.budget >= cost.saturating_mul(u64::from(rate.burst)),
            None => true,
        }
    }
}

// === impl SourceTable ===

/// Whom a per-source budget belongs to: an IPv4 address or an IPv6 /64
/// (one host usually owns a whole /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    V4([u8; 4]),
    V6([u8; 8]),
}

impl Source {
    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Source::V4(a.octets()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Source::V4(v4.octets()),
                None => {
                    let o = a.octets();
                    Source::V6([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
                }
            },
        }
    }
}

/// Sweeps of idle entries at most this often (a sweep walks the table).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// One token bucket per source, bounded.
#[derive(Debug)]
struct SourceTable {
    rate: Rate,
    cap: usize,
    buckets: HashMap<Source, Bucket>,
    last_sweep: Option<Instant>,
}

impl SourceTable {
    fn new(rate: Rate, cap: usize) -> Self {
        Self {
            rate,
            cap,
            buckets: HashMap::new(),
            last_sweep: None,
        }
    }

    /// Takes one token from `ip`'s bucket: `None` when it has none (or
    /// the table is full), else whether the bucket was full before, i.e.
    /// the source had been quiet.
    fn take(&mut self, now: Instant, ip: IpAddr) -> Option<bool> {
        let key = Source::of(ip);
        if let Some(b) = self.buckets.get_mut(&key) {
            let quiet = b.idle(now, self.rate);
            return b.take(now, self.rate).then_some(quiet);
        }
        if self.buckets.len() >= self.cap {
            self.sweep(now);
            if self.buckets.len() >= self.cap {
                // Full of sources active within a second: refuse rather
                // than grow or hand out a fresh bucket.
                return None;
            }
        }
        let mut b = Bucket::full(now, self.rate);
        let ok = b.take(now, self.rate);
        self.buckets.insert(key, b);
        ok.then_some(true)
    }

    /// Forgets idle sources, at most once per [`SWEEP_EVERY`].
    fn sweep(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_some_and(|t| now.saturating_duration_since(t) < SWEEP_EVERY)
        {
            return;
        }
        self.last_sweep = Some(now);
        let rate = self.rate;
        self.buckets.retain(|_, b| !b.idle(now, rate));
    }

    fn len(&self) -> usize {
        self.buckets.len()
    }
}

// === impl HandshakeGate ===

/// What to do with a handshake message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It may go to the X25519 work.
    Pass,
    /// Send back the cookie reply written to `out[..len]`.
    CookieReply(usize),
    /// Drop it and count why.
    Refuse(DropReason),
}

/// The device's one rate limiter and cookie secret; see the module docs.
pub struct HandshakeGate {
    limits: HandshakeLimits,
    cookies: CookieChecker,
    /// Handshake messages in the second that started at `window_start`.
    window_start: Option<Instant>,
    window_count: u32,
    sources: SourceTable,
    cookie_sources: SourceTable,
    cookie_replies: Option<Bucket>,
    handshakes: Option<Bucket>,
    quiet_reserve: Option<Bucket>,
}

impl HandshakeGate {
    pub fn new(public: &PublicKey, limits: HandshakeLimits) -> Self {
        Self {
            limits,
            cookies: CookieChecker::new(public),
            window_start: None,
            window_count: 0,
            sources: SourceTable::new(limits.per_source, limits.sources),
            cookie_sources: SourceTable::new(limits.cookie_replies_per_source, limits.sources),
            cookie_replies: None,
            handshakes: None,
            quiet_reserve: None,
        }
    }

    /// Decides about `msg`, a handshake initiation or response from
    /// `from`; a cookie reply is written into `out` (64 bytes or more).
    pub fn admit(&mut self, now: Instant, from: SocketAddr, msg: &[u8], out: &mut [u8]) -> Verdict {
        if !self.cookies.mac1_ok(msg) {
            return Verdict::Refuse(DropReason::BadMac);
        }
        let limits = self.limits;
        let mut quiet = false;
        if self.under_load(now) {
            if !self.cookies.mac2_ok(now, from, msg) {
                let may_reply = self.cookie_sources.take(now, from.ip()).is_some()
                    && take(&mut self.cookie_replies, now, limits.cookie_replies);
                return match may_reply
                    .then(|| self.cookies.write_reply(now, from, msg, out))
                    .flatten()
                {
                    Some(n) => Verdict::CookieReply(n),
                    None => Verdict::Refuse(DropReason::CookieReplyLimited),
                };
            }
            match self.sources.take(now, from.ip()) {
                Some(q) => quiet = q,
                None => return Verdict::Refuse(DropReason::SourceRateLimited),
            }
        }
        if take(&mut self.handshakes, now, limits.handshakes)
            || (quiet && take(&mut self.quiet_reserve, now, limits.quiet_reserve))
        {
            Verdict::Pass
        } else {
            Verdict::Refuse(DropReason::HandshakeBusy)
        }
    }

    /// Counts one more handshake message in the current one-second window.
    fn under_load(&mut self, now: Instant) -> bool {
        let fresh = self
            .window_start
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1));
        if fresh {
            self.window_start = Some(now);
            self.window_count = 0;
        }
        self.window_count = self.window_count.saturating_add(1);
        self.window_count > self.limits.under_load
    }

    /// Forgets idle sources (call about once a second).
    pub fn sweep(&mut self, now: Instant) {
        self.sources.sweep(now);
        self.cookie_sources.sweep(now);
    }

    /// Sources tracked now, both tables together (for tests and status).
    pub fn tracked_sources(&self) -> usize {
        self.sources.len() + self.cookie_sources.len()
    }
}

/// Takes one token from a device-wide bucket that starts full.
fn take(bucket: &mut Option<Bucket>, now: Instant, rate: Rate) -> bool {
    bucket
        .get_or_insert_with(|| Bucket::full(now, rate))
        .take(now, rate)
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
