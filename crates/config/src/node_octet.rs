//! `{octet}` in `[wireguard].address`: one config for many nodes.
//!
//! A DaemonSet, or several homelab nodes sharing one config file, need a
//! distinct tunnel address per node, just as each gets its own UDP port
//! (41600 + the last octet of its IPv4 address). Writing
//! `address = "100.64.0.{octet}/16"` gives the node 10.0.0.21 the tunnel
//! address 100.64.0.21/16: the same octet that picks its port picks its
//! address. An address without `{octet}` means what it always meant.

use std::net::Ipv4Addr;

/// The placeholder, replaced by the last octet of the node's IPv4 address.
pub(crate) const PLACEHOLDER: &str = "{octet}";

/// What the address may draw on: a server knows (or lacks) its node
/// address; a client config has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeAddress {
    Server(Option<Ipv4Addr>),
    Client,
}

/// `address` with `{octet}` replaced; unchanged when it has none.
pub(crate) fn expand(address: &str, node: NodeAddress) -> Result<String, String> {
    let count = address.matches(PLACEHOLDER).count();
    if count == 0 {
        return Ok(address.to_string());
    }
    if count > 1 {
        return Err(format!(
            "`{address}` has {PLACEHOLDER} {count} times; it may stand for one part of the address"
        ));
    }
    let ip = match node {
        NodeAddress::Client => {
            return Err(format!(
                "{PLACEHOLDER} takes the last octet of a node's IPv4 address; a client config has no node address"
            ))
        }
        NodeAddress::Server(None) => {
            return Err(format!(
                "`{address}` takes its {PLACEHOLDER} from the node's IPv4 address: set [node].ip or WINGRESS_NODE_IP \
                 (to check a DaemonSet config: WINGRESS_NODE_IP=10.0.0.1 wingress check --config FILE)"
            ))
        }
        NodeAddress::Server(Some(ip)) => ip,
    };
    let (addr, prefix) = address.split_once('/').unwrap_or((address, ""));
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 || !parts.contains(&PLACEHOLDER) {
        return Err(format!(
            "{PLACEHOLDER} must be one whole part of a dotted IPv4 address, as in \"100.64.0.{PLACEHOLDER}/16\""
        ));
    }
    let octet = ip.octets()[3].to_string();
    let addr = addr.replace(PLACEHOLDER, &octet);
    Ok(if prefix.is_empty() && !address.contains('/') {
        addr
    } else {
        format!("{addr}/{prefix}")
    })
}

#[cfg(test)]
#[path = "node_octet_tests.rs"]
mod tests;
