//! The in-tunnel DNS server on tunnel port 53: a thin tokio driver around
//! `wingress_dns::Responder`. UDP queries arrive through the netstack's UDP
//! bypass (`Handler::datagram`), TCP queries over a [`TunnelStream`] with
//! RFC 1035 §4.2.2 framing (a 2-byte length before each message). Names
//! outside the zone go to upstream resolvers over host sockets: UDP for UDP
//! clients, TCP for TCP clients.
//!
//! The records come from the config by [`zone_from`], a pure function, so
//! a reload builds a new zone and swaps it in with [`DnsServer::reload`].
//!
//! Forwarded queries in flight and TCP connections hold slots of their
//! peer's `peer_dns_forwards` and `peer_dns_tcp` (see [`crate::ingress::limits`]):
//! one peer's flood cannot take the slots every peer shares.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use wingress_config::{DnsForward, HostPattern, ServerConfig, DNS_PORT};
use wingress_dns::{
    relay_reply, reply_matches, servfail, with_id, Action, DnsStats, Forward, Outside, Responder,
    Transport, Zone,
};
use wingress_netstack::UdpDatagram;
use wingress_wg::PeerId;

use crate::dataplane::tunnel_stream::TunnelStream;
use crate::dataplane::NetRef;
use crate::ingress::limits::PeerCaps;

