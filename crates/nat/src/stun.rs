//! STUN messages (RFC 8489, formerly RFC 5389), the part a client needs:
//! Binding requests (optionally with RFC 5780's CHANGE-REQUEST) and the
//! parsing of Binding responses.
//!
//! The requests are sent from the WireGuard socket itself, so the replies
//! arrive mixed with WireGuard traffic; [`looks_like_stun`] is the cheap
//! test the data plane runs before handing a datagram to WireGuard, and the
//! transaction id (which only we know) is what finally claims it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The fixed cookie in every RFC 5389+ message, bytes 4..8.
pub const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];

/// A STUN header is 20 bytes: type, length, cookie, transaction id.
pub const HEADER_LEN: usize = 20;

/// Identifies one request and its response. Random, so that nobody off
/// the path can forge an answer.
pub type TransactionId = [u8; 12];

const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const BINDING_ERROR: u16 = 0x0111;

const ATTR_MAPPED_ADDRESS: u16 = 0x0001;
const ATTR_CHANGE_REQUEST: u16 = 0x0003;
const ATTR_CHANGED_ADDRESS: u16 = 0x0005;
const ATTR_ERROR_CODE: u16 = 0x0009;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
const ATTR_RESPONSE_ORIGIN: u16 = 0x802B;
const ATTR_OTHER_ADDRESS: u16 = 0x802C;
const ATTR_FINGERPRINT: u16 = 0x8028;

/// FINGERPRINT is the CRC-32 of the message XORed with "STUN".
const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// CHANGE-REQUEST flags (RFC 5780 §7.2).
const CHANGE_IP: u32 = 0x04;
const CHANGE_PORT: u32 = 0x02;

/// What a STUN datagram could not be parsed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StunError {
    #[error("not a STUN message")]
    NotStun,
    #[error("length field {declared} does not match the {actual} bytes after the header")]
    Length { declared: usize, actual: usize },
    #[error("attribute {kind:#06x} runs past the end of the message")]
    Truncated { kind: u16 },
    #[error("attribute {kind:#06x} is malformed")]
    BadAttribute { kind: u16 },
    #[error("FINGERPRINT does not match the message")]
    Fingerprint,
    #[error("message type {0:#06x} is not a Binding response")]
    NotBindingResponse(u16),
    #[error("a success response without a mapped address")]
    NoMappedAddress,
}

/// Whether `d` is shaped like a STUN message (RFC 8489 §5): the two top
/// bits zero, the magic cookie, a length that matches and is a multiple of
/// four, and not a WireGuard message (type 1-4 followed by three zero
/// bytes). It reads eight bytes; no allocation.
pub fn looks_like_stun(d: &[u8]) -> bool {
    if d.len() < HEADER_LEN || d[0] & 0xC0 != 0 || d[4..8] != MAGIC_COOKIE {
        return false;
    }
    if matches!(d[0], 1..=4) && d[1..4] == [0, 0, 0] {
        return false;
    }
    let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
    len % 4 == 0 && len == d.len() - HEADER_LEN
}

/// The transaction id of a STUN-shaped datagram.
pub fn transaction_id(d: &[u8]) -> Option<TransactionId> {
    d.get(8..HEADER_LEN)?.try_into().ok()
}

/// RFC 5780 CHANGE-REQUEST: ask the server to answer from its other
/// address and/or port, which tells whether our NAT lets in packets from
/// addresses we never sent to (its filtering behaviour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeRequest {
    pub ip: bool,
    pub port: bool,
}

/// A Binding request with a FINGERPRINT (and CHANGE-REQUEST when given).
pub fn binding_request(id: &TransactionId, change: Option<ChangeRequest>) -> Vec<u8> {
    let mut m = header(BINDING_REQUEST, id);
    if let Some(c) = change {
        let flags = if c.ip { CHANGE_IP } else { 0 } | if c.port { CHANGE_PORT } else { 0 };
        push_attr(&mut m, ATTR_CHANGE_REQUEST, &flags.to_be_bytes());
    }
    push_fingerprint(&mut m);
    m
}

