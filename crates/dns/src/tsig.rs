//! TSIG (RFC 8945): HMAC signatures on DNS messages, so a server accepts
//! our updates and we accept only its genuine answers. Sans-IO: messages
//! are bytes, and the time is passed in.

use std::fmt;

use ring::hmac;

use crate::keyfile::{self, KeyFileError, SecretFile};
use crate::wire::{
    absolute_lower, append_additional, Message, Name, Reader, WireError, CLASS_ANY, HEADER_LEN,
    TYPE_TSIG,
};

/// Seconds the two clocks may differ (RFC 8945 recommends 300).
const FUDGE: u16 = 300;

/// Why a signature was not made or not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TsigError {
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The server could not verify our signature (TSIG error in its answer).
    #[error("the dns server rejected the request's tsig signature ({error})")]
    Rejected { error: &'static str },
    /// The answer is unsigned or its signature is wrong: not trusted.
    #[error("dns response not trusted: {0}")]
    Untrusted(&'static str),
}

/// The HMAC algorithms a TSIG key may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsigAlgorithm {
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl TsigAlgorithm {
    /// The algorithm's DNS name (RFC 8945 §6).
    pub fn name(self) -> &'static str {
        match self {
            TsigAlgorithm::HmacSha256 => "hmac-sha256.",
            TsigAlgorithm::HmacSha384 => "hmac-sha384.",
            TsigAlgorithm::HmacSha512 => "hmac-sha512.",
        }
    }

    fn ring(self) -> hmac::Algorithm {
        match self {
            TsigAlgorithm::HmacSha256 => hmac::HMAC_SHA256,
            TsigAlgorithm::HmacSha384 => hmac::HMAC_SHA384,
            TsigAlgorithm::HmacSha512 => hmac::HMAC_SHA512,
        }
    }

    fn wire_name(self) -> Result<Name, WireError> {
        Name::parse(self.name())
    }
}

/// A TSIG key: its name, algorithm and secret. `Debug` never shows the secret.
#[derive(Clone)]
pub struct TsigKey {
    name: String,
    algorithm: TsigAlgorithm,
    key: hmac::Key,
}

impl TsigKey {
    /// `name` as the server knows the key (`wingress.`); `secret` decoded.
    /// A name that is not a valid DNS name makes signing fail.
    pub fn new(name: &str, algorithm: TsigAlgorithm, secret: &[u8]) -> Self {
        TsigKey {
            name: absolute_lower(name),
            algorithm,
            key: hmac::Key::new(algorithm.ring(), secret),
        }
    }

    /// The key `name` from a secret file's text (see [`crate::keyfile`]):
    /// a bare base64 secret is taken as that key's; a file of `key`
    /// statements must have one named `name`, and when it says its
    /// algorithm, `algorithm`. Errors never quote the secret.
    pub fn from_secret_file(
        text: &str,
        name: &str,
        algorithm: TsigAlgorithm,
    ) -> Result<TsigKey, KeyFileError> {
        let secret = match keyfile::parse(text)? {
            SecretFile::Bare(secret) => secret,
            SecretFile::Keys(keys) => {
                let wanted = absolute_lower(name);
                let Some(key) = keys.iter().find(|k| k.name == wanted) else {
                    let found: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
                    return Err(KeyFileError::NoSuchKey {
                        name: wanted,
                        found: found.join(", "),
                    });
                };
                let configured = algorithm.name().trim_end_matches('.');
                match &key.algorithm {
                    Some(a) if a.trim_end_matches('.') != configured => {
                        return Err(KeyFileError::Algorithm {
                            name: wanted,
                            file: a.clone(),
                            configured,
                        })
                    }
                    _ => key.secret.clone(),
                }
            }
        };
        Ok(TsigKey::new(name, algorithm, &secret))
    }

    /// The key's name, lowercase with the trailing dot.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn algorithm(&self) -> TsigAlgorithm {
        self.algorithm
    }

    fn wire_name(&self) -> Result<Name, WireError> {
        Name::parse(&self.name)
    }
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The TSIG error codes (RFC 8945 §5.2), named for messages.
pub fn tsig_error_name(code: u16) -> &'static str {
    match code {
        0 => "NOERROR",
        16 => "BADSIG",
        17 => "BADKEY",
        18 => "BADTIME",
        22 => "BADTRUNC",
        _ => "unknown tsig error",
    }
}

/// The variables after the message in the MAC input (RFC 8945 §4.3.3):
/// names in canonical (lowercase, uncompressed) form.
fn variables(
    out: &mut Vec<u8>,
    key: &TsigKey,
    time: u64,
    fudge: u16,
    error: u16,
    other: &[u8],
) -> Result<(), WireError> {
    key.wire_name()?.to_wire(out);
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    key.algorithm.wire_name()?.to_wire(out);
    // Time signed is 48 bits.
    out.extend_from_slice(&time.to_be_bytes()[2..]);
    out.extend_from_slice(&fudge.to_be_bytes());
    out.extend_from_slice(&error.to_be_bytes());
    let other_len = u16::try_from(other.len())
        .map_err(|_| WireError::TooLarge("tsig other data over 65535 bytes"))?;
    out.extend_from_slice(&other_len.to_be_bytes());
    out.extend_from_slice(other);
    Ok(())
}

