//! PCP (RFC 6887) messages: MAP requests for UDP (a lifetime of zero
//! deletes, and must carry the nonce of the request that created the
//! mapping), ANNOUNCE (to read the server's epoch), and their responses.
//! Sent to the default gateway's UDP port 5351, the port NAT-PMP uses.

use std::net::{Ipv4Addr, Ipv6Addr};

pub use crate::natpmp::SERVER_PORT;

const VERSION: u8 = 2;
const OP_ANNOUNCE: u8 = 0;
const OP_MAP: u8 = 1;
const RESPONSE_BIT: u8 = 0x80;
const PROTO_UDP: u8 = 17;
const HEADER_LEN: usize = 24;
const MAP_LEN: usize = 36;

/// A MAP request's nonce: the mapping's identity for renewals and deletion.
pub type Nonce = [u8; 12];

/// A result code other than success (RFC 6887 §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResultCode {
    #[error("UNSUPP_VERSION")]
    UnsupportedVersion,
    #[error("NOT_AUTHORIZED")]
    NotAuthorized,
    #[error("MALFORMED_REQUEST")]
    MalformedRequest,
    #[error("UNSUPP_OPCODE")]
    UnsupportedOpcode,
    #[error("NETWORK_FAILURE")]
    NetworkFailure,
    #[error("NO_RESOURCES")]
    NoResources,
    #[error("CANNOT_PROVIDE_EXTERNAL")]
    CannotProvideExternal,
    #[error("ADDRESS_MISMATCH")]
    AddressMismatch,
    #[error("result code {0}")]
    Other(u8),
}

impl ResultCode {
    fn from_u8(n: u8) -> Option<ResultCode> {
        Some(match n {
            0 => return None,
            1 => ResultCode::UnsupportedVersion,
            2 => ResultCode::NotAuthorized,
            3 => ResultCode::MalformedRequest,
            4 => ResultCode::UnsupportedOpcode,
            7 => ResultCode::NetworkFailure,
            8 => ResultCode::NoResources,
            11 => ResultCode::CannotProvideExternal,
            12 => ResultCode::AddressMismatch,
            n => ResultCode::Other(n),
        })
    }
}

/// Why a datagram is not a PCP response we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PcpError {
    #[error("{0} bytes is too short for a PCP response")]
    TooShort(usize),
    /// Version 0 is a NAT-PMP-only gateway saying it does not speak PCP.
    #[error("the gateway answered with version {0}, not PCP")]
    Version(u8),
    #[error("opcode {0:#04x} is not a PCP response")]
    Opcode(u8),
    #[error("the gateway answered {code} (retry after {lifetime_secs} s)")]
    Result {
        code: ResultCode,
        lifetime_secs: u32,
    },
    #[error("the response is for another mapping (nonce, protocol or port differ)")]
    NotOurs,
}

/// A UDP MAP request (RFC 6887 §11.1). `client` must be the source address
/// the request leaves from, or the server answers ADDRESS_MISMATCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapRequest {
    pub client: Ipv4Addr,
    pub nonce: Nonce,
    pub internal_port: u16,
    pub suggested_external_port: u16,
    /// `0.0.0.0` lets the server choose.
    pub suggested_external_address: Ipv4Addr,
    pub lifetime_secs: u32,
}

impl MapRequest {
    pub fn encode(&self) -> [u8; HEADER_LEN + MAP_LEN] {
        let mut m = [0u8; HEADER_LEN + MAP_LEN];
        header(&mut m, OP_MAP, self.lifetime_secs, self.client);
        m[24..36].copy_from_slice(&self.nonce);
        m[36] = PROTO_UDP;
        m[40..42].copy_from_slice(&self.internal_port.to_be_bytes());
        m[42..44].copy_from_slice(&self.suggested_external_port.to_be_bytes());
        m[44..60].copy_from_slice(&self.suggested_external_address.to_ipv6_mapped().octets());
        m
    }

    /// The same mapping with lifetime zero: the deletion (same nonce).
    pub fn deletion(&self) -> MapRequest {
        MapRequest {
            lifetime_secs: 0,
            ..*self
        }
    }
}

