//! Lab test of gRPC through wingress with real programs: Python grpcio's
//! client in a wireguard-go namespace calls grpcio's server through the
//! tunnel (TLS from the internal CA, HTTP/2 by ALPN) and, from outside the
//! tunnel, on a host entrypoint; the server is an `h2c://` backend on
//! wingress's loopback. Unary and bidirectional streaming calls, a
//! `PERMISSION_DENIED` status with its message, a deadline expiring on
//! time (tests/grpc/client.py).
//!
//! Namespace A (10.99.0.1, tunnel 100.64.0.1, wireguard-go) is the client;
//! B (10.99.0.2, tunnel 100.64.0.2) runs wingress and the gRPC server.
//! Root only; see `wingress_lab::lab_or_skip`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Result};
use wingress_lab::process::run_command;
use wingress_lab::{
    lab_or_skip, spawn_wingress, veth, write_private_key, KeyPair, Lab, WgGo, WgGoConfig, WgPeer,
};

const B_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const WG_PORT: u16 = 41602;
const GRPC_PORT: u16 = 50051;
const LAN_PORT: u16 = 3443;
const READY: Duration = Duration::from_secs(60);

const SERVER: &str = include_str!("grpc/server.py");
const CLIENT: &str = include_str!("grpc/client.py");

#[test]
fn grpc_through_the_tunnel_and_on_a_host_entrypoint() -> Result<()> {
    let Some(lab) = lab_or_skip(&["wireguard-go", "wg", "python3"]) else {
        return Ok(());
    };
    // scripts/test.sh installs grpcio from PyPI.
    if !wingress_lab::python_module_or_skip("grpc") {
        return Ok(());
    }
    let result = run(&lab);
    if result.is_err() {
        lab.dump_logs();
    }
    result
}

fn run(lab: &Lab) -> Result<()> {
    let (a, b) = (lab.netns()?, lab.netns()?);
    veth(&a, "10.99.0.1/24", &b, "10.99.0.2/24")?;
    let (client, server) = (KeyPair::generate()?, KeyPair::generate()?);
    let bin = wingress_lab::wingress_bin();

    let dir = lab.dir().join("grpc");
    std::fs::create_dir_all(&dir)?;
    let (server_py, client_py) = (dir.join("server.py"), dir.join("client.py"));
    std::fs::write(&server_py, SERVER)?;
    std::fs::write(&client_py, CLIENT)?;
    let _grpc = b.spawn(
        "grpc-server",
        "python3",
        &[server_py.display().to_string(), GRPC_PORT.to_string()],
    )?;

    write_private_key(&dir, "server.key", &server.private)?;
    let config = dir.join("wingress.toml");
    std::fs::write(&config, server_config(&dir, &client.public))?;
    let config = config.display().to_string();
    let mut daemon = spawn_wingress(&b, &bin, "wingress-run", &["run", "--config", &config])?;
    wingress_lab::eventually(READY, || {
        daemon.ensure_running()?;
        ensure!(
            b.is_listening("tcp", LAN_PORT)?,
            "host entrypoint not listening yet"
        );
        ensure!(
            b.is_listening("tcp", GRPC_PORT)?,
            "grpc server not listening yet"
        );
        Ok(())
    })?;
    let ca = run_command(
        Command::new(&bin).args(["ca", "export", "--config", &config]),
        Duration::from_secs(30),
    )?;
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca.stdout)?;

    let peer = WgPeer::new(&server.public, &["100.64.0.2/32"])
        .endpoint(SocketAddr::from((B_IP, WG_PORT)))
        .keepalive(25);
    let _wg = WgGo::start(
        &a,
        &WgGoConfig::new(client, 51820, "100.64.0.1/24").peer(peer),
    )?;
    a.wait_ping("100.64.0.2", READY)?;

    for target in [
        "100.64.0.2:443".to_string(),
        format!("10.99.0.2:{LAN_PORT}"),
    ] {
        call(&a, &client_py, &target, &ca_file)?;
    }
    daemon.ensure_running()?;
    Ok(())
}

/// Runs client.py in `ns` against `target`; every step must pass.
fn call(ns: &wingress_lab::Netns, client: &Path, target: &str, ca: &Path) -> Result<()> {
    let out = run_command(
        ns.command("python3")
            .arg(client)
            .arg(target)
            .arg(ca)
            .arg("grpc.home.arpa"),
        Duration::from_secs(60),
    )?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    for step in ["unary ok", "bidi ok", "status ok", "deadline ok"] {
        ensure!(
            stdout.contains(step),
            "{target}: `{step}` missing: {stdout}"
        );
    }
    Ok(())
}

fn server_config(dir: &Path, client_pub: &str) -> String {
    let state = dir.join("state");
    format!(
        r#"[node]
ip = "{B_IP}"
state_dir = "{state}"

[wireguard]
private_key_file = "server.key"
address = "100.64.0.2/24"

[nat]
stun_servers = []
port_mapping = false

[[peer]]
name = "laptop"
public_key = "{client_pub}"
allowed_ips = ["100.64.0.1/32"]

[[entrypoint]]
name = "tunnel-https"
listen = "tunnel:443"

[[entrypoint]]
name = "lan"
listen = "10.99.0.2:{LAN_PORT}"

[tls]
internal_ca = true

# Public: tunnel peers and LAN clients alike.
[[route]]
host = "grpc.home.arpa"
backends = ["h2c://127.0.0.1:{GRPC_PORT}"]
access = "public"
"#,
        state = state.display()
    )
}
