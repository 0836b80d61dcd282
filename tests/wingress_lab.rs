//! Lab tests of wingress itself with real peers in network namespaces:
//! wireguard-go → `wingress run`, `wingress forward` → wireguard-go,
//! `wingress forward` → `wingress run`, and the last over a lossy,
//! reordering link (the `wingress-impair` relay).
//!
//! Namespace A (10.99.0.1) is the client side, B (10.99.0.2) the server
//! side, joined by veth; the tunnel runs 100.64.0.1 (A) ↔ 100.64.0.2 (B) and
//! `wingress run` in B listens on UDP 41600 + 2.
//!
//! Root only; see `wingress_lab::lab_or_skip` for WINGRESS_LAB. The wingress
//! binary is `WINGRESS_BIN` when set, else the one `cargo test --workspace`
//! built beside these tests (`wingress_lab::wingress_bin`).

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, ensure, Context, Result};
use wingress_lab::process::run_command;
use wingress_lab::{
    eventually, lab_or_skip, pattern, spawn_wingress, veth, write_private_key, Forward,
    ForwardConfig, Iperf3Client, Iperf3Server, KeyPair, Lab, Netns, Process, ServerConfig,
    ServerPeer, WgGo, WgGoConfig, WgPeer,
};

const A_VETH: &str = "10.99.0.1/24";
const B_VETH: &str = "10.99.0.2/24";
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const A_TUNNEL: &str = "100.64.0.1";
const B_TUNNEL: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
const WG_GO_PORT: u16 = 51820;
const IPERF_PORT: u16 = 5201;
/// Backends in B: a TCP sink that replies with what it hashed, a TCP
/// source that sends a payload, a UDP echo.
const SINK_PORT: u16 = 9000;
const SOURCE_PORT: u16 = 9001;
const ECHO_PORT: u16 = 9002;
/// `wingress forward`'s host sockets in A: TCP to the sink and UDP to the
/// echo share one port; TCP to the source has its own.
const FWD_PORT: u16 = 15000;
const FWD_SOURCE_PORT: u16 = 15001;
const RELAY_PORT: u16 = 40000;
const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// Limit for readiness (processes listening, first handshakes). Never a
/// speed assertion: a slow machine only waits longer.
const READY: Duration = Duration::from_secs(60);
/// A backend socket call that makes no progress for this long gives up.
const STALL: Duration = Duration::from_secs(120);
/// Limit for a transfer of a few MiB over a clean link.
const SHORT_LIMIT: Duration = Duration::from_secs(60);
/// Limit for the two 50 MiB transfers (at once) over the impaired link. A
/// safety net, not a speed requirement: it keeps a stalled or very slow
/// run from holding up the suite, and the error says how far it got.
const BAD_LINK_LIMIT: Duration = Duration::from_secs(300);

fn sock(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(ip.into(), port)
}

#[path = "wingress_lab/traffic.rs"]
mod traffic;

use traffic::{
    iperf3_udp, send_to_sink, transfers, udp_round_trips, Backends, Serve, TcpBackend, UdpEcho,
};

// === the tests ===

/// wireguard-go on a real TUN in A → `wingress run` in B: ping, iperf3 TCP
/// both ways and UDP, RST for an unconfigured port, and a daemon restart
/// that the client's next handshake recovers from.
#[test]
fn wireguard_go_client_to_wingress_run() -> Result<()> {
    let Some(lab) = lab_or_skip(&["wireguard-go", "wg", "iperf3", "ping"]) else {
        return Ok(());
    };
    with_logs(&lab, wireguard_go_client_to_wingress_run_in(&lab))
}

