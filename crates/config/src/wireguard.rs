//! `[wireguard]` (this end of the tunnel) and `[[peer]]` (the other ends),
//! shared by server and client configs.

use std::path::{Path, PathBuf};

use wingress_wg::PublicKey;

use crate::cursor::Table;
use crate::error::{Diagnostics, Span, Spanned};
use crate::node_octet::{self, NodeAddress};
use crate::types::{Cidr, Endpoint, DEFAULT_MTU};

/// `[wireguard]`: this end of the tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceConfig {
    /// Resolved against the config's folder; `None` means the daemon uses
    /// (and on first start creates) `state_dir/private.key`.
    pub private_key_file: Option<PathBuf>,
    /// This end's own address inside the tunnel, with the tunnel's prefix.
    pub address: Cidr,
    /// Overrides the port formula (server) or the random port (client).
    pub listen_port: Option<u16>,
    /// Tunnel MTU; [`DEFAULT_MTU`] unless set; 1280..=9000.
    pub mtu: u16,
}

/// One `[[peer]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// Unique; `[A-Za-z0-9._-]{1,64}`. Client configs default it to
    /// `peer1`, `peer2`, … by position.
    pub name: String,
    pub public_key: PublicKey,
    pub preshared_key_file: Option<PathBuf>,
    pub allowed_ips: Vec<Cidr>,
    pub endpoint: Option<Endpoint>,
    /// Seconds; `persistent_keepalive = 0` means off and reads as `None`.
    pub persistent_keepalive: Option<u16>,
    /// `[a-z0-9-]{1,63}`, for access rules and identity headers.
    pub tags: Vec<String>,
}

/// What the two config kinds require of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerKind {
    /// Server peers are clients that connect in: a name is required (it is
    /// their identity), an endpoint is optional.
    Server,
    /// Client peers are servers to dial: the endpoint is required, the name
    /// defaults by position.
    Client,
}

/// One `allowed_ips` entry, kept with its owner and location for the checks
/// that span sections (own address, forward targets).
pub(crate) struct AllowedEntry {
    pub(crate) cidr: Cidr,
    /// How messages name the owning peer: "peer `laptop`".
    pub(crate) peer: String,
    pub(crate) span: Span,
}

/// Every `[[peer]]` of a config.
pub(crate) struct Peers {
    /// The peers whose required keys all parsed.
    pub(crate) configs: Vec<PeerConfig>,
    /// Every `allowed_ips` entry that parsed, including those of peers with
    /// other mistakes, so that checks against them still run.
    pub(crate) allowed: Vec<AllowedEntry>,
    /// Every peer name that parsed, including those of peers with other
    /// mistakes, so that references to them (route `allow`) still resolve.
    pub(crate) names: Vec<String>,
}

// === [wireguard] ===

pub(crate) fn parse_interface(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    base: &Path,
    node: NodeAddress,
) -> Option<InterfaceConfig> {
    let mut wg = root.required_table(d, "wireguard")?;
    let private_key_file = wg.optional_path(d, "private_key_file", base);
    let address = wg.required_with(d, "address", |s: &str| {
        parse_interface_address(&node_octet::expand(s, node)?)
    });
    let listen_port = wg.optional_u16(d, "listen_port", 1..=u16::MAX);
    let mtu = wg.optional_u16(d, "mtu", 1280..=9000);
    wg.finish(d);
    Some(InterfaceConfig {
        private_key_file: private_key_file.map(|s| s.value),
        address: address?.value,
        listen_port: listen_port.map(|s| s.value),
        mtu: mtu.map_or(DEFAULT_MTU, |s| s.value),
    })
}

fn parse_interface_address(s: &str) -> Result<Cidr, String> {
    let cidr: Cidr = s.parse().map_err(|e| format!("{e}"))?;
    if cidr.addr.is_unspecified() || cidr.addr.is_multicast() {
        return Err(format!("{} is not a usable interface address", cidr.addr));
    }
    // `100.64.0.0/24` names the network, not a host in it: almost always a
    // slip for `100.64.0.1/24`.
    if cidr.addr.is_ipv4() && cidr.prefix_len <= 30 && cidr.network() == cidr {
        return Err(format!(
            "{cidr} is the network address; give this node's own address inside it"
        ));
    }
    Ok(cidr)
}

// === [[peer]] ===

pub(crate) fn parse_peers(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    base: &Path,
    kind: PeerKind,
) -> Peers {
    let mut seen = SeenPeers::default();
    let mut configs = Vec::new();
    for (index, mut table) in root.array_of_tables(d, "peer").into_iter().enumerate() {
        let config = parse_peer(&mut table, d, base, kind, index, &mut seen);
        table.finish(d);
        configs.extend(config);
    }
    Peers {
        configs,
        allowed: seen.allowed,
        names: seen.names.into_iter().map(|(name, _)| name).collect(),
    }
}

