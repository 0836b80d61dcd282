//! NAT-PMP (RFC 6886) messages: the external-address request, UDP mapping
//! requests (a lifetime of zero deletes), and their responses. Sent to the
//! default gateway's UDP port 5351.

use std::net::Ipv4Addr;

/// The gateway's NAT-PMP (and PCP) port.
pub const SERVER_PORT: u16 = 5351;

const VERSION: u8 = 0;
const OP_EXTERNAL_ADDRESS: u8 = 0;
const OP_MAP_UDP: u8 = 1;
/// Responses carry the request's opcode plus 128.
const RESPONSE_BIT: u8 = 128;

/// A result code other than success (RFC 6886 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResultCode {
    #[error("unsupported version")]
    UnsupportedVersion,
    #[error("not authorized or refused")]
    NotAuthorized,
    #[error("network failure (the gateway has no external address)")]
    NetworkFailure,
    #[error("out of resources")]
    OutOfResources,
    #[error("unsupported opcode")]
    UnsupportedOpcode,
    #[error("result code {0}")]
    Other(u16),
}

impl ResultCode {
    fn from_u16(n: u16) -> Option<ResultCode> {
        Some(match n {
            0 => return None,
            1 => ResultCode::UnsupportedVersion,
            2 => ResultCode::NotAuthorized,
            3 => ResultCode::NetworkFailure,
            4 => ResultCode::OutOfResources,
            5 => ResultCode::UnsupportedOpcode,
            n => ResultCode::Other(n),
        })
    }
}

/// Why a datagram is not a NAT-PMP response we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NatPmpError {
    #[error("{0} bytes is too short for a NAT-PMP response")]
    TooShort(usize),
    #[error("version {0} is not NAT-PMP (0)")]
    Version(u8),
    #[error("opcode {0} is not a NAT-PMP response")]
    Opcode(u8),
    #[error("the gateway answered: {0}")]
    Result(ResultCode),
}

/// The external-address request: version 0, opcode 0.
pub fn external_address_request() -> [u8; 2] {
    [VERSION, OP_EXTERNAL_ADDRESS]
}

/// A UDP mapping request (RFC 6886 §3.3). A lifetime of zero with
/// suggested port zero deletes the mapping of `internal_port`.
pub fn map_request(internal_port: u16, suggested_external: u16, lifetime_secs: u32) -> [u8; 12] {
    let mut m = [0u8; 12];
    m[0] = VERSION;
    m[1] = OP_MAP_UDP;
    m[4..6].copy_from_slice(&internal_port.to_be_bytes());
    m[6..8].copy_from_slice(&suggested_external.to_be_bytes());
    m[8..12].copy_from_slice(&lifetime_secs.to_be_bytes());
    m
}

/// A parsed response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    ExternalAddress {
        epoch: u32,
        address: Ipv4Addr,
    },
    Mapped {
        epoch: u32,
        internal_port: u16,
        external_port: u16,
        lifetime_secs: u32,
    },
}

impl Response {
    pub fn epoch(&self) -> u32 {
        match *self {
            Response::ExternalAddress { epoch, .. } | Response::Mapped { epoch, .. } => epoch,
        }
    }
}

/// Parses a response. A result code other than success is an error; a
/// version other than 0 (a PCP server answering) is [`NatPmpError::Version`].
pub fn parse_response(d: &[u8]) -> Result<Response, NatPmpError> {
    if d.len() < 4 {
        return Err(NatPmpError::TooShort(d.len()));
    }
    if d[0] != VERSION {
        return Err(NatPmpError::Version(d[0]));
    }
    let op = d[1];
    if op < RESPONSE_BIT {
        return Err(NatPmpError::Opcode(op));
    }
    if let Some(code) = ResultCode::from_u16(u16::from_be_bytes([d[2], d[3]])) {
        return Err(NatPmpError::Result(code));
    }
    let be32 = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    let be16 = |i: usize| u16::from_be_bytes([d[i], d[i + 1]]);
    match op - RESPONSE_BIT {
        OP_EXTERNAL_ADDRESS if d.len() >= 12 => Ok(Response::ExternalAddress {
            epoch: be32(4),
            address: Ipv4Addr::new(d[8], d[9], d[10], d[11]),
        }),
        OP_MAP_UDP if d.len() >= 16 => Ok(Response::Mapped {
            epoch: be32(4),
            internal_port: be16(8),
            external_port: be16(10),
            lifetime_secs: be32(12),
        }),
        OP_EXTERNAL_ADDRESS | OP_MAP_UDP => Err(NatPmpError::TooShort(d.len())),
        _ => Err(NatPmpError::Opcode(op)),
    }
}

#[cfg(test)]
#[path = "natpmp_tests.rs"]
mod tests;
