//! `wingress cluster`: one WireGuard client config for several nodes.
//!
//! Each node has its own key, UDP port (41600 + last octet) and tunnel
//! address (`address = "100.64.0.{octet}/16"` gives node 10.0.0.21 the
//! address 100.64.0.21). `wingress cluster node` prints one line that says
//! all of it:
//!
//! ```text
//! name=node-a,endpoint=10.0.0.21:41621,key=<public key>,address=100.64.0.21
//! ```
//!
//! The lines of every node, collected in a file (or passed as `--node`),
//! make `wingress cluster client-config` write one wg-quick config with a
//! `[Peer]` per node. Each peer's AllowedIPs is that node's tunnel address
//! alone (/32): AllowedIPs of the peers of one WireGuard interface must not
//! overlap, and a /32 per node routes each node's address to that node.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use wingress_config::{Env, ServerConfig};
use wingress_wg::{PrivateKey, PublicKey};

use super::config_file::{report, server_config_source};
use crate::platform::keyfile;

/// One node as `wingress cluster node` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeSpec {
    pub(crate) name: String,
    /// Where clients send WireGuard datagrams: `host:port`.
    pub(crate) endpoint: String,
    pub(crate) key: PublicKey,
    /// The node's own tunnel address.
    pub(crate) address: IpAddr,
}

// === impl NodeSpec ===

impl NodeSpec {
    /// The node a server config describes. `endpoint` overrides the node's
    /// own `ip:port` (a public address in front of a router forward).
    pub(crate) fn from_config(
        cfg: &ServerConfig,
        key: PublicKey,
        name: Option<&str>,
        endpoint: Option<&str>,
    ) -> Result<NodeSpec> {
        let port = cfg.listen_port().map_err(|e| anyhow!(e))?;
        let endpoint = match (endpoint, cfg.node.ip) {
            (Some(e), _) => e.to_string(),
            (None, Some(ip)) => SocketAddr::from((ip, port)).to_string(),
            (None, None) => bail!(
                "no node address for the endpoint: set [node].ip or WINGRESS_NODE_IP, or pass --endpoint HOST:PORT"
            ),
        };
        let name = match (name, cfg.node.ip) {
            (Some(n), _) => n.to_string(),
            (None, ip) => host_name().unwrap_or_else(|| {
                ip.map_or_else(|| "node".to_string(), |ip| format!("node-{ip}"))
            }),
        };
        let spec = NodeSpec {
            name,
            endpoint,
            key,
            address: cfg.wireguard.address.addr,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// `name=…,endpoint=…,key=…,address=…`, the form [`parse_nodes`] reads.
    pub(crate) fn line(&self) -> String {
        format!(
            "name={},endpoint={},key={},address={}",
            self.name,
            self.endpoint,
            self.key.to_base64(),
            self.address
        )
    }

    fn validate(&self) -> Result<()> {
        if self.name.is_empty() || self.name.contains([',', '\n', '#']) {
            bail!(
                "node name `{}` must be non-empty, without `,` or `#`",
                self.name
            );
        }
        let (host, port) = self
            .endpoint
            .rsplit_once(':')
            .ok_or_else(|| anyhow!("endpoint `{}` has no port", self.endpoint))?;
        if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
            bail!("endpoint `{}` is not host:port", self.endpoint);
        }
        Ok(())
    }
}

/// The host's name, for a node line's default `name`.
fn host_name() -> Option<String> {
    let n = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())?;
    let n = n.trim();
    (!n.is_empty()).then(|| n.replace([',', '#'], "-"))
}

