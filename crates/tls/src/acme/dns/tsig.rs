//! TSIG (RFC 8945): HMAC signatures on DNS messages, so the server accepts
//! our updates and we accept only its genuine answers. Sans-IO: the time is
//! passed in.

use std::fmt;

use ring::hmac;

use super::wire::{encode_name, Reader, Response, CLASS_ANY, HEADER_LEN, TYPE_TSIG};
use super::DnsError;

/// Seconds the two clocks may differ (RFC 8945 recommends 300).
const FUDGE: u16 = 300;

/// The HMAC algorithms a TSIG key may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsigAlgorithm {
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl TsigAlgorithm {
    /// The algorithm's DNS name (RFC 8945, section 6).
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
    pub fn new(name: &str, algorithm: TsigAlgorithm, secret: &[u8]) -> Self {
        TsigKey {
            name: super::wire::absolute_lower(name),
            algorithm,
            key: hmac::Key::new(algorithm.ring(), secret),
        }
    }

    /// Reads a secret file's text: the base64 secret alone, or the
    /// `key "name" { algorithm ...; secret "..."; };` block `tsig-keygen`
    /// writes. Errors never quote the file.
    pub fn parse_secret(text: &str) -> Result<Vec<u8>, &'static str> {
        use base64::Engine;
        let b64 = match text.find("secret") {
            Some(at) => {
                let rest = &text[at + "secret".len()..];
                let open = rest.find('"').ok_or("no quoted secret after `secret`")?;
                let rest = &rest[open + 1..];
                let close = rest
                    .find('"')
                    .ok_or("the secret's closing quote is missing")?;
                &rest[..close]
            }
            None => text.trim(),
        };
        let secret = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| "the secret is not base64")?;
        if secret.is_empty() {
            return Err("the secret is empty");
        }
        Ok(secret)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn algorithm(&self) -> TsigAlgorithm {
        self.algorithm
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

/// The TSIG error codes (RFC 8945, section 5.2), named for messages.
pub(crate) fn tsig_error_name(code: u16) -> &'static str {
    match code {
        0 => "NOERROR",
        16 => "BADSIG",
        17 => "BADKEY",
        18 => "BADTIME",
        22 => "BADTRUNC",
        _ => "unknown tsig error",
    }
}

/// The variables after the message in the MAC input (RFC 8945, 4.3.3).
fn variables(
    out: &mut Vec<u8>,
    key: &TsigKey,
    time: u64,
    fudge: u16,
    error: u16,
    other: &[u8],
) -> Result<(), DnsError> {
    encode_name(out, &key.name)?;
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    encode_name(out, key.algorithm.name())?;
    out.extend_from_slice(&time.to_be_bytes()[2..]);
    out.extend_from_slice(&fudge.to_be_bytes());
    out.extend_from_slice(&error.to_be_bytes());
    let other_len =
        u16::try_from(other.len()).map_err(|_| DnsError::Malformed("tsig other data"))?;
    out.extend_from_slice(&other_len.to_be_bytes());
    out.extend_from_slice(other);
    Ok(())
}

/// Signs `msg` (a complete message without TSIG) at `now` (Unix seconds):
/// appends the TSIG record and counts it in ARCOUNT. Returns the MAC, which
/// the response's signature covers.
pub(crate) fn sign(msg: &mut Vec<u8>, key: &TsigKey, now: u64) -> Result<Vec<u8>, DnsError> {
    if msg.len() < HEADER_LEN {
        return Err(DnsError::Malformed("message shorter than a header"));
    }
    let mut input = msg.clone();
    variables(&mut input, key, now, FUDGE, 0, &[])?;
    let mac = hmac::sign(&key.key, &input).as_ref().to_vec();

    let mut rdata = Vec::with_capacity(32 + mac.len());
    encode_name(&mut rdata, key.algorithm.name())?;
    rdata.extend_from_slice(&now.to_be_bytes()[2..]);
    rdata.extend_from_slice(&FUDGE.to_be_bytes());
    rdata.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    rdata.extend_from_slice(&mac);
    rdata.extend_from_slice(&msg[0..2]); // original id
    rdata.extend_from_slice(&0u16.to_be_bytes()); // error
    rdata.extend_from_slice(&0u16.to_be_bytes()); // other len

    encode_name(msg, &key.name)?;
    msg.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    msg.extend_from_slice(&CLASS_ANY.to_be_bytes());
    msg.extend_from_slice(&0u32.to_be_bytes());
    msg.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    msg.extend_from_slice(&rdata);
    let arcount = u16::from_be_bytes([msg[10], msg[11]])
        .checked_add(1)
        .ok_or(DnsError::Malformed("too many additional records"))?;
    msg[10..12].copy_from_slice(&arcount.to_be_bytes());
    Ok(mac)
}

