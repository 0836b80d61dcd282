//! WireGuard device for wingress: keys, the peer table with cryptokey
//! routing, and per-peer sessions (boringtun), behind a sans-IO API so the
//! implementation underneath can change without touching callers.
#![forbid(unsafe_code)]

pub mod allowed_ips;
pub mod cookie;
pub mod device;
pub mod gate;
pub mod keys;
pub mod stats;

pub use allowed_ips::{AllowedIps, Prefix};
pub use device::{
    Device, Incoming, Outgoing, PeerId, PeerSpec, Transmit, MIN_OUT, OVERHEAD, TIMER_TICK,
};
pub use gate::{HandshakeLimits, Rate};
pub use keys::{KeyError, PresharedKey, PrivateKey, PublicKey};
pub use stats::{DropReason, DropStats, PeerStats, PeerStatus};
