//! The names this server answers for, and how it answers a query: the
//! route hosts (exact and wildcard), the domains it is authoritative for,
//! and the daemon's tunnel addresses. A [`Zone`] is plain data built from
//! the config, so a reload builds a new one and swaps it in.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::query::{parse_query, Malformed, Query, Response};
use crate::wire::{
    Name, Rcode, Section, CLASSIC_UDP_MAX, CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_ANY, TYPE_AXFR,
    TYPE_IXFR, TYPE_SOA,
};

/// What happens to names outside the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outside {
    /// Passed to upstream resolvers ([`Action::Forward`]).
    Forward,
    /// Answered REFUSED.
    Refuse,
}

/// The records: every name in `hosts` (and every name below a wildcard
/// base) resolves to the tunnel addresses; other names at or below a
/// domain do not exist; names outside every domain go to [`Outside`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    hosts: Vec<Name>,
    /// `*.home.arpa` is stored as `home.arpa` and matches every name below
    /// it, at any depth (DNS wildcards, RFC 4592, unlike TLS wildcards).
    wildcards: Vec<Name>,
    domains: Vec<Name>,
    v4: Option<Ipv4Addr>,
    v6: Option<Ipv6Addr>,
    ttl: u32,
    outside: Outside,
}

impl Zone {
    /// An empty zone answering with `addresses` (the first IPv4 and the
    /// first IPv6 one are used).
    pub fn new(addresses: &[IpAddr], ttl: u32, outside: Outside) -> Zone {
        Zone {
            hosts: Vec::new(),
            wildcards: Vec::new(),
            domains: Vec::new(),
            v4: addresses.iter().find_map(|a| match a {
                IpAddr::V4(v4) => Some(*v4),
                IpAddr::V6(_) => None,
            }),
            v6: addresses.iter().find_map(|a| match a {
                IpAddr::V6(v6) => Some(*v6),
                IpAddr::V4(_) => None,
            }),
            ttl,
            outside,
        }
    }

    /// Adds a host name. Names that are not valid DNS names are skipped
    /// (config validation already refused them).
    pub fn add_host(&mut self, name: &str) {
        push_unique(&mut self.hosts, name);
    }

    /// Adds `*.base`.
    pub fn add_wildcard(&mut self, base: &str) {
        push_unique(&mut self.wildcards, base);
    }

    /// Adds a domain this server is authoritative for.
    pub fn add_domain(&mut self, name: &str) {
        push_unique(&mut self.domains, name);
    }

    pub fn domains(&self) -> impl Iterator<Item = String> + '_ {
        self.domains.iter().map(|d| d.to_string())
    }

    pub fn outside(&self) -> Outside {
        self.outside
    }

    /// Where `name` falls.
    pub fn lookup(&self, name: &Name) -> Lookup<'_> {
        let is_host = self.hosts.contains(name) || self.wildcards.iter().any(|w| name.is_below(w));
        let domain = self
            .domains
            .iter()
            .filter(|d| name.is_at_or_below(d))
            .max_by_key(|d| d.labels().len());
        match domain {
            _ if is_host => Lookup::Host(domain),
            None => Lookup::Outside,
            Some(d) if d == name => Lookup::Apex(d),
            // An empty non-terminal (`b.home.arpa` above `a.b.home.arpa`)
            // exists: NODATA, not NXDOMAIN (RFC 8020).
            Some(d) if self.has_names_below(name) => Lookup::NoData(d),
            Some(d) => Lookup::NxDomain(d),
        }
    }

    fn has_names_below(&self, name: &Name) -> bool {
        self.hosts.iter().any(|h| h.is_below(name))
            || self.wildcards.iter().any(|w| w.is_at_or_below(name))
    }

    /// The SOA record data for `domain`, for negative answers (its minimum
    /// is how long "no such name" may be cached).
    fn soa(&self, domain: &Name) -> Vec<u8> {
        let mut rdata = Vec::with_capacity(64);
        domain.to_wire(&mut rdata);
        let rname =
            Name::from_dotted(&format!("hostmaster.{domain}")).unwrap_or_else(|| domain.clone());
        rname.to_wire(&mut rdata);
        for v in [1u32, 3600, 600, 86400, self.ttl] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        rdata
    }
}

fn push_unique(names: &mut Vec<Name>, name: &str) {
    if let Some(n) = Name::from_dotted(name) {
        if !n.labels().is_empty() && !names.contains(&n) {
            names.push(n);
        }
    }
}

/// Where a name falls in a [`Zone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'z> {
    /// A route host, with the domain covering it if any.
    Host(Option<&'z Name>),
    /// The apex of a domain.
    Apex(&'z Name),
    /// In a domain, with names below it but no records of its own.
    NoData(&'z Name),
    /// In a domain, and nothing by that name.
    NxDomain(&'z Name),
    /// Not ours.
    Outside,
}

// === answering ===

/// How a query arrived, which bounds the response size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP, with the largest datagram the path back carries.
    Udp { path_max: usize },
    /// TCP: any size a 16-bit length prefix allows.
    Tcp,
}

/// What to do with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Pass the query to an upstream resolver; see [`crate::query::relay_reply`].
    Forward(Forward),
    /// Send nothing (not a query, or too broken to answer).
    Drop,
}

/// What relaying an upstream reply needs to know about the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    /// The client's query ID, restored in the reply.
    pub id: u16,
    /// Bytes of the question section.
    pub question_len: usize,
    /// The largest reply the client takes on this transport.
    pub max: usize,
}