/// An ANNOUNCE request: answered with the server's epoch, changing nothing.
pub fn announce_request(client: Ipv4Addr) -> [u8; HEADER_LEN] {
    let mut m = [0u8; HEADER_LEN];
    header(&mut m, OP_ANNOUNCE, 0, client);
    m
}

fn header(m: &mut [u8], op: u8, lifetime: u32, client: Ipv4Addr) {
    m[0] = VERSION;
    m[1] = op;
    m[4..8].copy_from_slice(&lifetime.to_be_bytes());
    m[8..24].copy_from_slice(&client.to_ipv6_mapped().octets());
}

/// A parsed success response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    Announce {
        epoch: u32,
    },
    Map {
        epoch: u32,
        lifetime_secs: u32,
        nonce: Nonce,
        internal_port: u16,
        external_port: u16,
        /// `None` when the server sent an IPv6 address.
        external_address: Option<Ipv4Addr>,
    },
}

impl Response {
    pub fn epoch(&self) -> u32 {
        match *self {
            Response::Announce { epoch } | Response::Map { epoch, .. } => epoch,
        }
    }
}

/// Parses a response. An error result is [`PcpError::Result`]; a version-0
/// reply (NAT-PMP only) is [`PcpError::Version`].
pub fn parse_response(d: &[u8]) -> Result<Response, PcpError> {
    if d.len() < 4 {
        return Err(PcpError::TooShort(d.len()));
    }
    if d[0] != VERSION {
        return Err(PcpError::Version(d[0]));
    }
    if d.len() < HEADER_LEN {
        return Err(PcpError::TooShort(d.len()));
    }
    let op = d[1];
    if op & RESPONSE_BIT == 0 {
        return Err(PcpError::Opcode(op));
    }
    let be32 = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    let lifetime_secs = be32(4);
    let epoch = be32(8);
    if let Some(code) = ResultCode::from_u8(d[3]) {
        return Err(PcpError::Result {
            code,
            lifetime_secs,
        });
    }
    match op & !RESPONSE_BIT {
        OP_ANNOUNCE => Ok(Response::Announce { epoch }),
        OP_MAP => {
            let body = d
                .get(HEADER_LEN..HEADER_LEN + MAP_LEN)
                .ok_or(PcpError::TooShort(d.len()))?;
            if body[12] != PROTO_UDP {
                return Err(PcpError::NotOurs);
            }
            let mut nonce = [0u8; 12];
            nonce.copy_from_slice(&body[..12]);
            let mut addr = [0u8; 16];
            addr.copy_from_slice(&body[20..36]);
            Ok(Response::Map {
                epoch,
                lifetime_secs,
                nonce,
                internal_port: u16::from_be_bytes([body[16], body[17]]),
                external_port: u16::from_be_bytes([body[18], body[19]]),
                external_address: Ipv6Addr::from(addr).to_ipv4_mapped(),
            })
        }
        _ => Err(PcpError::Opcode(op)),
    }
}

/// Whether the server kept its state between two responses (RFC 6887
/// §8.5, the rule NAT-PMP's §3.6 also follows): its epoch must not go
/// backwards, and must have advanced about as much as our clock did. A
/// `false` means the gateway rebooted or lost its mappings: map again.
///
/// `previous` and `current` are (our seconds, server epoch) pairs.
pub fn epoch_is_continuous(previous: (u64, u32), current: (u64, u32)) -> bool {
    let (prev_client, prev_server) = (previous.0 as i64, i64::from(previous.1));
    let (curr_client, curr_server) = (current.0 as i64, i64::from(current.1));
    if curr_server + 1 < prev_server {
        return false;
    }
    let client_delta = curr_client - prev_client;
    let server_delta = curr_server - prev_server;
    !(client_delta + 2 < server_delta - server_delta / 16
        || server_delta + 2 < client_delta - client_delta / 16)
}

#[cfg(test)]
#[path = "pcp_tests.rs"]
mod tests;
