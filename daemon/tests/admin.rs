//! The admin API's TCP address against a running `wingress run`: the
//! bearer token (401 without it or with a wrong one, 200 with it), the
//! probes open and terse, slow and idle clients closed, the connection
//! cap, and the probes answered by the admin thread while the data-plane
//! thread is stuck (on a reload reading a FIFO). Needs no privileges.
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "admin-test-token-0123456789abcdef";
/// The daemon's limits (daemon/src/control/admin/server.rs).
const MAX_CONNECTIONS: usize = 32;
/// Far longer than the daemon's 5 s header timeout: a readiness bound,
/// not a speed assertion.
const CLOSED_WITHIN: Duration = Duration::from_secs(20);

struct Setup {
    dir: TempDir,
    config: PathBuf,
    socket: PathBuf,
    tcp: u16,
    text: String,
}

impl Setup {
    /// A daemon config with a peer (its name and key are what the status
    /// must not show to strangers) and the TCP admin address; `token`:
    /// with `token_file`.
    fn new(tag: &str, token: bool) -> Setup {
        let dir = TempDir::new(tag);
        let (key, _) = keypair(&dir, "server");
        let (_, peer) = keypair(&dir, "phone");
        let tcp = free_port(false);
        let mut admin = format!("[admin]\nlisten = \"127.0.0.1:{tcp}\"\n");
        if token {
            let file = dir.write("admin.token", &format!("{TOKEN}\n"));
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
            admin.push_str(&format!("token_file = \"{}\"\n", file.display()));
        }
        let text = format!(
            "[node]\nstate_dir = \"{state}\"\n\
             [wireguard]\nprivate_key_file = \"{key}\"\naddress = \"100.64.0.2/24\"\nlisten_port = {wg}\n\
             [nat]\nstun_servers = []\nport_mapping = false\n\
             [[peer]]\nname = \"secret-phone\"\npublic_key = \"{peer}\"\nallowed_ips = [\"100.64.0.9/32\"]\n\
             {admin}",
            state = dir.path("state").display(),
            key = key.display(),
            wg = free_port(true),
        );
        let config = dir.write("server.toml", &text);
        Setup {
            socket: dir.path("state/admin.sock"),
            dir,
            config,
            tcp,
            text,
        }
    }

    fn start(&self) -> Daemon {
        let d = Daemon::spawn(
            &self.dir,
            "server",
            &["run", "--config", self.config.to_str().unwrap()],
        );
        eventually(WAIT, || {
            let (code, _) = get(self.tcp, "/readyz", None).ok()?;
            (code == 200).then_some(())
        })
        .expect("daemon ready");
        d
    }
}

/// One request with `connection: close`: (status, headers and body), or
/// the error when nothing (complete) came back within 5 s.
fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut c = TcpStream::connect(("127.0.0.1", port))?;
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    write!(
        c,
        "{method} {path} HTTP/1.1\r\nhost: x\r\n{auth}content-length: 0\r\nconnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    c.read_to_string(&mut raw)?;
    let code = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not a response: {raw:?}")))?;
    Ok((code, raw))
}

fn get(port: u16, path: &str, token: Option<&str>) -> std::io::Result<(u16, String)> {
    request(port, "GET", path, token)
}

