//! Load shedding in the kernel: when the WireGuard port is flooded faster
//! than the one data-plane thread can even read, a classic BPF socket
//! filter drops most of the flood before it reaches the socket's queue.
//!
//! Why: every datagram the gate refuses (bad mac1, no cookie, rate
//! limited) still costs a `recvmmsg` slot, a copy and a MAC. At 680,000
//! forged initiations a second (one flooder at nice 19 on a two-core
//! machine) the thread falls behind, the socket queue overflows, and the
//! kernel drops the real peers' data with the flood: throughput fell to
//! 1% of normal. The kernel can drop without any of that cost, but only
//! by rules a stateless filter can apply:
//!
//! - datagrams from the IP address of a peer's current endpoint always
//!   pass (the peers that have a session keep it, and re-handshake);
//! - every other datagram passes with probability `1 / one_in`, chosen so
//!   that about [`BUDGET`] a second pass. A new peer, a roaming phone or a
//!   STUN answer still gets through, at the best odds a filter without
//!   state can give it; what passes then meets the gate as before.
//!
//! Unprivileged: `SO_ATTACH_FILTER` needs no capability, unlike eBPF.
//!
//! [`Shed`] is the sans-IO policy; [`program`] compiles a [`Filter`] to
//! cBPF. Call order: [`Shed::count`] for every datagram that is not a
//! WireGuard data message (the cheap branch the receive path already
//! takes); [`Shed::tick`] on every turn with `now` and the peers'
//! endpoints; [`Shed::poll_filter`] for a filter to attach (`Some(Some)`)
//! or detach (`Some(None)`). Data messages are not counted (no work on the
//! hot path); a flood of them alone never engages the filter, and costs
//! the thread one index lookup each.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use socket2::SockFilter;

/// Non-data datagrams a second (estimated) from which the filter engages.
pub(crate) const ENGAGE: u64 = 8_192;
/// Datagrams a second the filter aims to pass from unknown sources.
pub(crate) const BUDGET: u64 = 4_096;
/// The filter comes off after the estimated rate has stayed under
/// [`BUDGET`] this long.
pub(crate) const CALM_FOR: Duration = Duration::from_secs(10);
/// The counting window.
const WINDOW: Duration = Duration::from_secs(1);
/// The sampling never gets sparser than one in this many.
const MAX_ONE_IN: u32 = 1 << 16;
/// Endpoint addresses the filter lists at most (the cBPF limit is 4,096
/// instructions; an IPv6 address takes 9). Past it, endpoints are sampled.
const MAX_ALLOWED: usize = 400;

/// What the kernel lets through while the filter is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    /// Sources whose datagrams always pass: the peers' endpoint addresses.
    pub(crate) allow: Vec<IpAddr>,
    /// Every other datagram passes with probability `1 / one_in` (a power
    /// of two, at least 2).
    pub(crate) one_in: u32,
}

/// The shedding policy, on the caller's clock.
#[derive(Debug)]
pub(crate) struct Shed {
    window_start: Instant,
    seen: u64,
    on: Option<On>,
    pending: Option<Option<Filter>>,
    engaged: u64,
}

#[derive(Debug)]
struct On {
    filter: Filter,
    calm_since: Option<Instant>,
}

// === impl Shed ===

