//! What [`crate::map`] produces: routes, certificates and problems, each
//! naming the object it came from.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use wingress_config::{HostPattern, RouteConfig};

/// `namespace/name` of an object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub namespace: String,
    pub name: String,
}

/// The routes, certificates and problems of a snapshot, each sorted so the
/// same snapshot always gives the same mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    /// Sorted by host, path and path type.
    pub routes: Vec<KubeRoute>,
    /// Sorted by Secret, then Ingress.
    pub certificates: Vec<Certificate>,
    /// Sorted by Ingress; one Ingress's problems in the order found.
    pub problems: Vec<Problem>,
}

/// One route and the Ingress it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeRoute {
    pub ingress: ObjectRef,
    /// `location` is `(0, 0)`: the route has no place in a file.
    pub route: RouteConfig,
}

/// A certificate from a `kubernetes.io/tls` Secret, for the SNI names that
/// its Ingress's `tls[].hosts` list and whose routes that Ingress won.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    pub secret: ObjectRef,
    pub ingress: ObjectRef,
    /// Never empty.
    pub names: Vec<HostPattern>,
    /// `tls.crt`: the PEM chain, leaf first.
    pub cert_pem: Vec<u8>,
    /// `tls.key`: the PEM private key. Never logged.
    pub key_pem: Vec<u8>,
}

/// Why an Ingress, or part of it, is not served as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub ingress: ObjectRef,
    /// Lowercase, without the Ingress's name.
    pub message: String,
}

// === impl ObjectRef ===

impl ObjectRef {
    /// The object's namespace (`default` when not set, as `kubectl`
    /// does for manifests without one) and name.
    pub fn of(meta: &ObjectMeta) -> ObjectRef {
        ObjectRef {
            namespace: meta
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_string()),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

// === impl Certificate ===

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("secret", &self.secret)
            .field("ingress", &self.ingress)
            .field("names", &self.names)
            .field("cert_pem", &format_args!("{} bytes", self.cert_pem.len()))
            .field("key_pem", &format_args!("<redacted>"))
            .finish()
    }
}
