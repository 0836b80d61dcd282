//! Lab test of the HTTPS ingress with real clients: curl in a wireguard-go
//! namespace reaches `wingress run` through the tunnel (TLS from the
//! internal CA, HTTP/2, peer identity headers, access by tag and by peer),
//! and curl outside the tunnel reaches the same routes on a host
//! entrypoint, where tunnel-only routes answer 403 and identity is never
//! passed on.
//!
//! Namespace A (10.99.0.1, tunnel 100.64.0.1, wireguard-go) is the client;
//! B (10.99.0.2, tunnel 100.64.0.2) runs wingress and an HTTP backend on
//! its loopback. Root only; see `wingress_lab::lab_or_skip`.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use wingress_lab::process::run_command;
use wingress_lab::{
    lab_or_skip, spawn_wingress, veth, write_private_key, KeyPair, Lab, Netns, WgGo, WgGoConfig,
    WgPeer,
};

const B_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const WG_PORT: u16 = 41602;
const BACKEND_PORT: u16 = 8080;
const LAN_PORT: u16 = 3443;
const READY: Duration = Duration::from_secs(60);

#[test]
fn https_through_the_tunnel_and_on_a_host_entrypoint() -> Result<()> {
    let Some(lab) = lab_or_skip(&["wireguard-go", "wg", "curl", "openssl"]) else {
        return Ok(());
    };
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

    // The backend answers with the request's head, so the test sees
    // exactly which headers wingress passed on.
    let listener = b.run(|| TcpListener::bind((Ipv4Addr::LOCALHOST, BACKEND_PORT)))??;
    std::thread::spawn(move || echo_heads(listener));

    let dir = lab.dir().join("https");
    std::fs::create_dir_all(&dir)?;
    write_private_key(&dir, "server.key", &server.private)?;
    let config = dir.join("wingress.toml");
    client_certs(&dir)?;
    let other = KeyPair::generate()?;
    std::fs::write(&config, server_config(&dir, &client.public, &other.public))?;
    let config = config.display().to_string();
    run_command(
        Command::new(&bin).args(["check", "--config", &config]),
        Duration::from_secs(30),
    )?;
    let mut daemon = spawn_wingress(&b, &bin, "wingress-run", &["run", "--config", &config])?;
    wingress_lab::eventually(READY, || {
        daemon.ensure_running()?;
        ensure!(
            b.is_listening("tcp", LAN_PORT)?,
            "host entrypoint not listening yet"
        );
        Ok(())
    })?;

    // Clients trust only the internal CA.
    let ca = run_command(
        Command::new(&bin).args(["ca", "export", "--config", &config]),
        Duration::from_secs(30),
    )?;
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca.stdout)?;
    ensure!(String::from_utf8_lossy(&ca.stdout).starts_with("-----BEGIN CERTIFICATE-----"));

    let peer = WgPeer::new(&server.public, &["100.64.0.2/32"])
        .endpoint(SocketAddr::from((B_IP, WG_PORT)))
        .keepalive(25);
    let wg = WgGo::start(
        &a,
        &WgGoConfig::new(client, 51820, "100.64.0.1/24").peer(peer),
    )?;
    a.wait_ping("100.64.0.2", READY)?;
    wg.wait_for_handshake(&server.public, READY)?;

    // Through the tunnel: HTTP/2 over TLS from the internal CA; identity
    // headers set by wingress, the client's spoofed copy removed.
    let r = curl(
        &a,
        &ca_file,
        "app.home.arpa",
        "100.64.0.2",
        443,
        &["-H", "X-Wingress-Peer: mallory"],
    )?;
    ensure!(r.status == 200, "tunnel request to app: {r:?}");
    ensure!(r.version == "2", "HTTP/2 negotiated by ALPN: {r:?}");
    ensure!(r.has_header("x-wingress-peer: laptop"), "{r:?}");
    ensure!(r.has_header("x-wingress-peer-tags: admin,phone"), "{r:?}");
    ensure!(
        r.has_header(&format!("x-wingress-peer-key: {}", wg.public_key())),
        "{r:?}"
    );
    ensure!(r.has_header("x-forwarded-proto: https"), "{r:?}");
    ensure!(r.has_header("x-forwarded-for: 100.64.0.1"), "{r:?}");
    ensure!(
        !r.body.to_lowercase().contains("mallory"),
        "spoofed identity removed: {r:?}"
    );

    // Allowed by tag, by peer name; refused when neither matches.
    let r = curl(&a, &ca_file, "admin.home.arpa", "100.64.0.2", 443, &[])?;
    ensure!(r.status == 200, "tag:admin allows laptop: {r:?}");
    let r = curl(&a, &ca_file, "other.home.arpa", "100.64.0.2", 443, &[])?;
    ensure!(
        r.status == 403,
        "allow = [peer:someone-else] refuses laptop: {r:?}"
    );
    ensure!(
        r.body.is_empty() || !r.body.contains("GET /"),
        "403 never reached the backend: {r:?}"
    );

    // Unknown host: no certificate is minted for it, so TLS fails.
    let out = curl_raw(&a, &ca_file, "unknown.home.arpa", "100.64.0.2", 443, &[])?;
    ensure!(
        !out.status.success(),
        "no certificate for a host no route serves"
    );

    // Plain HTTP in the tunnel redirects to HTTPS.
    let out = a.exec(
        "curl",
        &[
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            "-H",
            "Host: app.home.arpa",
            "http://100.64.0.2/x?y=1",
        ],
    )?;
    ensure!(
        out.trim() == "308 https://app.home.arpa/x?y=1",
        "redirect: {out}"
    );

    // The host entrypoint, from outside the tunnel: tunnel-only routes say
    // 403; public routes work and never carry peer identity.
    let r = curl(&a, &ca_file, "app.home.arpa", "10.99.0.2", LAN_PORT, &[])?;
    ensure!(
        r.status == 403,
        "tunnel-only route from a host socket: {r:?}"
    );
    let r = curl(
        &a,
        &ca_file,
        "public.home.arpa",
        "10.99.0.2",
        LAN_PORT,
        &["-H", "X-Wingress-Peer: laptop"],
    )?;
    ensure!(
        r.status == 200,
        "public route on the host entrypoint: {r:?}"
    );
    ensure!(
        !r.has_header("x-wingress-peer:"),
        "no identity from a host socket: {r:?}"
    );
    ensure!(r.has_header("x-forwarded-for: 10.99.0.1"), "{r:?}");

    // mTLS: a certificate from the route's client CA is required, from
    // the tunnel too; its subject reaches the backend.
    let cert = dir.join("alice.pem");
    let key = dir.join("alice.key");
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let r = curl(
        &a,
        &ca_file,
        "mtls.home.arpa",
        "10.99.0.2",
        LAN_PORT,
        &["--cert", &cert, "--key", &key],
    )?;
    ensure!(r.status == 200, "mtls with a client certificate: {r:?}");
    ensure!(r.has_header("x-wingress-client-subject: alice"), "{r:?}");
    let r = curl(&a, &ca_file, "mtls.home.arpa", "100.64.0.2", 443, &[])?;
    ensure!(
        r.status == 403,
        "mtls without a certificate, even from a tunnel peer: {r:?}"
    );

    // Forward-auth: the auth service decides for outsiders and its
    // headers reach the backend; allowed tunnel peers skip it.
    let r = curl(&a, &ca_file, "auth.home.arpa", "10.99.0.2", LAN_PORT, &[])?;
    ensure!(
        r.status == 401,
        "auth service's refusal returned as is: {r:?}"
    );
    let good = [
        "-H",
        "Authorization: Bearer good",
        "-H",
        "Remote-User: mallory",
    ];
    let r = curl(&a, &ca_file, "auth.home.arpa", "10.99.0.2", LAN_PORT, &good)?;
    ensure!(
        r.status == 200,
        "auth service's 2xx lets the request through: {r:?}"
    );
    ensure!(
        r.has_header("remote-user: alice"),
        "auth response header copied: {r:?}"
    );
    ensure!(
        !r.body.to_lowercase().contains("mallory"),
        "client's own Remote-User removed: {r:?}"
    );
    let r = curl(&a, &ca_file, "auth.home.arpa", "100.64.0.2", 443, &[])?;
    ensure!(r.status == 200, "tunnel peers skip forward-auth: {r:?}");

    // One access-log line per request, with the peer's name.
    let log = daemon.log();
    ensure!(
        log.lines().any(|l| l.contains("wingress::access")
            && l.contains("peer=\"laptop\"")
            && l.contains("status=200")),
        "access log: {log}"
    );
    daemon.stop();
    Ok(())
}

