//! Lab tests of ACME against real servers from Debian's packages, each in
//! its own network namespace: pebble (rejecting one nonce in five) with
//! pebble-challtestsrv as its DNS for HTTP-01 and TLS-ALPN-01, and named
//! (bind9) updated over RFC 2136 with TSIG for DNS-01. Clients (curl and a
//! rustls client) trust only pebble's issuing root.
//!
//! wingress listens on 127.0.0.1:5002 (http) and 127.0.0.1:5001 (https):
//! the ports pebble validates HTTP-01 and TLS-ALPN-01 on.
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use nix::sys::signal::Signal;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use wingress_lab::acme::{
    ChallTestSrv, Named, Pebble, PebbleOptions, CHALLTESTSRV_DNS, NAMED_ADDR, NAMED_SECONDARY,
    PEBBLE_DIRECTORY,
};
use wingress_lab::{
    lab_or_skip, spawn_wingress, write_private_key, Forward, ForwardConfig, KeyPair, Lab, Netns,
    Process,
};

const BACKEND_PORT: u16 = 8080;
const HTTPS_PORT: u16 = 5001;
const ISSUED: Duration = Duration::from_secs(60);
const NEEDS: &[&str] = &[
    "wg",
    "pebble",
    "pebble-challtestsrv",
    "curl",
    "openssl",
    "named",
    "dig",
    "tsig-keygen",
];

fn lab_test(f: impl FnOnce(&Lab) -> Result<()>) -> Result<()> {
    let Some(lab) = lab_or_skip(NEEDS) else {
        return Ok(());
    };
    let result = f(&lab);
    if result.is_err() {
        lab.dump_logs();
    }
    result
}

