//! The task that owns the NAT sockets and the clock, and runs the sans-IO
//! port mapper and STUN probe. See the module documentation of `nat`.

use std::future::poll_fn;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand_core::{OsRng, RngCore};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use wingress_config::{Endpoint, MappingProtocol, NatConfig};
use wingress_nat::mapper::CHECK_INTERVAL;
use wingress_nat::{
    EndpointSource, HttpResponse, MapperConfig, MapperEvent, MapperOutput, MappingSnapshot,
    MappingView, NatState, PortMapper, ProbeConfig, Protocol, StunProbe, StunReport,
};
use wingress_sync::lock;

use super::http;
use crate::dataplane::NetRef;
use crate::platform::node::NodeAddr;

/// Each configured peer's name and the time since its last handshake.
pub(crate) type PeerView = Box<dyn Fn() -> Vec<(String, Option<Duration>)>>;

/// What the NAT driver needs from the daemon.
pub(crate) struct NatSetup {
    pub(crate) cfg: NatConfig,
    pub(crate) node: Option<NodeAddr>,
    /// The WireGuard port (the internal port of the mapping).
    pub(crate) local_port: u16,
    /// The port to ask the router for: 41600 + the node's last octet.
    pub(crate) external_port: u16,
    pub(crate) net: NetRef,
    pub(crate) peers: PeerView,
}

/// How often the driver looks for a default gateway that was missing, and
/// refreshes which peers have not completed a handshake.
const HOUSEKEEPING: Duration = Duration::from_secs(10);
/// Between STUN keepalives while the published endpoint is a plain STUN
/// binding (NATs forget idle UDP bindings after 30 s or more).
const STUN_KEEPALIVE: Duration = Duration::from_secs(25);
/// Between attempts to resolve STUN server names that did not resolve.
const RESOLVE_RETRY: Duration = Duration::from_secs(60);

struct Mapping {
    mapper: PortMapper,
    pmp: UdpSocket,
    ssdp: UdpSocket,
}

type HttpResult = (u64, Result<HttpResponse, String>);

/// What the driver last logged as the status, to log only changes.
type Shape = (
    Option<MappingSnapshot>,
    Option<StunReport>,
    Option<(String, EndpointSource)>,
    Vec<String>,
);

pub(super) struct Driver {
    cfg: NatConfig,
    local: SocketAddrV4,
    external_port: u16,
    state: Arc<Mutex<NatState>>,
    net: NetRef,
    peers: PeerView,
    control: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
    mapping: Option<Mapping>,
    probe: Option<StunProbe>,
    http_tx: mpsc::UnboundedSender<HttpResult>,
    http_rx: mpsc::UnboundedReceiver<HttpResult>,
    resolved: Option<oneshot::Receiver<(Vec<SocketAddr>, Option<String>)>>,
    next_resolve: Option<Instant>,
    next_housekeeping: Instant,
    releasing: Option<oneshot::Sender<()>>,
    released: bool,
    logged: Option<Shape>,
}

impl Driver {
    pub(super) fn new(
        setup: NatSetup,
        state: Arc<Mutex<NatState>>,
        control: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
    ) -> Driver {
        let (http_tx, http_rx) = mpsc::unbounded_channel();
        let local = lock(&state).local;
        let now = Instant::now();
        Driver {
            next_resolve: (!setup.cfg.stun_servers.is_empty()).then_some(now),
            cfg: setup.cfg,
            local,
            external_port: setup.external_port,
            state,
            net: setup.net,
            peers: setup.peers,
            control,
            mapping: None,
            probe: None,
            http_tx,
            http_rx,
            resolved: None,
            next_housekeeping: now,
            releasing: None,
            released: false,
            logged: None,
        }
    }

