//! The status document (`GET /status`, `wingress status --json`).
//!
//! Each subsystem contributes its own `serde::Serialize` snapshot; this
//! module only collects them. Sections from subsystems that live outside
//! the daemon's state (NAT traversal) are registered at start-up in
//! [`StatusSections`](crate::control::registry::StatusSections) (see
//! `control::nat_wiring`). A registered section replaces the built-in
//! value of the same name (`nat` and `public_endpoint` are `null` until
//! something registers them).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::Serialize;
use serde_json::Value;
use wingress_config::EntrypointProtocol;
use wingress_proxy::RouteStatus;
use wingress_tls::CertificateStatus;
use wingress_wg::PeerStatus;

use crate::control::state::Daemon;

#[derive(Debug, Serialize)]
pub(crate) struct Status {
    pub(crate) version: &'static str,
    pub(crate) ready: bool,
    pub(crate) draining: bool,
    pub(crate) node: NodeStatus,
    /// `{address, source, age_secs}` once something knows it.
    pub(crate) public_endpoint: Option<Value>,
    pub(crate) nat: Option<Value>,
    pub(crate) peers: Vec<PeerEntry>,
    pub(crate) listeners: Vec<ListenerStatus>,
    pub(crate) routes: Vec<RouteStatus>,
    pub(crate) certificates: Vec<CertificateStatus>,
    pub(crate) config: ConfigStatus,
    pub(crate) connections: ConnectionCounts,
    pub(crate) drops: DropCounts,
    /// The in-tunnel DNS server's counters; `null` when `[dns]` is off.
    pub(crate) dns: Option<DnsCounts>,
}

#[derive(Debug, Serialize)]
pub(crate) struct DnsCounts {
    pub(crate) answered: u64,
    pub(crate) nxdomain: u64,
    pub(crate) refused: u64,
    pub(crate) forwarded: u64,
    pub(crate) upstream_failed: u64,
    pub(crate) malformed: u64,
    pub(crate) dropped: u64,
    pub(crate) shed: u64,
}

