//! What the daemon serves: the tunnel ports' TCP and UDP forwards, the
//! HTTPS entrypoints (in the tunnel and on host sockets), the in-tunnel DNS
//! server, and the per-peer caps and connection gauges they share.
//!
//! Ingress sits on the data plane ([`crate::dataplane`]): the event loop
//! hands each accepted tunnel connection and datagram to
//! [`forwarding::Ingress`]. It never imports the control plane; the
//! control plane builds its tables and swaps them on reload.

pub(crate) mod backend;
pub(crate) mod dns;
pub(crate) mod forwarding;
pub(crate) mod https;
pub(crate) mod limits;
pub(crate) mod open_conns;