/// HTTP-01 on the plain-HTTP host entrypoint; an authorization the CA
/// cannot validate is reported with its domain, challenge and the CA's
/// detail; a restart serves the saved certificate without a new order; a
/// reload that adds a route host orders for that host only.
#[test]
fn http_01_certificate_restart_orders_nothing_and_reload_orders_new_hosts() -> Result<()> {
    lab_test(|lab| {
        let ns = lab.netns()?;
        let dir = lab.dir().join("http01");
        let dns = ChallTestSrv::start(&ns)?;
        // Pebble validates broken.acme.test at an address nobody serves.
        dns.add_a("broken.acme.test", "127.0.0.2")?;
        let pebble = Pebble::start(
            &ns,
            &dir.join("pebble"),
            &PebbleOptions {
                dns_server: CHALLTESTSRV_DNS,
                validity_secs: None,
            },
        )?;
        backend(&ns)?;
        let site = Site::new(lab, &dir, &pebble)?;
        let config = site.config("http-01", &["app.acme.test", "broken.acme.test"], None)?;
        let mut daemon = site.start(&ns, &config)?;
        daemon.wait_for_log("issued ACME certificate name=\"app.acme.test\"", ISSUED)?;
        let root = site.root_file(&pebble)?;
        let body = curl_https(&ns, &root, "app.acme.test")?;
        ensure!(body.contains("hello from the backend"), "{body}");
        // Plain HTTP still redirects everything but challenge paths.
        let redirect = ns.exec(
            "curl",
            &[
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                "Host: app.acme.test",
                "http://127.0.0.1:5002/x",
            ],
        )?;
        ensure!(redirect.trim() == "308", "redirect: {redirect}");

        daemon.wait_for_log(
            "authorization for broken.acme.test failed (http-01):",
            ISSUED,
        )?;
        let log = daemon.log();
        let line = log
            .lines()
            .find(|l| l.contains("authorization for broken.acme.test failed"))
            .unwrap_or_default();
        ensure!(
            line.contains("urn:ietf:params:acme:error:"),
            "the CA's problem type: {line}"
        );
        ensure!(
            line.contains("retry_in_secs=60"),
            "retried after a minute: {line}"
        );
        // Until it has a certificate, its handshakes fail with a clear line.
        ensure!(curl_https(&ns, &root, "broken.acme.test").is_err());
        wait_for_line(
            &mut daemon,
            &[
                "tls handshake refused: no ACME certificate for this host yet",
                "name=\"broken.acme.test\"",
                "reason=\"authorization for broken.acme.test failed (http-01)",
            ],
        )?;
        // Status shows it pending, with the reason.
        wait_for_status(&config, "broken.acme.test", |c| {
            c["state"] == "pending"
                && c["source"] == "acme"
                && c["last_error"].as_str().is_some_and(|e| {
                    e.starts_with("authorization for broken.acme.test failed (http-01)")
                })
        })?;
        let text = wingress_status(&config, false)?;
        ensure!(
            text.contains("broken.acme.test  [acme, pending] no certificate yet; next try"),
            "{text}"
        );
        wait_for_status(&config, "app.acme.test", |c| {
            c["state"] == "valid"
                && c["issuer"]
                    .as_str()
                    .is_some_and(|i| i.starts_with("Pebble Intermediate CA"))
                && c["not_after"].is_string()
                && c["next_renewal"].is_string()
        })?;
        daemon.stop();

        // Restart without the broken host: the saved certificate serves at
        // once, and pebble sees no new order.
        let orders = pebble.orders();
        ensure!(orders >= 2, "pebble logged {orders} orders");
        let config = site.config("http-01", &["app.acme.test"], None)?;
        let mut daemon = site.start(&ns, &config)?;
        daemon.wait_for_log("serving the saved ACME certificate", ISSUED)?;
        let body = curl_https(&ns, &root, "app.acme.test")?;
        ensure!(body.contains("hello from the backend"), "{body}");
        wait_for_status(&config, "app.acme.test", |c| c["state"] == "valid")?;
        // Give a wrongly scheduled order time to show up.
        std::thread::sleep(Duration::from_secs(3));
        ensure!(
            pebble.orders() == orders,
            "a restart with a valid certificate ordered again"
        );
        ensure!(!daemon.log().contains("ordering an ACME certificate"));

        // A reload that adds a route host orders its certificate, while
        // the first one keeps serving.
        site.config("http-01", &["app.acme.test", "new.acme.test"], None)?;
        daemon.signal(Signal::SIGHUP)?;
        daemon.wait_for_log("issued ACME certificate name=\"new.acme.test\"", ISSUED)?;
        for host in ["app.acme.test", "new.acme.test"] {
            let body = curl_https(&ns, &root, host)?;
            ensure!(body.contains("hello from the backend"), "{host}: {body}");
        }
        ensure!(pebble.orders() > orders);
        ensure!(
            !daemon
                .log()
                .contains("ordering an ACME certificate name=\"app.acme.test\""),
            "the reload ordered only for the new host"
        );
        daemon.stop();
        Ok(())
    })
}

