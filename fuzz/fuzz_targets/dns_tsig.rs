//! DNS message parsing and TSIG verification as the dns-01 client does
//! them on the answers of the server it updates (`Message::parse_response`,
//! `tsig::verify`, and the readers of NS, address and TXT answers).
//!
//! Input: a mode byte, a byte position u16, a mask byte, then a message
//! (the rest). Mode 0 takes the message as the server's raw answer. Mode 1
//! signs it first as the server would (`wingress_fuzz::dns::server_sign`,
//! independent of the crate's signer), so verification runs
//! to the end; then it flips the bits of `mask` at the position (after
//! the ID, which TSIG does not cover) and verifies again.
//!
//! Checked: nothing panics; no raw answer verifies (the fuzzer has no
//! key); a signed answer verifies when the message ended at its last
//! record; a signed answer with a flipped bit never does.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use wingress_dns::{authority, tsig, update, Message};
use wingress_fuzz::dns::{key, request_mac, server_sign, NOW};

/// Everything the dns-01 client reads from an answer.
fn read_all(m: &Message<'_>) -> Result<(), tsig::TsigError> {
    let _ = update::txt_values(m, "_acme-challenge.example.com");
    for name in authority::ns_names(m, "example.com") {
        let _ = authority::addresses(m, &name);
    }
    for r in m.answers.iter().chain(&m.authority).chain(&m.additional) {
        let _ = m.rdata_name(r);
    }
    let _ = (m.rcode(), m.truncated(), m.authoritative());
    tsig::verify(m, request_mac(), &key(), NOW)
}

/// Whether the message's last record ends where the message does (bytes
/// after it would sit between the answer and its signature).
fn ends_at_last_record(m: &Message<'_>) -> bool {
    let last = m
        .additional
        .last()
        .or(m.authority.last())
        .or(m.answers.last());
    last.is_some_and(|r| r.rdata_offset + r.rdata.len() == m.bytes.len())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mode: u8 = u.arbitrary().unwrap_or(0);
    let at: u16 = u.arbitrary().unwrap_or(0);
    let mask: u8 = u.arbitrary().unwrap_or(0);
    let body = u.take_rest();
    if mode & 1 == 0 {
        if let Ok(m) = Message::parse_response(body) {
            assert!(read_all(&m).is_err(), "an answer nobody signed verified");
        }
        return;
    }
    let Some(signed) = server_sign(body) else {
        return;
    };
    let Ok(m) = Message::parse_response(&signed) else {
        return;
    };
    let verdict = read_all(&m);
    let plain = Message::parse(body);
    if plain.as_ref().is_ok_and(ends_at_last_record) {
        assert!(
            verdict.is_ok(),
            "a correctly signed answer was refused: {verdict:?}"
        );
    }
    if mask == 0 || signed.len() <= 2 {
        return;
    }
    let mut flipped = signed.clone();
    let i = 2 + usize::from(at) % (body.len().max(3) - 2);
    flipped[i] ^= mask;
    if let Ok(m) = Message::parse_response(&flipped) {
        assert!(read_all(&m).is_err(), "byte {i} flipped and still verified");
    }
});
