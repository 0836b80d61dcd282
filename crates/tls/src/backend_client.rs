//! The TLS client side, towards `https://` backends: one rustls
//! [`ClientConfig`] per `[[transport]]` (its CA file or the system's roots,
//! its client certificate, or no verification at all when it says
//! `insecure_skip_verify`), built when the configuration is loaded.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::{pem, ring_provider, TlsError};

/// What a `[[transport]]` says about TLS, with paths already resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackendTlsOptions {
    /// PEM roots trusted instead of the system's.
    pub ca: Option<PathBuf>,
    /// Accept any certificate (still checking the handshake's signature).
    pub insecure_skip_verify: bool,
    /// Certificate chain and key presented when the backend asks.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// The system's roots (`/etc/ssl/certs` and the other places OpenSSL
/// looks), read once per configuration load by the caller and shared by
/// every transport without a `ca`.
#[derive(Clone)]
pub struct SystemRoots(Arc<RootCertStore>);

impl fmt::Debug for SystemRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SystemRoots({} roots)", self.0.len())
    }
}

impl SystemRoots {
    /// Reads the system's trusted certificates; unreadable ones are
    /// skipped (and counted in the returned number of errors).
    pub fn load() -> (Self, usize) {
        let found = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        let (_, bad) = store.add_parsable_certificates(found.certs);
        (SystemRoots(Arc::new(store)), bad + found.errors.len())
    }

    /// No roots, for configurations where nothing uses them.
    pub fn empty() -> Self {
        SystemRoots(Arc::new(RootCertStore::empty()))
    }

    /// How many roots were read.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no root was found: every `https://` backend without a `ca`
    /// would then fail with "unknown issuer".
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Builds the client configuration of one transport, offering `alpn`
/// (e.g. `[b"http/1.1"]`) to backends.
pub fn backend_client_config(
    opts: &BackendTlsOptions,
    system: &SystemRoots,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = ring_provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = if opts.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider.clone())))
    } else {
        let roots = match &opts.ca {
            Some(path) => Arc::new(roots_from_file(path)?),
            None => system.0.clone(),
        };
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| TlsError::Rustls(rustls::Error::General(e.to_string())))?;
        builder.with_webpki_verifier(verifier)
    };
    let mut config = match &opts.client_cert {
        Some((cert_path, key_path)) => {
            let chain = pem::parse_certs(cert_path, &pem::read(cert_path)?)?;
            let key = pem::parse_key(key_path, &pem::read(key_path)?)?;
            // Checks that the key belongs to the certificate, with the
            // file names in the error.
            pem::certified_key(
                &provider,
                chain.clone(),
                key.clone_key(),
                cert_path,
                key_path,
            )?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(TlsError::Rustls)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Every `CERTIFICATE` in the file, as roots.
fn roots_from_file(path: &std::path::Path) -> Result<RootCertStore, TlsError> {
    let certs = pem::parse_certs(path, &pem::read(path)?)?;
    let mut store = RootCertStore::empty();
    for cert in certs {
        store.add(cert).map_err(|e| TlsError::Pem {
            path: path.to_owned(),
            message: format!("not usable as a root: {e}"),
        })?;
    }
    Ok(store)
}

/// `insecure_skip_verify`: any certificate is accepted, for any name. The
/// handshake's signatures are still checked, so the peer holds the key of
/// the certificate it sent (which proves nothing about who it is).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
