use std::io;

use rustls::{AlertDescription, CertificateError};

use super::cause_of;

fn wrapped(e: rustls::Error) -> io::Error {
    // As tokio-rustls reports a failed handshake.
    io::Error::new(io::ErrorKind::InvalidData, e)
}

#[test]
fn handshake_failures_are_named_by_their_cause() {
    let cert = |c| wrapped(rustls::Error::InvalidCertificate(c));
    assert_eq!(
        cause_of(&cert(CertificateError::UnknownIssuer)),
        "unknown issuer"
    );
    assert_eq!(
        cause_of(&cert(CertificateError::NotValidForName)),
        "name mismatch"
    );
    assert_eq!(cause_of(&cert(CertificateError::Expired)), "expired");
    assert_eq!(
        cause_of(&cert(CertificateError::NotValidYet)),
        "not valid yet"
    );
    let alert = wrapped(rustls::Error::AlertReceived(
        AlertDescription::CertificateRequired,
    ));
    assert_eq!(cause_of(&alert), "backend requires a client certificate");
    let plain = io::Error::new(io::ErrorKind::ConnectionReset, "reset");
    assert_eq!(cause_of(&plain), "connection failed during the handshake");
}
