//! Lab test of operations with real WireGuard peers: two wireguard-go
//! clients (laptop in A, phone in C) reach `wingress run` in B. Known
//! traffic is scraped from `/metrics` and parsed with the Prometheus
//! project's own Python client parser (`prometheus_client`), and the byte
//! counters are checked against the kernel's counters of the client's TUN
//! device; `wingress status --json` is read; a reload that removes the
//! phone and adds a route applies while the laptop's open TCP connection
//! and WireGuard session carry on (and the in-tunnel DNS answers for the
//! new route, asked with dig); a broken file sent with SIGHUP is
//! rejected with the old config serving; SIGTERM exits 0.
//!
//! A (10.99.0.1, tunnel 100.64.0.1) and C (10.98.0.3, tunnel 100.64.0.3)
//! are joined to B (10.99.0.2 and 10.98.0.2, tunnel 100.64.0.2) by veth.
//! Root only; see `wingress_lab::lab_or_skip`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use wingress_lab::process::{run_command, run_unchecked};
use wingress_lab::{
    admin, eventually, lab_or_skip, spawn_wingress, veth, wait_ready, write_private_key, KeyPair,
    Lab, LabMode, Netns, WgGo, WgGoConfig, WgPeer,
};

const B_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const WG_PORT: u16 = 41602;
const TUNNEL: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
const ECHO_PORT: u16 = 7000;
const HTTP_PORT: u16 = 8080;
const READY: Duration = Duration::from_secs(60);
/// Bytes echoed through the laptop's connection for the counters.
const ECHOED: usize = 8 << 20;

#[test]
fn metrics_status_and_reload_with_wireguard_go_peers() -> Result<()> {
    let Some(lab) = lab_or_skip(&["wireguard-go", "wg", "curl", "python3", "dig"]) else {
        return Ok(());
    };
    if let Err(why) = prometheus_parser_present() {
        if LabMode::from_env() == LabMode::Require {
            panic!("WINGRESS_LAB=require: {why} (install with: bash scripts/test.sh)");
        }
        eprintln!("lab test skipped: {why}");
        return Ok(());
    }
    let result = run(&lab);
    if result.is_err() {
        lab.dump_logs();
    }
    result
}

fn prometheus_parser_present() -> Result<()> {
    run_command(
        Command::new("python3").args(["-c", "import prometheus_client.parser"]),
        Duration::from_secs(30),
    )
    .map(drop)
    .context("python3 cannot import prometheus_client (pip install prometheus-client)")
}

