//! Lab test of path handling against a real backend that decodes paths:
//! nginx answers every request with the path it decoded (`$uri`), behind a
//! host entrypoint of `wingress run` where `/admin` is tunnel-only and `/`
//! public. curl (`--path-as-is`, so it sends each path unchanged) tries
//! the ways around the prefix that issue 15 found and more: every one is
//! refused (400, or 403 from the `/admin` route), and none reaches nginx's
//! `/admin`.
//!
//! One namespace: nginx, wingress and curl on its loopback. Root only; see
//! `wingress_lab::lab_or_skip`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use wingress_lab::process::{run_command, run_unchecked};
use wingress_lab::{lab_or_skip, spawn_wingress, write_private_key, KeyPair, Lab, Netns};

const BACKEND_PORT: u16 = 18081;
const ENTRYPOINT_PORT: u16 = 13443;
const HOST: &str = "app.home.arpa";
const READY: Duration = Duration::from_secs(60);

/// Refused outright: 400 (or 403 where the path is `/admin` itself).
const REFUSED: &[&str] = &[
    // The three from the issue, which reached nginx's /admin.
    "/%61dmin",
    "/%2fadmin",
    "/public%2F..%2Fadmin",
    // Refused before as well.
    "/admin",
    "/./admin",
    "//admin",
    // Escapes in both cases, partly or fully encoded dot segments.
    "/%61%64%6D%69%6E",
    "/%2Fadmin",
    "/public%2f..%2fadmin",
    "/public/%2e%2e/admin",
    "/public/%2E%2E/admin",
    "/public/.%2e/admin",
    "/public/%2e./admin",
    "/public/%2e%2e%2fadmin",
    "/public/..%2fadmin",
    "///admin",
    "/public/../admin",
    "/public/./../admin",
    // Double encodings.
    "/%2561dmin",
    "/public%252F..%252Fadmin",
    "/public/%252e%252e/admin",
    // Backslashes, raw and encoded.
    "/public\\..\\admin",
    "/public%5c..%5cadmin",
    "/public%5C..%5Cadmin",
    // NUL and other controls.
    "/admin%00",
    "/public%00/../admin",
    "/public/%0a/../../admin",
    "/%09/../admin",
    // Invalid escapes.
    "/admin%",
    "/admin%2",
    "/%zzadmin",
    "/%%32%65%%32%65/admin",
    "/%u0061dmin",
    // Servlet-style path parameters.
    "/public/..;/admin",
    "/public;x/..;y/admin",
    "/admin;x",
];

/// Served by the public route, as something other than nginx's /admin:
/// case variants (nginx compares case-sensitively) and overlong UTF-8.
const ELSEWHERE: &[&str] = &[
    "/ADMIN",
    "/Admin",
    "/%41dmin",
    "/%41DMIN",
    "/%c0%afadmin",
    "/admin2",
];

#[test]
fn paths_that_decode_to_a_protected_prefix_never_reach_it() -> Result<()> {
    let Some(lab) = lab_or_skip(&["nginx", "curl", "openssl"]) else {
        return Ok(());
    };
    let result = run(&lab);
    if result.is_err() {
        lab.dump_logs();
    }
    result
}

