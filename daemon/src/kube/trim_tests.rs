use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::json;

use super::*;

/// An Ingress as `kubectl apply` leaves it, status written by someone.
fn applied_ingress() -> Ingress {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "web",
            "namespace": "apps",
            "uid": "1f0c",
            "resourceVersion": "42",
            "generation": 3,
            "creationTimestamp": "2026-01-02T03:04:05Z",
            "labels": { "app": "web" },
            "annotations": {
                "kubernetes.io/ingress.class": "wingress",
                "wingress.dev/access": "tunnel",
                "kubectl.kubernetes.io/last-applied-configuration": "{\"huge\": true}",
                "argocd.argoproj.io/tracking-id": "web:networking.k8s.io/Ingress:apps/web"
            },
            "managedFields": [{ "manager": "kubectl", "operation": "Apply" }],
            "finalizers": ["example.com/keep"]
        },
        "spec": {
            "ingressClassName": "wingress",
            "rules": [{ "host": "web.example.com", "http": { "paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": { "service": { "name": "web", "port": { "name": "http" } } }
            }]}}],
            "tls": [{ "hosts": ["web.example.com"], "secretName": "web-tls" }]
        },
        "status": { "loadBalancer": { "ingress": [{ "ip": "10.0.0.1" }] } }
    }))
    .unwrap()
}

#[test]
fn ingress_keeps_what_the_mapping_and_status_writer_read() {
    let original = applied_ingress();
    let trimmed = original.clone().trim();
    let meta = &trimmed.metadata;
    assert_eq!(meta.name.as_deref(), Some("web"));
    assert_eq!(meta.namespace.as_deref(), Some("apps"));
    assert_eq!(meta.uid.as_deref(), Some("1f0c"));
    assert_eq!(meta.resource_version.as_deref(), Some("42"));
    assert!(meta.creation_timestamp.is_some());
    let annotations = meta.annotations.as_ref().unwrap();
    assert_eq!(
        annotations.keys().collect::<Vec<_>>(),
        ["kubernetes.io/ingress.class", "wingress.dev/access"]
    );
    assert!(meta.managed_fields.is_none());
    assert!(meta.labels.is_none());
    assert!(meta.finalizers.is_none());
    assert!(meta.generation.is_none());
    assert_eq!(trimmed.spec, original.spec);
    assert_eq!(trimmed.status, original.status);
}

#[test]
fn ingress_without_kept_annotations_has_none() {
    let mut ingress = applied_ingress();
    ingress.metadata.annotations = Some([("a".to_string(), "b".to_string())].into());
    assert!(ingress.trim().metadata.annotations.is_none());
}

#[test]
fn ingress_status_and_version_do_not_change_the_mapping() {
    let a = applied_ingress().trim();
    let mut b = a.clone();
    b.metadata.resource_version = Some("43".into());
    b.status = None;
    assert!(a.same_for_mapping(&b));
    let mut c = a.clone();
    c.metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert("wingress.dev/timeout".into(), "5s".into());
    assert!(!a.same_for_mapping(&c));
    let mut d = a.clone();
    d.spec.as_mut().unwrap().ingress_class_name = Some("other".into());
    assert!(!a.same_for_mapping(&d));
}

#[test]
fn service_keeps_addresses_and_ports() {
    let svc: Service = serde_json::from_value(json!({
        "metadata": {
            "name": "web", "namespace": "apps", "uid": "u", "resourceVersion": "7",
            "labels": { "app": "web" }, "annotations": { "x": "y" },
            "managedFields": [{ "manager": "helm" }]
        },
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10", "fd00::10"],
            "selector": { "app": "web" },
            "sessionAffinity": "None",
            "ipFamilies": ["IPv4", "IPv6"],
            "ports": [{ "name": "http", "port": 80, "targetPort": "http", "protocol": "TCP",
                        "nodePort": 30080, "appProtocol": "kubernetes.io/h2c" }]
        },
        "status": { "loadBalancer": {} }
    }))
    .unwrap();
    let t = svc.trim();
    assert_eq!(t.metadata.name.as_deref(), Some("web"));
    assert_eq!(t.metadata.namespace.as_deref(), Some("apps"));
    assert!(t.metadata.uid.is_none() && t.metadata.resource_version.is_none());
    assert!(t.metadata.labels.is_none() && t.metadata.annotations.is_none());
    assert!(t.metadata.managed_fields.is_none());
    assert!(t.status.is_none());
    let spec = t.spec.unwrap();
    assert_eq!(spec.type_.as_deref(), Some("NodePort"));
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.10"));
    assert_eq!(spec.cluster_ips.unwrap().len(), 2);
    assert!(spec.selector.is_none() && spec.session_affinity.is_none());
    assert!(spec.ip_families.is_none());
    let port = &spec.ports.unwrap()[0];
    assert_eq!(port.name.as_deref(), Some("http"));
    assert_eq!(port.port, 80);
    assert!(port.target_port.is_some());
    assert_eq!(port.app_protocol.as_deref(), Some("kubernetes.io/h2c"));
    assert!(port.node_port.is_none());
}

