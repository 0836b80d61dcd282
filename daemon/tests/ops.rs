//! Operations on a running `wingress run`, with curl on a host entrypoint
//! and the admin API on its unix socket: reloads by `POST /reload`, by a
//! file change and by SIGHUP (a broken file is rejected and the old config
//! keeps serving; routes and host entrypoints come and go), restart-only
//! changes reported, `wingress status` and `--json`, the TCP admin
//! address (with its token), a second daemon refused, a stale socket replaced, and a
//! graceful shutdown that lets an in-flight request finish and exits 0.
//! Needs no privileges.
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(30);

struct Setup {
    dir: TempDir,
    key: PathBuf,
    config: PathBuf,
    socket: PathBuf,
    wg: u16,
    https: u16,
    backend: u16,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let dir = TempDir::new(tag);
        let (key, _) = keypair(&dir, "server");
        let config = dir.path("server.toml");
        let socket = dir.path("state/admin.sock");
        Setup {
            key,
            config,
            socket,
            wg: free_port(true),
            https: free_port(false),
            backend: backend(),
            dir,
        }
    }

    /// A config serving `hosts` (public routes to the backend) on the
    /// host entrypoint `lan`, plus `extra` TOML.
    fn text(&self, hosts: &[&str], extra: &str) -> String {
        let mut t = format!(
            "[node]\nstate_dir = \"{state}\"\n\
             [wireguard]\nprivate_key_file = \"{key}\"\naddress = \"100.64.0.2/24\"\nlisten_port = {wg}\n\
             [[entrypoint]]\nname = \"lan\"\nlisten = \"127.0.0.1:{https}\"\n\
             [tls]\ninternal_ca = true\n\
             [nat]\nstun_servers = []\nport_mapping = false\n",
            state = self.dir.path("state").display(),
            key = self.key.display(),
            wg = self.wg,
            https = self.https,
        );
        for h in hosts {
            t.push_str(&format!(
                "[[route]]\nhost = \"{h}\"\nbackends = [\"http://127.0.0.1:{}\"]\naccess = \"public\"\n",
                self.backend
            ));
        }
        t.push_str(extra);
        t
    }

    fn start(&self, hosts: &[&str], extra: &str) -> Daemon {
        std::fs::write(&self.config, self.text(hosts, extra)).unwrap();
        let d = Daemon::spawn(&self.dir, "server", &["run", "--config", self.cfg()]);
        eventually(WAIT, || {
            // Connectable first: a stale socket file may be there before.
            std::os::unix::net::UnixStream::connect(&self.socket).ok()?;
            (admin(&self.socket, "GET", "/readyz").0 == 200).then_some(())
        })
        .expect("daemon ready");
        d
    }

    fn cfg(&self) -> &str {
        self.config.to_str().unwrap()
    }

    fn ca(&self) -> PathBuf {
        let (code, ca, err) = wingress(&["ca", "export", "--config", self.cfg()], "");
        assert_eq!(code, 0, "{err}");
        self.dir.write("ca.pem", &ca)
    }

    fn status(&self) -> serde_json::Value {
        let (code, body) = admin(&self.socket, "GET", "/status");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    fn reload(&self) -> (u16, serde_json::Value) {
        let (code, body) = admin(&self.socket, "POST", "/reload");
        (
            code,
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")),
        )
    }
}

/// An HTTP/1.1 backend answering `backend <path>`; `/slow` first reports
/// on `SLOW` and then answers after 3 s.
fn backend() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut r = BufReader::new(s.try_clone()?);
                let mut first = String::new();
                r.read_line(&mut first)?;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line)? == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
                if path == "/slow" {
                    if let Some(tx) = SLOW.lock().unwrap().as_ref() {
                        let _ = tx.send(());
                    }
                    std::thread::sleep(Duration::from_secs(3));
                }
                let body = format!("backend {path}\n");
                write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            });
        }
    });
    port
}

static SLOW: std::sync::Mutex<Option<mpsc::Sender<()>>> = std::sync::Mutex::new(None);

/// `curl https://HOST:PORT/PATH` trusting `ca`: (status, body).
fn curl(ca: &Path, port: u16, host: &str, path: &str) -> (String, String) {
    curl_https(ca, port, host, path, 30, &[])
}

fn refused(port: u16) -> bool {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err()
}