/// Checks the TSIG of `msg`, the response to a request signed with
/// `request_mac`, at `now`. A TSIG error the server reports (it could not
/// verify our request) is [`DnsError::TsigRejected`]; a missing or wrong
/// signature on the response is [`DnsError::BadResponseSignature`].
pub(crate) fn verify(
    msg: &[u8],
    parsed: &Response,
    request_mac: &[u8],
    key: &TsigKey,
    now: u64,
) -> Result<(), DnsError> {
    let unsigned = DnsError::BadResponseSignature("the response is not signed");
    let tsig = parsed.additional.last().ok_or(unsigned)?;
    if tsig.rtype != TYPE_TSIG {
        return Err(DnsError::BadResponseSignature("the response is not signed"));
    }
    let mut r = Reader {
        msg,
        pos: tsig.rdata_offset,
    };
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
    if error != 0 {
        return Err(DnsError::TsigRejected {
            error: tsig_error_name(error),
        });
    }
    if tsig.name != key.name || algorithm != key.algorithm.name() {
        return Err(DnsError::BadResponseSignature("signed with another key"));
    }

    let mut input = Vec::with_capacity(msg.len() + request_mac.len() + 64);
    input.extend_from_slice(&(request_mac.len() as u16).to_be_bytes());
    input.extend_from_slice(request_mac);
    let body = msg
        .get(..tsig.offset)
        .filter(|b| b.len() >= HEADER_LEN)
        .ok_or(DnsError::Malformed("tsig record out of place"))?;
    let start = input.len();
    input.extend_from_slice(body);
    input[start..start + 2].copy_from_slice(&original_id.to_be_bytes());
    let arcount = u16::from_be_bytes([body[10], body[11]]).saturating_sub(1);
    input[start + 10..start + 12].copy_from_slice(&arcount.to_be_bytes());
    variables(&mut input, key, time, fudge, error, other)?;
    hmac::verify(&key.key, &input, mac)
        .map_err(|_| DnsError::BadResponseSignature("the response's signature does not verify"))?;
    if now.abs_diff(time) > u64::from(fudge) {
        return Err(DnsError::BadResponseSignature(
            "the response was signed outside the allowed clock difference",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::wire::{update, Change};
    use super::*;

    fn key() -> TsigKey {
        TsigKey::new(
            "Wingress",
            TsigAlgorithm::HmacSha256,
            b"0123456789abcdef0123456789abcdef",
        )
    }

    /// What a server does: check the request MAC, then sign the response
    /// over the request MAC, as RFC 8945 (4.3.3) says.
    fn server_reply(request: &[u8], request_mac: &[u8], key: &TsigKey, now: u64) -> Vec<u8> {
        // The header alone, as a response with no records yet.
        let mut reply = request[..12].to_vec();
        reply[2] |= 0x80;
        reply[4..12].fill(0);
        let mut input = (request_mac.len() as u16).to_be_bytes().to_vec();
        input.extend_from_slice(request_mac);
        input.extend_from_slice(&reply);
        variables(&mut input, key, now, FUDGE, 0, &[]).unwrap();
        let mac = hmac::sign(&key.key, &input).as_ref().to_vec();
        let mut rdata = Vec::new();
        encode_name(&mut rdata, key.algorithm.name()).unwrap();
        rdata.extend_from_slice(&now.to_be_bytes()[2..]);
        rdata.extend_from_slice(&FUDGE.to_be_bytes());
        rdata.extend_from_slice(&(mac.len() as u16).to_be_bytes());
        rdata.extend_from_slice(&mac);
        rdata.extend_from_slice(&reply[0..2]);
        rdata.extend_from_slice(&[0, 0, 0, 0]);
        encode_name(&mut reply, key.name()).unwrap();
        reply.extend_from_slice(&[0, 250, 0, 255, 0, 0, 0, 0]);
        reply.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        reply.extend_from_slice(&rdata);
        reply[11] = 1;
        reply
    }

    #[test]
    fn signed_request_carries_a_verifiable_mac() {
        let k = key();
        let mut msg = update(
            9,
            "example.com",
            &[Change::DeleteTxt {
                name: "x.example.com",
                value: "v",
            }],
        )
        .unwrap();
        let unsigned = msg.clone();
        let mac = sign(&mut msg, &k, 1_700_000_000).unwrap();
        assert_eq!(mac.len(), 32);
        assert_eq!(&msg[10..12], &[0, 1], "ARCOUNT counts the TSIG");
        // The MAC is HMAC(secret, message || variables): recompute it.
        let mut input = unsigned.clone();
        variables(&mut input, &k, 1_700_000_000, FUDGE, 0, &[]).unwrap();
        assert!(hmac::verify(&k.key, &input, &mac).is_ok());
        assert!(
            msg.ends_with(&[0, 9, 0, 0, 0, 0]),
            "original id, error, other len"
        );
    }

    #[test]
    fn responses_verify_only_with_the_right_key_mac_and_time() {
        let k = key();
        let now = 1_700_000_000;
        let mut msg = update(9, "example.com", &[]).unwrap();
        let mac = sign(&mut msg, &k, now).unwrap();
        let reply = server_reply(&msg, &mac, &k, now);
        let parsed = Response::parse(&reply).unwrap();
        verify(&reply, &parsed, &mac, &k, now + 10).unwrap();

        // Another request's MAC, another secret, a flipped byte, a stale clock.
        assert!(matches!(
            verify(&reply, &parsed, &[0; 32], &k, now),
            Err(DnsError::BadResponseSignature(_))
        ));
        let other = TsigKey::new("wingress.", TsigAlgorithm::HmacSha256, b"another secret");
        assert!(verify(&reply, &parsed, &mac, &other, now).is_err());
        let mut bad = reply.clone();
        bad[3] ^= 1;
        let parsed_bad = Response::parse(&bad).unwrap();
        assert!(verify(&bad, &parsed_bad, &mac, &k, now).is_err());
        assert!(verify(&reply, &parsed, &mac, &k, now + 301).is_err());
        // No TSIG at all.
        let mut plain = reply[..12].to_vec();
        plain[11] = 0;
        let parsed_plain = Response::parse(&plain).unwrap();
        assert!(matches!(
            verify(&plain, &parsed_plain, &mac, &k, now),
            Err(DnsError::BadResponseSignature(_))
        ));
    }

    #[test]
    fn secrets_parse_from_base64_or_a_tsig_keygen_file() {
        let keygen = "key \"wingress\" {\n\talgorithm hmac-sha256;\n\tsecret \"AAECAw==\";\n};\n";
        assert_eq!(TsigKey::parse_secret(keygen).unwrap(), [0, 1, 2, 3]);
        assert_eq!(TsigKey::parse_secret(" AAECAw==\n").unwrap(), [0, 1, 2, 3]);
        assert!(TsigKey::parse_secret("not base64!").is_err());
        assert!(TsigKey::parse_secret("secret \"unterminated").is_err());
        assert!(TsigKey::parse_secret("").is_err());
        assert!(!format!("{:?}", key()).contains("0123"));
    }
}
