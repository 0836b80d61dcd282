//! The four iperf3 setups. Each builds its own pair of namespaces, A (the
//! client side, 10.99.0.1) and B (the server side, 10.99.0.2), joined by a
//! veth pair; the tunnel runs 100.64.0.1 (A) ↔ 100.64.0.2 (B).

use std::any::Any;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use wingress_lab::{
    spawn_wingress, veth, write_private_key, Forward, ForwardConfig, Iperf3Client, Iperf3Server,
    KeyPair, Lab, Netns, ServerConfig, ServerPeer, WgGo, WgGoConfig, WgPeer,
};

use crate::median;

const A_VETH: &str = "10.99.0.1/24";
const B_VETH: &str = "10.99.0.2/24";
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const A_TUNNEL: &str = "100.64.0.1";
const B_TUNNEL: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
const WG_PORT: u16 = 51820;
const IPERF_PORT: u16 = 5201;
/// The host-side listener of `wingress forward` and onetun in A.
const FORWARD_PORT: u16 = 15201;
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
pub(crate) const READY: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Setup {
    A,
    B,
    C,
    D,
}

impl FromStr for Setup {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "a" => Ok(Setup::A),
            "b" => Ok(Setup::B),
            "c" => Ok(Setup::C),
            "d" => Ok(Setup::D),
            other => Err(format!("unknown setup {other:?} (expected a, b, c or d)")),
        }
    }
}

impl Setup {
    fn label(self) -> &'static str {
        match self {
            Setup::A => "a) wireguard-go -> wireguard-go (baseline)",
            Setup::B => "b) wireguard-go -> wingress run",
            Setup::C => "c) wingress forward -> wingress run",
            Setup::D => "d) onetun -> wireguard-go",
        }
    }
}

/// A built setup: where the iperf3 client runs and what it connects to.
/// `guards` keeps peers, servers and namespaces alive until it is dropped.
struct Topology {
    client: Netns,
    host: IpAddr,
    port: u16,
    _guards: Vec<Box<dyn Any>>,
}

/// The medians of one setup, in Gbit/s, or why there is none.
struct Measured {
    up: Result<f64, String>,
    down: Result<f64, String>,
}

pub(crate) struct Bench<'a> {
    pub lab: &'a Lab,
    pub runs: usize,
    pub seconds: u32,
    pub wingress: PathBuf,
    pub onetun: PathBuf,
}

