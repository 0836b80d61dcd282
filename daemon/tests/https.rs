//! `wingress run` with a host HTTPS entrypoint on loopback, reached with
//! curl: the internal CA, `ca export`, random names under a wildcard route
//! served by one wildcard certificate (nothing more written, real names
//! still served), a failed start on a bad certificate, and new requests
//! served while 10,000 idle connections are open (with the entrypoint's
//! connection caps raised for it).
//! Needs no privileges (curl and openssl from the system).
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::*;

fn curl(ca: &std::path::Path, port: u16, host: &str) -> (String, String) {
    curl_https(ca, port, host, "/", 30, &[])
}

fn config(
    dir: &TempDir,
    key: &std::path::Path,
    wg: u16,
    https: u16,
    backend: u16,
    extra: &str,
) -> std::path::PathBuf {
    dir.write(
        "server.toml",
        &format!(
            r#"
[node]
state_dir = "{state}"
[wireguard]
private_key_file = "{key}"
address = "100.64.0.2/24"
listen_port = {wg}
[nat]
# No STUN or router traffic from tests on the host.
stun_servers = []
port_mapping = false
[[entrypoint]]
name = "lan"
listen = "127.0.0.1:{https}"
# Every connection below comes from 127.0.0.1: above the default caps.
max_connections = 20000
max_connections_per_source = 20000
[tls]
internal_ca = true
{extra}
[[route]]
host = "app.home.arpa"
backends = ["http://127.0.0.1:{backend}"]
access = "public"
"#,
            state = dir.path("state").display(),
            key = key.display(),
        ),
    )
}

#[test]
fn host_entrypoint_serves_new_requests_while_10k_connections_idle() {
    raise_nofile();
    let dir = TempDir::new("https");
    let (key, _) = keypair(&dir, "server");
    let backend = http_backend();
    let (wg, https) = (free_port(true), free_port(false));
    let cfg = config(&dir, &key, wg, https, backend, "");
    let cfg = cfg.to_str().unwrap();
    let mut daemon = Daemon::spawn(&dir, "server", &["run", "--config", cfg]);
    let addr: SocketAddr = ([127, 0, 0, 1], https).into();
    eventually(Duration::from_secs(20), || TcpStream::connect(addr).ok())
        .expect("entrypoint listens");

    let (code, ca, _) = wingress(&["ca", "export", "--config", cfg], "");
    assert_eq!(code, 0);
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let ca_file = dir.write("ca.pem", &ca);
    let (status, body) = curl(&ca_file, https, "app.home.arpa");
    assert_eq!(status, "200", "{body}\n{}", daemon.log());
    assert!(body.contains("backend"), "{body}");

    // Idle connections that never start a handshake.
    let idle: Vec<TcpStream> = (0..10_000)
        .map(|i| TcpStream::connect(addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    let (status, body) = curl(&ca_file, https, "app.home.arpa");
    assert_eq!(
        status,
        "200",
        "with {} idle connections: {body}\n{}",
        idle.len(),
        daemon.log()
    );
    drop(idle);
    assert!(daemon.is_running());
    daemon.stop();
}

/// Clients choose the SNI: random names under a wildcard route must not
/// make the internal CA issue and store a certificate each. One `*.parent`
/// certificate serves them all; names no route covers get nothing; the
/// issued folder holds the exact route's and the wildcard's, whatever was
/// asked.
#[test]
fn random_names_under_a_wildcard_route_share_one_certificate() {
    let dir = TempDir::new("https-wild");
    let (key, _) = keypair(&dir, "server");
    let backend = http_backend();
    let (wg, https) = (free_port(true), free_port(false));
    let wildcard = format!(
        "[[route]]\nhost = \"*.apps.home.arpa\"\nbackends = [\"http://127.0.0.1:{backend}\"]\naccess = \"public\"\n"
    );
    let cfg = config(&dir, &key, wg, https, backend, &wildcard);
    let cfg = cfg.to_str().unwrap();
    let mut daemon = Daemon::spawn(&dir, "server", &["run", "--config", cfg]);
    let addr: SocketAddr = ([127, 0, 0, 1], https).into();
    eventually(Duration::from_secs(20), || TcpStream::connect(addr).ok())
        .expect("entrypoint listens");
    let (_, ca, _) = wingress(&["ca", "export", "--config", cfg], "");
    let ca_file = dir.write("ca.pem", &ca);

    assert_eq!(curl(&ca_file, https, "app.home.arpa").0, "200");
    for i in 0..40 {
        let name = format!("r{i}x{}.apps.home.arpa", std::process::id());
        let (status, body) = curl(&ca_file, https, &name);
        assert_eq!(status, "200", "{name}: {body}\n{}", daemon.log());
    }
    // Covered by no route: no certificate, nothing written.
    for name in ["a.b.apps.home.arpa", "other.example"] {
        assert_eq!(curl(&ca_file, https, name).0, "000", "{name}");
    }
    let mut files: Vec<String> = std::fs::read_dir(dir.path("state/ca/issued"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "+.apps.home.arpa.key",
            "+.apps.home.arpa.pem",
            "app.home.arpa.key",
            "app.home.arpa.pem"
        ]
    );
    assert_eq!(curl(&ca_file, https, "app.home.arpa").0, "200");
    assert!(daemon.is_running());
    daemon.stop();
}

#[test]
fn bad_certificate_file_fails_start_up_with_its_path() {
    let dir = TempDir::new("https-bad");
    let (key, _) = keypair(&dir, "server");
    let bad = dir.write("broken.pem", "not a certificate\n");
    let extra = format!(
        "[[tls.certificate]]\ncert_file = \"{c}\"\nkey_file = \"{c}\"\n",
        c = bad.display()
    );
    let cfg = config(&dir, &key, free_port(true), free_port(false), 9, &extra);
    let (code, _, err) = wingress(&["run", "--config", cfg.to_str().unwrap()], "");
    assert_ne!(code, 0);
    assert!(err.contains("broken.pem"), "{err}");
}

/// A tiny HTTP/1.1 backend on loopback that answers "hello from the backend".
fn http_backend() -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone()?);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line)? == 0 || line == "\r\n" {
                        break;
                    }
                }
                let body = "hello from the backend\n";
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

/// 10,000 client sockets need more than the usual 1024 descriptors: the
/// soft limit goes up to the hard one (the daemon, a child, inherits it and
/// raises its own anyway).
#[allow(unsafe_code)]
fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read or write one live rlimit struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        assert_eq!(
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim),
            0,
            "{}",
            std::io::Error::last_os_error()
        );
    }
    assert!(
        lim.rlim_cur >= 10_200,
        "the open-files hard limit ({}) is below 10,200",
        lim.rlim_cur
    );
}
