//! `[dashboard]` end to end without privileges: `wingress run` with the
//! dashboard on and no `[[route]]`, and a `wingress forward` client for
//! peer `tablet` (no tags). The dashboard's route is in `/status` with
//! its in-process backend, its host resolves in the tunnel, and the
//! tablet, not an admin, gets 403 from the proxy.
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::*;

const HOST: &str = "wingress.home.arpa";

/// A server config with the given extra sections.
fn server_config(dir: &TempDir, skey: &std::path::Path, wg_port: u16, rest: &str) -> String {
    format!(
        r#"
[node]
state_dir = "{state}"
[wireguard]
private_key_file = "{skey}"
address = "100.64.0.2/24"
listen_port = {wg_port}
[nat]
stun_servers = []
port_mapping = false
[tls]
internal_ca = true
{rest}"#,
        state = dir.path("state").display(),
        skey = skey.display(),
    )
}

/// The status code of `GET https://HOST/` through the forward on
/// 127.0.0.1:`port` (the internal CA's certificate is not checked here).
fn curl_status(port: u16) -> Option<String> {
    let out = Command::new("curl")
        .args([
            "-sk",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .args(["--resolve", &format!("{HOST}:{port}:127.0.0.1")])
        .arg(format!("https://{HOST}:{port}/"))
        .output()
        .expect("curl runs");
    let code = String::from_utf8_lossy(&out.stdout).to_string();
    (code != "000").then_some(code)
}

#[test]
fn the_dashboard_is_a_route_that_refuses_peers_without_the_tag() {
    if !required(have("curl"), "curl") {
        return;
    }
    let dir = TempDir::new("dashboard");
    let (skey, spub) = keypair(&dir, "server");
    let (_, lpub) = keypair(&dir, "laptop");
    let (tkey, tpub) = keypair(&dir, "tablet");
    let wg_port = free_port(true);
    let peers = format!(
        r#"
[[peer]]
name = "laptop"
public_key = "{lpub}"
allowed_ips = ["100.64.0.1/32"]
tags = ["admin"]
[[peer]]
name = "tablet"
public_key = "{tpub}"
allowed_ips = ["100.64.0.3/32"]
[dns]
forward = "refuse"
[dashboard]
enabled = true
host = "{HOST}"
"#
    );
    let server_cfg = dir.write("server.toml", &server_config(&dir, &skey, wg_port, &peers));
    let server = Daemon::spawn(
        &dir,
        "server",
        &["run", "--config", server_cfg.to_str().unwrap()],
    );
    let (https, dns) = (free_port(false), free_port(true));
    let cfg = client_config(
        &dir,
        "tablet",
        &tkey,
        "100.64.0.3",
        &spub,
        wg_port,
        &[
            (https, "100.64.0.2:443", "tcp"),
            (dns, "100.64.0.2:53", "udp"),
        ],
    );
    let _tablet = Daemon::spawn(
        &dir,
        "tablet",
        &["forward", "--config", cfg.to_str().unwrap()],
    );

    // The in-tunnel DNS answers the dashboard's host (with no route at all).
    let dns = SocketAddr::from(([127, 0, 0, 1], dns));
    let answer = eventually(Duration::from_secs(15), || {
        udp_ask(dns, &dns_query(7, HOST, 1), Duration::from_millis(500))
    })
    .unwrap_or_else(|| panic!("no DNS answer through the tunnel\n{}", server.log()));
    // NOERROR with one answer whose address is the tunnel address.
    assert_eq!(answer[3] & 0x0f, 0, "rcode: {answer:?}");
    assert!(answer.ends_with(&[100, 64, 0, 2]), "{answer:?}");

    let code = eventually(Duration::from_secs(15), || curl_status(https))
        .unwrap_or_else(|| panic!("no answer from the dashboard route\n{}", server.log()));
    assert_eq!(code, "403", "{}", server.log());

    let (status, body) = admin(&dir.path("state").join("admin.sock"), "GET", "/status");
    assert_eq!(status, 200, "{body}");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    let routes = doc["routes"].as_array().unwrap();
    let last = routes.last().unwrap();
    assert_eq!(last["host"], HOST, "{body}");
    assert_eq!(last["path_prefix"], "/");
    assert_eq!(last["access"], "tunnel");
    assert_eq!(last["entrypoints"], serde_json::json!(["tunnel-https"]));
    assert_eq!(last["backends"][0]["address"], "dashboard");
}

/// Turning the dashboard on by a reload waits for a restart (its server
/// starts with the admin thread): the reload says so and adds no route.
#[test]
fn enabling_the_dashboard_by_reload_needs_a_restart() {
    let dir = TempDir::new("dashboard-reload");
    let (skey, _) = keypair(&dir, "server");
    let wg_port = free_port(true);
    let route = "[[route]]\nhost = \"app.home.arpa\"\nbackends = [\"http://127.0.0.1:9\"]\n";
    let cfg = dir.write("server.toml", &server_config(&dir, &skey, wg_port, route));
    let server = Daemon::spawn(&dir, "server", &["run", "--config", cfg.to_str().unwrap()]);
    let socket = dir.path("state").join("admin.sock");
    eventually(Duration::from_secs(20), || {
        (socket.exists() && admin(&socket, "GET", "/readyz").0 == 200).then_some(())
    })
    .unwrap_or_else(|| panic!("daemon ready\n{}", server.log()));

    let on = format!("{route}[dashboard]\nenabled = true\nhost = \"{HOST}\"\n");
    replace_file(&cfg, &server_config(&dir, &skey, wg_port, &on));
    let (status, body) = admin(&socket, "POST", "/reload");
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        reply["restart_required"],
        serde_json::json!(["[dashboard] enabled"]),
        "{body}"
    );
    let (_, body) = admin(&socket, "GET", "/status");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    let hosts: Vec<&str> = doc["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["app.home.arpa"], "{body}");
}

/// `curl` to the dashboard on the host entrypoint 127.0.0.1:`port`,
/// trusting the daemon's own CA (so the certificate must name HOST), with
/// `extra` arguments (a client certificate, a form): (status, body).
fn curl_host(own_ca: &std::path::Path, port: u16, path: &str, extra: &[&str]) -> (String, String) {
    curl_https(own_ca, port, HOST, path, 20, extra)
}

/// A host entrypoint with `client_ca`: a client certificate from that CA
/// signs in (its subject is the viewer) and can add a device; without one
/// the dashboard is refused.
#[test]
fn a_host_entrypoint_admits_client_certificates_from_client_ca() {
    if !required(have("curl"), "curl") {
        return;
    }
    let dir = TempDir::new("dashboard-mtls");
    let pki = Pki::new(&dir);
    let (cert, key) = pki.leaf(&dir, "alice", &["alice.test"], true, false);
    let https = free_port(false);
    let rest = format!(
        "[dns]\nforward = \"refuse\"\n[dashboard]\nenabled = true\nhost = \"{HOST}\"\n\
         entrypoints = [\"lan\"]\nclient_ca = \"{}\"\n",
        pki.ca.display()
    );
    let cfg = host_entrypoint_config(&dir, https, &rest);
    let cfg = cfg.to_str().unwrap();
    let (server, own_ca) = serve_with_own_ca(&dir, cfg, https);
    let with_cert = [
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ];

    let (status, body) = eventually(Duration::from_secs(15), || {
        let (status, body) = curl_host(&own_ca, https, "/", &with_cert);
        (status == "200").then_some((status, body))
    })
    .unwrap_or_else(|| {
        let (status, body) = curl_host(&own_ca, https, "/", &with_cert);
        panic!(
            "GET / with a client certificate: {status} {body}\n{}",
            server.log()
        )
    });
    assert_eq!(status, "200");
    assert!(body.contains("<span id=\"whoami\">alice</span>"), "{body}");

    let (status, form) = curl_host(&own_ca, https, "/peers/add", &with_cert);
    assert_eq!(status, "200", "{form}");
    let marker = "name=\"csrf\" value=\"";
    let at = form.find(marker).expect("a token in the form") + marker.len();
    let token = &form[at..at + 64];
    let before = std::fs::read_to_string(cfg).unwrap();
    let origin = format!("Origin: https://{HOST}:{https}");
    let data = format!("name=phone&tags=phone&csrf={token}");
    let mut post = with_cert.to_vec();
    post.extend(["-H", &origin, "--data", &data]);
    let (status, body) = curl_host(&own_ca, https, "/peers/add", &post);
    assert_eq!(status, "200", "{body}\n{}", server.log());
    assert!(body.contains("PrivateKey = "), "{body}");
    let after = std::fs::read_to_string(cfg).unwrap();
    assert!(after.starts_with(&before), "{after}");
    assert!(after.contains("[[peer]]\nname = \"phone\""), "{after}");

    // The same POST from another origin (no port) is refused.
    let data = format!("name=phone2&csrf={token}");
    let wrong = format!("Origin: https://{HOST}");
    let mut post = with_cert.to_vec();
    post.extend(["-H", &wrong, "--data", &data]);
    let (status, body) = curl_host(&own_ca, https, "/peers/add", &post);
    assert_eq!(status, "403", "{body}");

    // No client certificate: the handshake allows it (other routes may be
    // public) and the proxy's mtls check answers 403, as on any mtls route.
    let (status, body) = curl_host(&own_ca, https, "/", &[]);
    assert_eq!(status, "403", "{body}");
    assert!(!body.contains("whoami"), "{body}");
    // Nor does a certificate from another CA: the handshake fails (000).
    let other = Pki::new(&TempDir::new("dashboard-mtls-other"));
    let other_dir = TempDir::new("dashboard-mtls-other-leaf");
    let (ocert, okey) = other.leaf(&other_dir, "mallory", &["m.test"], true, false);
    let (status, body) = curl_host(
        &own_ca,
        https,
        "/",
        &[
            "--cert",
            ocert.to_str().unwrap(),
            "--key",
            okey.to_str().unwrap(),
        ],
    );
    assert_eq!(status, "000", "{body}");
    assert!(!body.contains("whoami"), "{body}");
}
