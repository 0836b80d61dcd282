//! `CertStore`: the certificates the daemon serves, chosen by SNI.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::time_provider::{DefaultTimeProvider, TimeProvider};
use rustls_pki_types::UnixTime;
use wingress_sync::{read, write};

use crate::ca::{ca_dir, InternalCa};
use crate::hostname::HostName;
use crate::issued::{IssuePolicy, LeafCache, RENEW_BEFORE};
use crate::managed::{Lookup, ManagedCerts};
use crate::memory::{MemoryCert, MemoryCertError, MemoryCerts};
use crate::pem::{self, FileStamp, LoadedCert};
use crate::status::{describe, CertSource, CertificateStatus};
use crate::{ring_provider, TlsError};

/// The daemon's certificates: static (cert, key) files from the config,
/// certificates from memory (Kubernetes Secrets, see
/// [`CertStore::set_memory_certs`]), ACME's, and optionally an internal CA
/// that issues a leaf for any other name on first use.
///
/// Selection by SNI, first match wins:
/// 1. a static certificate with that exact DNS SAN (config order);
/// 2. a static certificate with the wildcard SAN `*.parent` (one label only);
/// 3. a certificate from memory handed in for that name, then for
///    `*.parent` (the operator's files win over what the cluster says);
/// 4. a managed (ACME) certificate for that name, then for `*.parent`; a
///    managed name without a certificate yet fails the handshake;
/// 5. with the internal CA, when a route host covers the name (see
///    [`CertStore::set_issue_hosts`]): the leaf for that exact host, or
///    the wildcard leaf of a wildcard route;
/// 6. otherwise none, and the handshake fails with an alert.
///
/// [`CertStore::covers`] says whether 1-3 serve a name, so that ACME and
/// the internal CA are not asked for it.
///
/// A ClientHello offering only the `acme-tls/1` ALPN protocol gets the
/// TLS-ALPN-01 challenge certificate for its SNI, if one is pending, and
/// nothing else (RFC 8737).
///
/// Clients without SNI (those connecting to an IP literal) get the first
/// static certificate, else an internal-CA leaf for "localhost" plus
/// the names given to [`CertStore::set_fallback_names`].
///
/// The store reads the clock only through its [`TimeProvider`], so tests can
/// move time forward.
pub struct CertStore {
    state_dir: PathBuf,
    provider: Arc<CryptoProvider>,
    time: Arc<dyn TimeProvider>,
    statics: RwLock<Vec<StaticCert>>,
    issued: Option<LeafCache>,
    managed: ManagedCerts,
    memory: MemoryCerts,
}

struct StaticCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    loaded: LoadedCert,
    /// Why the files' current contents are not what is served, if so.
    last_error: Option<String>,
}

// === impl CertStore ===

impl CertStore {
    /// Loads the static pairs (reporting every broken one at once) and, when
    /// `internal_ca`, loads or creates the CA in `state_dir/ca` (dir 0700,
    /// files 0600).
    pub fn new(
        state_dir: &Path,
        internal_ca: bool,
        static_certs: &[(PathBuf, PathBuf)],
    ) -> Result<Arc<CertStore>, TlsError> {
        Self::with_time_provider(
            state_dir,
            internal_ca,
            static_certs,
            Arc::new(DefaultTimeProvider),
        )
    }

    /// [`CertStore::new`] with an injected clock.
    pub fn with_time_provider(
        state_dir: &Path,
        internal_ca: bool,
        static_certs: &[(PathBuf, PathBuf)],
        time: Arc<dyn TimeProvider>,
    ) -> Result<Arc<CertStore>, TlsError> {
        let provider = ring_provider();
        let mut statics = Vec::with_capacity(static_certs.len());
        let mut errors = Vec::new();
        for (cert_path, key_path) in static_certs {
            match pem::load_pair(&provider, cert_path, key_path) {
                Ok(loaded) => statics.push(StaticCert {
                    cert_path: cert_path.clone(),
                    key_path: key_path.clone(),
                    loaded,
                    last_error: None,
                }),
                Err(e) => errors.push(e),
            }
        }
        if let Some(error) = TlsError::from_many(errors) {
            return Err(error);
        }

        let now = current_time(&*time);
        let issued = if internal_ca {
            let ca = InternalCa::open(state_dir, true, Arc::clone(&provider), now)?;
            Some(LeafCache::new(ca, &ca_dir(state_dir)))
        } else {
            None
        };

        Ok(Arc::new(CertStore {
            state_dir: state_dir.to_owned(),
            provider,
            time,
            statics: RwLock::new(statics),
            issued,
            managed: ManagedCerts::default(),
            memory: MemoryCerts::default(),
        }))
    }

