//! The one thing we read from an X.509 `Name` ourselves: the common name.
//!
//! webpki hands out the subject as raw DER (the contents of the `Name`
//! SEQUENCE); x509-parser reads its relative distinguished names. Input
//! comes from client certificates: the result is refused if it could
//! smuggle control characters into logs or headers.

use x509_parser::asn1_rs::Tag;
use x509_parser::oid_registry::OID_X509_COMMON_NAME;
use x509_parser::prelude::FromDer;
use x509_parser::x509::RelativeDistinguishedName;

/// Longer than any sane CN (RFC 5280's upper bound is 64) yet small enough for a header.
const MAX_CN_LEN: usize = 256;

/// The first common name in `name` (contents of a DER `Name`, as
/// `webpki::Cert::subject` returns), if it is a printable string. A name
/// that does not parse up to its first common name has none.
pub(crate) fn common_name(name: &[u8]) -> Option<String> {
    let mut rdns = name;
    while !rdns.is_empty() {
        let (rest, rdn) = RelativeDistinguishedName::from_der(rdns).ok()?;
        rdns = rest;
        let Some(cn) = rdn.iter().find(|a| *a.attr_type() == OID_X509_COMMON_NAME) else {
            continue;
        };
        return match cn.attr_value().tag() {
            Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => printable(cn.as_str().ok()?),
            _ => None,
        };
    }
    None
}

fn printable(s: &str) -> Option<String> {
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
        // A 16 MiB length, a multi-byte tag, contents past the end.
        assert_eq!(common_name(&[0x31, 0x84, 1, 0, 0, 0]), None);
        assert_eq!(common_name(&[0x1f, 0x01, 0x00]), None);
        assert_eq!(common_name(&[0x31, 0x05, 0x00]), None);
    }
}