#[test]
fn reloads_apply_good_configs_reject_bad_ones_and_report_in_status() {
    let s = Setup::new("ops-reload");
    let admin_tcp = free_port(false);
    let token_file = s.dir.write("admin.token", TOKEN);
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let tcp_admin = format!(
        "[admin]\nlisten = \"127.0.0.1:{admin_tcp}\"\ntoken_file = \"{}\"\n",
        token_file.display()
    );
    let mut daemon = s.start(&["app.home.arpa"], &tcp_admin);
    let ca = s.ca();
    let (code, body) = curl(&ca, s.https, "app.home.arpa", "/x");
    assert_eq!(code, "200", "{body}\n{}", daemon.log());
    assert!(body.starts_with("backend /x"), "{body}");

    // The socket is the owner's only.
    let mode = std::fs::metadata(&s.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // A broken file: 400 with file:line:col, the old config serves on.
    replace_file(
        &s.config,
        &s.text(&["app.home.arpa"], &format!("{tcp_admin}[route]\n")),
    );
    let (code, body) = s.reload();
    assert_eq!(code, 400, "{body}");
    let errors: Vec<String> = serde_json::from_value(body["errors"].clone()).unwrap();
    let want = format!("{}:", s.config.display());
    assert!(
        !errors.is_empty()
            && errors
                .iter()
                .all(|e| e.starts_with(&want) && e.contains(": error: ")),
        "{errors:?}"
    );
    let status = s.status();
    let last = status["config"]["last_reload_error"]
        .as_str()
        .unwrap_or_default();
    assert!(last.contains(&want), "{status:#}");
    assert_eq!(
        curl(&ca, s.https, "app.home.arpa", "/").0,
        "200",
        "old config still serves"
    );

    // A certificate file that does not load is rejected too (422), before
    // anything changes.
    let bad_cert = s.dir.write("broken.pem", "not a certificate\n");
    let certs = format!(
        "{tcp_admin}[[tls.certificate]]\ncert_file = \"{c}\"\nkey_file = \"{c}\"\n",
        c = bad_cert.display()
    );
    replace_file(
        &s.config,
        &s.text(&["app.home.arpa", "b.home.arpa"], &certs),
    );
    let (code, body) = s.reload();
    assert_eq!(code, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("broken.pem"),
        "{body}"
    );
    // No route, so no certificate either: the handshake fails.
    assert_eq!(
        curl(&ca, s.https, "b.home.arpa", "/").0,
        "000",
        "nothing applied"
    );

    // A file change alone: the watcher applies it.
    replace_file(
        &s.config,
        &s.text(&["app.home.arpa", "b.home.arpa"], &tcp_admin),
    );
    eventually(WAIT, || {
        (curl(&ca, s.https, "b.home.arpa", "/").0 == "200").then_some(())
    })
    .unwrap_or_else(|| panic!("file change applied:\n{}", daemon.log()));
    assert!(log_has(&daemon_log(&s), "file changed"));
    assert!(s.status()["config"]["last_reload_error"].is_null());

    // SIGHUP, before the watcher would notice: a new route and a second
    // host entrypoint.
    let https2 = free_port(false);
    let lan2 =
        format!("{tcp_admin}[[entrypoint]]\nname = \"lan2\"\nlisten = \"127.0.0.1:{https2}\"\n");
    replace_file(
        &s.config,
        &s.text(&["app.home.arpa", "b.home.arpa", "c.home.arpa"], &lan2),
    );
    daemon.signal("HUP");
    eventually(WAIT, || {
        (curl(&ca, https2, "c.home.arpa", "/").0 == "200").then_some(())
    })
    .unwrap_or_else(|| panic!("SIGHUP applied:\n{}", daemon.log()));
    assert!(log_has(&daemon_log(&s), "sighup"), "{}", daemon.log());

    // POST /reload: route b and entrypoint lan2 go away; a changed UDP
    // port is reported as needing a restart.
    let text = s
        .text(&["app.home.arpa", "c.home.arpa"], &tcp_admin)
        .replace(
            &format!("listen_port = {}", s.wg),
            &format!("listen_port = {}", s.wg + 1),
        );
    replace_file(&s.config, &text);
    let (code, body) = s.reload();
    assert_eq!(code, 200, "{body}");
    let changes = body["changes"].to_string();
    assert!(changes.contains("route b.home.arpa/ removed"), "{body}");
    assert!(changes.contains("entrypoints changed"), "{body}");
    let restart = body["restart_required"].to_string();
    assert!(
        restart.contains(&format!("UDP port {} -> {}", s.wg, s.wg + 1)),
        "{body}"
    );
    eventually(WAIT, || refused(https2).then_some(())).expect("lan2 stopped accepting");
    assert_eq!(curl(&ca, s.https, "b.home.arpa", "/").0, "000");
    assert_eq!(curl(&ca, s.https, "c.home.arpa", "/").0, "200");

    // The TCP admin address serves GETs with the token, refuses reloads.
    let (code, metrics) = http_get(admin_tcp, "/metrics");
    assert_eq!(code, 200);
    assert!(
        metrics
            .contains("wingress_http_requests_total{host=\"c.home.arpa\",path=\"/\",code=\"2xx\"}"),
        "{metrics}"
    );
    let (code, _) = http_request(admin_tcp, "POST", "/reload");
    assert_eq!(code, 403);

    // wingress status, human and JSON.
    let (code, out, err) = wingress(&["status", "--config", s.cfg()], "");
    assert_eq!(code, 0, "{err}");
    for want in [
        "listening port:",
        "listeners:",
        "entrypoint lan",
        "https://c.home.arpa/  access public",
        "certificates:",
        "[internal-ca, valid] issuer wingress internal CA",
        &format!("needs a restart: UDP port {} -> {}", s.wg, s.wg + 1),
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let (code, out, err) = wingress(
        &["status", "--json", "--socket", s.socket.to_str().unwrap()],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["node"]["port"], s.wg);
    let leaf = doc["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["names"][0] == "app.home.arpa")
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert_eq!(leaf["source"], "internal-ca");
    assert!(leaf["expires_in_secs"].as_i64().unwrap() > 80 * 86_400);
    let routes: Vec<&str> = doc["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["host"].as_str().unwrap())
        .collect();
    assert_eq!(routes, ["app.home.arpa", "c.home.arpa"]);
    assert!(
        doc["config"]["reloads_ok"].as_u64().unwrap() >= 3,
        "{doc:#}"
    );
    assert!(
        doc["config"]["reloads_failed"].as_u64().unwrap() >= 2,
        "{doc:#}"
    );

    // A second daemon on the same state directory is refused.
    let (code, _, err) = wingress(&["run", "--config", s.cfg()], "");
    assert_ne!(code, 0);
    assert!(err.contains("is in use"), "{err}");

    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(WAIT), Some(0), "{}", daemon.log());
    assert!(!s.socket.exists(), "the socket is removed at exit");
}

fn daemon_log(s: &Setup) -> PathBuf {
    s.dir.path("server.log")
}

/// The TCP admin address's bearer token in these tests.
const TOKEN: &str = "ops-test-token-0123456789";

fn http_request(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        c,
        "{method} {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\n\
         content-length: 0\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    std::io::Read::read_to_string(&mut c, &mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    (
        head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        body.to_string(),
    )
}

fn http_get(port: u16, path: &str) -> (u16, String) {
    http_request(port, "GET", path)
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_and_exits_zero() {
    let s = Setup::new("ops-drain");
    // A stale socket from a daemon that died is replaced.
    std::fs::create_dir_all(s.dir.path("state")).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&s.socket).unwrap());
    assert!(s.socket.exists());
    let mut daemon = s.start(&["app.home.arpa"], "[shutdown]\ndrain_timeout = \"20s\"\n");
    assert!(
        daemon.log().contains("removing a stale admin socket"),
        "{}",
        daemon.log()
    );
    let ca = s.ca();

    let (tx, rx) = mpsc::channel();
    *SLOW.lock().unwrap() = Some(tx);
    let port = s.https;
    let slow = std::thread::spawn(move || curl(&ca, port, "app.home.arpa", "/slow"));
    rx.recv_timeout(WAIT)
        .expect("the slow request reached the backend");

    daemon.signal("TERM");
    // Listeners close at once; the request in flight carries on.
    eventually(WAIT, || refused(s.https).then_some(())).expect("stopped accepting");
    let (code, body) = slow.join().unwrap();
    assert_eq!(code, "200", "{body}\n{}", daemon.log());
    assert_eq!(body.trim(), "backend /slow");
    assert_eq!(daemon.wait_exit(WAIT), Some(0), "{}", daemon.log());
    let log = daemon.log();
    assert!(log.contains("all connections closed"), "{log}");
    assert!(log.contains("shutdown hook done"), "{log}");
    assert!(!s.socket.exists());
}
