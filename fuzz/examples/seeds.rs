//! Writes the seed corpora, `fuzz/corpus/<target>/<name>`: real messages
//! (a handshake from the fixed client key, packets, STUN and PCP answers,
//! miniupnpd's SSDP answer and description, DNS queries, certificates,
//! the example configs), in the layout each target reads
//! (`wingress_fuzz::input`).
//!
//!     cd fuzz && cargo run --release --example seeds
//!
//! Messages with fresh randomness (handshakes) differ from run to run;
//! everything else is the same every time.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use boringtun::noise::TunnResult;
use wingress_dns::authority;
use wingress_dns::wire::{TYPE_A, TYPE_AAAA, TYPE_NS, TYPE_SOA, TYPE_TXT};
use wingress_fuzz::input::Seed;
use wingress_fuzz::ip::{self, Segment};
use wingress_fuzz::{wg, x509};
use wingress_nat::{pcp, stun};

struct Corpus {
    dir: PathBuf,
    count: usize,
}

impl Corpus {
    fn new(root: &Path, target: &str) -> Corpus {
        let dir = root.join(target);
        fs::create_dir_all(&dir).expect("create corpus folder");
        Corpus { dir, count: 0 }
    }

    fn add(&mut self, name: &str, bytes: impl AsRef<[u8]>) {
        fs::write(self.dir.join(name), bytes).expect("write seed");
        self.count += 1;
    }

