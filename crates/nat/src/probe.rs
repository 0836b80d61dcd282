//! STUN discovery from the WireGuard socket: our public address and port,
//! whether the NAT maps endpoint-independently (two servers see the same
//! public port), whether it filters (RFC 5780 CHANGE-REQUEST: does an
//! answer from an address we never sent to get in?), and whether the public
//! port is our own port (a static forward, or a port-preserving NAT).
//!
//! Sans-IO. Call order: [`StunProbe::new`]; send what
//! [`StunProbe::poll_transmit`] yields *from the WireGuard socket*; give
//! every STUN-shaped datagram that socket receives to
//! [`StunProbe::handle_datagram`]; call [`StunProbe::handle_timeout`] once
//! [`StunProbe::poll_timeout`] has passed; drain [`StunProbe::poll_report`].

use std::collections::VecDeque;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::stun::{self, ChangeRequest, Outcome, TransactionId};

/// RFC 8489 §6.2.1: RTO starts at 500 ms and doubles; 7 requests; after
/// the last, wait 16 RTO (8 s): a silent server is given up after 39.5 s.
const RTO: Duration = Duration::from_millis(500);
const BINDING_SENDS: u32 = 7;
const BINDING_LAST_WAIT: Duration = Duration::from_secs(8);
/// The filtering test waits less: its answer either gets through our NAT
/// or never will, and a round should not take 40 s because of it.
const CHANGE_SENDS: u32 = 4;
const CHANGE_LAST_WAIT: Duration = Duration::from_secs(2);

/// Between full rounds.
pub const REFRESH: Duration = Duration::from_secs(300);
/// After a round in which no server answered; doubled up to [`REFRESH`].
const RETRY: Duration = Duration::from_secs(30);

/// Where a node's traffic goes and what the NAT in between does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    pub servers: Vec<SocketAddr>,
    /// Our own address and the WireGuard port.
    pub local: SocketAddrV4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MappingBehaviour {
    /// Two servers saw the same public address and port: peers anywhere
    /// see this one too.
    EndpointIndependent,
    /// Each destination gets its own public port (a "symmetric" NAT): the
    /// STUN address is useless to peers.
    EndpointDependent,
    /// Fewer than two servers (with different addresses) answered.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Filtering {
    /// An answer from an address and port we never sent to got in.
    Open,
    /// It did not: only hosts we sent to can reach the public port.
    Filtered,
    /// No server offered an alternate address (RFC 5780) to test with.
    Unknown,
}

/// What one server said in the last round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observation {
    pub server: SocketAddr,
    pub mapped: Option<SocketAddr>,
    pub error: Option<String>,
}

/// The result of one round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StunReport {
    pub at: Instant,
    /// The public address of the first server (in configured order) that
    /// answered.
    pub public: Option<SocketAddr>,
    pub observations: Vec<Observation>,
    pub mapping: MappingBehaviour,
    pub filtering: Filtering,
}

impl StunReport {
    /// The public port is our own port.
    pub fn port_preserved(&self, local: SocketAddrV4) -> Option<bool> {
        self.public.map(|p| p.port() == local.port())
    }

    /// No NAT at all: the servers saw our own address.
    pub fn behind_nat(&self, local: SocketAddrV4) -> Option<bool> {
        self.public.map(|p| p != SocketAddr::V4(local))
    }

    /// A forward on the router from the public port to ours: the port is
    /// preserved and strangers get in. (A port-preserving NAT that filters
    /// looks the same to a single server, which is why filtering decides.)
    pub fn static_forward(&self, local: SocketAddrV4) -> bool {
        self.behind_nat(local) == Some(true)
            && self.port_preserved(local) == Some(true)
            && self.filtering == Filtering::Open
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Binding,
    /// The RFC 5780 filtering test, sent to this server.
    Change,
    /// A single request between rounds to hold the NAT binding open.
    Keepalive,
}

#[derive(Debug)]
struct Txn {
    id: TransactionId,
    to: SocketAddr,
    kind: Kind,
    bytes: Vec<u8>,
    sent: u32,
    max: u32,
    last_wait: Duration,
    next_at: Instant,
}

impl Txn {
    fn new(id: TransactionId, to: SocketAddr, kind: Kind, now: Instant) -> Txn {
        let (max, last_wait, change) = match kind {
            Kind::Change => (
                CHANGE_SENDS,
                CHANGE_LAST_WAIT,
                Some(ChangeRequest {
                    ip: true,
                    port: true,
                }),
            ),
            _ => (BINDING_SENDS, BINDING_LAST_WAIT, None),
        };
        Txn {
            id,
            to,
            kind,
            bytes: stun::binding_request(&id, change),
            sent: 0,
            max,
            last_wait,
            next_at: now,
        }
    }

