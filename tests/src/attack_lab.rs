//! The attack lab's topology, for `tests/attack_lab.rs` and the `attack`
//! and `soak` benchmarks: a real wireguard-go peer, `wingress run`, and an
//! attacker with 65 source addresses.
//!
//! ```text
//! C 10.98.0.1 ── 10.98.0.2 S 10.98.1.2 ── 10.98.1.1 X (+ 10.98.1.100-163)
//! wireguard-go        wingress run            wingress-attack
//! ```
//!
//! The tunnel runs 100.64.0.1 (C) ↔ 100.64.0.2 (S); the daemon listens on
//! UDP 41602 and forwards tunnel TCP port 5201 to 127.0.0.1:5201 in S,
//! where [`Topology::iperf3_server`] starts iperf3. The peer's endpoint is
//! read from the same status document `wingress status --json` prints
//! (`GET /status` on the admin socket), so it can be read from threads and
//! often.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use nix::sys::signal::Signal;
use serde_json::Value;

use crate::iperf::Iperf3Server;
use crate::netns::{veth, Netns};
use crate::process::Process;
use crate::wggo::{KeyPair, WgGo, WgGoConfig, WgPeer};
use crate::wingress::{admin, metric, spawn_wingress, write_private_key, ServerConfig, ServerPeer};
use crate::Lab;

const S_IP: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 2);
/// Where the daemon sees the real peer.
pub const C_ENDPOINT: &str = "10.98.0.1:51820";
pub const C_TUNNEL: &str = "100.64.0.1";
pub const S_TUNNEL: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
/// X reaches the daemon on S's other veth address.
pub const TARGET: &str = "10.98.1.2:41602";
/// The first of X's 64 extra source addresses.
pub const X_SOURCES: &str = "10.98.1.100";
/// The tunnel TCP port forwarded to iperf3 in S.
pub const IPERF_PORT: u16 = 5201;
const READY: Duration = Duration::from_secs(60);

/// The running lab. Dropping it stops everything.
pub struct Topology {
    pub c: Netns,
    pub s: Netns,
    pub x: Netns,
    pub daemon: Process,
    pub wg: WgGo,
    pub server_key: String,
    pub client_key: String,
    /// The daemon's config file, and the config it holds.
    pub config: PathBuf,
    cfg: ServerConfig,
    /// The daemon's admin socket.
    pub socket: PathBuf,
    attack_bin: PathBuf,
}

impl Topology {
    /// Builds the namespaces, starts `daemon_bin run` and wireguard-go, and
    /// waits for a ping through the tunnel. `attack_bin` is the
    /// `wingress-attack` that [`Topology::attack`] runs.
    pub fn start(lab: &Lab, daemon_bin: &Path, attack_bin: &Path) -> Result<Topology> {
        let (c, s, x) = (lab.netns()?, lab.netns()?, lab.netns()?);
        veth(&c, "10.98.0.1/24", &s, "10.98.0.2/24")?;
        let xs = veth(&x, "10.98.1.1/24", &s, "10.98.1.2/24")?;
        for i in 0..64 {
            x.ip(&[
                "addr",
                "add",
                &format!("10.98.1.{}/24", 100 + i),
                "dev",
                &xs.a,
            ])?;
        }
        let (kc, ks) = (KeyPair::generate()?, KeyPair::generate()?);
        let dir = lab.dir().join("server");
        std::fs::create_dir_all(&dir)?;
        write_private_key(&dir, "server.key", &ks.private)?;
        let cfg = ServerConfig {
            node_ip: S_IP,
            state_dir: dir.join("state"),
            private_key_file: "server.key".into(),
            address: format!("{S_TUNNEL}/24"),
            peers: vec![ServerPeer {
                name: "laptop".into(),
                public_key: kc.public.clone(),
                allowed_ips: vec![format!("{C_TUNNEL}/32")],
                persistent_keepalive: None,
            }],
            tcp: vec![(IPERF_PORT, format!("127.0.0.1:{IPERF_PORT}"))],
            udp: vec![],
        };
        let config = dir.join("server.toml");
        std::fs::write(&config, cfg.to_toml())?;
        let args = ["run", "--config", &config.display().to_string()];
        let mut daemon = spawn_wingress(&s, daemon_bin, "wingress-run", &args)
            .with_context(|| format!("cannot start {}", daemon_bin.display()))?;
        s.wait_listening_by(&mut daemon, "udp", cfg.port(), READY)?;
        let wg = WgGo::start(
            &c,
            &WgGoConfig::new(kc.clone(), 51820, &format!("{C_TUNNEL}/24"))
                .peer(client_peer(&ks.public)),
        )?;
        c.wait_ping(&S_TUNNEL.to_string(), READY)?;
        Ok(Topology {
            c,
            s,
            x,
            daemon,
            wg,
            server_key: ks.public,
            client_key: kc.public,
            socket: cfg.state_dir.join("admin.sock"),
            config,
            cfg,
            attack_bin: attack_bin.to_path_buf(),
        })
    }