    pub(super) async fn run(mut self) {
        tracing::info!(
            local = %self.local,
            external_port = self.external_port,
            stun_servers = self.cfg.stun_servers.len(),
            protocols = ?self.cfg.port_mapping.iter().map(|p| p.name()).collect::<Vec<_>>(),
            advertise = lock(&self.state).advertise.as_deref().unwrap_or("auto"),
            "NAT traversal starting"
        );
        let mut buf = vec![0u8; 2048];
        let mut sbuf = vec![0u8; 2048];
        loop {
            let now = Instant::now();
            self.housekeeping(now);
            self.pump(now);
            if self.releasing.is_some() && (self.released || self.mapping.is_none()) {
                if let Some(done) = self.releasing.take() {
                    let _ = done.send(());
                }
                return;
            }
            let deadline = self.deadline();
            let net = self.net.clone();
            let m = self.mapping.as_ref();
            tokio::select! {
                _ = tokio::time::sleep_until(deadline.into()) => {}
                r = recv(m.map(|m| &m.pmp), &mut buf) => {
                    if let (Some(n), Some(m)) = (r, &mut self.mapping) {
                        m.mapper.handle_pmp(Instant::now(), &buf[..n]);
                    }
                }
                r = recv_from(m.map(|m| &m.ssdp), &mut sbuf) => {
                    if let (Some((n, from)), Some(m)) = (r, &mut self.mapping) {
                        m.mapper.handle_ssdp(Instant::now(), from, &sbuf[..n]);
                    }
                }
                Some((id, result)) = self.http_rx.recv() => {
                    if let Some(m) = &mut self.mapping {
                        m.mapper.handle_http(Instant::now(), id, result);
                    }
                }
                (from, d) = poll_fn(|cx| net.borrow_mut().side_mut().poll_recv(cx)) => {
                    if let Some(p) = &mut self.probe {
                        if !p.handle_datagram(Instant::now(), from, &d) {
                            tracing::trace!(%from, "STUN-shaped datagram matched no request; dropped");
                        }
                    }
                }
                r = async { self.resolved.as_mut().expect("guarded").await }, if self.resolved.is_some() => {
                    self.resolved = None;
                    if let Ok((servers, error)) = r {
                        self.stun_resolved(Instant::now(), servers, error);
                    }
                }
                c = self.control.recv() => {
                    match c {
                        Some(done) => self.release(Instant::now(), done),
                        None => return,
                    }
                }
            }
            let now = Instant::now();
            if let Some(m) = &mut self.mapping {
                m.mapper.handle_timeout(now);
            }
            if let Some(p) = &mut self.probe {
                p.handle_timeout(now);
            }
        }
    }

