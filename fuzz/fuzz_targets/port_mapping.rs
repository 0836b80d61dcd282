//! The PCP (RFC 6887) and NAT-PMP (RFC 6886) answer parsers: whatever a
//! host on the LAN sends to the mapping port.
//!
//! Input: one datagram, given to both parsers (a PCP server answering a
//! NAT-PMP request, and the reverse, happen).
//!
//! Checked: nothing panics; a PCP MAP answer the parser accepts carries
//! the fields at their RFC 6887 offsets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wingress_nat::{natpmp, pcp};

fuzz_target!(|data: &[u8]| {
    if let Ok(pcp::Response::Map {
        nonce,
        external_port,
        ..
    }) = pcp::parse_response(data)
    {
        assert_eq!(&nonce[..], &data[24..36]);
        assert_eq!(external_port.to_be_bytes(), [data[42], data[43]]);
    }
    if let Ok(r) = natpmp::parse_response(data) {
        assert_eq!(
            r.epoch().to_be_bytes(),
            [data[4], data[5], data[6], data[7]]
        );
    }
});