/// Parses node lines (`wingress cluster node` output): one node per line,
/// `#` comments and blank lines ignored. `origin` names the source in
/// errors (`nodes.txt:3`). Every line is checked; all problems are
/// reported together.
pub(crate) fn parse_nodes(origin: &str, text: &str) -> Result<Vec<NodeSpec>> {
    let mut nodes = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        match parse_node_line(line) {
            Ok(n) => nodes.push(n),
            Err(e) => errors.push(format!("{origin}:{}: {e}", i + 1)),
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    Ok(nodes)
}

fn parse_node_line(line: &str) -> Result<NodeSpec> {
    let (mut name, mut endpoint, mut key, mut address) = (None, None, None, None);
    for field in line.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        // Base64 keys end in `=`: split at the first one only.
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| anyhow!("`{field}` is not key=value"))?;
        let slot = match k.trim() {
            "name" => &mut name,
            "endpoint" => &mut endpoint,
            "key" => &mut key,
            "address" => &mut address,
            other => bail!("unknown field `{other}` (expected name, endpoint, key, address)"),
        };
        if slot.replace(v.trim().to_string()).is_some() {
            bail!("`{k}` is given twice");
        }
    }
    let key: PublicKey = key
        .ok_or_else(|| anyhow!("no key= (the node's public key)"))?
        .parse()
        .map_err(|e| anyhow!("key: {e}"))?;
    let endpoint = endpoint.ok_or_else(|| anyhow!("no endpoint= (host:port)"))?;
    let address: IpAddr = address
        .ok_or_else(|| anyhow!("no address= (the node's tunnel address)"))?
        .trim_end_matches("/32")
        .parse()
        .map_err(|_| anyhow!("address: not an IP address"))?;
    let spec = NodeSpec {
        name: name.unwrap_or_else(|| endpoint.clone()),
        endpoint,
        key,
        address,
    };
    spec.validate()?;
    Ok(spec)
}

/// The client's side of the config.
#[derive(Debug, Clone)]
pub(crate) struct ClientSpec {
    pub(crate) name: String,
    pub(crate) private_key: PrivateKey,
    /// The client's tunnel address (a /32 on every node).
    pub(crate) address: Ipv4Addr,
    /// DNS servers for wg-quick's `DNS =` (e.g. the nodes' tunnel addresses,
    /// when they answer DNS); none when empty.
    pub(crate) dns: Vec<IpAddr>,
    pub(crate) keepalive: Option<u16>,
    /// Replaces the host of every node's endpoint, keeping its port: one
    /// public address with a router forward per node port.
    pub(crate) endpoint_host: Option<String>,
}

/// The wg-quick config: `[Interface]`, then one `[Peer]` per node. Fails
/// when two nodes share a key or a tunnel address, or the client's address
/// is a node's.
pub(crate) fn client_config(client: &ClientSpec, nodes: &[NodeSpec]) -> Result<String> {
    if nodes.is_empty() {
        bail!("no nodes: pass --nodes FILE or --node name=…,endpoint=…,key=…,address=…");
    }
    for (i, a) in nodes.iter().enumerate() {
        for b in &nodes[i + 1..] {
            if a.key == b.key {
                bail!(
                    "nodes `{}` and `{}` have the same public key",
                    a.name,
                    b.name
                );
            }
            if a.address == b.address {
                bail!(
                    "nodes `{}` and `{}` have the same tunnel address {}: their AllowedIPs would overlap \
                     (give each node its own, e.g. address = \"100.64.0.{{octet}}/16\")",
                    a.name,
                    b.name,
                    a.address
                );
            }
        }
        if a.address == IpAddr::V4(client.address) {
            bail!(
                "the client address {} is node `{}`'s tunnel address",
                client.address,
                a.name
            );
        }
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# wingress: client `{}` for {} node(s)\n[Interface]\nPrivateKey = {}\nAddress = {}/32",
        client.name,
        nodes.len(),
        client.private_key.to_base64(),
        client.address
    );
    if !client.dns.is_empty() {
        let dns: Vec<String> = client.dns.iter().map(IpAddr::to_string).collect();
        let _ = writeln!(s, "DNS = {}", dns.join(", "));
    }
    for n in nodes {
        let endpoint = match &client.endpoint_host {
            Some(host) => {
                let port = n.endpoint.rsplit_once(':').map_or("", |(_, p)| p);
                format!("{host}:{port}")
            }
            None => n.endpoint.clone(),
        };
        let host_len = if n.address.is_ipv4() { 32 } else { 128 };
        let _ = writeln!(
            s,
            "\n# node {}\n[Peer]\nPublicKey = {}\nEndpoint = {endpoint}\nAllowedIPs = {}/{host_len}",
            n.name,
            n.key.to_base64(),
            n.address
        );
        if let Some(k) = client.keepalive {
            let _ = writeln!(s, "PersistentKeepalive = {k}");
        }
    }
    Ok(s)
}

/// The `[[peer]]` every node's config needs for this client.
pub(crate) fn server_peer(client: &ClientSpec) -> String {
    format!(
        "[[peer]]\nname = \"{}\"\npublic_key = \"{}\"\nallowed_ips = [\"{}/32\"]\n",
        client.name,
        client.private_key.public_key().to_base64(),
        client.address
    )
}

