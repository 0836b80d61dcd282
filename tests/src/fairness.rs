//! The per-peer fairness setup, for the `limits_lab` test and the
//! `fairness` benchmark: two wireguard-go peers and `wingress run`, and a
//! SYN flooder.
//!
//! Peer `a` (namespace A, 10.99.0.1, tunnel 100.64.0.1) and peer `b`
//! (namespace C, 10.98.0.3, tunnel 100.64.0.3) reach the daemon in B
//! (10.99.0.2 and 10.98.0.2, tunnel 100.64.0.2), which forwards tunnel TCP
//! port 7000 to an echo server in B. The flooder is a Python raw socket in
//! A sending bare SYNs from 100.64.0.1 through A's WireGuard interface; A's
//! kernel would answer each SYN-ACK with RST (it has no such connection),
//! which would free the daemon's half-open slot at once, so
//! [`TwoPeers::drop_flood_resets`] makes A drop those RSTs, as a real
//! flooder's spoofing setup does.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context, Result};

use crate::process::Process;
use crate::wggo::{KeyPair, WgGo, WgGoConfig, WgPeer};
use crate::wingress::{admin, spawn_wingress, wait_ready, write_private_key};
use crate::{veth, Lab, Netns};

/// The daemon's tunnel address and forwarded port.
pub const TUNNEL: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
pub const ECHO_PORT: u16 = 7000;
const WG_PORT: u16 = 41602;
const READY: Duration = Duration::from_secs(60);
/// The flooder's source ports (A's kernel uses 32768 and up for its own
/// connections, whose RSTs must pass).
const FLOOD_PORTS: (u16, u16) = (1024, 30999);

/// The running setup. Dropping it stops everything (the namespaces go with
/// the lab).
pub struct TwoPeers {
    pub a: Netns,
    pub b: Netns,
    pub c: Netns,
    pub daemon: Process,
    /// The daemon's config file and admin socket.
    pub config: PathBuf,
    pub socket: PathBuf,
    _wga: WgGo,
    _wgc: WgGo,
    dir: PathBuf,
}

impl TwoPeers {
    /// Starts everything; `limits` is written into the daemon's config as
    /// is (empty: the defaults).
    pub fn start(lab: &Lab, bin: &Path, limits: &str) -> Result<TwoPeers> {
        let (a, b, c) = (lab.netns()?, lab.netns()?, lab.netns()?);
        veth(&a, "10.99.0.1/24", &b, "10.99.0.2/24")?;
        veth(&c, "10.98.0.3/24", &b, "10.98.0.2/24")?;
        let (ka, kc, server) = (
            KeyPair::generate()?,
            KeyPair::generate()?,
            KeyPair::generate()?,
        );
        let echo = b.run(|| TcpListener::bind((Ipv4Addr::LOCALHOST, ECHO_PORT)))??;
        std::thread::spawn(move || serve_echo(echo));

        let dir = lab.dir().join("fairness");
        std::fs::create_dir_all(&dir)?;
        write_private_key(&dir, "server.key", &server.private)?;
        let config = dir.join("wingress.toml");
        let socket = dir.join("state/admin.sock");
        let peers = [
            ("a", &ka.public, "100.64.0.1/32"),
            ("b", &kc.public, "100.64.0.3/32"),
        ];
        let mut text = format!(
            "[node]\nip = \"10.99.0.2\"\nstate_dir = \"{state}\"\n\
             [wireguard]\nprivate_key_file = \"server.key\"\naddress = \"{TUNNEL}/24\"\n\
             [nat]\nstun_servers = []\nport_mapping = false\n\
             [[tcp]]\nlisten = {ECHO_PORT}\nbackend = \"127.0.0.1:{ECHO_PORT}\"\n",
            state = dir.join("state").display(),
        );
        for (name, key, ip) in peers {
            text.push_str(&format!(
                "[[peer]]\nname = \"{name}\"\npublic_key = \"{key}\"\nallowed_ips = [\"{ip}\"]\n"
            ));
        }
        text.push_str(limits);
        std::fs::write(&config, &text)?;
        let cfg = config.display().to_string();
        let mut daemon = spawn_wingress(&b, bin, "wingress-run", &["run", "--config", &cfg])?;
        wait_ready(&mut daemon, &socket, READY)?;
        let server_peer = |ip: [u8; 4]| {
            WgPeer::new(&server.public, &[&format!("{TUNNEL}/32")])
                .endpoint(SocketAddr::from((ip, WG_PORT)))
                .keepalive(25)
        };
        let wga = WgGo::start(
            &a,
            &WgGoConfig::new(ka, 51820, "100.64.0.1/24").peer(server_peer([10, 99, 0, 2])),
        )?;
        let wgc = WgGo::start(
            &c,
            &WgGoConfig::new(kc, 51820, "100.64.0.3/24").peer(server_peer([10, 98, 0, 2])),
        )?;
        a.wait_ping(&TUNNEL.to_string(), READY)?;
        c.wait_ping(&TUNNEL.to_string(), READY)?;
        wga.wait_for_handshake(&server.public, READY)?;
        wgc.wait_for_handshake(&server.public, READY)?;
        Ok(TwoPeers {
            a,
            b,
            c,
            daemon,
            config,
            socket,
            _wga: wga,
            _wgc: wgc,
            dir,
        })
    }

