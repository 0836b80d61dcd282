//! Certificates handed in from memory rather than read from files, such as
//! Kubernetes `kubernetes.io/tls` Secrets: PEM pairs, each with the SNI
//! names it is served for.
//!
//! The caller replaces the whole set at once ([`MemoryCerts::replace`])
//! whenever its source changes. A replacement affects handshakes that
//! start afterwards; open connections keep the keys they negotiated. An
//! item that fails to load is reported and skipped, without touching the
//! others; if an item with the same id loaded before, its previous
//! certificate keeps serving (as a static file's does when a rewrite is
//! broken). Items whose PEM did not change are not parsed again.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};

use ring::digest;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use wingress_sync::{read, write};

use crate::hostname::HostName;
use crate::pem;
use crate::TlsError;

/// The names errors give the two halves, as a `kubernetes.io/tls` Secret
/// names its keys.
const CERT_KEY: &str = "tls.crt";
const KEY_KEY: &str = "tls.key";

/// One certificate from memory, e.g. a `kubernetes.io/tls` Secret.
#[derive(Clone, PartialEq, Eq)]
pub struct MemoryCert {
    /// Who it comes from, for messages and status, e.g. `namespace/name`.
    /// Items are matched across replacements by this id.
    pub id: String,
    /// The SNI names it is served for: DNS names, or `*.parent` for every
    /// name one label under `parent`. Empty: the DNS names of the leaf's
    /// subject alternative names.
    pub names: Vec<String>,
    /// The chain, leaf first, as PEM (`tls.crt`).
    pub cert_pem: Vec<u8>,
    /// The leaf's private key as PEM, PKCS#8, SEC1 or PKCS#1 (`tls.key`).
    pub key_pem: Vec<u8>,
}

impl fmt::Debug for MemoryCert {
    // Never prints the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCert")
            .field("id", &self.id)
            .field("names", &self.names)
            .field("cert_pem", &self.cert_pem.len())
            .finish_non_exhaustive()
    }
}

/// Why one [`MemoryCert`] of a set is not served as handed in.
#[derive(Debug, thiserror::Error)]
#[error("certificate {id}: {error}{}", if *.kept_previous { " (its previous certificate is still served)" } else { "" })]
pub struct MemoryCertError {
    /// The item's [`MemoryCert::id`].
    pub id: String,
    /// What is wrong with it.
    #[source]
    pub error: TlsError,
    /// An earlier version of the item loaded, and is served in its place
    /// (for the names handed in now).
    pub kept_previous: bool,
}

/// The current set, swapped whole.
#[derive(Default)]
pub(crate) struct MemoryCerts {
    set: RwLock<Arc<Loaded>>,
}

#[derive(Default)]
struct Loaded {
    /// In the order handed in.
    items: Vec<Item>,
    /// Served name (lowercase; `*.parent` for wildcards) to index in
    /// `items`: the first item naming it.
    by_name: HashMap<String, usize>,
}

/// One loaded item.
pub(crate) struct Item {
    pub(crate) id: String,
    pub(crate) key: Arc<CertifiedKey>,
    /// Of the PEM it was loaded from, so an unchanged item is not parsed
    /// again and the PEM is not kept.
    digest: digest::Digest,
    /// Why the PEM handed in last is not what is served, if so.
    pub(crate) last_error: Option<String>,
}

// === impl MemoryCerts ===

impl MemoryCerts {
    /// Replaces the whole set with `certs`; returns the items that are not
    /// served as handed in. When several items name one SNI name, the
    /// first serves it.
    pub(crate) fn replace(
        &self,
        provider: &CryptoProvider,
        certs: &[MemoryCert],
    ) -> Vec<MemoryCertError> {
        // Parsed without holding the lock, so handshakes never wait.
        let old = Arc::clone(&*read(&self.set));
        let mut loaded = Loaded::default();
        let mut errors = Vec::new();
        for cert in certs {
            let digest = digest_of(cert);
            let previous = old.items.iter().find(|item| item.id == cert.id);
            let result = match previous.filter(|p| p.digest.as_ref() == digest.as_ref()) {
                Some(same) => Ok((Arc::clone(&same.key), served_names(cert, &same.key))),
                None => load(provider, cert),
            };
            let (key, names, last_error) = match result {
                Ok((key, Ok(names))) => (key, names, None),
                Ok((_, Err(e))) | Err(e) => {
                    let kept = previous.map(|p| (Arc::clone(&p.key), p.digest));
                    let kept_names = kept
                        .as_ref()
                        .and_then(|(key, _)| served_names(cert, key).ok());
                    let message = e.to_string();
                    errors.push(MemoryCertError {
                        id: cert.id.clone(),
                        error: e,
                        kept_previous: kept.is_some() && kept_names.is_some(),
                    });
                    match (kept, kept_names) {
                        (Some((key, _)), Some(names)) => (key, names, Some(message)),
                        _ => continue,
                    }
                }
            };
            let index = loaded.items.len();
            for name in names {
                loaded.by_name.entry(name).or_insert(index);
            }
            loaded.items.push(Item {
                id: cert.id.clone(),
                key,
                digest: match &last_error {
                    // Keep the digest of what is served, so fixing the
                    // item back to it is not mistaken for "unchanged".
                    Some(_) => previous.map_or(digest, |p| p.digest),
                    None => digest,
                },
                last_error,
            });
        }
        *write(&self.set) = Arc::new(loaded);
        errors
    }