    /// Re-reads every static pair whose cert or key file changed (size,
    /// mtime or inode). A pair that fails to load keeps serving its previous
    /// certificate; its error is returned (all of them, if several) and not
    /// repeated until the files change again. Returns how many pairs were
    /// reloaded.
    pub fn reload_changed(&self) -> Result<usize, TlsError> {
        // Files are read without holding the lock, so handshakes never wait on disk.
        let snapshot: Vec<(PathBuf, PathBuf, (FileStamp, FileStamp))> = read(&self.statics)
            .iter()
            .map(|s| (s.cert_path.clone(), s.key_path.clone(), s.loaded.stamps))
            .collect();

        let mut updates = Vec::new();
        let mut errors = Vec::new();
        for (index, (cert_path, key_path, old)) in snapshot.into_iter().enumerate() {
            let stamps = match (FileStamp::of(&cert_path), FileStamp::of(&key_path)) {
                (Ok(c), Ok(k)) => (c, k),
                (Err(e), _) | (_, Err(e)) => {
                    errors.push(e);
                    continue;
                }
            };
            if stamps == old {
                continue;
            }
            match pem::load_pair(&self.provider, &cert_path, &key_path) {
                Ok(loaded) => {
                    tracing::info!(cert = %cert_path.display(), key = %key_path.display(), "reloaded certificate");
                    updates.push((index, Ok(loaded)));
                }
                Err(e) => {
                    updates.push((index, Err((stamps, e.to_string()))));
                    errors.push(e);
                }
            }
        }

        let mut reloaded = 0;
        let mut statics = write(&self.statics);
        for (index, update) in updates {
            let Some(entry) = statics.get_mut(index) else {
                continue;
            };
            match update {
                Ok(loaded) => {
                    entry.loaded = loaded;
                    entry.last_error = None;
                    reloaded += 1;
                }
                // Remember the broken files' stamps: reported once, retried on change.
                Err((stamps, error)) => {
                    entry.loaded.stamps = stamps;
                    entry.last_error = Some(error);
                }
            }
        }
        drop(statics);
        match TlsError::from_many(errors) {
            Some(error) => Err(error),
            None => Ok(reloaded),
        }
    }

    /// Replaces every certificate from memory with `certs` (an empty list
    /// removes them all): from the next handshake on, each is served for
    /// its names, below the static files (see [`CertStore`]). Handshakes
    /// already made keep their certificate.
    ///
    /// Returns the items not served as handed in, one error each: a bad
    /// PEM, a key that does not match, a name that is no server name. The
    /// other items are served regardless, and a bad item whose id served
    /// before keeps serving its previous certificate. When several items
    /// name one SNI name, the first in `certs` serves it. Items whose PEM
    /// did not change since the last call are not parsed again.
    pub fn set_memory_certs(&self, certs: &[MemoryCert]) -> Vec<MemoryCertError> {
        let errors = self.memory.replace(&self.provider, certs);
        tracing::debug!(
            certificates = certs.len(),
            refused = errors.len(),
            "certificates from memory replaced"
        );
        errors
    }

    /// Serves the certificates from memory that `previous` serves (a new
    /// store replacing `previous`), until the next
    /// [`CertStore::set_memory_certs`].
    pub fn adopt_memory_certs(&self, previous: &CertStore) {
        self.memory.adopt(&previous.memory);
    }

    /// The names the certificates from memory are served for, sorted.
    pub fn memory_names(&self) -> Vec<String> {
        self.memory.names()
    }

    /// Whether a certificate from memory is served for `name`; a wildcard
    /// name (`*.parent`) only by one handed in for that wildcard.
    pub fn memory_covers(&self, name: &str) -> bool {
        self.memory.covers(name)
    }

    /// Whether a static certificate or one from memory covers `name`, so
    /// that neither ACME nor the internal CA should provide one.
    pub fn covers(&self, name: &str) -> bool {
        self.static_covers(name) || self.memory_covers(name)
    }

