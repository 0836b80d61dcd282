use super::*;

fn request() -> MapRequest {
    MapRequest {
        client: Ipv4Addr::new(192, 168, 10, 2),
        nonce: [0xAB; 12],
        internal_port: 41602,
        suggested_external_port: 41602,
        suggested_external_address: Ipv4Addr::UNSPECIFIED,
        lifetime_secs: 7200,
    }
}

#[test]
fn map_request_has_the_rfc_6887_layout() {
    let m = request().encode();
    // §7.1 header: version 2, R=0 + opcode MAP, reserved, lifetime,
    // client address as IPv4-mapped IPv6.
    assert_eq!(&m[..8], &[2, 1, 0, 0, 0, 0, 0x1C, 0x20]);
    assert_eq!(
        &m[8..24],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 168, 10, 2]
    );
    // §11.1 MAP: nonce, protocol 17, reserved, internal port, suggested
    // external port, suggested external address (::ffff:0.0.0.0).
    assert_eq!(&m[24..36], &[0xAB; 12]);
    assert_eq!(&m[36..40], &[17, 0, 0, 0]);
    assert_eq!(&m[40..44], &[0xA2, 0x82, 0xA2, 0x82]);
    assert_eq!(
        &m[44..60],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0]
    );
    let del = request().deletion().encode();
    assert_eq!(&del[4..8], &[0, 0, 0, 0]);
    assert_eq!(&del[24..36], &m[24..36], "a deletion reuses the nonce");
    assert_eq!(
        announce_request(Ipv4Addr::new(10, 0, 0, 1))[..4],
        [2, 0, 0, 0]
    );
}

fn response(result: u8, lifetime: u32, epoch: u32, port: u16) -> Vec<u8> {
    let mut r = vec![2, 0x81, 0, result];
    r.extend_from_slice(&lifetime.to_be_bytes());
    r.extend_from_slice(&epoch.to_be_bytes());
    r.extend_from_slice(&[0; 12]);
    r.extend_from_slice(&[0xAB; 12]);
    r.extend_from_slice(&[17, 0, 0, 0]);
    r.extend_from_slice(&41602u16.to_be_bytes());
    r.extend_from_slice(&port.to_be_bytes());
    r.extend_from_slice(&Ipv4Addr::new(203, 0, 113, 2).to_ipv6_mapped().octets());
    r
}

#[test]
fn parses_map_responses() {
    assert_eq!(
        parse_response(&response(0, 3600, 77, 41700)),
        Ok(Response::Map {
            epoch: 77,
            lifetime_secs: 3600,
            nonce: [0xAB; 12],
            internal_port: 41602,
            external_port: 41700,
            external_address: Some(Ipv4Addr::new(203, 0, 113, 2)),
        })
    );
    assert_eq!(
        parse_response(&response(2, 30, 77, 0)),
        Err(PcpError::Result {
            code: ResultCode::NotAuthorized,
            lifetime_secs: 30
        })
    );
    let mut announce = response(0, 0, 5, 0);
    announce[1] = 0x80;
    announce.truncate(HEADER_LEN);
    assert_eq!(
        parse_response(&announce),
        Ok(Response::Announce { epoch: 5 })
    );
}

#[test]
fn a_nat_pmp_gateway_answers_version_0() {
    // RFC 6886 §3.5: unsupported version, in NAT-PMP's own format.
    assert_eq!(
        parse_response(&[0, 129, 0, 1, 0, 0, 0, 5]),
        Err(PcpError::Version(0))
    );
    for n in 0..60 {
        let _ = parse_response(&response(0, 1, 1, 1)[..n]);
    }
}

#[test]
fn epoch_rules() {
    // Ten seconds on both clocks: fine.
    assert!(epoch_is_continuous((100, 1000), (110, 1010)));
    // The server's epoch went backwards: it restarted.
    assert!(!epoch_is_continuous((100, 1000), (110, 3)));
    // Our clock moved an hour, the server's ten seconds: it restarted
    // in between (and has been up ten seconds).
    assert!(!epoch_is_continuous((100, 1000), (3700, 1010)));
    // Small drift is tolerated both ways.
    assert!(epoch_is_continuous((0, 0), (1000, 1040)));
    assert!(epoch_is_continuous((0, 0), (1000, 960)));
}
