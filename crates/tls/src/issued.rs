//! Leaves the internal CA issues, only for names a route covers.
//!
//! Clients choose the SNI, so what may be issued comes from the config,
//! never from the handshake ([`IssuePolicy`], set from the route hosts):
//! - an exact route host gets its own leaf;
//! - a wildcard route (`*.apps.example`) gets one `*.apps.example` leaf
//!   that every name under it shares, so random names cost nothing new;
//! - a `*` route, and a wildcard route whose parent is a single label
//!   (`*.internal`: clients refuse such wildcard certificates), get a leaf
//!   per name, kept in memory only, at most [`MAX_TRANSIENT`] at a time, the
//!   least recently used dropped first.
//!
//! The first two are bounded by the config; they are cached and stored
//! under `state_dir/ca/issued/<name>.pem` + `.key` (`+.apps.example.pem`
//! for a wildcard), so restarts reuse them. Nothing per client-chosen name
//! is ever written to disk.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::sign::CertifiedKey;
use rustls_pki_types::UnixTime;
use wingress_sync::lock;

use crate::ca::{later, InternalCa};
use crate::hostname::HostName;
use crate::TlsError;

/// Per-name leaves for `*` routes held at once; more names evict the least
/// recently used (which is issued again, in memory, if asked for again).
pub(crate) const MAX_TRANSIENT: usize = 128;
/// A leaf with less than this left is replaced.
pub(crate) const RENEW_BEFORE: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How often a cached leaf is re-checked against `RENEW_BEFORE`; checking is
/// a signature verification, too much for every handshake.
const RECHECK_EVERY: Duration = Duration::from_secs(60 * 60);
/// File names are at most 255 bytes; the temporary file adds a leading dot,
/// ".pem", the pid and a counter.
const MAX_STEM_LEN: usize = 200;

/// Which names the internal CA issues for, from the route hosts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct IssuePolicy {
    exact: HashSet<HostName>,
    /// Parents of wildcard routes: `apps.example` for `*.apps.example`.
    wildcards: HashSet<String>,
    /// A `*` route: any valid name.
    any: bool,
}

/// The leaf that serves a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Target {
    /// Its own leaf, stored.
    Name(HostName),
    /// The parent's wildcard leaf, stored.
    Wildcard(String),
    /// Its own leaf, in memory only.
    Transient(HostName),
}

pub(crate) struct LeafCache {
    ca: InternalCa,
    dir: PathBuf,
    policy: Mutex<IssuePolicy>,
    /// One slot per exact name and wildcard, each with its own lock:
    /// concurrent handshakes for one name issue once, while other names
    /// are not held up.
    kept: Mutex<HashMap<Target, Slot>>,
    transient: Mutex<Recent>,
    fallback: Mutex<Fallback>,
}

type Slot = Arc<Mutex<Option<Cached>>>;

#[derive(Clone)]
struct Cached {
    key: Arc<CertifiedKey>,
    recheck_at: UnixTime,
}

/// Per-name slots with their last use, at most [`MAX_TRANSIENT`].
#[derive(Default)]
struct Recent {
    slots: HashMap<HostName, (u64, Slot)>,
    clock: u64,
}

/// The certificate for clients that send no SNI: "localhost" plus the
/// configured fallback names, kept in memory only.
struct Fallback {
    names: Vec<HostName>,
    leaf: Option<Cached>,
}

// === impl IssuePolicy ===

impl IssuePolicy {
    /// From route hosts as written: `app.example`, `*.example` (one label),
    /// `*`. Hosts that are none of these are skipped.
    pub(crate) fn from_hosts<S: AsRef<str>>(hosts: &[S]) -> IssuePolicy {
        let mut policy = IssuePolicy::default();
        for host in hosts {
            let host = host.as_ref();
            if host == "*" {
                policy.any = true;
            } else if let Some(parent) = host.strip_prefix("*.") {
                if let Some(HostName::Dns(parent)) = HostName::parse(parent) {
                    policy.wildcards.insert(parent);
                }
            } else if let Some(name) = HostName::parse(host) {
                policy.exact.insert(name);
            }
        }
        policy
    }

    fn target(&self, name: &HostName) -> Option<Target> {
        if self.exact.contains(name) {
            return Some(Target::Name(name.clone()));
        }
        if let HostName::Dns(dns) = name {
            if let Some((_, parent)) = dns.split_once('.') {
                if self.wildcards.contains(parent) {
                    // webpki (and browsers) accept `*.a.b`, not `*.b`.
                    return Some(if parent.contains('.') {
                        Target::Wildcard(parent.to_owned())
                    } else {
                        Target::Transient(name.clone())
                    });
                }
            }
        }
        self.any.then(|| Target::Transient(name.clone()))
    }

