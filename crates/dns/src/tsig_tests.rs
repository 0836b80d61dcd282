use super::*;
use crate::update::{txt_query, update, Change};
use crate::wire::FLAG_QR;

fn key() -> TsigKey {
    TsigKey::new(
        "Wingress",
        TsigAlgorithm::HmacSha256,
        b"0123456789abcdef0123456789abcdef",
    )
}

/// What a server does with an unsigned response `reply`: sign it over the
/// request MAC, as RFC 8945 (4.3.3) says.
fn server_sign(mut reply: Vec<u8>, request_mac: &[u8], key: &TsigKey, now: u64) -> Vec<u8> {
    let mut input = (request_mac.len() as u16).to_be_bytes().to_vec();
    input.extend_from_slice(request_mac);
    input.extend_from_slice(&reply);
    variables(&mut input, key, now, FUDGE, 0, &[]).unwrap();
    let mac = hmac::sign(&key.key, &input).as_ref().to_vec();
    let mut rdata = Vec::new();
    key.algorithm.wire_name().unwrap().to_wire(&mut rdata);
    rdata.extend_from_slice(&now.to_be_bytes()[2..]);
    rdata.extend_from_slice(&FUDGE.to_be_bytes());
    rdata.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    rdata.extend_from_slice(&mac);
    rdata.extend_from_slice(&reply[0..2]);
    rdata.extend_from_slice(&[0, 0, 0, 0]);
    key.wire_name().unwrap().to_wire(&mut reply);
    reply.extend_from_slice(&[0, 250, 0, 255, 0, 0, 0, 0]);
    reply.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    reply.extend_from_slice(&rdata);
    reply[11] += 1;
    reply
}

/// The header of `request` alone, as a response with no records yet,
/// signed like a server does.
fn server_reply(request: &[u8], request_mac: &[u8], key: &TsigKey, now: u64) -> Vec<u8> {
    let mut reply = request[..12].to_vec();
    reply[2] |= 0x80;
    reply[4..12].fill(0);
    server_sign(reply, request_mac, key, now)
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
    // The record is the one RFC 8945 describes: key name, TSIG, ANY, TTL 0.
    let parsed = Message::parse(&msg).unwrap();
    let tsig = parsed.additional.last().unwrap();
    assert_eq!(tsig.owner, Name::from_dotted("wingress").unwrap());
    assert_eq!(
        (tsig.rtype, tsig.class, tsig.ttl),
        (TYPE_TSIG, CLASS_ANY, 0)
    );
    // A key whose name is not a DNS name cannot sign.
    let bad = TsigKey::new("a..b", TsigAlgorithm::HmacSha256, b"k");
    assert_eq!(
        sign(&mut unsigned.clone(), &bad, 0),
        Err(TsigError::Wire(WireError::BadName))
    );
}

#[test]
fn responses_verify_only_with_the_right_key_mac_and_time() {
    let k = key();
    let now = 1_700_000_000;
    let mut msg = update(9, "example.com", &[]).unwrap();
    let mac = sign(&mut msg, &k, now).unwrap();
    let reply = server_reply(&msg, &mac, &k, now);
    let parsed = Message::parse_response(&reply).unwrap();
    verify(&parsed, &mac, &k, now + 10).unwrap();

    // Another request's MAC, another secret, a flipped byte, a stale clock.
    assert!(matches!(
        verify(&parsed, &[0; 32], &k, now),
        Err(TsigError::Untrusted(_))
    ));
    let other = TsigKey::new("wingress.", TsigAlgorithm::HmacSha256, b"another secret");
    assert!(verify(&parsed, &mac, &other, now).is_err());
    let mut bad = reply.clone();
    bad[3] ^= 1;
    let parsed_bad = Message::parse_response(&bad).unwrap();
    assert!(verify(&parsed_bad, &mac, &k, now).is_err());
    assert!(verify(&parsed, &mac, &k, now + 301).is_err());
    // No TSIG at all.
    let mut plain = reply[..12].to_vec();
    plain[11] = 0;
    let parsed_plain = Message::parse_response(&plain).unwrap();
    assert!(matches!(
        verify(&parsed_plain, &mac, &k, now),
        Err(TsigError::Untrusted(_))
    ));
}

#[test]
fn a_tsig_error_from_the_server_is_a_rejection() {
    let k = key();
    let mut msg = update(9, "example.com", &[]).unwrap();
    let mac = sign(&mut msg, &k, 1_700_000_000).unwrap();
    // What a server sends when our MAC is wrong: unsigned (MAC size 0),
    // error BADSIG (16).
    let mut reply = msg[..12].to_vec();
    reply[2] |= 0x80;
    reply[3] = 9; // NOTAUTH
    reply[4..12].fill(0);
    let mut rdata = Vec::new();
    k.algorithm.wire_name().unwrap().to_wire(&mut rdata);
    rdata.extend_from_slice(&1_700_000_000u64.to_be_bytes()[2..]);
    rdata.extend_from_slice(&[1, 44, 0, 0, 0, 9, 0, 16, 0, 0]);
    append_additional(&mut reply, &k.wire_name().unwrap(), 250, 255, 0, &rdata).unwrap();
    let parsed = Message::parse_response(&reply).unwrap();
    assert_eq!(
        verify(&parsed, &mac, &k, 1_700_000_000),
        Err(TsigError::Rejected { error: "BADSIG" })
    );
}

