//! The status writer: the configured address in
//! `status.loadBalancer.ingress` of every Ingress the mapping accepted,
//! written only when the object holds something else. Every node writes
//! the same address, so no leader election is needed: the first node's
//! write makes the others' comparisons equal.
//!
//! [`StatusPlanner`] is sans-IO. Call order:
//! [`StatusPlanner::set_accepted`] when the mapping's outcome changes,
//! then [`StatusPlanner::plan`] with the Ingresses to look at (all of
//! them after a list or a new outcome; one after its watch event); PATCH
//! each returned key with [`patch_body`] and call
//! [`StatusPlanner::handle_failed`] for those that failed.
//!
//! A key just patched is not patched again until the watch delivers a new
//! resource version of it (our write's echo, or someone else's), so the
//! writes and the watch do not race into a loop.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::api::networking::v1::{Ingress, IngressLoadBalancerIngress};
use serde_json::json;

use super::store::{ObjectKey, Stores};

/// The address to publish, as Kubernetes spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StatusAddress {
    /// Written as `ip`.
    Ip(IpAddr),
    /// Written as `hostname`.
    Hostname(String),
}

impl StatusAddress {
    /// `s` as an IP address if it parses as one, else as a host name.
    pub(crate) fn parse(s: &str) -> StatusAddress {
        match s.parse::<IpAddr>() {
            Ok(ip) => StatusAddress::Ip(ip),
            Err(_) => StatusAddress::Hostname(s.to_ascii_lowercase()),
        }
    }

    /// Whether `lb` is exactly this address (no ports, nothing else).
    fn matches(&self, lb: &IngressLoadBalancerIngress) -> bool {
        let (ip, hostname) = match self {
            StatusAddress::Ip(ip) => (Some(ip.to_string()), None),
            StatusAddress::Hostname(h) => (None, Some(h.clone())),
        };
        lb.ip == ip && lb.hostname == hostname && lb.ports.as_ref().is_none_or(Vec::is_empty)
    }
}

/// Whether `ingress`'s status holds anything but `address` alone.
pub(crate) fn needs_patch(ingress: &Ingress, address: &StatusAddress) -> bool {
    let current = ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_deref())
        .unwrap_or_default();
    !matches!(current, [only] if address.matches(only))
}

/// The merge patch for the `status` subresource that sets `address` (the
/// list is replaced whole, as merge patches replace lists).
pub(crate) fn patch_body(address: &StatusAddress) -> serde_json::Value {
    let entry = match address {
        StatusAddress::Ip(ip) => json!({ "ip": ip.to_string() }),
        StatusAddress::Hostname(h) => json!({ "hostname": h }),
    };
    json!({ "status": { "loadBalancer": { "ingress": [entry] } } })
}

/// Which accepted Ingresses need their status written.
#[derive(Debug)]
pub(crate) struct StatusPlanner {
    /// The address to publish.
    address: StatusAddress,
    /// The Ingresses the mapping accepted.
    accepted: BTreeSet<ObjectKey>,
    /// Keys patched, with the resource version the object had then; not
    /// patched again until that changes.
    patched: BTreeMap<ObjectKey, Option<String>>,
}

impl StatusPlanner {
    /// A planner that publishes `address`.
    pub(crate) fn new(address: StatusAddress) -> StatusPlanner {
        StatusPlanner {
            address,
            accepted: BTreeSet::new(),
            patched: BTreeMap::new(),
        }
    }

    /// The address published.
    pub(crate) fn address(&self) -> &StatusAddress {
        &self.address
    }

    /// The mapping now accepts `accepted`.
    pub(crate) fn set_accepted(&mut self, accepted: impl IntoIterator<Item = ObjectKey>) {
        self.accepted = accepted.into_iter().collect();
        let accepted = &self.accepted;
        self.patched.retain(|k, _| accepted.contains(k));
    }

    /// Every accepted Ingress, to look at with [`StatusPlanner::plan`].
    pub(crate) fn accepted(&self) -> Vec<ObjectKey> {
        self.accepted.iter().cloned().collect()
    }

    /// Of `keys`, those accepted whose stored status differs from the
    /// address and that were not patched at their current resource
    /// version; each is recorded as patched.
    pub(crate) fn plan<'k>(
        &mut self,
        stores: &Stores,
        keys: impl IntoIterator<Item = &'k ObjectKey>,
    ) -> Vec<ObjectKey> {
        let mut out = Vec::new();
        for key in keys {
            if !self.accepted.contains(key) {
                continue;
            }
            let Some(ingress) = stores.ingress(key) else {
                continue;
            };
            if !needs_patch(ingress, &self.address) {
                self.patched.remove(key);
                continue;
            }
            let version = ingress.metadata.resource_version.clone();
            if self.patched.get(key) == Some(&version) {
                continue;
            }
            self.patched.insert(key.clone(), version);
            out.push(key.clone());
        }
        out
    }

    /// The patch of `key` failed: plan it again next time.
    pub(crate) fn handle_failed(&mut self, key: &ObjectKey) {
        self.patched.remove(key);
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