    /// The resolver to put into a rustls `ServerConfig`.
    pub fn resolver(self: &Arc<Self>) -> Arc<dyn ResolvesServerCert> {
        Arc::new(SniResolver(Arc::clone(self)))
    }

    /// The hosts the internal CA issues for: the route hosts, as written
    /// (`app.example`, `*.example` for one label, `*` for any). Until this
    /// is called it issues for none but clients without SNI. An exact host
    /// gets its own certificate, a wildcard host one `*.example`
    /// certificate for every name under it, both stored; `*` (and a
    /// wildcard under a single label, which clients refuse as a wildcard
    /// certificate) a certificate per name, in memory only, for the last
    /// 128 names asked. So a client cycling through random names makes
    /// the CA write nothing and keep a bounded number of certificates.
    pub fn set_issue_hosts<S: AsRef<str>>(&self, hosts: &[S]) {
        if let Some(issued) = &self.issued {
            issued.set_policy(IssuePolicy::from_hosts(hosts));
        }
    }

    /// Extra names (IP literals become IP SANs) for the certificate served to
    /// clients without SNI when there is no static certificate, e.g. the
    /// tunnel address "100.64.0.2". Names that are neither DNS names nor IP
    /// literals are skipped with a warning.
    pub fn set_fallback_names(&self, names: Vec<String>) {
        let parsed = names
            .iter()
            .filter_map(|raw| {
                let name = HostName::parse(raw);
                if name.is_none() {
                    tracing::warn!("ignoring a fallback certificate name that is neither a dns name nor an ip address");
                    tracing::debug!(name = %raw, "invalid fallback certificate name");
                }
                name
            })
            .collect();
        match &self.issued {
            Some(issued) => issued.set_fallback_names(parsed),
            None => tracing::debug!("fallback names need the internal ca; ignoring them"),
        }
    }

    /// The internal CA's root certificate as PEM. When the internal CA is
    /// disabled, the one on disk if any, else [`TlsError::NoInternalCa`].
    pub fn ca_pem(&self) -> Result<String, TlsError> {
        match &self.issued {
            Some(issued) => Ok(issued.ca().cert_pem().to_owned()),
            None => export_ca(&self.state_dir, false),
        }
    }

    /// Every certificate being served: the static files (config order),
    /// those from memory (in the order handed in, `path` holding the id),
    /// then the internal CA's root and the leaves it has issued so far.
    pub fn certificates(&self) -> Vec<CertificateStatus> {
        let now = current_time(&*self.time);
        let mut out = Vec::new();
        for s in read(&self.statics).iter() {
            let Some(leaf) = s.loaded.key.cert.first() else {
                continue;
            };
            if let Some(mut status) =
                describe(leaf, CertSource::File, Some(s.cert_path.clone()), None, now)
            {
                status.last_error = s.last_error.clone();
                out.push(status);
            }
        }
        self.memory.for_each(|item| {
            let Some(leaf) = item.key.cert.first() else {
                return;
            };
            let id = Some(PathBuf::from(&item.id));
            if let Some(mut status) = describe(leaf, CertSource::Memory, id, None, now) {
                status.last_error = item.last_error.clone();
                out.push(status);
            }
        });
        if let Some(issued) = &self.issued {
            use rustls_pki_types::pem::PemObject;
            let root =
                rustls_pki_types::CertificateDer::from_pem_slice(issued.ca().cert_pem().as_bytes());
            if let Ok(root) = root {
                out.extend(describe(&root, CertSource::InternalCaRoot, None, None, now));
            }
            let mut leaves: Vec<CertificateStatus> = issued
                .leaves()
                .iter()
                .filter_map(|key| key.cert.first())
                .filter_map(|leaf| {
                    describe(leaf, CertSource::InternalCa, None, Some(RENEW_BEFORE), now)
                })
                .collect();
            leaves.sort_by(|a, b| a.names.cmp(&b.names));
            out.extend(leaves);
        }
        out
    }