    fn due(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        if self.sent >= self.max || now < self.next_at {
            return None;
        }
        self.sent += 1;
        self.next_at = now
            + if self.sent == self.max {
                self.last_wait
            } else {
                RTO * (1 << (self.sent - 1))
            };
        Some((self.to, self.bytes.clone()))
    }

    fn expired(&self, now: Instant) -> bool {
        self.sent >= self.max && now >= self.next_at
    }
}

/// Results gathered during a round.
#[derive(Debug)]
struct Round {
    observations: Vec<Observation>,
    filtering: Filtering,
    change_started: bool,
}

/// The probe. See the module documentation for the call order.
pub struct StunProbe {
    cfg: ProbeConfig,
    ids: Box<dyn FnMut() -> TransactionId>,
    txns: Vec<Txn>,
    round: Option<Round>,
    next_round: Instant,
    keepalive: Option<Duration>,
    next_keepalive: Option<Instant>,
    report: Option<StunReport>,
    reports: VecDeque<StunReport>,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    empty_rounds: u32,
    /// STUN-shaped datagrams that matched no transaction of ours.
    pub unmatched: u64,
}

impl StunProbe {
    /// `ids` must return unpredictable transaction ids (from the OS's
    /// random source): they are what stops anyone off the path from
    /// feeding us a false public address. The first round starts at `now`.
    pub fn new(
        cfg: ProbeConfig,
        ids: Box<dyn FnMut() -> TransactionId>,
        now: Instant,
    ) -> StunProbe {
        let mut p = StunProbe {
            cfg,
            ids,
            txns: Vec::new(),
            round: None,
            next_round: now,
            keepalive: None,
            next_keepalive: None,
            report: None,
            reports: VecDeque::new(),
            out: VecDeque::new(),
            empty_rounds: 0,
            unmatched: 0,
        };
        p.handle_timeout(now);
        p
    }

    pub fn config(&self) -> &ProbeConfig {
        &self.cfg
    }

    /// The last complete round's result (kept fresh by keepalives).
    pub fn report(&self) -> Option<&StunReport> {
        self.report.as_ref()
    }

    /// Send a binding request to the server that gave our public address
    /// every `interval` between rounds (to hold a NAT binding that peers
    /// use open), or stop.
    /// Setting the interval it already has changes nothing.
    pub fn set_keepalive(&mut self, interval: Option<Duration>, now: Instant) {
        if self.keepalive == interval {
            return;
        }
        self.keepalive = interval;
        self.next_keepalive = interval.map(|i| now + i);
    }

    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.out.pop_front()
    }

    /// A new or changed report.
    #[must_use]
    pub fn poll_report(&mut self) -> Option<StunReport> {
        self.reports.pop_front()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let txn = self.txns.iter().map(|t| t.next_at).min();
        let idle = if self.round.is_some() || self.cfg.servers.is_empty() {
            None
        } else {
            Some(self.next_round)
        };
        [txn, idle, self.next_keepalive].into_iter().flatten().min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.round.is_none() && now >= self.next_round && !self.cfg.servers.is_empty() {
            self.start_round(now);
        }
        if self.round.is_none() && self.next_keepalive.is_some_and(|t| now >= t) {
            self.next_keepalive = self.keepalive.map(|i| now + i);
            let server = self.report.as_ref().and_then(|r| {
                r.observations
                    .iter()
                    .find(|o| o.mapped.is_some() && o.mapped == r.public)
                    .map(|o| o.server)
            });
            if let Some(to) = server {
                if !self.txns.iter().any(|t| t.kind == Kind::Keepalive) {
                    let id = (self.ids)();
                    self.txns.push(Txn::new(id, to, Kind::Keepalive, now));
                }
            }
        }
        let mut expired = Vec::new();
        for (i, t) in self.txns.iter_mut().enumerate() {
            if t.expired(now) {
                expired.push(i);
            } else if let Some(d) = t.due(now) {
                self.out.push_back(d);
            }
        }
        for i in expired.into_iter().rev() {
            let t = self.txns.remove(i);
            self.timed_out(&t);
        }
        self.maybe_finish(now);
    }

