//! NAT traversal in network namespaces, against programs nobody here
//! wrote: miniupnpd (UPnP IGD, NAT-PMP, PCP) on the node's router, coturn
//! as the STUN server, nftables NAT on both sides, and wireguard-go as a
//! client behind its own NAT. See `nat_lab/topology.rs` for the network.
//!
//! - the daemon gets its mapping from miniupnpd with each protocol forced
//!   in turn, the client reaches it only through the mapped port, the
//!   mapping is renewed (10 s lease) and deleted when the daemon stops;
//!   with PCP the router also reboots, and the daemon notices (the epoch
//!   went back) and has its mapping again;
//! - with a static forward on the router (and no mapping protocol), STUN
//!   sees the node's own port open to strangers and the status says a
//!   static forward is in place (and, before the forward exists, that it
//!   is not);
//! - the client's NAT rebinds to another source port in the middle of an
//!   iperf3 transfer, and the transfer completes;
//! - a rogue host on the node's LAN answers the UPnP search first, with
//!   URLs to 127.0.0.1 and to itself: the daemon ignores it and maps with
//!   miniupnpd on the real gateway.
//!
//! Root only; see `wingress_lab::lab_or_skip` for WINGRESS_LAB.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use serde_json::Value;
use wingress_lab::process::run_command;
use wingress_lab::{
    lab_or_skip, spawn_wingress, write_private_key, Iperf3Client, Iperf3Server, KeyPair, Lab,
    Process, WgGo, WgGoConfig, WgPeer,
};

#[path = "nat_lab/rogue.rs"]
mod rogue;
#[path = "nat_lab/topology.rs"]
mod topology;

use rogue::{Rogue, ROGUE_EXTERNAL};
use topology::{
    Router, Topology, CLIENT_TUNNEL, NODE_IP, NODE_PORT, NODE_TUNNEL, REBIND_PORTS, ROUTER_WAN,
    STUN_A, STUN_B,
};

/// Limit for things that take a second or two (mapping, STUN, handshakes).
/// Never a speed assertion: a slow machine only waits longer.
const READY: Duration = Duration::from_secs(30);
const IPERF_PORT: u16 = 5201;
/// [`READY`] and a retry of every protocol (30 s after a failed round).
const RETRIED: Duration = Duration::from_secs(75);

const NEEDS: &[&str] = &[
    "wireguard-go",
    "wg",
    "nft",
    "conntrack",
    "miniupnpd",
    "upnpc",
    "turnserver",
    "sysctl",
    "ping",
    "iperf3",
];

// === the tests ===

#[test]
fn pcp_mapping_from_miniupnpd() -> Result<()> {
    mapping_test("pcp")
}

#[test]
fn natpmp_mapping_from_miniupnpd() -> Result<()> {
    mapping_test("natpmp")
}

/// UPnP, with the requested port already taken: the router gives another
/// and the status says so.
#[test]
fn upnp_mapping_from_miniupnpd_on_a_taken_port() -> Result<()> {
    mapping_test("upnp")
}

fn mapping_test(protocol: &str) -> Result<()> {
    let Some(lab) = lab_or_skip(NEEDS) else {
        return Ok(());
    };
    with_logs(&lab, mapping_test_in(&lab, protocol))
}

