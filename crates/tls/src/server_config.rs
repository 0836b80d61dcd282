//! The rustls `ServerConfig` for HTTPS listeners.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig};

use crate::{ring_provider, CertStore, ClientCaVerifier, TlsError, ACME_TLS_ALPN};

/// Sessions remembered for stateful resumption (TLS 1.2 session ids and
/// TLS 1.3 clients that do not take tickets).
const SESSION_CACHE_SIZE: usize = 4096;

/// Listener-wide TLS choices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerTlsOptions {
    /// Offer "h2" before "http/1.1" in ALPN.
    pub alpn_h2: bool,
    /// PEM files with CA certificates for optional client authentication.
    pub client_cas: Vec<PathBuf>,
    /// Accept `acme-tls/1` (TLS-ALPN-01 validation) as a last ALPN choice;
    /// the resolver answers those handshakes with challenge certificates only.
    pub acme_tls_alpn: bool,
}

/// A ring-only `ServerConfig` that takes certificates from `store`, offers
/// ALPN `["h2", "http/1.1"]` (or `["http/1.1"]`), resumes sessions with
/// tickets and an in-memory cache, and, when `client_cas` is non-empty,
/// requests (but does not require) a client certificate, rejecting the
/// handshake only if a presented chain does not verify against the union of
/// those CAs. Routes decide later whether a certificate was required.
pub fn server_config(
    store: &Arc<CertStore>,
    opts: &ServerTlsOptions,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = ring_provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;

    let builder = if opts.client_cas.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        let mut errors = Vec::new();
        for path in &opts.client_cas {
            match ClientCaVerifier::from_pem_file(path) {
                Ok(verifier) => roots.roots.extend(verifier.into_roots()),
                Err(e) => errors.push(e),
            }
        }
        if let Some(error) = TlsError::from_many(errors) {
            return Err(error);
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .allow_unauthenticated()
            .build()?;
        builder.with_client_cert_verifier(verifier)
    };

    let mut config = builder.with_cert_resolver(store.resolver());
    config.alpn_protocols = if opts.alpn_h2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    if opts.acme_tls_alpn {
        config.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
    }
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    Ok(Arc::new(config))
}
