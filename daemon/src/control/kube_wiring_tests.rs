use std::path::Path;

use serde_json::json;
use wingress_config::{Env, ServerConfig};
use wingress_kube::Snapshot;

use super::merge_with;

fn config(kube: bool, routes: &str) -> ServerConfig {
    let text = format!(
        "[wireguard]\naddress = \"100.64.0.1/24\"\n\n[tls]\ninternal_ca = true\n\n[kubernetes]\nenabled = {kube}\n\n{routes}"
    );
    wingress_config::parse_server(Path::new("w.toml"), &text, &Env::default()).unwrap()
}

fn ingress(name: &str, host: &str, created: &str, secret: Option<&str>) -> serde_json::Value {
    let mut spec = json!({
        "ingressClassName": "wingress",
        "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}],
    });
    if let Some(secret) = secret {
        spec["tls"] = json!([{"hosts": [host], "secretName": secret}]);
    }
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": "apps", "creationTimestamp": created},
        "spec": spec,
    })
}

fn snapshot(objects: Vec<serde_json::Value>) -> Snapshot {
    let mut s = Snapshot::default();
    for o in objects {
        s.add_object(o).unwrap();
    }
    s.add_object(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 80}]},
    }))
    .unwrap();
    s
}

#[test]
fn ingress_routes_are_appended_to_the_files_and_get_entrypoints() {
    let file = config(true, "");
    assert!(file.effective_entrypoints().is_empty());
    let snap = snapshot(vec![ingress(
        "a",
        "a.home.arpa",
        "2026-01-01T00:00:00Z",
        None,
    )]);
    let (merged, mapping) = merge_with(&file, Some(&snap));
    let mapping = mapping.unwrap();
    assert_eq!(mapping.routes.len(), 1);
    assert_eq!(merged.routes.len(), 1);
    assert_eq!(merged.routes[0].host.to_string(), "a.home.arpa");
    assert!(!merged.effective_entrypoints().is_empty());
}

#[test]
fn file_routes_stay_and_win() {
    let file = config(
        true,
        "[[route]]\nhost = \"a.home.arpa\"\nbackends = [\"http://127.0.0.1:1\"]\n",
    );
    let snap = snapshot(vec![
        ingress("a", "a.home.arpa", "2026-01-01T00:00:00Z", None),
        ingress("b", "b.home.arpa", "2026-01-01T00:00:00Z", None),
    ]);
    let (merged, mapping) = merge_with(&file, Some(&snap));
    let hosts: Vec<String> = merged.routes.iter().map(|r| r.host.to_string()).collect();
    assert_eq!(hosts, ["a.home.arpa", "b.home.arpa"]);
    assert_eq!(merged.routes[0].backends, file.routes[0].backends);
    assert!(mapping
        .unwrap()
        .problems
        .iter()
        .any(|p| p.ingress.name == "a"));
}

#[test]
fn nothing_is_merged_when_discovery_is_off_or_nothing_was_seen() {
    let snap = snapshot(vec![ingress(
        "a",
        "a.home.arpa",
        "2026-01-01T00:00:00Z",
        None,
    )]);
    let (merged, mapping) = merge_with(&config(false, ""), Some(&snap));
    assert!(merged.routes.is_empty() && mapping.is_none());
    let (merged, mapping) = merge_with(&config(true, ""), None);
    assert!(merged.routes.is_empty() && mapping.is_none());
}
