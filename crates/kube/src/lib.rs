//! Kubernetes discovery, sans-IO: what the watchers in the daemon have seen
//! of the cluster ([`Snapshot`]) and, from it, the routes, certificates and
//! problems that the daemon serves and reports. No client, no socket, no
//! clock: the daemon's `kube/` folder owns the API connection and hands a
//! complete snapshot here after every (debounced) change.

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;

/// The objects discovery uses, as last listed and watched, each trimmed to
/// the fields the mapping reads (see the watchers). Built only after the
/// initial list of every kind completed, so a half-listed cluster never
/// becomes a route table with holes in it.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every Ingress in the watched namespaces (of any class: the mapping
    /// picks the configured classes).
    pub ingresses: Vec<Ingress>,
    /// The Services in the watched namespaces.
    pub services: Vec<Service>,
    /// The EndpointSlices in the watched namespaces.
    pub endpoint_slices: Vec<EndpointSlice>,
    /// The Secrets of type `kubernetes.io/tls` in the watched namespaces.
    pub secrets: Vec<Secret>,
}
