use super::*;

#[test]
fn requests_have_the_rfc_6886_layout() {
    assert_eq!(external_address_request(), [0, 0]);
    // §3.3: version, opcode 1 (UDP), reserved, internal port,
    // suggested external port, requested lifetime (7200 s recommended).
    assert_eq!(
        map_request(41602, 41602, 7200),
        [0, 1, 0, 0, 0xA2, 0x82, 0xA2, 0x82, 0, 0, 0x1C, 0x20]
    );
    // §3.4: deletion is lifetime 0 and suggested external port 0.
    assert_eq!(
        map_request(41602, 0, 0),
        [0, 1, 0, 0, 0xA2, 0x82, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn parses_responses() {
    // §3.2: version, opcode 128, result 0, epoch, external address.
    let r = [0, 128, 0, 0, 0, 0, 0x01, 0x2C, 203, 0, 113, 2];
    assert_eq!(
        parse_response(&r),
        Ok(Response::ExternalAddress {
            epoch: 300,
            address: Ipv4Addr::new(203, 0, 113, 2)
        })
    );
    // §3.3: opcode 129, epoch, internal port, mapped port, lifetime.
    let r = [
        0, 129, 0, 0, 0, 0, 0, 9, 0xA2, 0x82, 0xA3, 0x00, 0, 0, 0x0E, 0x10,
    ];
    assert_eq!(
        parse_response(&r),
        Ok(Response::Mapped {
            epoch: 9,
            internal_port: 41602,
            external_port: 41728,
            lifetime_secs: 3600
        })
    );
}

#[test]
fn result_codes_and_foreign_versions_are_errors() {
    let refused = [0, 129, 0, 2, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        parse_response(&refused),
        Err(NatPmpError::Result(ResultCode::NotAuthorized))
    );
    // A PCP server answering a NAT-PMP request uses version 2.
    assert_eq!(
        parse_response(&[2, 129, 0, 1]),
        Err(NatPmpError::Version(2))
    );
    assert_eq!(parse_response(&[0, 1, 0, 0]), Err(NatPmpError::Opcode(1)));
    assert_eq!(
        parse_response(&[0, 129, 0, 0, 0]),
        Err(NatPmpError::TooShort(5))
    );
    for n in 0..16 {
        let _ = parse_response(&[0x80; 16][..n]);
    }
}