fn mapping_test_in(lab: &Lab, protocol: &str) -> Result<()> {
    let started = Instant::now();
    let taken = protocol == "upnp";
    // Without secure mode, one LAN host may map a port to another: how the
    // test makes another host (192.168.10.3) hold 41602 already.
    let mut t = Topology::new(
        lab,
        Router::Miniupnpd {
            secure_mode: !taken,
        },
    )?;
    if taken {
        let port = NODE_PORT.to_string();
        t.node.exec(
            "upnpc",
            &[
                "-i",
                "-u",
                "http://192.168.10.1:5000/rootDesc.xml",
                "-e",
                "someone else",
                "-a",
                "192.168.10.3",
                &port,
                &port,
                "UDP",
                "600",
            ],
        )?;
        ensure!(
            t.miniupnpd_rules()?
                .contains(&format!("dport {port} dnat ip to 192.168.10.3:{port}")),
            "the other host's mapping is not in place:\n{}",
            t.miniupnpd_rules()?
        );
    }
    ensure!(
        !t.miniupnpd_rules()?
            .contains(&format!("{NODE_IP}:{NODE_PORT}")),
        "a mapping to the node's WireGuard port exists before the daemon starts"
    );
    let node = Node::write(lab, &format!(
        "stun_servers = [\"{STUN_A}\", \"{STUN_B}\"]\nport_mapping = [\"{protocol}\"]\nlease = \"10s\"\n"
    ))?;
    let mut daemon = node.spawn(&t)?;

    let status = wait_status(&mut daemon, "a mapping", |s| {
        s["port_mapping"]["state"] == "mapped" && s["public_endpoint"]["source"] == "mapped"
    })?;
    ensure!(status["port_mapping"]["protocol"] == protocol, "{status:#}");
    let external: SocketAddr = status["public_endpoint"]["address"]
        .as_str()
        .context("no address")?
        .parse()?;
    eprintln!(
        "{protocol}: mapped {external} after {:?}",
        started.elapsed()
    );
    ensure!(external.ip().to_string() == ROUTER_WAN, "{status:#}");
    if taken {
        ensure!(
            external.port() != NODE_PORT,
            "got the taken port: {status:#}"
        );
        let notes = status["notes"].to_string();
        ensure!(notes.contains("refused external port 41602"), "{status:#}");
    } else {
        ensure!(external.port() == NODE_PORT, "{status:#}");
    }
    // `wingress status` says the same as the log.
    let doc = node.status()?;
    ensure!(doc["nat"]["port_mapping"]["state"] == "mapped", "{doc:#}");
    ensure!(doc["public_endpoint"]["source"] == "mapped", "{doc:#}");
    ensure!(
        doc["public_endpoint"]["address"] == external.to_string().as_str(),
        "{doc:#}"
    );
    // miniupnpd made the forward the status describes.
    let rules = t.miniupnpd_rules()?;
    ensure!(
        rules.contains(&format!(
            "dport {} dnat ip to {NODE_IP}:{NODE_PORT}",
            external.port()
        )),
        "miniupnpd has no forward {external} → {NODE_IP}:{NODE_PORT}:\n{rules}"
    );

    // The client knows nothing but the mapped public endpoint.
    let wg = node.client(&t, external, 51821)?;
    t.client.wait_ping(NODE_TUNNEL, READY)?;
    wg.wait_for_handshake(&node.keys.public, READY)?;

    daemon.wait_for_log("port mapping renewed", READY)?;
    ensure!(
        t.miniupnpd_rules()?
            .contains(&format!("{NODE_IP}:{NODE_PORT}")),
        "the mapping is gone after its renewal"
    );

    if protocol == "pcp" {
        router_reboot(lab, &mut t, &mut daemon, &wg)?;
    }

    let exit = daemon.stop();
    ensure!(
        exit.is_some_and(|s| s.success()),
        "wingress did not exit cleanly ({exit:?}); log:\n{}",
        daemon.log()
    );
    ensure!(
        daemon.log().contains("port mapping deleted"),
        "{}",
        daemon.log()
    );
    let rules = t.miniupnpd_rules()?;
    ensure!(
        !rules.contains(&format!("{NODE_IP}:{NODE_PORT}")),
        "the mapping outlived the daemon:\n{rules}"
    );
    let listed = t.node.exec(
        "upnpc",
        &["-i", "-u", "http://192.168.10.1:5000/rootDesc.xml", "-l"],
    )?;
    ensure!(
        !listed.contains(&format!("{NODE_IP}:{NODE_PORT}")),
        "upnpc still lists the mapping:\n{listed}"
    );
    eprintln!("{protocol}: test took {:?}", started.elapsed());
    Ok(())
}

/// The router reboots, losing its mappings: the renewal's answer carries
/// an epoch that went back, the daemon says the gateway restarted and has
/// the mapping again. The client, which kept sending while the router had
/// no forward, is stuck on the router's stale connection-tracking entry,
/// as the status note says, until it sends from a new port.
fn router_reboot(lab: &Lab, t: &mut Topology, daemon: &mut Process, wg: &WgGo) -> Result<()> {
    t.reboot_router(lab)?;
    let restarted = "the gateway restarted";
    daemon.wait_for_log(restarted, READY)?;
    let forward = format!("{NODE_IP}:{NODE_PORT}");
    wingress_lab::eventually(READY, || {
        let rules = t.miniupnpd_rules()?;
        ensure!(
            rules.contains(&forward),
            "no forward after the reboot:\n{rules}"
        );
        Ok(())
    })?;
    let s = wait_status_after(daemon, restarted, READY, "the stale-flow note", |s| {
        s["notes"]
            .to_string()
            .contains("peer phone has not completed a handshake")
    })?;
    ensure!(s["port_mapping"]["state"] == "mapped", "{s:#}");
    // The remedy the note gives: send from a new port.
    wg.set(&["listen-port", "51822"])?;
    t.client.wait_ping(NODE_TUNNEL, READY)?;
    Ok(())
}