/// Counters, by outcome. Every message lands in exactly one of
/// `answered`, `nxdomain`, `refused`, `forwarded`, `malformed` or `dropped`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DnsStats {
    /// Answered from the zone (records, NODATA, apex).
    pub answered: u64,
    pub nxdomain: u64,
    /// REFUSED: outside the zone with forwarding off, a zone transfer, or a
    /// class other than IN.
    pub refused: u64,
    pub forwarded: u64,
    /// FORMERR, NOTIMP or BADVERS sent back.
    pub malformed: u64,
    /// Not answered: shorter than a header, or a response.
    pub dropped: u64,
    /// Forwarded queries no upstream answered (SERVFAIL sent), counted by
    /// the driver.
    pub upstream_failed: u64,
    /// Messages the driver dropped before handling them: too many queries
    /// or connections in flight. Counted by the driver.
    pub shed: u64,
}

/// The sans-IO server: messages in, [`Action`]s out. Owns the zone and the
/// counters; the driver owns sockets, forwarding and the clock.
#[derive(Debug)]
pub struct Responder {
    zone: Zone,
    stats: DnsStats,
}

impl Responder {
    pub fn new(zone: Zone) -> Responder {
        Responder {
            zone,
            stats: DnsStats::default(),
        }
    }

    /// Replaces the zone (a reload); counters continue.
    pub fn set_zone(&mut self, zone: Zone) {
        self.zone = zone;
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    pub fn stats(&self) -> DnsStats {
        self.stats
    }

    /// Counts a forwarded query that got no answer.
    pub fn upstream_failed(&mut self) {
        self.stats.upstream_failed += 1;
    }

    /// Counts a message the driver did not take (too many in flight).
    pub fn shed(&mut self) {
        self.stats.shed += 1;
    }

    /// Handles one message from a client.
    pub fn handle(&mut self, msg: &[u8], transport: Transport) -> Action {
        let q = match parse_query(msg) {
            Ok(q) => q,
            Err(Malformed::Drop) => {
                self.stats.dropped += 1;
                return Action::Drop;
            }
            Err(Malformed::Answer { id, flags, rcode }) => {
                self.stats.malformed += 1;
                return Action::Reply(Response::bare(id, flags, rcode));
            }
        };
        let max = match transport {
            Transport::Tcp => usize::from(u16::MAX),
            Transport::Udp { path_max } => {
                let asked = q.edns.map_or(CLASSIC_UDP_MAX, |e| usize::from(e.udp_size));
                asked.min(path_max).max(CLASSIC_UDP_MAX.min(path_max))
            }
        };
        let recursion = self.zone.outside == Outside::Forward;
        if q.edns.is_some_and(|e| e.version > 0) {
            self.stats.malformed += 1;
            return self.reply(&q, Rcode::BadVers, false, max);
        }
        match self.zone.lookup(&q.name) {
            Lookup::Outside if recursion => {
                self.stats.forwarded += 1;
                Action::Forward(Forward {
                    id: q.id,
                    question_len: q.question.len(),
                    max,
                })
            }
            Lookup::Outside => {
                self.stats.refused += 1;
                self.reply(&q, Rcode::Refused, false, max)
            }
            _ if q.qclass != CLASS_IN && q.qclass != TYPE_ANY
                || matches!(q.qtype, TYPE_AXFR | TYPE_IXFR) =>
            {
                self.stats.refused += 1;
                self.reply(&q, Rcode::Refused, true, max)
            }
            found => {
                let (bytes, rcode) = answer(&self.zone, &q, found, recursion, max);
                if rcode == Rcode::NxDomain {
                    self.stats.nxdomain += 1;
                } else {
                    self.stats.answered += 1;
                }
                Action::Reply(bytes)
            }
        }
    }

    fn reply(&self, q: &Query<'_>, rcode: Rcode, aa: bool, max: usize) -> Action {
        let recursion = self.zone.outside == Outside::Forward;
        Action::Reply(Response::to(q, rcode, aa, recursion).finish(max))
    }
}

/// An answer from the zone: records, NODATA or NXDOMAIN, with the SOA of
/// the covering domain in the authority section of negative ones.
fn answer(
    zone: &Zone,
    q: &Query<'_>,
    found: Lookup<'_>,
    recursion: bool,
    max: usize,
) -> (Vec<u8>, Rcode) {
    {
        let (rcode, soa_of) = match found {
            Lookup::NxDomain(d) => (Rcode::NxDomain, Some(d)),
            Lookup::Host(d) => (Rcode::NoError, d),
            Lookup::Apex(d) | Lookup::NoData(d) => (Rcode::NoError, Some(d)),
            Lookup::Outside => (Rcode::Refused, None),
        };
        let mut r = Response::to(q, rcode, true, recursion);
        let mut answers = 0;
        if let Lookup::Host(_) = found {
            let want = |t| q.qtype == t || q.qtype == TYPE_ANY;
            if let (true, Some(v4)) = (want(TYPE_A), zone.v4) {
                r.record_at_question(Section::Answer, TYPE_A, zone.ttl, &v4.octets());
                answers += 1;
            }
            if let (true, Some(v6)) = (want(TYPE_AAAA), zone.v6) {
                r.record_at_question(Section::Answer, TYPE_AAAA, zone.ttl, &v6.octets());
                answers += 1;
            }
        }
        if let Lookup::Apex(d) = found {
            if q.qtype == TYPE_SOA || q.qtype == TYPE_ANY {
                r.record_at_question(Section::Answer, TYPE_SOA, zone.ttl, &zone.soa(d));
                answers += 1;
            }
        }
        if answers == 0 {
            if let Some(d) = soa_of {
                r.record(Section::Authority, d, TYPE_SOA, zone.ttl, &zone.soa(d));
            }
        }
        (r.finish(max), rcode)
    }
}

#[cfg(test)]
#[path = "zone_tests.rs"]
pub(crate) mod tests;