impl Bench<'_> {
    /// Measures every setup (a failing one is reported and skipped), prints
    /// a table and its markdown form. Fails if any setup failed.
    pub(crate) fn run(&self, setups: &[Setup]) -> Result<ExitCode> {
        let mut results = Vec::new();
        for &setup in setups {
            eprintln!("== {} ==", setup.label());
            let m = match self.build(setup) {
                Ok(topo) => {
                    let m = Measured {
                        up: self.median_of_runs(&topo, false),
                        down: self.median_of_runs(&topo, true),
                    };
                    drop(topo);
                    m
                }
                Err(e) => {
                    let why = format!("setup failed: {e:#}");
                    eprintln!("{why}");
                    Measured {
                        up: Err(why.clone()),
                        down: Err(why),
                    }
                }
            };
            results.push((setup, m));
        }
        self.report(&results);
        let failed = results
            .iter()
            .any(|(_, m)| m.up.is_err() || m.down.is_err());
        Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }

    fn median_of_runs(&self, topo: &Topology, reverse: bool) -> Result<f64, String> {
        let client = Iperf3Client::default()
            .seconds(self.seconds)
            .reverse(reverse);
        let dir = if reverse { "down" } else { "up" };
        let mut values = Vec::new();
        let mut errors = Vec::new();
        for i in 1..=self.runs {
            match client.run(&topo.client, topo.host, topo.port) {
                Ok(r) => {
                    eprintln!(
                        "  {dir} run {i}: {:.3} Gbit/s (retransmits {:?})",
                        r.gbps(),
                        r.retransmits
                    );
                    values.push(r.gbps());
                }
                Err(e) => {
                    eprintln!("  {dir} run {i}: failed: {e:#}");
                    errors.push(format!("{e:#}"));
                }
            }
        }
        median(values)
            .ok_or_else(|| format!("all {} runs failed; first error: {}", self.runs, errors[0]))
    }

    fn build(&self, setup: Setup) -> Result<Topology> {
        let a = self.lab.netns()?;
        let b = self.lab.netns()?;
        veth(&a, A_VETH, &b, B_VETH)?;
        let dir = self
            .lab
            .dir()
            .join(format!("setup-{setup:?}").to_lowercase());
        std::fs::create_dir_all(&dir)?;
        let mut guards: Vec<Box<dyn Any>> = Vec::new();
        let (host, port) = match setup {
            Setup::A => {
                let (ka, kb) = (KeyPair::generate()?, KeyPair::generate()?);
                guards.push(Box::new(wg_server(&b, &kb, &ka.public)?));
                guards.push(Box::new(Iperf3Server::start(
                    &b,
                    B_TUNNEL.into(),
                    IPERF_PORT,
                )?));
                let wga = wg_client(&a, ka, &kb.public, SocketAddr::new(B_IP.into(), WG_PORT))?;
                wait_tunnel(&a, &wga, &kb.public)?;
                guards.push(Box::new(wga));
                (B_TUNNEL.into(), IPERF_PORT)
            }
            Setup::B => {
                let (ka, ks) = (KeyPair::generate()?, KeyPair::generate()?);
                guards.push(Box::new(Iperf3Server::start(&b, LOCALHOST, IPERF_PORT)?));
                let (daemon, port) = self.wingress_server(&b, &dir, &ks, &ka.public)?;
                guards.push(Box::new(daemon));
                let wga = wg_client(&a, ka, &ks.public, SocketAddr::new(B_IP.into(), port))?;
                wait_tunnel(&a, &wga, &ks.public)?;
                guards.push(Box::new(wga));
                (B_TUNNEL.into(), IPERF_PORT)
            }
            Setup::C => {
                let (kc, ks) = (KeyPair::generate()?, KeyPair::generate()?);
                guards.push(Box::new(Iperf3Server::start(&b, LOCALHOST, IPERF_PORT)?));
                let (daemon, port) = self.wingress_server(&b, &dir, &ks, &kc.public)?;
                guards.push(Box::new(daemon));
                guards.push(Box::new(
                    self.wingress_forward(&a, &dir, &kc, &ks.public, port)?,
                ));
                (LOCALHOST, FORWARD_PORT)
            }
            Setup::D => {
                let (ko, kb) = (KeyPair::generate()?, KeyPair::generate()?);
                guards.push(Box::new(wg_server(&b, &kb, &ko.public)?));
                guards.push(Box::new(Iperf3Server::start(
                    &b,
                    B_TUNNEL.into(),
                    IPERF_PORT,
                )?));
                guards.push(Box::new(self.onetun(&a, &ko, &kb.public)?));
                (LOCALHOST, FORWARD_PORT)
            }
        };
        guards.push(Box::new(b));
        Ok(Topology {
            client: a,
            host,
            port,
            _guards: guards,
        })
    }

    /// `wingress run` in `b`, forwarding tunnel TCP and UDP 5201 to
    /// 127.0.0.1:5201; returns the process and its UDP port.
    fn wingress_server(
        &self,
        b: &Netns,
        dir: &Path,
        keys: &KeyPair,
        client_pub: &str,
    ) -> Result<(wingress_lab::Process, u16)> {
        let server_dir = dir.join("server");
        std::fs::create_dir_all(&server_dir)?;
        write_private_key(&server_dir, "server.key", &keys.private)?;
        let cfg = ServerConfig {
            node_ip: B_IP,
            state_dir: server_dir.join("state"),
            private_key_file: "server.key".into(),
            address: format!("{B_TUNNEL}/24"),
            peers: vec![ServerPeer {
                name: "laptop".into(),
                public_key: client_pub.into(),
                allowed_ips: vec![format!("{A_TUNNEL}/32")],
                persistent_keepalive: Some(25),
            }],
            tcp: vec![(IPERF_PORT, format!("127.0.0.1:{IPERF_PORT}"))],
            udp: vec![(IPERF_PORT, format!("127.0.0.1:{IPERF_PORT}"))],
        };
        let path = server_dir.join("server.toml");
        std::fs::write(&path, cfg.to_toml())?;
        let path = path.display().to_string();
        let mut p = spawn_wingress(
            b,
            &self.wingress,
            "wingress-run",
            &["run", "--config", &path],
        )
        .with_context(|| format!("cannot start {}", self.wingress.display()))?;
        b.wait_listening_by(&mut p, "udp", cfg.port(), READY)?;
        Ok((p, cfg.port()))
    }

    /// `wingress forward` in `a`: 127.0.0.1:15201 → 100.64.0.2:5201 over TCP.
    fn wingress_forward(
        &self,
        a: &Netns,
        dir: &Path,
        keys: &KeyPair,
        server_pub: &str,
        port: u16,
    ) -> Result<wingress_lab::Process> {
        let client_dir = dir.join("client");
        std::fs::create_dir_all(&client_dir)?;
        write_private_key(&client_dir, "client.key", &keys.private)?;
        let cfg = ForwardConfig {
            private_key_file: "client.key".into(),
            address: format!("{A_TUNNEL}/32"),
            peer_public_key: server_pub.into(),
            endpoint: SocketAddr::new(B_IP.into(), port),
            allowed_ips: vec!["100.64.0.0/24".into()],
            persistent_keepalive: Some(25),
            forwards: vec![Forward {
                listen: SocketAddr::new(LOCALHOST, FORWARD_PORT),
                target: SocketAddr::new(B_TUNNEL.into(), IPERF_PORT),
                protocol: "tcp".into(),
            }],
        };
        let path = client_dir.join("client.toml");
        std::fs::write(&path, cfg.to_toml())?;
        let path = path.display().to_string();
        let mut p = spawn_wingress(
            a,
            &self.wingress,
            "wingress-forward",
            &["forward", "--config", &path],
        )?;
        a.wait_listening_by(&mut p, "tcp", FORWARD_PORT, READY)?;
        Ok(p)
    }

    /// onetun in `a`: 127.0.0.1:15201 → 100.64.0.2:5201 through wireguard-go in B.
    fn onetun(&self, a: &Netns, keys: &KeyPair, server_pub: &str) -> Result<wingress_lab::Process> {
        if wingress_lab::find_program(&self.onetun.display().to_string()).is_none()
            && !self.onetun.is_file()
        {
            bail!(
                "onetun not found ({}); install it with: cargo install onetun --locked",
                self.onetun.display()
            );
        }
        let endpoint = SocketAddr::new(B_IP.into(), WG_PORT).to_string();
        let forward = format!("127.0.0.1:{FORWARD_PORT}:{B_TUNNEL}:{IPERF_PORT}");
        let args = [
            "--private-key",
            &keys.private,
            "--endpoint-public-key",
            server_pub,
            "--endpoint-addr",
            &endpoint,
            "--source-peer-ip",
            A_TUNNEL,
            "--keep-alive",
            "10",
            &forward,
        ];
        let mut p = a.spawn("onetun", &self.onetun, &args)?;
        a.wait_listening_by(&mut p, "tcp", FORWARD_PORT, READY)?;
        Ok(p)
    }

    fn report(&self, results: &[(Setup, Measured)]) {
        let cell = |r: &Result<f64, String>| match r {
            Ok(v) => format!("{v:.3}"),
            Err(_) => "failed".to_string(),
        };
        let get = |s: Setup| results.iter().find(|(x, _)| *x == s).map(|(_, m)| m);
        let ratio = |x: Setup, y: Setup, down: bool| -> String {
            let pick = |m: &Measured| {
                if down {
                    m.down.clone().ok()
                } else {
                    m.up.clone().ok()
                }
            };
            match (get(x).and_then(pick), get(y).and_then(pick)) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
                _ => "n/a".into(),
            }
        };
        let ratios = [
            ("b/a", Setup::B, Setup::A),
            ("c/a", Setup::C, Setup::A),
            ("c/d", Setup::C, Setup::D),
        ];
        let what = format!(
            "single-stream iperf3 TCP; median of {} runs x {} s (+1 s omitted); up = A->B, down = -R; {} cores, kernel {}",
            self.runs,
            self.seconds,
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            kernel()
        );

        println!("\n{what}");
        println!("{:<45} {:>12} {:>12}", "setup", "up Gbit/s", "down Gbit/s");
        for (s, m) in results {
            println!(
                "{:<45} {:>12} {:>12}",
                s.label(),
                cell(&m.up),
                cell(&m.down)
            );
        }
        for (name, x, y) in ratios {
            println!(
                "{:<45} {:>12} {:>12}",
                format!("ratio {name}"),
                ratio(x, y, false),
                ratio(x, y, true)
            );
        }
        for (s, m) in results {
            for (dir, r) in [("up", &m.up), ("down", &m.down)] {
                if let Err(e) = r {
                    println!("{} {dir}: {e}", s.label());
                }
            }
        }

        println!("\n<!-- wingress-lab-bench iperf3 -->");
        println!("| setup ({what}) | up Gbit/s | down Gbit/s |");
        println!("|---|---:|---:|");
        for (s, m) in results {
            println!(
                "| {} | {} | {} |",
                s.label().replace("->", "→"),
                cell(&m.up),
                cell(&m.down)
            );
        }
        for (name, x, y) in ratios {
            println!(
                "| ratio {name} | {} | {} |",
                ratio(x, y, false),
                ratio(x, y, true)
            );
        }
    }
}