/// HTTP-01 answered on a tunnel entrypoint: pebble's validation reaches
/// 127.0.0.1:5002, where `wingress forward` (a WireGuard peer) carries it
/// into the tunnel to `tunnel:80` of `wingress run`.
#[test]
fn http_01_answered_on_a_tunnel_entrypoint() -> Result<()> {
    lab_test(|lab| {
        let ns = lab.netns()?;
        let dir = lab.dir().join("http01-tunnel");
        let _dns = ChallTestSrv::start(&ns)?;
        let pebble = Pebble::start(
            &ns,
            &dir.join("pebble"),
            &PebbleOptions {
                dns_server: CHALLTESTSRV_DNS,
                validity_secs: None,
            },
        )?;
        backend(&ns)?;
        let mut site = Site::new(lab, &dir, &pebble)?;
        let client = KeyPair::generate()?;
        site.tunnel_peer = Some(client.public.clone());
        write_private_key(&dir, "client.key", &client.private)?;
        let forward = ForwardConfig {
            private_key_file: "client.key".into(),
            address: "100.64.0.1/32".into(),
            peer_public_key: site.server.public.clone(),
            endpoint: "127.0.0.1:41602".parse()?,
            allowed_ips: vec!["100.64.0.2/32".into()],
            persistent_keepalive: Some(25),
            forwards: vec![Forward {
                listen: "127.0.0.1:5002".parse()?,
                target: "100.64.0.2:80".parse()?,
                protocol: "tcp".into(),
            }],
        };
        let forward_path = dir.join("forward.toml");
        std::fs::write(&forward_path, forward.to_toml())?;
        let bin = wingress_lab::wingress_bin();
        let forward_path = forward_path.display().to_string();
        let mut client = spawn_wingress(
            &ns,
            &bin,
            "wingress-forward",
            &["forward", "--config", &forward_path],
        )?;
        ns.wait_listening_by(&mut client, "tcp", 5002, ISSUED)?;

        let config = site.config("http-01", &["app.acme.test"], None)?;
        let mut daemon = site.start(&ns, &config)?;
        daemon.wait_for_log("issued ACME certificate", ISSUED)?;
        wait_for_line(
            &mut daemon,
            &[
                "wingress::access",
                "peer=\"laptop\"",
                "entrypoint=\"web\"",
                "/.well-known/acme-challenge/",
                "status=200",
            ],
        )?;
        let root = site.root_file(&pebble)?;
        let body = curl_https(&ns, &root, "app.acme.test")?;
        ensure!(body.contains("hello from the backend"), "{body}");
        daemon.stop();
        client.stop();
        Ok(())
    })
}

/// TLS-ALPN-01 on the https entrypoint, then a renewal (pebble issues
/// 30-second certificates, so a third of the lifetime is left after 20 s)
/// while a client keeps one TLS connection open and busy: the connection
/// survives, new connections get the new certificate.
#[test]
fn tls_alpn_01_certificate_renewed_while_a_connection_stays_open() -> Result<()> {
    lab_test(|lab| {
        let ns = lab.netns()?;
        let dir = lab.dir().join("tlsalpn01");
        let _dns = ChallTestSrv::start(&ns)?;
        let pebble = Pebble::start(
            &ns,
            &dir.join("pebble"),
            &PebbleOptions {
                dns_server: CHALLTESTSRV_DNS,
                validity_secs: Some(30),
            },
        )?;
        backend(&ns)?;
        let site = Site::new(lab, &dir, &pebble)?;
        let config = site.config("tls-alpn-01", &["app.acme.test"], None)?;
        let mut daemon = site.start(&ns, &config)?;
        daemon.wait_for_log("issued ACME certificate", ISSUED)?;
        let root = site.root_file(&pebble)?;
        let body = curl_https(&ns, &root, "app.acme.test")?;
        ensure!(body.contains("hello from the backend"), "{body}");

        let mut kept = TlsClient::connect(&ns, &root, "app.acme.test")?;
        let first = kept.leaf.clone();
        let mut requests = 0;
        while !daemon.log().contains("renewed ACME certificate") {
            daemon.ensure_running()?;
            ensure!(requests < 60, "no renewal within a minute");
            let reply = kept.get("app.acme.test")?;
            ensure!(reply.contains("hello from the backend"), "{reply}");
            requests += 1;
            std::thread::sleep(Duration::from_secs(1));
        }
        // The connection opened before the renewal still works...
        let reply = kept.get("app.acme.test")?;
        ensure!(reply.contains("hello from the backend"), "{reply}");
        // ...and a new one gets the renewed certificate, valid for pebble's root.
        let fresh = TlsClient::connect(&ns, &root, "app.acme.test")?;
        ensure!(
            fresh.leaf != first,
            "new connections get the renewed certificate"
        );
        ensure!(pebble.orders() >= 2);
        daemon.stop();
        Ok(())
    })
}

