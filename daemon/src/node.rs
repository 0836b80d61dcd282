//! The node's identity on the network: its IPv4 address and the WireGuard
//! port derived from it (41600 + last octet).

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use anyhow::{anyhow, Result};
use wingress_config::{parse_node_ip, port_for_node_ip};

/// The address the host would use to reach the outside, found by asking the
/// routing table with an unconnected-then-connected UDP socket. Nothing is
/// sent: `connect` on UDP only selects a route and a source address.
pub fn host_ipv4() -> Option<Ipv4Addr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    // TEST-NET-3: never routed anywhere real, and nothing is sent to it.
    s.connect("203.0.113.1:9").ok()?;
    match s.local_addr().ok()? {
        SocketAddr::V4(a) if !a.ip().is_unspecified() && !a.ip().is_loopback() => Some(*a.ip()),
        _ => None,
    }
}

/// The WireGuard port: an explicit node address (flag) wins, then the
/// config's, then WINGRESS_NODE_IP; IPv6 and garbage are clear errors.
pub fn port_from(flag: Option<&str>, config: Option<Ipv4Addr>, env: Option<&str>) -> Result<u16> {
    if let Some(f) = flag {
        return Ok(port_for_node_ip(
            parse_node_ip(f).map_err(|e| anyhow!("--node-ip: {e}"))?,
        ));
    }
    if let Some(ip) = config {
        return Ok(port_for_node_ip(ip));
    }
    if let Some(e) = env {
        return Ok(port_for_node_ip(
            parse_node_ip(e).map_err(|e| anyhow!("WINGRESS_NODE_IP: {e}"))?,
        ));
    }
    Err(anyhow!(
        "no node address: pass --node-ip A.B.C.D, set [node].ip in the config, or set WINGRESS_NODE_IP \
         (on Kubernetes, from the downward API: status.hostIP)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_then_config_then_env() {
        let cfg = Some(Ipv4Addr::new(10, 0, 0, 7));
        assert_eq!(
            port_from(Some("192.168.1.20"), cfg, Some("10.0.0.9")).unwrap(),
            41620
        );
        assert_eq!(port_from(None, cfg, Some("10.0.0.9")).unwrap(), 41607);
        assert_eq!(port_from(None, None, Some("10.0.0.9")).unwrap(), 41609);
        let e = port_from(None, None, None).unwrap_err().to_string();
        assert!(e.contains("WINGRESS_NODE_IP"), "{e}");
        let e = port_from(Some("fd00::1"), None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("IPv6"), "{e}");
        assert!(port_from(None, None, Some("banana")).is_err());
    }
}
