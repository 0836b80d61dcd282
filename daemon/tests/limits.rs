//! `[limits]` end to end without privileges: two `wingress forward`
//! clients (peers `a` and `b`) against one `wingress run`. Peer `a` opens
//! more UDP flows, DNS forwards and DNS-over-TCP connections than its caps
//! allow; what is over the cap is refused and counted for `a` in
//! `/metrics`, and peer `b` is served all the while.
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;

/// The forwards one client has: host sockets for the tunnel's UDP echo
/// (port 7), DNS over UDP and DNS over TCP.
struct Peer {
    _daemon: Daemon,
    echo: SocketAddr,
    dns_udp: SocketAddr,
    dns_tcp: SocketAddr,
}

struct Setup {
    dir: TempDir,
    _server: Daemon,
    a: Peer,
    b: Peer,
    socket: PathBuf,
    /// The upstream resolver: it reads queries and never answers.
    _silent_upstream: UdpSocket,
}

fn setup() -> Setup {
    let dir = TempDir::new("limits");
    let (skey, spub) = keypair(&dir, "server");
    let (akey, apub) = keypair(&dir, "a");
    let (bkey, bpub) = keypair(&dir, "b");
    let udp_backend = udp_echo();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let upstream = silent.local_addr().unwrap();
    let wg_port = free_port(true);
    let server_cfg = dir.write(
        "server.toml",
        &format!(
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
[[peer]]
name = "a"
public_key = "{apub}"
allowed_ips = ["100.64.0.1/32"]
[[peer]]
name = "b"
public_key = "{bpub}"
allowed_ips = ["100.64.0.3/32"]
[[udp]]
listen = 7
backend = "127.0.0.1:{udp_backend}"
[tls]
internal_ca = true
[[route]]
host = "grafana.home.arpa"
backends = ["http://127.0.0.1:9"]
[dns]
forward = ["{upstream}"]
[limits]
peer_udp_flows = 2
peer_dns_forwards = 2
peer_dns_tcp = 1
"#,
            state = dir.path("state").display(),
            skey = skey.display(),
        ),
    );
    let server = Daemon::spawn(
        &dir,
        "server",
        &["run", "--config", server_cfg.to_str().unwrap()],
    );
    let client = |name: &str, key: &std::path::Path, addr: &str| {
        let (echo, dns_udp, dns_tcp) = (free_port(true), free_port(true), free_port(false));
        let cfg = client_config(
            &dir,
            name,
            key,
            addr,
            &spub,
            wg_port,
            &[
                (echo, "100.64.0.2:7", "udp"),
                (dns_udp, "100.64.0.2:53", "udp"),
                (dns_tcp, "100.64.0.2:53", "tcp"),
            ],
        );
        let daemon = Daemon::spawn(&dir, name, &["forward", "--config", cfg.to_str().unwrap()]);
        let local = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        Peer {
            _daemon: daemon,
            echo: local(echo),
            dns_udp: local(dns_udp),
            dns_tcp: local(dns_tcp),
        }
    };
    let a = client("a", &akey, "100.64.0.1");
    let b = client("b", &bkey, "100.64.0.3");
    let s = Setup {
        socket: dir.path("state").join("admin.sock"),
        dir,
        _server: server,
        a,
        b,
        _silent_upstream: silent,
    };
    for p in [&s.a, &s.b] {
        let up = eventually(Duration::from_secs(15), || {
            udp_ask(
                p.dns_udp,
                &dns_query(1, "grafana.home.arpa", 1),
                Duration::from_millis(500),
            )
        });
        assert!(up.is_some(), "no DNS answer through the tunnel");
    }
    s
}

impl Setup {
    /// The value of the sample `name{labels}` in `/metrics`.
    fn metric(&self, name: &str, labels: &str) -> f64 {
        let (status, body) = admin(&self.socket, "GET", "/metrics");
        assert_eq!(status, 200);
        let line = format!("{name}{{{labels}}} ");
        body.lines()
            .find_map(|l| l.strip_prefix(&line))
            .unwrap_or_else(|| panic!("no {line} in\n{body}"))
            .parse()
            .unwrap()
    }
}

/// Whether a datagram sent from `s` to `to` comes back within a second
/// (asked a few times: the first may wait for the flow to open).
fn echoes(s: &UdpSocket, to: SocketAddr) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    (0..3).any(|_| {
        s.send_to(b"echo", to).unwrap();
        matches!(s.recv(&mut buf), Ok(4))
    })
}