fn wireguard_go_client_to_wingress_run_in(lab: &Lab) -> Result<()> {
    let bin = wingress()?;
    let started = Instant::now();
    let (a, b) = namespaces(lab)?;
    let (ka, ks) = (KeyPair::generate()?, KeyPair::generate()?);
    let _iperf = Iperf3Server::start(&b, LOCALHOST.into(), IPERF_PORT)?;
    let _sink = TcpBackend::start(&b, sock(LOCALHOST, SINK_PORT), Serve::Sink)?;
    let _echo = UdpEcho::start(&b, sock(LOCALHOST, ECHO_PORT))?;
    let server = ServerSetup::write(
        lab,
        &bin,
        &ks,
        &ka.public,
        &[(IPERF_PORT, IPERF_PORT), (SINK_PORT, SINK_PORT)],
        &[(IPERF_PORT, IPERF_PORT), (ECHO_PORT, ECHO_PORT)],
    )?;
    let mut daemon = server.spawn(&b)?;

    let peer = WgPeer::new(&ks.public, &[&format!("{B_TUNNEL}/32")])
        .endpoint(sock(B_IP, server.port))
        .keepalive(25);
    let wga = WgGo::start(
        &a,
        &WgGoConfig::new(ka, WG_GO_PORT, &format!("{A_TUNNEL}/24")).peer(peer),
    )?;
    a.wait_ping(&B_TUNNEL.to_string(), READY)?;
    wga.wait_for_handshake(&ks.public, READY)?;

    let mut checks = Checks::default();
    let client = Iperf3Client {
        seconds: 2,
        omit: 0,
        ..Iperf3Client::default()
    };
    checks.run("iperf3 TCP up and down (-R)", || {
        let up = client.run(&a, B_TUNNEL.into(), IPERF_PORT)?;
        let down = client
            .clone()
            .reverse(true)
            .run(&a, B_TUNNEL.into(), IPERF_PORT)?;
        eprintln!(
            "iperf3 TCP: up {} bytes ({:.3} Gbit/s), down {} bytes ({:.3} Gbit/s)",
            up.bytes,
            up.gbps(),
            down.bytes,
            down.gbps()
        );
        ensure!(up.bytes > 0, "iperf3 up moved no bytes: {up:?}");
        ensure!(down.bytes > 0, "iperf3 -R moved no bytes: {down:?}");
        Ok(())
    });
    checks.run("UDP echo round trips", || {
        udp_round_trips(&a, sock(B_TUNNEL, ECHO_PORT))
    });
    checks.run("iperf3 UDP -b 100M", || {
        let udp = iperf3_udp(&a, &client.clone().udp("100M"))?;
        eprintln!(
            "iperf3 UDP: {} of {} datagrams received, {:.2}% lost",
            udp.received, udp.packets, udp.lost_percent
        );
        ensure!(udp.received > 0, "no UDP datagram arrived: {udp:?}");
        Ok(())
    });
    checks.run("TCP to an unconfigured port is refused", || {
        // The daemon answers a SYN to a port it does not forward with RST.
        let t = Instant::now();
        let closed = sock(B_TUNNEL, 9);
        let r = a.run(|| TcpStream::connect_timeout(&closed, Duration::from_secs(10)))?;
        let took = t.elapsed();
        match r {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                eprintln!("{closed} refused after {took:?}");
                Ok(())
            }
            other => {
                bail!("{closed}: expected connection refused (RST), got {other:?} after {took:?}")
            }
        }
    });
    checks.run("a restarted daemon gets a new handshake", || {
        // A restart forgets every session; wireguard-go keeps sending on
        // its old one, hears nothing back and handshakes again (~15 s).
        let before = latest_handshake(&wga, &ks.public)?;
        let status = daemon.stop();
        ensure!(
            status.is_some_and(|s| s.success()),
            "wingress run did not exit cleanly on SIGTERM ({status:?}); log:\n{}",
            daemon.log()
        );
        let _daemon = server.spawn(&b)?;
        let t = Instant::now();
        let data = pattern(1 << 20, 11);
        eventually(READY, || {
            send_to_sink(&a, sock(B_TUNNEL, SINK_PORT), &data, Duration::from_secs(5))?.check(&data)
        })
        .context("TCP through the restarted daemon")?;
        let after = latest_handshake(&wga, &ks.public)?;
        eprintln!(
            "after the restart: a new handshake and 1 MiB through in {:?}",
            t.elapsed()
        );
        ensure!(
            after > before,
            "no new handshake after the restart: {before:?} then {after:?}"
        );
        Ok(())
    });
    eprintln!("test took {:?}", started.elapsed());
    checks.finish()
}