fn body(raw: &str) -> &str {
    raw.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// Whether the server closed `c` (EOF or reset) within `limit`.
fn closed_by_server(c: &mut TcpStream, limit: Duration) -> bool {
    c.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match read_some(c, &mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn tcp_needs_the_token_except_for_the_probes() {
    let s = Setup::new("admin-token", true);
    let _daemon = s.start();
    for path in ["/status", "/metrics", "/nope"] {
        for token in [None, Some("admin-test-token-0123456789abcdeX")] {
            let (code, raw) = get(s.tcp, path, token).unwrap();
            assert_eq!(code, 401, "{path} {token:?}: {raw}");
            assert!(
                raw.to_ascii_lowercase()
                    .contains("www-authenticate: bearer"),
                "{raw}"
            );
            assert!(!raw.contains("secret-phone"), "{raw}");
        }
    }
    assert_eq!(request(s.tcp, "POST", "/reload", None).unwrap().0, 401);
    let (code, raw) = get(s.tcp, "/status", Some(TOKEN)).unwrap();
    assert_eq!(code, 200, "{raw}");
    assert!(body(&raw).contains("secret-phone"), "{raw}");
    let (code, raw) = get(s.tcp, "/metrics", Some(TOKEN)).unwrap();
    assert_eq!(code, 200, "{raw}");
    assert!(
        raw.contains("wingress_admin_unauthorized_total 7\n"),
        "{raw}"
    );
    // Reloads stay with the unix socket, token or not.
    assert_eq!(
        request(s.tcp, "POST", "/reload", Some(TOKEN)).unwrap().0,
        403
    );
    // The probes: open, and nothing but their word.
    for (path, word) in [("/healthz", "ok\n"), ("/readyz", "ready\n")] {
        let (code, raw) = get(s.tcp, path, None).unwrap();
        assert_eq!((code, body(&raw)), (200, word), "{raw}");
    }
    // The unix socket needs no token, and the CLI uses it.
    assert_eq!(admin(&s.socket, "GET", "/status").0, 200);
    let (code, out, err) = wingress(&["status", "--config", s.config.to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("secret-phone"), "{out}");
}

/// Without `token_file`, the TCP address serves the probes alone.
#[test]
fn without_a_token_file_tcp_serves_only_the_probes() {
    let s = Setup::new("admin-notoken", false);
    let daemon = s.start();
    let (code, raw) = get(s.tcp, "/status", None).unwrap();
    assert_eq!(code, 401, "{raw}");
    assert!(body(&raw).contains("token_file"), "{raw}");
    assert_eq!(get(s.tcp, "/healthz", None).unwrap().0, 200);
    assert!(daemon.log().contains("serves /healthz and /readyz only"));
}

/// A token file others may read, or none where the config says, stops
/// the start with the path (and the chmod that fixes it).
#[test]
fn an_exposed_or_missing_token_file_fails_the_start() {
    let s = Setup::new("admin-badtoken", true);
    let token = s.dir.path("admin.token");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (code, _, err) = wingress(&["run", "--config", s.config.to_str().unwrap()], "");
    assert_ne!(code, 0);
    assert!(
        err.contains("token_file") && err.contains("chmod 600"),
        "{err}"
    );
    std::fs::remove_file(&token).unwrap();
    let (code, _, err) = wingress(&["run", "--config", s.config.to_str().unwrap()], "");
    assert_ne!(code, 0);
    assert!(err.contains("admin.token"), "{err}");
}

/// A client that never finishes its head, and one that sends nothing, are
/// closed; while 32 connections are open a 33rd is closed at once and
/// counted; once they are gone, requests are served again.
#[test]
fn slow_and_idle_clients_are_closed_and_connections_are_capped() {
    let s = Setup::new("admin-slow", true);
    let _daemon = s.start();
    let connect = || TcpStream::connect(("127.0.0.1", s.tcp)).unwrap();
    let mut slow = connect();
    slow.write_all(b"GET /status HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    let mut idle = connect();
    let mut held: Vec<TcpStream> = (2..MAX_CONNECTIONS).map(|_| connect()).collect();
    // The daemon accepts them in order; the next one is over the cap.
    std::thread::sleep(Duration::from_millis(200));
    let mut over = connect();
    assert!(
        closed_by_server(&mut over, Duration::from_secs(5)),
        "the 33rd connection stayed open"
    );
    assert!(get(s.tcp, "/healthz", None).is_err(), "served over the cap");

    assert!(
        closed_by_server(&mut slow, CLOSED_WITHIN),
        "a slow head was not closed"
    );
    assert!(
        closed_by_server(&mut idle, CLOSED_WITHIN),
        "an idle connection was not closed"
    );
    for c in &mut held {
        assert!(closed_by_server(c, CLOSED_WITHIN));
    }
    held.clear();
    assert_eq!(get(s.tcp, "/healthz", None).unwrap().0, 200);
    let (_, metrics) = admin(&s.socket, "GET", "/metrics");
    let count = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    };
    assert!(count("wingress_admin_connections_refused_total{listener=\"tcp\"}") >= 2);
    assert!(count("wingress_admin_connections_timed_out_total{listener=\"tcp\"}") >= 2);
}

/// The data-plane thread is stuck (a reload opening a FIFO in place of the
/// config blocks it until something writes): the admin thread, which is
/// not that thread, still answers the probes on both listeners. Once the
/// FIFO is written, the reload finishes and the status is served again.
#[test]
fn the_probes_answer_while_the_data_plane_is_stuck() {
    let s = Setup::new("admin-busy", true);
    let mut daemon = s.start();
    let names: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", daemon.pid()))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.unwrap().path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "wingress-admin"), "{names:?}");

    let fifo = s.dir.path("config.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::remove_file(&s.config).unwrap();
    std::fs::hard_link(&fifo, &s.config).unwrap();
    daemon.signal("HUP");
    eventually(WAIT, || {
        daemon
            .log()
            .contains("reloading config trigger=\"sighup\"")
            .then_some(())
    })
    .expect("the reload started");
    // The reload's next step is opening the FIFO.
    std::thread::sleep(Duration::from_millis(300));

    for (path, word) in [("/healthz", "ok\n"), ("/readyz", "ready\n")] {
        let (code, raw) = get(s.tcp, path, None)
            .unwrap_or_else(|e| panic!("{path} while the data plane is stuck: {e}"));
        assert_eq!((code, body(&raw)), (200, word), "{raw}");
        assert_eq!(admin(&s.socket, "GET", path).0, 200, "unix {path}");
    }

    // Unstick it: the config back as a file, and the FIFO written.
    std::fs::remove_file(&s.config).unwrap();
    std::fs::write(&s.config, &s.text).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .and_then(|mut f| f.write_all(s.text.as_bytes()))
        .unwrap();
    let served = eventually(WAIT, || {
        let (code, _) = get(s.tcp, "/status", Some(TOKEN)).ok()?;
        (code == 200).then_some(())
    });
    assert!(served.is_some(), "{}", daemon.log());
    assert!(daemon.is_running());
}
