//! Lab tests of the harness itself, with real wireguard-go peers: they
//! prove the lab works before anything of wingress is involved.
//! Root only; see `wingress_lab::lab_or_skip` for WINGRESS_LAB.

use std::io::Write;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result};
use wingress_lab::{
    eventually, lab_or_skip, pattern, serve_hash_once, sha256_hex, veth, Iperf3Client,
    Iperf3Server, KeyPair, Lab, Netns, WgGo, WgGoConfig, WgPeer,
};

const READY: Duration = Duration::from_secs(60);

/// Namespaces A (10.99.0.1) and B (10.99.0.2) joined by veth, with
/// wireguard-go in each: 100.64.0.1 in A, 100.64.0.2 in B. A reaches B's
/// port 51820 at `a_endpoint`; B learns A's address from the handshake.
struct Pair {
    a: Netns,
    b: Netns,
    wga: WgGo,
    wgb: WgGo,
}

fn pair(a: Netns, b: Netns, a_endpoint: SocketAddr) -> Result<Pair> {
    let (ka, kb) = (KeyPair::generate()?, KeyPair::generate()?);
    let wgb = WgGo::start(
        &b,
        &WgGoConfig::new(kb.clone(), 51820, "100.64.0.2/24")
            .peer(WgPeer::new(&ka.public, &["100.64.0.1/32"])),
    )?;
    let to_b = WgPeer::new(&kb.public, &["100.64.0.2/32"])
        .endpoint(a_endpoint)
        .keepalive(25);
    let wga = WgGo::start(&a, &WgGoConfig::new(ka, 51820, "100.64.0.1/24").peer(to_b))?;
    Ok(Pair { a, b, wga, wgb })
}

fn namespaces(lab: &Lab) -> Result<(Netns, Netns)> {
    let (a, b) = (lab.netns()?, lab.netns()?);
    veth(&a, "10.99.0.1/24", &b, "10.99.0.2/24")?;
    Ok((a, b))
}

#[test]
fn wireguard_go_peers_reach_each_other() -> Result<()> {
    let Some(lab) = lab_or_skip(&["wireguard-go", "wg", "iperf3", "ping"]) else {
        return Ok(());
    };
    let (a, b) = namespaces(&lab)?;
    let p = pair(a, b, "10.99.0.2:51820".parse()?)?;
    p.a.wait_ping("100.64.0.2", READY)?;
    p.b.wait_ping("100.64.0.1", READY)?;
    p.wga.wait_for_handshake(p.wgb.public_key(), READY)?;

    let b_tunnel: IpAddr = "100.64.0.2".parse()?;
    let _server = Iperf3Server::start(&p.b, b_tunnel, 5201)?;
    let client = Iperf3Client {
        seconds: 2,
        omit: 0,
        ..Iperf3Client::default()
    };
    let up = client.run(&p.a, b_tunnel, 5201)?;
    let down = client.clone().reverse(true).run(&p.a, b_tunnel, 5201)?;
    eprintln!(
        "wireguard-go <-> wireguard-go: up {:.3} Gbit/s, down {:.3} Gbit/s",
        up.gbps(),
        down.gbps()
    );
    assert!(up.bytes > 0 && down.bytes > 0, "{up:?} {down:?}");

    let seen = p.wgb.dump()?;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].public_key, p.wga.public_key());
    assert!(
        seen[0]
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("10.99.0.1:")),
        "{seen:?}"
    );
    assert!(seen[0].rx_bytes > 0 && seen[0].latest_handshake.is_some());
    Ok(())
}

