//! Changing the `[[peer]]`s of a server config file without disturbing the
//! rest of it (`wingress peer add` / `remove`): comments, blank lines, key
//! order and quoting survive, because the file is edited as a `toml_edit`
//! document rather than re-serialized from the model. Every result is
//! validated with [`parse_server`] before it is returned, so a caller never
//! writes a file the daemon would refuse.
//!
//! Also here: choosing the next free tunnel address for a new peer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};
use wingress_wg::PublicKey;

use crate::env::Env;
use crate::error::ConfigErrors;
use crate::node_octet::{self, NodeAddress};
use crate::server::{parse_server, ServerConfig};
use crate::types::Cidr;

/// A peer to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPeer {
    pub name: String,
    pub public_key: PublicKey,
    pub allowed_ips: Vec<Cidr>,
    pub tags: Vec<String>,
}

/// Why a config could not be edited. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("the config is not valid as it is; fix it first:\n{0}")]
    CurrentInvalid(ConfigErrors),
    #[error("a peer named `{name}` already exists (line {line}); pick another name, or remove it first with `wingress peer remove {name}`")]
    Duplicate { name: String, line: usize },
    #[error("no peer named `{0}` in the config")]
    NotFound(String),
    #[error("the peers are written as an inline array (`peer = [...]`); only [[peer]] tables can be edited")]
    InlinePeers,
    #[error("the change would make the config invalid:\n{0}")]
    ResultInvalid(ConfigErrors),
}

/// The tunnel has no address left for another peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no free address in the tunnel subnet {subnet}: all {hosts} host addresses are taken by this node and its peers' allowed_ips; widen [wireguard].address (e.g. a /{wider}) or remove a peer")]
pub struct SubnetFull {
    pub subnet: Cidr,
    pub hosts: u128,
    wider: u8,
}

/// Appends `peer` as a `[[peer]]` table after the last existing one (or at
/// the end of the file). Refuses a name already in use. Returns the new
/// text, already validated.
pub fn add_peer(path: &Path, text: &str, env: &Env, peer: &NewPeer) -> Result<String, EditError> {
    parse_server(path, text, env).map_err(EditError::CurrentInvalid)?;
    check_new_name(text, &peer.name)?;
    let mut doc = document(text)?;
    let mut table = Table::new();
    table.decor_mut().set_prefix("\n");
    table["name"] = value(peer.name.as_str());
    table["public_key"] = value(peer.public_key.to_base64());
    table["allowed_ips"] = value(strings(peer.allowed_ips.iter().map(|c| c.to_string())));
    if !peer.tags.is_empty() {
        table["tags"] = value(strings(peer.tags.iter().cloned()));
    }
    match doc.get_mut("peer") {
        None => {
            let mut peers = ArrayOfTables::new();
            peers.push(table);
            doc.insert("peer", Item::ArrayOfTables(peers));
        }
        Some(Item::ArrayOfTables(peers)) => peers.push(table),
        Some(_) => return Err(EditError::InlinePeers),
    }
    validated(path, doc.to_string(), env)
}

/// Refuses `name` when a `[[peer]]` of `text` already has it, naming the
/// line: for callers that check before doing expensive work.
pub fn check_new_name(text: &str, name: &str) -> Result<(), EditError> {
    match peer_line(text, name) {
        Some(line) => Err(EditError::Duplicate {
            name: name.to_string(),
            line,
        }),
        None => Ok(()),
    }
}

/// Removes the `[[peer]]` named `name`, with the comments above its header
/// and inside it. Returns the new text, already validated (a route that
/// still allows `peer:NAME` makes it fail, naming the route).
pub fn remove_peer(path: &Path, text: &str, env: &Env, name: &str) -> Result<String, EditError> {
    parse_server(path, text, env).map_err(EditError::CurrentInvalid)?;
    let mut doc = document(text)?;
    let now_empty = match doc.get_mut("peer") {
        None => return Err(EditError::NotFound(name.to_string())),
        Some(Item::ArrayOfTables(peers)) => {
            let index = peers
                .iter()
                .position(|t| t.get("name").and_then(Item::as_str) == Some(name))
                .ok_or_else(|| EditError::NotFound(name.to_string()))?;
            peers.remove(index);
            peers.is_empty()
        }
        Some(_) => return Err(EditError::InlinePeers),
    };
    if now_empty {
        doc.remove("peer");
    }
    validated(path, doc.to_string(), env)
}

fn document(text: &str) -> Result<DocumentMut, EditError> {
    // The text parsed as a server config a moment ago, so it is valid TOML;
    // a failure here would be a toml_edit disagreement, still reported.
    text.parse::<DocumentMut>().map_err(|e| {
        EditError::CurrentInvalid(ConfigErrors(vec![crate::ConfigError {
            path: Default::default(),
            line: 0,
            col: 0,
            message: format!("invalid TOML: {}", e.message()),
        }]))
    })
}