fn run(lab: &Lab) -> Result<()> {
    let (a, b, c) = (lab.netns()?, lab.netns()?, lab.netns()?);
    veth(&a, "10.99.0.1/24", &b, "10.99.0.2/24")?;
    veth(&c, "10.98.0.3/24", &b, "10.98.0.2/24")?;
    let (laptop, phone, server) = (
        KeyPair::generate()?,
        KeyPair::generate()?,
        KeyPair::generate()?,
    );
    let bin = wingress_lab::wingress_bin();

    let echo = b.run(|| TcpListener::bind((Ipv4Addr::LOCALHOST, ECHO_PORT)))??;
    std::thread::spawn(move || serve_echo(echo));
    let http = b.run(|| TcpListener::bind((Ipv4Addr::LOCALHOST, HTTP_PORT)))??;
    std::thread::spawn(move || serve_http(http));

    let dir = lab.dir().join("ops");
    std::fs::create_dir_all(&dir)?;
    write_private_key(&dir, "server.key", &server.private)?;
    let config = dir.join("wingress.toml");
    let socket = dir.join("state/admin.sock");
    let (laptop_pub, phone_pub) = (laptop.public.clone(), phone.public.clone());
    let peers = |with_phone: bool| {
        let mut p = peer("laptop", &laptop_pub, "100.64.0.1/32");
        if with_phone {
            p.push_str(&peer("phone", &phone_pub, "100.64.0.3/32"));
        }
        p
    };
    std::fs::write(
        &config,
        server_config(&dir, &peers(true), &["app.home.arpa"]),
    )?;
    let cfg = config.display().to_string();
    let mut daemon = spawn_wingress(&b, &bin, "wingress-run", &["run", "--config", &cfg])?;
    wait_ready(&mut daemon, &socket, READY)?;
    let ca = dir.join("ca.pem");
    let out = run_command(
        Command::new(&bin).args(["ca", "export", "--config", &cfg]),
        Duration::from_secs(30),
    )?;
    std::fs::write(&ca, &out.stdout)?;

    let server_peer = |port| {
        WgPeer::new(&server.public, &["100.64.0.2/32"])
            .endpoint(SocketAddr::from((port, WG_PORT)))
            .keepalive(25)
    };
    let wga = WgGo::start(
        &a,
        &WgGoConfig::new(laptop, 51820, "100.64.0.1/24").peer(server_peer(B_IP)),
    )?;
    let _wgc = WgGo::start(
        &c,
        &WgGoConfig::new(phone, 51820, "100.64.0.3/24")
            .peer(server_peer(Ipv4Addr::new(10, 98, 0, 2))),
    )?;
    a.wait_ping("100.64.0.2", READY)?;
    c.wait_ping("100.64.0.2", READY)?;
    wga.wait_for_handshake(&server.public, READY)?;

    // Long-lived connections through the tunnel, one per peer.
    let mut laptop_conn = connect(&a)?;
    let phone_conn = connect(&c)?;
    echo_round_trip(&mut laptop_conn, b"hello")?;

    // Known traffic: 8 MiB echoed; five HTTPS requests; one SYN to a closed port.
    echo_bulk(&laptop_conn, ECHOED)?;
    for _ in 0..5 {
        let code = curl(&a, &ca, "app.home.arpa")?;
        ensure!(code == 200, "curl app.home.arpa: {code}");
    }
    let closed = a.run(|| {
        TcpStream::connect_timeout(&SocketAddr::from((TUNNEL, 7999)), Duration::from_secs(5))
    })?;
    ensure!(closed.is_err(), "port 7999 is not configured");

    check_metrics(&a, &wga, &socket)?;

    let (code, out) = cli(
        &bin,
        &[
            "status",
            "--json",
            "--socket",
            &socket.display().to_string(),
        ],
    )?;
    ensure!(code == 0, "wingress status --json: {out}");
    let doc: Value = serde_json::from_str(&out)?;
    let names: Vec<&str> = doc["peers"]
        .as_array()
        .context("peers")?
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    ensure!(names == ["laptop", "phone"], "{doc:#}");
    let lap = &doc["peers"][0];
    ensure!(lap["endpoint"] == "10.99.0.1:51820", "{lap:#}");
    ensure!(lap["latest_handshake_secs"].as_u64().is_some(), "{lap:#}");
    ensure!(open_conns(&doc, "tcp:7000") == Some(2), "{doc:#}");
    let (code, text) = cli(&bin, &["status", "--config", &cfg])?;
    ensure!(
        code == 0 && text.contains("peer: phone") && text.contains("latest handshake:"),
        "{text}"
    );
    ensure!(
        text.contains("transfer:") && text.contains("MiB received"),
        "{text}"
    );

    // Reload: the phone goes, a route comes. The laptop's connection and
    // its WireGuard session carry on.
    let handshake_before = handshake_of(&wga, &server.public)?;
    std::fs::write(
        &config,
        server_config(&dir, &peers(false), &["app.home.arpa", "new.home.arpa"]),
    )?;
    let (code, body) = admin(&socket, "POST", "/reload")?;
    ensure!(code == 200, "reload: {body}");
    ensure!(
        body.contains("peer phone removed") && body.contains("route new.home.arpa/ added"),
        "{body}"
    );
    echo_round_trip(&mut laptop_conn, b"still here")?;
    ensure!(
        curl(&a, &ca, "new.home.arpa")? == 200,
        "the new route serves"
    );
    ensure!(
        handshake_of(&wga, &server.public)? == handshake_before,
        "the laptop's session was kept (no new handshake)"
    );
    let doc = status(&socket)?;
    let names: Vec<&str> = doc["peers"]
        .as_array()
        .context("peers")?
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    ensure!(names == ["laptop"], "{doc:#}");
    // The phone's connection was reset on the daemon's side; the phone
    // itself can no longer get in.
    eventually(READY, || {
        ensure!(
            open_conns(&status(&socket)?, "tcp:7000") == Some(1),
            "phone's connection still counted"
        );
        Ok(())
    })?;
    let again = c.run(|| {
        TcpStream::connect_timeout(
            &SocketAddr::from((TUNNEL, ECHO_PORT)),
            Duration::from_secs(3),
        )
    })?;
    ensure!(again.is_err(), "a removed peer cannot connect");
    drop(phone_conn);

    // A broken file, by SIGHUP: rejected, the old config serves on.
    std::fs::write(
        &config,
        "[wireguard]\naddress = \"100.64.0.2/24\"\n[[peer]]\nname = 7\n",
    )?;
    daemon.signal(nix::sys::signal::Signal::SIGHUP)?;
    eventually(READY, || {
        let doc = status(&socket)?;
        let err = doc["config"]["last_reload_error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        ensure!(
            err.contains("wingress.toml:4:"),
            "no reload error yet: {doc:#}"
        );
        Ok(())
    })?;
    echo_round_trip(&mut laptop_conn, b"and still")?;
    ensure!(
        curl(&a, &ca, "new.home.arpa")? == 200,
        "the old config serves"
    );

    // SIGTERM with the laptop's connection open: drained for drain_timeout, then exit 0.
    let status = daemon.stop().context("exit status")?;
    ensure!(status.success(), "wingress exited with {status}");
    ensure!(daemon.log().contains("drain timeout"), "{}", daemon.log());
    Ok(())
}