/// Sends `len` bytes from `from` to `to_addr` (a listener created in `to`)
/// through the tunnel; returns the (sent, received) checksums.
fn transfer(
    from: &Netns,
    to: &Netns,
    to_addr: SocketAddr,
    len: usize,
    seed: u64,
) -> Result<(String, String)> {
    let listener = to.run(|| TcpListener::bind(to_addr))??;
    let receiver = serve_hash_once(listener);
    let data = pattern(len, seed);
    from.run(|| -> Result<()> {
        // The first handshake may itself be lost on an impaired path:
        // WireGuard retries it every 5 s, and so do we.
        let mut s = eventually(READY, || {
            TcpStream::connect_timeout(&to_addr, Duration::from_secs(10)).map_err(Into::into)
        })?;
        s.write_all(&data)?;
        s.shutdown(Shutdown::Write)?;
        Ok(())
    })??;
    let (n, got) = receiver
        .join()
        .expect("receiver thread")
        .context("receiving")?;
    assert_eq!(n, len as u64);
    Ok((sha256_hex(&data), got))
}

#[test]
fn transfer_through_impaired_relay_matches_checksum() -> Result<()> {
    let Some(lab) = lab_or_skip(&["wireguard-go", "wg"]) else {
        return Ok(());
    };
    let (a, b) = namespaces(&lab)?;
    // wireguard-go in A sends to the relay on A's loopback; the relay
    // forwards to B over the veth with 2% loss and 5% reordering.
    let args = [
        "--listen",
        "127.0.0.1:40000",
        "--upstream",
        "10.99.0.2:51820",
        "--loss",
        "0.02",
        "--reorder",
        "0.05",
        "--seed",
        "7",
    ];
    let mut relay = a.spawn(
        "wingress-impair",
        env!("CARGO_BIN_EXE_wingress-impair"),
        &args,
    )?;
    a.wait_listening("udp", 40000, READY)?;
    let p = pair(a, b, "127.0.0.1:40000".parse()?)?;

    let len = 8 << 20;
    let (sent, got) = transfer(&p.a, &p.b, "100.64.0.2:9000".parse()?, len, 1)?;
    assert_eq!(sent, got, "A -> B arrived intact");
    let (sent, got) = transfer(&p.b, &p.a, "100.64.0.1:9001".parse()?, len, 2)?;
    assert_eq!(sent, got, "B -> A arrived intact");

    // SIGTERM makes the relay print its counters: it really did impair.
    relay.stop();
    let log = relay.log();
    let up = wingress_lab::relay::final_counters(&log, "client->upstream:").context(log.clone())?;
    let down =
        wingress_lab::relay::final_counters(&log, "upstream->client:").context(log.clone())?;
    eprintln!("relay: client->upstream {up:?}, upstream->client {down:?}");
    assert!(
        up.0 > 1000 && down.0 > 1000,
        "traffic went through the relay: {log}"
    );
    assert!(up.1 > 0 && down.1 > 0, "datagrams were dropped: {log}");
    assert!(up.2 > 0 && down.2 > 0, "datagrams were reordered: {log}");
    Ok(())
}

#[test]
fn namespace_guard_removes_namespace_and_processes() -> Result<()> {
    let Some(lab) = lab_or_skip(&[]) else {
        return Ok(());
    };
    let ns = lab.netns()?;
    let name = ns.name().to_string();
    let mut sleeper = ns.spawn("sleeper", "sleep", &["600"])?;
    let pid = sleeper.pid();
    assert!(sleeper.is_running());
    let listed = |name: &str| {
        let out = std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.split_whitespace().next() == Some(name))
    };
    assert!(listed(&name));
    // Sockets made by `run` live in the namespace: its loopback is not ours.
    let listener = ns.run(|| TcpListener::bind("127.0.0.1:0"))??;
    let addr = listener.local_addr()?;
    assert!(
        ns.run(|| TcpStream::connect(addr))?.is_ok(),
        "reachable inside the namespace"
    );
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
        "unreachable from outside"
    );
    drop(ns);
    assert!(!listed(&name), "namespace {name} removed");
    assert!(
        !sleeper.is_running(),
        "process {pid} killed with its namespace"
    );
    Ok(())
}
