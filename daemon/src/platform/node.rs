//! The node's identity on the network: its IPv4 address (config,
//! environment, or detected) and the WireGuard port derived from it
//! (41600 + last octet).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use anyhow::{anyhow, Result};
use wingress_config::{
    node_ip_from_env, parse_node_ip, port_for_node_ip, Env, NodeIpSource, ServerConfig,
};

/// Where the node's address came from, for `wingress port` and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AddrSource {
    Flag,
    Config(NodeIpSource),
    /// Found on the host; says how.
    Detected(String),
}

impl fmt::Display for AddrSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrSource::Flag => f.write_str("--node-ip"),
            AddrSource::Config(s) => write!(f, "{s}"),
            AddrSource::Detected(how) => write!(f, "detected: {how}"),
        }
    }
}

/// The node's address and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeAddr {
    pub(crate) ip: Ipv4Addr,
    pub(crate) source: AddrSource,
}

/// The node address of a server config: `[node].ip` or the environment
/// (already folded in by the config parser), else the host's.
pub(crate) fn node_addr(cfg: &ServerConfig) -> Option<NodeAddr> {
    match (cfg.node.ip, cfg.node.ip_source) {
        (Some(ip), Some(source)) => Some(NodeAddr {
            ip,
            source: AddrSource::Config(source),
        }),
        (Some(ip), None) => Some(NodeAddr {
            ip,
            source: AddrSource::Config(NodeIpSource::Config),
        }),
        (None, _) => detect(),
    }
}

/// `--node-ip`, else [`node_addr`] of the config (which includes the
/// environment), else the environment, else detection.
pub(crate) fn node_addr_for_port(
    flag: Option<&str>,
    cfg: Option<&ServerConfig>,
    env: &Env,
) -> Result<NodeAddr> {
    if let Some(f) = flag {
        let ip = parse_node_ip(f).map_err(|e| anyhow!("--node-ip: {e}"))?;
        return Ok(NodeAddr {
            ip,
            source: AddrSource::Flag,
        });
    }
    let found = match cfg {
        Some(c) => node_addr(c),
        None => match node_ip_from_env(env).map_err(|e| anyhow!(e))? {
            Some((ip, name)) => Some(NodeAddr {
                ip,
                source: AddrSource::Config(NodeIpSource::Env(name)),
            }),
            None => detect(),
        },
    };
    found.ok_or_else(|| {
        anyhow!(
            "no node address: pass --node-ip A.B.C.D, set [node].ip in the config, or set \
             WINGRESS_NODE_IP (or K8S_NODE_IP / HOST_IP; on Kubernetes, from the downward API: \
             status.hostIP); this host has no IPv4 address to detect"
        )
    })
}

/// The WireGuard port of an address.
pub(crate) fn port_of(addr: &NodeAddr) -> u16 {
    port_for_node_ip(addr.ip)
}

/// The host's address: the source address of the default route when it is
/// private (the common case: a LAN behind a router), else the first private
/// address of an interface that is up, else the default route's (a host
/// with a public address).
pub(crate) fn detect() -> Option<NodeAddr> {
    let route = route_source();
    if let Some(ip) = route.filter(|ip| is_private(*ip)) {
        return Some(NodeAddr {
            ip,
            source: AddrSource::Detected("the default route's source address".into()),
        });
    }
    if let Some((ip, iface)) = first_private_address() {
        return Some(NodeAddr {
            ip,
            source: AddrSource::Detected(format!("the first private address, on {iface}")),
        });
    }
    route.map(|ip| NodeAddr {
        ip,
        source: AddrSource::Detected("the default route's source address".into()),
    })
}

/// RFC 1918 and the shared address space (RFC 6598, carrier-grade NAT).
fn is_private(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_private() || (o[0] == 100 && (o[1] & 0xC0) == 64)
}

/// The address the host would use to reach the outside, found by asking the
/// routing table with a connected UDP socket. Nothing is sent: `connect` on
/// UDP only selects a route and a source address.
fn route_source() -> Option<Ipv4Addr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    // TEST-NET-3: never routed anywhere real, and nothing is sent to it.
    s.connect("203.0.113.1:9").ok()?;
    match s.local_addr().ok()? {
        SocketAddr::V4(a) if !a.ip().is_unspecified() && !a.ip().is_loopback() => Some(*a.ip()),
        _ => None,
    }
}

fn first_private_address() -> Option<(Ipv4Addr, String)> {
    use nix::net::if_::InterfaceFlags;
    let addrs = nix::ifaddrs::getifaddrs().ok()?;
    for a in addrs {
        if !a.flags.contains(InterfaceFlags::IFF_UP)
            || a.flags.contains(InterfaceFlags::IFF_LOOPBACK)
        {
            continue;
        }
        let Some(sin) = a.address.as_ref().and_then(|s| s.as_sockaddr_in()) else {
            continue;
        };
        let ip = sin.ip();
        if is_private(ip) {
            return Some((ip, a.interface_name));
        }
    }
    None
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