    fn deadline(&self) -> Instant {
        let mapper = self.mapping.as_ref().and_then(|m| m.mapper.poll_timeout());
        let probe = self.probe.as_ref().and_then(StunProbe::poll_timeout);
        [
            Some(self.next_housekeeping),
            mapper,
            probe,
            self.next_resolve,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(self.next_housekeeping)
    }

    fn release(&mut self, now: Instant, done: oneshot::Sender<()>) {
        tracing::info!("releasing the port mapping");
        self.probe = None;
        self.releasing = Some(done);
        match &mut self.mapping {
            Some(m) => m.mapper.release(now),
            None => self.released = true,
        }
    }

    // === port mapping ===

    fn housekeeping(&mut self, now: Instant) {
        if now < self.next_housekeeping {
            return;
        }
        self.next_housekeeping = now + HOUSEKEEPING;
        if self.mapping.is_none() && !self.cfg.port_mapping.is_empty() && self.releasing.is_none() {
            match self.start_mapper(now) {
                Ok(m) => self.mapping = Some(m),
                Err(why) => {
                    let mut s = lock(&self.state);
                    if s.mapping != MappingView::Unavailable(why.clone()) {
                        tracing::info!(reason = %why, "port mapping unavailable; looking again every {}s", HOUSEKEEPING.as_secs());
                        s.mapping = MappingView::Unavailable(why);
                    }
                }
            }
        }
        if self.next_resolve.is_some_and(|t| now >= t) && self.resolved.is_none() {
            self.next_resolve = None;
            self.resolved = Some(resolve(self.cfg.stun_servers.clone()));
        }
        let peers = (self.peers)();
        lock(&self.state).update_peers(now, peers);
    }

    fn start_mapper(&self, now: Instant) -> Result<Mapping, String> {
        let table = std::fs::read_to_string("/proc/net/route")
            .map_err(|e| format!("cannot read /proc/net/route: {e}"))?;
        let route = wingress_nat::default_route(&table)
            .ok_or_else(|| "no default IPv4 gateway".to_string())?;
        let gw = SocketAddr::from((route.gateway, wingress_nat::natpmp::SERVER_PORT));
        let pmp = std::net::UdpSocket::bind("0.0.0.0:0")
            .and_then(|s| s.connect(gw).map(|()| s))
            .map_err(|e| format!("cannot reach the gateway {gw}: {e}"))?;
        let client = match pmp.local_addr() {
            Ok(SocketAddr::V4(a)) => *a.ip(),
            _ => return Err("no IPv4 source address toward the gateway".into()),
        };
        let ssdp = std::net::UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
        // SSDP answers come from the gateway itself: two hops is plenty.
        let _ = ssdp.set_multicast_ttl_v4(2);
        let tokio_sock = |s: std::net::UdpSocket| {
            s.set_nonblocking(true)
                .and_then(|()| UdpSocket::from_std(s))
                .map_err(|e| e.to_string())
        };
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let cfg = MapperConfig {
            protocols: self.cfg.port_mapping.iter().map(|p| protocol(*p)).collect(),
            gateway: route.gateway,
            client,
            internal_port: self.local.port(),
            external_port: self.external_port,
            lease: self.cfg.lease,
            check_interval: CHECK_INTERVAL,
        };
        tracing::info!(gateway = %route.gateway, interface = %route.interface, client = %client, "asking the gateway for a port mapping");
        Ok(Mapping {
            mapper: PortMapper::new(cfg, nonce, now),
            pmp: tokio_sock(pmp)?,
            ssdp: tokio_sock(ssdp)?,
        })
    }

    /// Sends what the state machines want sent, logs their events and
    /// publishes the new state.
    fn pump(&mut self, now: Instant) {
        if let Some(m) = &mut self.mapping {
            while let Some(out) = m.mapper.poll_output() {
                match out {
                    // Sent on the descriptor directly: tokio's try_send
                    // refuses until its reactor has seen the socket
                    // writable, which would drop the first request.
                    MapperOutput::Pmp(b) => {
                        let _ = socket2::SockRef::from(&m.pmp).send(&b);
                    }
                    MapperOutput::Ssdp { to, bytes } => {
                        let to = socket2::SockAddr::from(SocketAddr::V4(to));
                        if let Err(e) = socket2::SockRef::from(&m.ssdp).send_to(&bytes, &to) {
                            tracing::debug!(error = %e, "SSDP send failed");
                        }
                    }
                    MapperOutput::Http { id, url, soap } => {
                        let tx = self.http_tx.clone();
                        tokio::task::spawn_local(async move {
                            let r = http::fetch(&url, soap.as_ref())
                                .await
                                .map_err(|e| format!("{e:#}"));
                            let _ = tx.send((id, r));
                        });
                    }
                }
            }
            while let Some(e) = m.mapper.poll_event() {
                if matches!(e, MapperEvent::Released { .. }) {
                    self.released = true;
                }
                log_mapper_event(&e);
            }
            lock(&self.state).mapping = MappingView::Active(m.mapper.snapshot());
        }
        if let Some(p) = &mut self.probe {
            let mut sent = false;
            while let Some((to, bytes)) = p.poll_transmit() {
                self.net.borrow_mut().side_mut().send(to, bytes);
                sent = true;
            }
            if sent {
                self.net.borrow_mut().kick();
            }
            while let Some(r) = p.poll_report() {
                let mut s = lock(&self.state);
                let same = s.stun.as_ref().is_some_and(|old| {
                    (old.public, old.mapping, old.filtering) == (r.public, r.mapping, r.filtering)
                });
                log_report(&r, self.local, same);
                s.stun_error = r
                    .public
                    .is_none()
                    .then(|| "no STUN server answered".to_string());
                s.stun = Some(r);
            }
        }
        self.publish(now);
    }

    fn publish(&mut self, now: Instant) {
        let mut s = lock(&self.state);
        if let Some((address, source)) = s.refresh(now) {
            tracing::info!(%address, ?source, "public endpoint (use it as the Endpoint in client configs)");
        }
        let source = s.public_endpoint(now).map(|e| e.source);
        if let Some(p) = &mut self.probe {
            let want = (source == Some(EndpointSource::Stun)).then_some(STUN_KEEPALIVE);
            p.set_keepalive(want, now);
        }
        let mapping = match &s.mapping {
            MappingView::Active(m) => Some(m.clone()),
            _ => None,
        };
        let shape = (
            mapping,
            s.stun.clone(),
            s.choose_endpoint(),
            s.peers_waiting.clone(),
        );
        if self.logged.as_ref() != Some(&shape) {
            let status = s.status(now);
            drop(s);
            match serde_json::to_string(&status) {
                Ok(json) => tracing::info!(status = %json, "nat status"),
                Err(e) => tracing::debug!(error = %e, "cannot serialize the NAT status"),
            }
            self.logged = Some(shape);
        }
    }

    // === STUN ===

    fn stun_resolved(&mut self, now: Instant, servers: Vec<SocketAddr>, error: Option<String>) {
        if let Some(e) = &error {
            tracing::info!(error = %e, "some STUN servers did not resolve");
        }
        if servers.is_empty() {
            lock(&self.state).stun_error =
                Some(error.unwrap_or_else(|| "no STUN server has an IPv4 address".into()));
            self.next_resolve = Some(now + RESOLVE_RETRY);
            return;
        }
        lock(&self.state).stun_servers = Some(servers.clone());
        let ids = Box::new(|| {
            let mut id = [0u8; 12];
            OsRng.fill_bytes(&mut id);
            id
        });
        let cfg = ProbeConfig {
            servers,
            local: self.local,
        };
        self.probe = Some(StunProbe::new(cfg, ids, now));
    }
}

/// Only IPv4: the port formula, the mappings and the published endpoint are
/// IPv4 (the WireGuard socket still accepts peers over IPv6).
fn resolve(servers: Vec<Endpoint>) -> oneshot::Receiver<(Vec<SocketAddr>, Option<String>)> {
    let (tx, rx) = oneshot::channel();
    tokio::task::spawn_local(async move {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for s in servers {
            match s {
                Endpoint::Addr(a) if a.is_ipv4() => out.push(a),
                Endpoint::Addr(a) => errors.push(format!("{a} is IPv6")),
                Endpoint::Host { host, port } => {
                    match tokio::net::lookup_host((host.as_str(), port)).await {
                        Ok(addrs) => match addrs.into_iter().find(SocketAddr::is_ipv4) {
                            Some(a) => out.push(a),
                            None => errors.push(format!("{host} has no IPv4 address")),
                        },
                        Err(e) => errors.push(format!("{host}: {e}")),
                    }
                }
            }
        }
        let error = (!errors.is_empty()).then(|| errors.join("; "));
        let _ = tx.send((out, error));
    });
    rx
}

/// Receives on `sock`, or never when there is none.
async fn recv(sock: Option<&UdpSocket>, buf: &mut [u8]) -> Option<usize> {
    match sock {
        Some(s) => s.recv(buf).await.ok(),
        None => std::future::pending().await,
    }
}

/// Receives on `sock` with the sender's address (IPv4 only: the SSDP
/// socket is), or never when there is none.
async fn recv_from(sock: Option<&UdpSocket>, buf: &mut [u8]) -> Option<(usize, SocketAddrV4)> {
    match sock {
        Some(s) => match s.recv_from(buf).await.ok()? {
            (n, SocketAddr::V4(from)) => Some((n, from)),
            (_, SocketAddr::V6(_)) => None,
        },
        None => std::future::pending().await,
    }
}

fn protocol(p: MappingProtocol) -> Protocol {
    match p {
        MappingProtocol::Pcp => Protocol::Pcp,
        MappingProtocol::NatPmp => Protocol::NatPmp,
        MappingProtocol::Upnp => Protocol::Upnp,
    }
}

fn log_mapper_event(e: &MapperEvent) {
    match e {
        MapperEvent::Mapped {
            protocol,
            external,
            requested_port,
            lifetime,
        } => {
            if external.port() != *requested_port {
                tracing::info!(%protocol, %external, requested_port, lease_secs = lifetime.as_secs(),
                    "port mapping created, but the router refused the requested port and gave another");
            } else {
                tracing::info!(%protocol, %external, lease_secs = lifetime.as_secs(), "port mapping created");
            }
        }
        MapperEvent::Renewed {
            protocol,
            external,
            lifetime,
        } => {
            tracing::info!(%protocol, %external, lease_secs = lifetime.as_secs(), "port mapping renewed")
        }
        MapperEvent::Lost { protocol, reason } => {
            tracing::info!(%protocol, %reason, "port mapping lost; mapping again")
        }
        MapperEvent::ProtocolFailed { protocol, error } => {
            tracing::info!(%protocol, %error, "port mapping protocol did not work")
        }
        MapperEvent::Failed { error, retry_in } => {
            tracing::warn!(%error, retry_in_secs = retry_in.as_secs(),
            "no port mapping protocol worked; the data plane keeps serving")
        }
        MapperEvent::Released { protocol, result } => match result {
            Ok(()) => {
                tracing::info!(protocol = ?protocol.map(|p| p.to_string()), "port mapping deleted")
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not delete the port mapping; it expires with its lease")
            }
        },
    }
}

/// At INFO when something changed, else at DEBUG (a round runs every five
/// minutes).
fn log_report(r: &StunReport, local: SocketAddrV4, same: bool) {
    let unspecified = SocketAddr::from((IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
    macro_rules! report {
        ($level:ident) => {
            tracing::$level!(
        public = %r.public.unwrap_or(unspecified),
        mapping = ?r.mapping,
        filtering = ?r.filtering,
        port_preserved = ?r.port_preserved(local),
        static_forward = r.static_forward(local),
        answered = r.observations.iter().filter(|o| o.mapped.is_some()).count(),
        servers = r.observations.len(),
        "STUN"
            )
        };
    }
    if same {
        report!(debug);
    } else {
        report!(info);
    }
}
