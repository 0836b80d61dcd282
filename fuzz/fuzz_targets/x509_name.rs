//! The name wingress reads from a client certificate for logs and the
//! `X-Wingress-Client-Subject` header (`ClientCaVerifier::subject_of`: the
//! subject's common name, walked by hand in `x509_name.rs`, else the first
//! DNS name of the subjectAltName).
//!
//! Input: a mode byte, then for mode 0 a whole certificate (the rest); for
//! mode 1 the contents of a subject `Name` (length-prefixed) and of a
//! subjectAltName extension value (the rest), put into a v3 certificate
//! whose other fields are fixed, so that every input reaches the name
//! parsers (webpki parses the certificate but checks no signature here).
//!
//! Checked: nothing panics, and a name that comes out is not empty and
//! has no control characters (it goes into a header and a log line).
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rustls_pki_types::CertificateDer;
use wingress_fuzz::{input, x509};
use wingress_tls::ClientCaVerifier;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mode: u8 = u.arbitrary().unwrap_or(0);
    let der = if mode & 1 == 0 {
        u.take_rest().to_vec()
    } else {
        let subject = input::bytes(&mut u, 4096);
        let san = u.take_rest();
        x509::certificate(subject, (!san.is_empty()).then_some(san))
    };
    let chain = [CertificateDer::from(der)];
    if let Some(name) = ClientCaVerifier::subject_of(&chain) {
        assert!(!name.is_empty());
        assert!(!name.chars().any(char::is_control), "{name:?}");
    }
});
