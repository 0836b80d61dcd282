//! Certificates that a background source (ACME) puts into the SNI store
//! while it serves: the current certificate per managed name, why a name
//! has none yet, and the TLS-ALPN-01 challenge certificates.
//!
//! Swapping an `Arc<CertifiedKey>` affects only handshakes that start
//! afterwards: open connections keep the keys they negotiated, so a renewal
//! drops nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rustls::sign::CertifiedKey;

use wingress_sync::{lock, read, write};

/// A pending name's handshake failure is logged at most this often.
const PENDING_LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Default)]
pub(crate) struct ManagedCerts {
    /// Name (`app.example.com` or `*.example.com`) → what is served.
    slots: RwLock<HashMap<String, Slot>>,
    challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    logged: Mutex<HashMap<String, Instant>>,
}

enum Slot {
    Serving(Arc<CertifiedKey>),
    /// No certificate yet, and why.
    Pending(String),
}

/// What the managed certificates say about one SNI name.
pub(crate) enum Lookup {
    Found(Arc<CertifiedKey>),
    /// Managed, but no certificate yet: the handshake fails.
    Pending,
    NotManaged,
}

impl ManagedCerts {
    /// The certificate for `name`, trying the exact name, then the wildcard
    /// `wildcard` (`*.parent`) if given.
    pub(crate) fn lookup(&self, name: &str, wildcard: Option<&str>) -> Lookup {
        let slots = read(&self.slots);
        let found = slots
            .get_key_value(name)
            .or_else(|| wildcard.and_then(|w| slots.get_key_value(w)));
        match found {
            Some((_, Slot::Serving(key))) => Lookup::Found(Arc::clone(key)),
            Some((managed, Slot::Pending(reason))) => {
                let (managed, reason) = (managed.clone(), reason.clone());
                drop(slots);
                self.log_pending(&managed, &reason);
                Lookup::Pending
            }
            None => Lookup::NotManaged,
        }
    }

    pub(crate) fn serve(&self, name: &str, key: Arc<CertifiedKey>) {
        write(&self.slots).insert(name.to_owned(), Slot::Serving(key));
    }

    /// Marks `name` pending unless it already serves a certificate (a
    /// failed renewal keeps the old one).
    pub(crate) fn set_pending(&self, name: &str, reason: String) {
        let mut slots = write(&self.slots);
        match slots.get_mut(name) {
            Some(Slot::Serving(_)) => {}
            Some(slot) => *slot = Slot::Pending(reason),
            None => {
                slots.insert(name.to_owned(), Slot::Pending(reason));
            }
        }
    }

    pub(crate) fn remove(&self, name: &str) {
        write(&self.slots).remove(name);
    }

    pub(crate) fn set_challenge(&self, name: &str, key: Option<Arc<CertifiedKey>>) {
        let mut challenges = write(&self.challenges);
        match key {
            Some(key) => challenges.insert(name.to_owned(), key),
            None => challenges.remove(name),
        };
    }

    pub(crate) fn challenge(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        read(&self.challenges).get(name).cloned()
    }

    fn log_pending(&self, name: &str, reason: &str) {
        let now = Instant::now();
        let mut logged = lock(&self.logged);
        if logged
            .get(name)
            .is_some_and(|at| now.duration_since(*at) < PENDING_LOG_EVERY)
        {
            return;
        }
        logged.insert(name.to_owned(), now);
        // `name` is a configured route host, not whatever the client sent.
        tracing::warn!(
            name,
            reason,
            "tls handshake refused: no ACME certificate for this host yet"
        );
    }
}