    /// The DNS names (wildcards included) the static certificates cover, in
    /// config order without duplicates.
    pub fn static_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for s in read(&self.statics).iter() {
            for name in &s.loaded.names {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        names
    }

    /// The certificate for a ClientHello's SNI value (`None`: no SNI sent);
    /// what [`CertStore::resolver`] calls.
    pub fn resolve_sni(&self, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let Some(raw) = sni else {
            if let Some(first) = read(&self.statics).first() {
                return Some(Arc::clone(&first.loaded.key));
            }
            return self.issue(|issued, now| issued.fallback(now));
        };
        let Some(name) = HostName::parse(raw) else {
            tracing::trace!("sni is not a valid host name");
            return None;
        };
        if let Some(key) = self.static_for(&name) {
            return Some(key);
        }
        if let Some(key) = self.memory.lookup(&name) {
            return Some(key);
        }
        match self
            .managed
            .lookup(&name.to_string(), name.wildcard().as_deref())
        {
            Lookup::Found(key) => return Some(key),
            Lookup::Pending => return None,
            Lookup::NotManaged => {}
        }
        let leaf = self.issue(|issued, now| issued.for_name(&name, now));
        if leaf.is_none() {
            tracing::trace!("no certificate for this sni");
        }
        leaf
    }

    /// Whether a static certificate covers `name` (`*.parent` included:
    /// a wildcard name is covered by that exact wildcard SAN).
    pub fn static_covers(&self, name: &str) -> bool {
        if let Some(parent) = name.strip_prefix("*.") {
            let wanted = format!("*.{}", parent.to_ascii_lowercase());
            return read(&self.statics)
                .iter()
                .any(|s| s.loaded.names.contains(&wanted));
        }
        HostName::parse(name).is_some_and(|n| self.static_for(&n).is_some())
    }

    pub(crate) fn managed(&self) -> &ManagedCerts {
        &self.managed
    }

    /// The TLS-ALPN-01 certificate pending for `sni`, if any.
    fn challenge_for(&self, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let name = HostName::parse(sni?)?;
        self.managed.challenge(&name.to_string())
    }

    fn static_for(&self, name: &HostName) -> Option<Arc<CertifiedKey>> {
        let statics = read(&self.statics);
        let covers = |wanted: &str| {
            statics
                .iter()
                .find(|s| s.loaded.names.iter().any(|n| n == wanted))
                .map(|s| Arc::clone(&s.loaded.key))
        };
        covers(&name.to_string()).or_else(|| covers(&name.wildcard()?))
    }

    fn issue<K: Into<Option<Arc<CertifiedKey>>>>(
        &self,
        get: impl FnOnce(&LeafCache, UnixTime) -> Result<K, TlsError>,
    ) -> Option<Arc<CertifiedKey>> {
        let issued = self.issued.as_ref()?;
        match get(issued, current_time(&*self.time)) {
            Ok(key) => key.into(),
            Err(error) => {
                tracing::warn!(%error, "internal ca cannot provide a certificate");
                None
            }
        }
    }
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore")
            .field("state_dir", &self.state_dir)
            .field("static_certs", &read(&self.statics).len())
            .field("memory_certs", &self.memory.names().len())
            .field("internal_ca", &self.issued.is_some())
            .finish()
    }
}

/// Every certificate in a PEM file, e.g. a test CA's root for `ca_root`.
pub fn read_ca_roots(
    path: &Path,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, TlsError> {
    use rustls_pki_types::pem::PemObject;
    let bytes = pem::read(path)?;
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertInPem {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// Loads the internal CA's root certificate from `state_dir/ca` without
/// enabling anything (for `wingress ca export`), creating the CA first if
/// it is missing and `create` is set.
pub fn export_ca(state_dir: &Path, create: bool) -> Result<String, TlsError> {
    let now = current_time(&DefaultTimeProvider);
    InternalCa::open(state_dir, create, ring_provider(), now).map(|ca| ca.cert_pem().to_owned())
}

fn current_time(time: &dyn TimeProvider) -> UnixTime {
    time.current_time().unwrap_or_else(UnixTime::now)
}

/// Adapts [`CertStore::resolve_sni`] to rustls.
#[derive(Debug)]
struct SniResolver(Arc<CertStore>);

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let offered: Option<Vec<&[u8]>> = client_hello.alpn().map(Iterator::collect);
        let only_acme = offered
            .as_ref()
            .is_some_and(|p| !p.is_empty() && p.iter().all(|p| *p == ACME_TLS_ALPN));
        if only_acme {
            return self.0.challenge_for(client_hello.server_name());
        }
        self.0.resolve_sni(client_hello.server_name())
    }
}

/// The ALPN protocol of TLS-ALPN-01 validation handshakes (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

#[cfg(test)]
#[path = "store_issue_tests.rs"]
mod issue_tests;
#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
