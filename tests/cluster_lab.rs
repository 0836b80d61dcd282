//! Two nodes, one client config: `wingress run` on two nodes (each its own
//! namespace, key, port and `{octet}` tunnel address, from one shared
//! config file), their `wingress cluster node` lines, one `wingress cluster
//! client-config`, and wireguard-go in a third namespace configured with
//! exactly that file (`wg-quick strip` → `wg setconf`, the addresses and
//! routes wg-quick would add) reaching a TCP service on each node.
//!
//! ```text
//!  client C  10.99.1.1 ── veth ── 10.99.1.21  node N1: UDP 41621, tunnel 100.64.0.21
//!            10.99.2.1 ── veth ── 10.99.2.22  node N2: UDP 41622, tunnel 100.64.0.22
//!  tunnel address 100.64.1.10
//! ```

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use wingress_lab::process::run_command;
use wingress_lab::{lab_or_skip, veth, KeyPair, Lab, Netns, Process, WgGo};

const READY: Duration = Duration::from_secs(60);
const SERVICE_PORT: u16 = 8080;

/// The config both nodes run: what differs (address, port, key, state)
/// comes from WINGRESS_NODE_IP and STATE_DIRECTORY, as in the DaemonSet.
fn shared_config(phone_pub: &str) -> String {
    format!(
        "[wireguard]\naddress = \"100.64.0.{{octet}}/16\"\n\n\
         [[peer]]\nname = \"phone\"\npublic_key = \"{phone_pub}\"\nallowed_ips = [\"100.64.1.10/32\"]\n\n\
         [[tcp]]\nlisten = {SERVICE_PORT}\nbackend = \"127.0.0.1:{SERVICE_PORT}\"\n\n\
         [nat]\nstun_servers = []\nport_mapping = false\n"
    )
}

/// A TCP service in `ns` on 127.0.0.1 that answers every connection with
/// `greeting` and closes.
fn greeter(ns: &Netns, greeting: &'static str) -> Result<()> {
    let l = ns.run(|| TcpListener::bind((Ipv4Addr::LOCALHOST, SERVICE_PORT)))??;
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            use std::io::Write;
            let _ = s.write_all(greeting.as_bytes());
        }
    });
    Ok(())
}

struct Node {
    ns: Netns,
    ip: Ipv4Addr,
    _daemon: Process,
}

fn node_env<'a>(cmd: &'a mut Command, ip: Ipv4Addr, state: &Path) -> &'a mut Command {
    cmd.env("WINGRESS_NODE_IP", ip.to_string())
        .env("STATE_DIRECTORY", state)
}

#[test]
fn one_client_config_reaches_every_node() -> Result<()> {
    let Some(lab) = lab_or_skip(&["wireguard-go", "wg", "wg-quick"]) else {
        return Ok(());
    };
    let result = two_nodes(&lab);
    if result.is_err() {
        lab.dump_logs();
    }
    result
}

fn two_nodes(lab: &Lab) -> Result<()> {
    let bin = wingress_lab::wingress_bin();
    let c = lab.netns()?;
    let phone = KeyPair::generate()?;
    let config = lab.write_file("wingress.toml", &shared_config(&phone.public))?;

    let mut nodes = Vec::new();
    let mut lines = String::new();
    for (i, (octet, greeting)) in [(21u8, "hello from node 21\n"), (22, "hello from node 22\n")]
        .into_iter()
        .enumerate()
    {
        let ns = lab.netns()?;
        let subnet = i + 1;
        let ip = Ipv4Addr::new(10, 99, subnet as u8, octet);
        veth(
            &c,
            &format!("10.99.{subnet}.1/24"),
            &ns,
            &format!("{ip}/24"),
        )?;
        greeter(&ns, greeting)?;
        let state = lab.dir().join(format!("state-{octet}"));
        let mut cmd = ns.command(&bin);
        node_env(&mut cmd, ip, &state)
            .args(["run", "--config"])
            .arg(&config)
            .env("WINGRESS_LOG", "info");
        let mut daemon = Process::spawn(&format!("wingress-node-{octet}"), cmd, lab.dir())?;
        let port = 41600 + u16::from(octet);
        ns.wait_listening_by(&mut daemon, "udp", port, READY)?;
        // What an operator runs on each node (or with kubectl exec).
        let mut cmd = ns.command(&bin);
        node_env(&mut cmd, ip, &state)
            .args([
                "cluster",
                "node",
                "--name",
                &format!("node-{octet}"),
                "--config",
            ])
            .arg(&config);
        let line = String::from_utf8(run_command(&mut cmd, Duration::from_secs(30))?.stdout)?;
        eprintln!("{}", line.trim());
        ensure!(
            line.contains(&format!("endpoint={ip}:{port},"))
                && line
                    .trim_end()
                    .ends_with(&format!("address=100.64.0.{octet}")),
            "{line}"
        );
        lines.push_str(&line);
        nodes.push(Node {
            ns,
            ip,
            _daemon: daemon,
        });
    }

    let nodes_file = lab.write_file("nodes.txt", &lines)?;
    let phone_key = lab.write_file("phone.key", &format!("{}\n", phone.private))?;
    let conf = lab.dir().join("wgc0.conf");
    let out = run_command(
        Command::new(&bin)
            .args([
                "cluster",
                "client-config",
                "--name",
                "phone",
                "--address",
                "100.64.1.10",
            ])
            .arg("--nodes")
            .arg(&nodes_file)
            .arg("--private-key-file")
            .arg(&phone_key)
            .arg("-o")
            .arg(&conf),
        Duration::from_secs(30),
    )?;
    // The [[peer]] it asks the nodes to have is the one they have.
    let asked = String::from_utf8_lossy(&out.stderr);
    ensure!(
        asked.contains(&format!("public_key = \"{}\"", phone.public))
            && asked.contains("allowed_ips = [\"100.64.1.10/32\"]"),
        "{asked}"
    );
    let conf_text = std::fs::read_to_string(&conf)?;
    eprintln!("{conf_text}");
    use std::os::unix::fs::PermissionsExt;
    ensure!(std::fs::metadata(&conf)?.permissions().mode() & 0o777 == 0o600);

    // wireguard-go with exactly that file, as wg-quick would set it up.
    let stripped = run_command(
        Command::new("wg-quick").arg("strip").arg(&conf),
        Duration::from_secs(30),
    )?;
    let stripped = String::from_utf8(stripped.stdout)?;
    let values = |key: &str| -> Vec<String> {
        conf_text
            .lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| k.trim() == key)
            .flat_map(|(_, v)| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let routes = values("AllowedIPs");
    ensure!(routes == ["100.64.0.21/32", "100.64.0.22/32"], "{routes:?}");
    let wg = WgGo::start_setconf(&c, &stripped, &values("Address"), &routes)?;

    for (octet, node) in [21u8, 22].into_iter().zip(&nodes) {
        let to = SocketAddr::from(([100, 64, 0, octet], SERVICE_PORT));
        let got = wingress_lab::eventually(READY, || {
            c.run(|| -> Result<String> {
                let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                let mut text = String::new();
                s.read_to_string(&mut text)?;
                Ok(text)
            })?
        })
        .with_context(|| format!("TCP to {to} (node {} in {})", node.ip, node.ns.name()))?;
        ensure!(
            got == format!("hello from node {octet}\n"),
            "{to} answered {got:?}"
        );
        eprintln!("{to} (node {}) answered {:?}", node.ip, got.trim());
    }
    let peers = wg.dump()?;
    ensure!(
        peers.len() == 2 && peers.iter().all(|p| p.latest_handshake.is_some()),
        "{peers:?}"
    );
    Ok(())
}