/// A router that only masquerades: STUN sees the node's port preserved but
/// filtered. With a static forward added: the port is open to strangers,
/// and the status says a static forward is in place.
#[test]
fn static_forward_is_recognised_by_stun() -> Result<()> {
    let Some(lab) = lab_or_skip(NEEDS) else {
        return Ok(());
    };
    with_logs(&lab, static_forward_in(&lab))
}

fn static_forward_in(lab: &Lab) -> Result<()> {
    let started = Instant::now();
    let t = Topology::new(lab, Router::MasqueradeOnly)?;
    let node = Node::write(
        lab,
        &format!("stun_servers = [\"{STUN_A}\", \"{STUN_B}\"]\nport_mapping = false\n"),
    )?;
    let public = format!("{ROUTER_WAN}:{NODE_PORT}");

    let mut daemon = node.spawn(&t)?;
    let s = wait_status(&mut daemon, "a STUN report", |s| s["stun"]["state"] == "ok")?;
    let stun = &s["stun"];
    ensure!(stun["public"] == public.as_str(), "{s:#}");
    ensure!(
        stun["port_preserved"] == true && stun["mapping"] == "endpoint-independent",
        "{s:#}"
    );
    ensure!(
        stun["filtering"] == "filtered" && stun["static_forward"] == false,
        "{s:#}"
    );
    ensure!(s["public_endpoint"]["source"] == "stun", "{s:#}");
    ensure!(
        !s["notes"].to_string().contains("static port forward"),
        "{s:#}"
    );
    daemon.stop();

    t.add_static_forward()?;
    let mut daemon = node.spawn(&t)?;
    let s = wait_status(&mut daemon, "a STUN report", |s| s["stun"]["state"] == "ok")?;
    let stun = &s["stun"];
    ensure!(
        stun["public"] == public.as_str() && stun["port_preserved"] == true,
        "{s:#}"
    );
    ensure!(
        stun["filtering"] == "open" && stun["static_forward"] == true,
        "{s:#}"
    );
    ensure!(s["public_endpoint"]["source"] == "static-forward", "{s:#}");
    ensure!(s["public_endpoint"]["address"] == public.as_str(), "{s:#}");
    ensure!(
        s["notes"]
            .to_string()
            .contains("a static port forward is in place"),
        "{s:#}"
    );
    let doc = node.status()?;
    ensure!(
        doc["public_endpoint"]["source"] == "static-forward",
        "{doc:#}"
    );
    ensure!(doc["nat"]["stun"]["static_forward"] == true, "{doc:#}");

    let wg = node.client(&t, public.parse()?, 51821)?;
    t.client.wait_ping(NODE_TUNNEL, READY)?;
    wg.wait_for_handshake(&node.keys.public, READY)?;
    eprintln!("static forward: test took {:?}", started.elapsed());
    Ok(())
}

/// The client's NAT rebinds to a new source port in the middle of an iperf3
/// transfer (each way); the node follows the client's new address
/// (WireGuard's roaming) and the transfer completes.
#[test]
fn roaming_client_keeps_its_transfer() -> Result<()> {
    let Some(lab) = lab_or_skip(NEEDS) else {
        return Ok(());
    };
    with_logs(&lab, roaming_in(&lab))
}