    fn keeps(&self, target: &Target) -> bool {
        match target {
            Target::Name(name) => self.exact.contains(name),
            Target::Wildcard(parent) => self.wildcards.contains(parent),
            Target::Transient(name) => self.target(name).as_ref() == Some(target),
        }
    }
}

// === impl LeafCache ===

impl LeafCache {
    pub(crate) fn new(ca: InternalCa, ca_dir: &Path) -> Self {
        LeafCache {
            ca,
            dir: ca_dir.join("issued"),
            policy: Mutex::new(IssuePolicy::default()),
            kept: Mutex::new(HashMap::new()),
            transient: Mutex::new(Recent::default()),
            fallback: Mutex::new(Fallback {
                names: vec![localhost()],
                leaf: None,
            }),
        }
    }

    pub(crate) fn ca(&self) -> &InternalCa {
        &self.ca
    }

    /// Replaces what may be issued; leaves for names no longer covered are
    /// dropped from memory (their files stay, for a later config).
    pub(crate) fn set_policy(&self, policy: IssuePolicy) {
        let mut current = lock(&self.policy);
        if *current == policy {
            return;
        }
        lock(&self.kept).retain(|target, _| policy.keeps(target));
        lock(&self.transient)
            .slots
            .retain(|name, _| policy.keeps(&Target::Transient(name.clone())));
        *current = policy;
    }

    /// The leaf for `name`: cached, else stored, else new. `Ok(None)` when
    /// no route covers the name.
    pub(crate) fn for_name(
        &self,
        name: &HostName,
        now: UnixTime,
    ) -> Result<Option<Arc<CertifiedKey>>, TlsError> {
        let Some(target) = lock(&self.policy).target(name) else {
            return Ok(None);
        };
        let slot = match &target {
            Target::Transient(name) => lock(&self.transient).slot(name),
            kept => Arc::clone(lock(&self.kept).entry(kept.clone()).or_default()),
        };
        let mut slot = lock(&slot);
        // The requested name is what the leaf must cover (for a wildcard,
        // one name under it).
        let check = std::slice::from_ref(name);
        if let Some(cached) = slot.as_mut() {
            if self.still_fresh(cached, check, now) {
                return Ok(Some(Arc::clone(&cached.key)));
            }
        }

        let (subject, paths) = match &target {
            Target::Name(name) => (name.clone(), self.disk_paths(&name.file_stem())),
            Target::Wildcard(parent) => {
                let wildcard = HostName::Wildcard(parent.clone());
                let paths = self.disk_paths(&wildcard.file_stem());
                (wildcard, paths)
            }
            Target::Transient(name) => (name.clone(), None),
        };
        if let Some(key) = paths
            .as_ref()
            .and_then(|(cert_path, key_path)| self.ca.load_leaf(cert_path, key_path))
        {
            let mut cached = Cached {
                key: Arc::new(key),
                recheck_at: now,
            };
            if self.still_fresh(&mut cached, check, now) {
                tracing::debug!(%subject, "reusing issued certificate from disk");
                let key = Arc::clone(&cached.key);
                *slot = Some(cached);
                return Ok(Some(key));
            }
        }

        let leaf = self.ca.issue(std::slice::from_ref(&subject), check, now)?;
        match &target {
            Target::Transient(_) => {
                tracing::debug!(%subject, "internal ca issued a certificate kept in memory")
            }
            _ => tracing::info!(%subject, "internal ca issued a certificate"),
        }
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
        Ok(Some(leaf.key))
    }

    /// `issued/<stem>.pem` and `.key`; `None` for names too long to be a
    /// file name (with the temporary-file decoration), which then live in
    /// memory only.
    fn disk_paths(&self, stem: &str) -> Option<(PathBuf, PathBuf)> {
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
        let mut slots: Vec<Slot> = lock(&self.kept).values().cloned().collect();
        slots.extend(
            lock(&self.transient)
                .slots
                .values()
                .map(|(_, s)| Arc::clone(s)),
        );
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
        let issued = self.ca.issue(names, names, now)?;
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

// === impl Recent ===

impl Recent {
    /// The slot for `name`, made (evicting the least recently used when
    /// full) if there is none; marked as used now.
    fn slot(&mut self, name: &HostName) -> Slot {
        self.clock += 1;
        let clock = self.clock;
        if let Some((used, slot)) = self.slots.get_mut(name) {
            *used = clock;
            return Arc::clone(slot);
        }
        if self.slots.len() >= MAX_TRANSIENT {
            let oldest = self
                .slots
                .iter()
                .min_by_key(|(_, (used, _))| *used)
                .map(|(n, _)| n.clone());
            if let Some(oldest) = oldest {
                self.slots.remove(&oldest);
            }
        }
        let slot = Slot::default();
        self.slots.insert(name.clone(), (clock, Arc::clone(&slot)));
        slot
    }
}

fn localhost() -> HostName {
    HostName::Dns("localhost".to_owned())
}