    fn seed(&mut self, name: &str, seed: Seed) {
        self.add(name, seed.into_bytes());
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut total = 0;
    for (target, write) in [
        ("wg_datagram", wg_datagram as fn(&mut Corpus)),
        ("wg_session", wg_session),
        ("netstack", netstack),
        ("stun", stun_answers),
        ("port_mapping", port_mapping),
        ("upnp", upnp),
        ("nat_mapper", nat_mapper),
        ("http_path", http_path),
        ("dns_server", dns_server),
        ("dns_tsig", dns_tsig),
        ("x509_name", x509_name),
    ] {
        let mut c = Corpus::new(&root, target);
        write(&mut c);
        total += c.count;
    }
    let mut c = Corpus::new(&root, "config");
    config(&mut c, &repo);
    total += c.count;
    println!("wrote {total} seeds under {}", root.display());
}

// === WireGuard ===

fn initiation(from_key: [u8; 32]) -> Vec<u8> {
    let server_public =
        boringtun::x25519::PublicKey::from(&boringtun::x25519::StaticSecret::from(wg::SERVER_KEY));
    let mut t = boringtun::noise::Tunn::new(
        boringtun::x25519::StaticSecret::from(from_key),
        server_public,
        None,
        None,
        1,
        None,
    );
    let mut buf = vec![0u8; 256];
    match t.format_handshake_initiation(&mut buf, false) {
        TunnResult::WriteToNetwork(b) => b.to_vec(),
        _ => panic!("no initiation"),
    }
}

/// A message of WireGuard type `kind`, `len` bytes, to receiver index 0
/// (peer 0's first session): the index follows the sender's in a
/// handshake response, and comes first in a cookie reply or data packet.
fn shaped(kind: u8, len: usize) -> Vec<u8> {
    let mut m = vec![0x5a; len];
    m[..4].copy_from_slice(&[kind, 0, 0, 0]);
    let receiver = if kind == 2 { 8 } else { 4 };
    m[receiver..receiver + 4].fill(0);
    m
}

fn wg_datagram(c: &mut Corpus) {
    let init = initiation(wg::CLIENT_KEY);
    // The seed must reach the handshake, not just the parser.
    let (mut dev, _) = wg::server();
    let mut out = vec![0u8; 2048];
    let from = wg::CLIENT_ADDR;
    let reply = dev.handle_datagram(std::time::Instant::now(), from, &init, &mut out);
    assert!(
        matches!(reply, wingress_wg::Incoming::Reply { .. }),
        "{reply:?}"
    );
    c.seed("handshake-init", Seed::new().u8(0).bytes(&init));
    c.seed(
        "handshake-init-twice-attacker",
        Seed::new().u8(0).bytes(&init).u8(1).bytes(&init),
    );
    c.seed(
        "stranger-init",
        Seed::new().u8(1).bytes(&initiation([0x33; 32])),
    );
    c.seed(
        "response-valid-mac1",
        Seed::new()
            .u8(3)
            .bytes(&shaped(2, wg::HANDSHAKE_RESPONSE_LEN)),
    );
    c.seed("cookie-reply", Seed::new().u8(1).bytes(&shaped(3, 64)));
    c.seed("data-no-session", Seed::new().u8(1).bytes(&shaped(4, 48)));
    c.seed("junk", Seed::new().u8(1).bytes(b"\x01\x00\x00\x00hello"));
}

fn client_v4_udp(payload: &[u8]) -> Vec<u8> {
    let src = SocketAddr::new(wg::CLIENT_V4.into(), 5353);
    ip::udp(src, "100.64.0.1:53".parse().expect("addr"), payload).expect("same family")
}

fn syn(src: SocketAddr, dst: SocketAddr, seq: u32) -> Vec<u8> {
    ip::tcp(&Segment {
        src,
        dst,
        syn: true,
        fin: false,
        rst: false,
        seq,
        ack: None,
        window: 64240,
        window_scale: Some(7),
        sack_permitted: true,
        sack: [None; 3],
        payload: &[],
    })
    .expect("same family")
}

fn wg_session(c: &mut Corpus) {
    c.seed("udp-v4", Seed::new().u8(2).bytes(&client_v4_udp(b"dns?")));
    let v6 = syn(
        SocketAddr::new(wg::CLIENT_V6.into(), 40000),
        "[fd00::1]:443".parse().expect("addr"),
        1,
    );
    c.seed("syn-v6", Seed::new().u8(2).bytes(&v6));
    c.seed("keepalive", Seed::new().u8(2).bytes(&[]));
    c.seed(
        "roam",
        Seed::new()
            .u8(3)
            .bytes(&client_v4_udp(b"x"))
            .u8(2)
            .bytes(&[]),
    );
    let spoofed = ip::udp(
        "100.64.0.9:1".parse().expect("addr"),
        "100.64.0.1:53".parse().expect("addr"),
        b"",
    )
    .expect("same family");
    c.seed("spoofed-source", Seed::new().u8(2).bytes(&spoofed));
    c.seed("raw-data", Seed::new().u8(0).bytes(&shaped(4, 64)));
    c.seed(
        "truncated-ip",
        Seed::new().u8(2).bytes(&[0x45, 0, 0, 40, 0]),
    );
}

// === netstack ===

/// A TCP segment op: flow, flags, seq offset, ack offset, window, SACK
/// offset, payload (see the target's documentation).
fn segment(flow: u8, flags: u8, seq: u32, ack: u32, sack: u32, payload: &[u8]) -> Seed {
    Seed::new()
        .u8(1)
        .u8(flow)
        .u8(flags)
        .u32(seq)
        .u32(ack)
        .u16(1024)
        .u32(sack)
        .bytes(payload)
}

const SYN: u8 = 1 | 32 | 64 | (2 << 6);
const FIN: u8 = 2;
const ACK: u8 = 8;
const SACK: u8 = 16;

fn join(parts: &[Seed]) -> Seed {
    Seed(parts.iter().flat_map(|s| s.0.clone()).collect())
}

fn netstack(c: &mut Corpus) {
    let request = b"GET / HTTP/1.1\r\nHost: app.example\r\n\r\n";
    let app_write = Seed::new()
        .u8(4)
        .u8(0)
        .u8(0)
        .bytes(b"HTTP/1.1 200 OK\r\n\r\n");
    let later = Seed::new().u8(3).u16(30);
    c.seed(
        "http-exchange-v4",
        join(&[
            segment(0, SYN, 1000, 0, 0, &[]),
            segment(0, ACK, 0, 0, 0, &[]),
            segment(0, ACK, 0, 0, 0, request),
            app_write.clone(),
            segment(0, ACK, 0, 0, 0, &[]),
            segment(0, ACK | FIN, 0, 0, 0, &[]),
            Seed::new().u8(4).u8(0).u8(2).bytes(&[]),
            later.clone(),
            segment(0, ACK, 0, 0, 0, &[]),
        ]),
    );
    c.seed(
        "sack-hole-v6",
        join(&[
            segment(4, SYN, 7, 0, 0, &[]),
            segment(4, ACK, 0, 0, 0, &[]),
            Seed::new().u8(4).u8(0).u8(0).bytes(&[0x42; 8000]),
            segment(4, ACK | SACK, 0, 0, 2800, &[]),
            later,
            segment(4, ACK, 0, 1400, 0, &[]),
        ]),
    );
    c.seed(
        "syn-closed-port-and-rst",
        join(&[
            segment(16, SYN, 5, 0, 0, &[]),
            segment(1, SYN, 9, 0, 0, &[]),
            segment(1, 4, 0, 0, 0, &[]),
        ]),
    );
    c.seed(
        "udp-dns",
        Seed::new()
            .u8(2)
            .u8(2)
            .bytes(&dns_query("grafana.home.arpa", TYPE_A)),
    );
    let mut ping = vec![
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 100, 64, 0, 2, 100, 64, 0, 1,
    ];
    ping.extend_from_slice(&[8, 0, 0xf7, 0xfe, 0, 1, 0, 0]);
    c.seed("raw-icmp-echo", Seed::new().u8(0).bytes(&ping));
    let mut fragment = client_v4_udp(b"frag");
    fragment[6] = 0x20;
    c.seed("raw-fragment", Seed::new().u8(0).bytes(&fragment));
}

// === NAT ===

fn stun_answers(c: &mut Corpus) {
    // The probe's first transaction id is [1; 12]; bit 0 of the flags
    // writes it into the answer anyway.
    let id = [1u8; 12];
    let mapped: SocketAddr = "203.0.113.2:41602".parse().expect("addr");
    let other: SocketAddr = "192.0.2.2:3479".parse().expect("addr");
    c.seed(
        "success",
        Seed::new()
            .u8(1)
            .bytes(&stun::binding_success(&id, mapped, None)),
    );
    c.seed(
        "success-other-address",
        Seed::new()
            .u8(1)
            .bytes(&stun::binding_success(&id, mapped, Some(other))),
    );
    let v6: SocketAddr = "[2001:db8::2]:41602".parse().expect("addr");
    c.seed(
        "success-v6-from-other",
        Seed::new()
            .u8(3)
            .bytes(&stun::binding_success(&id, v6, None)),
    );
    c.seed(
        "error",
        Seed::new()
            .u8(1)
            .bytes(&stun::binding_error(&id, 420, "Unknown Attribute")),
    );
    c.seed(
        "request",
        Seed::new().u8(0).bytes(&stun::binding_request(&id, None)),
    );
}

/// The router's answer to a MAP request (RFC 6887 §7.2, §11.1): the
/// request with the response bit, a result, the epoch in place of the
/// client address, and the mapping it granted.
fn pcp_map(result: u8, lifetime: u32, epoch: u32) -> Vec<u8> {
    let granted = pcp::MapRequest {
        client: Ipv4Addr::new(192, 168, 10, 2),
        nonce: [0xAB; 12],
        internal_port: 41602,
        suggested_external_port: 41700,
        suggested_external_address: Ipv4Addr::new(203, 0, 113, 2),
        lifetime_secs: lifetime,
    };
    let mut r = granted.encode().to_vec();
    r[1] |= 0x80;
    r[3] = result;
    r[8..24].fill(0);
    r[8..12].copy_from_slice(&epoch.to_be_bytes());
    r
}

fn port_mapping(c: &mut Corpus) {
    c.add("pcp-map", pcp_map(0, 7200, 77));
    c.add("pcp-map-refused", pcp_map(2, 0, 77));
    let mut announce = vec![2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
    announce.extend_from_slice(&[0; 12]);
    c.add("pcp-announce", announce);
    c.add(
        "natpmp-external-address",
        [0, 128, 0, 0, 0, 0, 1, 44, 203, 0, 113, 2],
    );
    c.add(
        "natpmp-map-udp",
        [
            0, 129, 0, 0, 0, 0, 1, 44, 0xa2, 0x82, 0xa2, 0xe4, 0, 0, 0x1c, 0x20,
        ],
    );
    c.add("natpmp-unsupported-version", [0, 128, 0, 1]);
}

/// miniupnpd 2.3.1's answer to an M-SEARCH.
const SSDP_ANSWER: &str = "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n\
    ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
    USN: uuid:3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
    EXT:\r\nSERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n\
    location: http://192.168.10.1:5000/rootDesc.xml\r\n\r\n";

/// An IGD with a PPP and an IP connection service, a URLBase and a
/// relative control URL.
const DESCRIPTION: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><URLBase>http://192.168.1.1:49000/igd/</URLBase><device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType><deviceList><device><deviceList><device><serviceList>
<service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType><controlURL>upnp/control/WANPPPConn1</controlURL></service>
<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><controlURL>/ctl/IPConn</controlURL></service>
</serviceList></device></deviceList></device></deviceList></device></root>"#;

/// miniupnpd's description as the gateway of the mapper's network serves
/// it (the control URL relative to where it was fetched).
const GATEWAY_DESCRIPTION: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType><deviceList><device><deviceList><device><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>/ctl/IPConn</controlURL></service></serviceList></device></deviceList></device></deviceList></device></root>"#;

fn upnp(c: &mut Corpus) {
    c.seed(
        "ssdp-answer",
        Seed::new().u8(0).rest(SSDP_ANSWER.as_bytes()),
    );
    c.seed(
        "description",
        Seed::new().u8(1).rest(DESCRIPTION.as_bytes()),
    );
    let ok = r#"<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:GetExternalIPAddressResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:2"><NewExternalIPAddress>203.0.113.2</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>"#;
    c.seed(
        "soap-external-ip",
        Seed::new().u8(2).u16(0).rest(ok.as_bytes()),
    );
    let fault = r#"<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>718</errorCode><errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>"#;
    c.seed(
        "soap-fault",
        Seed::new().u8(6).u16(1).rest(fault.as_bytes()),
    );
    c.seed(
        "url-join",
        Seed::new()
            .u8(3)
            .bytes(b"http://192.168.1.1:49000/igd/desc.xml")
            .rest(b"../ctl/IPConn"),
    );
}

/// The mapper's runs with each protocol: mapped, renewed after half the
/// lease, then released (the answers are what miniupnpd sends).
fn nat_mapper(c: &mut Corpus) {
    let half_lease = Seed::new().u8(3).u16(3600);
    let release = Seed::new().u8(4);
    c.seed(
        "pcp",
        join(&[
            Seed::new().u8(0),
            Seed::new().u8(0).bytes(&pcp_map(0, 7200, 100)),
            half_lease.clone(),
            Seed::new().u8(0).bytes(&pcp_map(0, 7200, 3700)),
            release.clone(),
            Seed::new().u8(0).bytes(&pcp_map(0, 0, 3710)),
        ]),
    );
    let external = [0, 128, 0, 0, 0, 0, 0, 100, 203, 0, 113, 2];
    let mapped = |epoch: u32, lifetime: u32| {
        let mut m = vec![0, 129, 0, 0];
        m.extend_from_slice(&epoch.to_be_bytes());
        m.extend_from_slice(&41602u16.to_be_bytes());
        m.extend_from_slice(&41602u16.to_be_bytes());
        m.extend_from_slice(&lifetime.to_be_bytes());
        m
    };
    c.seed(
        "natpmp",
        join(&[
            Seed::new().u8(1),
            Seed::new().u8(0).bytes(&external),
            Seed::new().u8(0).bytes(&mapped(101, 7200)),
            half_lease,
            Seed::new().u8(0).bytes(&external),
            Seed::new().u8(0).bytes(&mapped(3701, 7200)),
            release,
            Seed::new().u8(0).bytes(&mapped(3702, 0)),
        ]),
    );
    let soap = |action: &str, args: &str| {
        format!(
            "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
             <u:{action}Response xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">{args}</u:{action}Response></s:Body></s:Envelope>"
        )
    };
    let http = |body: &str| Seed::new().u8(2).u16(200).bytes(body.as_bytes());
    c.seed(
        "upnp",
        join(&[
            Seed::new().u8(2),
            Seed::new().u8(1).bytes(SSDP_ANSWER.as_bytes()),
            http(GATEWAY_DESCRIPTION),
            http(&soap(
                "GetExternalIPAddress",
                "<NewExternalIPAddress>203.0.113.2</NewExternalIPAddress>",
            )),
            http(&soap("AddPortMapping", "")),
            Seed::new().u8(3).u16(60),
            http(&soap(
                "GetSpecificPortMappingEntry",
                "<NewInternalPort>41602</NewInternalPort><NewInternalClient>192.168.10.2</NewInternalClient>\
                 <NewEnabled>1</NewEnabled><NewLeaseDuration>7140</NewLeaseDuration>",
            )),
            Seed::new().u8(4),
            http(&soap("DeletePortMapping", "")),
        ]),
    );
}

// === HTTP ===

fn http_path(c: &mut Corpus) {
    for (name, host, path) in [
        ("admin", "app.example", "/admin"),
        ("admin-dot", "App.Example.:443", "/./admin/"),
        ("double-slash", "app.example", "//admin//x"),
        ("parent", "app.example", "/public/../admin/public/x?y=1"),
        ("encoded-dots", "app.example", "/api/%2e%2E/admin"),
        ("wildcard-api", "x.example", "/api/v1/items"),
        ("any-host", "[::1]:8443", "/.well-known/acme-challenge/t"),
        ("percent-space", "app.example", "/a%20b/c"),
    ] {
        c.seed(
            name,
            Seed::new()
                .u8(0)
                .bytes(host.as_bytes())
                .rest(path.as_bytes()),
        );
    }
}

// === DNS ===

fn dns_query(name: &str, qtype: u16) -> Vec<u8> {
    let mut q = authority::query(0x1234, name, qtype).expect("query");
    q[2] |= 1; // RD, as stub resolvers send
    q
}

/// `query` with an EDNS0 OPT record advertising `size`.
fn with_edns(mut q: Vec<u8>, size: u16) -> Vec<u8> {
    q[11] += 1;
    q.extend_from_slice(&[0, 0, 41]);
    q.extend_from_slice(&size.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    q
}

/// An answer to `query` with one A record pointing back at its question.
fn dns_answer(query: &[u8]) -> Vec<u8> {
    let mut r = query.to_vec();
    r[2] |= 0x80;
    r[7] = 1;
    r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]);
    r
}

fn dns_server(c: &mut Corpus) {
    c.seed(
        "a-host",
        Seed::new()
            .u8(0)
            .bytes(&dns_query("grafana.home.arpa", TYPE_A)),
    );
    c.seed(
        "aaaa-wildcard-edns",
        Seed::new()
            .u8(1)
            .bytes(&with_edns(dns_query("x.apps.home.arpa", TYPE_AAAA), 1232)),
    );
    c.seed(
        "soa-apex-tcp",
        Seed::new().u8(3).bytes(&dns_query("home.arpa", TYPE_SOA)),
    );
    c.seed(
        "nxdomain",
        Seed::new()
            .u8(2)
            .bytes(&dns_query("nope.home.arpa", TYPE_TXT)),
    );
    let outside = dns_query("example.org", TYPE_A);
    let mut upstream = dns_answer(&outside);
    upstream[..2].copy_from_slice(&0x5a5au16.to_be_bytes());
    c.seed(
        "forwarded-and-answered",
        Seed::new().u8(0).bytes(&outside).rest(&upstream),
    );
    c.seed("outside-refused", Seed::new().u8(0x80).bytes(&outside));
}

fn dns_tsig(c: &mut Corpus) {
    // The TXT check's answer, the NS answer with glue, and the UPDATE's
    // answer, each signed by the target (mode 1), one left unsigned.
    let txt = {
        let mut r = dns_query("_acme-challenge.example.com", TYPE_TXT);
        r[2] |= 0x84;
        r[7] = 1;
        r.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 6, 5]);
        r.extend_from_slice(b"token");
        r
    };
    c.seed("txt-answer", Seed::new().u8(1).u16(7).u8(1).rest(&txt));
    let ns = {
        let mut r = dns_query("example.com", TYPE_NS);
        r[2] |= 0x84;
        r[7] = 1;
        r[11] = 1;
        r.extend_from_slice(&[0xc0, 12, 0, 2, 0, 1, 0, 0, 0, 60, 0, 6, 3]);
        r.extend_from_slice(b"ns1\xc0\x0c");
        let at = (r.len() - 6) as u8;
        r.extend_from_slice(&[0xc0, at, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 2]);
        r
    };
    c.seed(
        "ns-answer-with-glue",
        Seed::new().u8(1).u16(30).u8(0x20).rest(&ns),
    );
    c.seed(
        "ns-answer-unsigned",
        Seed::new().u8(0).u16(0).u8(0).rest(&ns),
    );
    let mut update_answer = vec![0, 9, 0xa8, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    update_answer.extend_from_slice(b"\x07example\x03com\x00\x00\x06\x00\x01");
    c.seed(
        "update-answer",
        Seed::new().u8(1).u16(3).u8(0x80).rest(&update_answer),
    );
}

