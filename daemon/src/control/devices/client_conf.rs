//! The wg-quick config handed to a new client. It is also the QR payload
//! the WireGuard phone apps scan, so it carries only keys they know: no
//! comments, nothing wingress-specific.

use std::fmt;
use std::net::IpAddr;

use wingress_config::{Cidr, Endpoint};
use wingress_wg::{PrivateKey, PublicKey};

/// Seconds between keepalives: keeps the client's NAT mapping open so the
/// daemon can reach it, as wg-quick configs for roaming clients usually do.
pub(crate) const KEEPALIVE: u16 = 25;

/// One client's `[Interface]` and its single `[Peer]` (this node).
pub(crate) struct ClientConf<'a> {
    pub(crate) private_key: &'a PrivateKey,
    /// The client's own address, a /32 or /128.
    pub(crate) address: Cidr,
    /// The daemon's tunnel address, when it serves DNS.
    pub(crate) dns: Option<IpAddr>,
    pub(crate) server_key: PublicKey,
    pub(crate) endpoint: &'a Endpoint,
    /// The tunnel subnet: only tunnel traffic goes through the tunnel.
    pub(crate) allowed_ips: Cidr,
}

impl fmt::Display for ClientConf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "[Interface]")?;
        writeln!(f, "PrivateKey = {}", self.private_key.to_base64())?;
        writeln!(f, "Address = {}", self.address)?;
        if let Some(dns) = self.dns {
            writeln!(f, "DNS = {dns}")?;
        }
        writeln!(f)?;
        writeln!(f, "[Peer]")?;
        writeln!(f, "PublicKey = {}", self.server_key.to_base64())?;
        writeln!(f, "Endpoint = {}", self.endpoint)?;
        writeln!(f, "AllowedIPs = {}", self.allowed_ips)?;
        writeln!(f, "PersistentKeepalive = {KEEPALIVE}")
    }
}

#[cfg(test)]
#[path = "client_conf_tests.rs"]
mod tests;
