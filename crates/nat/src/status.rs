//! What the NAT subsystem knows, and what it tells: the node's public
//! endpoint (and where it comes from), and the `nat` section of `wingress
//! status`.
//!
//! [`NatState`] holds instants, not ages, so the driver can share one copy
//! and anyone can render it later with [`NatState::status`] at their `now`.

use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::mapper::{MappingSnapshot, MappingState, MappingStatus};
use crate::probe::{Filtering, MappingBehaviour, Observation, StunReport};

/// A mapping younger than this is "new" for the connection-tracking hint.
pub const NEW_MAPPING: Duration = Duration::from_secs(600);

/// boringtun reports the time since a handshake on a coarse clock (whole
/// seconds): a handshake this much "older" than the mapping still counts
/// as after it.
const HANDSHAKE_CLOCK_SLACK: Duration = Duration::from_secs(2);

/// Where the published endpoint comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointSource {
    /// `[nat].advertise` names it.
    Configured,
    /// A PCP, NAT-PMP or UPnP mapping on the router.
    Mapped,
    /// STUN shows our own port open to anyone: a forward on the router.
    StaticForward,
    /// The address STUN servers saw (useful while the NAT keeps the
    /// binding and lets peers in).
    Stun,
}

/// The endpoint clients should use, for `wingress status` and client configs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicEndpoint {
    pub address: String,
    pub source: EndpointSource,
    /// Since it last changed.
    pub age_secs: u64,
}

/// The STUN part of `wingress status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StunStatus {
    /// `off`, `probing` (no round finished yet), `ok`, or `failed` (no
    /// server answered the last round).
    pub state: &'static str,
    pub servers: Vec<Observation>,
    pub public: Option<String>,
    pub mapping: Option<MappingBehaviour>,
    pub filtering: Option<Filtering>,
    pub port_preserved: Option<bool>,
    pub behind_nat: Option<bool>,
    pub static_forward: bool,
    pub age_secs: Option<u64>,
    pub last_error: Option<String>,
}

/// The `nat` section of `wingress status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NatStatus {
    /// This node's address and WireGuard port.
    pub local: String,
    pub public_endpoint: Option<PublicEndpoint>,
    pub port_mapping: MappingStatus,
    pub stun: StunStatus,
    /// Sentences for a person: what the path looks like, what to fix.
    pub notes: Vec<String>,
}

/// Port mapping as the state knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingView {
    Off,
    Unavailable(String),
    Active(MappingSnapshot),
}

/// Everything the NAT driver has learnt; see the module documentation.
#[derive(Debug, Clone)]
pub struct NatState {
    pub local: SocketAddrV4,
    /// `[nat].advertise` when fixed.
    pub advertise: Option<String>,
    pub mapping: MappingView,
    /// `None` when STUN is off.
    pub stun_servers: Option<Vec<SocketAddr>>,
    pub stun: Option<StunReport>,
    pub stun_error: Option<String>,
    /// Peers that have not completed a handshake since the mapping was
    /// created (filled in by the daemon, which knows the peers).
    pub peers_waiting: Vec<String>,
    published: Option<(String, EndpointSource, Instant)>,
}

impl NatState {
    pub fn new(local: SocketAddrV4, advertise: Option<String>, now: Instant) -> NatState {
        let mut s = NatState {
            local,
            advertise,
            mapping: MappingView::Off,
            stun_servers: None,
            stun: None,
            stun_error: None,
            peers_waiting: Vec::new(),
            published: None,
        };
        s.refresh(now);
        s
    }

    /// The endpoint to publish now, by precedence: configured, mapped,
    /// static forward, STUN. While the first mapping attempt is running
    /// nothing is published: a client that starts sending to a port before
    /// the router maps it may be stuck on a stale connection-tracking entry.
    pub fn choose_endpoint(&self) -> Option<(String, EndpointSource)> {
        if let Some(a) = &self.advertise {
            return Some((a.clone(), EndpointSource::Configured));
        }
        if let MappingView::Active(m) = &self.mapping {
            if let Some(active) = &m.mapping {
                return Some((active.external.to_string(), EndpointSource::Mapped));
            }
            if m.state == MappingState::Mapping && !m.ever_failed {
                return None;
            }
        }
        let report = self.stun.as_ref()?;
        let public = report.public?;
        if report.static_forward(self.local) {
            Some((public.to_string(), EndpointSource::StaticForward))
        } else if report.mapping == MappingBehaviour::EndpointDependent {
            None
        } else {
            Some((public.to_string(), EndpointSource::Stun))
        }
    }

    /// Re-decides the published endpoint; returns it when it changed.
    pub fn refresh(&mut self, now: Instant) -> Option<(String, EndpointSource)> {
        let chosen = self.choose_endpoint();
        let current = self.published.as_ref().map(|(a, s, _)| (a.clone(), *s));
        if chosen == current {
            return None;
        }
        self.published = chosen.clone().map(|(a, s)| (a, s, now));
        chosen
    }

    /// The published endpoint, if any.
    pub fn public_endpoint(&self, now: Instant) -> Option<PublicEndpoint> {
        self.published
            .as_ref()
            .map(|(address, source, since)| PublicEndpoint {
                address: address.clone(),
                source: *source,
                age_secs: now.saturating_duration_since(*since).as_secs(),
            })
    }

