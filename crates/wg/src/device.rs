//! The WireGuard device: our static key, the peer table, cryptokey routing
//! and one boringtun `Tunn` per peer. Sans-IO: datagrams and IP packets in,
//! bytes to send out; the caller owns the UDP socket and the clock.
//!
//! Call order, per event-loop turn:
//! 1. for every received datagram, [`Device::handle_datagram`]; on
//!    [`Incoming::Reply`] send the bytes back to the datagram's source, then
//!    drain [`Device::poll_queued`] for that peer (packets that waited for the
//!    handshake);
//! 2. for every IP packet the netstack wants to send, [`Device::encapsulate`];
//! 3. every [`TIMER_TICK`], [`Device::poll_timers`] (keepalives, rekeys,
//!    handshake retries, forgetting idle handshake sources).
//!
//! What authenticates (WireGuard's roaming rule): a peer's endpoint moves,
//! and its receive counters grow, only after a data message that decrypts
//! (keepalives included) or a handshake that completes, an initiation from
//! the peer that boringtun accepts or a response completing ours. Results
//! are classified by the message type parsed before boringtun sees it, and
//! by the type of what boringtun writes back. Cookie replies (ours or
//! received), refused handshakes, replays and forgeries change no peer
//! state. Handshake messages first pass the device's one
//! [`HandshakeGate`] (mac1, cookies under load, per-source and device-wide
//! budgets), before any X25519 work.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use boringtun::noise::errors::WireGuardError;
use boringtun::noise::handshake::parse_handshake_anon;
use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Packet, Tunn, TunnResult};

use crate::allowed_ips::{AllowedIps, Prefix};
use crate::gate::{HandshakeGate, HandshakeLimits, Verdict};
use crate::keys::{PresharedKey, PrivateKey, PublicKey};
use crate::stats::{DropReason, DropStats, PeerStats, PeerStatus};

/// How often [`Device::poll_timers`] wants to run. boringtun keeps its timers
/// at one-second resolution internally; a quarter second keeps handshake
/// retries and keepalives prompt without measurable cost.
pub const TIMER_TICK: Duration = Duration::from_millis(250);

/// Space a caller must give [`Device::encapsulate`] beyond the IP packet;
/// also what a data message adds to the packet inside (16 bytes of header,
/// 16 of tag).
pub const OVERHEAD: usize = 32;

/// The tunnel MTU until [`Device::set_mtu`] (wg-quick's default).
const DEFAULT_MTU: u16 = 1420;

/// The smallest output buffer boringtun accepts (a handshake initiation).
pub const MIN_OUT: usize = 148;

/// A peer's position in the table, stable for the life of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u32);

/// What the device needs to know about a peer.
#[derive(Debug, Clone)]
pub struct PeerSpec {
    pub public_key: PublicKey,
    pub preshared_key: Option<PresharedKey>,
    pub allowed_ips: Vec<Prefix>,
    pub endpoint: Option<SocketAddr>,
    pub persistent_keepalive: Option<u16>,
}

/// Bytes to send to a UDP address.
#[derive(Debug)]
pub struct Transmit<'a> {
    pub to: SocketAddr,
    pub bytes: &'a [u8],
}

/// The outcome of one received datagram.
#[derive(Debug)]
pub enum Incoming<'a> {
    /// A decrypted IP packet whose source address belongs to `peer`.
    Packet { peer: PeerId, packet: &'a mut [u8] },
    /// Send `bytes` back to the datagram's source: a handshake response, a
    /// keepalive confirming a session, or a cookie reply under load. When
    /// `peer` is known, drain [`Device::poll_queued`] for it afterwards.
    Reply {
        peer: Option<PeerId>,
        bytes: &'a [u8],
    },
    /// An authenticated keepalive from `peer`.
    Handled { peer: PeerId },
    /// A valid cookie reply for our handshake with `peer`: boringtun keeps
    /// the cookie for its next initiation. Authenticates no one, so nothing
    /// about the peer changed and nothing is to be sent.
    CookieStored { peer: PeerId },
    /// Dropped and counted.
    Dropped(DropReason),
}

/// The outcome of sending one IP packet into the tunnel.
#[derive(Debug)]
pub enum Outgoing<'a> {
    Send(Transmit<'a>),
    /// Held inside the peer until its handshake completes.
    Queued,
    Dropped(DropReason),
}

