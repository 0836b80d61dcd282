use super::*;
use crate::wire::{Rcode, FLAG_AA, FLAG_QR, HEADER_LEN};

/// The response named gives to `NS acme.test`: two NS records whose names
/// are compressed against the question (`ns` + pointer to `acme.test` at
/// offset 12), glue for both in the additional section (`\xc0\x27` and
/// `\xc0\x38` point at the NS names in the answers), with an A record for
/// another name mixed in.
fn ns_response() -> Vec<u8> {
    let mut m = query(0x0102, "acme.test", TYPE_NS).unwrap();
    m[2] = ((FLAG_QR | FLAG_AA) >> 8) as u8;
    m[7] = 2; // ANCOUNT
    m[11] = 4; // ARCOUNT
    assert_eq!(m.len(), 27, "header, acme.test, type and class");
    // Answer 1 at 27: owner -> 12, NS, IN, TTL 60, rdata `ns` + -> 12.
    m.extend_from_slice(b"\xc0\x0c\x00\x02\x00\x01\x00\x00\x00\x3c\x00\x05\x02ns\xc0\x0c");
    // Answer 2 at 44: rdata `ns2` + -> 12; its name starts at 56.
    m.extend_from_slice(b"\xc0\x0c\x00\x02\x00\x01\x00\x00\x00\x3c\x00\x06\x03ns2\xc0\x0c");
    // Glue: ns (at 39) A 127.0.0.1, ns2 (at 56) A 127.0.0.2 and AAAA ::2.
    m.extend_from_slice(b"\xc0\x27\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01");
    m.extend_from_slice(b"\xc0\x38\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x02");
    m.extend_from_slice(b"\xc0\x38\x00\x1c\x00\x01\x00\x00\x00\x3c\x00\x10");
    m.extend_from_slice(&Ipv6Addr::LOCALHOST.octets()[..15]);
    m.push(2);
    m.extend_from_slice(b"\x01x\x00\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x09");
    m
}

fn name(s: &str) -> Name {
    Name::from_dotted(s).unwrap()
}

#[test]
fn queries_ask_without_recursion() {
    let q = query(0xbeef, "Acme.Test.", TYPE_NS).unwrap();
    assert_eq!(
        &q[..HEADER_LEN],
        b"\xbe\xef\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    );
    assert_eq!(&q[HEADER_LEN..], b"\x04acme\x04test\x00\x00\x02\x00\x01");
    let q = query(1, "ns.acme.test", TYPE_AAAA).unwrap();
    assert_eq!(&q[q.len() - 4..], b"\x00\x1c\x00\x01");
    assert_eq!(query(1, "a..test", TYPE_A), Err(WireError::BadName));
}

#[test]
fn ns_names_and_glue_are_read_through_compression() {
    let bytes = ns_response();
    let m = Message::parse_response(&bytes).unwrap();
    assert_eq!((m.rcode(), m.authoritative()), (Rcode::NoError, true));
    assert_eq!(
        ns_names(&m, "ACME.test."),
        [name("ns.acme.test"), name("ns2.acme.test")]
    );
    assert!(
        ns_names(&m, "other.test").is_empty(),
        "owned by the zone only"
    );
    assert_eq!(
        addresses(&m, &name("ns.acme.test")),
        [IpAddr::from([127, 0, 0, 1])]
    );
    assert_eq!(
        addresses(&m, &name("ns2.acme.test")),
        [
            IpAddr::from([127, 0, 0, 2]),
            IpAddr::from("::2".parse::<Ipv6Addr>().unwrap())
        ]
    );
    assert!(addresses(&m, &name("ns3.acme.test")).is_empty());
}

#[test]
fn addresses_come_from_answers_too_and_bad_ones_are_skipped() {
    // An answer to `A ns.acme.test`: the address, a repeat of it, a
    // 5-byte "A", a CHAOS-class one and one owned by another name.
    let mut m = query(9, "ns.acme.test", TYPE_A).unwrap();
    m[2] = 0x84;
    m[7] = 5;
    let rr = |class: &[u8], rdata: &[u8]| {
        let mut r = b"\xc0\x0c\x00\x01".to_vec();
        r.extend_from_slice(class);
        r.extend_from_slice(b"\x00\x00\x00\x3c");
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(rdata);
        r
    };
    m.extend(rr(b"\x00\x01", &[192, 0, 2, 53]));
    m.extend(rr(b"\x00\x01", &[192, 0, 2, 53]));
    m.extend(rr(b"\x00\x01", &[192, 0, 2, 54, 0]));
    m.extend(rr(b"\x00\x03", &[192, 0, 2, 55]));
    m.extend_from_slice(b"\x01x\x00\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x38");
    let parsed = Message::parse_response(&m).unwrap();
    assert_eq!(
        addresses(&parsed, &name("ns.acme.test")),
        [IpAddr::from([192, 0, 2, 53])]
    );
}

#[test]
fn ns_rdata_that_is_not_exactly_one_name_is_skipped() {
    // The answers alone (no glue pointing into them); each variant changes
    // the first answer's rdata, the second NS stays.
    let answers = || {
        let mut m = ns_response();
        m.truncate(62);
        m[11] = 0;
        m
    };
    let names = |patch: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = answers();
        patch(&mut bytes);
        let m = Message::parse_response(&bytes).unwrap();
        ns_names(&m, "acme.test")
    };
    assert_eq!(names(&|_| {}).len(), 2);
    let second = [name("ns2.acme.test")];
    // The name's pointer aimed forward (at the second answer's name), or
    // into the header.
    assert_eq!(names(&|m| m[43] = 0x38), second);
    assert_eq!(names(&|m| m[43] = 0x02), second);
    // A trailing byte inside the rdata, the message otherwise consistent.
    let mut extra = query(3, "acme.test", TYPE_NS).unwrap();
    extra[2] = 0x84;
    extra[7] = 1;
    extra.extend_from_slice(b"\xc0\x0c\x00\x02\x00\x01\x00\x00\x00\x3c\x00\x06\x02ns\xc0\x0c\x00");
    let m = Message::parse_response(&extra).unwrap();
    assert_eq!(m.answers.len(), 1);
    assert!(ns_names(&m, "acme.test").is_empty());
    // An rdata length that takes in a byte of the next record, or leaves
    // out the pointer's last byte: the records after it shift, so the
    // message may no longer parse; if it does, the name is not read.
    for len in [4, 6] {
        let mut bytes = answers();
        bytes[38] = len;
        if let Ok(m) = Message::parse_response(&bytes) {
            assert!(!ns_names(&m, "acme.test").contains(&name("ns.acme.test")));
        }
    }
}

#[test]
fn corrupted_ns_answers_never_panic() {
    let good = ns_response();
    for i in 0..good.len() {
        for b in [0x00, 0x01, 0x3f, 0x40, 0xc0, 0xff] {
            let mut m = good.clone();
            m[i] = b;
            if let Ok(parsed) = Message::parse_response(&m) {
                for ns in ns_names(&parsed, "acme.test") {
                    let _ = addresses(&parsed, &ns);
                }
            }
        }
    }
    for cut in 0..good.len() {
        assert!(Message::parse_response(&good[..cut]).is_err());
    }
}