/// wireguard-go in `b` on 100.64.0.2/24, port 51820, accepting `client_pub` as 100.64.0.1.
fn wg_server(b: &Netns, keys: &KeyPair, client_pub: &str) -> Result<WgGo> {
    let cfg = WgGoConfig::new(keys.clone(), WG_PORT, &format!("{B_TUNNEL}/24"))
        .peer(WgPeer::new(client_pub, &[&format!("{A_TUNNEL}/32")]));
    WgGo::start(b, &cfg)
}

/// wireguard-go in `a` on 100.64.0.1/24, talking to `server_pub` at `endpoint`.
pub(crate) fn wg_client(
    a: &Netns,
    keys: KeyPair,
    server_pub: &str,
    endpoint: SocketAddr,
) -> Result<WgGo> {
    let peer = WgPeer::new(server_pub, &[&format!("{B_TUNNEL}/32")])
        .endpoint(endpoint)
        .keepalive(25);
    WgGo::start(
        a,
        &WgGoConfig::new(keys, WG_PORT, &format!("{A_TUNNEL}/24")).peer(peer),
    )
}

/// Pings the far end until the handshake is done and a reply comes back.
pub(crate) fn wait_tunnel(a: &Netns, wg: &WgGo, server_pub: &str) -> Result<()> {
    a.wait_ping(&B_TUNNEL.to_string(), READY)?;
    wg.wait_for_handshake(server_pub, READY)
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