fn peer(name: &str, key: &str, ip: &str) -> String {
    format!("\n[[peer]]\nname = \"{name}\"\npublic_key = \"{key}\"\nallowed_ips = [\"{ip}\"]\n")
}

fn server_config(dir: &Path, peers: &str, hosts: &[&str]) -> String {
    let mut t = format!(
        "[node]\nip = \"{B_IP}\"\nstate_dir = \"{}\"\n\n[wireguard]\nprivate_key_file = \"server.key\"\n\
         address = \"100.64.0.2/24\"\n\n[tls]\ninternal_ca = true\n\n[shutdown]\ndrain_timeout = \"2s\"\n\n\
         [nat]\nstun_servers = []\nport_mapping = false\n\n\
         [[tcp]]\nlisten = {ECHO_PORT}\nbackend = \"127.0.0.1:{ECHO_PORT}\"\n{peers}",
        dir.join("state").display()
    );
    for h in hosts {
        t.push_str(&format!(
            "\n[[route]]\nhost = \"{h}\"\nbackends = [\"http://127.0.0.1:{HTTP_PORT}\"]\n"
        ));
    }
    t
}

fn serve_echo(listener: TcpListener) {
    for s in listener.incoming() {
        let Ok(mut s) = s else { continue };
        std::thread::spawn(move || {
            let Ok(mut r) = s.try_clone() else { return };
            let _ = std::io::copy(&mut r, &mut s);
        });
    }
}

fn serve_http(listener: TcpListener) {
    for s in listener.incoming() {
        let Ok(mut s) = s else { continue };
        std::thread::spawn(move || -> std::io::Result<()> {
            let mut r = BufReader::new(s.try_clone()?);
            loop {
                let mut line = String::new();
                if r.read_line(&mut line)? == 0 || line == "\r\n" {
                    break;
                }
            }
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n")
        });
    }
}

fn connect(ns: &Netns) -> Result<TcpStream> {
    let s = ns.run(|| {
        TcpStream::connect_timeout(
            &SocketAddr::from((TUNNEL, ECHO_PORT)),
            Duration::from_secs(10),
        )
    })??;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    Ok(s)
}

fn echo_round_trip(s: &mut TcpStream, msg: &[u8]) -> Result<()> {
    s.write_all(msg)?;
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).context("echo through the tunnel")?;
    ensure!(got == msg, "echo mismatch");
    Ok(())
}

/// Echoes `len` bytes in 64 KiB round trips. Little is in flight at any
/// time, so no datagram overflows wireguard-go's small socket buffer and
/// what one side counts as sent is what the other counts as received.
fn echo_bulk(s: &TcpStream, len: usize) -> Result<()> {
    let mut s = s.try_clone()?;
    let chunk = vec![0x5au8; 64 << 10];
    let mut back = vec![0u8; chunk.len()];
    for _ in 0..len / chunk.len() {
        s.write_all(&chunk)?;
        s.read_exact(&mut back).context("echo through the tunnel")?;
        ensure!(back == chunk, "echo mismatch");
    }
    Ok(())
}

fn curl(ns: &Netns, ca: &Path, host: &str) -> Result<u16> {
    let mut cmd = ns.command("curl");
    cmd.args([
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "20",
        "--cacert",
    ])
    .arg(ca)
    .args(["--resolve", &format!("{host}:443:{TUNNEL}")])
    .arg(format!("https://{host}/"));
    let out = run_unchecked(&mut cmd, Duration::from_secs(30))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0))
}