/// DNS-01 through named: a name and a wildcard, TXT records published with
/// TSIG-signed updates, visible with dig during the challenge and gone
/// after. The zone has two authoritative servers, named and a secondary
/// that transfers from it, both found through the zone's NS records: while
/// the secondary is frozen (SIGSTOP), the primary has the records but the
/// CA is not told to look; once it runs again and has them, the
/// certificates are issued. A wrong TSIG secret is a clear error retried
/// later, while the certificate issued before keeps being served.
#[test]
fn dns_01_through_named_with_tsig() -> Result<()> {
    lab_test(|lab| {
        let ns = lab.netns()?;
        let dir = lab.dir().join("dns01");
        let named = Named::start_with_secondary(&ns, &dir.join("named"), "acme.test")?;
        let secondary = named.secondary().context("no secondary")?;
        let pebble = Pebble::start(
            &ns,
            &dir.join("pebble"),
            &PebbleOptions {
                dns_server: NAMED_ADDR,
                validity_secs: None,
            },
        )?;
        backend(&ns)?;
        let site = Site::new(lab, &dir, &pebble)?;
        let records = [
            "_acme-challenge.app.acme.test",
            "_acme-challenge.apps.acme.test",
        ];
        let watcher = TxtWatcher::start(&named, NAMED_ADDR, &records);
        let on_secondary = TxtWatcher::start(&named, NAMED_SECONDARY, &records);
        secondary.signal(Signal::SIGSTOP)?;
        let hosts = ["app.acme.test", "*.apps.acme.test"];
        let config = site.config("dns-01", &hosts, Some(named.key_file()))?;
        let mut daemon = site.start(&ns, &config)?;
        // Both servers come from the NS set: ns.acme.test is the configured
        // server's address, so it is asked at the configured port.
        wait_for_line(
            &mut daemon,
            &[
                "waiting for the dns-01 TXT record",
                "ns.acme.test (127.0.0.1:5300), ns2.acme.test (127.0.0.2:53)",
            ],
        )?;
        // Orders run one at a time: the first one's record is on the primary.
        wingress_lab::eventually(ISSUED, || {
            ensure!(!watcher.seen().is_empty(), "the primary has no record yet");
            Ok(())
        })?;
        // The check would have told the CA by now, were it not waiting
        // for the frozen secondary.
        std::thread::sleep(Duration::from_secs(3));
        let log = daemon.log();
        ensure!(
            !log.contains("issued ACME certificate"),
            "issued while a server lacked the record"
        );
        ensure!(
            pebble.validations() == 0,
            "pebble was asked to validate while a server lacked the record"
        );
        ensure!(on_secondary.seen().is_empty());
        secondary.signal(Signal::SIGCONT)?;
        daemon.wait_for_log("issued ACME certificate name=\"app.acme.test\"", ISSUED)?;
        daemon.wait_for_log("issued ACME certificate name=\"*.apps.acme.test\"", ISSUED)?;
        let seen = watcher.stop();
        let seen_on_secondary = on_secondary.stop();
        for record in records {
            for (server, seen) in [(NAMED_ADDR, &seen), (NAMED_SECONDARY, &seen_on_secondary)] {
                ensure!(
                    seen.contains(record),
                    "dig @{server} never saw {record} during the challenge: {seen:?}"
                );
            }
            let now = named.dig_txt(record)?;
            ensure!(
                now.is_empty(),
                "{record} still has {now:?} after the challenge"
            );
            // The removal reaches the secondary through the next notify.
            wingress_lab::eventually(ISSUED, || {
                let now = named.dig_txt_at(NAMED_SECONDARY, record)?;
                ensure!(now.is_empty(), "the secondary still has {record}: {now:?}");
                Ok(())
            })?;
        }
        let root = site.root_file(&pebble)?;
        for host in ["app.acme.test", "grafana.apps.acme.test"] {
            let body = curl_https(&ns, &root, host)?;
            ensure!(body.contains("hello from the backend"), "{host}: {body}");
        }
        daemon.stop();

        // A wrong secret for the same key name, and a new host to order.
        let wrong = run(&ns, "tsig-keygen", &["-a", "hmac-sha256", "wingress."])?;
        let wrong = wingress_lab::write_private_file(&dir.join("wrong.key"), &wrong)?;
        let hosts = ["app.acme.test", "*.apps.acme.test", "new.acme.test"];
        let config = site.config("dns-01", &hosts, Some(&wrong))?;
        let mut daemon = site.start(&ns, &config)?;
        daemon.wait_for_log("ACME order failed; will retry", ISSUED)?;
        let log = daemon.log();
        let line = log
            .lines()
            .find(|l| l.contains("ACME order failed"))
            .unwrap_or_default();
        for part in [
            "new.acme.test",
            "NOTAUTH",
            "BADSIG",
            "the secret of key `wingress.` does not match",
            "retry_in_secs=60",
        ] {
            ensure!(line.contains(part), "{part:?} missing in: {line}");
        }
        let secret = secret_of(&std::fs::read_to_string(&wrong)?)?;
        ensure!(
            !log.contains(&secret),
            "the TSIG secret must never be logged"
        );
        // The certificate issued before is still served.
        let body = curl_https(&ns, &root, "app.acme.test")?;
        ensure!(body.contains("hello from the backend"), "{body}");
        ensure!(curl_https(&ns, &root, "new.acme.test").is_err());
        wait_for_status(&config, "new.acme.test", |c| {
            c["state"] == "pending"
                && c["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("TSIG BADSIG"))
        })?;
        // The old certificates are still valid and still served.
        wait_for_status(&config, "app.acme.test", |c| c["state"] == "valid")?;
        let body = curl_https(&ns, &root, "x.apps.acme.test")?;
        ensure!(body.contains("hello from the backend"), "{body}");

        // The secret is fixed in place (same path, same config) and the
        // daemon reloaded: the new secret is used at once, not at the next
        // retry 60 s later, nor only after a restart.
        let right = std::fs::read_to_string(named.key_file())?;
        wingress_lab::write_private_file(&wrong, &right)?;
        daemon.signal(Signal::SIGHUP)?;
        wait_for_status(&config, "new.acme.test", |c| c["state"] == "valid")?;
        let body = curl_https(&ns, &root, "new.acme.test")?;
        ensure!(body.contains("hello from the backend"), "{body}");
        daemon.stop();
        Ok(())
    })
}

// === support ===

/// A wingress node in the test's namespace: its key, state and configs.
struct Site {
    dir: PathBuf,
    https_ca: PathBuf,
    server: KeyPair,
    /// With a peer, the plain-HTTP entrypoint is `tunnel:80` (reached
    /// through that peer) instead of 127.0.0.1:5002.
    tunnel_peer: Option<String>,
}

impl Site {
    fn new(_lab: &Lab, dir: &Path, pebble: &Pebble) -> Result<Site> {
        std::fs::create_dir_all(dir)?;
        let server = KeyPair::generate()?;
        write_private_key(dir, "server.key", &server.private)?;
        Ok(Site {
            dir: dir.to_path_buf(),
            https_ca: pebble.https_ca().to_path_buf(),
            server,
            tunnel_peer: None,
        })
    }

    /// The config for `hosts` with `challenge`; with `tsig`, dns-01 via named.
    fn config(&self, challenge: &str, hosts: &[&str], tsig: Option<&Path>) -> Result<PathBuf> {
        let mut text = format!(
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
name = "web"
listen = "{http_listen}"
protocol = "http"

[[entrypoint]]
name = "websecure"
listen = "127.0.0.1:{HTTPS_PORT}"

[tls.acme]
email = "ops@acme.test"
directory = "{PEBBLE_DIRECTORY}"
ca_root = "{ca}"
challenge = "{challenge}"
"#,
            state = self.dir.join("state").display(),
            ca = self.https_ca.display(),
            http_listen = if self.tunnel_peer.is_some() {
                "tunnel:80"
            } else {
                "127.0.0.1:5002"
            },
        );
        if let Some(public) = &self.tunnel_peer {
            text.push_str(&format!(
                "\n[[peer]]\nname = \"laptop\"\npublic_key = \"{public}\"\nallowed_ips = [\"100.64.0.1/32\"]\n"
            ));
        }
        if let Some(secret) = tsig {
            text.push_str(&format!(
                "\n[tls.acme.dns]\nprovider = \"rfc2136\"\nserver = \"{NAMED_ADDR}\"\nzone = \"acme.test.\"\n\
                 tsig_key_name = \"wingress.\"\ntsig_algorithm = \"hmac-sha256\"\ntsig_secret_file = \"{}\"\n",
                secret.display()
            ));
        }
        for host in hosts {
            text.push_str(&format!(
                "\n[[route]]\nhost = \"{host}\"\nbackends = [\"http://127.0.0.1:{BACKEND_PORT}\"]\naccess = \"public\"\n"
            ));
        }
        let path = self.dir.join("wingress.toml");
        std::fs::write(&path, text)?;
        Ok(path)
    }

    fn start(&self, ns: &Netns, config: &Path) -> Result<Process> {
        let bin = wingress_lab::wingress_bin();
        let config = config.display().to_string();
        let mut daemon = spawn_wingress(ns, &bin, "wingress", &["run", "--config", &config])?;
        ns.wait_listening_by(&mut daemon, "tcp", HTTPS_PORT, ISSUED)?;
        Ok(daemon)
    }

    /// Pebble's issuing root, saved for curl.
    fn root_file(&self, pebble: &Pebble) -> Result<PathBuf> {
        let path = self.dir.join("pebble-root.pem");
        std::fs::write(&path, pebble.issuing_root()?)?;
        Ok(path)
    }
}

/// Waits until one line of the daemon's log contains every part.
fn wait_for_line(daemon: &mut Process, parts: &[&str]) -> Result<()> {
    wingress_lab::eventually(ISSUED, || {
        daemon.ensure_running()?;
        let log = daemon.log();
        ensure!(
            log.lines().any(|l| parts.iter().all(|p| l.contains(p))),
            "no log line with all of {parts:?}"
        );
        Ok(())
    })
}

/// `wingress status [--json]` through the daemon's admin socket.
fn wingress_status(config: &Path, json: bool) -> Result<String> {
    let bin = wingress_lab::wingress_bin();
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("status")
        .args(json.then_some("--json"))
        .arg("--config")
        .arg(config);
    let out = wingress_lab::run_command(&mut cmd, Duration::from_secs(30))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits until the status document lists `name` and `ok` accepts it.
fn wait_for_status(
    config: &Path,
    name: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> Result<()> {
    wingress_lab::eventually(ISSUED, || {
        let doc: serde_json::Value = serde_json::from_str(&wingress_status(config, true)?)?;
        let certs = doc["certificates"]
            .as_array()
            .context("no certificates in the status")?;
        let cert = certs
            .iter()
            .find(|c| {
                c["names"]
                    .as_array()
                    .is_some_and(|n| n.iter().any(|n| n == name))
            })
            .with_context(|| format!("{name} not in {certs:?}"))?;
        ensure!(ok(cert), "status of {name}: {cert}");
        Ok(())
    })
}

fn run(ns: &Netns, program: &str, args: &[&str]) -> Result<String> {
    ns.exec(program, args)
}

/// The base64 secret in a `tsig-keygen` key block.
fn secret_of(key_block: &str) -> Result<String> {
    let after = key_block
        .split("secret \"")
        .nth(1)
        .context("no secret in the key block")?;
    Ok(after.split('"').next().unwrap_or_default().to_string())
}

/// `https://host:5001/` with curl, trusting only `root`.
fn curl_https(ns: &Netns, root: &Path, host: &str) -> Result<String> {
    let resolve = format!("{host}:{HTTPS_PORT}:127.0.0.1");
    let url = format!("https://{host}:{HTTPS_PORT}/");
    let root = root.display().to_string();
    ns.exec(
        "curl",
        &[
            "-sS",
            "--fail",
            "--max-time",
            "10",
            "--cacert",
            &root,
            "--resolve",
            &resolve,
            &url,
        ],
    )
}

/// An HTTP backend on 127.0.0.1:8080 in `ns`.
fn backend(ns: &Netns) -> Result<()> {
    let listener = ns.run(|| TcpListener::bind((Ipv4Addr::LOCALHOST, BACKEND_PORT)))??;
    std::thread::spawn(move || wingress_lab::hello_backend(listener));
    Ok(())
}

/// Runs dig against one server in a loop, remembering which records it saw.
struct TxtWatcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<BTreeSet<String>>>,
    thread: std::thread::JoinHandle<()>,
}

impl TxtWatcher {
    /// Watches `records` on the server at `addr` (`ip:port`) in named's
    /// namespace.
    fn start(named: &Named, addr: &str, records: &[&str]) -> TxtWatcher {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let records: Vec<String> = records.iter().map(|r| r.to_string()).collect();
        let (stop2, seen2) = (Arc::clone(&stop), Arc::clone(&seen));
        // dig runs in the namespace by its name, on this thread.
        let query = NamedQuery {
            ns: named.netns_name().to_string(),
            addr: addr.to_string(),
        };
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                for r in &records {
                    if query.has_txt(r) {
                        seen2.lock().unwrap().insert(r.clone());
                    }
                }
            }
        });
        TxtWatcher { stop, seen, thread }
    }

    fn seen(&self) -> BTreeSet<String> {
        self.seen.lock().unwrap().clone()
    }

    fn stop(self) -> BTreeSet<String> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        let seen = self.seen.lock().unwrap().clone();
        seen
    }
}

