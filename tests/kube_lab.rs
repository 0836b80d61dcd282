//! Lab test of Kubernetes discovery end to end: `wingress run` with
//! `[kubernetes] enabled = true` watches the fake API server
//! (`wingress_lab::kube_api`, the ClusterRole of
//! `packaging/kubernetes/discovery` enforced), and curl in a wireguard-go
//! namespace follows what the Ingresses say through the tunnel: an
//! Ingress appears, gains a path, its EndpointSlice moves, its TLS Secret
//! rotates, it is deleted; the API server stops (the routes keep serving,
//! the status says stale) and comes back. A bad annotation skips only its
//! Ingress, with an Event and a status problem; the accepted Ingresses'
//! `status.loadBalancer` gets the address, and an Ingress skipped after
//! it was served loses it; every request the daemon made is inside the
//! ClusterRole.
//!
//! Namespace A (10.99.0.1, tunnel 100.64.0.1, wireguard-go) is the client;
//! B (10.99.0.2, tunnel 100.64.0.2) runs wingress, the fake API server and
//! two HTTP backends ("pods") on its loopback. Root only; see
//! `wingress_lab::lab_or_skip`.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use wingress_lab::kube_api::{ClusterRole, FakeApiServer, FakeConfig};
use wingress_lab::process::run_command;
use wingress_lab::{
    lab_or_skip, spawn_wingress, veth, write_private_key, KeyPair, Lab, Netns, WgGo, WgGoConfig,
    WgPeer,
};

const B_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const WG_PORT: u16 = 41602;
/// The two "pods".
const POD_1: u16 = 8081;
const POD_2: u16 = 8082;
const READY: Duration = Duration::from_secs(30);
/// How long a change may take to reach the routes.
const FOLLOW: Duration = Duration::from_secs(10);
const DISCOVERY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../packaging/kubernetes/discovery"
);