/// `wingress forward` in A (no TUN there) → wireguard-go on a TUN in B.
#[test]
fn wingress_forward_to_wireguard_go() -> Result<()> {
    let Some(lab) = lab_or_skip(&["wireguard-go", "wg"]) else {
        return Ok(());
    };
    with_logs(&lab, wingress_forward_to_wireguard_go_in(&lab))
}

fn wingress_forward_to_wireguard_go_in(lab: &Lab) -> Result<()> {
    let bin = wingress()?;
    let started = Instant::now();
    let (a, b) = namespaces(lab)?;
    let (kc, kb) = (KeyPair::generate()?, KeyPair::generate()?);
    let wgb = WgGo::start(
        &b,
        &WgGoConfig::new(kb.clone(), WG_GO_PORT, &format!("{B_TUNNEL}/24"))
            .peer(WgPeer::new(&kc.public, &[&format!("{A_TUNNEL}/32")])),
    )?;
    // Bound to the TUN's address: reached only through the tunnel.
    let backends = Backends::start(&b, B_TUNNEL, 4 << 20, 21)?;
    let _forward = start_forward(lab, &a, &bin, &kc, &kb.public, sock(B_IP, WG_GO_PORT))?;
    wgb.wait_for_handshake(&kc.public, READY)?;

    transfers(&a, &backends, SHORT_LIMIT)?;
    udp_round_trips(&a, sock(LOCALHOST, FWD_PORT))?;
    eprintln!("test took {:?}", started.elapsed());
    Ok(())
}

/// `wingress forward` in A → `wingress run` in B: no TUN anywhere.
#[test]
fn wingress_forward_to_wingress_run() -> Result<()> {
    let Some(lab) = lab_or_skip(&[]) else {
        return Ok(());
    };
    with_logs(&lab, wingress_forward_to_wingress_run_in(&lab))
}

fn wingress_forward_to_wingress_run_in(lab: &Lab) -> Result<()> {
    let bin = wingress()?;
    let started = Instant::now();
    let (a, b) = namespaces(lab)?;
    let (kc, ks) = (KeyPair::generate()?, KeyPair::generate()?);
    let backends = Backends::start(&b, LOCALHOST, 8 << 20, 31)?;
    let server = backend_server(lab, &bin, &ks, &kc.public)?;
    let _daemon = server.spawn(&b)?;
    let _forward = start_forward(lab, &a, &bin, &kc, &ks.public, sock(B_IP, server.port))?;

    transfers(&a, &backends, SHORT_LIMIT)?;
    udp_round_trips(&a, sock(LOCALHOST, FWD_PORT))?;
    eprintln!("test took {:?}", started.elapsed());
    Ok(())
}

/// `wingress forward` → `wingress run` with 2% loss and 5% reordering of
/// the WireGuard datagrams, both ways: 50 MiB each way arrive intact and
/// both connections close cleanly.
#[test]
fn wingress_forward_to_wingress_run_over_bad_link() -> Result<()> {
    let Some(lab) = lab_or_skip(&[]) else {
        return Ok(());
    };
    with_logs(
        &lab,
        wingress_forward_to_wingress_run_over_bad_link_in(&lab),
    )
}