impl From<wingress_dns::DnsStats> for DnsCounts {
    fn from(s: wingress_dns::DnsStats) -> Self {
        DnsCounts {
            answered: s.answered,
            nxdomain: s.nxdomain,
            refused: s.refused,
            forwarded: s.forwarded,
            upstream_failed: s.upstream_failed,
            malformed: s.malformed,
            dropped: s.dropped,
            shed: s.shed,
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct NodeStatus {
    pub(crate) ip: Option<Ipv4Addr>,
    pub(crate) port: u16,
    pub(crate) public_key: String,
    pub(crate) tunnel_address: String,
    pub(crate) mtu: u16,
    pub(crate) uptime_secs: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct PeerEntry {
    pub(crate) name: String,
    pub(crate) tags: Vec<String>,
    #[serde(flatten)]
    pub(crate) wg: PeerStatus,
}

#[derive(Debug, Serialize)]
pub(crate) struct ListenerStatus {
    /// The entrypoint's name, or `tcp:PORT` / `udp:PORT`.
    pub(crate) name: String,
    /// `https`, `http` (redirect), `tcp` or `udp`.
    pub(crate) kind: &'static str,
    /// `tunnel:443` or a host address.
    pub(crate) listen: String,
    /// Where `[[tcp]]`/`[[udp]]` forward to.
    pub(crate) backend: Option<String>,
    /// Not counted for UDP.
    pub(crate) open_connections: Option<i64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ConfigStatus {
    pub(crate) path: String,
    /// Unix seconds.
    pub(crate) loaded_at: u64,
    pub(crate) last_reload_at: Option<u64>,
    pub(crate) last_reload_error: Option<String>,
    pub(crate) restart_required: Vec<String>,
    pub(crate) reloads_ok: u64,
    pub(crate) reloads_failed: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct ConnectionCounts {
    /// TCP connections the tunnel stack holds (any state).
    pub(crate) tunnel_tcp: usize,
    pub(crate) udp_flows: usize,
}

#[derive(Debug, Serialize)]
pub(crate) struct DropCounts {
    pub(crate) wireguard: BTreeMap<&'static str, u64>,
    pub(crate) netstack: BTreeMap<&'static str, u64>,
}

/// Gathers the typed part of the document.
pub(crate) fn gather(d: &Daemon) -> Status {
    let cfg = d.config.borrow();
    let tables = d.tables.borrow();
    let net = d.net.borrow();
    let mut peers: Vec<PeerEntry> = tables
        .peers
        .values()
        .filter_map(|m| {
            Some(PeerEntry {
                name: m.name.clone(),
                tags: m.config.tags.clone(),
                wg: net.wg().peer_status(m.id)?,
            })
        })
        .collect();
    peers.sort_by(|a, b| a.name.cmp(&b.name));

    let gen = d.https.current.load();
    let mut listeners: Vec<ListenerStatus> = gen
        .entrypoints()
        .into_iter()
        .map(|e| ListenerStatus {
            name: e.name.to_string(),
            kind: match e.protocol {
                EntrypointProtocol::Https => "https",
                EntrypointProtocol::Http => "http",
            },
            listen: e.listen.to_string(),
            backend: None,
            open_connections: Some(e.open_connections()),
        })
        .collect();
    let mut tcp: Vec<_> = tables.tcp.values().collect();
    tcp.sort_by_key(|f| f.config.listen);
    listeners.extend(tcp.into_iter().map(|f| ListenerStatus {
        name: format!("tcp:{}", f.config.listen),
        kind: "tcp",
        listen: format!("tunnel:{}", f.config.listen),
        backend: Some(f.config.backend.to_string()),
        open_connections: Some(f.open.get()),
    }));
    let mut udp: Vec<_> = tables.udp.values().collect();
    udp.sort_by_key(|f| f.config.listen);
    listeners.extend(udp.into_iter().map(|f| ListenerStatus {
        name: format!("udp:{}", f.config.listen),
        kind: "udp",
        listen: format!("tunnel:{}", f.config.listen),
        backend: Some(f.config.backend.to_string()),
        open_connections: None,
    }));

    let record = d.reloads.borrow();
    Status {
        version: env!("CARGO_PKG_VERSION"),
        ready: d.health.ready(),
        draining: d.health.draining(),
        node: NodeStatus {
            ip: d.boot.node_ip,
            port: d.boot.port,
            public_key: d.boot.public_key.to_base64(),
            tunnel_address: d.boot.wireguard.address.to_string(),
            mtu: d.boot.wireguard.mtu,
            uptime_secs: d.started.elapsed().as_secs(),
        },
        public_endpoint: None,
        nat: None,
        peers,
        listeners,
        routes: gen.proxy.route_status(),
        certificates: gen
            .store
            .as_ref()
            .map(|s| s.certificates())
            .unwrap_or_default()
            .into_iter()
            .chain(gen.acme_certificates())
            .collect(),
        config: ConfigStatus {
            path: cfg.path.display().to_string(),
            loaded_at: record.loaded_at,
            last_reload_at: record.last_reload_at,
            last_reload_error: record.last_reload_error.clone(),
            restart_required: record.restart_required.clone(),
            reloads_ok: record.reloads_ok,
            reloads_failed: record.reloads_failed,
        },
        connections: ConnectionCounts {
            tunnel_tcp: net.stack().connections(),
            udp_flows: d.flows.borrow().len(),
        },
        dns: tables.dns.as_ref().map(|dns| dns.stats().into()),
        drops: DropCounts {
            wireguard: net
                .wg()
                .drops()
                .iter()
                .map(|(r, n)| (r.as_str(), n))
                .collect(),
            netstack: net
                .stack()
                .stats()
                .iter()
                .map(|(r, n)| (r.as_str(), n))
                .collect(),
        },
    }
}

/// The whole document: [`gather`] plus the registered sections.
pub(crate) fn document(d: &Daemon) -> Value {
    let mut doc = serde_json::to_value(gather(d)).unwrap_or_default();
    if let Value::Object(map) = &mut doc {
        d.sections.insert_into(map);
    }
    doc
}
