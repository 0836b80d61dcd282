//! `[node]`: facts about the machine the daemon runs on.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::cursor::Table;
use crate::env::Env;
use crate::error::Diagnostics;
use crate::types::parse_node_ip;

/// Where state (the generated private key, certificates) lives when neither
/// the config nor systemd says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/wingress";

/// Where the node's address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeIpSource {
    /// `[node].ip`.
    Config,
    /// The named environment variable (see [`crate::NODE_IP_VARS`]).
    Env(&'static str),
}

impl std::fmt::Display for NodeIpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeIpSource::Config => f.write_str("[node].ip in the config"),
            NodeIpSource::Env(name) => f.write_str(name),
        }
    }
}

/// `[node]` of a server config, with environment fallbacks applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// `[node].ip`, else `WINGRESS_NODE_IP`, `K8S_NODE_IP` or `HOST_IP`;
    /// `None` leaves detection to the daemon.
    pub ip: Option<Ipv4Addr>,
    /// Where `ip` came from; `None` with it.
    pub ip_source: Option<NodeIpSource>,
    /// `[node].state_dir` (relative to the config's folder), else
    /// `$STATE_DIRECTORY`, else [`DEFAULT_STATE_DIR`].
    pub state_dir: PathBuf,
}

/// Which `[node]` keys a config kind has: a client has no node address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKeys {
    IpAndStateDir,
    StateDirOnly,
}

/// The node address the environment gives (the first of
/// [`crate::NODE_IP_VARS`] that is set), with the variable's name; an
/// unusable value is an error naming the variable.
pub fn node_ip_from_env(env: &Env) -> Result<Option<(Ipv4Addr, &'static str)>, String> {
    match env.node_ip() {
        None => Ok(None),
        Some((name, value)) => parse_node_ip(value)
            .map(|ip| Some((ip, name)))
            .map_err(|e| format!("{name}: {e}")),
    }
}

pub(crate) fn parse_node(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    env: &Env,
    base: &Path,
    keys: NodeKeys,
) -> NodeConfig {
    let mut ip = None;
    let mut ip_source = None;
    let mut ip_written = false;
    let mut state_dir = None;
    if let Some(mut node) = root.optional_table(d, "node") {
        if keys == NodeKeys::IpAndStateDir {
            ip_written = node.contains("ip");
            ip = node.optional_with(d, "ip", parse_node_ip).map(|s| s.value);
            ip_source = ip.map(|_| NodeIpSource::Config);
        }
        state_dir = node.optional_path(d, "state_dir", base).map(|s| s.value);
        node.finish(d);
    }

    // A bad `[node].ip` is already reported; the environment does not
    // paper over it.
    if keys == NodeKeys::IpAndStateDir && !ip_written {
        match node_ip_from_env(env) {
            Ok(Some((v4, name))) => {
                ip = Some(v4);
                ip_source = Some(NodeIpSource::Env(name));
            }
            Ok(None) => {}
            Err(e) => d.error_unlocated(e),
        }
    }

    let state_dir = state_dir
        .or_else(|| env.state_directory().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
    NodeConfig {
        ip,
        ip_source,
        state_dir,
    }
}
