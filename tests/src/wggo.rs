//! A real WireGuard peer: wireguard-go on a TUN device inside a namespace,
//! configured with wireguard-tools, and keys made by `wg genkey`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};

use crate::netns::{next_id, Netns};
use crate::process::{tail, Process};

/// wireguard-go's control sockets; global, not per namespace, so interface
/// names must be unique on the host.
const SOCKET_DIR: &str = "/var/run/wireguard";

// === impl KeyPair ===

/// A WireGuard key pair in the standard base64 form.
#[derive(Debug, Clone)]
pub struct KeyPair {
    pub private: String,
    pub public: String,
}

impl KeyPair {
    /// `wg genkey`, then `wg pubkey`.
    pub fn generate() -> Result<KeyPair> {
        let out = Command::new("wg")
            .arg("genkey")
            .output()
            .context("cannot run wg genkey")?;
        if !out.status.success() {
            bail!("wg genkey failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let private = String::from_utf8(out.stdout)?.trim().to_string();
        let public = wg_pubkey(&private)?;
        Ok(KeyPair { private, public })
    }
}

/// `wg pubkey` of a base64 private key.
pub fn wg_pubkey(private: &str) -> Result<String> {
    let mut child = Command::new("wg")
        .arg("pubkey")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run wg pubkey")?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(format!("{private}\n").as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("wg pubkey failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

// === config ===

/// One `[Peer]` of a wireguard-go interface.
#[derive(Debug, Clone)]
pub struct WgPeer {
    pub public_key: String,
    pub endpoint: Option<SocketAddr>,
    /// CIDRs such as `"100.64.0.2/32"`; each also gets a route via the interface.
    pub allowed_ips: Vec<String>,
    pub persistent_keepalive: Option<u16>,
}

impl WgPeer {
    pub fn new(public_key: &str, allowed_ips: &[&str]) -> WgPeer {
        WgPeer {
            public_key: public_key.to_string(),
            endpoint: None,
            allowed_ips: allowed_ips.iter().map(|s| s.to_string()).collect(),
            persistent_keepalive: None,
        }
    }

    pub fn endpoint(mut self, endpoint: SocketAddr) -> WgPeer {
        self.endpoint = Some(endpoint);
        self
    }

    pub fn keepalive(mut self, seconds: u16) -> WgPeer {
        self.persistent_keepalive = Some(seconds);
        self
    }
}

/// A wireguard-go interface: its key, UDP port, tunnel address and peers.
#[derive(Debug, Clone)]
pub struct WgGoConfig {
    pub keys: KeyPair,
    pub listen_port: u16,
    /// The interface address with prefix, e.g. `"100.64.0.1/24"`.
    pub address: String,
    pub mtu: u16,
    pub peers: Vec<WgPeer>,
}

impl WgGoConfig {
    /// MTU 1420, as wg-quick uses over IPv4 and IPv6.
    pub fn new(keys: KeyPair, listen_port: u16, address: &str) -> WgGoConfig {
        WgGoConfig {
            keys,
            listen_port,
            address: address.to_string(),
            mtu: 1420,
            peers: Vec::new(),
        }
    }

    pub fn peer(mut self, peer: WgPeer) -> WgGoConfig {
        self.peers.push(peer);
        self
    }
}

// === impl WgGo ===

/// A running wireguard-go interface in a namespace; the process (and with it
/// the TUN device) goes away on drop.
#[derive(Debug)]
pub struct WgGo {
    ns: Netns,
    iface: String,
    public_key: String,
    process: Process,
}

impl WgGo {
    /// Starts `wireguard-go -f IFACE` in `ns` (foreground: its daemonizing
    /// mode misbehaves here), waits for its control socket, then configures
    /// it with `wg set`, `ip addr`, `ip link` and one route per allowed IP.
    pub fn start(ns: &Netns, cfg: &WgGoConfig) -> Result<WgGo> {
        let iface = format!("wg{}n{}", std::process::id(), next_id());
        let mut cmd = ns.command("wireguard-go");
        cmd.args(["-f", &iface]).env("LOG_LEVEL", "debug");
        let process = Process::spawn(&format!("wireguard-go-{iface}"), cmd, ns.log_dir())?;
        let mut wg = WgGo {
            ns: ns.clone(),
            iface,
            public_key: cfg.keys.public.clone(),
            process,
        };
        wg.wait_for_socket(Duration::from_secs(10))?;
        wg.configure(cfg)
            .with_context(|| format!("cannot configure {}", wg.iface))?;
        Ok(wg)
    }

    /// Starts wireguard-go in `ns` and configures it the way `wg-quick up`
    /// would from a wg-quick file, without wg-quick's kernel-module path:
    /// `wg setconf` with `setconf` (what `wg-quick strip FILE` prints), then
    /// each of `addresses` on the interface, the MTU, and a route per
    /// `routes` entry (wg-quick routes every peer's AllowedIPs).
    pub fn start_setconf(
        ns: &Netns,
        setconf: &str,
        addresses: &[String],
        routes: &[String],
    ) -> Result<WgGo> {
        let private = setconf
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == "PrivateKey").then(|| v.trim().to_string())
            })
            .context("no PrivateKey in the setconf text")?;
        let iface = format!("wg{}n{}", std::process::id(), next_id());
        let mut cmd = ns.command("wireguard-go");
        cmd.args(["-f", &iface]).env("LOG_LEVEL", "debug");
        let process = Process::spawn(&format!("wireguard-go-{iface}"), cmd, ns.log_dir())?;
        let mut wg = WgGo {
            ns: ns.clone(),
            iface,
            public_key: wg_pubkey(&private)?,
            process,
        };
        wg.wait_for_socket(Duration::from_secs(10))?;
        let conf = ns.log_dir().join(format!("{}.setconf", wg.iface));
        crate::write_private_file(&conf, setconf)?;
        let conf = conf.display().to_string();
        ns.exec("wg", &["setconf", &wg.iface, &conf])
            .with_context(|| format!("wg setconf {} {conf}", wg.iface))?;
        for a in addresses {
            ns.ip(&["addr", "add", a, "dev", &wg.iface])?;
        }
        ns.ip(&["link", "set", &wg.iface, "mtu", "1420", "up"])?;
        for r in routes {
            ns.ip(&["route", "replace", r, "dev", &wg.iface])?;
        }
        Ok(wg)
    }