/// One query on an open DNS-over-TCP connection; `None` if the connection
/// is closed or reset.
fn tcp_ask(t: &mut TcpStream, q: &[u8]) -> Option<Vec<u8>> {
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(q);
    t.write_all(&framed).ok()?;
    let mut len = [0u8; 2];
    t.read_exact(&mut len).ok()?;
    let mut r = vec![0u8; usize::from(u16::from_be_bytes(len))];
    t.read_exact(&mut r).ok()?;
    Some(r)
}

#[test]
fn udp_flows_and_dns_sessions_are_capped_per_peer() {
    let s = setup();

    // UDP flows: a's third flow gets nothing; b's two are echoed.
    let socks: Vec<UdpSocket> = (0..5)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    assert!(echoes(&socks[0], s.a.echo));
    assert!(echoes(&socks[1], s.a.echo));
    assert!(!echoes(&socks[2], s.a.echo), "a's third flow refused");
    assert!(echoes(&socks[3], s.b.echo));
    assert!(echoes(&socks[4], s.b.echo));
    assert!(
        s.metric(
            "wingress_limit_hits_total",
            "peer=\"a\",reason=\"udp_flows\""
        ) >= 1.0
    );
    assert_eq!(s.metric("wingress_peer_udp_flows", "peer=\"a\""), 2.0);
    assert_eq!(s.metric("wingress_peer_udp_flows", "peer=\"b\""), 2.0);
    assert_eq!(
        s.metric(
            "wingress_limit_hits_total",
            "peer=\"b\",reason=\"udp_flows\""
        ),
        0.0
    );

    // DNS over TCP: a's second connection is reset while its first is
    // open; b's connection is served.
    let connect = |to| {
        let t = TcpStream::connect(to).unwrap();
        t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        t
    };
    let mut a1 = connect(s.a.dns_tcp);
    assert!(tcp_ask(&mut a1, &dns_query(2, "grafana.home.arpa", 1)).is_some());
    let mut a2 = connect(s.a.dns_tcp);
    assert!(tcp_ask(&mut a2, &dns_query(3, "grafana.home.arpa", 1)).is_none());
    let mut b1 = connect(s.b.dns_tcp);
    assert!(tcp_ask(&mut b1, &dns_query(4, "grafana.home.arpa", 1)).is_some());
    assert!(tcp_ask(&mut a1, &dns_query(5, "grafana.home.arpa", 1)).is_some());
    assert_eq!(
        s.metric("wingress_limit_hits_total", "peer=\"a\",reason=\"dns_tcp\""),
        1.0
    );

    // Forwarded queries: the upstream never answers, so each holds its
    // slot for the upstream timeout. a's third is shed at once; b's goes
    // upstream (and comes back SERVFAIL).
    let ask_a = UdpSocket::bind("127.0.0.1:0").unwrap();
    for id in 10..13 {
        ask_a
            .send_to(&dns_query(id, "example.org", 1), s.a.dns_udp)
            .unwrap();
    }
    let started = Instant::now();
    let b_answer = udp_ask(
        s.b.dns_udp,
        &dns_query(20, "example.net", 1),
        Duration::from_secs(5),
    );
    let r = b_answer.expect("b's query answered");
    assert_eq!(r[3] & 0x0f, 2, "SERVFAIL from the silent upstream");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "b's query went upstream"
    );
    assert_eq!(
        s.metric(
            "wingress_limit_hits_total",
            "peer=\"a\",reason=\"dns_forwards\""
        ),
        1.0
    );
    assert_eq!(
        s.metric(
            "wingress_limit_hits_total",
            "peer=\"b\",reason=\"dns_forwards\""
        ),
        0.0
    );
}

/// A reload that raises a cap applies at once: a's third flow is echoed.
#[test]
fn a_reload_raises_the_cap() {
    let s = setup();
    let socks: Vec<UdpSocket> = (0..3)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    assert!(echoes(&socks[0], s.a.echo));
    assert!(echoes(&socks[1], s.a.echo));
    assert!(!echoes(&socks[2], s.a.echo));
    let path = s.dir.path("server.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("peer_udp_flows = 2", "peer_udp_flows = 3");
    replace_file(&path, &text);
    let (status, body) = admin(&s.socket, "POST", "/reload");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("[limits] changed"), "{body}");
    assert!(
        echoes(&socks[2], s.a.echo),
        "a's third flow after the reload"
    );
}
