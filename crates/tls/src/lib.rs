//! Certificates for wingress: static files and certificates from memory
//! (Kubernetes Secrets) chosen by SNI, an internal CA, ACME,
//! client-certificate verification.
//!
//! The daemon builds one [`CertStore`] at startup, hands
//! [`server_config`] to its HTTPS listeners, calls
//! [`CertStore::reload_changed`] periodically (e.g. on SIGHUP or a timer),
//! [`CertStore::set_memory_certs`] whenever the Secrets it watches change,
//! checks per-route client certificates with [`ClientCaVerifier`], and
//! builds the client side towards `https://` backends with
//! [`backend_client_config`].
//! Only the *ring* crypto provider is used.
//!
//! On disk, under the state directory:
//!
//! ```text
//! ca/            0700
//!   ca.pem       0600  the internal CA's root (what clients trust)
//!   ca.key       0600
//!   issued/      0700
//!     <name>.pem 0600  leaves issued on first use for route hosts (`+.parent.pem`
//!     <name>.key 0600  for a wildcard route), reused while valid > 7 days
//! acme/          0700  ACME account and certificates (see `acme::storage`)
//! ```
//!
//! Files are replaced atomically (temporary file, fsync, rename). File names
//! come only from validated, lowercased host names.

#![forbid(unsafe_code)]

mod acme;
mod backend_client;
mod ca;
mod client_auth;
mod error;
mod hostname;
mod issued;
mod managed;
mod memory;
mod pem;
mod private_file;
mod server_config;
mod status;
mod store;
mod x509_name;

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

pub use acme::{
    AcmeChallenge, AcmeManager, AcmeSettings, DnsError, Rfc2136, TsigAlgorithm, TsigKey,
};
pub use backend_client::{backend_client_config, BackendTlsOptions, SystemRoots};
pub use client_auth::ClientCaVerifier;
pub use error::TlsError;
pub use memory::{MemoryCert, MemoryCertError};
pub use private_file::{read_secret, write_atomic, write_atomic_mode};
pub use server_config::{server_config, ServerTlsOptions};
pub use status::{CertSource, CertState, CertificateStatus, EXPIRING_WITHIN};
pub use store::{export_ca, read_ca_roots, CertStore, ACME_TLS_ALPN};

fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
