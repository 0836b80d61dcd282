//! `wingress run`'s connection limits with real sockets: an entrypoint's
//! caps in all and per source (a client address on a host entrypoint; the
//! peer, reached through `wingress forward`, on a tunnel entrypoint), and
//! the idle timeout of `[[tcp]]` forwards; each hit in `/metrics`.
//! Needs no privileges.
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

/// A server with a host entrypoint on `lan`, a tunnel entrypoint on 443,
/// a `[[tcp]]` echo on tunnel port 7 and the given extra entrypoint keys;
/// and a client forwarding 127.0.0.1:`tcp` → tunnel:7 and `https` →
/// tunnel:443.
struct Setup {
    dir: TempDir,
    _server: Daemon,
    _client: Daemon,
    lan: SocketAddr,
    tcp: SocketAddr,
    tunnel_https: SocketAddr,
}

impl Setup {
    fn metrics(&self) -> String {
        admin(
            &self.dir.path("state").join("admin.sock"),
            "GET",
            "/metrics",
        )
        .1
    }

    fn metric(&self, line_start: &str) -> Option<String> {
        self.metrics()
            .lines()
            .find(|l| l.starts_with(line_start))
            .map(|l| l.rsplit(' ').next().unwrap_or_default().to_string())
    }
}

fn setup(entrypoint_keys: &str) -> Setup {
    let dir = TempDir::new("limits");
    let (skey, spub) = keypair(&dir, "server");
    let (ckey, cpub) = keypair(&dir, "client");
    let echo = tcp_echo();
    let (wg, lan, tcp, https) = (
        free_port(true),
        free_port(false),
        free_port(false),
        free_port(false),
    );
    let server_cfg = dir.write(
        "server.toml",
        &format!(
            r#"
[node]
state_dir = "{state}"
[wireguard]
private_key_file = "{skey}"
address = "100.64.0.2/24"
listen_port = {wg}
[nat]
stun_servers = []
port_mapping = false
[[peer]]
name = "laptop"
public_key = "{cpub}"
allowed_ips = ["100.64.0.1/32"]
[[tcp]]
listen = 7
backend = "127.0.0.1:{echo}"
idle_timeout = "1s"
[[entrypoint]]
name = "lan"
listen = "127.0.0.1:{lan}"
{entrypoint_keys}
[[entrypoint]]
name = "tunnel"
listen = "tunnel:443"
{entrypoint_keys}
[tls]
internal_ca = true
[[route]]
host = "app.home.arpa"
backends = ["http://127.0.0.1:9"]
access = "public"
"#,
            state = dir.path("state").display(),
            skey = skey.display(),
        ),
    );
    let client_cfg = forward_config(
        &dir,
        &ckey,
        &spub,
        wg,
        &[(tcp, "100.64.0.2:7"), (https, "100.64.0.2:443")],
    );
    let path = |p: &PathBuf| p.to_str().unwrap().to_owned();
    let server = Daemon::spawn(&dir, "server", &["run", "--config", &path(&server_cfg)]);
    let client = Daemon::spawn(&dir, "client", &["forward", "--config", &path(&client_cfg)]);
    let tcp: SocketAddr = ([127, 0, 0, 1], tcp).into();
    let ready = eventually(Duration::from_secs(20), || {
        tcp_round_trip(tcp, b"hello").filter(|r| r == b"hello")
    });
    assert!(ready.is_some(), "no echo through the tunnel");
    Setup {
        dir,
        _server: server,
        _client: client,
        lan: ([127, 0, 0, 1], lan).into(),
        tcp,
        tunnel_https: ([127, 0, 0, 1], https).into(),
    }
}

/// A connection from `source` (a loopback address) to `to`.
fn connect_from(source: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((source, 0)).into()).unwrap();
    socket.connect(&to.into()).unwrap();
    socket.into()
}

/// Whether the daemon closes `stream` within `within`. No TLS handshake
/// is started, so an admitted connection just waits for one.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 16];
    // Any answer at all (an EOF, or bytes: none are expected) means the
    // daemon is not waiting for a handshake.
    match read_some(stream, &mut buf) {
        Ok(_n) => true,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

fn open(stream: &mut TcpStream) -> bool {
    !closed_within(stream, Duration::from_millis(300))
}

#[test]
fn entrypoints_cap_connections_in_all_and_per_source() {
    let s = setup("max_connections = 3\nmax_connections_per_source = 2");
    // One after the other: the accepting threads take them in any order.
    let mut a1 = connect_from([127, 0, 0, 1], s.lan);
    assert!(open(&mut a1));
    let mut a2 = connect_from([127, 0, 0, 1], s.lan);
    assert!(open(&mut a2));
    let mut a3 = connect_from([127, 0, 0, 1], s.lan);
    assert!(
        closed_within(&mut a3, Duration::from_secs(2)),
        "third from one address"
    );
    let mut b1 = connect_from([127, 0, 0, 2], s.lan);
    assert!(open(&mut b1), "another address");
    let mut c1 = connect_from([127, 0, 0, 3], s.lan);
    assert!(
        closed_within(&mut c1, Duration::from_secs(2)),
        "over the entrypoint's cap"
    );
    drop(a1);
    std::thread::sleep(Duration::from_millis(200));
    let mut a4 = connect_from([127, 0, 0, 1], s.lan);
    assert!(open(&mut a4), "a closed connection gives its place back");

    // Through the tunnel every connection of the peer is one source,
    // whatever its address.
    let mut t1 = TcpStream::connect(s.tunnel_https).unwrap();
    assert!(open(&mut t1));
    let mut t2 = TcpStream::connect(s.tunnel_https).unwrap();
    assert!(open(&mut t2));
    let mut t3 = TcpStream::connect(s.tunnel_https).unwrap();
    assert!(
        closed_within(&mut t3, Duration::from_secs(5)),
        "third from the peer"
    );

    let m = s.metrics();
    for (entrypoint, limit) in [
        ("lan", "connections_per_source"),
        ("lan", "connections"),
        ("tunnel", "connections_per_source"),
    ] {
        let line = format!(
            "wingress_http_limit_hits_total{{entrypoint=\"{entrypoint}\",limit=\"{limit}\"}} 1"
        );
        assert!(m.lines().any(|l| l == line), "{line} in\n{m}");
    }
}

#[test]
fn idle_tcp_forwards_are_closed() {
    let s = setup("");
    let mut c = TcpStream::connect(s.tcp).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Traffic keeps it open past the timeout...
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(400));
        c.write_all(b"ping").unwrap();
        let mut echoed = [0u8; 4];
        c.read_exact(&mut echoed).unwrap();
    }
    // ...silence ends it.
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(8),
        "{took:?}"
    );
    let closed = eventually(Duration::from_secs(5), || {
        s.metric("wingress_tcp_idle_timeouts_total{listener=\"tcp:7\"}")
            .filter(|n| n == "1")
    });
    assert!(closed.is_some(), "{}", s.metrics());
    assert!(Path::new(&s.dir.path("server.log")).exists());
}
