//! `wingress run`: the ingress daemon. Accepts WireGuard peers and forwards
//! the configured TCP and UDP ports on its tunnel address to backends.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::net::UdpSocket;
use wingress_config::ServerConfig;
use wingress_netstack::{Accepted, UdpDatagram};
use wingress_wg::PeerId;

use crate::backend::Addrs;
use crate::dataplane::{Driver, Handler, Net, NetRef};
use crate::dns::DnsServer;
use crate::https::Https;
use crate::tcp_pump::{pump, PumpEnd};
use crate::tunnel::{self, PeerMeta};
use crate::tunnel_stream::TunnelStream;
use crate::udp_io::UdpIo;

/// A UDP flow with no traffic either way for this long is forgotten.
const UDP_IDLE: Duration = Duration::from_secs(60);
/// Concurrent UDP flows at most; datagrams opening more are dropped.
const UDP_MAX_FLOWS: usize = 4096;

/// How `run` was started, for the start-up banner.
pub struct Launch {
    pub port: u16,
    pub key_created: bool,
    pub embedded: bool,
}

pub async fn run(cfg: ServerConfig, port: u16, embedded: bool) -> Result<()> {
    let (key, key_created) = tunnel::private_key(&cfg.wireguard, &cfg.node.state_dir)?;
    let public = key.public_key();
    let (dev, peers) = tunnel::device(key, &cfg.peers).await?;
    let mut stack = tunnel::stack(&cfg.wireguard, Instant::now());
    let mut tcp = HashMap::new();
    for s in &cfg.tcp {
        stack.listen_tcp(s.listen);
        tcp.insert(s.listen, Addrs::new(&s.backend));
    }
    let mut udp = HashMap::new();
    for s in &cfg.udp {
        stack.bind_udp(s.listen);
        udp.insert(s.listen, Addrs::new(&s.backend));
    }
    let dns = DnsServer::from_config(&cfg);
    if dns.is_some() {
        stack.bind_udp(wingress_config::DNS_PORT);
        stack.listen_tcp(wingress_config::DNS_PORT);
    }
    // Certificates, CAs and host sockets first: a bad file or a busy port
    // fails start-up before the tunnel comes up.
    let https = Https::build(&cfg)?;
    let host_listeners = match &https {
        Some(h) => {
            for p in h.tunnel_ports() {
                stack.listen_tcp(p);
            }
            h.bind_host()?
        }
        None => Vec::new(),
    };
    let io = UdpIo::bind(port).with_context(|| format!("cannot bind UDP port {port}"))?;
    banner(
        &cfg,
        &public.to_base64(),
        &Launch {
            port,
            key_created,
            embedded,
        },
    );

    if let Some(h) = &https {
        h.start(host_listeners);
    }
    let net = Net::new(dev, stack);
    let app = Ingress {
        tcp,
        udp,
        https,
        dns,
        peers: Rc::new(peers),
        flows: Rc::new(RefCell::new(HashMap::new())),
    };
    let mut driver = Driver::new(net, io, app);
    driver.initiate_handshakes();
    // Every socket is bound and every host listener accepts: tell systemd
    // (Type=notify) that start-up is done.
    crate::notify::ready(&format!(
        "serving {} peer(s) on UDP port {port}",
        cfg.peers.len()
    ));
    driver.run().await;
    Ok(())
}

fn banner(cfg: &ServerConfig, public: &str, l: &Launch) {
    tracing::info!(
        public_key = %public,
        port = l.port,
        address = %cfg.wireguard.address,
        peers = cfg.peers.len(),
        tcp = cfg.tcp.len(),
        udp = cfg.udp.len(),
        "wingress running"
    );
    if l.key_created {
        tracing::info!(path = %cfg.node.state_dir.join("private.key").display(), "created a new private key");
    }
    if l.embedded || cfg.peers.is_empty() {
        let ip = cfg
            .node
            .ip
            .map_or_else(|| "<this host's address>".to_string(), |ip| ip.to_string());
        eprintln!(
            "\nwingress public key: {public}\nlistening on UDP port {port}, tunnel address {addr}\n\n\
             To add a peer, put this in a config file (./wingress.toml or /etc/wingress/wingress.toml)\n\
             and restart, or pass it with --config:\n\n\
             [[peer]]\nname = \"laptop\"\npublic_key = \"<the peer's public key: wg pubkey < peer.key>\"\n\
             allowed_ips = [\"100.64.0.10/32\"]\n\n\
             and on the peer (wg-quick):\n\n\
             [Peer]\nPublicKey = {public}\nEndpoint = {ip}:{port}\nAllowedIPs = {net}\nPersistentKeepalive = 25\n",
            port = l.port,
            addr = cfg.wireguard.address,
            net = cfg.wireguard.address.network(),
        );
    }
}

struct Flow {
    sock: Rc<UdpSocket>,
    last: Rc<Cell<Instant>>,
}

struct Ingress {
    tcp: HashMap<u16, Addrs>,
    udp: HashMap<u16, Addrs>,
    https: Option<std::sync::Arc<Https>>,
    /// The in-tunnel DNS server on port 53, when `[dns]` is on.
    dns: Option<Rc<DnsServer>>,
    peers: Rc<Vec<PeerMeta>>,
    flows: Rc<RefCell<HashMap<(SocketAddr, u16), Flow>>>,
}

