//! The mapper's public types: configuration, outputs, events, status.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::upnp::{HttpUrl, SoapRequest};

/// A port-mapping protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Protocol {
    #[serde(rename = "pcp")]
    Pcp,
    #[serde(rename = "natpmp")]
    NatPmp,
    #[serde(rename = "upnp")]
    Upnp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Pcp => "pcp",
            Protocol::NatPmp => "natpmp",
            Protocol::Upnp => "upnp",
        })
    }
}

/// What to map, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapperConfig {
    /// Tried in this order; at least one.
    pub protocols: Vec<Protocol>,
    pub gateway: Ipv4Addr,
    /// Our address on the gateway's network (the source of our requests).
    pub client: Ipv4Addr,
    pub internal_port: u16,
    /// The external port to ask for (41600 + the node's last octet).
    pub external_port: u16,
    pub lease: Duration,
    pub check_interval: Duration,
}

/// Something for the driver to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A datagram to the gateway's UDP port 5351 (PCP or NAT-PMP).
    Pmp(Vec<u8>),
    /// An SSDP datagram; answers come back to the same socket.
    Ssdp { to: SocketAddrV4, bytes: Vec<u8> },
    /// An HTTP request: GET `url`, or POST `soap` to it. Answer with
    /// [`PortMapper::handle_http`](super::PortMapper::handle_http) and the same `id`.
    Http {
        id: u64,
        url: HttpUrl,
        soap: Option<SoapRequest>,
    },
}

/// An HTTP response, as the driver received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

/// A state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A mapping exists: new, re-created, or moved to another external
    /// address or port. `external.port() != requested_port` when the
    /// gateway refused the port we asked for.
    Mapped {
        protocol: Protocol,
        external: SocketAddrV4,
        requested_port: u16,
        lifetime: Duration,
    },
    Renewed {
        protocol: Protocol,
        external: SocketAddrV4,
        lifetime: Duration,
    },
    /// The mapping is gone (gateway restart, failed renewal or check);
    /// mapping again has started.
    Lost { protocol: Protocol, reason: String },
    /// One protocol did not work; the next is being tried.
    ProtocolFailed { protocol: Protocol, error: String },
    /// No protocol worked; everything is tried again after `retry_in`.
    Failed { error: String, retry_in: Duration },
    /// [`PortMapper::release`](super::PortMapper::release) finished: the mapping was deleted, or could
    /// not be (it then expires at the end of its lease).
    Released {
        protocol: Option<Protocol>,
        result: Result<(), String>,
    },
}

/// The mapping in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveMapping {
    pub protocol: Protocol,
    pub external: SocketAddrV4,
    /// When the gateway created it (again, after a restart).
    pub created_at: Instant,
    pub renewed_at: Instant,
    pub lifetime: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MappingState {
    /// Port mapping is turned off (`port_mapping = false`).
    Off,
    /// It cannot run here (no default gateway); `last_error` says why.
    Unavailable,
    /// Asking the gateway.
    Mapping,
    Mapped,
    /// Every protocol failed; retrying later.
    Failed,
    /// Deleted at shutdown.
    Released,
}

/// The mapper's state with instants instead of ages, so a copy can be kept
/// and rendered later at any `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingSnapshot {
    pub state: MappingState,
    pub protocol: Option<Protocol>,
    pub gateway: Ipv4Addr,
    pub internal: SocketAddrV4,
    pub requested_port: u16,
    pub mapping: Option<ActiveMapping>,
    pub renew_at: Option<Instant>,
    pub retry_at: Option<Instant>,
    /// Something went wrong at least once (so "mapping" is not the first
    /// attempt any more).
    pub ever_failed: bool,
    pub last_error: Option<String>,
}

impl MappingSnapshot {
    pub fn status(&self, now: Instant) -> MappingStatus {
        let secs = |d: Duration| d.as_secs();
        let until = |t: Option<Instant>| t.map(|t| secs(t.saturating_duration_since(now)));
        let m = self.mapping.as_ref();
        MappingStatus {
            state: self.state,
            protocol: self.protocol,
            gateway: Some(self.gateway),
            internal: Some(self.internal.to_string()),
            requested_port: Some(self.requested_port),
            external: m.map(|m| m.external.to_string()),
            lease_secs: m.map(|m| secs(m.lifetime)),
            age_secs: m.map(|m| secs(now.saturating_duration_since(m.created_at))),
            renews_in_secs: until(self.renew_at),
            retry_in_secs: until(self.retry_at),
            last_error: self.last_error.clone(),
        }
    }
}

/// The port-mapping part of `wingress status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappingStatus {
    pub state: MappingState,
    /// The protocol of the mapping, or the one being tried.
    pub protocol: Option<Protocol>,
    pub gateway: Option<Ipv4Addr>,
    /// Our side: `client:internal_port`.
    pub internal: Option<String>,
    pub requested_port: Option<u16>,
    pub external: Option<String>,
    pub lease_secs: Option<u64>,
    pub age_secs: Option<u64>,
    pub renews_in_secs: Option<u64>,
    pub retry_in_secs: Option<u64>,
    pub last_error: Option<String>,
}

impl MappingStatus {
    /// Port mapping turned off, or unable to run (`reason`).
    pub fn inactive(state: MappingState, reason: Option<String>) -> MappingStatus {
        MappingStatus {
            state,
            protocol: None,
            gateway: None,
            internal: None,
            requested_port: None,
            external: None,
            lease_secs: None,
            age_secs: None,
            renews_in_secs: None,
            retry_in_secs: None,
            last_error: reason,
        }
    }
}