struct Peer {
    spec: PeerSpec,
    tunn: Tunn,
    endpoint: Option<SocketAddr>,
    stats: PeerStats,
}

impl Peer {
    /// A datagram from `from` authenticated as this peer: the endpoint
    /// follows it (roaming) and it counts as received.
    fn authenticated(&mut self, from: SocketAddr) {
        self.endpoint = Some(from);
        self.stats.rx_datagrams += 1;
    }
}

/// The device. See the module documentation for the call order.
pub struct Device {
    private_key: PrivateKey,
    public_key: PublicKey,
    peers: Vec<Option<Peer>>,
    by_key: HashMap<PublicKey, PeerId>,
    routes: AllowedIps<PeerId>,
    gate: HandshakeGate,
    /// Shared by every `Tunn`. Its limit is never reached, so it only
    /// re-checks mac1 and never answers with a cookie: admission and
    /// cookies are the gate's alone, with one secret for the device.
    tunn_limiter: Arc<RateLimiter>,
    /// The longest datagram that can be a WireGuard message at our MTU.
    max_datagram: usize,
    drops: DropStats,
}

/// What a datagram is, from its type field, before boringtun sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Initiation,
    Response,
    CookieReply,
    Data,
}

impl Device {
    pub fn new(private_key: PrivateKey) -> Self {
        let public_key = private_key.public_key();
        let tunn_limiter = Arc::new(RateLimiter::new(&public_key.to_dalek(), u64::MAX));
        Self {
            private_key,
            public_key,
            peers: Vec::new(),
            by_key: HashMap::new(),
            routes: AllowedIps::default(),
            gate: HandshakeGate::new(&public_key, HandshakeLimits::default()),
            tunn_limiter,
            max_datagram: max_datagram(DEFAULT_MTU),
            drops: DropStats::default(),
        }
    }

    /// Datagrams longer than a data message carrying an `mtu`-byte packet
    /// are refused ([`DropReason::Oversized`]) before any work.
    pub fn set_mtu(&mut self, mtu: u16) {
        self.max_datagram = max_datagram(mtu);
    }

    /// The longest datagram [`Device::handle_datagram`] accepts; callers
    /// check this before taking a buffer ([`Device::refuse_oversized`]).
    pub fn max_datagram(&self) -> usize {
        self.max_datagram
    }

    /// Counts a datagram the caller refused for being longer than
    /// [`Device::max_datagram`] without handing it over.
    pub fn refuse_oversized(&mut self) {
        self.drop(DropReason::Oversized);
    }

    /// Replaces the handshake budgets (the defaults suit a home node).
    pub fn set_handshake_limits(&mut self, limits: HandshakeLimits) {
        self.gate = HandshakeGate::new(&self.public_key, limits);
    }

    pub fn public_key(&self) -> PublicKey {
        self.public_key
    }

    /// Adds a peer; a peer with the same public key is replaced (its session
    /// ends, and it gets a new id).
    pub fn add_peer(&mut self, spec: PeerSpec) -> PeerId {
        if let Some(id) = self.by_key.get(&spec.public_key).copied() {
            self.remove_peer(id);
        }
        let id = PeerId(u32::try_from(self.peers.len()).unwrap_or(u32::MAX));
        let tunn = Tunn::new(
            self.private_key.secret(),
            spec.public_key.to_dalek(),
            spec.preshared_key.map(|k| k.0),
            spec.persistent_keepalive,
            id.0,
            Some(self.tunn_limiter.clone()),
        );
        for p in &spec.allowed_ips {
            self.routes.insert(*p, id);
        }
        self.by_key.insert(spec.public_key, id);
        let endpoint = spec.endpoint;
        self.peers.push(Some(Peer {
            spec,
            tunn,
            endpoint,
            stats: PeerStats::default(),
        }));
        id
    }

    pub fn remove_peer(&mut self, id: PeerId) {
        if let Some(slot) = self.peers.get_mut(id.0 as usize) {
            if let Some(peer) = slot.take() {
                self.by_key.remove(&peer.spec.public_key);
                self.routes.remove_value(id);
            }
        }
    }