fn run(lab: &Lab) -> Result<()> {
    let ns = lab.netns()?;
    ns.ip(&["link", "set", "lo", "up"])?;
    let dir = lab.dir().join("paths");
    std::fs::create_dir_all(&dir)?;
    let _nginx = start_nginx(&ns, &dir)?;

    let bin = wingress_lab::wingress_bin();
    write_private_key(&dir, "server.key", &KeyPair::generate()?.private)?;
    let config = dir.join("wingress.toml");
    std::fs::write(&config, server_config(&dir))?;
    let config = config.display().to_string();
    let mut daemon = spawn_wingress(&ns, &bin, "wingress-paths", &["run", "--config", &config])?;
    ns.wait_listening_by(&mut daemon, "tcp", ENTRYPOINT_PORT, READY)?;
    let ca = run_command(
        Command::new(&bin).args(["ca", "export", "--config", &config]),
        Duration::from_secs(30),
    )?;
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca.stdout)?;

    // The public route works, and nginx sees what wingress routed on.
    for (path, decoded) in [("/public/x", "/public/x"), ("/%7euser/a%20b", "/~user/a b")] {
        let (status, body) = curl(&ns, &ca_file, path)?;
        ensure!(
            status == 200 && body == decoded,
            "{path}: {status} {body:?}"
        );
    }
    let mut failures = Vec::new();
    for path in REFUSED {
        let (status, body) = curl(&ns, &ca_file, path)?;
        if !(status == 400 || status == 403) || body.starts_with("/admin") {
            failures.push(format!("{path}: {status} {body:?}"));
        }
    }
    for path in ELSEWHERE {
        let (status, body) = curl(&ns, &ca_file, path)?;
        if body.starts_with("/admin") {
            failures.push(format!("{path}: {status} {body:?}"));
        }
    }
    ensure!(
        failures.is_empty(),
        "reached or not refused:\n{}",
        failures.join("\n")
    );
    daemon.stop();
    Ok(())
}

/// nginx in the foreground, answering with the path it decoded.
fn start_nginx(ns: &Netns, dir: &Path) -> Result<wingress_lab::Process> {
    let d = dir.display();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/nginx-body;
  proxy_temp_path {d}/nginx-proxy;
  fastcgi_temp_path {d}/nginx-fastcgi;
  uwsgi_temp_path {d}/nginx-uwsgi;
  scgi_temp_path {d}/nginx-scgi;
  server {{
    listen 127.0.0.1:{BACKEND_PORT};
    location / {{ default_type text/plain; return 200 "$uri"; }}
  }}
}}
"#
        ),
    )?;
    let conf = conf.display().to_string();
    let mut nginx = ns.spawn("nginx-paths", "nginx", &["-c", &conf, "-p", &d.to_string()])?;
    ns.wait_listening_by(&mut nginx, "tcp", BACKEND_PORT, READY)
        .context("nginx did not start")?;
    Ok(nginx)
}

fn server_config(dir: &Path) -> String {
    let state = dir.join("state");
    format!(
        r#"[node]
ip = "10.99.0.2"
state_dir = "{state}"

[wireguard]
private_key_file = "server.key"
address = "100.64.0.2/24"

[nat]
stun_servers = []
port_mapping = false

[[entrypoint]]
name = "lan"
listen = "127.0.0.1:{ENTRYPOINT_PORT}"

[tls]
internal_ca = true

[[route]]
host = "{HOST}"
path_prefix = "/admin"
backends = ["http://127.0.0.1:{BACKEND_PORT}"]
access = "tunnel"

[[route]]
host = "{HOST}"
backends = ["http://127.0.0.1:{BACKEND_PORT}"]
access = "public"
"#,
        state = state.display(),
    )
}

/// `GET path` sent as is; the status and body.
fn curl(ns: &Netns, ca: &Path, path: &str) -> Result<(u16, String)> {
    let resolve = format!("{HOST}:{ENTRYPOINT_PORT}:127.0.0.1");
    let url = format!("https://{HOST}:{ENTRYPOINT_PORT}{path}");
    let mut cmd = ns.command("curl");
    cmd.args(["-sS", "--path-as-is", "--max-time", "20", "--cacert"])
        .arg(ca)
        .args(["--resolve", &resolve, "-w", "\n%{http_code}", &url]);
    let out = run_unchecked(&mut cmd, Duration::from_secs(30))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    ensure!(
        out.status.success(),
        "curl {path}: {}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, status) = text.rsplit_once('\n').context("no status line")?;
    Ok((status.trim().parse()?, body.to_string()))
}