fn cli(bin: &Path, args: &[&str]) -> Result<(i32, String)> {
    let out = run_unchecked(Command::new(bin).args(args), Duration::from_secs(30))?;
    Ok((
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

fn status(socket: &Path) -> Result<Value> {
    let (code, body) = admin(socket, "GET", "/status")?;
    ensure!(code == 200, "status: {code} {body}");
    Ok(serde_json::from_str(&body)?)
}

fn open_conns(doc: &Value, listener: &str) -> Option<i64> {
    doc["listeners"]
        .as_array()?
        .iter()
        .find(|l| l["name"] == listener)?["open_connections"]
        .as_i64()
}

fn handshake_of(wg: &WgGo, peer: &str) -> Result<Option<std::time::SystemTime>> {
    let peers = wg.dump()?;
    let p = peers
        .iter()
        .find(|p| p.public_key == peer)
        .context("peer in wg dump")?;
    Ok(p.latest_handshake)
}

/// The TUN device's own counters: bytes the kernel handed to wireguard-go
/// (tx) and got from it (rx).
fn tun_bytes(ns: &Netns, iface: &str) -> Result<(u64, u64)> {
    let out = ns.ip(&["-j", "-s", "link", "show", "dev", iface])?;
    let v: Value = serde_json::from_str(&out)?;
    let stats = &v[0]["stats64"];
    let get = |dir: &str| {
        stats[dir]["bytes"]
            .as_u64()
            .with_context(|| format!("{dir} bytes in {out}"))
    };
    Ok((get("tx")?, get("rx")?))
}

/// One sample as the Prometheus client parser reads it: name, labels, value.
type Sample = (String, serde_json::Map<String, Value>, f64);

fn parse_metrics(text: &str) -> Result<Vec<Sample>> {
    let script = "import sys, json\n\
                  from prometheus_client.parser import text_string_to_metric_families\n\
                  out = []\n\
                  for fam in text_string_to_metric_families(sys.stdin.read()):\n\
                  \x20   for s in fam.samples:\n\
                  \x20       out.append([s.name, s.labels, s.value])\n\
                  print(json.dumps(out))\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(text.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "the Prometheus parser refused /metrics: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rows: Vec<(String, serde_json::Map<String, Value>, f64)> =
        serde_json::from_slice(&out.stdout)?;
    Ok(rows)
}

fn value(
    rows: &[(String, serde_json::Map<String, Value>, f64)],
    name: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    rows.iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).and_then(Value::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
}

fn check_metrics(a: &Netns, wga: &WgGo, socket: &Path) -> Result<()> {
    // Read both sides until they agree twice in a row: the last ACKs may
    // still be on their way.
    let (rows, tun) = eventually(READY, || {
        let before = tun_bytes(a, wga.iface())?;
        let (code, text) = admin(socket, "GET", "/metrics")?;
        ensure!(code == 200, "metrics: {code}");
        let after = tun_bytes(a, wga.iface())?;
        ensure!(before == after, "traffic still moving");
        Ok((parse_metrics(&text)?, after))
    })?;
    let peer = [("peer", "laptop")];
    let rx = value(&rows, "wingress_peer_rx_bytes_total", &peer).context("rx bytes")?;
    let tx = value(&rows, "wingress_peer_tx_bytes_total", &peer).context("tx bytes")?;
    eprintln!(
        "laptop: wingress rx {rx} tx {tx}; TUN tx {} rx {}",
        tun.0, tun.1
    );
    ensure!(
        rx >= ECHOED as f64 && tx >= ECHOED as f64,
        "at least the echoed bytes: rx {rx} tx {tx}"
    );
    let within = |ours: f64, theirs: u64| (ours - theirs as f64).abs() <= 0.01 * theirs as f64;
    ensure!(
        within(rx, tun.0),
        "rx {rx} vs the client TUN's tx {}",
        tun.0
    );
    ensure!(
        within(tx, tun.1),
        "tx {tx} vs the client TUN's rx {}",
        tun.1
    );

    let route = [("host", "app.home.arpa"), ("path", "/")];
    let ok = value(
        &rows,
        "wingress_http_requests_total",
        &[route[0], route[1], ("code", "2xx")],
    );
    ensure!(ok == Some(5.0), "2xx count {ok:?}");
    let count = value(
        &rows,
        "wingress_http_request_duration_seconds_count",
        &route,
    );
    ensure!(count == Some(5.0), "histogram count {count:?}");
    let inf = value(
        &rows,
        "wingress_http_request_duration_seconds_bucket",
        &[route[0], route[1], ("le", "+Inf")],
    );
    ensure!(inf == Some(5.0), "+Inf bucket {inf:?}");
    let info = value(
        &rows,
        "wingress_peer_info",
        &[("peer", "laptop"), ("endpoint", "10.99.0.1:51820")],
    );
    ensure!(info == Some(1.0), "peer info with endpoint {info:?}");
    ensure!(value(&rows, "wingress_peer_seconds_since_handshake", &peer).is_some());
    let closed = value(
        &rows,
        "wingress_dropped_packets_total",
        &[("layer", "netstack"), ("reason", "tcp_closed_port")],
    );
    ensure!(
        closed.unwrap_or(0.0) >= 1.0,
        "closed-port SYN counted: {closed:?}"
    );
    let cert = value(
        &rows,
        "wingress_certificate_expiry_seconds",
        &[("name", "app.home.arpa"), ("source", "internal-ca")],
    );
    ensure!(
        cert.unwrap_or(0.0) > 80.0 * 86_400.0,
        "certificate expiry {cert:?}"
    );
    let open = value(
        &rows,
        "wingress_open_connections",
        &[("listener", "tcp:7000")],
    );
    ensure!(open == Some(2.0), "open connections {open:?}");
    Ok(())
}
