//! NAT traversal for a wingress node: learn the public address (STUN from
//! the WireGuard socket), and ask the router for a port mapping (PCP, then
//! NAT-PMP, then UPnP IGD), so phones on mobile networks reach the node
//! directly.
//!
//! Everything here is sans-IO: codecs are pure functions over bytes, and
//! the state machines ([`PortMapper`], [`StunProbe`]) take `now` and return
//! what to send; the daemon's driver owns the sockets, the HTTP client and
//! the clock.

#![forbid(unsafe_code)]

pub mod mapper;
pub mod natpmp;
pub mod pcp;
pub mod probe;
pub mod route;
pub mod status;
pub mod stun;
pub mod upnp;

pub use mapper::{
    ActiveMapping, Event as MapperEvent, HttpResponse, MapperConfig, MappingSnapshot, MappingState,
    MappingStatus, Output as MapperOutput, PortMapper, Protocol,
};
pub use probe::{Filtering, MappingBehaviour, Observation, ProbeConfig, StunProbe, StunReport};
pub use route::{default_route, DefaultRoute};
pub use status::{EndpointSource, MappingView, NatState, NatStatus, PublicEndpoint, StunStatus};