    /// Replaces a peer's allowed IPs. Its session and endpoint stay, so a
    /// reload that only changes the addresses does not interrupt the peer.
    pub fn set_allowed_ips(&mut self, id: PeerId, allowed_ips: Vec<Prefix>) {
        let Some(peer) = self.peers.get_mut(id.0 as usize).and_then(Option::as_mut) else {
            return;
        };
        self.routes.remove_value(id);
        for p in &allowed_ips {
            self.routes.insert(*p, id);
        }
        peer.spec.allowed_ips = allowed_ips;
    }

    pub fn peer_ids(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.peers
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_some())
            .map(|(i, _)| PeerId(i as u32))
    }

    /// The peer whose allowed IPs hold `addr`.
    pub fn peer_for_addr(&self, addr: IpAddr) -> Option<PeerId> {
        self.routes.get(addr)
    }

    pub fn peer_key(&self, id: PeerId) -> Option<PublicKey> {
        self.peer(id).map(|p| p.spec.public_key)
    }

    pub fn peer_endpoint(&self, id: PeerId) -> Option<SocketAddr> {
        self.peer(id).and_then(|p| p.endpoint)
    }

    pub fn set_peer_endpoint(&mut self, id: PeerId, endpoint: SocketAddr) {
        if let Some(p) = self.peer_mut(id) {
            p.endpoint = Some(endpoint);
        }
    }

    /// Counters and the time since the last handshake.
    pub fn peer_stats(&self, id: PeerId) -> Option<PeerStats> {
        let p = self.peer(id)?;
        let (since_handshake, _, _, _, _) = p.tunn.stats();
        Some(PeerStats {
            since_handshake,
            ..p.stats
        })
    }

    /// The peer as `wingress status` shows it.
    pub fn peer_status(&self, id: PeerId) -> Option<PeerStatus> {
        let p = self.peer(id)?;
        let stats = self.peer_stats(id)?;
        Some(PeerStatus {
            public_key: p.spec.public_key.to_base64(),
            endpoint: p.endpoint,
            allowed_ips: p.spec.allowed_ips.iter().map(ToString::to_string).collect(),
            persistent_keepalive: p.spec.persistent_keepalive,
            latest_handshake_secs: stats.since_handshake.map(|d| d.as_secs()),
            rx_bytes: stats.rx_bytes,
            tx_bytes: stats.tx_bytes,
            rx_datagrams: stats.rx_datagrams,
            tx_datagrams: stats.tx_datagrams,
        })
    }

    pub fn drops(&self) -> &DropStats {
        &self.drops
    }

    fn peer(&self, id: PeerId) -> Option<&Peer> {
        self.peers.get(id.0 as usize).and_then(Option::as_ref)
    }

    fn peer_mut(&mut self, id: PeerId) -> Option<&mut Peer> {
        self.peers.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    fn drop(&mut self, reason: DropReason) -> Incoming<'static> {
        self.drops.count(reason);
        tracing::trace!(?reason, "datagram dropped");
        Incoming::Dropped(reason)
    }

    /// Handles one UDP datagram from `from`. `out` must hold at least
    /// `datagram.len()` and [`MIN_OUT`] bytes.
    pub fn handle_datagram<'o>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
        out: &'o mut [u8],
    ) -> Incoming<'o> {
        if datagram.len() > self.max_datagram {
            return self.drop(DropReason::Oversized);
        }
        let (id, kind) = match Tunn::parse_incoming_packet(datagram) {
            Err(_) => return self.drop(DropReason::Malformed),
            Ok(Packet::HandshakeInit(init)) => {
                let verdict = self.admit_handshake(now, from, datagram, out);
                if verdict != Verdict::Pass {
                    return refused_handshake(verdict, out);
                }
                // The gate allowed this Diffie-Hellman: find out who the
                // initiation claims to be.
                let secret = self.private_key.secret();
                let public = self.public_key.to_dalek();
                let key = match parse_handshake_anon(&secret, &public, &init) {
                    Ok(half) => PublicKey::from_bytes(half.peer_static_public),
                    Err(_) => return self.drop(DropReason::UnknownKey),
                };
                match self.by_key.get(&key) {
                    Some(id) => (*id, Kind::Initiation),
                    None => return self.drop(DropReason::UnknownKey),
                }
            }
            Ok(Packet::HandshakeResponse(p)) => {
                let id = PeerId(p.receiver_idx >> 8);
                let verdict = self.admit_handshake(now, from, datagram, out);
                if verdict != Verdict::Pass {
                    return refused_handshake(verdict, out);
                }
                (id, Kind::Response)
            }
            Ok(Packet::PacketCookieReply(p)) => (PeerId(p.receiver_idx >> 8), Kind::CookieReply),
            Ok(Packet::PacketData(p)) => (PeerId(p.receiver_idx >> 8), Kind::Data),
        };
        let routes = &self.routes;
        let Some(peer) = self.peers.get_mut(id.0 as usize).and_then(Option::as_mut) else {
            return self.drop(DropReason::UnknownIndex);
        };
        let (packet, src) = match (kind, peer.tunn.decapsulate(Some(from.ip()), datagram, out)) {
            (Kind::Data, TunnResult::WriteToTunnelV4(packet, src)) => (packet, IpAddr::V4(src)),
            (Kind::Data, TunnResult::WriteToTunnelV6(packet, src)) => (packet, IpAddr::V6(src)),
            (Kind::Data, TunnResult::Done) => {
                peer.authenticated(from);
                return Incoming::Handled { peer: id };
            }
            // boringtun answers an initiation it accepted with a response
            // (type 2), and a response completing our handshake with a
            // keepalive (type 4). Anything else, a cookie reply above all,
            // authenticates no one and is not sent.
            (Kind::Initiation, TunnResult::WriteToNetwork(bytes)) if bytes.first() == Some(&2) => {
                peer.authenticated(from);
                return Incoming::Reply {
                    peer: Some(id),
                    bytes,
                };
            }
            (Kind::Response, TunnResult::WriteToNetwork(bytes)) if bytes.first() == Some(&4) => {
                peer.authenticated(from);
                return Incoming::Reply {
                    peer: Some(id),
                    bytes,
                };
            }
            (Kind::CookieReply, TunnResult::Done) => return Incoming::CookieStored { peer: id },
            (kind, TunnResult::Err(e)) => return self.drop(classify(kind, &e)),
            _ => return self.drop(DropReason::HandshakeRejected),
        };
        // The datagram authenticated, so `from` is where the peer is now
        // (roaming), even if the inner packet is then refused.
        peer.authenticated(from);
        if routes.get(src) != Some(id) {
            return self.drop(DropReason::SourceNotAllowed);
        }
        peer.stats.rx_bytes += packet.len() as u64;
        Incoming::Packet { peer: id, packet }
    }

    /// Runs a handshake message through the gate and counts a refusal or
    /// a cookie reply (written into `out`).
    fn admit_handshake(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
        out: &mut [u8],
    ) -> Verdict {
        let verdict = self.gate.admit(now, from, datagram, out);
        match verdict {
            Verdict::Pass => {}
            Verdict::CookieReply(_) => {
                self.drops.count(DropReason::CookieRequired);
                tracing::trace!(%from, "under load: cookie reply");
            }
            Verdict::Refuse(reason) => {
                self.drops.count(reason);
                tracing::trace!(?reason, "handshake refused");
            }
        }
        verdict
    }

    /// Packets a peer queued while its handshake was in flight, now ready to
    /// go. Call until it returns `None` after any [`Incoming::Reply`] or
    /// [`Incoming::Handled`] for that peer.
    #[must_use]
    pub fn poll_queued<'o>(&mut self, id: PeerId, out: &'o mut [u8]) -> Option<Transmit<'o>> {
        let peer = self.peer_mut(id)?;
        let to = peer.endpoint?;
        match peer.tunn.decapsulate(None, &[], out) {
            TunnResult::WriteToNetwork(bytes) => {
                peer.stats.tx_datagrams += 1;
                Some(Transmit { to, bytes })
            }
            _ => None,
        }
    }

    /// Encrypts one IP packet for the peer that owns its destination.
    /// `out` must hold `packet.len() + OVERHEAD` and at least [`MIN_OUT`] bytes.
    pub fn encapsulate<'o>(&mut self, packet: &[u8], out: &'o mut [u8]) -> Outgoing<'o> {
        let Some(dst) = Tunn::dst_address(packet) else {
            self.drops.count(DropReason::Malformed);
            return Outgoing::Dropped(DropReason::Malformed);
        };
        let Some(id) = self.routes.lookup(dst) else {
            self.drops.count(DropReason::NoRoute);
            return Outgoing::Dropped(DropReason::NoRoute);
        };
        let Some(peer) = self.peers.get_mut(id.0 as usize).and_then(Option::as_mut) else {
            self.drops.count(DropReason::NoRoute);
            return Outgoing::Dropped(DropReason::NoRoute);
        };
        let Some(to) = peer.endpoint else {
            self.drops.count(DropReason::NoEndpoint);
            return Outgoing::Dropped(DropReason::NoEndpoint);
        };
        match peer.tunn.encapsulate(packet, out) {
            TunnResult::WriteToNetwork(bytes) => {
                peer.stats.tx_datagrams += 1;
                peer.stats.tx_bytes += packet.len() as u64;
                Outgoing::Send(Transmit { to, bytes })
            }
            _ => Outgoing::Queued,
        }
    }

    /// Runs WireGuard's timers for every peer; `send` receives each datagram
    /// they produce (handshake initiations, keepalives).
    pub fn poll_timers(
        &mut self,
        now: Instant,
        out: &mut [u8],
        mut send: impl FnMut(Transmit<'_>),
    ) {
        self.gate.sweep(now);
        for peer in self.peers.iter_mut().flatten() {
            match peer.tunn.update_timers(out) {
                TunnResult::WriteToNetwork(bytes) => {
                    if let Some(to) = peer.endpoint {
                        peer.stats.tx_datagrams += 1;
                        send(Transmit { to, bytes });
                    }
                }
                TunnResult::Err(WireGuardError::ConnectionExpired) => {
                    tracing::trace!(peer = %peer.spec.public_key, "session expired");
                }
                _ => {}
            }
        }
    }

    /// Starts a handshake with a peer now, rather than on its first packet.
    pub fn initiate<'o>(&mut self, id: PeerId, out: &'o mut [u8]) -> Option<Transmit<'o>> {
        let peer = self.peer_mut(id)?;
        let to = peer.endpoint?;
        match peer.tunn.format_handshake_initiation(out, false) {
            TunnResult::WriteToNetwork(bytes) => Some(Transmit { to, bytes }),
            _ => None,
        }
    }
}

