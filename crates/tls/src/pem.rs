//! Reading certificate chains and private keys from PEM files.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::TlsError;

/// What a file looked like when last read; a different stamp means "reload".
/// The inode catches `mv new.pem cert.pem` even when size and mtime match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl FileStamp {
    pub(crate) fn of(path: &Path) -> Result<Self, TlsError> {
        // `metadata` follows symlinks, so a certbot-style `live/` link that is
        // repointed to a new archive file changes the stamp.
        let meta = fs::metadata(path).map_err(TlsError::io(path))?;
        Ok(FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode: meta.ino(),
        })
    }
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(TlsError::io(path))
}

fn pem_error(path: &Path, err: pem::Error) -> TlsError {
    TlsError::Pem {
        path: path.to_owned(),
        message: err.to_string(),
    }
}

/// All `CERTIFICATE` sections, end-entity first; the first must parse as an
/// end-entity certificate.
pub(crate) fn parse_certs(
    path: &Path,
    pem_bytes: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem_bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    let leaf = chain.first().ok_or_else(|| TlsError::NoCertInPem {
        path: path.to_owned(),
    })?;
    webpki::EndEntityCert::try_from(leaf).map_err(|source| TlsError::BadCertificate {
        path: path.to_owned(),
        source,
    })?;
    Ok(chain)
}

/// The first PKCS#8, SEC1 or PKCS#1 key in the file.
pub(crate) fn parse_key(path: &Path, pem_bytes: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem_bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoKeyInPem {
            path: path.to_owned(),
        },
        e => pem_error(path, e),
    })
}

/// Pairs a chain with its key, checking that the key belongs to the leaf.
pub(crate) fn certified_key(
    provider: &CryptoProvider,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_path: &Path,
    key_path: &Path,
) -> Result<CertifiedKey, TlsError> {
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|source| TlsError::BadKey {
            path: key_path.to_owned(),
            source,
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        // ring's signing keys all expose their public key; a key that cannot
        // be compared is refused rather than served unchecked.
        Err(_) => Err(TlsError::KeyMismatch {
            cert: cert_path.to_owned(),
            key: key_path.to_owned(),
        }),
    }
}

/// A static certificate as read from its two files.
pub(crate) struct LoadedCert {
    pub(crate) key: Arc<CertifiedKey>,
    /// Lowercased DNS SANs of the leaf, wildcards included.
    pub(crate) names: Vec<String>,
    pub(crate) stamps: (FileStamp, FileStamp),
}

/// Reads and checks a (cert file, key file) pair.
pub(crate) fn load_pair(
    provider: &CryptoProvider,
    cert_path: &Path,
    key_path: &Path,
) -> Result<LoadedCert, TlsError> {
    // Stamp before reading: a write racing with us changes the stamp again,
    // so the next reload picks it up.
    let stamps = (FileStamp::of(cert_path)?, FileStamp::of(key_path)?);
    let chain = parse_certs(cert_path, &read(cert_path)?)?;
    let key = parse_key(key_path, &read(key_path)?)?;
    let names = dns_names(&chain[0]).map_err(|source| TlsError::BadCertificate {
        path: cert_path.to_owned(),
        source,
    })?;
    let key = certified_key(provider, chain, key, cert_path, key_path)?;
    Ok(LoadedCert {
        key: Arc::new(key),
        names,
        stamps,
    })
}

/// The DNS names (including `*.` wildcards) in the certificate's SAN extension.
pub(crate) fn dns_names(cert: &CertificateDer<'_>) -> Result<Vec<String>, webpki::Error> {
    let ee = webpki::EndEntityCert::try_from(cert)?;
    Ok(ee
        .valid_dns_names()
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
        .collect())
}
