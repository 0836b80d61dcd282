//! The discovery documents (`/api`, `/apis`, `/api/v1`,
//! `/apis/{group}/{version}`, `/version`) listing only what the fake
//! serves, in the legacy (unaggregated) JSON form, so kubectl and other
//! discovering clients can talk to the fake by hand. A real cluster lets
//! every authenticated user read them (`system:discovery`), so RBAC does
//! not apply to them here either.

use serde_json::{json, Value};

use super::resource::RESOURCES;

/// The groups other than core, with their one version, in table order.
fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        if !out.iter().any(|(g, _)| *g == r.group) {
            out.push((r.group, r.version));
        }
    }
    out
}

fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let verbs = if r.kind == "Event" {
            json!(["create", "get", "list", "patch", "watch", "delete"])
        } else {
            json!(["create", "delete", "get", "list", "patch", "watch"])
        };
        resources.push(json!({
            "name": r.plural,
            "singularName": r.kind.to_lowercase(),
            "namespaced": true,
            "kind": r.kind,
            "verbs": verbs,
        }));
        if r.kind == "Ingress" {
            resources.push(json!({
                "name": "ingresses/status",
                "singularName": "",
                "namespaced": true,
                "kind": "Ingress",
                "verbs": ["get", "patch"],
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

/// The document at `path`, if it is one.
pub(super) fn document(path: &str) -> Option<Value> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["version"] => Some(json!({
            "major": "1",
            "minor": "33",
            "gitVersion": "v1.33.0-wingress-fake",
            "platform": "linux/amd64",
        })),
        ["api"] => Some(json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
        })),
        ["apis"] => {
            let groups: Vec<Value> = groups()
                .into_iter()
                .map(|(g, v)| {
                    let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
                    json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
                })
                .collect();
            Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        ["api", version] => resource_list("", version),
        ["apis", group, version] => resource_list(group, version),
        _ => None,
    }
}
