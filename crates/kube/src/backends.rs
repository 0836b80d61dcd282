//! An Ingress backend (Service name and port) to backend addresses: the
//! ready pod addresses of the Service's EndpointSlices, or its ClusterIP.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use k8s_openapi::api::networking::v1::IngressServiceBackend;
use wingress_config::{BackendSource, BackendUrl};

use crate::Snapshot;

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The backends of one Ingress backend, and why there are none when the
/// Service or its port is missing (a problem to report, not a reason to
/// skip the Ingress: the Service may come a moment later). No ready
/// endpoint is no note: the route answers 503, as a rollout expects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// Sorted, without repeats.
    pub(crate) backends: Vec<BackendUrl>,
    pub(crate) note: Option<String>,
}

/// The port an Ingress asks for, as written.
enum WantedPort<'a> {
    Number(i32),
    Name(&'a str),
}

/// `Err` only for a backend the Ingress wrote wrong (no port).
pub(crate) fn resolve(
    snapshot: &Snapshot,
    namespace: &str,
    backend: &IngressServiceBackend,
    source: BackendSource,
) -> Result<Resolved, String> {
    let wanted = match backend.port.as_ref().map(|p| (p.number, p.name.as_deref())) {
        Some((Some(n), None)) => WantedPort::Number(n),
        Some((None, Some(name))) if !name.is_empty() => WantedPort::Name(name),
        _ => {
            return Err(format!(
                "backend service `{}`: give exactly one of port.number and port.name",
                backend.name
            ))
        }
    };
    let svc_name = backend.name.as_str();
    let Some(service) = snapshot.services.iter().find(|s| {
        s.metadata.name.as_deref() == Some(svc_name)
            && s.metadata.namespace.as_deref().unwrap_or("default") == namespace
    }) else {
        return Ok(note(format!(
            "Service {namespace}/{svc_name} not found; its routes answer 503"
        )));
    };
    let spec = service.spec.as_ref();
    let ports: &[ServicePort] = spec.and_then(|s| s.ports.as_deref()).unwrap_or_default();
    let port = ports.iter().find(|p| match wanted {
        WantedPort::Number(n) => p.port == n,
        WantedPort::Name(name) => p.name.as_deref() == Some(name),
    });

    if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
        return Ok(external_name(service, &wanted, port));
    }
    match source {
        BackendSource::Service => Ok(cluster_ip(service, namespace, port, &wanted)),
        BackendSource::Endpoints => {
            // A named port missing from the Service may still be a port of
            // its endpoints (Services without selectors list theirs by hand).
            let port_name = match (port, &wanted) {
                (Some(p), _) => p.name.as_deref().unwrap_or_default(),
                (None, WantedPort::Name(name)) => name,
                (None, WantedPort::Number(n)) => {
                    return Ok(note(format!(
                        "Service {namespace}/{svc_name} has no port {n}; its routes answer 503"
                    )))
                }
            };
            let target = port.and_then(|p| match &p.target_port {
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n)) => Some(*n),
                _ => None,
            });
            let mut resolved = endpoints(snapshot, namespace, svc_name, port_name, target);
            if port.is_none() && resolved.backends.is_empty() {
                resolved.note = Some(missing_port(namespace, svc_name, &wanted));
            }
            Ok(resolved)
        }
    }
}

fn note(message: String) -> Resolved {
    Resolved {
        backends: Vec::new(),
        note: Some(message),
    }
}

/// The ready, serving, not terminating addresses of every slice of the
/// Service, on the slice port named like the Service port (or, for a
/// slice listing no such name, numbered like its `targetPort`).
fn endpoints(
    snapshot: &Snapshot,
    namespace: &str,
    service: &str,
    port_name: &str,
    target: Option<i32>,
) -> Resolved {
    let mut backends = Vec::new();
    let slices = snapshot.endpoint_slices.iter().filter(|s| {
        s.metadata.namespace.as_deref().unwrap_or("default") == namespace
            && s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                .is_some_and(|name| name == service)
    });
    for slice in slices {
        let Some(port) = slice_port(slice, port_name, target) else {
            continue;
        };
        for endpoint in slice.endpoints.iter().filter(|e| usable(e)) {
            for address in &endpoint.addresses {
                if let Some(url) = backend_url(address, port) {
                    backends.push(url);
                }
            }
        }
    }
    sort(&mut backends);
    Resolved {
        backends,
        note: None,
    }
}

