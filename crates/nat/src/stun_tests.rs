use super::*;

/// RFC 5769 §2.1: sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED,
/// USERNAME, MESSAGE-INTEGRITY, FINGERPRINT).
const RFC5769_REQUEST: [u8; 108] = [
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
];

/// RFC 5769 §2.2: sample IPv4 response, mapped address 192.0.2.1:32853.
const RFC5769_IPV4_RESPONSE: [u8; 80] = [
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
];

/// RFC 5769 §2.3: sample IPv6 response, mapped address
/// [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const RFC5769_IPV6_RESPONSE: [u8; 92] = [
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
];

const RFC5769_ID: TransactionId = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];

#[test]
fn crc32_check_value() {
    // The standard check value of CRC-32/ISO-HDLC.
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

#[test]
fn rfc5769_fingerprints_verify() {
    for (m, fp) in [
        (&RFC5769_REQUEST[..], 0xe57a_3bcf),
        (&RFC5769_IPV4_RESPONSE[..], 0xc07d_4c96),
        (&RFC5769_IPV6_RESPONSE[..], 0xc8fb_0b4c),
    ] {
        let body = &m[..m.len() - 8];
        assert_eq!(crc32(body) ^ FINGERPRINT_XOR, fp);
        assert!(looks_like_stun(m));
    }
}

#[test]
fn rfc5769_ipv4_response() {
    let r = parse_binding_response(&RFC5769_IPV4_RESPONSE).unwrap();
    assert_eq!(r.id, RFC5769_ID);
    assert_eq!(
        r.outcome,
        Outcome::Mapped("192.0.2.1:32853".parse().unwrap())
    );
    assert_eq!(r.other_address, None);
}

#[test]
fn rfc5769_ipv6_response() {
    let r = parse_binding_response(&RFC5769_IPV6_RESPONSE).unwrap();
    assert_eq!(
        r.outcome,
        Outcome::Mapped(
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                .parse()
                .unwrap()
        )
    );
}

#[test]
fn our_xor_encoding_matches_rfc5769() {
    // The XOR-MAPPED-ADDRESS value bytes of §2.2 and §2.3.
    let v4 = xor_address("192.0.2.1:32853".parse().unwrap(), &RFC5769_ID);
    assert_eq!(v4, RFC5769_IPV4_RESPONSE[40..48]);
    let v6 = xor_address(
        "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
            .parse()
            .unwrap(),
        &RFC5769_ID,
    );
    assert_eq!(v6, RFC5769_IPV6_RESPONSE[40..60]);
}

#[test]
fn a_request_is_not_a_response() {
    assert_eq!(
        parse_binding_response(&RFC5769_REQUEST),
        Err(StunError::NotBindingResponse(0x0001))
    );
}

#[test]
fn a_corrupted_fingerprint_is_refused() {
    let mut m = RFC5769_IPV4_RESPONSE;
    m[79] ^= 1;
    assert_eq!(parse_binding_response(&m), Err(StunError::Fingerprint));
    // A flipped bit in the mapped address breaks the CRC too.
    let mut m = RFC5769_IPV4_RESPONSE;
    m[45] ^= 1;
    assert_eq!(parse_binding_response(&m), Err(StunError::Fingerprint));
}

#[test]
fn requests_round_trip_with_fingerprint() {
    let id = [7u8; 12];
    let plain = binding_request(&id, None);
    assert_eq!(plain.len(), HEADER_LEN + 8);
    assert_eq!(&plain[..2], &[0, 1]);
    assert_eq!(&plain[2..4], &[0, 8]);
    assert!(looks_like_stun(&plain));
    assert_eq!(transaction_id(&plain), Some(id));
    let fp = crc32(&plain[..HEADER_LEN]) ^ FINGERPRINT_XOR;
    assert_eq!(plain[24..28], fp.to_be_bytes());

    let change = binding_request(
        &id,
        Some(ChangeRequest {
            ip: true,
            port: true,
        }),
    );
    assert_eq!(&change[20..28], &[0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0x06]);
    assert_eq!(&change[2..4], &[0, 16]);
}

#[test]
fn success_and_error_responses_round_trip() {
    let id = [9u8; 12];
    let mapped: SocketAddr = "203.0.113.2:41602".parse().unwrap();
    let other: SocketAddr = "192.0.2.2:3479".parse().unwrap();
    let r = parse_binding_response(&binding_success(&id, mapped, Some(other))).unwrap();
    assert_eq!(r.outcome, Outcome::Mapped(mapped));
    assert_eq!(r.other_address, Some(other));
    let e = parse_binding_response(&binding_error(&id, 420, "Unknown Attribute")).unwrap();
    assert_eq!(
        e.outcome,
        Outcome::Error {
            code: 420,
            reason: "Unknown Attribute".into()
        }
    );
}

#[test]
fn wireguard_messages_are_not_stun() {
    // Handshake initiation (type 1), response (2), cookie (3), data (4)
    // start with three zero bytes. Even a 20-byte one whose sender index
    // happens to equal the magic cookie (so the STUN length field, 0,
    // matches) is not taken for STUN.
    for t in 1..=4u8 {
        let mut m = vec![0u8; HEADER_LEN];
        m[0] = t;
        m[4..8].copy_from_slice(&MAGIC_COOKIE);
        assert!(!looks_like_stun(&m), "type {t}");
        m.resize(148, 0);
        assert!(!looks_like_stun(&m), "type {t}, 148 bytes");
    }
}

#[test]
fn garbage_never_panics() {
    // Every prefix and a few mutations of real messages: errors, no panic.
    let samples: [&[u8]; 3] = [
        &RFC5769_REQUEST,
        &RFC5769_IPV4_RESPONSE,
        &RFC5769_IPV6_RESPONSE,
    ];
    for s in samples {
        for n in 0..s.len() {
            let _ = parse_binding_response(&s[..n]);
            let _ = looks_like_stun(&s[..n]);
        }
        for i in HEADER_LEN..s.len() {
            let mut m = s.to_vec();
            m[i] = 0xFF;
            let _ = parse_binding_response(&m);
        }
    }
    // An attribute claiming more bytes than the message has.
    let mut m = header(BINDING_SUCCESS, &[1; 12]);
    m.extend_from_slice(&[0x00, 0x20, 0x00, 0x40, 0, 1, 0, 0]);
    set_length(&mut m);
    assert_eq!(
        parse_binding_response(&m),
        Err(StunError::Truncated { kind: 0x0020 })
    );
}