/// What earlier peers used, to catch clashes as each peer is read.
#[derive(Default)]
struct SeenPeers {
    names: Vec<(String, Span)>,
    keys: Vec<(PublicKey, String)>,
    allowed: Vec<AllowedEntry>,
}

fn parse_peer(
    t: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    base: &Path,
    kind: PeerKind,
    index: usize,
    seen: &mut SeenPeers,
) -> Option<PeerConfig> {
    let name = match kind {
        PeerKind::Server => t.required_with(d, "name", parse_peer_name),
        PeerKind::Client if !t.contains("name") => {
            // Still marks `name` as a known key for `finish`.
            t.optional_str(d, "name");
            Some(Spanned::new(format!("peer{}", index + 1), t.span().clone()))
        }
        PeerKind::Client => t.optional_with(d, "name", parse_peer_name),
    };
    let label = match &name {
        Some(n) => format!("peer `{}`", n.value),
        None => format!("the [[peer]] on line {}", d.line_of(t.span())),
    };
    if let Some(n) = &name {
        match seen.names.iter().find(|(other, _)| *other == n.value) {
            Some((_, first)) => {
                let line = d.line_of(first);
                d.error(
                    &n.span,
                    format!(
                        "name: peer name `{}` is already used on line {line}",
                        n.value
                    ),
                );
            }
            None => seen.names.push((n.value.clone(), n.span.clone())),
        }
    }

    let public_key = t.required_parsed::<PublicKey>(d, "public_key");
    if let Some(key) = &public_key {
        match seen.keys.iter().find(|(other, _)| *other == key.value) {
            Some((_, owner)) => d.error(
                &key.span,
                format!("public_key: {label} has the same public key as {owner}"),
            ),
            None => seen.keys.push((key.value, label.clone())),
        }
    }

    let preshared_key_file = t.optional_path(d, "preshared_key_file", base);

    let allowed_ips = t.required_str_array(d, "allowed_ips").map(|entries| {
        let mut cidrs = Vec::with_capacity(entries.len());
        for entry in entries {
            match entry.value.parse::<Cidr>() {
                Ok(cidr) => {
                    check_overlap(d, &seen.allowed, cidr, &label, &entry.span);
                    cidrs.push(cidr);
                    seen.allowed.push(AllowedEntry {
                        cidr,
                        peer: label.clone(),
                        span: entry.span,
                    });
                }
                Err(e) => d.error(&entry.span, format!("allowed_ips: {e}")),
            }
        }
        cidrs
    });

    let endpoint = match kind {
        PeerKind::Server => t
            .optional_parsed::<Endpoint>(d, "endpoint")
            .map(|e| e.value),
        PeerKind::Client => {
            let endpoint = t.required_parsed::<Endpoint>(d, "endpoint");
            Some(endpoint?.value)
        }
    };

    let persistent_keepalive = t
        .optional_u16(d, "persistent_keepalive", 0..=u16::MAX)
        .map(|s| s.value)
        .filter(|secs| *secs != 0);

    let mut tags = Vec::new();
    for tag in t.optional_str_array(d, "tags").unwrap_or_default() {
        if is_tag(tag.value) {
            tags.push(tag.value.to_string());
        } else {
            d.error(
                &tag.span,
                format!(
                    "tags: `{}` is not a valid tag (1 to 63 of a-z, 0-9 and `-`)",
                    tag.value
                ),
            );
        }
    }

    Some(PeerConfig {
        name: name?.value,
        public_key: public_key?.value,
        preshared_key_file: preshared_key_file.map(|s| s.value),
        allowed_ips: allowed_ips?,
        endpoint,
        persistent_keepalive,
        tags,
    })
}

/// Overlapping allowed IPs across peers would make the answer to "which
/// peer sent this / gets this packet" depend on prefix lengths, which
/// silently reroutes traffic; wingress asks for disjoint ranges instead.
fn check_overlap(
    d: &mut Diagnostics<'_>,
    earlier: &[AllowedEntry],
    cidr: Cidr,
    label: &str,
    span: &Span,
) {
    for other in earlier.iter().filter(|e| e.peer != label) {
        if cidr.overlaps(&other.cidr) {
            d.error(
                span,
                format!(
                    "allowed_ips: {cidr} of {label} overlaps {} of {}",
                    other.cidr, other.peer
                ),
            );
        }
    }
}

/// A peer name as `[[peer]].name` accepts it: 1 to 64 of A-Z, a-z, 0-9,
/// `.`, `_` and `-`; the error says so.
pub fn parse_peer_name(s: &str) -> Result<String, String> {
    let valid = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a valid peer name (1 to 64 of A-Z, a-z, 0-9, `.`, `_` and `-`)"
        ))
    }
}

/// Whether `s` is a tag as `[[peer]].tags` accepts it: 1 to 63 of a-z,
/// 0-9 and `-`.
pub fn is_tag(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
#[path = "wireguard_tests.rs"]
mod tests;