/// A Binding success response (what a server sends): XOR-MAPPED-ADDRESS,
/// and OTHER-ADDRESS when the server has an alternate address. Used by
/// tests and simulations of a server.
pub fn binding_success(
    id: &TransactionId,
    mapped: SocketAddr,
    other: Option<SocketAddr>,
) -> Vec<u8> {
    let mut m = header(BINDING_SUCCESS, id);
    push_attr(&mut m, ATTR_XOR_MAPPED_ADDRESS, &xor_address(mapped, id));
    if let Some(o) = other {
        push_attr(&mut m, ATTR_OTHER_ADDRESS, &plain_address(o));
    }
    push_fingerprint(&mut m);
    m
}

/// A Binding error response with ERROR-CODE `code` and a reason phrase.
pub fn binding_error(id: &TransactionId, code: u16, reason: &str) -> Vec<u8> {
    let mut m = header(BINDING_ERROR, id);
    let mut v = vec![
        0,
        0,
        u8::try_from(code / 100).unwrap_or(0),
        (code % 100) as u8,
    ];
    v.extend_from_slice(reason.as_bytes());
    push_attr(&mut m, ATTR_ERROR_CODE, &v);
    m
}

/// A parsed Binding response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingResponse {
    pub id: TransactionId,
    pub outcome: Outcome,
    /// RFC 5780 OTHER-ADDRESS (or RFC 3489 CHANGED-ADDRESS): where the
    /// server can answer from for a CHANGE-REQUEST.
    pub other_address: Option<SocketAddr>,
    /// RFC 5780 RESPONSE-ORIGIN: the address the response was sent from.
    pub response_origin: Option<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Our address and port as the server saw them.
    Mapped(SocketAddr),
    /// The server refused: ERROR-CODE and its reason phrase.
    Error { code: u16, reason: String },
}

/// Parses a Binding success or error response. A FINGERPRINT, when present,
/// must match; attributes we do not know are skipped.
pub fn parse_binding_response(d: &[u8]) -> Result<BindingResponse, StunError> {
    if d.len() < HEADER_LEN || d[0] & 0xC0 != 0 || d[4..8] != MAGIC_COOKIE {
        return Err(StunError::NotStun);
    }
    let declared = usize::from(u16::from_be_bytes([d[2], d[3]]));
    let actual = d.len() - HEADER_LEN;
    if declared != actual || declared % 4 != 0 {
        return Err(StunError::Length { declared, actual });
    }
    let kind = u16::from_be_bytes([d[0], d[1]]);
    if kind != BINDING_SUCCESS && kind != BINDING_ERROR {
        return Err(StunError::NotBindingResponse(kind));
    }
    let id: TransactionId = d[8..HEADER_LEN]
        .try_into()
        .map_err(|_| StunError::NotStun)?;

    let (mut xor_mapped, mut mapped, mut other, mut origin, mut error) =
        (None, None, None, None, None);
    let mut at = HEADER_LEN;
    while at < d.len() {
        let head = d.get(at..at + 4).ok_or(StunError::Truncated { kind: 0 })?;
        let kind = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let value = d
            .get(at + 4..at + 4 + len)
            .ok_or(StunError::Truncated { kind })?;
        let bad = StunError::BadAttribute { kind };
        match kind {
            ATTR_XOR_MAPPED_ADDRESS => {
                xor_mapped = Some(parse_address(value, Some(&id)).ok_or(bad)?);
            }
            ATTR_MAPPED_ADDRESS => mapped = Some(parse_address(value, None).ok_or(bad)?),
            ATTR_OTHER_ADDRESS | ATTR_CHANGED_ADDRESS => {
                other = other.or(Some(parse_address(value, None).ok_or(bad)?));
            }
            ATTR_RESPONSE_ORIGIN => origin = Some(parse_address(value, None).ok_or(bad)?),
            ATTR_ERROR_CODE => {
                if value.len() < 4 {
                    return Err(bad);
                }
                let code = u16::from(value[2] & 0x07) * 100 + u16::from(value[3]);
                let reason = String::from_utf8_lossy(&value[4..]).into_owned();
                error = Some((code, reason));
            }
            ATTR_FINGERPRINT => {
                let got: [u8; 4] = value.try_into().map_err(|_| bad)?;
                // The CRC covers the message up to this attribute, with the
                // header's length already counting the fingerprint.
                if crc32(&d[..at]) ^ FINGERPRINT_XOR != u32::from_be_bytes(got) {
                    return Err(StunError::Fingerprint);
                }
            }
            _ => {}
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    let outcome = if kind == BINDING_ERROR {
        let (code, reason) = error.unwrap_or((0, String::new()));
        Outcome::Error { code, reason }
    } else {
        Outcome::Mapped(xor_mapped.or(mapped).ok_or(StunError::NoMappedAddress)?)
    };
    Ok(BindingResponse {
        id,
        outcome,
        other_address: other,
        response_origin: origin,
    })
}

// === encoding helpers ===

fn header(kind: u16, id: &TransactionId) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&kind.to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&MAGIC_COOKIE);
    m.extend_from_slice(id);
    m
}

