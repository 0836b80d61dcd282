//! NAT traversal in `wingress run`: started once the UDP port is bound,
//! its state in the status document (`nat`, `public_endpoint`) and the
//! metrics, and the port mapping deleted by a shutdown hook.

use std::time::Duration;

use crate::control::registry::Exposition;
use crate::control::state::DaemonRef;
use crate::nat::{start, NatHandle, NatSetup, PeerView};
use crate::platform::node::NodeAddr;

/// Starts NAT traversal for the daemon's WireGuard `port`. The external
/// port asked of the router is 41600 + the node's last octet, whatever the
/// local port.
pub(crate) fn attach(d: &DaemonRef, node: Option<NodeAddr>, port: u16) -> NatHandle {
    let cfg = d.config.borrow().nat.clone();
    let external_port = node.as_ref().map_or(port, crate::platform::node::port_of);
    let peers: PeerView = {
        let d = d.clone();
        Box::new(move || {
            let net = d.net.borrow();
            let tables = d.tables.borrow();
            tables
                .peers
                .values()
                .map(|p| {
                    let since: Option<Duration> =
                        net.wg().peer_stats(p.id).and_then(|s| s.since_handshake);
                    (p.name.clone(), since)
                })
                .collect()
        })
    };
    let nat = start(NatSetup {
        cfg,
        node,
        local_port: port,
        external_port,
        net: d.net.clone(),
        peers,
    });
    {
        let nat = nat.clone();
        d.hooks.register("release the NAT port mapping", move || {
            Box::pin(async move { nat.release().await })
        });
    }
    {
        let nat = nat.clone();
        d.sections.register("nat", move || {
            serde_json::to_value(nat.status()).unwrap_or_default()
        });
    }
    {
        let nat = nat.clone();
        d.sections.register("public_endpoint", move || {
            serde_json::to_value(nat.public_endpoint()).unwrap_or_default()
        });
    }
    {
        let nat = nat.clone();
        d.metric_sections.register(move |m| metrics(&nat, m));
    }
    nat
}

fn metrics(nat: &NatHandle, m: &mut Exposition) {
    let s = nat.status();
    let pm = &s.port_mapping;
    let state = serde_json::to_value(pm.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let protocol = pm.protocol.map(|p| p.to_string()).unwrap_or_default();
    m.family(
        "wingress_nat_port_mapping",
        "gauge",
        "1 while the router holds a port mapping for this node; labels say the state and protocol.",
    );
    m.sample(
        "wingress_nat_port_mapping",
        &[("state", &state), ("protocol", &protocol)],
        if pm.external.is_some() { 1.0 } else { 0.0 },
    );
    if let Some(e) = &s.public_endpoint {
        let source = serde_json::to_value(e.source)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        m.family(
            "wingress_nat_public_endpoint_info",
            "gauge",
            "The endpoint published to clients, and where it comes from.",
        );
        m.sample(
            "wingress_nat_public_endpoint_info",
            &[("address", &e.address), ("source", &source)],
            1.0,
        );
    }
}
