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
mod tests {
    use super::*;

    #[test]
    fn renders_what_wg_quick_reads() {
        let key: PrivateKey = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
            .parse()
            .unwrap();
        let endpoint: Endpoint = "203.0.113.7:41602".parse().unwrap();
        let conf = ClientConf {
            private_key: &key,
            address: "100.64.0.3/32".parse().unwrap(),
            dns: Some("100.64.0.1".parse().unwrap()),
            server_key: "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
                .parse()
                .unwrap(),
            endpoint: &endpoint,
            allowed_ips: "100.64.0.0/24".parse().unwrap(),
        };
        assert_eq!(
            conf.to_string(),
            "[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\nAddress = 100.64.0.3/32\n\
             DNS = 100.64.0.1\n\n[Peer]\nPublicKey = hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n\
             Endpoint = 203.0.113.7:41602\nAllowedIPs = 100.64.0.0/24\nPersistentKeepalive = 25\n"
        );
        let v6: Endpoint = "[2001:db8::7]:41602".parse().unwrap();
        let conf = ClientConf {
            dns: None,
            endpoint: &v6,
            ..conf
        };
        let text = conf.to_string();
        assert!(text.contains("Endpoint = [2001:db8::7]:41602\n"), "{text}");
        assert!(!text.contains("DNS"), "{text}");
    }
}