// === TLS ===

fn cn(tag: u8, value: &[u8]) -> Vec<u8> {
    x509::tlv(
        0x31,
        &x509::seq(&[
            &x509::tlv(0x06, &[0x55, 0x04, 0x03]),
            &x509::tlv(tag, value),
        ]),
    )
}

fn x509_name(c: &mut Corpus) {
    let org = x509::tlv(
        0x31,
        &x509::seq(&[
            &x509::tlv(0x06, &[0x55, 0x04, 0x0a]),
            &x509::tlv(0x13, b"Example Org"),
        ]),
    );
    let alice = [org.clone(), cn(0x0c, b"alice@example.com")].concat();
    c.seed("subject-org-cn", Seed::new().u8(1).bytes(&alice));
    c.seed(
        "subject-printable",
        Seed::new().u8(1).bytes(&cn(0x13, b"bob")),
    );
    let dns_san = x509::tlv(0x82, b"laptop.home.arpa");
    c.seed(
        "no-cn-dns-san",
        Seed::new().u8(1).bytes(&org).rest(&dns_san),
    );
    c.add(
        "whole-certificate",
        [&[0u8][..], &x509::certificate(&alice, Some(&dns_san))].concat(),
    );
    // The template must parse, or no input would reach the name readers.
    let name = |subject: &[u8], san: Option<&[u8]>| {
        let der = rustls_pki_types::CertificateDer::from(x509::certificate(subject, san));
        wingress_tls::ClientCaVerifier::subject_of(&[der])
    };
    assert_eq!(name(&alice, None).as_deref(), Some("alice@example.com"));
    assert_eq!(
        name(&org, Some(&dns_san)).as_deref(),
        Some("laptop.home.arpa")
    );
}

// === config ===

fn config(c: &mut Corpus, repo: &Path) {
    for name in ["wingress.toml", "https.toml", "forward.toml"] {
        let text = fs::read(repo.join("config").join(name)).expect("example config");
        c.seed(name, Seed::new().u8(1).rest(&text));
    }
    c.seed(
        "embedded-default",
        Seed::new()
            .u8(0)
            .rest(wingress_config::EMBEDDED_DEFAULT.as_bytes()),
    );
    // The DaemonSet's config: the block under `wingress.toml: |`.
    let yaml =
        fs::read_to_string(repo.join("packaging/kubernetes/configmap.yaml")).expect("configmap");
    let toml: String = yaml
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("wingress.toml: |"))
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| format!("{}\n", l.get(4..).unwrap_or("")))
        .collect();
    c.seed(
        "kubernetes-configmap",
        Seed::new().u8(1).rest(toml.as_bytes()),
    );
}
