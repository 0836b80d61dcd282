//! WireGuard's cookie mechanism, the responder's side (WireGuard paper
//! §5.4.4 and §5.4.7): mac1 on every handshake message, mac2 once the device
//! is under load, and the cookie replies that tell a sender how to make a
//! valid mac2. Sans-IO: the cookie secret rotates on the caller's `now`.
//!
//! mac1 proves only that the sender knows our public key, which attackers
//! do; mac2 proves that the sender receives datagrams at its source address
//! and port. Neither authenticates anyone, so nothing here changes peer
//! state: the device uses it to decide which handshakes may cost a
//! Diffie-Hellman.
//!
//! Primitives from crates: BLAKE2s and its keyed MAC (`blake2`), whose
//! `verify_slice` compares in constant time, and XChaCha20-Poly1305
//! (`chacha20poly1305`), the versions boringtun uses.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use blake2::digest::consts::U16;
use blake2::digest::{FixedOutput, KeyInit, Mac, Update};
use blake2::{Blake2s256, Blake2sMac, Digest};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};

use crate::keys::PublicKey;

/// The size of a cookie reply message.
pub const COOKIE_REPLY_LEN: usize = 64;

/// How long one cookie secret makes cookies (the paper's two minutes).
pub const COOKIE_SECRET_LIFETIME: Duration = Duration::from_secs(120);

/// How long after the secret changes a cookie made with the one before
/// still verifies. Without it, a cookie handed out just before the change
/// is worthless at the sender's retry five seconds later: the retry gets
/// another cookie reply, and the handshake takes a third attempt (past
/// 10 s). Two retry intervals and their jitter; the cookie stays bound to
/// the sender's address and port.
pub const COOKIE_SECRET_GRACE: Duration = Duration::from_secs(15);

const LABEL_MAC1: &[u8] = b"mac1----";
const LABEL_COOKIE: &[u8] = b"cookie--";

/// mac1 and mac2 take the last 32 bytes of a handshake message.
const MACS_LEN: usize = 32;

/// `HASH(label || public key)`.
fn labelled_hash(label: &[u8], public: &PublicKey) -> [u8; 32] {
    let mut h = Blake2s256::new();
    Digest::update(&mut h, label);
    Digest::update(&mut h, public.as_bytes());
    h.finalize().into()
}

/// The paper's `MAC(key, ...)`: keyed BLAKE2s, 16 bytes out. `None` only
/// for a key longer than 32 bytes, which no caller passes (keys here are
/// 16 or 32 bytes); callers treat it as "does not verify".
fn keyed_mac(key: &[u8], parts: &[&[u8]]) -> Option<Blake2sMac<U16>> {
    let mut m = <Blake2sMac<U16> as KeyInit>::new_from_slice(key).ok()?;
    for p in parts {
        Update::update(&mut m, p);
    }
    Some(m)
}

fn verifies(mac: Option<Blake2sMac<U16>>, tag: &[u8]) -> bool {
    mac.is_some_and(|m| m.verify_slice(tag).is_ok())
}

// === impl CookieChecker ===

/// mac1/mac2 verification and cookie replies for one device key.
pub struct CookieChecker {
    /// MAC keyed with `HASH(LABEL_MAC1 || our public key)`, the key block
    /// already absorbed: every datagram of a flood clones it instead of
    /// keying BLAKE2s again (a third of mac1's cost).
    mac1: Option<Blake2sMac<U16>>,
    cipher: XChaCha20Poly1305,
    /// The changing secret `Rm`, and when it was made (`None`: not yet).
    secret: [u8; 32],
    secret_made: Option<Instant>,
    /// The secret before, and when it was made: its cookies verify for
    /// [`COOKIE_SECRET_GRACE`] past its lifetime.
    previous: Option<([u8; 32], Instant)>,
    /// XChaCha20 nonces must never repeat under one key: a random prefix
    /// chosen once plus a counter.
    nonce_prefix: [u8; 16],
    nonce_counter: u64,
}

impl CookieChecker {
    pub fn new(public: &PublicKey) -> Self {
        let cookie_key = labelled_hash(LABEL_COOKIE, public);
        let mut nonce_prefix = [0u8; 16];
        OsRng.fill_bytes(&mut nonce_prefix);
        Self {
            mac1: keyed_mac(&labelled_hash(LABEL_MAC1, public), &[]),
            cipher: XChaCha20Poly1305::new((&cookie_key).into()),
            secret: [0u8; 32],
            secret_made: None,
            previous: None,
            nonce_prefix,
            nonce_counter: 0,
        }
    }

    /// Whether `msg` (a whole handshake initiation or response) carries a
    /// valid mac1: the sender knows our public key.
    pub fn mac1_ok(&self, msg: &[u8]) -> bool {
        let Some(split) = msg.len().checked_sub(MACS_LEN) else {
            return false;
        };
        let (body, macs) = msg.split_at(split);
        let mac = self.mac1.clone().map(|mut m| {
            Update::update(&mut m, body);
            m
        });
        verifies(mac, &macs[..16])
    }

