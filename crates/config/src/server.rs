//! The server config (`wingress run`): the node, its tunnel, the peers that
//! may connect, the TCP/UDP services exposed on the tunnel address, and the
//! HTTPS ingress (`[[entrypoint]]`, `[tls]`, `[[route]]`, in `ingress.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::admin::{parse_admin, AdminConfig};
use crate::config_dir;
use crate::cursor::Table;
use crate::dashboard::{parse_dashboard, DashboardConfig, DashboardContext};
use crate::dns::{parse_dns, DnsConfig, DnsContext};
use crate::entrypoint::{default_entrypoints, EntrypointConfig};
use crate::env::Env;
use crate::error::{ConfigErrors, Diagnostics, Span};
use crate::http::{parse_http, HttpConfig};
use crate::ingress::{parse_ingress, IngressContext, TlsConfig};
use crate::ingress_values::{duration_unit_hint, parse_duration};
use crate::kubernetes::{parse_kubernetes, KubernetesConfig};
use crate::limits::{parse_limits, LimitsConfig};
use crate::log::{parse_log, LogConfig};
use crate::nat::{parse_nat, NatConfig};
use crate::node::{parse_node, NodeConfig, NodeKeys};
use crate::node_octet::NodeAddress;
use crate::route::{check_default_ports, RouteConfig};
use crate::shutdown::{parse_shutdown, ShutdownConfig};
use crate::transport::TransportConfig;
use crate::types::{port_for_node_ip, Backend};
use crate::wireguard::{parse_interface, parse_peers, InterfaceConfig, PeerConfig, PeerKind};

/// A validated server config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The file the config was read from (relative paths in it were
    /// resolved against its folder).
    pub path: PathBuf,
    pub node: NodeConfig,
    pub wireguard: InterfaceConfig,
    pub peers: Vec<PeerConfig>,
    pub tcp: Vec<TcpService>,
    pub udp: Vec<UdpService>,
    /// `[[entrypoint]]` as written; see
    /// [`ServerConfig::effective_entrypoints`] for what the daemon serves.
    pub entrypoints: Vec<EntrypointConfig>,
    pub tls: TlsConfig,
    pub routes: Vec<RouteConfig>,
    /// `[[transport]]`: TLS options for `https://` backends, by name.
    pub transports: Vec<TransportConfig>,
    /// `[http]`: the HTTP server's timeouts and per-connection caps.
    pub http: HttpConfig,
    pub dns: DnsConfig,
    pub admin: AdminConfig,
    pub log: LogConfig,
    pub shutdown: ShutdownConfig,
    /// `[nat]`: STUN, port mapping, the advertised endpoint.
    pub nat: NatConfig,
    /// `[limits]`: per-peer caps and shared budgets.
    pub limits: LimitsConfig,
    /// `[kubernetes]`: Ingress discovery.
    pub kubernetes: KubernetesConfig,
    /// `[dashboard]`: the web dashboard, served as a route after `routes`.
    pub dashboard: DashboardConfig,
}

/// `[[tcp]]`: a TCP port on the tunnel address forwarded to a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpService {
    pub listen: u16,
    pub backend: Backend,
    /// A forwarded connection with no byte either way for this long is
    /// closed (both sides reset): a peer that vanished without a FIN would
    /// otherwise hold it, and its backend socket, forever.
    pub idle_timeout: Duration,
}

/// `[[tcp]] idle_timeout` unless set: an SSH session sits quiet for a
/// while; one silent for an hour (no keepalives) is almost always dead.
pub const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// `[[udp]]`: a UDP port on the tunnel address forwarded to a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpService {
    pub listen: u16,
    pub backend: Backend,
}

// === impl ServerConfig ===

impl ServerConfig {
    /// The WireGuard UDP port: `[wireguard].listen_port`, else the port
    /// formula on the node address.
    pub fn listen_port(&self) -> Result<u16, String> {
        match (self.wireguard.listen_port, self.node.ip) {
            (Some(port), _) => Ok(port),
            (None, Some(ip)) => Ok(port_for_node_ip(ip)),
            (None, None) => Err(
                "no UDP port: set [node].ip, WINGRESS_NODE_IP or [wireguard].listen_port"
                    .to_string(),
            ),
        }
    }

    /// The entrypoints to open: those written, or, when there are routes
    /// (or the dashboard is on) and no `[[entrypoint]]`, `tunnel-https`
    /// (HTTPS on tunnel port 443) and `tunnel-http` (the redirect, on
    /// tunnel port 80). Empty for a config with neither routes nor
    /// entrypoints.
    pub fn effective_entrypoints(&self) -> Vec<EntrypointConfig> {
        let serves = !self.routes.is_empty() || self.dashboard.enabled;
        if self.entrypoints.is_empty() && serves {
            default_entrypoints()
        } else {
            self.entrypoints.clone()
        }
    }
}