#[test]
fn ingresses_become_routes_through_the_tunnel() -> Result<()> {
    let Some(lab) = lab_or_skip(&["wireguard-go", "wg", "curl", "openssl", "dig"]) else {
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
    for (port, name) in [(POD_1, "pod-1"), (POD_2, "pod-2")] {
        let listener = b.run(|| TcpListener::bind((Ipv4Addr::LOCALHOST, port)))??;
        std::thread::spawn(move || serve_name(listener, name));
    }

    // The fake API server lives in B, as the daemon's loopback: its
    // runtime's threads are made there, and whatever binds runs in B.
    let dir = lab.dir().join("kube");
    std::fs::create_dir_all(&dir)?;
    let role = ClusterRole::from_dir(Path::new(DISCOVERY))?;
    let rt = b.run(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
    })??;
    let mut config = FakeConfig::new(dir.join("api"));
    config.role = Some(role.clone());
    let mut api = b.run(|| rt.block_on(FakeApiServer::start(config)))??;
    api.apply_yaml(&service("web", POD_1))?;
    api.apply_yaml(&service("web2", POD_2))?;
    api.apply_yaml(&slice("web", POD_1))?;
    api.apply_yaml(&slice("web2", POD_2))?;
    api.apply_yaml(&ingress("app", "/", "web", ""))?;
    api.apply_yaml(&ingress("bad", "/", "web", "wingress.dev/timeout: \"5\""))?;

    write_private_key(&dir, "server.key", &server.private)?;
    let config = dir.join("wingress.toml");
    std::fs::write(
        &config,
        server_config(&dir, &client.public, &api.kubeconfig()),
    )?;
    let config = config.display().to_string();
    let mut daemon = spawn_wingress(&b, &bin, "wingress-run", &["run", "--config", &config])?;
    let ca = wingress_lab::eventually(READY, || {
        daemon.ensure_running()?;
        let out = run_command(
            Command::new(&bin).args(["ca", "export", "--config", &config]),
            Duration::from_secs(30),
        )?;
        ensure!(out.stdout.starts_with(b"-----BEGIN CERTIFICATE-----"));
        Ok(out.stdout)
    })?;
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca)?;

    let peer = WgPeer::new(&server.public, &["100.64.0.2/32"])
        .endpoint(SocketAddr::from((B_IP, WG_PORT)))
        .keepalive(25);
    let wg = WgGo::start(
        &a,
        &WgGoConfig::new(client, 51820, "100.64.0.1/24").peer(peer),
    )?;
    a.wait_ping("100.64.0.2", READY)?;
    wg.wait_for_handshake(&server.public, READY)?;
    let get = |host: &str, path: &str| curl(&a, &ca_file, host, path);
    let follows = |host: &str, path: &str, want: &str| {
        wingress_lab::eventually(FOLLOW, || {
            let got = get(host, path)?;
            ensure!(got == want, "{host}{path}: {got:?}, want {want:?}");
            Ok(())
        })
    };

    // (a) An Ingress of the class appears (the file has no routes and no
    // entrypoints: the defaults open for the Ingress's routes), and the
    // in-tunnel DNS answers its host.
    follows("app.home.arpa", "/x", "200 pod-1 /x")?;
    let answer = a.exec("dig", &["+short", "@100.64.0.2", "app.home.arpa"])?;
    ensure!(
        answer.trim() == "100.64.0.2",
        "DNS for app.home.arpa: {answer:?}"
    );

    // (g) A bad annotation skips that Ingress only: an Event, a status
    // problem; the accepted one gets the status address.
    wingress_lab::eventually(FOLLOW, || {
        let lb = api
            .object("networking.k8s.io/v1", "Ingress", "apps", "app")
            .context("app")?["status"]["loadBalancer"]["ingress"][0]["ip"]
            .clone();
        ensure!(lb == "100.64.0.2", "app's status: {lb}");
        let bad = api
            .object("networking.k8s.io/v1", "Ingress", "apps", "bad")
            .context("bad")?;
        ensure!(
            bad["status"]["loadBalancer"]["ingress"].is_null(),
            "bad got a status: {bad}"
        );
        let events = api.events();
        ensure!(
            events.iter().any(|e| e.to_string().contains("\"bad\"")
                && e.to_string().contains("wingress.dev/timeout")),
            "no Event for bad: {events:?}"
        );
        let k = kube_status(&config)?;
        let problems = k["problems"].to_string();
        ensure!(problems.contains("apps/bad"), "status problems: {k}");
        ensure!(
            k["synced"] == true && k["routes"].as_u64() >= Some(1),
            "{k}"
        );
        Ok(())
    })?;
    let text = run_command(
        Command::new(&bin).args(["status", "--config", &config]),
        Duration::from_secs(30),
    )?;
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    ensure!(
        text.contains("kubernetes: synced") && text.contains("problem: apps/bad"),
        "wingress status: {text}"
    );

    // (b) A second Ingress adds a path on the same host, to another
    // Service.
    api.apply_yaml(&ingress("app-v2", "/v2", "web2", ""))?;
    follows("app.home.arpa", "/v2/y", "200 pod-2 /v2/y")?;
    follows("app.home.arpa", "/x", "200 pod-1 /x")?;

    // (c) The EndpointSlice moves: traffic follows.
    api.apply_yaml(&slice("web", POD_2))?;
    follows("app.home.arpa", "/x", "200 pod-2 /x")?;
    api.apply_yaml(&slice("web", POD_1))?;
    follows("app.home.arpa", "/x", "200 pod-1 /x")?;

    // (d) A TLS Secret: its certificate is served, and a rotation replaces
    // it for new handshakes.
    let (crt, key) = leaf(&dir, "secure-v1")?;
    api.apply_yaml(&tls_secret(&crt, &key))?;
    api.apply_yaml(&tls_ingress())?;
    let subject = |want: &str| {
        wingress_lab::eventually(FOLLOW, || {
            let got = served_subject(&a)?;
            ensure!(got.contains(want), "served {got:?}, want {want}");
            Ok(())
        })
    };
    subject("CN = secure-v1")?;
    let (crt, key) = leaf(&dir, "secure-v2")?;
    api.apply_yaml(&tls_secret(&crt, &key))?;
    subject("CN = secure-v2")?;

    // (e) The Ingress is deleted: its path is gone, the other stays.
    ensure!(api.delete("networking.k8s.io/v1", "Ingress", "apps", "app")?);
    follows("app.home.arpa", "/x", "404")?;
    follows("app.home.arpa", "/v2/y", "200 pod-2 /v2/y")?;

    // (f) The API server goes away: the routes keep serving, the status
    // says how stale they are; back, it recovers and follows changes again.
    b.run(|| rt.block_on(api.stop()))?;
    wingress_lab::eventually(Duration::from_secs(20), || {
        let k = kube_status(&config)?;
        ensure!(k["stale"] == true && k["stale_secs"].is_u64(), "{k}");
        Ok(())
    })?;
    ensure!(get("app.home.arpa", "/v2/y")? == "200 pod-2 /v2/y");
    b.run(|| rt.block_on(api.restart(true)))??;
    api.apply_yaml(&ingress("app", "/", "web", ""))?;
    follows("app.home.arpa", "/x", "200 pod-1 /x")?;
    wingress_lab::eventually(Duration::from_secs(20), || {
        let k = kube_status(&config)?;
        ensure!(k["stale"] == false, "{k}");
        Ok(())
    })?;
    // Routes from the file's reload keep the Ingresses' routes.
    daemon.signal(nix::sys::signal::Signal::SIGHUP)?;
    std::thread::sleep(Duration::from_millis(500));
    ensure!(get("app.home.arpa", "/x")? == "200 pod-1 /x");

    // (i) An Ingress served before and skipped now (a bad annotation)
    // loses its route and the address in its status; the other keeps it.
    let lb_ip = |name: &str| -> Result<Value> {
        Ok(api
            .object("networking.k8s.io/v1", "Ingress", "apps", name)
            .with_context(|| name.to_string())?["status"]["loadBalancer"]["ingress"][0]["ip"]
            .clone())
    };
    wingress_lab::eventually(FOLLOW, || {
        ensure!(lb_ip("app-v2")? == "100.64.0.2", "app-v2's status");
        Ok(())
    })?;
    api.apply_yaml(&ingress(
        "app-v2",
        "/v2",
        "web2",
        "wingress.dev/timeout: \"5\"",
    ))?;
    follows("app.home.arpa", "/v2/y", "200 pod-1 /v2/y")?;
    wingress_lab::eventually(FOLLOW, || {
        let lb = lb_ip("app-v2")?;
        ensure!(lb.is_null(), "app-v2 keeps the address: {lb}");
        ensure!(lb_ip("app")? == "100.64.0.2", "app's status");
        Ok(())
    })?;

    // (h) Every request was inside the ClusterRole.
    let outside = api.requests_outside(&role);
    ensure!(
        outside.is_empty(),
        "requests outside the ClusterRole: {outside:?}"
    );
    daemon.stop();
    b.run(|| rt.block_on(api.stop()))?;
    Ok(())
}