    /// A connection from `ns` to the echo port through the tunnel.
    pub fn connect(&self, ns: &Netns, limit: Duration) -> Result<TcpStream> {
        let to = SocketAddr::from((TUNNEL, ECHO_PORT));
        let s = ns.run(|| TcpStream::connect_timeout(&to, limit))??;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(s)
    }

    /// `GET /metrics`.
    pub fn metrics(&self) -> Result<String> {
        let (code, body) = admin(&self.socket, "GET", "/metrics")?;
        ensure!(code == 200, "/metrics: {code} {body}");
        Ok(body)
    }

    /// Makes A drop the RSTs its kernel sends for the flooder's SYN-ACKs.
    pub fn drop_flood_resets(&self) -> Result<()> {
        let ports = format!("{}-{}", FLOOD_PORTS.0, FLOOD_PORTS.1);
        let tunnel = TUNNEL.to_string();
        for args in [
            vec!["add", "table", "ip", "wglfair"],
            vec![
                "add",
                "chain",
                "ip",
                "wglfair",
                "out",
                "{ type filter hook output priority 0; policy accept; }",
            ],
            vec![
                "add", "rule", "ip", "wglfair", "out", "ip", "daddr", &tunnel, "tcp", "sport",
                &ports, "tcp", "flags", "&", "rst", "==", "rst", "drop",
            ],
        ] {
            self.a.exec("nft", &args)?;
        }
        Ok(())
    }

    /// Starts the flooder in A: `count` SYNs (0: until stopped) to the echo
    /// port, at most `rate` per second (0: as fast as it can). It prints
    /// how many it sent when done or stopped with SIGTERM.
    pub fn flood(&self, count: u32, rate: u32) -> Result<Process> {
        let script = self.dir.join("synflood.py");
        std::fs::write(&script, SYN_FLOOD)?;
        let args = [
            script.display().to_string(),
            TUNNEL.to_string(),
            ECHO_PORT.to_string(),
            "100.64.0.1".to_string(),
            count.to_string(),
            rate.to_string(),
            FLOOD_PORTS.0.to_string(),
            FLOOD_PORTS.1.to_string(),
        ];
        self.a.spawn("synflood", "python3", &args)
    }
}

/// One echo round trip on `s`.
pub fn echo_round_trip(s: &mut TcpStream, msg: &[u8]) -> Result<()> {
    s.write_all(msg)?;
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).context("echo")?;
    ensure!(got == msg, "echoed {got:?}");
    Ok(())
}

fn serve_echo(listener: TcpListener) {
    for s in listener.incoming() {
        let Ok(mut s) = s else { continue };
        std::thread::spawn(move || {
            let Ok(mut r) = s.try_clone() else { return };
            let _ = std::io::copy(&mut r, &mut s);
        });
    }
}

/// Bare SYNs from a raw socket: argv is destination address and port,
/// source address, count (0: until SIGTERM), rate per second (0: no pause),
/// and the source port range.
const SYN_FLOOD: &str = r#"
import random, signal, socket, struct, sys, time
dst, dport, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
count, rate = int(sys.argv[4]), float(sys.argv[5])
lo, hi = int(sys.argv[6]), int(sys.argv[7])
sent = 0
def done(*_):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(sent, flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
def checksum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return ~t & 0xFFFF
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, 20)
start = time.monotonic()
while count == 0 or sent < count:
    sport = lo + sent % (hi - lo + 1)
    h = struct.pack("!HHIIBBHHH", sport, dport, random.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
    h = h[:16] + struct.pack("!H", checksum(pseudo + h)) + h[18:]
    s.sendto(h, (dst, 0))
    sent += 1
    if rate:
        pause = start + sent / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
done()
"#;