/// What the watcher thread needs to run dig: the namespace's name and the
/// server's address.
struct NamedQuery {
    ns: String,
    addr: String,
}

impl NamedQuery {
    fn has_txt(&self, record: &str) -> bool {
        let (ip, port) = self.addr.split_once(':').unwrap_or(("127.0.0.1", "53"));
        let out = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns,
                "dig",
                &format!("@{ip}"),
                "-p",
                port,
            ])
            .args(["+short", "+norecurse", "+time=1", "+tries=1", "TXT", record])
            .output();
        // With +short a TXT answer is a quoted string per line; a timeout
        // prints a `;;` comment to stdout, which is not an answer.
        out.is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim_start().starts_with('"'))
        })
    }
}

/// A rustls client connection kept open across requests.
struct TlsClient {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    leaf: CertificateDer<'static>,
}

impl TlsClient {
    fn connect(ns: &Netns, root: &Path, host: &str) -> Result<TlsClient> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(root)? {
            roots.add(cert?)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from(host.to_string())?;
        let conn = rustls::ClientConnection::new(Arc::new(config), name)?;
        let tcp = ns.run(|| TcpStream::connect((Ipv4Addr::LOCALHOST, HTTPS_PORT)))??;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .context("tls handshake")?;
        }
        let leaf = stream
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .context("no server certificate")?
            .clone()
            .into_owned();
        Ok(TlsClient { stream, leaf })
    }

    /// One keep-alive GET on this connection; the body.
    fn get(&mut self, host: &str) -> Result<String> {
        write!(self.stream, "GET / HTTP/1.1\r\nHost: {host}\r\n\r\n")?;
        self.stream.flush()?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if self.stream.read(&mut byte)? == 0 {
                bail!(
                    "connection closed mid-response: {}",
                    String::from_utf8_lossy(&head)
                );
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        ensure!(head.starts_with("HTTP/1.1 200"), "{head}");
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .context("no content-length")?;
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body)?;
        Ok(String::from_utf8_lossy(&body).to_string())
    }
}