    /// The status document (`GET /status`, what `wingress status --json`
    /// prints).
    pub fn status(&self) -> Result<Value> {
        self.watch().status()
    }

    /// The peer's endpoint as the daemon sees it.
    pub fn endpoint(&self) -> Result<String> {
        self.watch().endpoint()
    }

    /// What reads the endpoint from another thread.
    pub fn watch(&self) -> EndpointWatch {
        EndpointWatch {
            socket: self.socket.clone(),
            client_key: self.client_key.clone(),
        }
    }

    /// `GET /metrics`.
    pub fn metrics(&self) -> Result<String> {
        let (code, body) = admin(&self.socket, "GET", "/metrics")?;
        ensure!(code == 200, "/metrics: {code} {body}");
        Ok(body)
    }

    /// Reloads that succeeded and failed so far
    /// (`wingress_config_reloads_total`).
    pub fn reloads(&self) -> Result<(u64, u64)> {
        let m = self.metrics()?;
        let count = |r: &str| {
            metric(
                &m,
                "wingress_config_reloads_total",
                &format!("result=\"{r}\""),
            )
            .unwrap_or(0.0) as u64
        };
        Ok((count("ok"), count("failed")))
    }

    /// One ping from C to the daemon's tunnel address (1 s limit).
    pub fn ping(&self) -> Result<()> {
        self.c
            .exec("ping", &["-c", "1", "-W", "1", "-n", &S_TUNNEL.to_string()])
            .map(drop)
    }

    /// `iperf3 -s` on 127.0.0.1:5201 in S, behind the daemon's `[[tcp]]`.
    pub fn iperf3_server(&self) -> Result<Iperf3Server> {
        Iperf3Server::start(&self.s, IpAddr::V4(Ipv4Addr::LOCALHOST), IPERF_PORT)
    }

    /// Starts `wingress-attack KIND ARGS` in X at the daemon, at nice
    /// `nice`. A real attacker's CPU is not the daemon's: at the lowest
    /// priority (19) the sender takes what the daemon leaves of the cores
    /// they share here.
    pub fn attack_niced(&self, kind: &str, nice: i32, args: &[&str]) -> Result<Process> {
        let attack = self.attack_bin.display().to_string();
        let nice = nice.to_string();
        let mut all = vec!["-n", &nice, &attack, kind];
        all.extend(["--server-key", &self.server_key, "--target", TARGET]);
        all.extend_from_slice(args);
        self.x.spawn(&format!("attack-{kind}"), "nice", &all)
    }

    /// [`Topology::attack_niced`] at nice 19.
    pub fn attack(&self, kind: &str, args: &[&str]) -> Result<Process> {
        self.attack_niced(kind, 19, args)
    }

    /// wireguard-go forgets the server and meets it again: the time until
    /// its new handshake completes, or an error after `limit`.
    pub fn new_handshake(&self, limit: Duration) -> Result<Duration> {
        let started = self.forget_server()?;
        // A packet to send starts the handshake; wireguard-go retries it.
        let _ = self.ping();
        self.wg
            .wait_for_handshake(&self.server_key, limit.saturating_sub(started.elapsed()))?;
        Ok(started.elapsed())
    }

