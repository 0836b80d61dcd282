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