fn roaming_in(lab: &Lab) -> Result<()> {
    let started = Instant::now();
    let t = Topology::new(lab, Router::StaticForward)?;
    let public = format!("{ROUTER_WAN}:{NODE_PORT}");
    let node = Node::write(
        lab,
        &format!("stun_servers = []\nport_mapping = false\nadvertise = \"{public}\"\n"),
    )?;
    let _iperf = Iperf3Server::start(&t.node, "127.0.0.1".parse()?, IPERF_PORT)?;
    let mut daemon = node.spawn(&t)?;
    let s = wait_status(&mut daemon, "the configured endpoint", |s| {
        s["public_endpoint"]["source"] == "configured"
    })?;
    ensure!(s["public_endpoint"]["address"] == public.as_str(), "{s:#}");

    let wg = node.client(&t, public.parse()?, 51821)?;
    t.client.wait_ping(NODE_TUNNEL, READY)?;
    wg.wait_for_handshake(&node.keys.public, READY)?;
    // An upload, then a download, each with the client's NAT rebinding to
    // a new source port 3 s in. The client's next packet (data, or the
    // ACKs of a download) tells the node where it went; what was in flight
    // toward the old port is lost and resent.
    for (reverse, port) in [(false, REBIND_PORTS.0), (true, REBIND_PORTS.1)] {
        let before = t.client_nat_flows()?;
        let client = Iperf3Client {
            seconds: 8,
            omit: 0,
            ..Iperf3Client::default()
        }
        .reverse(reverse);
        let result = std::thread::scope(|s| {
            let (client, ns) = (&client, &t.client);
            let tunnel = NODE_TUNNEL.parse().expect("an address");
            let transfer = s.spawn(move || client.run(ns, tunnel, IPERF_PORT));
            std::thread::sleep(Duration::from_secs(3));
            let rebind = t.rebind_client_nat(port);
            let r = transfer
                .join()
                .map_err(|_| anyhow!("iperf3 thread panicked"))?;
            rebind?;
            r
        })?;
        let way = if reverse { "download" } else { "upload" };
        eprintln!(
            "iperf3 {way} across the rebinding: {} bytes, {:.3} Gbit/s",
            result.bytes,
            result.gbps()
        );
        ensure!(result.bytes > 0, "{result:?}");
        // The client's flow now leaves from the new port, and the NAT has
        // seen replies on it: the node answered the new address.
        let after = t.client_nat_flows()?;
        let moved = after.lines().find(|l| {
            l.contains(&format!("dport={NODE_PORT}"))
                && !l.contains("UNREPLIED")
                && reply_port(l) == Some(port)
        });
        ensure!(
            moved.is_some(),
            "{way}: no answered flow from port {port}; before:\n{before}\nafter:\n{after}"
        );
    }
    eprintln!("roaming: test took {:?}", started.elapsed());
    Ok(())
}

/// A rogue SSDP responder on the node's LAN answers every search at once
/// (and, the router holding SSDP back until then, before the gateway),
/// with LOCATIONs at 127.0.0.1 and at itself whose SOAP answers would
/// publish a made-up external address. The daemon fetches nothing from
/// either and maps with miniupnpd on the gateway.
#[test]
fn upnp_ignores_a_rogue_ssdp_responder_on_the_lan() -> Result<()> {
    let Some(lab) = lab_or_skip(NEEDS) else {
        return Ok(());
    };
    with_logs(&lab, rogue_in(&lab))
}

fn rogue_in(lab: &Lab) -> Result<()> {
    let started = Instant::now();
    let t = Topology::with_lan_host(lab, Router::Miniupnpd { secure_mode: true })?;
    let rogue = Rogue::start(t.lan_host.as_ref().context("no LAN host")?, &t.node)?;
    t.hold_ssdp()?;
    let node = Node::write(lab, "stun_servers = []\nport_mapping = [\"upnp\"]\n")?;
    let mut daemon = node.spawn(&t)?;
    wingress_lab::eventually(READY, || {
        ensure!(rogue.answers() > 0, "the rogue answered no search");
        Ok(())
    })?;
    t.release_ssdp()?;
    // The daemon's searches go on for under 2 s; should the gateway's
    // answers miss them on a slow machine, UPnP is tried again 30 s later.
    let status = wait_status_after(&mut daemon, "", RETRIED, "a mapping", |s| {
        s["port_mapping"]["state"] == "mapped" && s["public_endpoint"]["source"] == "mapped"
    })?;
    let public = format!("{ROUTER_WAN}:{NODE_PORT}");
    ensure!(
        status["public_endpoint"]["address"] == public.as_str(),
        "not the gateway's mapping (the rogue claims {ROGUE_EXTERNAL}): {status:#}"
    );
    ensure!(status["port_mapping"]["protocol"] == "upnp", "{status:#}");
    ensure!(
        rogue.hits() == (0, 0),
        "HTTP requests to (the rogue, the node's 127.0.0.1:5000): {:?}",
        rogue.hits()
    );
    let rules = t.miniupnpd_rules()?;
    ensure!(
        rules.contains(&format!(
            "dport {NODE_PORT} dnat ip to {NODE_IP}:{NODE_PORT}"
        )),
        "miniupnpd has no forward to the node:\n{rules}"
    );
    eprintln!(
        "rogue: {} SSDP answers ignored; mapped {public}; test took {:?}",
        rogue.answers(),
        started.elapsed()
    );
    let exit = daemon.stop();
    ensure!(exit.is_some_and(|s| s.success()), "{}", daemon.log());
    Ok(())
}

// === helpers ===

