//! Client certificates: checking a presented chain against a route's CA file.

use std::fmt;
use std::path::Path;

use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};

use crate::{pem, ring_provider, x509_name, TlsError};

/// The roots of one PEM file, for routes with `access = "mtls"`.
///
/// The listener's rustls verifier already checked any presented chain
/// against the union of all client CAs; this answers the narrower question
/// "does it chain to *this route's* CA?" at request time.
pub struct ClientCaVerifier {
    roots: Vec<TrustAnchor<'static>>,
    algorithms: &'static [&'static dyn SignatureVerificationAlgorithm],
}

// === impl ClientCaVerifier ===

impl ClientCaVerifier {
    /// Every `CERTIFICATE` in the file becomes a trust anchor.
    pub fn from_pem_file(path: &Path) -> Result<Self, TlsError> {
        let certs = pem::parse_certs(path, &pem::read(path)?)?;
        let roots = certs
            .iter()
            .map(|der| {
                webpki::anchor_from_trusted_cert(der)
                    .map(|anchor| anchor.to_owned())
                    .map_err(|source| TlsError::BadCertificate {
                        path: path.to_owned(),
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ClientCaVerifier {
            roots,
            algorithms: ring_provider().signature_verification_algorithms.all,
        })
    }

    /// Whether `chain` (end-entity first, as
    /// `ServerConnection::peer_certificates` returns it) is valid for client
    /// auth at `now` and chains to one of this file's roots. An empty chain
    /// is `false`.
    pub fn verify(&self, chain: &[CertificateDer<'_>], now: UnixTime) -> bool {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return false;
        };
        let Ok(ee) = webpki::EndEntityCert::try_from(leaf) else {
            return false;
        };
        ee.verify_for_usage(
            self.algorithms,
            &self.roots,
            intermediates,
            now,
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .is_ok()
    }

    /// A name for the end-entity certificate, for logs and headers: its
    /// common name, else its first DNS SAN. `None` for an empty chain, an
    /// unparsable certificate, or a name with control characters.
    pub fn subject_of(chain: &[CertificateDer<'_>]) -> Option<String> {
        let ee = webpki::EndEntityCert::try_from(chain.first()?).ok()?;
        x509_name::common_name(ee.subject())
            .or_else(|| ee.valid_dns_names().next().map(str::to_owned))
    }

    /// The roots, for building the listener-wide rustls verifier.
    pub(crate) fn into_roots(self) -> Vec<TrustAnchor<'static>> {
        self.roots
    }
}

impl fmt::Debug for ClientCaVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCaVerifier")
            .field("roots", &self.roots.len())
            .finish()
    }
}