fn server_config(dir: &Path, client_pub: &str, other_pub: &str) -> String {
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
tags = ["admin", "phone"]

[[peer]]
name = "someone-else"
public_key = "{other_pub}"
allowed_ips = ["100.64.0.9/32"]

[[entrypoint]]
name = "tunnel-https"
listen = "tunnel:443"

[[entrypoint]]
name = "tunnel-http"
listen = "tunnel:80"
protocol = "http"

[[entrypoint]]
name = "lan"
listen = "10.99.0.2:{LAN_PORT}"

[tls]
internal_ca = true

[[route]]
host = "app.home.arpa"
backends = ["http://127.0.0.1:{BACKEND_PORT}"]

[[route]]
host = "admin.home.arpa"
backends = ["http://127.0.0.1:{BACKEND_PORT}"]
allow = ["tag:admin"]

[[route]]
host = "other.home.arpa"
backends = ["http://127.0.0.1:{BACKEND_PORT}"]
allow = ["peer:someone-else"]

[[route]]
host = "public.home.arpa"
backends = ["http://127.0.0.1:{BACKEND_PORT}"]
access = "public"

[[route]]
host = "mtls.home.arpa"
backends = ["http://127.0.0.1:{BACKEND_PORT}"]
access = "mtls"
client_ca = "clients-ca.pem"

[[route]]
host = "auth.home.arpa"
backends = ["http://127.0.0.1:{BACKEND_PORT}"]
access = "forward-auth"
forward_auth = "http://127.0.0.1:{BACKEND_PORT}/auth"
"#,
        state = state.display(),
    )
}