/// The `kubernetes` section of `wingress status --json`.
fn kube_status(config: &str) -> Result<Value> {
    let out = run_command(
        Command::new(wingress_lab::wingress_bin()).args(["status", "--json", "--config", config]),
        Duration::from_secs(30),
    )?;
    let doc: Value = serde_json::from_slice(&out.stdout)?;
    Ok(doc["kubernetes"].clone())
}

/// `STATUS BODY` of a GET through the tunnel (`404` alone when the body is
/// not a pod's answer).
fn curl(a: &Netns, ca: &Path, host: &str, path: &str) -> Result<String> {
    let ca = ca.display().to_string();
    let out = a.exec(
        "curl",
        &[
            "-sS",
            "--max-time",
            "5",
            "--cacert",
            &ca,
            "--resolve",
            &format!("{host}:443:100.64.0.2"),
            "-w",
            "\n%{http_code}",
            &format!("https://{host}{path}"),
        ],
    )?;
    let (body, code) = out.rsplit_once('\n').context("no status")?;
    Ok(if body.starts_with("pod-") {
        format!("{code} {body}")
    } else {
        code.to_string()
    })
}

/// The subject of the certificate served for `secure.home.arpa`.
fn served_subject(a: &Netns) -> Result<String> {
    let out = run_command(
        a.command("sh").args([
            "-c",
            "openssl s_client -connect 100.64.0.2:443 -servername secure.home.arpa </dev/null 2>/dev/null | openssl x509 -noout -subject",
        ]),
        Duration::from_secs(10),
    )?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A key and a certificate for `secure.home.arpa` with subject `cn`, PEM.
fn leaf(dir: &Path, cn: &str) -> Result<(String, String)> {
    let sh = format!(
        "set -e; umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
         -subj /CN={cn} -addext subjectAltName=DNS:secure.home.arpa -addext basicConstraints=critical,CA:FALSE \
         -keyout {cn}.key -out {cn}.pem"
    );
    run_command(
        Command::new("sh").args(["-c", &sh]).current_dir(dir),
        Duration::from_secs(30),
    )?;
    Ok((
        std::fs::read_to_string(dir.join(format!("{cn}.pem")))?,
        std::fs::read_to_string(dir.join(format!("{cn}.key")))?,
    ))
}

/// Answers every request with `200` and `NAME PATH`, then closes.
fn serve_name(listener: TcpListener, name: &'static str) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        std::thread::spawn(move || -> std::io::Result<()> {
            let mut reader = BufReader::new(stream.try_clone()?);
            let mut first = String::new();
            reader.read_line(&mut first)?;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("?");
            let body = format!("{name} {path}");
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        });
    }
}

