//! The status writer: the configured address in
//! `status.loadBalancer.ingress` of every Ingress the mapping accepted,
//! written only when the object holds something else, and taken out again
//! when this node stops serving an Ingress it served (its class changed,
//! it is rejected or skipped now). Every node writes the same address, so
//! no leader election is needed: the first node's write makes the others'
//! comparisons equal.
//!
//! [`StatusPlanner`] is sans-IO. Call order:
//! [`StatusPlanner::set_accepted`] when the mapping's outcome changes,
//! then [`StatusPlanner::plan`] with the Ingresses to look at (all of
//! [`StatusPlanner::keys`] after a list or a new outcome; one after its
//! watch event); PATCH each returned key's `status` with the returned
//! merge patch and call [`StatusPlanner::handle_failed`] for those that
//! failed.
//!
//! A key just patched is not patched again until the watch delivers a new
//! resource version of it (our write's echo, or someone else's), so the
//! writes and the watch do not race into a loop. The address is taken out
//! of an Ingress at most once after this node stops serving it: a node
//! whose config still accepts it (during a rollout of a new config) writes
//! it back, and the two do not take turns.

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
    !matches!(published(ingress), [only] if address.matches(only))
}

/// `status.loadBalancer.ingress` of `ingress` (empty when unset).
fn published(ingress: &Ingress) -> &[IngressLoadBalancerIngress] {
    ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_deref())
        .unwrap_or_default()
}

/// If `ingress`'s status holds `address`, what the list is without it
/// (others' entries kept).
pub(crate) fn without_address(
    ingress: &Ingress,
    address: &StatusAddress,
) -> Option<Vec<IngressLoadBalancerIngress>> {
    let current = published(ingress);
    current.iter().any(|lb| address.matches(lb)).then(|| {
        current
            .iter()
            .filter(|lb| !address.matches(lb))
            .cloned()
            .collect()
    })
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

/// The merge patch for the `status` subresource that leaves `remaining`
/// (the list removed when nothing remains, as on an Ingress no controller
/// serves).
pub(crate) fn clear_body(remaining: &[IngressLoadBalancerIngress]) -> serde_json::Value {
    let list = if remaining.is_empty() {
        serde_json::Value::Null
    } else {
        json!(remaining)
    };
    json!({ "status": { "loadBalancer": { "ingress": list } } })
}

/// Which Ingresses need their status written: accepted ones the address,
/// withdrawn ones its removal.
#[derive(Debug)]
pub(crate) struct StatusPlanner {
    /// The address to publish.
    address: StatusAddress,
    /// The Ingresses the mapping accepted.
    accepted: BTreeSet<ObjectKey>,
    /// Ingresses accepted before and not any more whose status may still
    /// hold the address: each left once the address was taken out (or the
    /// Ingress is gone).
    withdrawn: BTreeSet<ObjectKey>,
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
            withdrawn: BTreeSet::new(),
            patched: BTreeMap::new(),
        }
    }

    /// The mapping now accepts `accepted`; those it accepted before and
    /// not any more are withdrawn.
    pub(crate) fn set_accepted(&mut self, accepted: impl IntoIterator<Item = ObjectKey>) {
        let accepted: BTreeSet<ObjectKey> = accepted.into_iter().collect();
        self.withdrawn
            .extend(self.accepted.difference(&accepted).cloned());
        self.withdrawn.retain(|k| !accepted.contains(k));
        self.accepted = accepted;
        let accepted = &self.accepted;
        // A withdrawn key's last write was the address: forgotten, so the
        // address is taken out even at the version it was written at.
        self.patched.retain(|k, _| accepted.contains(k));
    }

    /// Every Ingress whose status this node looks after, to look at with
    /// [`StatusPlanner::plan`]: the accepted and the withdrawn.
    pub(crate) fn keys(&self) -> Vec<ObjectKey> {
        self.accepted.union(&self.withdrawn).cloned().collect()
    }

    /// Of `keys`, the status patches due, each with its merge patch: the
    /// address for those accepted whose stored status differs from it,
    /// its removal for those withdrawn whose status holds it; none for a
    /// key patched at its current resource version. Each is recorded as
    /// patched.
    pub(crate) fn plan<'k>(
        &mut self,
        stores: &Stores,
        keys: impl IntoIterator<Item = &'k ObjectKey>,
    ) -> Vec<(ObjectKey, serde_json::Value)> {
        let mut out = Vec::new();
        for key in keys {
            let accepted = self.accepted.contains(key);
            if !accepted && !self.withdrawn.contains(key) {
                continue;
            }
            let Some(ingress) = stores.ingress(key) else {
                if !accepted {
                    // Deleted: nothing left to take the address out of.
                    self.withdrawn.remove(key);
                }
                continue;
            };
            let body = if accepted {
                needs_patch(ingress, &self.address).then(|| patch_body(&self.address))
            } else {
                without_address(ingress, &self.address).map(|rest| clear_body(&rest))
            };
            let Some(body) = body else {
                self.patched.remove(key);
                continue;
            };
            let version = ingress.metadata.resource_version.clone();
            if self.patched.get(key) == Some(&version) {
                continue;
            }
            if !accepted {
                // Taken out once: a node that still serves it may write
                // it back, and then it stays.
                self.withdrawn.remove(key);
            }
            self.patched.insert(key.clone(), version);
            out.push((key.clone(), body));
        }
        out
    }

    /// The patch of `key` failed: plan it again next time.
    pub(crate) fn handle_failed(&mut self, key: &ObjectKey) {
        self.patched.remove(key);
        if !self.accepted.contains(key) {
            self.withdrawn.insert(key.clone());
        }
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