    /// Whether `msg` carries a valid mac2 for a sender at `from`: it holds
    /// the cookie we would give that address and port now, or the one we
    /// gave it with the secret before, within [`COOKIE_SECRET_GRACE`].
    pub fn mac2_ok(&mut self, now: Instant, from: SocketAddr, msg: &[u8]) -> bool {
        let Some(split) = msg.len().checked_sub(16) else {
            return false;
        };
        let Some(cookie) = self.cookie(now, from) else {
            return false;
        };
        let (body, mac2) = msg.split_at(split);
        if verifies(keyed_mac(&cookie, &[body]), mac2) {
            return true;
        }
        let previous = self.previous.filter(|(_, made)| {
            now.saturating_duration_since(*made) < COOKIE_SECRET_LIFETIME + COOKIE_SECRET_GRACE
        });
        previous.is_some_and(|(secret, _)| {
            cookie_of(&secret, from)
                .is_some_and(|cookie| verifies(keyed_mac(&cookie, &[body]), mac2))
        })
    }

    /// Writes the cookie reply to `msg` (from `from`) into `out`; returns
    /// its length, or `None` when `out` is too small or `msg` is not a
    /// handshake message.
    pub fn write_reply(
        &mut self,
        now: Instant,
        from: SocketAddr,
        msg: &[u8],
        out: &mut [u8],
    ) -> Option<usize> {
        let out = out.get_mut(..COOKIE_REPLY_LEN)?;
        let sender_index = msg.get(4..8)?;
        let split = msg.len().checked_sub(MACS_LEN)?;
        let mac1 = msg.get(split..split + 16)?;
        let cookie = self.cookie(now, from)?;
        self.nonce_counter = self.nonce_counter.wrapping_add(1);
        let (head, rest) = out.split_at_mut(8);
        let (nonce, sealed) = rest.split_at_mut(24);
        head.copy_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0]);
        head[4..].copy_from_slice(sender_index);
        nonce[..16].copy_from_slice(&self.nonce_prefix);
        nonce[16..].copy_from_slice(&self.nonce_counter.to_le_bytes());
        let (text, tag_out) = sealed.split_at_mut(16);
        text.copy_from_slice(&cookie);
        // The AEAD binds the cookie to the mac1 of the message it answers,
        // so only the sender of that message can use it.
        let tag = self
            .cipher
            .encrypt_in_place_detached(XNonce::from_slice(nonce), mac1, text)
            .ok()?;
        tag_out.copy_from_slice(&tag);
        Some(COOKIE_REPLY_LEN)
    }

    /// `MAC(Rm, source address || port)`, with `Rm` renewed when it is
    /// older than [`COOKIE_SECRET_LIFETIME`].
    fn cookie(&mut self, now: Instant, from: SocketAddr) -> Option<[u8; 16]> {
        let stale = self
            .secret_made
            .is_none_or(|t| now.saturating_duration_since(t) >= COOKIE_SECRET_LIFETIME);
        if stale {
            self.previous = self.secret_made.map(|made| (self.secret, made));
            OsRng.fill_bytes(&mut self.secret);
            self.secret_made = Some(now);
        }
        cookie_of(&self.secret, from)
    }
}

/// `MAC(secret, source address || port)`.
fn cookie_of(secret: &[u8; 32], from: SocketAddr) -> Option<[u8; 16]> {
    let port = from.port().to_be_bytes();
    let mac = match from {
        SocketAddr::V4(a) => keyed_mac(secret, &[&a.ip().octets(), &port]),
        SocketAddr::V6(a) => keyed_mac(secret, &[&a.ip().octets(), &port]),
    };
    Some(mac?.finalize_fixed().into())
}

/// What a sender does, for tests here and in the device: mac1 from our
/// public key, mac2 from a cookie reply.
#[cfg(test)]
pub(crate) mod testing {
    use chacha20poly1305::aead::{Aead, Payload};

    use super::*;

    /// A handshake-shaped message with a valid mac1 and zero mac2.
    pub(crate) fn message(public: &PublicKey, len: usize, sender: u32) -> Vec<u8> {
        let mut m = vec![0x5a; len];
        m[..4].copy_from_slice(&[1, 0, 0, 0]);
        m[4..8].copy_from_slice(&sender.to_le_bytes());
        let key = labelled_hash(LABEL_MAC1, public);
        let mac1 = keyed_mac(&key, &[&m[..len - 32]]).unwrap().finalize_fixed();
        m[len - 32..len - 16].copy_from_slice(&mac1);
        m[len - 16..].fill(0);
        m
    }

    /// Decrypts our cookie reply with the key a sender derives from our
    /// public key and sets mac2 on `msg` with the cookie.
    pub(crate) fn add_mac2(public: &PublicKey, reply: &[u8], msg: &mut [u8]) {
        let key = labelled_hash(LABEL_COOKIE, public);
        let n = msg.len();
        let cookie = XChaCha20Poly1305::new((&key).into())
            .decrypt(
                XNonce::from_slice(&reply[8..32]),
                Payload {
                    msg: &reply[32..],
                    aad: &msg[n - 32..n - 16],
                },
            )
            .expect("the reply decrypts with the sender's mac1");
        let mac2 = keyed_mac(&cookie, &[&msg[..n - 16]])
            .unwrap()
            .finalize_fixed();
        msg[n - 16..].copy_from_slice(&mac2);
    }
}

#[cfg(test)]
#[path = "cookie_tests.rs"]
mod tests;