/// Parses and validates a server config. `path` is used for messages and to
/// resolve relative paths; the file is not read.
pub fn parse_server(path: &Path, text: &str, env: &Env) -> Result<ServerConfig, ConfigErrors> {
    let mut d = Diagnostics::new(path, text);
    let doc = match toml_edit::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            d.syntax(&e);
            return d.finish(None);
        }
    };
    let base = config_dir(path);
    let mut root = Table::root(doc.as_table());

    let node = parse_node(&mut root, &mut d, env, base, NodeKeys::IpAndStateDir);
    let wireguard = parse_interface(&mut root, &mut d, base, NodeAddress::Server(node.ip));
    let peers = parse_peers(&mut root, &mut d, base, PeerKind::Server);
    let tcp = parse_services(&mut root, &mut d, "tcp");
    let udp = parse_services(&mut root, &mut d, "udp");
    let ingress = parse_ingress(
        &mut root,
        &mut d,
        base,
        &IngressContext {
            peer_names: &peers.names,
            tcp_ports: &tcp.ports,
        },
    );
    let dashboard = parse_dashboard(
        &mut root,
        &mut d,
        &DashboardContext {
            peer_names: &peers.names,
            entrypoints: &ingress.entrypoints,
            declared: &ingress.declared,
            routes: &ingress.routes,
            base,
        },
    );
    if dashboard.enabled && ingress.routes.is_empty() && !ingress.declared.written {
        check_default_ports(&mut d, &tcp.ports);
    }
    let dns = parse_dns(
        &mut root,
        &mut d,
        &DnsContext {
            has_routes: !ingress.routes.is_empty() || dashboard.enabled,
            tcp_ports: &tcp.ports,
            udp_ports: &udp.ports,
            entrypoints: &ingress.entrypoints,
        },
    );
    let http = parse_http(&mut root, &mut d);
    let admin = parse_admin(&mut root, &mut d, base, &node.state_dir);
    let log = parse_log(&mut root, &mut d);
    let shutdown = parse_shutdown(&mut root, &mut d);
    let nat = parse_nat(&mut root, &mut d);
    let limits = parse_limits(&mut root, &mut d);
    let kubernetes = parse_kubernetes(&mut root, &mut d, base);
    root.finish(&mut d);

    if let Some(wg) = &wireguard {
        // The daemon answers for its own address; a peer claiming it would
        // make replies to that peer loop back into the daemon.
        let own = wg.address.addr;
        for entry in peers.allowed.iter().filter(|e| e.cidr.contains(own)) {
            d.error(
                &entry.span,
                format!(
                    "allowed_ips: {} of {} contains this node's own tunnel address {own}",
                    entry.cidr, entry.peer
                ),
            );
        }
    }

    let config = wireguard.map(|wireguard| ServerConfig {
        path: path.to_path_buf(),
        node,
        wireguard,
        peers: peers.configs,
        tcp: tcp
            .services
            .into_iter()
            .map(|(listen, backend, idle)| TcpService {
                listen,
                backend,
                idle_timeout: idle.unwrap_or(DEFAULT_TCP_IDLE_TIMEOUT),
            })
            .collect(),
        udp: udp
            .services
            .into_iter()
            .map(|(listen, backend, _)| UdpService { listen, backend })
            .collect(),
        entrypoints: ingress.entrypoints,
        tls: ingress.tls,
        routes: ingress.routes,
        transports: ingress.transports,
        http,
        dns,
        admin,
        log,
        shutdown,
        nat,
        limits,
        kubernetes,
        dashboard,
    });
    d.finish(config)
}

/// The `[[tcp]]` or `[[udp]]` services of a config.
struct Services {
    /// `(listen port, backend, idle timeout)`, listen ports unique; the
    /// timeout only for `[[tcp]]`, when set.
    services: Vec<(u16, Backend, Option<Duration>)>,
    /// Every listen port that parsed, with its location, for the checks
    /// against entrypoints.
    ports: Vec<(u16, Span)>,
}

/// `[[tcp]]` or `[[udp]]`, listen ports unique within the protocol.
fn parse_services(root: &mut Table<'_>, d: &mut Diagnostics<'_>, key: &'static str) -> Services {
    let mut services = Vec::new();
    let mut ports: Vec<(u16, Span)> = Vec::new();
    for mut t in root.array_of_tables(d, key) {
        let listen = t.required_u16(d, "listen", 1..=u16::MAX);
        let backend = t.required_parsed::<Backend>(d, "backend");
        let idle = if key == "tcp" {
            t.optional_with_hint(d, "idle_timeout", parse_duration, duration_unit_hint)
                .map(|i| i.value)
        } else {
            None
        };
        t.finish(d);
        if let Some(listen) = &listen {
            match ports.iter().find(|(port, _)| *port == listen.value) {
                Some((_, first)) => {
                    let line = d.line_of(first);
                    d.error(
                        &listen.span,
                        format!(
                            "listen: {key} port {} is already used on line {line}",
                            listen.value
                        ),
                    );
                }
                None => ports.push((listen.value, listen.span.clone())),
            }
        }
        if let (Some(listen), Some(backend)) = (listen, backend) {
            services.push((listen.value, backend.value, idle));
        }
    }
    Services { services, ports }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