/// Signs `msg` (a complete message without TSIG) at `now` (Unix seconds):
/// appends the TSIG record and counts it in ARCOUNT. Returns the MAC, which
/// the response's signature covers.
pub fn sign(msg: &mut Vec<u8>, key: &TsigKey, now: u64) -> Result<Vec<u8>, TsigError> {
    if msg.len() < HEADER_LEN {
        return Err(WireError::Malformed("message shorter than a header").into());
    }
    let mut input = msg.clone();
    variables(&mut input, key, now, FUDGE, 0, &[])?;
    let mac = hmac::sign(&key.key, &input).as_ref().to_vec();

    let mut rdata = Vec::with_capacity(32 + mac.len());
    key.algorithm.wire_name()?.to_wire(&mut rdata);
    rdata.extend_from_slice(&now.to_be_bytes()[2..]);
    rdata.extend_from_slice(&FUDGE.to_be_bytes());
    // At most 64 bytes (HMAC-SHA512).
    rdata.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    rdata.extend_from_slice(&mac);
    rdata.extend_from_slice(&msg[0..2]); // original id
    rdata.extend_from_slice(&0u16.to_be_bytes()); // error
    rdata.extend_from_slice(&0u16.to_be_bytes()); // other len
    append_additional(msg, &key.wire_name()?, TYPE_TSIG, CLASS_ANY, 0, &rdata)?;
    Ok(mac)
}

/// Checks the TSIG of `response`, the answer to a request signed with
/// `request_mac`, at `now`. A TSIG error the server reports (it could not
/// verify our request) is [`TsigError::Rejected`]; a missing, misplaced or
/// wrong signature is [`TsigError::Untrusted`]. The header's ID is not
/// covered (RFC 8945 §4.2, Original ID: forwarders may change it), so
/// the caller pairs IDs itself.
pub fn verify(
    response: &Message<'_>,
    request_mac: &[u8],
    key: &TsigKey,
    now: u64,
) -> Result<(), TsigError> {
    let msg = response.bytes;
    let tsig = response
        .additional
        .last()
        .filter(|r| r.rtype == TYPE_TSIG)
        .ok_or(TsigError::Untrusted("the response is not signed"))?;
    // Nothing the signature does not cover may follow it, and its fixed
    // fields are what RFC 8945 §4.2 says (class ANY, TTL 0).
    let rdata_end = tsig.rdata_offset + tsig.rdata.len();
    if rdata_end != msg.len() || tsig.class != CLASS_ANY || tsig.ttl != 0 {
        return Err(TsigError::Untrusted(
            "the tsig record is malformed or not last",
        ));
    }
    let mut r = Reader::new(msg, tsig.rdata_offset);
    let algorithm = r.name()?;
    let time = r.take(6)?;
    let time = u64::from_be_bytes([0, 0, time[0], time[1], time[2], time[3], time[4], time[5]]);
    let fudge = r.u16()?;
    let mac_len = r.u16()?;
    let mac = r.take(usize::from(mac_len))?;
    let original_id = r.u16()?;
    let error = r.u16()?;
    let other_len = r.u16()?;
    let other = r.take(usize::from(other_len))?;
    if r.pos() != rdata_end {
        return Err(WireError::Malformed("tsig record data of the wrong length").into());
    }
    if error != 0 {
        return Err(TsigError::Rejected {
            error: tsig_error_name(error),
        });
    }
    if tsig.owner != key.wire_name()? || algorithm != key.algorithm.wire_name()? {
        return Err(TsigError::Untrusted("signed with another key"));
    }

    let mut input = Vec::with_capacity(msg.len() + request_mac.len() + 64);
    // At most 64 bytes: the MAC this side made.
    input.extend_from_slice(&(request_mac.len() as u16).to_be_bytes());
    input.extend_from_slice(request_mac);
    let body = msg
        .get(..tsig.offset)
        .filter(|b| b.len() >= HEADER_LEN)
        .ok_or(WireError::Malformed("tsig record out of place"))?;
    let start = input.len();
    input.extend_from_slice(body);
    input[start..start + 2].copy_from_slice(&original_id.to_be_bytes());
    let arcount = u16::from_be_bytes([body[10], body[11]]).saturating_sub(1);
    input[start + 10..start + 12].copy_from_slice(&arcount.to_be_bytes());
    variables(&mut input, key, time, fudge, error, other)?;
    hmac::verify(&key.key, &input, mac)
        .map_err(|_| TsigError::Untrusted("the response's signature does not verify"))?;
    if now.abs_diff(time) > u64::from(fudge) {
        return Err(TsigError::Untrusted(
            "the response was signed outside the allowed clock difference",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "tsig_tests.rs"]
mod tests;