/// A client CA (`clients-ca.pem`) and a client certificate for "alice"
/// signed by it (`alice.pem`, `alice.key`), made with openssl.
fn client_certs(dir: &Path) -> Result<()> {
    let sh = r#"set -e
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=clients CA" -keyout clients-ca.key -out clients-ca.pem
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=alice" \
  -keyout alice.key -out alice.csr
printf 'extendedKeyUsage=clientAuth\n' > client.ext
openssl x509 -req -in alice.csr -CA clients-ca.pem -CAkey clients-ca.key -CAcreateserial \
  -days 2 -extfile client.ext -out alice.pem
"#;
    run_command(
        Command::new("sh").args(["-c", sh]).current_dir(dir),
        Duration::from_secs(30),
    )
    .map(drop)
    .context("openssl could not make the client certificates")
}

#[derive(Debug)]
struct Reply {
    status: u16,
    version: String,
    body: String,
}

impl Reply {
    /// Whether the backend saw this header line (compared lowercased).
    fn has_header(&self, line: &str) -> bool {
        let want = line.to_lowercase();
        self.body.lines().any(|l| {
            l.trim().to_lowercase() == want
                || (want.ends_with(':') && l.to_lowercase().starts_with(&want))
        })
    }
}

fn curl_raw(
    ns: &Netns,
    ca: &Path,
    host: &str,
    ip: &str,
    port: u16,
    extra: &[&str],
) -> Result<Output> {
    let resolve = format!("{host}:{port}:{ip}");
    let url = format!("https://{host}:{port}/hello");
    let mut cmd = ns.command("curl");
    cmd.args(["-sS", "--max-time", "20", "--cacert"])
        .arg(ca)
        .args([
            "--resolve",
            &resolve,
            "-w",
            "\n%{http_code} %{http_version}",
        ])
        .args(extra)
        .arg(&url);
    wingress_lab::process::run_unchecked(&mut cmd, Duration::from_secs(30))
}

fn curl(ns: &Netns, ca: &Path, host: &str, ip: &str, port: u16, extra: &[&str]) -> Result<Reply> {
    let out = curl_raw(ns, ca, host, ip, port, extra)?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    ensure!(
        out.status.success(),
        "curl {host} via {ip}:{port} failed: {}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, last) = text
        .rsplit_once('\n')
        .context("curl printed no status line")?;
    let mut it = last.split_whitespace();
    let status = it.next().context("status")?.parse()?;
    let version = it.next().unwrap_or_default().to_string();
    Ok(Reply {
        status,
        version,
        body: body.to_string(),
    })
}

/// A minimal HTTP/1.1 backend: answers every request with its request line
/// and headers as the body, then closes the connection.
fn echo_heads(listener: TcpListener) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        std::thread::spawn(move || {
            let mut head = String::new();
            let mut reader = BufReader::new(stream.try_clone()?);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            // The forward-auth endpoint: bearer "good" is alice.
            let reply = if head.starts_with("GET /auth") {
                if head.to_lowercase().contains("authorization: bearer good") {
                    "HTTP/1.1 200 OK\r\nremote-user: alice\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string()
                } else {
                    "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer\r\ncontent-length: 6\r\nconnection: close\r\n\r\nlogin\n".to_string()
                }
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
                    head.len()
                )
            };
            stream.write_all(reply.as_bytes())?;
            std::io::Result::Ok(())
        });
    }
}