#[test]
fn endpoint_slice_keeps_addresses_conditions_ports_and_service_label() {
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {
            "name": "web-abcde", "namespace": "apps", "resourceVersion": "9",
            "labels": {
                "kubernetes.io/service-name": "web",
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"
            },
            "ownerReferences": [{ "apiVersion": "v1", "kind": "Service", "name": "web", "uid": "u" }]
        },
        "addressType": "IPv4",
        "endpoints": [{
            "addresses": ["10.244.1.5"],
            "conditions": { "ready": true, "serving": true, "terminating": false },
            "hostname": "web-0",
            "nodeName": "node-a",
            "zone": "z1",
            "targetRef": { "kind": "Pod", "name": "web-0", "namespace": "apps", "uid": "p" },
            "hints": { "forZones": [{ "name": "z1" }] }
        }],
        "ports": [{ "name": "http", "port": 8080, "protocol": "TCP" }]
    }))
    .unwrap();
    let t = slice.trim();
    assert_eq!(
        t.metadata
            .labels
            .as_ref()
            .unwrap()
            .get(SERVICE_NAME_LABEL)
            .map(String::as_str),
        Some("web")
    );
    assert_eq!(t.metadata.labels.as_ref().unwrap().len(), 1);
    assert!(t.metadata.owner_references.is_none());
    assert!(t.metadata.resource_version.is_none());
    assert_eq!(t.address_type, "IPv4");
    let e = &t.endpoints[0];
    assert_eq!(e.addresses, ["10.244.1.5"]);
    assert_eq!(e.conditions.as_ref().unwrap().ready, Some(true));
    assert!(e.hostname.is_none() && e.node_name.is_none() && e.zone.is_none());
    assert!(e.target_ref.is_none() && e.hints.is_none());
    assert_eq!(t.ports.unwrap()[0].port, Some(8080));
}

#[test]
fn endpoint_slice_update_of_dropped_fields_is_the_same() {
    let make = |node: &str, rv: &str| -> EndpointSlice {
        serde_json::from_value(json!({
            "metadata": { "name": "s", "namespace": "n", "resourceVersion": rv,
                          "labels": { "kubernetes.io/service-name": "web" } },
            "addressType": "IPv4",
            "endpoints": [{ "addresses": ["10.0.0.1"], "nodeName": node }]
        }))
        .unwrap()
    };
    assert!(make("a", "1")
        .trim()
        .same_for_mapping(&make("b", "2").trim()));
}

#[test]
fn secret_keeps_only_the_certificate_and_key() {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {
            "name": "web-tls", "namespace": "apps",
            "annotations": { "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{}}",
                             "cert-manager.io/issuer-name": "le" },
            "labels": { "controller.cert-manager.io/fao": "true" }
        },
        "type": "kubernetes.io/tls",
        "data": { "tls.crt": "Y2VydA==", "tls.key": "a2V5", "ca.crt": "Y2E=" }
    }))
    .unwrap();
    let t = secret.trim();
    assert_eq!(t.type_.as_deref(), Some("kubernetes.io/tls"));
    let data = t.data.unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["tls.crt", "tls.key"]);
    assert_eq!(data["tls.crt"].0, b"cert");
    assert!(t.metadata.annotations.is_none() && t.metadata.labels.is_none());
}