    /// Which peers have not completed a handshake since the mapping was
    /// created, from each peer's name and time since its last handshake;
    /// only while the mapping is new (afterwards the hint is moot).
    pub fn update_peers(&mut self, now: Instant, peers: Vec<(String, Option<Duration>)>) {
        self.peers_waiting = match self.mapping_created_at() {
            Some(created) if now.saturating_duration_since(created) < NEW_MAPPING => {
                let age = now.saturating_duration_since(created);
                peers
                    .into_iter()
                    .filter(|(_, since)| since.is_none_or(|d| d > age + HANDSHAKE_CLOCK_SLACK))
                    .map(|(name, _)| name)
                    .collect()
            }
            _ => Vec::new(),
        };
    }

    /// When the current mapping was created, if there is one.
    pub fn mapping_created_at(&self) -> Option<Instant> {
        match &self.mapping {
            MappingView::Active(m) => m.mapping.as_ref().map(|a| a.created_at),
            _ => None,
        }
    }

    pub fn status(&self, now: Instant) -> NatStatus {
        let port_mapping = match &self.mapping {
            MappingView::Off => MappingStatus::inactive(MappingState::Off, None),
            MappingView::Unavailable(why) => {
                MappingStatus::inactive(MappingState::Unavailable, Some(why.clone()))
            }
            MappingView::Active(m) => m.status(now),
        };
        let stun = self.stun_status(now);
        let notes = self.notes(now, &port_mapping);
        NatStatus {
            local: self.local.to_string(),
            public_endpoint: self.public_endpoint(now),
            port_mapping,
            stun,
            notes,
        }
    }

    fn stun_status(&self, now: Instant) -> StunStatus {
        let r = self.stun.as_ref();
        let state = match (&self.stun_servers, r) {
            (None, _) => "off",
            (Some(_), None) => "probing",
            (Some(_), Some(r)) if r.public.is_some() => "ok",
            (Some(_), Some(_)) => "failed",
        };
        StunStatus {
            state,
            servers: r.map(|r| r.observations.clone()).unwrap_or_default(),
            public: r.and_then(|r| r.public).map(|p| p.to_string()),
            mapping: r.map(|r| r.mapping),
            filtering: r.map(|r| r.filtering),
            port_preserved: r.and_then(|r| r.port_preserved(self.local)),
            behind_nat: r.and_then(|r| r.behind_nat(self.local)),
            static_forward: r.is_some_and(|r| r.static_forward(self.local)),
            age_secs: r.map(|r| now.saturating_duration_since(r.at).as_secs()),
            last_error: self.stun_error.clone(),
        }
    }

    fn notes(&self, now: Instant, pm: &MappingStatus) -> Vec<String> {
        let mut notes = Vec::new();
        let local_port = self.local.port();
        if let MappingView::Active(m) = &self.mapping {
            match &m.mapping {
                Some(a) if a.external.port() != m.requested_port => notes.push(format!(
                    "the router refused external port {}; it mapped {} instead: clients must use {}",
                    m.requested_port,
                    a.external.port(),
                    a.external
                )),
                None if m.state == MappingState::Mapping && !m.ever_failed => notes.push(
                    "creating the port mapping; the public endpoint is published once it exists"
                        .into(),
                ),
                _ => {}
            }
        }
        if let (Some(created), false) = (self.mapping_created_at(), self.peers_waiting.is_empty()) {
            let age = now.saturating_duration_since(created);
            if age < NEW_MAPPING {
                notes.push(format!(
                    "the port mapping is {} s old and {} not completed a handshake since: a peer that \
                     was already sending to this port before the mapping existed may be stuck on a \
                     stale connection-tracking entry in the router (it is not flushed when a mapping \
                     is added); restart that peer's tunnel so it sends from a new port, or stop it for \
                     the router's UDP timeout",
                    age.as_secs(),
                    match self.peers_waiting.as_slice() {
                        [one] => format!("peer {one} has"),
                        many => format!("peers {} have", many.join(", ")),
                    }
                ));
            }
        }
        if let Some(r) = &self.stun {
            let has_mapping = pm.state == MappingState::Mapped;
            if r.static_forward(self.local) && !has_mapping {
                notes.push(format!(
                    "a static port forward is in place: STUN sees public port {local_port} (this \
                     node's port) and packets from an address we never sent to get in"
                ));
            } else if r.port_preserved(self.local) == Some(true)
                && r.filtering == Filtering::Unknown
                && r.behind_nat(self.local) == Some(true)
                && !has_mapping
            {
                notes.push(format!(
                    "STUN sees public port {local_port}, this node's port: a static forward may be \
                     in place, or the NAT just keeps ports (the STUN servers cannot test filtering)"
                ));
            }
            if r.mapping == MappingBehaviour::EndpointDependent && !has_mapping {
                notes.push(
                    "the NAT gives each destination its own public port (symmetric NAT): peers \
                     cannot use the address STUN sees; forward the port on the router or enable \
                     PCP, NAT-PMP or UPnP there"
                        .into(),
                );
            }
        }
        notes
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
