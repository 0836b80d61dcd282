//! The in-tunnel DNS server end to end without privileges: `wingress
//! forward` carries UDP and TCP from loopback sockets to tunnel port 53 of
//! `wingress run`. Route names answer, other names in the route domain do
//! not exist, the rest is refused; malformed queries get FORMERR or are
//! dropped, and the server keeps answering. (Real resolvers and dig are in
//! the lab test `peer_dns_lab`.)
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use common::*;

/// How long one UDP query waits for its answer.
const ASK: Duration = Duration::from_millis(500);

struct Setup {
    _dir: TempDir,
    _server: Daemon,
    _client: Daemon,
    udp: SocketAddr,
    tcp: SocketAddr,
}

fn setup() -> Setup {
    let dir = TempDir::new("dns");
    let (skey, spub) = keypair(&dir, "server");
    let (ckey, cpub) = keypair(&dir, "client");
    let wg_port = free_port(true);
    let server_cfg = dir.write(
        "server.toml",
        &format!(
            "[node]\nstate_dir = \"{state}\"\n[wireguard]\nprivate_key_file = \"{skey}\"\naddress = \"100.64.0.2/24\"\nlisten_port = {wg_port}\n\
             [[peer]]\nname = \"laptop\"\npublic_key = \"{cpub}\"\nallowed_ips = [\"100.64.0.1/32\"]\n\
             [tls]\ninternal_ca = true\n\
             [[route]]\nhost = \"grafana.home.arpa\"\nbackends = [\"http://127.0.0.1:9\"]\n\
             [[route]]\nhost = \"*.apps.home.arpa\"\nbackends = [\"http://127.0.0.1:9\"]\n\
             [dns]\nforward = \"refuse\"\n\
             [nat]\nstun_servers = []\nport_mapping = false\n",
            state = dir.path("state").display(),
            skey = skey.display(),
        ),
    );
    let (udp, tcp) = (free_port(true), free_port(false));
    let client_cfg = dir.write(
        "client.toml",
        &format!(
            "[wireguard]\nprivate_key_file = \"{ckey}\"\naddress = \"100.64.0.1/32\"\n\
             [[peer]]\npublic_key = \"{spub}\"\nendpoint = \"127.0.0.1:{wg_port}\"\nallowed_ips = [\"100.64.0.0/24\"]\n\
             [[forward]]\nlisten = \"127.0.0.1:{udp}\"\ntarget = \"100.64.0.2:53\"\nprotocol = \"udp\"\n\
             [[forward]]\nlisten = \"127.0.0.1:{tcp}\"\ntarget = \"100.64.0.2:53\"\n",
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
    let s = Setup {
        _dir: dir,
        _server: server,
        _client: client,
        udp: ([127, 0, 0, 1], udp).into(),
        tcp: ([127, 0, 0, 1], tcp).into(),
    };
    let up = eventually(Duration::from_secs(15), || {
        udp_ask(s.udp, &dns_query(1, "grafana.home.arpa", 1), ASK)
    });
    assert!(up.is_some(), "no DNS answer through the tunnel");
    s
}

/// (id, rcode, answer count, last 4 bytes: the A record's address).
fn summary(r: &[u8]) -> (u16, u8, u16, [u8; 4]) {
    let n = r.len();
    (
        u16::from_be_bytes([r[0], r[1]]),
        r[3] & 0x0f,
        u16::from_be_bytes([r[6], r[7]]),
        [r[n - 4], r[n - 3], r[n - 2], r[n - 1]],
    )
}

#[test]
fn answers_over_udp_and_tcp_and_survives_garbage() {
    let s = setup();
    let ask = |q: &[u8]| {
        eventually(Duration::from_secs(5), || udp_ask(s.udp, q, ASK)).expect("an answer")
    };
    let (id, rcode, answers, addr) = summary(&ask(&dns_query(7, "grafana.home.arpa", 1)));
    assert_eq!((id, rcode, answers, addr), (7, 0, 1, [100, 64, 0, 2]));
    let (_, rcode, answers, addr) = summary(&ask(&dns_query(8, "x.y.apps.home.arpa", 1)));
    assert_eq!((rcode, answers, addr), (0, 1, [100, 64, 0, 2]));
    assert_eq!(
        summary(&ask(&dns_query(9, "nope.home.arpa", 1))).1,
        3,
        "NXDOMAIN"
    );
    assert_eq!(
        summary(&ask(&dns_query(10, "example.org", 1))).1,
        5,
        "REFUSED"
    );
    assert_eq!(
        summary(&ask(&dns_query(11, "grafana.home.arpa", 28))).2,
        0,
        "NODATA"
    );

    // Malformed: a cut query gets FORMERR with its ID; half a header and
    // a response get nothing; the server still answers afterwards.
    let q = dns_query(12, "grafana.home.arpa", 1);
    let r = ask(&q[..20]);
    assert_eq!((summary(&r).0, summary(&r).1), (12, 1));
    assert_eq!(udp_ask(s.udp, &q[..6], ASK), None);
    let mut response = q.clone();
    response[2] |= 0x80;
    assert_eq!(udp_ask(s.udp, &response, ASK), None);
    let mut x = 0x2545_f491_u32;
    for len in 0..300 {
        let junk: Vec<u8> = (0..len % 64)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.send_to(&junk, s.udp).unwrap();
    }
    assert_eq!(
        summary(&ask(&dns_query(13, "grafana.home.arpa", 1))).3,
        [100, 64, 0, 2]
    );

    // TCP: two length-prefixed queries on one connection, answered in order.
    let mut t = TcpStream::connect(s.tcp).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for (id, name) in [(21u16, "grafana.home.arpa"), (22, "nope.home.arpa")] {
        let q = dns_query(id, name, 1);
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        t.write_all(&framed).unwrap();
    }
    for (id, rcode) in [(21u16, 0u8), (22, 3)] {
        let mut len = [0u8; 2];
        t.read_exact(&mut len).unwrap();
        let mut r = vec![0u8; u16::from_be_bytes(len) as usize];
        t.read_exact(&mut r).unwrap();
        assert_eq!((summary(&r).0, summary(&r).1), (id, rcode));
    }
}