fn validated(path: &Path, text: String, env: &Env) -> Result<String, EditError> {
    parse_server(path, &text, env).map_err(EditError::ResultInvalid)?;
    Ok(text)
}

fn strings(items: impl Iterator<Item = String>) -> Array {
    items.collect()
}

/// The line of the `name = …` of the `[[peer]]` called `name`.
fn peer_line(text: &str, name: &str) -> Option<usize> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let peers = doc.get("peer")?.as_array_of_tables()?;
    let item = peers
        .iter()
        .filter_map(|t| t.get("name"))
        .find(|n| n.as_str() == Some(name))?;
    let start = item.span()?.start;
    Some(text[..start].matches('\n').count() + 1)
}

// === address allocation ===

/// The lowest address of the tunnel subnet (`[wireguard].address`) that is
/// neither this node's own address nor inside any peer's `allowed_ips`, as
/// a single-host CIDR (/32 or /128). The network address (and, for IPv4
/// prefixes up to /30, the broadcast address) is never handed out.
///
/// `text` is the config's text: when the address is a per-node template
/// (`100.64.0.{octet}/16`, one config for several nodes), every address it
/// gives any node is kept free too, not only this node's.
pub fn next_free_address(config: &ServerConfig, text: &str) -> Result<Cidr, SubnetFull> {
    let own = config.wireguard.address;
    let mut taken: Vec<(u128, u128)> = config
        .peers
        .iter()
        .flat_map(|p| &p.allowed_ips)
        .filter(|c| c.addr.is_ipv4() == own.addr.is_ipv4())
        .map(range_of)
        .collect();
    taken.extend(node_addresses(text).iter().map(range_of));
    let (first, last) = hosts_of(&own);
    let own_bits = bits(own.addr);
    let mut candidate = first;
    while candidate <= last {
        if candidate == own_bits {
            candidate += 1;
            continue;
        }
        match taken
            .iter()
            .find(|(lo, hi)| (*lo..=*hi).contains(&candidate))
        {
            // Skip the whole range at once: a peer may route a /16.
            Some((_, hi)) => match hi.checked_add(1) {
                Some(next) => candidate = next,
                None => break,
            },
            None => {
                return Ok(Cidr {
                    addr: from_bits(candidate, own.addr.is_ipv4()),
                    prefix_len: if own.addr.is_ipv4() { 32 } else { 128 },
                })
            }
        }
    }
    Err(SubnetFull {
        subnet: own.network(),
        hosts: last.saturating_sub(first).saturating_add(1),
        wider: own.prefix_len.saturating_sub(1).max(1),
    })
}

/// Every address an `{octet}` template in `[wireguard].address` gives a
/// node (256 of them); none for a plain address.
fn node_addresses(text: &str) -> Vec<Cidr> {
    let template = text
        .parse::<DocumentMut>()
        .ok()
        .and_then(|doc| Some(doc.get("wireguard")?.get("address")?.as_str()?.to_string()));
    let Some(template) = template.filter(|t| t.contains(node_octet::PLACEHOLDER)) else {
        return Vec::new();
    };
    (0..=255u8)
        .filter_map(|n| {
            let node = NodeAddress::Server(Some(Ipv4Addr::new(0, 0, 0, n)));
            let cidr: Cidr = node_octet::expand(&template, node).ok()?.parse().ok()?;
            Some(Cidr {
                addr: cidr.addr,
                prefix_len: 32,
            })
        })
        .collect()
}

/// The first and last host address of `cidr`'s network, as integers.
fn hosts_of(cidr: &Cidr) -> (u128, u128) {
    let (lo, hi) = range_of(&cidr.network());
    match (cidr.addr.is_ipv4(), cidr.prefix_len) {
        // A /31 has no network or broadcast address (RFC 3021); a /32 or
        // /128 has only the node itself.
        (true, 31..=32) | (false, 128) => (lo, hi),
        (true, _) => (lo + 1, hi - 1),
        // IPv6 has no broadcast; the all-zero address is the subnet-router
        // anycast address.
        (false, _) => (lo + 1, hi),
    }
}

/// The first and last address of a network, as integers.
fn range_of(cidr: &Cidr) -> (u128, u128) {
    let width = if cidr.addr.is_ipv4() { 32 } else { 128 };
    let host_bits = u32::from(width - cidr.prefix_len.min(width));
    let size_minus_one = u128::MAX.checked_shr(128 - host_bits).unwrap_or(0);
    let lo = bits(cidr.network().addr);
    (lo, lo + size_minus_one)
}

fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_bits(n: u128, v4: bool) -> IpAddr {
    if v4 {
        // In range: `n` lies inside an IPv4 subnet.
        IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)))
    } else {
        IpAddr::V6(Ipv6Addr::from(n))
    }
}

#[cfg(test)]
#[path = "peer_edit_tests.rs"]
mod tests;