#[test]
fn every_single_byte_corruption_of_a_signed_response_is_refused() {
    let k = key();
    let now = 1_700_000_000;
    let mut request = txt_query(0x4242, "_acme-challenge.a.example").unwrap();
    let mac = sign(&mut request, &k, now).unwrap();
    // A response with the question and one TXT answer pointing at it.
    let question_end = HEADER_LEN + 1 + "_acme-challenge.a.example".len() + 1 + 4;
    let mut body = request[..question_end].to_vec();
    body[2] = (FLAG_QR >> 8) as u8 | 0x04;
    body[7] = 1;
    body[11] = 0;
    body.extend_from_slice(b"\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x3c\x00\x04\x03abc");
    let good = server_sign(body, &mac, &k, now);
    let parsed = Message::parse_response(&good).unwrap();
    verify(&parsed, &mac, &k, now).unwrap();

    for cut in 0..good.len() {
        if let Ok(m) = Message::parse_response(&good[..cut]) {
            assert!(verify(&m, &mac, &k, now).is_err(), "cut at {cut}");
        }
    }
    // Bytes 0 and 1 are the ID, which the signature leaves out by design
    // (see `verify`); every other byte is covered or checked.
    for i in 2..good.len() {
        for b in [0x00, 0x01, 0x3f, 0x40, 0x80, 0xc0, 0xfe, 0xff] {
            if good[i] == b {
                continue;
            }
            let mut m = good.clone();
            m[i] = b;
            if let Ok(parsed) = Message::parse_response(&m) {
                assert!(verify(&parsed, &mac, &k, now).is_err(), "byte {i} = {b:#x}");
            }
        }
    }
}

#[test]
fn keys_come_from_base64_or_a_tsig_keygen_file() {
    let sha256 = TsigAlgorithm::HmacSha256;
    let keygen = "key \"wingress\" {\n\talgorithm hmac-sha256;\n\tsecret \"AAECAw==\";\n};\n";
    let from_file = TsigKey::from_secret_file(keygen, "wingress.", sha256).unwrap();
    let direct = TsigKey::new("wingress.", sha256, &[0, 1, 2, 3]);
    let mac = |k: &TsigKey| hmac::sign(&k.key, b"m").as_ref().to_vec();
    assert_eq!(mac(&from_file), mac(&direct));
    let bare = TsigKey::from_secret_file(" AAECAw==\n", "wingress", sha256).unwrap();
    assert_eq!(mac(&bare), mac(&direct));
    assert_eq!(bare.name(), "wingress.");
    for bad in [
        "not base64!",
        "secret \"unterminated",
        "",
        "key \"k\" { secret \"\"; };",
    ] {
        assert!(
            TsigKey::from_secret_file(bad, "k.", sha256).is_err(),
            "{bad:?}"
        );
    }
    assert!(!format!("{:?}", key()).contains("0123"));
}

/// A key whose name contains "secret" (what `tsig-keygen acme-secret.`
/// writes): the first "secret" in the file was taken for the clause, and
/// the key refused.
#[test]
fn a_key_named_like_the_secret_clause_is_read() {
    let keygen = "key \"acme-secret.\" {\n\talgorithm hmac-sha256;\n\tsecret \"AAECAw==\";\n};\n";
    let key = TsigKey::from_secret_file(keygen, "acme-secret.", TsigAlgorithm::HmacSha256).unwrap();
    let direct = TsigKey::new("acme-secret.", TsigAlgorithm::HmacSha256, &[0, 1, 2, 3]);
    assert_eq!(
        hmac::sign(&key.key, b"m").as_ref(),
        hmac::sign(&direct.key, b"m").as_ref()
    );
}

#[test]
fn the_configured_key_name_and_algorithm_choose_and_check() {
    let two =
        "# keys for the lab\nkey \"other\" { algorithm hmac-sha512; secret \"/////w==\"; };\n\
               key wingress. { algorithm hmac-sha256; secret \"AAECAw==\"; };";
    let sha256 = TsigAlgorithm::HmacSha256;
    let k = TsigKey::from_secret_file(two, "WINGRESS", sha256).unwrap();
    assert_eq!(k.name(), "wingress.");
    let e = TsigKey::from_secret_file(two, "nope.", sha256).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no key named nope. in the file (it has other., wingress.)"
    );
    let e = TsigKey::from_secret_file(two, "other.", sha256).unwrap_err();
    assert_eq!(
        e.to_string(),
        "key other. uses hmac-sha512 in the file, not the configured hmac-sha256"
    );
    assert!(!e.to_string().contains("////"));
}
