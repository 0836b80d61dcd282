//! Counters the device keeps for operators: why datagrams were dropped, and
//! per-peer traffic.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

/// Why a datagram or packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Not a WireGuard message, or truncated.
    Malformed,
    /// A handshake from a key that is not in the peer table.
    UnknownKey,
    /// A message for a session or peer index we do not have.
    UnknownIndex,
    /// A handshake whose MAC did not verify.
    BadMac,
    /// Under load, a handshake without a valid cookie (answered with one).
    CookieRequired,
    /// Authentication failed on a data message.
    DecryptFailed,
    /// A counter seen before, or too old for the replay window.
    Replay,
    /// A decrypted packet whose source address is outside the sending
    /// peer's allowed IPs.
    SourceNotAllowed,
    /// An outgoing packet whose destination no peer's allowed IPs cover.
    NoRoute,
    /// An outgoing packet for a peer whose address we do not know yet.
    NoEndpoint,
    /// A handshake message or cookie reply that failed authentication or
    /// matched no handshake of ours (forged responses, for one).
    HandshakeRejected,
    /// Under load, a handshake without a valid cookie whose cookie reply
    /// was not sent: its source's or the device's reply budget was spent.
    CookieReplyLimited,
    /// Under load, a handshake with a valid cookie from a source address
    /// over its handshake budget.
    SourceRateLimited,
    /// The device-wide budget of handshakes that reach X25519 was spent.
    HandshakeBusy,
    /// A datagram longer than any WireGuard message at the tunnel MTU.
    Oversized,
}

impl DropReason {
    pub const ALL: [DropReason; 15] = [
        DropReason::Malformed,
        DropReason::UnknownKey,
        DropReason::UnknownIndex,
        DropReason::BadMac,
        DropReason::CookieRequired,
        DropReason::DecryptFailed,
        DropReason::Replay,
        DropReason::SourceNotAllowed,
        DropReason::NoRoute,
        DropReason::NoEndpoint,
        DropReason::HandshakeRejected,
        DropReason::CookieReplyLimited,
        DropReason::SourceRateLimited,
        DropReason::HandshakeBusy,
        DropReason::Oversized,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::UnknownKey => "unknown_key",
            DropReason::UnknownIndex => "unknown_index",
            DropReason::BadMac => "bad_mac",
            DropReason::CookieRequired => "cookie_required",
            DropReason::DecryptFailed => "decrypt_failed",
            DropReason::Replay => "replay",
            DropReason::SourceNotAllowed => "source_not_allowed",
            DropReason::NoRoute => "no_route",
            DropReason::NoEndpoint => "no_endpoint",
            DropReason::HandshakeRejected => "handshake_rejected",
            DropReason::CookieReplyLimited => "cookie_reply_limited",
            DropReason::SourceRateLimited => "source_rate_limited",
            DropReason::HandshakeBusy => "handshake_busy",
            DropReason::Oversized => "oversized",
        }
    }
}

/// Drop counters by reason.
#[derive(Debug, Clone, Default)]
pub struct DropStats {
    counts: [u64; DropReason::ALL.len()],
}

impl DropStats {
    pub fn count(&mut self, reason: DropReason) {
        self.counts[reason as usize] += 1;
    }

    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts[reason as usize]
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().map(|r| (*r, self.get(*r)))
    }
}

/// Per-peer traffic counters (bytes count inner IP packets).
#[derive(Debug, Clone, Copy, Default)]
pub struct PeerStats {
    pub rx_datagrams: u64,
    pub rx_bytes: u64,
    pub tx_datagrams: u64,
    pub tx_bytes: u64,
    /// Time since the last completed handshake, if any.
    pub since_handshake: Option<Duration>,
}

/// What `wingress status` shows of one peer, as the device knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerStatus {
    /// Standard base64.
    pub public_key: String,
    /// Where the peer was last heard from (or the configured endpoint).
    pub endpoint: Option<SocketAddr>,
    pub allowed_ips: Vec<String>,
    pub persistent_keepalive: Option<u16>,
    /// Seconds since the last completed handshake; `None`: never.
    pub latest_handshake_secs: Option<u64>,
    /// Bytes of decrypted IP packets received from the peer.
    pub rx_bytes: u64,
    /// Bytes of IP packets encrypted for the peer.
    pub tx_bytes: u64,
    pub rx_datagrams: u64,
    pub tx_datagrams: u64,
}
