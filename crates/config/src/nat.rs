//! `[nat]`: how the node finds and opens its public endpoint.
//!
//! ```toml
//! [nat]
//! stun_servers = ["stun.l.google.com:19302", "stun.cloudflare.com:3478"]  # [] turns STUN off
//! port_mapping = true     # PCP, NAT-PMP, UPnP in that order; false; or e.g. ["upnp"]
//! lease = "2h"
//! advertise = "auto"      # or a fixed public "host:port"
//! ```

use std::time::Duration;

use crate::cursor::{BoolOrList, Table};
use crate::error::Diagnostics;
use crate::ingress_values::{duration_unit_hint, parse_duration};
use crate::suggest::suggest;
use crate::types::Endpoint;

/// STUN servers asked when `stun_servers` is not written.
pub const DEFAULT_STUN_SERVERS: [&str; 2] = ["stun.l.google.com:19302", "stun.cloudflare.com:3478"];

/// The mapping lifetime asked for when `lease` is not written (RFC 6886
/// recommends two hours).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(2 * 3600);

/// Leases outside this range are refused: shorter ones make the router
/// busier than it is worth (and routers round them up anyway), longer ones
/// outlive a crashed node for days.
const MIN_LEASE: Duration = Duration::from_secs(10);
const MAX_LEASE: Duration = Duration::from_secs(7 * 24 * 3600);

/// A port-mapping protocol, as written in `port_mapping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MappingProtocol {
    Pcp,
    NatPmp,
    Upnp,
}

impl MappingProtocol {
    /// Every protocol, in the order `port_mapping = true` tries them.
    pub const ALL: [MappingProtocol; 3] = [
        MappingProtocol::Pcp,
        MappingProtocol::NatPmp,
        MappingProtocol::Upnp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MappingProtocol::Pcp => "pcp",
            MappingProtocol::NatPmp => "natpmp",
            MappingProtocol::Upnp => "upnp",
        }
    }
}

/// What to publish to clients as this node's endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advertise {
    /// Whatever the NAT subsystem finds (mapping, static forward, STUN).
    Auto,
    /// This name or address and port, always.
    Fixed(Endpoint),
}

/// `[nat]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatConfig {
    /// Empty: STUN off.
    pub stun_servers: Vec<Endpoint>,
    /// The protocols to try, in order; empty: port mapping off.
    pub port_mapping: Vec<MappingProtocol>,
    pub lease: Duration,
    pub advertise: Advertise,
}

impl Default for NatConfig {
    fn default() -> NatConfig {
        NatConfig {
            stun_servers: DEFAULT_STUN_SERVERS
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect(),
            port_mapping: MappingProtocol::ALL.to_vec(),
            lease: DEFAULT_LEASE,
            advertise: Advertise::Auto,
        }
    }
}

pub(crate) fn parse_nat(root: &mut Table<'_>, d: &mut Diagnostics<'_>) -> NatConfig {
    let mut cfg = NatConfig::default();
    let Some(mut t) = root.optional_table(d, "nat") else {
        return cfg;
    };
    if let Some(list) = t.optional_str_array(d, "stun_servers") {
        cfg.stun_servers = stun_servers(d, list);
    }
    if let Some(pm) = t.optional_bool_or_str_list(
        d,
        "port_mapping",
        "true, false or a list of protocols such as [\"upnp\"]",
    ) {
        cfg.port_mapping = match pm.value {
            BoolOrList::Bool(true) => MappingProtocol::ALL.to_vec(),
            BoolOrList::Bool(false) => Vec::new(),
            BoolOrList::List(list) => protocols(d, list),
        };
    }
    if let Some(lease) = t.optional_with_hint(d, "lease", parse_duration, duration_unit_hint) {
        if lease.value < MIN_LEASE || lease.value > MAX_LEASE {
            d.error(
                &lease.span,
                format!(
                    "lease: {:?} is out of range (between 10s and {}h)",
                    lease.value,
                    MAX_LEASE.as_secs() / 3600
                ),
            );
        } else if lease.value.subsec_millis() != 0 {
            d.error(
                &lease.span,
                "lease: give whole seconds (routers count in seconds)",
            );
        } else {
            cfg.lease = lease.value;
        }
    }
    if let Some(a) = t.optional_with(d, "advertise", |s| match s.trim() {
        "auto" => Ok(Advertise::Auto),
        other => other
            .parse::<Endpoint>()
            .map(Advertise::Fixed)
            .map_err(|e| format!("{e}; write \"auto\" or the public host:port clients should use")),
    }) {
        cfg.advertise = a.value;
    }
    t.finish(d);
    cfg
}

fn stun_servers(d: &mut Diagnostics<'_>, list: Vec<crate::error::Spanned<&str>>) -> Vec<Endpoint> {
    let mut out: Vec<Endpoint> = Vec::new();
    for s in list {
        match s.value.parse::<Endpoint>() {
            Ok(e) if out.contains(&e) => {
                d.error(&s.span, format!("stun_servers: {e} is listed twice"));
            }
            Ok(e) => out.push(e),
            Err(e) => d.error(&s.span, format!("stun_servers: {e}")),
        }
    }
    out
}

fn protocols(
    d: &mut Diagnostics<'_>,
    list: Vec<crate::error::Spanned<&str>>,
) -> Vec<MappingProtocol> {
    let names: Vec<&'static str> = MappingProtocol::ALL.iter().map(|p| p.name()).collect();
    let mut out: Vec<MappingProtocol> = Vec::new();
    for s in list {
        let written = s.value.trim().to_ascii_lowercase();
        let found = MappingProtocol::ALL.into_iter().find(|p| {
            p.name() == written || (*p == MappingProtocol::NatPmp && written == "nat-pmp")
        });
        match found {
            Some(p) if out.contains(&p) => {
                d.error(
                    &s.span,
                    format!("port_mapping: {} is listed twice", p.name()),
                );
            }
            Some(p) => out.push(p),
            None => {
                let hint = suggest(&written, &names)
                    .map(|h| format!("; did you mean `{h}`?"))
                    .unwrap_or_default();
                d.error(
                    &s.span,
                    format!(
                        "port_mapping: unknown protocol `{}` (known: pcp, natpmp, upnp){hint}",
                        s.value
                    ),
                );
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "nat_tests.rs"]
mod tests;