/// How long one upstream server gets to answer before the next is tried.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// A TCP client gets this long between messages (RFC 7766 suggests
/// seconds, not minutes, for a server under no pressure).
const TCP_IDLE: Duration = Duration::from_secs(10);
/// How often the counters are logged (when they changed).
const STATS_EVERY: Duration = Duration::from_secs(300);
/// Where the host's resolvers are listed.
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The zone a config describes: every route host (exact, or wildcard
/// below its base) answers with the tunnel address, and the route
/// domains, unless `[dns].domains` names them, are the host names minus
/// their first label. A domain must keep at least two labels: a route for
/// `example.com` or `grafana.lan` must not make the tunnel claim all of
/// `com` or `lan` (other names there are forwarded instead).
pub(crate) fn zone_from(cfg: &ServerConfig) -> Zone {
    let outside = match cfg.dns.forward {
        DnsForward::Refuse => Outside::Refuse,
        DnsForward::System | DnsForward::Servers(_) => Outside::Forward,
    };
    let mut zone = Zone::new(&[cfg.wireguard.address.addr], cfg.dns.ttl, outside);
    for route in &cfg.routes {
        match &route.host {
            HostPattern::Exact(name) => zone.add_host(name),
            HostPattern::Wildcard(suffix) => zone.add_wildcard(suffix.trim_start_matches('.')),
            HostPattern::Any => {}
        }
    }
    // The dashboard is one more route host.
    let dashboard = cfg
        .dashboard
        .served_host()
        .map(|h| HostPattern::Exact(h.to_string()));
    if let Some(HostPattern::Exact(name)) = &dashboard {
        zone.add_host(name);
    }
    match &cfg.dns.domains {
        Some(domains) => domains.iter().for_each(|d| zone.add_domain(d)),
        None => cfg
            .routes
            .iter()
            .map(|r| &r.host)
            .chain(&dashboard)
            .filter_map(route_domain)
            .for_each(|d| zone.add_domain(d)),
    }
    zone
}

/// `grafana.home.arpa` → `home.arpa`; `*.home.arpa` → `home.arpa`; `None`
/// when that would leave a single label.
fn route_domain(host: &HostPattern) -> Option<&str> {
    let domain = match host {
        HostPattern::Exact(name) => name.split_once('.')?.1,
        HostPattern::Wildcard(suffix) => suffix.trim_start_matches('.'),
        HostPattern::Any => return None,
    };
    domain.contains('.').then_some(domain)
}

/// The upstream resolvers of a config; `resolv_conf` is the text of
/// /etc/resolv.conf (read by the caller) for `forward = "system"`.
pub(crate) fn upstreams_from(cfg: &ServerConfig, resolv_conf: &str) -> Vec<SocketAddr> {
    match &cfg.dns.forward {
        DnsForward::Refuse => Vec::new(),
        DnsForward::Servers(servers) => servers.clone(),
        DnsForward::System => wingress_dns::nameservers(resolv_conf),
    }
}

/// The DNS server of one data-plane thread.
pub(crate) struct DnsServer {
    responder: RefCell<Responder>,
    upstreams: RefCell<Rc<[SocketAddr]>>,
    /// The largest UDP payload the tunnel carries back in one packet.
    path_max: usize,
    /// Forwarded UDP queries in flight: more are dropped and counted (the
    /// client retries), so a flood cannot open unbounded sockets. TCP
    /// connections: more are reset.
    caps: Rc<PeerCaps>,
}

impl DnsServer {
    /// `None` when `[dns]` is off.
    pub(crate) fn from_config(cfg: &ServerConfig, caps: Rc<PeerCaps>) -> Option<Rc<DnsServer>> {
        if !cfg.dns.enabled {
            return None;
        }
        let ip_overhead = if cfg.wireguard.address.addr.is_ipv4() {
            20
        } else {
            40
        };
        let server = Rc::new(DnsServer {
            responder: RefCell::new(Responder::new(zone_from(cfg))),
            upstreams: RefCell::new(Rc::from(upstreams(cfg))),
            path_max: usize::from(cfg.wireguard.mtu) - ip_overhead - 8,
            caps,
        });
        server.log_config("dns serving");
        server.log_stats_every(STATS_EVERY);
        Some(server)
    }

    /// Swaps in the zone and upstreams of a new config (hot reload).
    pub(crate) fn reload(&self, cfg: &ServerConfig) {
        self.responder.borrow_mut().set_zone(zone_from(cfg));
        *self.upstreams.borrow_mut() = Rc::from(upstreams(cfg));
        self.log_config("dns reloaded");
    }

    fn log_config(&self, what: &str) {
        let r = self.responder.borrow();
        let domains: Vec<String> = r.zone().domains().collect();
        let upstreams: Vec<String> = self
            .upstreams
            .borrow()
            .iter()
            .map(|a| a.to_string())
            .collect();
        tracing::info!(
            port = DNS_PORT,
            domains = %domains.join(","),
            forward = if r.zone().outside() == Outside::Forward { upstreams.join(",") } else { "refuse".to_string() },
            "{what}"
        );
    }

    /// The counters, for status and metrics.
    pub(crate) fn stats(&self) -> DnsStats {
        self.responder.borrow().stats()
    }

    /// Logs the counters at INFO every `every` when they changed: until the
    /// admin API's status and metrics carry them, this is where they show.
    fn log_stats_every(self: &Rc<Self>, every: Duration) {
        let this = Rc::downgrade(self);
        tokio::task::spawn_local(async move {
            let mut last = DnsStats::default();
            loop {
                tokio::time::sleep(every).await;
                let Some(this) = this.upgrade() else { return };
                let s = this.stats();
                if s != last {
                    tracing::info!(
                        answered = s.answered,
                        nxdomain = s.nxdomain,
                        refused = s.refused,
                        forwarded = s.forwarded,
                        upstream_failed = s.upstream_failed,
                        malformed = s.malformed,
                        dropped = s.dropped,
                        shed = s.shed,
                        "dns counters"
                    );
                    last = s;
                }
            }
        });
    }

    /// A query over UDP from `peer`. The event loop does not hold `net`
    /// while this runs, so an answer in hand is sent at once; a forwarded
    /// query is answered from a task when the upstream replies.
    pub(crate) fn on_datagram(self: &Rc<Self>, net: &NetRef, d: &UdpDatagram, peer: PeerId) {
        let action = self.responder.borrow_mut().handle(
            d.payload(),
            Transport::Udp {
                path_max: self.path_max,
            },
        );
        let (client, local) = (d.src, d.dst);
        tracing::trace!(%client, ?action, "dns query over udp");
        let reply_to = move |net: &NetRef, bytes: Vec<u8>| {
            net.act(|core| core.stack_mut().send_udp(local, client, &bytes));
        };
        match action {
            Action::Drop => {}
            Action::Reply(bytes) => reply_to(net, bytes),
            Action::Forward(f) => {
                let Some(slot) = self.caps.dns_forwards.take(Some(peer)) else {
                    self.responder.borrow_mut().shed();
                    return;
                };
                let (this, net, query) = (self.clone(), net.clone(), d.payload().to_vec());
                tokio::task::spawn_local(async move {
                    let reply = this.forward(&query, f, false).await;
                    drop(slot);
                    if let Some(bytes) = reply {
                        reply_to(&net, bytes);
                    }
                });
            }
        }
    }

    /// A TCP connection to port 53 from `peer`: length-prefixed queries,
    /// answered in order, until the client closes or idles.
    pub(crate) fn serve_tcp(self: &Rc<Self>, mut stream: TunnelStream, peer: Option<PeerId>) {
        let Some(slot) = self.caps.dns_tcp.take(peer) else {
            self.responder.borrow_mut().shed();
            stream.abort();
            return;
        };
        let this = self.clone();
        tokio::task::spawn_local(async move {
            if let Err(e) = this.tcp_session(&mut stream).await {
                tracing::trace!(error = %e, "dns tcp connection ended");
            }
            let _ = stream.shutdown().await;
            drop(slot);
        });
    }

    async fn tcp_session(&self, stream: &mut TunnelStream) -> std::io::Result<()> {
        loop {
            let Some(query) = read_framed(stream).await? else {
                return Ok(());
            };
            let action = self.responder.borrow_mut().handle(&query, Transport::Tcp);
            tracing::trace!(?action, "dns query over tcp");
            let reply = match action {
                Action::Reply(bytes) => bytes,
                Action::Forward(f) => match self.forward(&query, f, true).await {
                    Some(bytes) => bytes,
                    None => continue,
                },
                // Not a query: this is not a DNS client.
                Action::Drop => return Ok(()),
            };
            let mut framed = Vec::with_capacity(reply.len() + 2);
            framed.extend_from_slice(&u16::try_from(reply.len()).unwrap_or(0).to_be_bytes());
            framed.extend_from_slice(&reply);
            stream.write_all(&framed).await?;
        }
    }

    /// Asks each upstream in turn; SERVFAIL when none answers. `None` only
    /// if the query cannot be answered at all (it parsed a moment ago).
    async fn forward(&self, query: &[u8], f: Forward, tcp: bool) -> Option<Vec<u8>> {
        let upstreams = self.upstreams.borrow().clone();
        for server in upstreams.iter() {
            let id = random_id();
            let sent = with_id(query, id);
            let exchange = async {
                if tcp {
                    exchange_tcp(*server, &sent).await
                } else {
                    exchange_udp(*server, &sent).await
                }
            };
            match tokio::time::timeout(UPSTREAM_TIMEOUT, exchange).await {
                Ok(Ok(reply)) => return Some(relay_reply(&reply, f.id, f.question_len, f.max)),
                Ok(Err(e)) => tracing::debug!(%server, error = %e, "dns upstream failed"),
                Err(_) => tracing::debug!(%server, "dns upstream timed out"),
            }
        }
        self.responder.borrow_mut().upstream_failed();
        servfail(query, f.max)
    }
}

fn upstreams(cfg: &ServerConfig) -> Vec<SocketAddr> {
    let resolv = match cfg.dns.forward {
        DnsForward::System => std::fs::read_to_string(RESOLV_CONF).unwrap_or_else(|e| {
            tracing::warn!(path = RESOLV_CONF, error = %e, "cannot read the host's resolvers");
            String::new()
        }),
        _ => String::new(),
    };
    upstreams_from(cfg, &resolv)
}

/// A fresh query ID from the OS's random source: with the random source
/// port, what an off-path attacker would have to guess.
fn random_id() -> u16 {
    use rand_core::RngCore;
    (rand_core::OsRng.next_u32() & 0xffff) as u16
}

/// One message with its 2-byte length prefix; `None` at a clean end.
async fn read_framed(stream: &mut TunnelStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Ok(Err(e)) => return Err(e),
        Err(_) => return Ok(None),
    }
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut msg)).await {
        Ok(r) => r.map(|_| Some(msg)),
        Err(_) => Ok(None),
    }
}

async fn exchange_udp(server: SocketAddr, sent: &[u8]) -> std::io::Result<Vec<u8>> {
    let bind: SocketAddr = match server.ip() {
        IpAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
        IpAddr::V6(_) => ([0u16; 8], 0).into(),
    };
    let sock = UdpSocket::bind(bind).await?;
    // Connected: the kernel drops datagrams from anyone but the server.
    sock.connect(server).await?;
    sock.send(sent).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await?;
        if reply_matches(sent, &buf[..n]) {
            buf.truncate(n);
            return Ok(buf);
        }
        // Someone else's (or a spoofed) reply: keep waiting.
    }
}

async fn exchange_tcp(server: SocketAddr, sent: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(server).await?;
    s.set_nodelay(true)?;
    let mut framed = Vec::with_capacity(sent.len() + 2);
    framed.extend_from_slice(&u16::try_from(sent.len()).unwrap_or(0).to_be_bytes());
    framed.extend_from_slice(sent);
    s.write_all(&framed).await?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut reply).await?;
    if reply_matches(sent, &reply) {
        Ok(reply)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "reply does not match the query",
        ))
    }
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
