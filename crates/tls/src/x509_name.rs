//! The one thing we read from an X.509 `Name` ourselves: the common name.
//!
//! webpki hands out the subject as raw DER (the contents of the `Name`
//! SEQUENCE) and x509-parser is not a direct dependency, so this walks the
//! `RDNSequence` by hand. Input comes from client certificates: every length
//! is checked, nothing indexes, and the result is refused if it could smuggle
//! control characters into logs or headers.

/// 2.5.4.3, id-at-commonName.
const CN_OID: &[u8] = &[0x55, 0x04, 0x03];
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_UTF8_STRING: u8 = 0x0c;
const TAG_PRINTABLE_STRING: u8 = 0x13;
const TAG_IA5_STRING: u8 = 0x16;
/// Longer than any sane CN (RFC 5280's upper bound is 64) yet small enough for a header.
const MAX_CN_LEN: usize = 256;

/// The first common name in `name` (contents of a DER `Name`, as
/// `webpki::Cert::subject` returns), if it is a printable string.
pub(crate) fn common_name(name: &[u8]) -> Option<String> {
    let mut rdns = name;
    while !rdns.is_empty() {
        let (tag, set, rest) = split_tlv(rdns)?;
        rdns = rest;
        if tag != TAG_SET {
            return None;
        }
        let mut attributes = set;
        while !attributes.is_empty() {
            let (tag, attribute, rest) = split_tlv(attributes)?;
            attributes = rest;
            if tag != TAG_SEQUENCE {
                return None;
            }
            let (oid_tag, oid, value) = split_tlv(attribute)?;
            if oid_tag != TAG_OID || oid != CN_OID {
                continue;
            }
            let (value_tag, value, _) = split_tlv(value)?;
            return match value_tag {
                TAG_UTF8_STRING | TAG_PRINTABLE_STRING | TAG_IA5_STRING => printable(value),
                _ => None,
            };
        }
    }
    None
}

/// Splits one DER element off `input`: (tag, contents, rest).
fn split_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    // Multi-byte tags never occur in a Name.
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        // Three length octets allow 16 MiB, far beyond any certificate.
        if count == 0 || count > 3 {
            return None;
        }
        let (octets, rest) = rest.split_at_checked(count)?;
        let len = octets
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

fn printable(bytes: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(bytes).ok()?;
    let ok = !s.is_empty() && s.len() <= MAX_CN_LEN && !s.chars().any(char::is_control);
    ok.then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject_of(params: rcgen::CertificateParams) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let ee = webpki::EndEntityCert::try_from(cert.der()).unwrap();
        ee.subject().to_vec()
    }

    #[test]
    fn finds_the_common_name_among_other_attributes() {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Example Org");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "alice@example.com");
        let subject = subject_of(params);
        assert_eq!(common_name(&subject).as_deref(), Some("alice@example.com"));
    }

    #[test]
    fn no_common_name_is_none() {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Example Org");
        assert_eq!(common_name(&subject_of(params)), None);
    }

    #[test]
    fn control_characters_are_refused() {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "evil\r\nX-Injected: 1");
        assert_eq!(common_name(&subject_of(params)), None);
    }

    #[test]
    fn truncated_and_corrupted_input_never_panics() {
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "truncate me");
        let subject = subject_of(params);
        for len in 0..subject.len() {
            let _ = common_name(&subject[..len]);
        }
        for i in 0..subject.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = subject.clone();
                bad[i] ^= flip;
                let _ = common_name(&bad);
            }
        }
        assert_eq!(split_tlv(&[0x30, 0x84, 1, 0, 0, 0]), None);
        assert_eq!(split_tlv(&[0x1f, 0x01, 0x00]), None);
        assert_eq!(split_tlv(&[0x30, 0x05, 0x00]), None);
    }
}