/// The node lines from `--nodes FILE` and `--node` flags, in that order.
pub(crate) fn collect_nodes(file: Option<&Path>, flags: &[String]) -> Result<Vec<NodeSpec>> {
    let mut nodes = Vec::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        nodes.extend(parse_nodes(&path.display().to_string(), &text)?);
    }
    for (i, flag) in flags.iter().enumerate() {
        nodes.extend(parse_nodes(&format!("--node #{}", i + 1), flag)?);
    }
    Ok(nodes)
}

/// `wingress cluster`'s subcommands.
#[derive(Subcommand)]
pub(crate) enum ClusterCommand {
    /// Print this node's line for `cluster client-config`:
    /// name=…,endpoint=IP:PORT,key=PUBLIC KEY,address=TUNNEL ADDRESS.
    /// Reads the key the daemon created (run it once first); creates nothing.
    Node {
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Default: the host name.
        #[arg(long)]
        name: Option<String>,
        /// Where clients reach this node (a public HOST:PORT in front of a
        /// router forward); default: the node's IP and port.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Write one wg-quick client config with every node as a peer, and
    /// print the [[peer]] each node's config needs for this client.
    ClientConfig {
        /// A file of node lines (`wingress cluster node` output), one per line.
        #[arg(long)]
        nodes: Option<PathBuf>,
        /// A node line; repeatable.
        #[arg(long = "node")]
        node: Vec<String>,
        /// The client's tunnel address, e.g. 100.64.1.10.
        #[arg(long)]
        address: String,
        /// The client's name in the [[peer]] for the nodes.
        #[arg(long, default_value = "client")]
        name: String,
        /// The client's private key (mode 0600); default: a new key.
        #[arg(long)]
        private_key_file: Option<PathBuf>,
        /// DNS servers for the client, comma-separated (e.g. the nodes'
        /// tunnel addresses when they serve DNS).
        #[arg(long, value_delimiter = ',')]
        dns: Vec<IpAddr>,
        /// PersistentKeepalive seconds; 0 turns it off.
        #[arg(long, default_value_t = 25)]
        keepalive: u16,
        /// Use this host for every endpoint, keeping each node's port (one
        /// public address with a router forward per node port).
        #[arg(long)]
        endpoint_host: Option<String>,
        /// Write the config here (mode 0600) instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// `wingress cluster node | client-config`.
pub(super) fn run(command: ClusterCommand) -> Result<ExitCode> {
    match command {
        ClusterCommand::Node {
            config,
            name,
            endpoint,
        } => {
            let (path, text, _) = server_config_source(config)?;
            let cfg = match wingress_config::parse_server(&path, &text, &Env::from_process()) {
                Ok(c) => c,
                Err(e) => return Ok(report(&e)),
            };
            let key_path = cfg
                .wireguard
                .private_key_file
                .clone()
                .unwrap_or_else(|| cfg.node.state_dir.join("private.key"));
            if !key_path.exists() {
                return Err(anyhow!(
                    "no private key at {} yet: start the daemon once (it creates its key on first start)",
                    key_path.display()
                ));
            }
            let key = keyfile::load(&key_path)?.public_key();
            let spec = NodeSpec::from_config(&cfg, key, name.as_deref(), endpoint.as_deref())?;
            println!("{}", spec.line());
        }
        ClusterCommand::ClientConfig {
            nodes,
            node,
            address,
            name,
            private_key_file,
            dns,
            keepalive,
            endpoint_host,
            output,
        } => {
            let nodes = collect_nodes(nodes.as_deref(), &node)?;
            let address = address
                .trim()
                .trim_end_matches("/32")
                .parse()
                .map_err(|_| anyhow!("--address `{address}` is not an IPv4 address"))?;
            let private_key = match &private_key_file {
                Some(p) => keyfile::load(p)?,
                None => PrivateKey::generate(),
            };
            let client = ClientSpec {
                name,
                private_key,
                address,
                dns,
                keepalive: (keepalive != 0).then_some(keepalive),
                endpoint_host,
            };
            let conf = client_config(&client, &nodes)?;
            match &output {
                Some(p) => keyfile::write_atomic(p, conf.as_bytes())?,
                None => print!("{conf}"),
            }
            eprintln!(
                "# Add this peer to the config of every node (the same [[peer]] on each):\n{}",
                server_peer(&client)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
