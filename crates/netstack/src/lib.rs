//! Userspace TCP/IP for wingress: smoltcp on the IP packets that WireGuard
//! decrypts. Knows nothing about WireGuard; sans-IO (the caller passes `now`
//! and moves packets in and out).
#![forbid(unsafe_code)]

mod conn;
mod device;
pub mod limits;
mod packet;
mod stack;
mod stats;

pub use device::BufferPool;
pub use limits::{LimitHit, PeerKey, PeerUsage, TcpLimits, SMALL_RING};
pub use smoltcp::socket::tcp::{RecvError, SendError, Socket as TcpSocket, State as TcpState};
pub use stack::{
    Accepted, ConnectError, Ingress, Stack, StackConfig, TcpId, UdpDatagram, EGRESS_BUDGET,
};
pub use stats::{NetDrop, NetStats};

#[cfg(test)]
mod egress_tests;
#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod tests;
