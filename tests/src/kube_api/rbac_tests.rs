use super::*;

const ROLE: &str = "
# a comment
apiVersion: v1
kind: ServiceAccount
metadata: {name: x}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: r
rules:
  - apiGroups: [networking.k8s.io]
    resources: [ingresses]
    verbs: [get, list, watch]
  - apiGroups: [networking.k8s.io]
    resources: [ingresses/status]
    verbs: [patch]
  - apiGroups: ['']
    resources: [secrets]
    verbs: [get]
    resourceNames: [only-this]
  - apiGroups: ['*']
    resources: ['*/scale']
    verbs: ['*']
";

#[test]
fn parses_the_cluster_role_among_documents() {
    let role = ClusterRole::from_yaml(ROLE).unwrap();
    assert_eq!(role.name, "r");
    assert_eq!(role.rules.len(), 4);
    assert_eq!(role.rules[2].resource_names, ["only-this"]);
    assert_eq!(role.rules[2].api_groups, [""]);
}

#[test]
fn decides_as_the_rbac_authorizer() {
    let role = ClusterRole::from_yaml(ROLE).unwrap();
    assert!(role.allows("watch", "networking.k8s.io", "ingresses", None, None));
    assert!(!role.allows("patch", "networking.k8s.io", "ingresses", None, Some("a")));
    assert!(role.allows(
        "patch",
        "networking.k8s.io",
        "ingresses",
        Some("status"),
        Some("a")
    ));
    assert!(!role.allows(
        "get",
        "networking.k8s.io",
        "ingresses",
        Some("status"),
        Some("a")
    ));
    // The group matters: core has no ingresses here.
    assert!(!role.allows("list", "", "ingresses", None, None));
    // resourceNames: only that name, never a list.
    assert!(role.allows("get", "", "secrets", None, Some("only-this")));
    assert!(!role.allows("get", "", "secrets", None, Some("other")));
    assert!(!role.allows("list", "", "secrets", None, None));
    // Wildcards.
    assert!(role.allows("update", "apps", "deployments", Some("scale"), Some("d")));
    assert!(!role.allows("update", "apps", "deployments", None, Some("d")));
}

#[test]
fn rejects_what_is_not_a_cluster_role() {
    assert!(ClusterRole::from_yaml("kind: Role\nmetadata: {name: x}\nrules: []\n").is_err());
    assert!(ClusterRole::from_yaml(
        "kind: ClusterRole\nmetadata: {name: x}\nrules: [{verbs: get}]\n"
    )
    .is_err());
}
