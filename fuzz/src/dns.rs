//! The dns-01 client's side of TSIG, fixed: a key, the MAC of one signed
//! UPDATE, and a server's signature over an answer to it (RFC 8945
//! §4.3.3), computed here with ring, independently of wingress-dns's
//! signer, so the target checks the verifier against another reading of
//! the RFC.

use std::sync::OnceLock;

use ring::hmac;
use wingress_dns::tsig::{self, TsigAlgorithm, TsigKey};
use wingress_dns::update::{self, Change};
use wingress_dns::wire::{append_additional, CLASS_ANY, TYPE_TSIG};
use wingress_dns::Name;

pub const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
pub const KEY_NAME: &str = "wingress.";
pub const NOW: u64 = 1_700_000_000;
const FUDGE: u16 = 300;

pub fn key() -> TsigKey {
    TsigKey::new(KEY_NAME, TsigAlgorithm::HmacSha256, SECRET)
}

/// The MAC of the signed UPDATE the answers answer.
pub fn request_mac() -> &'static [u8] {
    static MAC: OnceLock<Vec<u8>> = OnceLock::new();
    MAC.get_or_init(|| {
        let mut msg = update::update(
            9,
            "example.com",
            &[Change::AddTxt {
                name: "_acme-challenge.example.com",
                ttl: 60,
                value: "token",
            }],
        )
        .expect("update");
        tsig::sign(&mut msg, &key(), NOW).expect("sign")
    })
}

/// `body` signed over the request MAC, as a server signs its answer.
pub fn server_sign(body: &[u8]) -> Option<Vec<u8>> {
    let name = |s: &str| {
        let mut w = Vec::new();
        Name::parse(s).expect("name").to_wire(&mut w);
        w
    };
    let mac_of = request_mac();
    let mut input = (mac_of.len() as u16).to_be_bytes().to_vec();
    input.extend_from_slice(mac_of);
    input.extend_from_slice(body);
    input.extend_from_slice(&name(KEY_NAME));
    input.extend_from_slice(&CLASS_ANY.to_be_bytes());
    input.extend_from_slice(&0u32.to_be_bytes());
    input.extend_from_slice(&name("hmac-sha256."));
    input.extend_from_slice(&NOW.to_be_bytes()[2..]);
    input.extend_from_slice(&FUDGE.to_be_bytes());
    input.extend_from_slice(&[0, 0, 0, 0]); // error, other length
    let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, SECRET), &input);
    let mut rdata = name("hmac-sha256.");
    rdata.extend_from_slice(&NOW.to_be_bytes()[2..]);
    rdata.extend_from_slice(&FUDGE.to_be_bytes());
    rdata.extend_from_slice(&(mac.as_ref().len() as u16).to_be_bytes());
    rdata.extend_from_slice(mac.as_ref());
    rdata.extend_from_slice(body.get(..2)?);
    rdata.extend_from_slice(&[0, 0, 0, 0]);
    let mut signed = body.to_vec();
    append_additional(
        &mut signed,
        &Name::parse(KEY_NAME).expect("name"),
        TYPE_TSIG,
        CLASS_ANY,
        0,
        &rdata,
    )
    .ok()?;
    Some(signed)
}