fn wingress_forward_to_wingress_run_over_bad_link_in(lab: &Lab) -> Result<()> {
    let bin = wingress()?;
    let started = Instant::now();
    let (a, b) = namespaces(lab)?;
    let (kc, ks) = (KeyPair::generate()?, KeyPair::generate()?);
    let backends = Backends::start(&b, LOCALHOST, 50 * 1024 * 1024, 41)?;
    let server = backend_server(lab, &bin, &ks, &kc.public)?;
    let _daemon = server.spawn(&b)?;
    let upstream = sock(B_IP, server.port).to_string();
    let listen = sock(LOCALHOST, RELAY_PORT).to_string();
    let args = [
        "--listen",
        &listen,
        "--upstream",
        &upstream,
        "--loss",
        "0.02",
        "--reorder",
        "0.05",
        "--seed",
        "7",
    ];
    let relay_bin = env!("CARGO_BIN_EXE_wingress-impair");
    let mut relay = a.spawn("wingress-impair", relay_bin, &args)?;
    a.wait_listening_by(&mut relay, "udp", RELAY_PORT, READY)?;
    let _forward = start_forward(lab, &a, &bin, &kc, &ks.public, sock(LOCALHOST, RELAY_PORT))?;

    let moved = transfers(&a, &backends, BAD_LINK_LIMIT);

    // SIGTERM makes the relay print its counters: it really did impair.
    relay.stop();
    eprintln!("{}", relay.log().trim_end());
    moved?;
    let log = relay.log();
    let up = wingress_lab::relay::final_counters(&log, "client->upstream:").context(log.clone())?;
    let down =
        wingress_lab::relay::final_counters(&log, "upstream->client:").context(log.clone())?;
    eprintln!(
        "relay (received, dropped, reordered): client->upstream {up:?}, upstream->client {down:?}"
    );
    ensure!(
        up.0 > 1000 && down.0 > 1000,
        "traffic went through the relay: {log}"
    );
    ensure!(up.1 > 0 && down.1 > 0, "datagrams were dropped: {log}");
    ensure!(up.2 > 0 && down.2 > 0, "datagrams were reordered: {log}");
    eprintln!("test took {:?}", started.elapsed());
    Ok(())
}

/// On failure: prints every log of the lab, then panics so the lab folder
/// (keys, configs, logs) is kept for a look.
fn with_logs(lab: &Lab, result: Result<()>) -> Result<()> {
    if let Err(e) = result {
        lab.dump_logs();
        panic!("{e:?}");
    }
    Ok(())
}

/// Independent checks of one test: each runs even when an earlier one
/// failed, so a single run reports every failure.
#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    fn run(&mut self, name: &str, check: impl FnOnce() -> Result<()>) {
        let t = Instant::now();
        match check() {
            Ok(()) => eprintln!("ok: {name} ({:?})", t.elapsed()),
            Err(e) => {
                eprintln!("FAILED: {name} ({:?}): {e:#}", t.elapsed());
                self.0.push(format!("{name}: {e:#}"));
            }
        }
    }

    fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        bail!("{} check(s) failed:\n{}", self.0.len(), self.0.join("\n"))
    }
}

// === topology ===

fn namespaces(lab: &Lab) -> Result<(Netns, Netns)> {
    let (a, b) = (lab.netns()?, lab.netns()?);
    veth(&a, A_VETH, &b, B_VETH)?;
    Ok((a, b))
}

/// The wingress binary under test: `WINGRESS_BIN`, else the one cargo
/// built beside this test (`wingress_lab::wingress_bin`), as for every
/// other lab test. (It used to run `cargo build -p wingress` itself, whose
/// features differ from the workspace build's: a second build of the
/// daemon inside the test run.)
fn wingress() -> Result<PathBuf> {
    let bin = wingress_lab::wingress_bin();
    ensure!(
        bin.is_file(),
        "no wingress binary at {} (cargo test --workspace builds it; or set WINGRESS_BIN)",
        bin.display()
    );
    Ok(bin)
}

/// `wingress run`'s key and config, written once and started as often as needed.
struct ServerSetup {
    bin: PathBuf,
    config: String,
    port: u16,
}