    /// A STUN-shaped datagram that arrived on the WireGuard socket. Returns
    /// whether it answered one of our requests (else it is counted in
    /// [`StunProbe::unmatched`] and dropped).
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) -> bool {
        let Some(id) = stun::transaction_id(data) else {
            self.unmatched += 1;
            return false;
        };
        let Some(i) = self.txns.iter().position(|t| t.id == id) else {
            self.unmatched += 1;
            return false;
        };
        let Ok(response) = stun::parse_binding_response(data) else {
            // Ours by id but unreadable: let the retransmissions go on.
            self.unmatched += 1;
            return false;
        };
        let t = self.txns.remove(i);
        match t.kind {
            Kind::Binding => self.binding_answered(now, &t, &response),
            Kind::Change => {
                if let Some(r) = &mut self.round {
                    // A server that ignored the change and answered from
                    // where we sent proves nothing.
                    r.filtering = match response.outcome {
                        Outcome::Mapped(_) if from != t.to => Filtering::Open,
                        _ => Filtering::Unknown,
                    };
                }
            }
            Kind::Keepalive => self.keepalive_answered(now, &response),
        }
        self.maybe_finish(now);
        true
    }

    fn start_round(&mut self, now: Instant) {
        self.round = Some(Round {
            observations: self
                .cfg
                .servers
                .iter()
                .map(|&server| Observation {
                    server,
                    mapped: None,
                    error: None,
                })
                .collect(),
            filtering: Filtering::Unknown,
            change_started: false,
        });
        for &to in &self.cfg.servers {
            let id = (self.ids)();
            self.txns.push(Txn::new(id, to, Kind::Binding, now));
        }
    }

    fn binding_answered(&mut self, now: Instant, t: &Txn, response: &stun::BindingResponse) {
        let Some(round) = &mut self.round else { return };
        let Some(o) = round.observations.iter_mut().find(|o| o.server == t.to) else {
            return;
        };
        match &response.outcome {
            Outcome::Mapped(a) => o.mapped = Some(*a),
            Outcome::Error { code, reason } => o.error = Some(format!("error {code} {reason}")),
        }
        if matches!(response.outcome, Outcome::Mapped(_))
            && response.other_address.is_some()
            && !round.change_started
        {
            round.change_started = true;
            round.filtering = Filtering::Filtered;
            let id = (self.ids)();
            let mut c = Txn::new(id, t.to, Kind::Change, now);
            if let Some(d) = c.due(now) {
                self.out.push_back(d);
            }
            self.txns.push(c);
        }
    }

    fn keepalive_answered(&mut self, now: Instant, response: &stun::BindingResponse) {
        let (Some(report), Outcome::Mapped(a)) = (&mut self.report, &response.outcome) else {
            return;
        };
        if report.public != Some(*a) {
            // The NAT moved us: the address peers should use changed.
            report.public = Some(*a);
            report.at = now;
            self.reports.push_back(report.clone());
        }
    }

    fn timed_out(&mut self, t: &Txn) {
        let Some(round) = &mut self.round else { return };
        if t.kind == Kind::Binding {
            if let Some(o) = round.observations.iter_mut().find(|o| o.server == t.to) {
                o.error = Some(format!("no answer after {} tries", t.sent));
            }
        }
        // A timed-out change request leaves `Filtered`, set when it started.
    }

    fn maybe_finish(&mut self, now: Instant) {
        if self.round.is_none() || self.txns.iter().any(|t| t.kind != Kind::Keepalive) {
            return;
        }
        let Some(round) = self.round.take() else {
            return;
        };
        let answered: Vec<&Observation> = round
            .observations
            .iter()
            .filter(|o| o.mapped.is_some())
            .collect();
        let public = answered.first().and_then(|o| o.mapped);
        let mut ips: Vec<_> = answered.iter().map(|o| o.server.ip()).collect();
        ips.sort();
        ips.dedup();
        let mapping = if ips.len() < 2 {
            MappingBehaviour::Unknown
        } else if answered.iter().all(|o| o.mapped == public) {
            MappingBehaviour::EndpointIndependent
        } else {
            MappingBehaviour::EndpointDependent
        };
        if public.is_some() {
            self.empty_rounds = 0;
            self.next_round = now + REFRESH;
        } else {
            self.empty_rounds += 1;
            self.next_round = now + (RETRY * (1 << (self.empty_rounds - 1).min(4))).min(REFRESH);
        }
        let report = StunReport {
            at: now,
            public,
            observations: round.observations,
            mapping,
            filtering: round.filtering,
        };
        self.report = Some(report.clone());
        self.reports.push_back(report);
    }
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
