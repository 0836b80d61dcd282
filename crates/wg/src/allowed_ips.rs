//! Cryptokey routing: the longest-prefix match from an IP address to the peer
//! whose `allowed_ips` contain it (WireGuard whitepaper §2).

use std::net::IpAddr;

/// One `allowed_ips` entry: a network in canonical form (host bits zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    bits: u128,
    len: u8,
    v6: bool,
}

impl Prefix {
    /// A prefix from an address and a length; host bits are cleared. `None`
    /// if the length is longer than the address.
    pub fn new(addr: IpAddr, len: u8) -> Option<Self> {
        let (bits, max, v6) = as_bits(addr);
        if len > max {
            return None;
        }
        Some(Self {
            bits: bits & mask(len, max),
            len,
            v6,
        })
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        let (bits, max, v6) = as_bits(addr);
        v6 == self.v6 && bits & mask(self.len, max) == self.bits
    }
}

impl std::fmt::Display for Prefix {
    /// `100.64.0.1/32`, `fd00::/64`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addr = if self.v6 {
            IpAddr::V6(std::net::Ipv6Addr::from(self.bits))
        } else {
            IpAddr::V4(std::net::Ipv4Addr::from(self.bits as u32))
        };
        write!(f, "{addr}/{}", self.len)
    }
}

fn as_bits(addr: IpAddr) -> (u128, u8, bool) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32, false),
        IpAddr::V6(a) => (u128::from(a), 128, true),
    }
}

fn mask(len: u8, max: u8) -> u128 {
    if len == 0 {
        0
    } else {
        // Ones in the top `len` bits of a `max`-bit number.
        let all = if max == 128 {
            u128::MAX
        } else {
            (1u128 << max) - 1
        };
        all & !((1u128 << (max - len)) - 1)
    }
}

/// Longest-prefix match table. Homelab peer tables hold tens of entries, so a
/// vector sorted longest-first beats a trie on constant factors; a one-entry
/// cache serves the common case of a bulk flow to a single peer.
#[derive(Debug, Clone)]
pub struct AllowedIps<T> {
    entries: Vec<(Prefix, T)>,
    last: Option<(IpAddr, usize)>,
}

impl<T> Default for AllowedIps<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            last: None,
        }
    }
}

impl<T: Copy + PartialEq> AllowedIps<T> {
    /// Inserts a prefix; an identical prefix already present is taken over by
    /// `value` (as `wg set` moves an allowed IP to the newest peer).
    pub fn insert(&mut self, prefix: Prefix, value: T) {
        self.last = None;
        if let Some(e) = self.entries.iter_mut().find(|(p, _)| *p == prefix) {
            e.1 = value;
            return;
        }
        let at = self.entries.partition_point(|(p, _)| p.len >= prefix.len);
        self.entries.insert(at, (prefix, value));
    }

    pub fn remove_value(&mut self, value: T) {
        self.last = None;
        self.entries.retain(|(_, v)| *v != value);
    }

    pub fn lookup(&mut self, addr: IpAddr) -> Option<T> {
        if let Some((a, i)) = self.last {
            if a == addr {
                return Some(self.entries[i].1);
            }
        }
        let i = self.entries.iter().position(|(p, _)| p.contains(addr))?;
        self.last = Some((addr, i));
        Some(self.entries[i].1)
    }

    /// Lookup without touching the cache.
    pub fn get(&self, addr: IpAddr) -> Option<T> {
        self.entries
            .iter()
            .find(|(p, _)| p.contains(addr))
            .map(|(_, v)| *v)
    }
}

#[cfg(test)]
#[path = "allowed_ips_tests.rs"]
mod tests;