/// What the caller gets for a handshake message the gate did not pass.
fn refused_handshake(verdict: Verdict, out: &[u8]) -> Incoming<'_> {
    match verdict {
        Verdict::CookieReply(n) => Incoming::Reply {
            peer: None,
            bytes: out.get(..n).unwrap_or_default(),
        },
        Verdict::Refuse(reason) => Incoming::Dropped(reason),
        // Not called for a pass; the safe answer is a drop.
        Verdict::Pass => Incoming::Dropped(DropReason::HandshakeRejected),
    }
}

/// Why boringtun refused a message of `kind`.
fn classify(kind: Kind, e: &WireGuardError) -> DropReason {
    match (kind, e) {
        (_, WireGuardError::InvalidMac | WireGuardError::UnderLoad) => DropReason::BadMac,
        (Kind::Data, WireGuardError::InvalidAeadTag) => DropReason::DecryptFailed,
        (Kind::Data, WireGuardError::DuplicateCounter | WireGuardError::InvalidCounter) => {
            DropReason::Replay
        }
        (Kind::Data, WireGuardError::NoCurrentSession | WireGuardError::WrongIndex) => {
            DropReason::UnknownIndex
        }
        (Kind::Data, _) => DropReason::Malformed,
        // An initiation no newer than the peer's last one.
        (Kind::Initiation, WireGuardError::WrongTai64nTimestamp) => DropReason::Replay,
        // Failed authentication, or no handshake of ours to match.
        (Kind::Initiation | Kind::Response | Kind::CookieReply, _) => DropReason::HandshakeRejected,
    }
}

/// A data message carries at most an MTU-sized packet (padding stops at
/// the MTU) plus [`OVERHEAD`]; no handshake message is longer than that.
fn max_datagram(mtu: u16) -> usize {
    (usize::from(mtu) + OVERHEAD).max(MIN_OUT)
}

#[cfg(test)]
#[path = "device_tests.rs"]
mod tests;