impl Shed {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            window_start: now,
            seen: 0,
            on: None,
            pending: None,
            engaged: 0,
        }
    }

    /// One more datagram that is not a WireGuard data message.
    #[inline]
    pub(crate) fn count(&mut self) {
        self.seen += 1;
    }

    /// Closes the counting window when it is over and decides: engage,
    /// resample, relist the endpoints, or let go. `endpoints` is asked only
    /// when a filter is to be built.
    pub(crate) fn tick(&mut self, now: Instant, endpoints: impl FnOnce() -> Vec<IpAddr>) {
        let elapsed = now.saturating_duration_since(self.window_start);
        // A flood engages the filter as soon as the window has counted
        // ENGAGE datagrams (13 ms into a 600,000/s flood), not at its end:
        // every millisecond without the filter, the socket queue is full
        // and the peers' datagrams are dropped with the flood.
        let early = self.on.is_none() && self.seen >= ENGAGE;
        if elapsed < WINDOW && !early {
            return;
        }
        // What arrived, scaled back up by the sampling, per second (at
        // least a millisecond's worth of window, so an early count is not
        // taken for an infinite rate).
        let one_in = self.on.as_ref().map_or(1, |o| u64::from(o.filter.one_in));
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .max(1000);
        let rate = self.seen.saturating_mul(one_in).saturating_mul(1_000_000) / micros;
        self.window_start = now;
        self.seen = 0;
        match &mut self.on {
            None if rate >= ENGAGE => {
                let filter = Filter {
                    allow: allowed(endpoints()),
                    one_in: one_in_for(rate),
                };
                self.engaged += 1;
                tracing::warn!(
                    rate,
                    one_in = filter.one_in,
                    allowed = filter.allow.len(),
                    "WireGuard port flooded: the kernel now drops most datagrams from \
                     addresses that are not a peer's endpoint"
                );
                self.pending = Some(Some(filter.clone()));
                self.on = Some(On {
                    filter,
                    calm_since: None,
                });
            }
            None => {}
            Some(on) => {
                if rate < BUDGET {
                    let since = *on.calm_since.get_or_insert(now);
                    if now.saturating_duration_since(since) >= CALM_FOR {
                        tracing::info!("WireGuard port flood over: kernel filter removed");
                        self.on = None;
                        self.pending = Some(None);
                        return;
                    }
                } else {
                    on.calm_since = None;
                }
                let filter = Filter {
                    allow: allowed(endpoints()),
                    // Calm windows keep the sampling: a flood that pauses
                    // for a second is not let in at full rate.
                    one_in: if rate < BUDGET {
                        on.filter.one_in
                    } else {
                        one_in_for(rate)
                    },
                };
                if filter != on.filter {
                    on.filter = filter.clone();
                    self.pending = Some(Some(filter));
                }
            }
        }
    }

    /// When [`Shed::tick`] wants to run next: the end of the window while
    /// the filter is on (so it comes off without traffic), else never.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.on.as_ref().map(|_| self.window_start + WINDOW)
    }

    /// A change to make: `Some(Some(f))` attach `f`, `Some(None)` detach.
    #[must_use]
    pub(crate) fn poll_filter(&mut self) -> Option<Option<Filter>> {
        self.pending.take()
    }

    /// The sampling in force: `1 / one_in` of unknown sources pass; `None`
    /// when no filter is attached.
    pub(crate) fn one_in(&self) -> Option<u32> {
        self.on.as_ref().map(|o| o.filter.one_in)
    }

    /// How many times the filter was attached since start.
    pub(crate) fn engaged(&self) -> u64 {
        self.engaged
    }
}

/// The power of two that brings `rate` down to about [`BUDGET`].
fn one_in_for(rate: u64) -> u32 {
    let ratio = rate.div_ceil(BUDGET).max(2);
    u32::try_from(ratio.next_power_of_two())
        .unwrap_or(MAX_ONE_IN)
        .min(MAX_ONE_IN)
}

/// Sorted, deduplicated, IPv4-mapped addresses as IPv4, at most
/// [`MAX_ALLOWED`].
fn allowed(mut ips: Vec<IpAddr>) -> Vec<IpAddr> {
    for ip in &mut ips {
        *ip = ip.to_canonical();
    }
    ips.sort_unstable();
    ips.dedup();
    ips.truncate(MAX_ALLOWED);
    ips
}

// === cBPF ===