    /// wireguard-go forgets the server and meets it again: the time until
    /// the first ping through the new session is answered, or an error
    /// after `limit`.
    pub fn new_handshake_to_ping(&self, limit: Duration) -> Result<Duration> {
        let started = self.forget_server()?;
        while started.elapsed() < limit {
            if self.ping().is_ok() {
                return Ok(started.elapsed());
            }
        }
        anyhow::bail!("no ping answered within {limit:?} of a new handshake")
    }

    /// Removes the server from wireguard-go and adds it back (same
    /// endpoint and allowed IPs), so the next packet needs a new
    /// handshake. Returns when the peer was added back.
    fn forget_server(&self) -> Result<Instant> {
        self.wg.set(&["peer", &self.server_key, "remove"])?;
        let peer = client_peer(&self.server_key);
        let endpoint = peer.endpoint.map(|e| e.to_string()).unwrap_or_default();
        let allowed = peer.allowed_ips.join(",");
        let started = Instant::now();
        self.wg.set(&[
            "peer",
            &self.server_key,
            "endpoint",
            &endpoint,
            "allowed-ips",
            &allowed,
        ])?;
        Ok(started)
    }

    /// Rewrites the daemon's config with the real peer plus `extra` and
    /// sends SIGHUP (the daemon would also see the file change within
    /// about two seconds).
    pub fn reload_with(&self, extra: &[ServerPeer]) -> Result<()> {
        let mut cfg = self.cfg.clone();
        cfg.peers.extend_from_slice(extra);
        let tmp = self.config.with_extension("toml.new");
        std::fs::write(&tmp, cfg.to_toml())?;
        // A rename, so the daemon never reads half a file.
        std::fs::rename(&tmp, &self.config)?;
        self.daemon.signal(Signal::SIGHUP)
    }

    /// The daemon's resident memory (VmRSS, KiB) and open file descriptors.
    pub fn daemon_usage(&self) -> Result<(u64, usize)> {
        process_usage(self.daemon.pid())
    }
}

/// VmRSS (KiB) and the number of entries in `/proc/PID/fd` of `pid`.
pub fn process_usage(pid: u32) -> Result<(u64, usize)> {
    let rss = crate::status_kib(pid, "VmRSS")?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .with_context(|| format!("/proc/{pid}/fd"))?
        .count();
    Ok((rss, fds))
}

/// The server as wireguard-go in C knows it.
fn client_peer(server_key: &str) -> WgPeer {
    WgPeer::new(server_key, &[&format!("{S_TUNNEL}/32")]).endpoint(SocketAddr::from((S_IP, 41602)))
}

// === impl EndpointWatch ===

/// Reads the real peer's endpoint from the daemon's status; `Send`, for a
/// thread that reads it over and over during a flood.
#[derive(Debug, Clone)]
pub struct EndpointWatch {
    socket: PathBuf,
    client_key: String,
}

impl EndpointWatch {
    /// The status document.
    pub fn status(&self) -> Result<Value> {
        let (code, body) = admin(&self.socket, "GET", "/status")?;
        ensure!(code == 200, "/status: {code} {body}");
        serde_json::from_str(&body).context("/status is not JSON")
    }

    /// The real peer's endpoint (`none` before it has one).
    pub fn endpoint(&self) -> Result<String> {
        let doc = self.status()?;
        let peer = doc["peers"]
            .as_array()
            .and_then(|p| {
                p.iter()
                    .find(|p| p["public_key"] == self.client_key.as_str())
            })
            .with_context(|| format!("no peer in {doc}"))?;
        Ok(peer["endpoint"].as_str().unwrap_or("none").to_string())
    }
}

/// The attack tool's summary line (`{"kind":…}`).
pub fn flood_summary(flood: &Process) -> Result<Value> {
    let line = flood
        .log()
        .lines()
        .find(|l| l.starts_with("{\"kind\""))
        .map(str::to_string)
        .with_context(|| format!("no summary from {}: {}", flood.name(), flood.log()))?;
    serde_json::from_str(&line).with_context(|| format!("summary {line}"))
}
