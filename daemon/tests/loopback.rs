//! `wingress run` and `wingress forward` talking to each other over
//! loopback, with real TCP and UDP echo backends. Needs no privileges.
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::*;

struct Pair {
    _dir: TempDir,
    server: Daemon,
    client: Daemon,
    tcp: SocketAddr,
    udp: SocketAddr,
    closed: SocketAddr,
}

fn pair() -> Pair {
    let dir = TempDir::new("loopback");
    let (skey, spub) = keypair(&dir, "server");
    let (ckey, cpub) = keypair(&dir, "client");
    let (tcp_backend, udp_backend) = (tcp_echo(), udp_echo());
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
# No STUN or router traffic from tests on the host.
stun_servers = []
port_mapping = false
[[peer]]
name = "laptop"
public_key = "{cpub}"
allowed_ips = ["100.64.0.1/32"]
[[tcp]]
listen = 7
backend = "127.0.0.1:{tcp_backend}"
[[udp]]
listen = 7
backend = "127.0.0.1:{udp_backend}"
"#,
            state = dir.path("state").display(),
            skey = skey.display(),
        ),
    );
    let (tcp, udp, closed) = (free_port(false), free_port(true), free_port(false));
    let client_cfg = dir.write(
        "client.toml",
        &format!(
            r#"
[wireguard]
private_key_file = "{ckey}"
address = "100.64.0.1/32"
[[peer]]
public_key = "{spub}"
endpoint = "127.0.0.1:{wg_port}"
allowed_ips = ["100.64.0.0/24"]
persistent_keepalive = 25
[[forward]]
listen = "127.0.0.1:{tcp}"
target = "100.64.0.2:7"
[[forward]]
listen = "127.0.0.1:{udp}"
target = "100.64.0.2:7"
protocol = "udp"
[[forward]]
listen = "127.0.0.1:{closed}"
target = "100.64.0.2:9"
"#,
            ckey = ckey.display(),
        ),
    );
    let server = Daemon::spawn(
        &dir,
        "server",
        &["run", "--config", server_cfg.to_str().unwrap()],
    );
    let client = Daemon::spawn(
        &dir,
        "client",
        &["forward", "--config", client_cfg.to_str().unwrap()],
    );
    let tcp: SocketAddr = ([127, 0, 0, 1], tcp).into();
    let ready = eventually(Duration::from_secs(15), || {
        tcp_round_trip(tcp, b"hello").filter(|r| r == b"hello")
    });
    assert!(ready.is_some(), "no echo through the tunnel");
    Pair {
        _dir: dir,
        server,
        client,
        tcp,
        udp: ([127, 0, 0, 1], udp).into(),
        closed: ([127, 0, 0, 1], closed).into(),
    }
}

#[test]
fn tcp_bulk_both_ways_arrives_intact() {
    let p = pair();
    let mut s = TcpStream::connect(p.tcp).unwrap();
    let data: Vec<u8> = (0..20_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let mut w = s.try_clone().unwrap();
    let send = data.clone();
    let writer = std::thread::spawn(move || {
        w.write_all(&send).unwrap();
        w.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut got = Vec::with_capacity(data.len());
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "echoed bytes differ");
    drop(p.server);
    drop(p.client);
}

#[test]
fn many_concurrent_connections() {
    let p = pair();
    let handles: Vec<_> = (0..32)
        .map(|i| {
            let addr = p.tcp;
            std::thread::spawn(move || {
                let msg = vec![i as u8; 100_000];
                tcp_round_trip(addr, &msg).map(|r| r == msg)
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), Some(true));
    }
}

#[test]
fn udp_round_trip() {
    let p = pair();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 2048];
    let got = eventually(Duration::from_secs(10), || {
        s.send_to(b"ping over udp", p.udp).ok()?;
        let (n, _) = s.recv_from(&mut buf).ok()?;
        Some(buf[..n].to_vec())
    });
    assert_eq!(got.as_deref(), Some(&b"ping over udp"[..]));
    // A burst of datagrams of the largest size that fits the tunnel MTU.
    let big = vec![7u8; 1300];
    let mut echoed = 0;
    for _ in 0..200 {
        s.send_to(&big, p.udp).unwrap();
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            echoed += usize::from(n == big.len());
        }
    }
    assert!(echoed >= 190, "only {echoed}/200 datagrams echoed");
}

#[test]
fn unconfigured_tunnel_port_is_refused() {
    let p = pair();
    let started = Instant::now();
    let mut s = TcpStream::connect(p.closed).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 16];
    // The daemon answers the SYN with RST; the forwarder then closes the
    // host-side connection.
    let n = read_some(&mut s, &mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(p.server);
    drop(p.client);
}

#[test]
fn server_restart_is_recovered() {
    let mut p = pair();
    p.server.stop();
    assert!(!p.server.is_running());
    // The client still holds its old session; wait for the stopped daemon's
    // port to be free, then start it again with the same key and config.
    let log = p.server.log();
    assert!(log.contains("wingress running"), "{log}");
    drop(p.server);
    let dir = &p._dir;
    let cfg = dir.path("server.toml");
    let _server = Daemon::spawn(dir, "server2", &["run", "--config", cfg.to_str().unwrap()]);
    // WireGuard clients start a new handshake when their old session gets no
    // answer (after at most REKEY_TIMEOUT + KEEPALIVE_TIMEOUT, 15 s).
    let back = eventually(Duration::from_secs(40), || {
        tcp_round_trip(p.tcp, b"again").filter(|r| r == b"again")
    });
    assert!(back.is_some(), "no echo after the daemon restarted");
    drop(p.client);
}