    /// The certificate for `name`: the exact name, then `*.parent`.
    pub(crate) fn lookup(&self, name: &HostName) -> Option<Arc<CertifiedKey>> {
        let set = read(&self.set);
        let found = set
            .by_name
            .get(&name.to_string())
            .or_else(|| set.by_name.get(&name.wildcard()?))?;
        set.items.get(*found).map(|item| Arc::clone(&item.key))
    }

    /// Whether an item is served for `name`; a wildcard name (`*.parent`)
    /// only by an item for that exact wildcard.
    pub(crate) fn covers(&self, name: &str) -> bool {
        if let Some(parent) = name.strip_prefix("*.") {
            let wanted = format!("*.{}", parent.to_ascii_lowercase());
            return read(&self.set).by_name.contains_key(&wanted);
        }
        HostName::parse(name).is_some_and(|n| self.lookup(&n).is_some())
    }

    /// Every served name, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = read(&self.set).by_name.keys().cloned().collect();
        names.sort();
        names
    }

    /// Calls `f` with every item, in the order handed in.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Item)) {
        read(&self.set).items.iter().for_each(&mut f);
    }

    /// Makes this set `other`'s (a new store taking over an old one's).
    pub(crate) fn adopt(&self, other: &MemoryCerts) {
        let set = Arc::clone(&*read(&other.set));
        *write(&self.set) = set;
    }
}

fn digest_of(cert: &MemoryCert) -> digest::Digest {
    let mut ctx = digest::Context::new(&digest::SHA256);
    // Lengths first, so moving bytes from one half to the other changes it.
    ctx.update(&(cert.cert_pem.len() as u64).to_be_bytes());
    ctx.update(&cert.cert_pem);
    ctx.update(&cert.key_pem);
    ctx.finish()
}

/// A checked key and its served names (or why the names are refused).
type KeyAndNames = (Arc<CertifiedKey>, Result<Vec<String>, TlsError>);

fn load(provider: &CryptoProvider, cert: &MemoryCert) -> Result<KeyAndNames, TlsError> {
    let (cert_path, key_path) = (Path::new(CERT_KEY), Path::new(KEY_KEY));
    let chain = pem::parse_certs(cert_path, &cert.cert_pem)?;
    let key = pem::parse_key(key_path, &cert.key_pem)?;
    let key = Arc::new(pem::certified_key(
        provider, chain, key, cert_path, key_path,
    )?);
    let names = served_names(cert, &key);
    Ok((key, names))
}

/// The names `cert` is served for, lowercased: as handed in, or the
/// leaf's DNS names. A name that is neither a DNS name nor `*.` and one is
/// refused, and with it the item.
fn served_names(cert: &MemoryCert, key: &CertifiedKey) -> Result<Vec<String>, TlsError> {
    if cert.names.is_empty() {
        let leaf = key.cert.first().ok_or_else(|| TlsError::NoCertInPem {
            path: CERT_KEY.into(),
        })?;
        return pem::dns_names(leaf).map_err(|source| TlsError::BadCertificate {
            path: CERT_KEY.into(),
            source,
        });
    }
    cert.names
        .iter()
        .map(|raw| {
            let (wildcard, bare) = match raw.strip_prefix("*.") {
                Some(parent) => (true, parent),
                None => (false, raw.as_str()),
            };
            match HostName::parse(bare) {
                Some(HostName::Dns(name)) if wildcard => Ok(format!("*.{name}")),
                Some(HostName::Dns(name)) => Ok(name),
                _ => Err(TlsError::BadServerName { name: raw.clone() }),
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