impl Ingress {
    fn peer(&self, id: Option<PeerId>) -> Option<&PeerMeta> {
        id.and_then(|id| self.peers.iter().find(|p| p.id == id))
    }

    fn peer_name(&self, id: Option<PeerId>) -> String {
        self.peer(id)
            .map_or_else(|| "-".to_string(), |p| p.name.clone())
    }

    fn open_flow(&self, net: &NetRef, d: &UdpDatagram, backend: &Addrs) -> Option<Rc<UdpSocket>> {
        if self.flows.borrow().len() >= UDP_MAX_FLOWS {
            tracing::debug!("udp flow table full; datagram dropped");
            return None;
        }
        let to = backend.first()?;
        let bind: SocketAddr = if to.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let std_sock = std::net::UdpSocket::bind(bind).ok()?;
        std_sock.connect(to).ok()?;
        std_sock.set_nonblocking(true).ok()?;
        let sock = Rc::new(UdpSocket::from_std(std_sock).ok()?);
        let last = Rc::new(Cell::new(Instant::now()));
        let key = (d.src, d.dst.port());
        self.flows.borrow_mut().insert(
            key,
            Flow {
                sock: sock.clone(),
                last: last.clone(),
            },
        );
        let (net, flows, reply_sock) = (net.clone(), self.flows.clone(), sock.clone());
        let (client, local) = (d.src, d.dst);
        tokio::task::spawn_local(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                match tokio::time::timeout(UDP_IDLE, reply_sock.recv(&mut buf)).await {
                    Ok(Ok(n)) => {
                        last.set(Instant::now());
                        let mut net = net.borrow_mut();
                        net.stack.send_udp(local, client, &buf[..n]);
                        net.kick();
                    }
                    // ICMP unreachable from the backend shows up as an
                    // error; the flow stays, the client may retry.
                    Ok(Err(_)) => {}
                    Err(_) if last.get().elapsed() >= UDP_IDLE => break,
                    Err(_) => {}
                }
            }
            flows.borrow_mut().remove(&key);
        });
        Some(sock)
    }
}

impl Handler for Ingress {
    fn accepted(&mut self, net: &NetRef, conn: Accepted, peer: Option<PeerId>) {
        let port = conn.local.port();
        if let Some(h) = self.https.as_ref().filter(|h| h.serves_tunnel_port(port)) {
            let identity = self.peer(peer).map(|p| p.identity.clone());
            h.serve_tunnel(
                TunnelStream::new(net.clone(), conn.id),
                port,
                conn.remote,
                identity,
            );
            return;
        }
        if let Some(dns) = self
            .dns
            .as_ref()
            .filter(|_| port == wingress_config::DNS_PORT)
        {
            dns.serve_tcp(TunnelStream::new(net.clone(), conn.id));
            return;
        }
        let name = self.peer_name(peer);
        let Some(backend) = self.tcp.get(&conn.local.port()).cloned() else {
            let mut n = net.borrow_mut();
            if let Some(s) = n.stack.tcp(conn.id) {
                s.abort();
            }
            n.stack.release(conn.id);
            return;
        };
        let net = net.clone();
        tokio::task::spawn_local(async move {
            let started = Instant::now();
            let stream = match backend.connect().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::info!(peer = %name, port = conn.local.port(), backend = backend.name(), error = %e, "backend unreachable; connection reset");
                    let mut n = net.borrow_mut();
                    if let Some(s) = n.stack.tcp(conn.id) {
                        s.abort();
                    }
                    n.stack.release(conn.id);
                    n.kick();
                    return;
                }
            };
            let (end, up, down) = pump(&net, conn.id, stream).await;
            let how = match &end {
                PumpEnd::Closed => "closed".to_string(),
                PumpEnd::TunnelReset => "reset by peer".to_string(),
                PumpEnd::Io(e) => format!("backend error: {e}"),
            };
            tracing::debug!(
                peer = %name, port = conn.local.port(), backend = backend.name(),
                bytes_up = up, bytes_down = down, secs = started.elapsed().as_secs_f64(), end = how,
                "tcp connection finished"
            );
        });
    }

    fn datagram(&mut self, net: &NetRef, d: &UdpDatagram, _peer: PeerId) {
        if let Some(dns) = self
            .dns
            .as_ref()
            .filter(|_| d.dst.port() == wingress_config::DNS_PORT)
        {
            dns.on_datagram(net, d);
            return;
        }
        let Some(backend) = self.udp.get(&d.dst.port()) else {
            return;
        };
        let key = (d.src, d.dst.port());
        let existing = self.flows.borrow().get(&key).map(|f| {
            f.last.set(Instant::now());
            f.sock.clone()
        });
        let sock = match existing {
            Some(s) => s,
            None => match self.open_flow(net, d, backend) {
                Some(s) => s,
                None => return,
            },
        };
        // Datagram semantics: if the backend socket is full, drop. Sent on
        // the descriptor directly: tokio's `try_send` refuses until its
        // reactor has seen the socket writable, which would drop the first
        // datagram of every new flow.
        let _ = socket2::SockRef::from(&*sock).send(d.payload());
    }
}
