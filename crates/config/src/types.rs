//! Newtypes for config values: CIDRs, endpoints, backends, the node address
//! and the port formula.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// The tunnel MTU when `[wireguard].mtu` is not set: 1500 minus the 80 bytes
/// of WireGuard-over-IPv6 overhead, as wg-quick uses.
pub const DEFAULT_MTU: u16 = 1420;

/// The UDP port of a node is `BASE_PORT` + the last octet of its IPv4
/// address, so every node of a /24 gets a distinct, predictable port.
pub const BASE_PORT: u16 = 41600;

/// The WireGuard UDP port of a node: 41600 + the last octet of its address.
pub fn port_for_node_ip(ip: Ipv4Addr) -> u16 {
    BASE_PORT + u16::from(ip.octets()[3])
}

/// Parses the node's address (config `[node].ip` or `WINGRESS_NODE_IP`).
///
/// Only IPv4 is accepted, because the port formula uses the last octet; an
/// IPv4-mapped IPv6 address (`::ffff:10.0.0.2`) is read as its IPv4 address.
pub fn parse_node_ip(s: &str) -> Result<Ipv4Addr, String> {
    let trimmed = s.trim();
    match trimmed.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) if ip.is_unspecified() => Err(format!(
            "node ip `{trimmed}` is the unspecified address; give the node's own IPv4 address"
        )),
        Ok(IpAddr::V4(ip)) => Ok(ip),
        Ok(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) if !v4.is_unspecified() => Ok(v4),
            _ => Err(format!(
                "node ip `{trimmed}` is IPv6; the port formula needs the node's IPv4 address"
            )),
        },
        Err(_) => Err(format!(
            "node ip `{trimmed}` is not an IPv4 address (expected e.g. \"10.99.0.2\")"
        )),
    }
}

/// A CIDR could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("`{0}` is not an IP address")]
    Address(String),
    #[error("prefix length `{0}` is not a number")]
    Prefix(String),
    #[error("prefix length {len} is too long for {family} (at most {max})")]
    PrefixTooLong {
        len: u8,
        max: u8,
        family: &'static str,
    },
}

/// An address with a prefix length: `100.64.0.1/32`, `100.64.0.2/24`,
/// `fd00::/64`.
///
/// The address keeps its host bits (`100.64.0.2/24` is an interface address
/// inside a /24); [`Cidr::network`] gives the network itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix_len: u8,
}

// === impl Cidr ===

impl Cidr {
    /// The longest prefix for the address family: 32 or 128.
    fn max_len(addr: IpAddr) -> u8 {
        match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    /// The network: the address with its host bits zeroed.
    pub fn network(&self) -> Cidr {
        Cidr {
            addr: mask(self.addr, self.prefix_len),
            prefix_len: self.prefix_len,
        }
    }

    /// Whether `ip` lies inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        same_family(self.addr, ip) && mask(ip, self.prefix_len) == mask(self.addr, self.prefix_len)
    }

    /// Whether the two networks share any address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        let len = self.prefix_len.min(other.prefix_len);
        same_family(self.addr, other.addr) && mask(self.addr, len) == mask(other.addr, len)
    }
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

/// `addr` with all but the first `len` bits zeroed.
fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// `addr/len`, or a bare address meaning a single host (/32 or /128).
    fn from_str(s: &str) -> Result<Self, CidrError> {
        let s = s.trim();
        let (addr_part, len_part) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr_part
            .parse()
            .map_err(|_| CidrError::Address(addr_part.to_string()))?;
        let max = Self::max_len(addr);
        let prefix_len = match len_part {
            None => max,
            Some(l) => {
                // `u8::from_str` accepts a leading '+'; a prefix length is
                // plain digits.
                if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(CidrError::Prefix(l.to_string()));
                }
                let len: u8 = l.parse().map_err(|_| CidrError::Prefix(l.to_string()))?;
                if len > max {
                    let family = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
                    return Err(CidrError::PrefixTooLong { len, max, family });
                }
                len
            }
        };
        Ok(Cidr { addr, prefix_len })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// A `host:port` could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostPortError {
    #[error("`{0}` has no port (expected host:port, e.g. \"127.0.0.1:8080\")")]
    MissingPort(String),
    #[error("`{0}` is not a port number (1-65535)")]
    Port(String),
    #[error("`{0}` looks like an IPv6 address without brackets (write [address]:port)")]
    UnbracketedIpv6(String),
    #[error("`{0}` is not an IP address or hostname")]
    Host(String),
}

/// Splits `host:port`, `[v6]:port`; the host comes back without brackets.
fn split_host_port(s: &str) -> Result<(String, u16), HostPortError> {
    let s = s.trim();
    if let Ok(addr) = s.parse::<SocketAddr>() {
        if addr.port() == 0 {
            return Err(HostPortError::Port("0".to_string()));
        }
        return Ok((addr.ip().to_string(), addr.port()));
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| HostPortError::Host(s.to_string()))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| HostPortError::MissingPort(s.to_string()))?;
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(HostPortError::Host(host.to_string()));
        }
        (host, port)
    } else {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| HostPortError::MissingPort(s.to_string()))?;
        if host.contains(':') {
            return Err(
                if s.parse::<Ipv6Addr>().is_ok() || host.parse::<Ipv6Addr>().is_ok() {
                    HostPortError::UnbracketedIpv6(s.to_string())
                } else {
                    HostPortError::Host(host.to_string())
                },
            );
        }
        if host.parse::<Ipv4Addr>().is_err() && !is_hostname(host) {
            return Err(HostPortError::Host(host.to_string()));
        }
        (host, port)
    };
    let port = match port.parse::<u16>() {
        Ok(p) if p != 0 && port.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => return Err(HostPortError::Port(port.to_string())),
    };
    Ok((host.to_string(), port))
}

/// A DNS name: dot-separated labels of letters, digits, `-` and `_`, not
/// starting or ending with `-`, an optional trailing dot, and a last label
/// that is not all digits (so a mistyped IPv4 address such as `10.0.0.256`
/// is not taken for a name).
pub(crate) fn is_hostname(host: &str) -> bool {
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let last_is_numeric = name
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    labels_ok && !last_is_numeric
}

/// Where to reach a WireGuard peer: an address, or a name resolved by the
/// daemon (and re-resolved when it stops answering).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Addr(SocketAddr),
    Host { host: String, port: u16 },
}

// === impl Endpoint ===

impl FromStr for Endpoint {
    type Err = HostPortError;

    fn from_str(s: &str) -> Result<Self, HostPortError> {
        let (host, port) = split_host_port(s)?;
        Ok(match host.parse::<IpAddr>() {
            Ok(ip) => Endpoint::Addr(SocketAddr::new(ip, port)),
            Err(_) => Endpoint::Host { host, port },
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Addr(addr) => write!(f, "{addr}"),
            Endpoint::Host { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// A service's backend: `127.0.0.1:5201`, `[::1]:80`,
/// `svc.ns.svc.cluster.local:80`. `host` holds no brackets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Backend {
    pub host: String,
    pub port: u16,
}

// === impl Backend ===

impl FromStr for Backend {
    type Err = HostPortError;

    fn from_str(s: &str) -> Result<Self, HostPortError> {
        let (host, port) = split_host_port(s)?;
        Ok(Backend { host, port })
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
#[path = "types_tests.rs"]
mod tests;
