//! wingress configuration: the TOML schema, parsing and validation.
//!
//! [`parse_server`] and [`parse_client`] take the config text, its path (for
//! messages and for resolving relative paths) and an [`Env`]; they never
//! read files or process globals. They report every mistake at once, each
//! with `file:line:col`:
//!
//! ```text
//! /etc/wingress/wingress.toml:7:14: error: public_key: key is not valid base64
//! /etc/wingress/wingress.toml:9:1: error: unknown key `allowed_ip` in [[peer]]; did you mean `allowed_ips`?
//! ```
//!
//! The tree is walked by hand with `toml_edit` (which keeps spans) through a
//! small cursor, `cursor::Table`, whose accessor calls double as the schema:
//! a new section is one function that reads its keys and calls `finish`.

#![forbid(unsafe_code)]

mod acme;
mod admin;
mod client;
mod cursor;
mod dashboard;
mod dns;
mod entrypoint;
mod env;
mod error;
mod http;
mod ingress;
mod ingress_values;
mod kubernetes;
mod limits;
mod log;
mod nat;
mod node;
mod node_octet;
mod peer_edit;
mod route;
mod route_rules;
mod server;
mod shutdown;
mod suggest;
mod transport;
mod types;
mod wireguard;

use std::path::Path;

pub use acme::{
    AcmeChallenge, AcmeConfig, AcmeDnsConfig, DnsProvider, ExternalAccountBinding, TsigAlgorithm,
    LETS_ENCRYPT_DIRECTORY,
};
pub use admin::{AdminConfig, DEFAULT_ADMIN_SOCKET};
pub use client::{parse_client, ClientConfig, Forward, Protocol};
pub use dashboard::{DashboardConfig, DEFAULT_MAX_EVENT_STREAMS};
pub use dns::{DnsConfig, DnsForward, DEFAULT_DNS_TTL, DNS_PORT};
pub use entrypoint::{
    default_entrypoints, EntrypointConfig, EntrypointProtocol, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
};
pub use env::{Env, EnvVar, NODE_IP_VARS};
pub use error::{ConfigError, ConfigErrors};
pub use http::HttpConfig;
pub use ingress::{CertificateFiles, TlsConfig};
pub use ingress_values::{
    parse_duration, parse_path_prefix, parse_request_path, BackendScheme, BackendUrl,
    ForwardAuthUrl, HostPattern, Listen,
};
pub use kubernetes::{
    BackendSource, KubernetesConfig, StatusAddress, DEFAULT_DEBOUNCE, DEFAULT_INGRESS_CLASS,
};
pub use limits::{LimitsConfig, MAX_DNS_FORWARDS, MAX_DNS_TCP, MAX_TCP_HALF_OPEN, MAX_UDP_FLOWS};
pub use log::{check_level, LogConfig, LogFormat};
pub use nat::{Advertise, MappingProtocol, NatConfig, DEFAULT_LEASE, DEFAULT_STUN_SERVERS};
pub use node::{node_ip_from_env, NodeConfig, NodeIpSource, DEFAULT_STATE_DIR};
pub use peer_edit::{
    add_peer, check_new_name, next_free_address, remove_peer, EditError, NewPeer, SubnetFull,
};
pub use route::{Access, AllowRule, HealthCheck, PathMatch, RouteConfig};
pub use route_rules::{
    access_problems, check_health_interval, check_route_entrypoint, parse_allow_rule, AccessKeys,
    RouteKey, DEFAULT_CONNECT_TIMEOUT, DEFAULT_HEALTH_INTERVAL, DEFAULT_HEALTH_TIMEOUT,
    DEFAULT_ROUTE_TIMEOUT, MIN_HEALTH_INTERVAL,
};
pub use server::{parse_server, ServerConfig, TcpService, UdpService, DEFAULT_TCP_IDLE_TIMEOUT};
pub use shutdown::{ShutdownConfig, DEFAULT_DRAIN_TIMEOUT};
pub use transport::TransportConfig;
pub use types::{
    parse_node_ip, port_for_node_ip, Backend, Cidr, CidrError, Endpoint, HostPortError, BASE_PORT,
    DEFAULT_MTU,
};
pub use wireguard::{is_tag, parse_peer_name, InterfaceConfig, PeerConfig};

/// The server config `wingress run` uses when no config file exists: a
/// tunnel address, no peers, no services. The node address then comes from
/// `WINGRESS_NODE_IP` or the daemon's host detection, and the private key
/// from `state_dir/private.key` (created on first start).
pub const EMBEDDED_DEFAULT: &str = r#"# wingress: built-in default configuration.
#
# `wingress run` uses this when no config file exists. Copy it to a file to
# change it; relative paths in that file resolve against its folder.

[wireguard]
# This node's own address inside the tunnel, and the tunnel's prefix.
address = "100.64.0.1/24"
# The private key lives in the state directory (state_dir/private.key) and is
# created on first start; give its public half to your clients. To use your
# own key file instead:
# private_key_file = "server.key"

# The UDP port is 41600 + the last octet of the node's IPv4 address, taken
# from [node].ip, else WINGRESS_NODE_IP, else detected. To pin it:
# listen_port = 51820

# To let a WireGuard client in, add a [[peer]] with the client's public key
# (`wg pubkey < client.key`) and the tunnel address it may use:
#
# [[peer]]
# name = "laptop"
# public_key = "<the client's public key>"
# allowed_ips = ["100.64.0.2/32"]
#
# Then expose a local port on this node's tunnel address (100.64.0.1):
#
# [[tcp]]
# listen = 80
# backend = "127.0.0.1:8080"
"#;

/// The folder relative paths in a config resolve against.
pub(crate) fn config_dir(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

/// Keys for tests: the RFC 7748 vector and some fixed byte patterns.
#[cfg(test)]
pub(crate) mod test_keys {
    pub(crate) const KEY_A: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
    pub(crate) const KEY_B: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    pub(crate) const KEY_C: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
}

#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
