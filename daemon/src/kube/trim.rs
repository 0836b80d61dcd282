//! Trimming: each watched object cut down to the fields the mapping (and
//! the status writer) read, before it is stored. The watch delivers whole
//! objects (managed fields, `last-applied-configuration` annotations that
//! repeat the object, Secret keys nobody serves, endpoint topology); kept
//! as they come, 5,000 Ingress/Service/EndpointSlice sets would cost many
//! times what the routes do.
//!
//! [`Trimmed::trim`] is applied to every object as it arrives;
//! [`Trimmed::same_for_mapping`] tells the store whether an update changed
//! anything the mapping reads, so an update that only touched dropped
//! fields (or, for an Ingress, its status) builds no new snapshot.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Secret, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use k8s_openapi::api::networking::v1::{Ingress, IngressStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The legacy annotation that names an Ingress's class.
pub(crate) const INGRESS_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// The prefix of wingress's own Ingress annotations.
pub(crate) const WINGRESS_ANNOTATION_PREFIX: &str = "wingress.dev/";
/// The label that ties an EndpointSlice to its Service.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The keys of a `kubernetes.io/tls` Secret that are served.
pub(crate) const TLS_SECRET_KEYS: [&str; 2] = ["tls.crt", "tls.key"];

/// A watched kind, cut down to what discovery uses.
pub(crate) trait Trimmed: Sized {
    /// The object with every field the mapping does not read dropped.
    fn trim(self) -> Self;

    /// Whether two trimmed objects map to the same routes: equal but for
    /// fields that only the watch bookkeeping or the status writer read.
    fn same_for_mapping(&self, other: &Self) -> bool;
}

/// Name and namespace; the rest of the metadata dropped.
fn trim_meta(meta: ObjectMeta) -> ObjectMeta {
    ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        ..ObjectMeta::default()
    }
}

// === impl Trimmed for Ingress ===

impl Trimmed for Ingress {
    /// Keeps the name, namespace, uid (Events refer to it), creation time
    /// (the oldest Ingress wins a conflict), resource version (the status
    /// writer's bookkeeping), the class annotation and `wingress.dev/*`,
    /// the whole spec, and `status.loadBalancer` (to write it only when it
    /// differs).
    fn trim(self) -> Ingress {
        let meta = self.metadata;
        let annotations: BTreeMap<String, String> = meta
            .annotations
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| {
                k == INGRESS_CLASS_ANNOTATION || k.starts_with(WINGRESS_ANNOTATION_PREFIX)
            })
            .collect();
        let metadata = ObjectMeta {
            creation_timestamp: meta.creation_timestamp,
            resource_version: meta.resource_version,
            annotations: (!annotations.is_empty()).then_some(annotations),
            name: meta.name,
            namespace: meta.namespace,
            uid: meta.uid,
            ..ObjectMeta::default()
        };
        let status = self
            .status
            .and_then(|s| s.load_balancer)
            .map(|lb| IngressStatus {
                load_balancer: Some(lb),
            });
        Ingress {
            metadata,
            spec: self.spec,
            status,
        }
    }

    fn same_for_mapping(&self, other: &Ingress) -> bool {
        let (a, b) = (&self.metadata, &other.metadata);
        a.name == b.name
            && a.namespace == b.namespace
            && a.uid == b.uid
            && a.creation_timestamp == b.creation_timestamp
            && a.annotations == b.annotations
            && self.spec == other.spec
    }
}

// === impl Trimmed for Service ===

impl Trimmed for Service {
    /// Keeps the name, namespace, type, cluster IPs, external name and the
    /// ports (name, port, target port, protocol, app protocol; no node
    /// ports). Selectors, affinity, IP families and the status go.
    fn trim(self) -> Service {
        let spec = self.spec.map(|s| ServiceSpec {
            type_: s.type_,
            cluster_ip: s.cluster_ip,
            cluster_ips: s.cluster_ips,
            external_name: s.external_name,
            ports: s.ports.map(|ports| {
                ports
                    .into_iter()
                    .map(|p| ServicePort {
                        name: p.name,
                        port: p.port,
                        target_port: p.target_port,
                        protocol: p.protocol,
                        app_protocol: p.app_protocol,
                        node_port: None,
                    })
                    .collect()
            }),
            ..ServiceSpec::default()
        });
        Service {
            metadata: trim_meta(self.metadata),
            spec,
            status: None,
        }
    }

    fn same_for_mapping(&self, other: &Service) -> bool {
        self == other
    }
}

// === impl Trimmed for EndpointSlice ===

impl Trimmed for EndpointSlice {
    /// Keeps the name, namespace, the `kubernetes.io/service-name` label,
    /// the address type, each endpoint's addresses and conditions (ready,
    /// serving, terminating), and the ports. Hostnames, node names, zones,
    /// hints and target references go.
    fn trim(self) -> EndpointSlice {
        let service = self
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_NAME_LABEL))
            .cloned();
        let mut metadata = trim_meta(self.metadata);
        metadata.labels = service.map(|s| BTreeMap::from([(SERVICE_NAME_LABEL.to_string(), s)]));
        let endpoints = self
            .endpoints
            .into_iter()
            .map(|e| Endpoint {
                addresses: e.addresses,
                conditions: e.conditions,
                ..Endpoint::default()
            })
            .collect();
        EndpointSlice {
            metadata,
            address_type: self.address_type,
            endpoints,
            ports: self.ports,
        }
    }

    fn same_for_mapping(&self, other: &EndpointSlice) -> bool {
        self == other
    }
}

// === impl Trimmed for Secret ===

impl Trimmed for Secret {
    /// Keeps the name, namespace, type and the `tls.crt` and `tls.key`
    /// data; every other key (a `ca.crt`, anything put there by hand), the
    /// labels and the annotations (`last-applied-configuration` would hold
    /// the data a second time) go.
    fn trim(self) -> Secret {
        let data = self.data.map(|d| {
            d.into_iter()
                .filter(|(k, _)| TLS_SECRET_KEYS.contains(&k.as_str()))
                .collect::<BTreeMap<_, _>>()
        });
        Secret {
            metadata: trim_meta(self.metadata),
            type_: self.type_,
            data,
            ..Secret::default()
        }
    }

    fn same_for_mapping(&self, other: &Secret) -> bool {
        self == other
    }
}

#[cfg(test)]
#[path = "trim_tests.rs"]
mod tests;
