//! The client config (`wingress forward`): a tunnel to one or more wingress
//! (or any WireGuard) servers, and local ports forwarded through it.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::config_dir;
use crate::cursor::Table;
use crate::env::Env;
use crate::error::{ConfigErrors, Diagnostics, Span, Spanned};
use crate::node::{parse_node, NodeKeys};
use crate::node_octet::NodeAddress;
use crate::wireguard::{
    parse_interface, parse_peers, AllowedEntry, InterfaceConfig, PeerConfig, PeerKind,
};

/// A validated client config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    pub path: PathBuf,
    /// `[node].state_dir`, else `$STATE_DIRECTORY`, else the default.
    pub state_dir: PathBuf,
    pub wireguard: InterfaceConfig,
    /// Every peer has an endpoint; unnamed peers are `peer1`, `peer2`, …
    pub peers: Vec<PeerConfig>,
    pub forwards: Vec<Forward>,
}

/// `[[forward]]`: a local socket whose traffic is carried to `target`
/// through the tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub listen: SocketAddr,
    pub target: SocketAddr,
    pub protocol: Protocol,
}

/// The transport a forward carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

// === impl Protocol ===

impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            other => Err(format!(
                "`{other}` is not a protocol (expected \"tcp\" or \"udp\")"
            )),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// Parses and validates a client config. `path` is used for messages and to
/// resolve relative paths; the file is not read.
pub fn parse_client(path: &Path, text: &str, env: &Env) -> Result<ClientConfig, ConfigErrors> {
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

    let node = parse_node(&mut root, &mut d, env, base, NodeKeys::StateDirOnly);
    let wireguard = parse_interface(&mut root, &mut d, base, NodeAddress::Client);
    let peers = parse_peers(&mut root, &mut d, base, PeerKind::Client);
    let forwards = parse_forwards(&mut root, &mut d, &peers.allowed);
    root.finish(&mut d);

    let config = wireguard.map(|wireguard| ClientConfig {
        path: path.to_path_buf(),
        state_dir: node.state_dir,
        wireguard,
        peers: peers.configs,
        forwards,
    });
    d.finish(config)
}

fn parse_forwards(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    allowed: &[AllowedEntry],
) -> Vec<Forward> {
    let mut forwards = Vec::new();
    let mut listening: Vec<(Protocol, SocketAddr, Span)> = Vec::new();
    for mut t in root.array_of_tables(d, "forward") {
        let listen = t.required_with(d, "listen", parse_socket_addr);
        let target = t.required_with(d, "target", parse_socket_addr);
        let protocol = t
            .optional_parsed::<Protocol>(d, "protocol")
            .map_or(Protocol::Tcp, |p| p.value);
        t.finish(d);

        if let Some(listen) = &listen {
            check_listen_conflict(d, &listening, protocol, listen);
            listening.push((protocol, listen.value, listen.span.clone()));
        }
        if let Some(target) = &target {
            // A target no peer routes would be dropped by WireGuard's
            // cryptokey routing on every packet.
            if !allowed.iter().any(|e| e.cidr.contains(target.value.ip())) {
                d.error(
                    &target.span,
                    format!(
                        "target: {} is not inside any [[peer]]'s allowed_ips, so no peer would carry it",
                        target.value.ip()
                    ),
                );
            }
        }
        if let (Some(listen), Some(target)) = (listen, target) {
            forwards.push(Forward {
                listen: listen.value,
                target: target.value,
                protocol,
            });
        }
    }
    forwards
}

/// Two sockets of one protocol clash when they share a port and either the
/// address or one of them is a wildcard (`0.0.0.0` / `[::]`, which on Linux
/// also covers IPv4).
fn check_listen_conflict(
    d: &mut Diagnostics<'_>,
    earlier: &[(Protocol, SocketAddr, Span)],
    protocol: Protocol,
    listen: &Spanned<SocketAddr>,
) {
    let addr = listen.value;
    let clash = earlier.iter().find(|(p, other, _)| {
        *p == protocol
            && other.port() == addr.port()
            && (other.ip() == addr.ip()
                || other.ip().is_unspecified()
                || addr.ip().is_unspecified())
    });
    if let Some((_, other, first)) = clash {
        let line = d.line_of(first);
        d.error(
            &listen.span,
            format!("listen: {protocol} {addr} clashes with {other} on line {line}"),
        );
    }
}

fn parse_socket_addr(s: &str) -> Result<SocketAddr, String> {
    match s.trim().parse::<SocketAddr>() {
        Ok(addr) if addr.port() == 0 => Err(format!("`{s}` has port 0; give a fixed port")),
        Ok(addr) => Ok(addr),
        Err(_) => Err(format!(
            "`{s}` is not an IP address and port (e.g. \"127.0.0.1:15201\" or \"[::1]:15201\")"
        )),
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