/// Appends an attribute (padded to four bytes) and updates the length.
fn push_attr(m: &mut Vec<u8>, kind: u16, value: &[u8]) {
    m.extend_from_slice(&kind.to_be_bytes());
    m.extend_from_slice(&(value.len() as u16).to_be_bytes());
    m.extend_from_slice(value);
    m.resize(m.len().div_ceil(4) * 4, 0);
    set_length(m);
}

fn push_fingerprint(m: &mut Vec<u8>) {
    // The length must count the fingerprint before the CRC is taken.
    let len = (m.len() - HEADER_LEN + 8) as u16;
    m[2..4].copy_from_slice(&len.to_be_bytes());
    let crc = crc32(m) ^ FINGERPRINT_XOR;
    m.extend_from_slice(&ATTR_FINGERPRINT.to_be_bytes());
    m.extend_from_slice(&4u16.to_be_bytes());
    m.extend_from_slice(&crc.to_be_bytes());
}

fn set_length(m: &mut [u8]) {
    let len = (m.len() - HEADER_LEN) as u16;
    m[2..4].copy_from_slice(&len.to_be_bytes());
}

fn plain_address(a: SocketAddr) -> Vec<u8> {
    let mut v = vec![0, if a.is_ipv4() { 1 } else { 2 }];
    v.extend_from_slice(&a.port().to_be_bytes());
    match a.ip() {
        IpAddr::V4(ip) => v.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => v.extend_from_slice(&ip.octets()),
    }
    v
}

fn xor_address(a: SocketAddr, id: &TransactionId) -> Vec<u8> {
    let mut v = plain_address(a);
    xor_in_place(&mut v, id);
    v
}

/// XORs the port with the cookie's top half and the address with the
/// cookie (IPv4) or cookie + transaction id (IPv6); its own inverse.
fn xor_in_place(v: &mut [u8], id: &TransactionId) {
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(&MAGIC_COOKIE);
    key[4..].copy_from_slice(id);
    v[2] ^= MAGIC_COOKIE[0];
    v[3] ^= MAGIC_COOKIE[1];
    for (b, k) in v[4..].iter_mut().zip(key) {
        *b ^= k;
    }
}

/// MAPPED-ADDRESS-style value: reserved, family, port, address; XORed
/// when `xor` carries the transaction id.
fn parse_address(value: &[u8], xor: Option<&TransactionId>) -> Option<SocketAddr> {
    let len = match value.get(1)? {
        1 => 8,
        2 => 20,
        _ => return None,
    };
    let mut v: Vec<u8> = value.get(..len)?.to_vec();
    if let Some(id) = xor {
        xor_in_place(&mut v, id);
    }
    let port = u16::from_be_bytes([v[2], v[3]]);
    let ip = if len == 8 {
        IpAddr::V4(Ipv4Addr::new(v[4], v[5], v[6], v[7]))
    } else {
        let o: [u8; 16] = v[4..20].try_into().ok()?;
        let v6 = Ipv6Addr::from(o);
        v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
    };
    Some(SocketAddr::new(ip, port))
}

/// CRC-32 (IEEE 802.3, reflected), as FINGERPRINT uses.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut crc = !0u32;
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
#[path = "stun_tests.rs"]
mod tests;