// Opcodes of classic BPF (linux/filter.h, linux/bpf_common.h): class |
// size | mode, or class | operation | source.
const BPF_LD: u16 = 0x00;
const BPF_ALU: u16 = 0x04;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_W: u16 = 0x00;
const BPF_B: u16 = 0x10;
const BPF_ABS: u16 = 0x20;
const BPF_K: u16 = 0x00;
const LD_W_ABS: u16 = BPF_LD | BPF_W | BPF_ABS;
const LD_B_ABS: u16 = BPF_LD | BPF_B | BPF_ABS;
const ALU_RSH_K: u16 = BPF_ALU | 0x70 | BPF_K;
const ALU_AND_K: u16 = BPF_ALU | 0x50 | BPF_K;
const JMP_JA: u16 = BPF_JMP;
const JMP_JEQ_K: u16 = BPF_JMP | 0x10 | BPF_K;
const RET_K: u16 = BPF_RET | BPF_K;
/// `SKF_NET_OFF`: loads relative to the network (IP) header.
const NET_OFF: u32 = 0xfff0_0000;
/// `SKF_AD_OFF + SKF_AD_RANDOM`: a load that yields a random word.
const AD_RANDOM: u32 = 0xffff_f000 + 56;
/// Keep the whole datagram.
const ACCEPT: u32 = u32::MAX;
const DROP: u32 = 0;

fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter::new(code, 0, 0, k)
}

/// `if A == k` skip the next instruction (`ret ACCEPT`), else fall into it
/// only when equal: `jeq k, 0, 1` then `ret ACCEPT`.
fn accept_if(out: &mut Vec<SockFilter>, k: u32) {
    out.push(SockFilter::new(JMP_JEQ_K, 0, 1, k));
    out.push(stmt(RET_K, ACCEPT));
}

/// The filter as a cBPF program: allowed IPv4 and IPv6 sources pass, the
/// rest is sampled. Jumps over the address lists are `ja` (32-bit
/// offsets), so the list length is bounded only by the program size.
pub(crate) fn program(f: &Filter) -> Vec<SockFilter> {
    let v4: Vec<[u8; 4]> = f
        .allow
        .iter()
        .filter_map(|ip| match ip {
            IpAddr::V4(a) => Some(a.octets()),
            IpAddr::V6(_) => None,
        })
        .collect();
    let v6: Vec<[u8; 16]> = f
        .allow
        .iter()
        .filter_map(|ip| match ip {
            IpAddr::V6(a) => Some(a.octets()),
            IpAddr::V4(_) => None,
        })
        .collect();
    let mut p = Vec::with_capacity(16 + 2 * v4.len() + 9 * v6.len());
    // A = IP version.
    p.push(stmt(LD_B_ABS, NET_OFF));
    p.push(stmt(ALU_RSH_K, 4));
    // IPv4: compare the source address (offset 12) with each allowed one.
    let v4_block = 1 + 2 * v4.len() + 1;
    p.push(SockFilter::new(JMP_JEQ_K, 1, 0, 4));
    p.push(stmt(JMP_JA, len_u32(v4_block)));
    p.push(stmt(LD_W_ABS, NET_OFF + 12));
    for a in &v4 {
        accept_if(&mut p, u32::from_be_bytes(*a));
    }
    let v6_block = 9 * v6.len();
    p.push(stmt(JMP_JA, len_u32(1 + 1 + v6_block)));
    // IPv6: the source address is the four words at offset 8.
    p.push(SockFilter::new(JMP_JEQ_K, 1, 0, 6));
    p.push(stmt(JMP_JA, len_u32(v6_block)));
    for a in &v6 {
        for (i, word) in a.chunks_exact(4).enumerate() {
            let word = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
            let off = u32::try_from(8 + 4 * i).unwrap_or(8);
            p.push(stmt(LD_W_ABS, NET_OFF + off));
            // On a mismatch, skip to the next address (past the rest of
            // this one's loads, compares and its `ret`).
            let skip = u8::try_from(7 - 2 * i).unwrap_or(1);
            p.push(SockFilter::new(JMP_JEQ_K, 0, skip, word));
        }
        p.push(stmt(RET_K, ACCEPT));
    }
    // Everyone else: pass one in `one_in`.
    p.push(stmt(LD_W_ABS, AD_RANDOM));
    p.push(stmt(ALU_AND_K, f.one_in.max(1).next_power_of_two() - 1));
    p.push(SockFilter::new(JMP_JEQ_K, 0, 1, 0));
    p.push(stmt(RET_K, ACCEPT));
    p.push(stmt(RET_K, DROP));
    p
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[path = "shed_tests.rs"]
mod tests;