/// The node's key, the client's key, and the daemon's config.
struct Node {
    bin: PathBuf,
    config: PathBuf,
    state: PathBuf,
    keys: KeyPair,
    client_keys: KeyPair,
}

impl Node {
    /// A daemon config for the node with `nat` as its `[nat]` section.
    fn write(lab: &Lab, nat: &str) -> Result<Node> {
        let (keys, client_keys) = (KeyPair::generate()?, KeyPair::generate()?);
        let key = write_private_key(lab.dir(), "node.key", &keys.private)?;
        let config = lab.write_file(
            "node.toml",
            &format!(
                "[node]\nip = \"{NODE_IP}\"\nstate_dir = \"{state}\"\n\n\
                 [wireguard]\nprivate_key_file = \"{key}\"\naddress = \"{NODE_TUNNEL}/24\"\n\n\
                 [[peer]]\nname = \"phone\"\npublic_key = \"{client}\"\nallowed_ips = [\"{CLIENT_TUNNEL}/32\"]\n\n\
                 [[tcp]]\nlisten = {IPERF_PORT}\nbackend = \"127.0.0.1:{IPERF_PORT}\"\n\n[nat]\n{nat}",
                state = lab.dir().join("state").display(),
                key = key.display(),
                client = client_keys.public,
            ),
        )?;
        Ok(Node {
            bin: wingress_lab::wingress_bin(),
            config,
            state: lab.dir().join("state"),
            keys,
            client_keys,
        })
    }

    /// `wingress status --json` over the daemon's admin socket.
    fn status(&self) -> Result<Value> {
        let socket = self.state.join("admin.sock");
        let out = run_command(
            std::process::Command::new(&self.bin)
                .args(["status", "--json", "--socket"])
                .arg(&socket),
            READY,
        )?;
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    fn spawn(&self, t: &Topology) -> Result<Process> {
        let mut p = spawn_wingress(
            &t.node,
            &self.bin,
            "wingress",
            &["run", "--config", &self.config.display().to_string()],
        )?;
        t.node.wait_listening_by(&mut p, "udp", NODE_PORT, READY)?;
        Ok(p)
    }

    /// wireguard-go in the client namespace, sending from a port that has
    /// never been used toward the node (LAB.md: a mapping made while a peer
    /// already sends from its port is not used).
    fn client(&self, t: &Topology, endpoint: SocketAddr, port: u16) -> Result<WgGo> {
        let peer = WgPeer::new(&self.keys.public, &[&format!("{NODE_TUNNEL}/32")])
            .endpoint(endpoint)
            .keepalive(5);
        WgGo::start(
            &t.client,
            &WgGoConfig::new(
                self.client_keys.clone(),
                port,
                &format!("{CLIENT_TUNNEL}/24"),
            )
            .peer(peer),
        )
    }
}

/// The last `nat status` the daemon logged (the JSON of its `nat` section).
fn latest_status(log: &str) -> Option<Value> {
    log.lines()
        .rev()
        .filter_map(|l| l.split_once("nat status status=").map(|(_, json)| json))
        .find_map(|json| serde_json::from_str(json).ok())
}

/// Waits until the daemon's latest status satisfies `ready`.
fn wait_status(p: &mut Process, what: &str, ready: impl Fn(&Value) -> bool) -> Result<Value> {
    wait_status_after(p, "", READY, what, ready)
}

/// Like [`wait_status`], among the statuses logged after the first line
/// containing `marker`.
fn wait_status_after(
    p: &mut Process,
    marker: &str,
    limit: Duration,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let deadline = Instant::now() + limit;
    loop {
        p.ensure_running()?;
        let log = p.log();
        let after = log.find(marker).map_or("", |i| &log[i..]);
        if let Some(s) = latest_status(after).filter(|s| ready(s)) {
            return Ok(s);
        }
        if Instant::now() >= deadline {
            bail!(
                "no status with {what} after {marker:?} within {limit:?}; last status: {:#}",
                latest_status(after).unwrap_or(Value::Null)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// In a `conntrack -L` line the reply direction comes second: its `dport`
/// is the public port the NAT gave the flow.
fn reply_port(line: &str) -> Option<u16> {
    line.split_whitespace()
        .filter_map(|f| f.strip_prefix("dport="))
        .nth(1)
        .and_then(|p| p.parse().ok())
}

fn with_logs(lab: &Lab, result: Result<()>) -> Result<()> {
    if let Err(e) = result {
        lab.dump_logs();
        panic!("{e:?}");
    }
    Ok(())
}