    /// [`WgGo::start_setconf`] from a whole wg-quick config, used as is:
    /// `wg-quick strip` gives the setconf part; `Address` and a route per
    /// `AllowedIPs` entry are applied, and `DNS` becomes the namespace's
    /// resolv.conf, as wg-quick does.
    pub fn from_wg_quick(ns: &Netns, conf: &str) -> Result<WgGo> {
        let q = WgQuick::parse(conf)?;
        // wg-quick takes the interface name from the file name.
        let file = crate::write_private_file(
            &ns.log_dir()
                .join(format!("wgq{}n{}.conf", std::process::id(), next_id())),
            conf,
        )?;
        let stripped = crate::process::run_command(
            Command::new("wg-quick").arg("strip").arg(&file),
            Duration::from_secs(30),
        )?;
        let wg = WgGo::start_setconf(
            ns,
            &String::from_utf8_lossy(&stripped.stdout),
            &q.addresses,
            &q.allowed_ips,
        )?;
        if !q.dns.is_empty() {
            let text: String = q.dns.iter().map(|d| format!("nameserver {d}\n")).collect();
            ns.set_resolv_conf(&text)?;
        }
        Ok(wg)
    }

    fn wait_for_socket(&mut self, limit: Duration) -> Result<()> {
        let sock = socket_path(&self.iface);
        let deadline = Instant::now() + limit;
        while !sock.exists() {
            self.process.ensure_running()?;
            if Instant::now() >= deadline {
                bail!(
                    "{} did not appear within {limit:?}; log:\n{}",
                    sock.display(),
                    tail(&self.process.log(), 30)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    fn configure(&self, cfg: &WgGoConfig) -> Result<()> {
        let key_file = self.ns.log_dir().join(format!("{}.key", self.iface));
        crate::write_private_file(&key_file, &format!("{}\n", cfg.keys.private))?;
        let mut args: Vec<String> = vec![
            "set".into(),
            self.iface.clone(),
            "private-key".into(),
            key_file.display().to_string(),
            "listen-port".into(),
            cfg.listen_port.to_string(),
        ];
        for p in &cfg.peers {
            args.extend(["peer".into(), p.public_key.clone()]);
            if let Some(e) = p.endpoint {
                args.extend(["endpoint".into(), e.to_string()]);
            }
            args.extend(["allowed-ips".into(), p.allowed_ips.join(",")]);
            if let Some(k) = p.persistent_keepalive {
                args.extend(["persistent-keepalive".into(), k.to_string()]);
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ns.exec("wg", &args)?;
        self.ns
            .ip(&["addr", "add", &cfg.address, "dev", &self.iface])?;
        self.ns.ip(&[
            "link",
            "set",
            &self.iface,
            "mtu",
            &cfg.mtu.to_string(),
            "up",
        ])?;
        for cidr in cfg.peers.iter().flat_map(|p| &p.allowed_ips) {
            // `replace`: the address's own prefix route may already cover it.
            self.ns
                .ip(&["route", "replace", cidr, "dev", &self.iface])?;
        }
        Ok(())
    }

    /// The interface name (unique on the host).
    pub fn iface(&self) -> &str {
        &self.iface
    }

    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }

    /// `wg set IFACE ARGS…`, e.g. `["peer", KEY, "endpoint", "10.99.0.2:51820"]`.
    pub fn set(&self, args: &[&str]) -> Result<()> {
        let mut full = vec!["set", self.iface.as_str()];
        full.extend_from_slice(args);
        self.ns.exec("wg", &full).map(drop)
    }

    /// The peers as `wg show IFACE dump` reports them.
    pub fn dump(&self) -> Result<Vec<WgPeerStatus>> {
        let out = self.ns.exec("wg", &["show", &self.iface, "dump"])?;
        parse_dump(&out)
    }

    /// Waits until `peer` has completed a handshake; fails after `limit`.
    pub fn wait_for_handshake(&self, peer: &str, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let peers = self.dump()?;
            let p = peers
                .iter()
                .find(|p| p.public_key == peer)
                .ok_or_else(|| anyhow!("no peer {peer} on {}", self.iface))?;
            if p.latest_handshake.is_some() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "no handshake with {peer} on {} within {limit:?}",
                    self.iface
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for WgGo {
    fn drop(&mut self) {
        self.process.kill();
        // SIGKILL leaves the socket file behind.
        let _ = std::fs::remove_file(socket_path(&self.iface));
    }
}

fn socket_path(iface: &str) -> PathBuf {
    Path::new(SOCKET_DIR).join(format!("{iface}.sock"))
}

/// Deletes sockets of `wg<pid>n<k>` interfaces whose lab process is gone.
pub(crate) fn remove_stale_sockets() {
    let Ok(entries) = std::fs::read_dir(SOCKET_DIR) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix("wg")
            .and_then(|r| r.split('n').next())
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if name.ends_with(".sock") && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

// === wg-quick ===

/// The parts of a wg-quick config that are not `wg setconf`'s: what
/// wg-quick itself applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WgQuick {
    pub private_key: String,
    pub addresses: Vec<String>,
    pub dns: Vec<String>,
    pub allowed_ips: Vec<String>,
}

impl WgQuick {
    /// Reads `Key = value` lines per section, case-insensitively as
    /// wg-quick does; comma-separated lists.
    pub fn parse(conf: &str) -> Result<WgQuick> {
        let mut q = WgQuick::default();
        let mut section = String::new();
        for line in conf.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.starts_with('[') {
                section = line.to_ascii_lowercase();
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            let list = || {
                value
                    .split(',')
                    .map(|v| v.trim().to_string())
                    .collect::<Vec<_>>()
            };
            match (section.as_str(), key.as_str()) {
                ("[interface]", "privatekey") => q.private_key = value.to_string(),
                ("[interface]", "address") => q.addresses.extend(list()),
                ("[interface]", "dns") => q.dns.extend(list()),
                ("[peer]", "allowedips") => q.allowed_ips.extend(list()),
                _ => {}
            }
        }
        if q.private_key.is_empty() {
            bail!("wg-quick config without [Interface] PrivateKey");
        }
        Ok(q)
    }
}

// === impl WgPeerStatus ===

/// One peer line of `wg show IFACE dump`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgPeerStatus {
    pub public_key: String,
    pub endpoint: Option<String>,
    pub allowed_ips: Vec<String>,
    /// The latest handshake, if any.
    pub latest_handshake: Option<SystemTime>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub persistent_keepalive: Option<u16>,
}

/// Parses `wg show IFACE dump`: an interface line (4 fields), then one line
/// per peer: public key, preshared key, endpoint, allowed IPs, latest
/// handshake (unix seconds, 0 = never), rx bytes, tx bytes, keepalive.
pub fn parse_dump(text: &str) -> Result<Vec<WgPeerStatus>> {
    let none = |s: &str| (s != "(none)" && s != "off" && !s.is_empty()).then(|| s.to_string());
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 8 {
                bail!("unexpected wg dump line: {line:?}");
            }
            let secs: u64 = f[4]
                .parse()
                .with_context(|| format!("handshake time in {line:?}"))?;
            Ok(WgPeerStatus {
                public_key: f[0].to_string(),
                endpoint: none(f[2]),
                allowed_ips: none(f[3])
                    .map(|s| s.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
                latest_handshake: (secs != 0).then(|| UNIX_EPOCH + Duration::from_secs(secs)),
                rx_bytes: f[5]
                    .parse()
                    .with_context(|| format!("rx bytes in {line:?}"))?,
                tx_bytes: f[6]
                    .parse()
                    .with_context(|| format!("tx bytes in {line:?}"))?,
                persistent_keepalive: none(f[7]).and_then(|s| s.parse().ok()),
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "wggo_tests.rs"]
mod tests;