fn slice_port(slice: &EndpointSlice, port_name: &str, target: Option<i32>) -> Option<u16> {
    let ports = slice.ports.as_deref().unwrap_or_default();
    let by_name = ports
        .iter()
        .find(|p| p.name.as_deref().unwrap_or_default() == port_name);
    let port = match by_name {
        Some(p) => p.port?,
        None => {
            let n = target?;
            ports.iter().find(|p| p.port == Some(n))?.port?
        }
    };
    u16::try_from(port).ok().filter(|p| *p != 0)
}

/// Ready (unknown counts as ready), serving (unknown: as ready) and not
/// terminating, as the EndpointSlice API defines its conditions.
fn usable(endpoint: &Endpoint) -> bool {
    let conditions = endpoint.conditions.as_ref();
    let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
    let serving = conditions.and_then(|c| c.serving).unwrap_or(ready);
    let terminating = conditions.and_then(|c| c.terminating).unwrap_or(false);
    ready && serving && !terminating
}

fn cluster_ip(
    service: &Service,
    namespace: &str,
    port: Option<&ServicePort>,
    wanted: &WantedPort<'_>,
) -> Resolved {
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let Some(port) = port else {
        return note(missing_port(namespace, name, wanted));
    };
    let ip = service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref());
    match ip {
        Some(ip) if ip != "None" && !ip.is_empty() => Resolved {
            backends: u16::try_from(port.port)
                .ok()
                .and_then(|p| backend_url(ip, p))
                .into_iter()
                .collect(),
            note: None,
        },
        _ => note(format!(
            "Service {namespace}/{name} has no ClusterIP (headless); use [kubernetes] backends = \
             \"endpoints\"; its routes answer 503"
        )),
    }
}

/// An `ExternalName` Service: its DNS name, on the Service port's number
/// (or the number the Ingress asked for).
fn external_name(
    service: &Service,
    wanted: &WantedPort<'_>,
    port: Option<&ServicePort>,
) -> Resolved {
    let namespace = service.metadata.namespace.as_deref().unwrap_or("default");
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let number = match (port, wanted) {
        (Some(p), _) => p.port,
        (None, WantedPort::Number(n)) => *n,
        (None, WantedPort::Name(_)) => return note(missing_port(namespace, name, wanted)),
    };
    let host = service
        .spec
        .as_ref()
        .and_then(|s| s.external_name.as_deref())
        .unwrap_or_default();
    match u16::try_from(number)
        .ok()
        .and_then(|p| backend_url(host, p))
    {
        Some(url) => Resolved {
            backends: vec![url],
            note: None,
        },
        None => note(format!(
            "Service {namespace}/{name}: externalName `{host}` port {number} is not a backend \
             address; its routes answer 503"
        )),
    }
}

fn missing_port(namespace: &str, name: &str, wanted: &WantedPort<'_>) -> String {
    let port = match wanted {
        WantedPort::Number(n) => n.to_string(),
        WantedPort::Name(name) => format!("named `{name}`"),
    };
    format!("Service {namespace}/{name} has no port {port}; its routes answer 503")
}

/// `http://address:port`, through the parser of `[[route]] backends`.
fn backend_url(address: &str, port: u16) -> Option<BackendUrl> {
    let host = match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        Ok(ip) => ip.to_string(),
        Err(_) => address.to_string(),
    };
    format!("http://{host}:{port}").parse().ok()
}

fn sort(backends: &mut Vec<BackendUrl>) {
    backends.sort_by(|a, b| (&a.host, a.port).cmp(&(&b.host, b.port)));
    backends.dedup();
}
