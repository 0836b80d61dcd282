//! TLS towards `https://` backends: the handshake on a connected socket,
//! and what a failed one is called in logs (unknown issuer, name mismatch,
//! expired, ...), found by walking the error's sources to rustls' error.

use std::error::Error as StdError;
use std::io;

use rustls::{AlertDescription, CertificateError};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::spec::{BackendAddr, BackendTls};

/// A TLS handshake with a backend that did not complete.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsConnectError {
    /// The route has no TLS settings (a spec the daemon should not build).
    #[error("no tls settings for an https backend")]
    NotConfigured,
    /// Neither the transport's `server_name` nor the backend's host is a
    /// name a certificate can be checked against.
    #[error("`{0}` is not a server name")]
    BadServerName(String),
    /// The handshake failed; `cause` names why in a few words.
    #[error("tls handshake failed: {cause}")]
    Handshake {
        cause: &'static str,
        #[source]
        source: io::Error,
    },
}

/// Runs the TLS handshake on `stream` as `tls` says, sending and verifying
/// the transport's server name, or the backend's host.
pub(crate) async fn handshake(
    stream: TcpStream,
    target: &BackendAddr,
    tls: Option<&BackendTls>,
) -> Result<TlsStream<TcpStream>, TlsConnectError> {
    let tls = tls.ok_or(TlsConnectError::NotConfigured)?;
    let name = match &tls.server_name {
        Some(name) => name.clone(),
        None => target
            .server_name()
            .ok_or_else(|| TlsConnectError::BadServerName(target.host.clone()))?,
    };
    TlsConnector::from(tls.config.clone())
        .connect(name, stream)
        .await
        .map_err(|source| TlsConnectError::Handshake {
            cause: cause_of(&source),
            source,
        })
}

/// A short name for why a handshake failed, from the rustls error in
/// `err`'s source chain: what an operator needs to fix it.
pub(crate) fn cause_of(err: &(dyn StdError + 'static)) -> &'static str {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(e) = e.downcast_ref::<rustls::Error>() {
            return rustls_cause(e);
        }
        // An `io::Error` wrapping another error (as tokio-rustls wraps
        // rustls') reports that error's source, not the error itself.
        next = match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    "connection failed during the handshake"
}

fn rustls_cause(e: &rustls::Error) -> &'static str {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => "unknown issuer",
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "name mismatch"
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired",
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "not valid yet"
            }
            CertificateError::Revoked => "revoked",
            CertificateError::BadSignature => "bad signature",
            CertificateError::BadEncoding => "bad certificate encoding",
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "certificate not for server use"
            }
            _ => "invalid certificate",
        },
        rustls::Error::AlertReceived(alert) => match alert {
            AlertDescription::CertificateRequired => "backend requires a client certificate",
            AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateExpired
            | AlertDescription::AccessDenied => "backend refused the client certificate",
            AlertDescription::HandshakeFailure => "handshake refused by the backend",
            AlertDescription::ProtocolVersion => "no common tls version",
            _ => "alert from the backend",
        },
        rustls::Error::NoCertificatesPresented => "backend sent no certificate",
        rustls::Error::PeerIncompatible(_) => "backend incompatible (version or ciphers)",
        rustls::Error::InvalidMessage(_) | rustls::Error::PeerMisbehaved(_) => {
            "backend does not speak tls"
        }
        _ => "tls error",
    }
}

#[cfg(test)]
#[path = "backend_tls_tests.rs"]
mod tests;
