//! Certificates around a given subject and subjectAltName, for the
//! x509_name target and its seeds: every other field is fixed and valid
//! enough for webpki to parse (the signature is never checked there).

/// A DER element with a definite length.
pub fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A certificate with `subject` (the Name's contents) and, when given, a
/// subjectAltName extension with `san` as its value's contents.
pub fn certificate(subject: &[u8], san: Option<&[u8]>) -> Vec<u8> {
    const ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let alg = seq(&[&tlv(0x06, ECDSA_SHA256)]);
    let issuer = seq(&[&tlv(
        0x31,
        &seq(&[&tlv(0x06, &[0x55, 0x04, 0x03]), &tlv(0x0c, b"fuzz ca")]),
    )]);
    let validity = seq(&[&tlv(0x17, b"250101000000Z"), &tlv(0x17, b"350101000000Z")]);
    let mut point = vec![0x00, 0x04];
    point.extend_from_slice(&[0x5a; 64]);
    let spki = seq(&[
        &seq(&[&tlv(0x06, EC_PUBLIC_KEY), &tlv(0x06, P256)]),
        &tlv(0x03, &point),
    ]);
    let mut tbs = vec![
        tlv(0xa0, &tlv(0x02, &[2])),
        tlv(0x02, &[1]),
        alg.clone(),
        issuer,
        validity,
        tlv(0x30, subject),
        spki,
    ];
    if let Some(san) = san {
        let ext = seq(&[&tlv(0x06, &[0x55, 0x1d, 0x11]), &tlv(0x04, &tlv(0x30, san))]);
        tbs.push(tlv(0xa3, &seq(&[&ext])));
    }
    let tbs = tlv(0x30, &tbs.concat());
    seq(&[&tbs, &alg, &tlv(0x03, &[0x00, 0x30, 0x00])])
}
