//! What ACME keeps in the state directory, all written atomically with
//! mode 0600 in 0700 directories:
//!
//! ```text
//! acme/
//!   account-<hash of the directory URL>.json   the account URL and key
//!   certs/<name>.pem                            chain, leaf first
//!   certs/<name>.key                            its private key
//! ```
//!
//! A wildcard name `*.example.com` is stored as `+.example.com`: `+` is not
//! a host-name character, so it cannot collide with a real name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use instant_acme::AccountCredentials;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};

use super::plan::Validity;
use crate::{pem, private_file, TlsError};

pub(crate) struct AcmeDir {
    root: PathBuf,
}

/// A certificate and what status and the planner need to know about it.
pub(crate) struct StoredCert {
    pub(crate) key: Arc<CertifiedKey>,
    pub(crate) info: CertInfo,
}

#[derive(Debug, Clone)]
pub(crate) struct CertInfo {
    pub(crate) validity: Validity,
    /// The issuer's common name.
    pub(crate) issuer: Option<String>,
    /// DNS SANs, lowercase.
    pub(crate) names: Vec<String>,
    pub(crate) leaf: CertificateDer<'static>,
}

#[derive(Serialize, Deserialize)]
struct AccountFile {
    directory: String,
    credentials: AccountCredentials,
}

impl AcmeDir {
    pub(crate) fn new(state_dir: &Path) -> Self {
        AcmeDir {
            root: state_dir.join("acme"),
        }
    }

    fn account_path(&self, directory: &str) -> PathBuf {
        let digest = ring::digest::digest(&ring::digest::SHA256, directory.as_bytes());
        let hex: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.root.join(format!("account-{hex}.json"))
    }

    /// The account for `directory`, if one was saved.
    pub(crate) fn load_account(
        &self,
        directory: &str,
    ) -> Result<Option<AccountCredentials>, TlsError> {
        let path = self.account_path(directory);
        if !path.try_exists().map_err(TlsError::io(&path))? {
            return Ok(None);
        }
        private_file::warn_if_exposed(&path);
        let bytes = pem::read(&path)?;
        let file: AccountFile = serde_json::from_slice(&bytes).map_err(|e| TlsError::Pem {
            path: path.clone(),
            message: format!("not an account file: {e}"),
        })?;
        Ok(Some(file.credentials))
    }

    pub(crate) fn save_account(
        &self,
        directory: &str,
        credentials: AccountCredentials,
    ) -> Result<(), TlsError> {
        private_file::ensure_dir(&self.root)?;
        let path = self.account_path(directory);
        let file = AccountFile {
            directory: directory.to_owned(),
            credentials,
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| TlsError::Pem {
            path: path.clone(),
            message: e.to_string(),
        })?;
        private_file::write_atomic(&path, &json)
    }

    fn cert_paths(&self, name: &str) -> (PathBuf, PathBuf) {
        let stem = name.replacen("*.", "+.", 1);
        let dir = self.root.join("certs");
        (
            dir.join(format!("{stem}.pem")),
            dir.join(format!("{stem}.key")),
        )
    }

    /// The saved certificate for `name`, if it is readable, covers `name`
    /// and its key matches; anything else is logged and ignored (a new
    /// order replaces it).
    pub(crate) fn load_cert(&self, provider: &CryptoProvider, name: &str) -> Option<StoredCert> {
        let (cert_path, key_path) = self.cert_paths(name);
        if !cert_path.exists() {
            return None;
        }
        let loaded = (|| {
            private_file::warn_if_exposed(&key_path);
            let chain = pem::parse_certs(&cert_path, &pem::read(&cert_path)?)?;
            let key = pem::parse_key(&key_path, &pem::read(&key_path)?)?;
            let certified = pem::certified_key(provider, chain, key, &cert_path, &key_path)?;
            stored(certified, &cert_path)
        })();
        match loaded {
            Ok(stored) if stored.info.names.iter().any(|n| n == name) => Some(stored),
            Ok(_) => {
                tracing::warn!(name, path = %cert_path.display(), "saved certificate does not cover its name; ordering a new one");
                None
            }
            Err(error) => {
                tracing::warn!(name, %error, "cannot use the saved certificate; ordering a new one");
                None
            }
        }
    }

    /// Saves `name`'s new certificate (key first: a crash in between never
    /// leaves a certificate without its key) and returns it ready to serve.
    pub(crate) fn save_cert(
        &self,
        provider: &CryptoProvider,
        name: &str,
        chain_pem: &str,
        key_pem: &str,
    ) -> Result<StoredCert, TlsError> {
        let (cert_path, key_path) = self.cert_paths(name);
        let chain = pem::parse_certs(&cert_path, chain_pem.as_bytes())?;
        let key = pem::parse_key(&key_path, key_pem.as_bytes())?;
        let certified = pem::certified_key(provider, chain, key, &cert_path, &key_path)?;
        let stored = stored(certified, &cert_path)?;
        if let Some(dir) = cert_path.parent() {
            private_file::ensure_dir(dir)?;
        }
        private_file::write_atomic(&key_path, key_pem.as_bytes())?;
        private_file::write_atomic(&cert_path, chain_pem.as_bytes())?;
        Ok(stored)
    }
}

fn stored(certified: CertifiedKey, path: &Path) -> Result<StoredCert, TlsError> {
    let leaf = certified
        .cert
        .first()
        .ok_or_else(|| TlsError::NoCertInPem {
            path: path.to_owned(),
        })?
        .clone()
        .into_owned();
    let info = cert_info(&leaf).map_err(|message| TlsError::Pem {
        path: path.to_owned(),
        message,
    })?;
    Ok(StoredCert {
        key: Arc::new(certified),
        info,
    })
}

/// Validity, issuer and DNS names of a leaf certificate.
pub(crate) fn cert_info(leaf: &CertificateDer<'static>) -> Result<CertInfo, String> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).map_err(|e| e.to_string())?;
    let secs = |t: x509_parser::time::ASN1Time| u64::try_from(t.timestamp()).unwrap_or(0);
    let validity = Validity {
        not_before: secs(cert.validity().not_before),
        not_after: secs(cert.validity().not_after),
    };
    let issuer = cert
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    let names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(CertInfo {
        validity,
        issuer,
        names,
        leaf: leaf.clone(),
    })
}
