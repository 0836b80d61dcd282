//! The port-mapping state machine: ask the default gateway for a UDP
//! mapping of an external port to ours with PCP, then NAT-PMP, then UPnP IGD
//! (or the protocols configured, in their order), keep it (renew at half
//! the lease, check it periodically, notice a gateway restart by its epoch),
//! and delete it on [`PortMapper::release`].
//!
//! Sans-IO, in quinn-proto's shape. Call order:
//! 1. [`PortMapper::new`] (it queues the first requests);
//! 2. send everything [`PortMapper::poll_output`] yields: datagrams to the
//!    gateway's port 5351, SSDP datagrams, HTTP requests;
//! 3. feed what comes back to [`PortMapper::handle_pmp`],
//!    [`PortMapper::handle_ssdp`] and [`PortMapper::handle_http`], and call
//!    [`PortMapper::handle_timeout`] once [`PortMapper::poll_timeout`] has
//!    passed;
//! 4. after each call, drain [`PortMapper::poll_event`] (state changes worth
//!    logging) and go back to 2.
//!
//! At shutdown, [`PortMapper::release`], then keep driving until
//! [`Event::Released`].

mod exchange;
mod igd;
mod pmp;
mod types;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use crate::pcp::Nonce;
use crate::upnp::WanService;
use exchange::{Ctx, Done, Exchange, Grant, Purpose, Retx, Target};
pub use types::{
    ActiveMapping, Event, HttpResponse, MapperConfig, MappingSnapshot, MappingState, MappingStatus,
    Output, Protocol,
};

/// How often a mapping is checked between renewals (a gateway that
/// restarted without our noticing would otherwise stay unnoticed until the
/// next renewal, up to half a lease).
pub const CHECK_INTERVAL: Duration = Duration::from_secs(60);

/// The first retry after every protocol failed; doubled per failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

enum Phase {
    /// Waiting to (re)start the protocol cycle.
    Idle {
        start_at: Instant,
    },
    Trying {
        index: usize,
        any_port: bool,
        ex: Exchange,
    },
    Mapped {
        renew_at: Instant,
        check_at: Instant,
        ex: Option<(Purpose, Exchange)>,
    },
    Releasing {
        ex: Exchange,
    },
    Released,
}

/// The state machine. See the module documentation for the call order.
pub struct PortMapper {
    cfg: MapperConfig,
    nonce: Nonce,
    phase: Phase,
    mapping: Option<ActiveMapping>,
    /// The last epoch a PCP or NAT-PMP gateway reported, with our time.
    epoch: Option<(Instant, u32)>,
    service: Option<WanService>,
    out: VecDeque<Output>,
    events: VecDeque<Event>,
    next_id: u64,
    failures: u32,
    last_error: Option<String>,
    origin: Instant,
}

impl PortMapper {
    /// `nonce` identifies our PCP mapping for renewals and deletion; make
    /// it random. `cfg.protocols` must not be empty.
    pub fn new(cfg: MapperConfig, nonce: Nonce, now: Instant) -> PortMapper {
        let mut m = PortMapper {
            cfg,
            nonce,
            phase: Phase::Idle { start_at: now },
            mapping: None,
            epoch: None,
            service: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
            next_id: 0,
            failures: 0,
            last_error: None,
            origin: now,
        };
        m.handle_timeout(now);
        m
    }

    pub fn config(&self) -> &MapperConfig {
        &self.cfg
    }