fn server_config(dir: &Path, client_pub: &str, kubeconfig: &Path) -> String {
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

[dns]
enabled = true

[[peer]]
name = "laptop"
public_key = "{client_pub}"
allowed_ips = ["100.64.0.1/32"]

[tls]
internal_ca = true

[kubernetes]
enabled = true
kubeconfig = "{kubeconfig}"
namespaces = ["apps"]
host_suffixes = ["home.arpa"]
status_address = "100.64.0.2"
debounce = "50ms"
"#,
        state = state.display(),
        kubeconfig = kubeconfig.display(),
    )
}

fn service(name: &str, target: u16) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: apps}}
spec:
  clusterIP: 10.96.0.10
  ports: [{{name: http, port: 80, targetPort: {target}}}]
"
    )
}

fn slice(service: &str, port: u16) -> String {
    format!(
        "apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {service}-abc
  namespace: apps
  labels: {{kubernetes.io/service-name: {service}}}
addressType: IPv4
ports: [{{name: http, port: {port}, protocol: TCP}}]
endpoints:
  - addresses: [127.0.0.1]
    conditions: {{ready: true, serving: true, terminating: false}}
"
    )
}

fn ingress(name: &str, path: &str, service: &str, annotation: &str) -> String {
    let annotations = if annotation.is_empty() {
        String::new()
    } else {
        format!("  annotations: {{{annotation}}}\n")
    };
    let host = if name == "bad" {
        "bad.home.arpa"
    } else {
        "app.home.arpa"
    };
    format!(
        "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: apps
{annotations}spec:
  ingressClassName: wingress
  rules:
    - host: {host}
      http:
        paths:
          - path: {path}
            pathType: Prefix
            backend:
              service: {{name: {service}, port: {{number: 80}}}}
"
    )
}

fn tls_ingress() -> String {
    "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: secure, namespace: apps}
spec:
  ingressClassName: wingress
  tls: [{hosts: [secure.home.arpa], secretName: secure-tls}]
  rules:
    - host: secure.home.arpa
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service: {name: web, port: {number: 80}}
"
    .to_string()
}

fn tls_secret(crt: &str, key: &str) -> String {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "apiVersion: v1
kind: Secret
metadata: {{name: secure-tls, namespace: apps}}
type: kubernetes.io/tls
data:
  tls.crt: {}
  tls.key: {}
",
        b64(crt),
        b64(key)
    )
}