impl ServerSetup {
    /// Tunnel port → port on B's loopback, for `[[tcp]]` and `[[udp]]`.
    fn write(
        lab: &Lab,
        bin: &Path,
        keys: &KeyPair,
        client_pub: &str,
        tcp: &[(u16, u16)],
        udp: &[(u16, u16)],
    ) -> Result<ServerSetup> {
        let dir = lab.dir().join("server");
        std::fs::create_dir_all(&dir)?;
        write_private_key(&dir, "server.key", &keys.private)?;
        let backends = |list: &[(u16, u16)]| -> Vec<(u16, String)> {
            list.iter()
                .map(|&(listen, to)| (listen, sock(LOCALHOST, to).to_string()))
                .collect()
        };
        let cfg = ServerConfig {
            node_ip: B_IP,
            state_dir: dir.join("state"),
            private_key_file: "server.key".into(),
            address: format!("{B_TUNNEL}/24"),
            peers: vec![ServerPeer {
                name: "laptop".into(),
                public_key: client_pub.into(),
                allowed_ips: vec![format!("{A_TUNNEL}/32")],
                persistent_keepalive: Some(25),
            }],
            tcp: backends(tcp),
            udp: backends(udp),
        };
        let path = dir.join("server.toml");
        std::fs::write(&path, cfg.to_toml())?;
        let config = path.display().to_string();
        check_config(bin, &config)?;
        Ok(ServerSetup {
            bin: bin.to_path_buf(),
            config,
            port: cfg.port(),
        })
    }

    fn spawn(&self, b: &Netns) -> Result<Process> {
        let args = ["run", "--config", &self.config];
        let mut p = spawn_wingress(b, &self.bin, "wingress-run", &args)?;
        b.wait_listening_by(&mut p, "udp", self.port, READY)?;
        Ok(p)
    }
}

/// The daemon of tests 3 and 4: the three loopback backends of B on the
/// same ports of its tunnel address.
fn backend_server(lab: &Lab, bin: &Path, keys: &KeyPair, client_pub: &str) -> Result<ServerSetup> {
    let tcp = [(SINK_PORT, SINK_PORT), (SOURCE_PORT, SOURCE_PORT)];
    ServerSetup::write(lab, bin, keys, client_pub, &tcp, &[(ECHO_PORT, ECHO_PORT)])
}

/// `wingress forward` in `a`, sending its WireGuard datagrams to `endpoint`:
/// TCP 127.0.0.1:15000 → sink, TCP 127.0.0.1:15001 → source, UDP
/// 127.0.0.1:15000 → echo, all on 100.64.0.2.
fn start_forward(
    lab: &Lab,
    a: &Netns,
    bin: &Path,
    keys: &KeyPair,
    server_pub: &str,
    endpoint: SocketAddr,
) -> Result<Process> {
    let dir = lab.dir().join("client");
    std::fs::create_dir_all(&dir)?;
    write_private_key(&dir, "client.key", &keys.private)?;
    let forward = |listen: u16, target: u16, protocol: &str| Forward {
        listen: sock(LOCALHOST, listen),
        target: sock(B_TUNNEL, target),
        protocol: protocol.into(),
    };
    let cfg = ForwardConfig {
        private_key_file: "client.key".into(),
        address: format!("{A_TUNNEL}/32"),
        peer_public_key: server_pub.into(),
        endpoint,
        allowed_ips: vec![format!("{B_TUNNEL}/32")],
        persistent_keepalive: Some(25),
        forwards: vec![
            forward(FWD_PORT, SINK_PORT, "tcp"),
            forward(FWD_SOURCE_PORT, SOURCE_PORT, "tcp"),
            forward(FWD_PORT, ECHO_PORT, "udp"),
        ],
    };
    let path = dir.join("client.toml");
    std::fs::write(&path, cfg.to_toml())?;
    let config = path.display().to_string();
    check_config(bin, &config)?;
    let args = ["forward", "--config", &config];
    let mut p = spawn_wingress(a, bin, "wingress-forward", &args)?;
    a.wait_listening_by(&mut p, "tcp", FWD_SOURCE_PORT, READY)?;
    Ok(p)
}

/// `wingress check` accepts the config the test is about to run.
fn check_config(bin: &Path, config: &str) -> Result<()> {
    run_command(
        Command::new(bin).args(["check", "--config", config]),
        Duration::from_secs(30),
    )
    .map(drop)
    .with_context(|| format!("wingress check rejects {config}"))
}

fn latest_handshake(wg: &WgGo, peer: &str) -> Result<SystemTime> {
    wg.dump()?
        .into_iter()
        .find(|p| p.public_key == peer)
        .and_then(|p| p.latest_handshake)
        .with_context(|| format!("no handshake with {peer} on {}", wg.iface()))
}