    /// The mapping in place, if any.
    pub fn mapping(&self) -> Option<&ActiveMapping> {
        self.mapping.as_ref()
    }

    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`PortMapper::handle_timeout`] wants to run next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Idle { start_at } => Some(*start_at),
            Phase::Trying { ex, .. } | Phase::Releasing { ex } => ex.deadline(),
            Phase::Mapped {
                ex: Some((_, ex)), ..
            } => ex.deadline(),
            Phase::Mapped {
                renew_at, check_at, ..
            } => Some((*renew_at).min(*check_at)),
            Phase::Released => None,
        }
    }

    /// A datagram from the gateway's port 5351.
    pub fn handle_pmp(&mut self, now: Instant, data: &[u8]) {
        self.dispatch(now, |ex, cx| match ex {
            Exchange::Pmp(x) => x.handle(cx, data),
            Exchange::Igd(_) => None,
        });
    }

    /// A datagram on the SSDP socket (an answer to our search), and who
    /// sent it.
    pub fn handle_ssdp(&mut self, now: Instant, from: SocketAddrV4, data: &[u8]) {
        self.dispatch(now, |ex, cx| match ex {
            Exchange::Igd(x) => x.handle_ssdp(cx, from, data),
            Exchange::Pmp(_) => None,
        });
    }

    /// The answer to [`Output::Http`] `id`: a response, or why there is none.
    pub fn handle_http(&mut self, now: Instant, id: u64, result: Result<HttpResponse, String>) {
        self.dispatch(now, |ex, cx| match ex {
            Exchange::Igd(x) => x.handle_http(cx, id, &result),
            Exchange::Pmp(_) => None,
        });
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.phase {
            Phase::Idle { start_at } if now >= *start_at => self.try_protocol(now, 0, false),
            Phase::Mapped {
                renew_at,
                check_at,
                ex: ex @ None,
            } => {
                let purpose = if now >= *renew_at {
                    Purpose::Renew
                } else if now >= *check_at {
                    Purpose::Check
                } else {
                    return;
                };
                let Some(m) = &self.mapping else { return };
                let target = Target::kept(m, self.nonce, &self.service);
                let mut cx = Ctx {
                    cfg: &self.cfg,
                    now,
                    out: &mut self.out,
                    next_id: &mut self.next_id,
                };
                *ex = Some((
                    purpose,
                    Exchange::start(m.protocol, purpose, target, &mut cx),
                ));
            }
            _ => self.dispatch(now, |ex, cx| match ex {
                Exchange::Pmp(x) => x.handle_timeout(cx),
                Exchange::Igd(x) => x.handle_timeout(cx),
            }),
        }
    }

    /// Starts deleting the mapping; [`Event::Released`] follows. Without a
    /// mapping it follows at once.
    pub fn release(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Releasing { .. } | Phase::Released) {
            return;
        }
        let Some(m) = self.mapping.clone() else {
            self.phase = Phase::Released;
            self.events.push_back(Event::Released {
                protocol: None,
                result: Ok(()),
            });
            return;
        };
        let target = Target::kept(&m, self.nonce, &self.service);
        let mut cx = Ctx {
            cfg: &self.cfg,
            now,
            out: &mut self.out,
            next_id: &mut self.next_id,
        };
        let ex = Exchange::start(m.protocol, Purpose::Delete, target, &mut cx);
        self.phase = Phase::Releasing { ex };
    }

    /// What `wingress status` shows, without the clock: render it with
    /// [`MappingSnapshot::status`].
    pub fn snapshot(&self) -> MappingSnapshot {
        let (state, trying) = match &self.phase {
            Phase::Trying { index, .. } => (MappingState::Mapping, self.cfg.protocols.get(*index)),
            Phase::Mapped { .. } => (MappingState::Mapped, None),
            Phase::Idle { .. } if self.failures > 0 => (MappingState::Failed, None),
            Phase::Idle { .. } => (MappingState::Mapping, None),
            Phase::Releasing { .. } | Phase::Released => (MappingState::Released, None),
        };
        MappingSnapshot {
            state,
            protocol: self
                .mapping
                .as_ref()
                .map(|m| m.protocol)
                .or(trying.copied()),
            gateway: self.cfg.gateway,
            internal: SocketAddrV4::new(self.cfg.client, self.cfg.internal_port),
            requested_port: self.cfg.external_port,
            mapping: self.mapping.clone(),
            renew_at: match &self.phase {
                Phase::Mapped { renew_at, .. } => Some(*renew_at),
                _ => None,
            },
            retry_at: match &self.phase {
                Phase::Idle { start_at } if self.failures > 0 => Some(*start_at),
                _ => None,
            },
            ever_failed: self.failures > 0 || self.last_error.is_some(),
            last_error: self.last_error.clone(),
        }
    }

    // === internals ===

    /// Runs `f` on the exchange in flight; handles how it ended.
    fn dispatch(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut Exchange, &mut Ctx<'_>) -> Option<Done>,
    ) {
        let ex = match &mut self.phase {
            Phase::Trying { ex, .. } | Phase::Releasing { ex } => ex,
            Phase::Mapped {
                ex: Some((_, ex)), ..
            } => ex,
            _ => return,
        };
        let mut cx = Ctx {
            cfg: &self.cfg,
            now,
            out: &mut self.out,
            next_id: &mut self.next_id,
        };
        if let Some(done) = f(ex, &mut cx) {
            self.finished(now, done);
        }
    }

    fn try_protocol(&mut self, now: Instant, index: usize, any_port: bool) {
        let Some(&protocol) = self.cfg.protocols.get(index) else {
            self.give_up(now);
            return;
        };
        let target = Target {
            external_port: self.cfg.external_port,
            any_port,
            external_ip: None,
            nonce: self.nonce,
            service: self.service.clone(),
        };
        let mut cx = Ctx {
            cfg: &self.cfg,
            now,
            out: &mut self.out,
            next_id: &mut self.next_id,
        };
        let ex = Exchange::start(protocol, Purpose::Map, target, &mut cx);
        self.phase = Phase::Trying {
            index,
            any_port,
            ex,
        };
    }

    fn give_up(&mut self, now: Instant) {
        self.failures += 1;
        let retry_in = (FIRST_BACKOFF * (1 << (self.failures - 1).min(10))).min(MAX_BACKOFF);
        let error = self
            .last_error
            .clone()
            .unwrap_or_else(|| "no protocol configured".into());
        self.events.push_back(Event::Failed { error, retry_in });
        self.phase = Phase::Idle {
            start_at: now + retry_in,
        };
    }

    fn finished(&mut self, now: Instant, done: Done) {
        let phase = std::mem::replace(&mut self.phase, Phase::Released);
        match phase {
            Phase::Trying {
                index, any_port, ..
            } => self.after_try(now, index, any_port, done),
            Phase::Mapped {
                ex: Some((purpose, _)),
                ..
            } => self.after_upkeep(now, purpose, done),
            Phase::Releasing { .. } => {
                let protocol = self.mapping.take().map(|m| m.protocol);
                let result = match done {
                    Done::Deleted => Ok(()),
                    Done::Failed { error, .. } => Err(error),
                    other => Err(format!("unexpected answer to a deletion: {other:?}")),
                };
                self.events.push_back(Event::Released { protocol, result });
            }
            other => self.phase = other,
        }
    }

    fn after_try(&mut self, now: Instant, index: usize, any_port: bool, done: Done) {
        let protocol = self.cfg.protocols[index];
        match done {
            Done::Granted(g) => {
                self.failures = 0;
                self.last_error = None;
                if let Some(e) = g.epoch {
                    self.epoch = Some((now, e));
                }
                if g.service.is_some() {
                    self.service = g.service.clone();
                }
                self.install(now, protocol, &g, now);
                self.events.push_back(Event::Mapped {
                    protocol,
                    external: g.external,
                    requested_port: self.cfg.external_port,
                    lifetime: g.lifetime,
                });
            }
            Done::Failed { error, refused } => {
                if refused && !any_port {
                    // The gateway will not give us our port: ask for any.
                    self.last_error = Some(format!("{protocol}: {error}"));
                    self.try_protocol(now, index, true);
                    return;
                }
                self.last_error = Some(format!("{protocol}: {error}"));
                self.events
                    .push_back(Event::ProtocolFailed { protocol, error });
                if index + 1 < self.cfg.protocols.len() {
                    self.try_protocol(now, index + 1, false);
                } else {
                    self.give_up(now);
                }
            }
            other => {
                self.last_error = Some(format!("{protocol}: unexpected answer {other:?}"));
                self.try_protocol(now, index + 1, false);
            }
        }
    }

    /// The end of a renewal or check of the mapping in place.
    fn after_upkeep(&mut self, now: Instant, purpose: Purpose, done: Done) {
        let Some(m) = self.mapping.clone() else {
            self.try_protocol(now, 0, false);
            return;
        };
        let origin = self.origin;
        let restarted = |epoch: Option<u32>, prev: Option<(Instant, u32)>| match (epoch, prev) {
            (Some(e), Some((at, p))) => {
                let secs = |t: Instant| t.saturating_duration_since(origin).as_secs();
                !crate::pcp::epoch_is_continuous((secs(at), p), (secs(now), e))
            }
            _ => false,
        };
        match done {
            Done::Granted(g) => {
                let was_restart = restarted(g.epoch, self.epoch);
                if let Some(e) = g.epoch {
                    self.epoch = Some((now, e));
                }
                let created = if was_restart { now } else { m.created_at };
                self.install(now, m.protocol, &g, created);
                if was_restart || g.external != m.external {
                    if was_restart {
                        self.events.push_back(Event::Lost {
                            protocol: m.protocol,
                            reason: "the gateway restarted (its epoch went back); the renewal re-created the mapping".into(),
                        });
                    }
                    self.events.push_back(Event::Mapped {
                        protocol: m.protocol,
                        external: g.external,
                        requested_port: self.cfg.external_port,
                        lifetime: g.lifetime,
                    });
                } else {
                    self.events.push_back(Event::Renewed {
                        protocol: m.protocol,
                        external: g.external,
                        lifetime: g.lifetime,
                    });
                }
            }
            Done::Intact { epoch, external_ip } => {
                let was_restart = restarted(epoch, self.epoch);
                if let Some(e) = epoch {
                    self.epoch = Some((now, e));
                }
                if was_restart {
                    self.lose(
                        now,
                        m.protocol,
                        "the gateway restarted (its epoch went back)".into(),
                    );
                } else if external_ip.is_some_and(|ip| ip != *m.external.ip()) {
                    self.lose(
                        now,
                        m.protocol,
                        format!(
                            "the gateway's external address changed to {}",
                            external_ip.unwrap_or(Ipv4Addr::UNSPECIFIED)
                        ),
                    );
                } else {
                    self.phase = Phase::Mapped {
                        renew_at: renew_time(&m),
                        check_at: now + self.cfg.check_interval,
                        ex: None,
                    };
                }
            }
            Done::Gone(reason) => self.lose(now, m.protocol, reason),
            Done::Failed { error, .. } => {
                let what = if purpose == Purpose::Renew {
                    "renewal"
                } else {
                    "check"
                };
                self.lose(now, m.protocol, format!("{what} failed: {error}"));
            }
            Done::Deleted => self.lose(now, m.protocol, "deleted".into()),
        }
    }

    fn install(&mut self, now: Instant, protocol: Protocol, g: &Grant, created_at: Instant) {
        let m = ActiveMapping {
            protocol,
            external: g.external,
            created_at,
            renewed_at: now,
            lifetime: g.lifetime,
        };
        self.phase = Phase::Mapped {
            renew_at: renew_time(&m),
            check_at: now + self.cfg.check_interval,
            ex: None,
        };
        self.mapping = Some(m);
    }

    fn lose(&mut self, now: Instant, protocol: Protocol, reason: String) {
        self.last_error = Some(format!("{protocol}: {reason}"));
        self.mapping = None;
        self.epoch = None;
        self.events.push_back(Event::Lost { protocol, reason });
        self.try_protocol(now, 0, false);
    }
}

/// Half the lifetime after the grant, and not sooner than a second.
fn renew_time(m: &ActiveMapping) -> Instant {
    m.renewed_at + (m.lifetime / 2).max(Duration::from_secs(1))
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
#[cfg(test)]
#[path = "trust_tests.rs"]
mod trust_tests;
