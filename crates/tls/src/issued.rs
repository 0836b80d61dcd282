//! Leaves the internal CA issues on first use: cached in memory, and on disk
//! under `state_dir/ca/issued/<name>.pem` + `.key` so restarts reuse them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::sign::CertifiedKey;
use rustls_pki_types::UnixTime;

use crate::ca::{later, InternalCa};
use crate::hostname::HostName;
use crate::{lock, TlsError};

/// Names any client may make us issue for are bounded, so a peer cycling
/// through random SNI values cannot fill memory or the disk.
pub(crate) const MAX_ISSUED: usize = 1024;
/// A leaf with less than this left is replaced.
pub(crate) const RENEW_BEFORE: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How often a cached leaf is re-checked against `RENEW_BEFORE`; checking is
/// a signature verification, too much for every handshake.
const RECHECK_EVERY: Duration = Duration::from_secs(60 * 60);
/// File names are at most 255 bytes; the temporary file adds a leading dot,
/// ".pem", the pid and a counter.
const MAX_STEM_LEN: usize = 200;

pub(crate) struct LeafCache {
    ca: InternalCa,
    dir: PathBuf,
    /// One slot per name, each with its own lock: concurrent handshakes for
    /// one name issue once, while other names are not held up.
    slots: Mutex<HashMap<HostName, Arc<Mutex<Option<Cached>>>>>,
    fallback: Mutex<Fallback>,
}

#[derive(Clone)]
struct Cached {
    key: Arc<CertifiedKey>,
    recheck_at: UnixTime,
}

/// The certificate for clients that send no SNI: "localhost" plus the
/// configured fallback names, kept in memory only.
struct Fallback {
    names: Vec<HostName>,
    leaf: Option<Cached>,
}

// === impl LeafCache ===

impl LeafCache {
    pub(crate) fn new(ca: InternalCa, ca_dir: &Path) -> Self {
        LeafCache {
            ca,
            dir: ca_dir.join("issued"),
            slots: Mutex::new(HashMap::new()),
            fallback: Mutex::new(Fallback {
                names: vec![localhost()],
                leaf: None,
            }),
        }
    }

    pub(crate) fn ca(&self) -> &InternalCa {
        &self.ca
    }

    /// The cached leaf for `name`, else the one on disk, else a new one.
    pub(crate) fn for_name(
        &self,
        name: &HostName,
        now: UnixTime,
    ) -> Result<Arc<CertifiedKey>, TlsError> {
        let slot = {
            let mut slots = lock(&self.slots);
            match slots.get(name) {
                Some(slot) => Arc::clone(slot),
                None if slots.len() >= MAX_ISSUED => {
                    return Err(TlsError::TooManyIssued { max: MAX_ISSUED })
                }
                None => Arc::clone(slots.entry(name.clone()).or_default()),
            }
        };
        let mut slot = lock(&slot);
        if let Some(cached) = slot.as_mut() {
            if self.still_fresh(cached, std::slice::from_ref(name), now) {
                return Ok(Arc::clone(&cached.key));
            }
        }

        let paths = self.disk_paths(name);
        if let Some(key) = paths
            .as_ref()
            .and_then(|(cert_path, key_path)| self.ca.load_leaf(cert_path, key_path))
        {
            let mut cached = Cached {
                key: Arc::new(key),
                recheck_at: now,
            };
            if self.still_fresh(&mut cached, std::slice::from_ref(name), now) {
                tracing::debug!(%name, "reusing issued certificate from disk");
                let key = Arc::clone(&cached.key);
                *slot = Some(cached);
                return Ok(key);
            }
        }

        let leaf = self.ca.issue(std::slice::from_ref(name), now)?;
        tracing::info!("internal ca issued a certificate");
        tracing::debug!(%name, "internal ca issued a certificate for this name");
        if let Some((cert_path, key_path)) = &paths {
            if let Err(error) = InternalCa::store_leaf(&leaf, cert_path, key_path) {
                // The handshake need not fail for a full disk; the next start reissues.
                tracing::warn!(%error, "cannot save issued certificate; serving it from memory");
            }
        }
        *slot = Some(Cached {
            key: Arc::clone(&leaf.key),
            recheck_at: later(now, RECHECK_EVERY),
        });
        Ok(leaf.key)
    }

    /// `issued/<name>.pem` and `.key`; `None` for names too long to be a
    /// file name (with the temporary-file decoration), which then live in
    /// memory only.
    fn disk_paths(&self, name: &HostName) -> Option<(PathBuf, PathBuf)> {
        let stem = name.file_stem();
        if stem.len() > MAX_STEM_LEN {
            return None;
        }
        Some((
            self.dir.join(format!("{stem}.pem")),
            self.dir.join(format!("{stem}.key")),
        ))
    }

    /// Every leaf held in memory (the no-SNI one included), for status.
    pub(crate) fn leaves(&self) -> Vec<Arc<CertifiedKey>> {
        let slots: Vec<_> = lock(&self.slots).values().cloned().collect();
        let mut leaves: Vec<Arc<CertifiedKey>> = slots
            .iter()
            .filter_map(|slot| lock(slot).as_ref().map(|c| Arc::clone(&c.key)))
            .collect();
        if let Some(cached) = &lock(&self.fallback).leaf {
            leaves.push(Arc::clone(&cached.key));
        }
        leaves
    }

    /// Replaces the extra names of the no-SNI certificate.
    pub(crate) fn set_fallback_names(&self, extra: Vec<HostName>) {
        let mut names = vec![localhost()];
        for name in extra {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let mut fallback = lock(&self.fallback);
        if fallback.names != names {
            fallback.names = names;
            fallback.leaf = None;
        }
    }

    /// The certificate for clients without SNI.
    pub(crate) fn fallback(&self, now: UnixTime) -> Result<Arc<CertifiedKey>, TlsError> {
        let mut fallback = lock(&self.fallback);
        let Fallback { names, leaf } = &mut *fallback;
        if let Some(cached) = leaf.as_mut() {
            if self.still_fresh(cached, names, now) {
                return Ok(Arc::clone(&cached.key));
            }
        }
        let issued = self.ca.issue(names, now)?;
        tracing::info!(
            names = names.len(),
            "internal ca issued the certificate for clients without sni"
        );
        *leaf = Some(Cached {
            key: Arc::clone(&issued.key),
            recheck_at: later(now, RECHECK_EVERY),
        });
        Ok(issued.key)
    }

    /// Valid now, for every name, and for at least `RENEW_BEFORE` more.
    fn still_fresh(&self, cached: &mut Cached, names: &[HostName], now: UnixTime) -> bool {
        if now.as_secs() < cached.recheck_at.as_secs() {
            return true;
        }
        let renew_at = later(now, RENEW_BEFORE);
        let fresh = names.iter().all(|name| {
            self.ca.check_leaf(&cached.key, name, now).is_ok()
                && self.ca.check_leaf(&cached.key, name, renew_at).is_ok()
        });
        if fresh {
            cached.recheck_at = later(now, RECHECK_EVERY);
        }
        fresh
    }
}

fn localhost() -> HostName {
    HostName::Dns("localhost".to_owned())
}
