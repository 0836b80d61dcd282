//! What the data plane does with accepted tunnel connections and
//! datagrams: HTTPS entrypoints, `[[tcp]]` and `[[udp]]` forwards. The
//! tables here are replaced by reloads; connections already forwarded keep
//! the backend they were given. Each UDP flow holds a slot of its peer's
//! `peer_udp_flows` (see [`crate::ingress::limits`]).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use wingress_netstack::{Accepted, UdpDatagram};
use wingress_sync::LiveReader;
use wingress_wg::PeerId;

use crate::dataplane::tcp_pump::{pump, PumpEnd};
use crate::dataplane::tunnel::PeerMeta;
use crate::dataplane::tunnel_stream::TunnelStream;
use crate::dataplane::{Handler, NetRef};
use crate::ingress::backend::Addrs;
use crate::ingress::dns::DnsServer;
use crate::ingress::https::{HttpsGen, HttpsService};
use crate::ingress::limits::{PeerCaps, Slot};
use crate::ingress::open_conns::{Gauge, IdleCounter};

/// A UDP flow with no traffic either way for this long is forgotten.
const UDP_IDLE: Duration = Duration::from_secs(60);

/// One `[[tcp]]` listener.
#[derive(Clone)]
pub(crate) struct TcpForward {
    pub(crate) backend: Addrs,
    pub(crate) config: wingress_config::TcpService,
    pub(crate) open: Gauge,
    pub(crate) idle_closed: IdleCounter,
}

/// One `[[udp]]` listener.
#[derive(Clone)]
pub(crate) struct UdpForward {
    pub(crate) backend: Addrs,
    pub(crate) config: wingress_config::UdpService,
}

/// The forwarding tables a reload replaces.
#[derive(Default)]
pub(crate) struct Tables {
    pub(crate) tcp: HashMap<u16, TcpForward>,
    pub(crate) udp: HashMap<u16, UdpForward>,
    pub(crate) peers: HashMap<PeerId, PeerMeta>,
    /// The in-tunnel DNS server on port 53, when `[dns]` is on.
    pub(crate) dns: Option<Rc<DnsServer>>,
}

pub(crate) type TablesRef = Rc<RefCell<Tables>>;

pub(crate) struct Flow {
    sock: Rc<UdpSocket>,
    last: Rc<Cell<Instant>>,
    /// The peer's flow slot, given back when the flow is forgotten.
    _slot: Slot,
}

pub(crate) type Flows = Rc<RefCell<HashMap<(SocketAddr, u16), Flow>>>;

/// The data plane's [`Handler`].
pub(crate) struct Ingress {
    pub(crate) tables: TablesRef,
    pub(crate) https: Arc<HttpsService>,
    pub(crate) reader: LiveReader<HttpsGen>,
    pub(crate) flows: Flows,
    pub(crate) caps: Rc<PeerCaps>,
}

impl Ingress {
    pub(crate) fn new(
        tables: TablesRef,
        https: Arc<HttpsService>,
        flows: Flows,
        caps: Rc<PeerCaps>,
    ) -> Self {
        Ingress {
            tables,
            reader: https.current.reader(),
            https,
            flows,
            caps,
        }
    }

    fn peer_name(&self, id: Option<PeerId>) -> String {
        id.and_then(|id| self.tables.borrow().peers.get(&id).map(|p| p.name.clone()))
            .unwrap_or_else(|| "-".to_string())
    }

    fn open_flow(
        &self,
        net: &NetRef,
        d: &UdpDatagram,
        peer: PeerId,
        backend: &Addrs,
    ) -> Option<Rc<UdpSocket>> {
        // A flow past the peer's cap (or the daemon's) is dropped, and
        // counted by the slots.
        let slot = self.caps.udp_flows.take(Some(peer))?;
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
                _slot: slot,
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
                        net.act(|core| core.stack_mut().send_udp(local, client, &buf[..n]));
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
        let gen = self.reader.get();
        if gen.serves_tunnel_port(port) {
            let identity = peer.and_then(|id| {
                let tables = self.tables.borrow();
                tables.peers.get(&id).map(|p| p.identity.clone())
            });
            let gen = gen.clone();
            self.https.serve_tunnel(
                &gen,
                TunnelStream::new(net.clone(), conn.id),
                port,
                conn.remote,
                identity,
            );
            return;
        }
        if port == wingress_config::DNS_PORT {
            let dns = self.tables.borrow().dns.clone();
            if let Some(dns) = dns {
                dns.serve_tcp(TunnelStream::new(net.clone(), conn.id), peer);
                return;
            }
        }
        let name = self.peer_name(peer);
        let forward = self.tables.borrow().tcp.get(&port).cloned();
        let Some(forward) = forward else {
            net.act(|core| core.stack_mut().abort(conn.id));
            return;
        };
        let net = net.clone();
        let open = forward.open.open();
        let backend = forward.backend.clone();
        tokio::task::spawn_local(async move {
            let _open = open;
            let started = Instant::now();
            let stream = match backend.connect().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::info!(peer = %name, port, backend = backend.name(), error = %e, "backend unreachable; connection reset");
                    net.act(|core| core.stack_mut().abort(conn.id));
                    return;
                }
            };
            let idle = Some(forward.config.idle_timeout);
            let (end, up, down) = pump(&net, conn.id, stream, idle).await;
            let how = match &end {
                PumpEnd::Closed => "closed".to_string(),
                PumpEnd::TunnelReset => "reset by peer".to_string(),
                PumpEnd::Io(e) => format!("backend error: {e}"),
                PumpEnd::Idle => {
                    forward.idle_closed.add();
                    "idle".to_string()
                }
            };
            tracing::debug!(
                peer = %name, port, backend = backend.name(),
                bytes_up = up, bytes_down = down, secs = started.elapsed().as_secs_f64(), end = how,
                "tcp connection finished"
            );
        });
    }

    fn datagram(&mut self, net: &NetRef, d: &UdpDatagram, peer: PeerId) {
        if d.dst.port() == wingress_config::DNS_PORT {
            let dns = self.tables.borrow().dns.clone();
            if let Some(dns) = dns {
                dns.on_datagram(net, d, peer);
                return;
            }
        }
        let key = (d.src, d.dst.port());
        let existing = self.flows.borrow().get(&key).map(|f| {
            f.last.set(Instant::now());
            f.sock.clone()
        });
        let sock = match existing {
            Some(s) => s,
            None => {
                let backend = match self.tables.borrow().udp.get(&d.dst.port()) {
                    Some(f) => f.backend.clone(),
                    None => return,
                };
                match self.open_flow(net, d, peer, &backend) {
                    Some(s) => s,
                    None => return,
                }
            }
        };
        // Datagram semantics: if the backend socket is full, drop. Sent on
        // the descriptor directly: tokio's `try_send` refuses until its
        // reactor has seen the socket writable, which would drop the first
        // datagram of every new flow.
        let _ = socket2::SockRef::from(&*sock).send(d.payload());
    }
}
