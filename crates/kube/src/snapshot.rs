//! [`Snapshot`]: the objects the mapping reads.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;

/// The objects discovery uses, as last listed and watched, each trimmed to
/// the fields the mapping reads (see the watchers). Built only after the
/// initial list of every kind completed, so a half-listed cluster never
/// becomes a route table with holes in it.
///
/// Objects are shared ([`Arc`]) with the daemon's watch stores: building a
/// snapshot after a change copies one pointer per object, not the objects,
/// and the objects no snapshot or store holds any more are freed.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every Ingress in the watched namespaces (of any class: the mapping
    /// picks the configured classes).
    pub ingresses: Vec<Arc<Ingress>>,
    /// The Services in the watched namespaces.
    pub services: Vec<Arc<Service>>,
    /// The EndpointSlices in the watched namespaces.
    pub endpoint_slices: Vec<Arc<EndpointSlice>>,
    /// The Secrets of type `kubernetes.io/tls` in the watched namespaces.
    pub secrets: Vec<Arc<Secret>>,
}

// === impl Snapshot ===

impl Snapshot {
    /// Adds one object of a manifest, as JSON (a YAML document read into
    /// JSON values): an Ingress, Service, EndpointSlice or Secret, or a
    /// `List` of them. Returns how many objects were taken; other kinds
    /// (Deployments, ...) are ignored and count 0.
    pub fn add_object(&mut self, object: serde_json::Value) -> Result<usize, String> {
        let api_version = object
            .get("apiVersion")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let kind = object
            .get("kind")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let name = object
            .pointer("/metadata/name")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string();
        let err = |e: serde_json::Error| format!("{kind} {name}: {e}");
        match (api_version.as_str(), kind.as_str()) {
            (_, "List")
            | (_, "IngressList" | "ServiceList" | "EndpointSliceList" | "SecretList") => {
                let items = match object.get("items") {
                    Some(serde_json::Value::Array(items)) => items.clone(),
                    Some(serde_json::Value::Null) | None => Vec::new(),
                    Some(_) => return Err(format!("{kind}: items is not a list")),
                };
                let mut n = 0;
                for item in items {
                    n += self.add_object(item)?;
                }
                Ok(n)
            }
            ("networking.k8s.io/v1", "Ingress") => {
                self.ingresses
                    .push(Arc::new(serde_json::from_value(object).map_err(err)?));
                Ok(1)
            }
            ("v1", "Service") => {
                self.services
                    .push(Arc::new(serde_json::from_value(object).map_err(err)?));
                Ok(1)
            }
            ("discovery.k8s.io/v1", "EndpointSlice") => {
                self.endpoint_slices
                    .push(Arc::new(serde_json::from_value(object).map_err(err)?));
                Ok(1)
            }
            ("v1", "Secret") => {
                self.secrets
                    .push(Arc::new(serde_json::from_value(object).map_err(err)?));
                Ok(1)
            }
            (_, "Ingress" | "Service" | "EndpointSlice" | "Secret") => Err(format!(
                "{kind} {name}: apiVersion `{api_version}` is not read (networking.k8s.io/v1 \
                 Ingress, v1 Service and Secret, discovery.k8s.io/v1 EndpointSlice)"
            )),
            _ => Ok(0),
        }
    }
}
