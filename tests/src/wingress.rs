//! Running the `wingress` binary in the lab: key files, the two config files
//! (`wingress run` and `wingress forward`), and the process itself.

use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::netns::Netns;
use crate::process::Process;

/// Writes `<dir>/<name>` with mode 0600: wingress refuses key files that
/// group or others can read.
pub fn write_private_key(dir: &Path, name: &str, private: &str) -> Result<PathBuf> {
    crate::write_private_file(&dir.join(name), &format!("{private}\n"))
}

/// Spawns `bin ARGS` in `ns`, logging at `WINGRESS_LOG` (the caller's value,
/// else `info`).
pub fn spawn_wingress(ns: &Netns, bin: &Path, name: &str, args: &[&str]) -> Result<Process> {
    let mut cmd = ns.command(bin);
    cmd.args(args).env(
        "WINGRESS_LOG",
        std::env::var("WINGRESS_LOG").unwrap_or_else(|_| "info".into()),
    );
    Process::spawn(name, cmd, ns.log_dir())
}

/// One HTTP/1.1 request to the daemon's admin API on its Unix socket:
/// (status code, body).
pub fn admin(socket: &Path, method: &str, path: &str) -> Result<(u16, String)> {
    let mut s = std::os::unix::net::UnixStream::connect(socket)
        .with_context(|| format!("admin socket {}", socket.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").context("response head")?;
    let code = head.split_whitespace().nth(1).context("status")?.parse()?;
    Ok((code, body.to_string()))
}

/// Waits until the daemon answers `/readyz` with 200; fails early if it
/// exits.
pub fn wait_ready(daemon: &mut Process, socket: &Path, limit: Duration) -> Result<()> {
    crate::eventually(limit, || {
        daemon.ensure_running()?;
        let (code, _) = admin(socket, "GET", "/readyz")?;
        anyhow::ensure!(code == 200, "not ready yet");
        Ok(())
    })
}

/// The value of the sample `name{labels}` (labels written as in the
/// exposition, e.g. `peer="a",reason="tcp_half_open"`) in a `/metrics` body.
pub fn metric(body: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

/// The daemon's UDP port for a node address: 41600 + its last octet.
pub fn node_port(ip: Ipv4Addr) -> u16 {
    41600 + u16::from(ip.octets()[3])
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn quote_list(items: &[String]) -> String {
    let q: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", q.join(", "))
}

// === impl ServerConfig ===

/// A `[[peer]]` of the daemon.
#[derive(Debug, Clone)]
pub struct ServerPeer {
    pub name: String,
    pub public_key: String,
    pub allowed_ips: Vec<String>,
    pub persistent_keepalive: Option<u16>,
}

/// The config of `wingress run`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub node_ip: Ipv4Addr,
    pub state_dir: PathBuf,
    /// Absolute, or relative to the config file's folder.
    pub private_key_file: PathBuf,
    /// The daemon's tunnel address with prefix, e.g. `"100.64.0.2/24"`.
    pub address: String,
    pub peers: Vec<ServerPeer>,
    /// `[[tcp]]` listeners: tunnel port → backend address.
    pub tcp: Vec<(u16, String)>,
    /// `[[udp]]` listeners: tunnel port → backend address.
    pub udp: Vec<(u16, String)>,
}

impl ServerConfig {
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "[node]\nip = {}\nstate_dir = {}",
            quote(&self.node_ip.to_string()),
            quote(&self.state_dir.display().to_string())
        );
        let _ = writeln!(
            s,
            "\n[wireguard]\nprivate_key_file = {}\naddress = {}",
            quote(&self.private_key_file.display().to_string()),
            quote(&self.address)
        );
        for p in &self.peers {
            let _ = writeln!(
                s,
                "\n[[peer]]\nname = {}\npublic_key = {}\nallowed_ips = {}",
                quote(&p.name),
                quote(&p.public_key),
                quote_list(&p.allowed_ips)
            );
            if let Some(k) = p.persistent_keepalive {
                let _ = writeln!(s, "persistent_keepalive = {k}");
            }
        }
        // Lab namespaces have no internet and no router: no STUN, no
        // port mapping (the NAT lab writes its own [nat]).
        let _ = writeln!(s, "\n[nat]\nstun_servers = []\nport_mapping = false");
        for (table, entries) in [("tcp", &self.tcp), ("udp", &self.udp)] {
            for (port, backend) in entries {
                let _ = writeln!(
                    s,
                    "\n[[{table}]]\nlisten = {port}\nbackend = {}",
                    quote(backend)
                );
            }
        }
        s
    }

    /// The UDP port the daemon will listen on.
    pub fn port(&self) -> u16 {
        node_port(self.node_ip)
    }
}

// === impl ForwardConfig ===

/// A `[[forward]]` of `wingress forward`.
#[derive(Debug, Clone)]
pub struct Forward {
    pub listen: SocketAddr,
    pub target: SocketAddr,
    /// `"tcp"` or `"udp"`.
    pub protocol: String,
}

/// The config of `wingress forward`, the userspace client.
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    pub private_key_file: PathBuf,
    /// The client's tunnel address, e.g. `"100.64.0.1/32"`.
    pub address: String,
    pub peer_public_key: String,
    pub endpoint: SocketAddr,
    pub allowed_ips: Vec<String>,
    pub persistent_keepalive: Option<u16>,
    pub forwards: Vec<Forward>,
}

impl ForwardConfig {
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "[wireguard]\nprivate_key_file = {}\naddress = {}",
            quote(&self.private_key_file.display().to_string()),
            quote(&self.address)
        );
        let _ = writeln!(
            s,
            "\n[[peer]]\npublic_key = {}\nendpoint = {}\nallowed_ips = {}",
            quote(&self.peer_public_key),
            quote(&self.endpoint.to_string()),
            quote_list(&self.allowed_ips)
        );
        if let Some(k) = self.persistent_keepalive {
            let _ = writeln!(s, "persistent_keepalive = {k}");
        }
        for f in &self.forwards {
            let _ = writeln!(
                s,
                "\n[[forward]]\nlisten = {}\ntarget = {}\nprotocol = {}",
                quote(&f.listen.to_string()),
                quote(&f.target.to_string()),
                quote(&f.protocol)
            );
        }
        s
    }
}

#[cfg(test)]
#[path = "wingress_tests.rs"]
mod tests;
