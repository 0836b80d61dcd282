use super::*;

const TAILSCALE: &str = include_str!("../../../crates/kube/tests/manifests/tailscale.yaml");
const ANNOTATIONS: &str = include_str!("../../../crates/kube/tests/manifests/annotations.yaml");

/// The mapping under the default policy, with a client CA named `home`.
fn mapping(yaml: &str) -> Mapping {
    let mut snapshot = Snapshot::default();
    add_manifests(yaml, &mut snapshot).unwrap();
    let mut policy = Policy::default();
    policy.kubernetes.client_cas = vec![("home".into(), PathBuf::from("/etc/home-ca.pem"))];
    map(&snapshot, &policy)
}

#[test]
fn prints_routes_as_a_table() {
    assert_eq!(
        table(&mapping(TAILSCALE)),
        "HOST               PATH  TYPE    ACCESS  BACKENDS                        INGRESS\n\
         grafana.home.arpa  /     Prefix  tunnel  10.42.0.12:3000,10.42.1.7:3000  monitoring/grafana\n"
    );
}

#[test]
fn prints_problems_and_empty_backends() {
    let out = table(&mapping(ANNOTATIONS));
    assert!(out.contains("good.home.arpa"), "{out}");
    assert!(out.contains("(none: 503)"), "{out}");
    assert!(
        out.contains("problem: Ingress default/open: skipped: wingress.dev/access: \"public\""),
        "{out}"
    );
}

#[test]
fn json_has_routes_certificates_and_problems() {
    let json = to_json(&mapping(TAILSCALE));
    assert_eq!(json["routes"][0]["host"], "grafana.home.arpa");
    assert_eq!(json["routes"][0]["path_type"], "Prefix");
    assert_eq!(json["routes"][0]["backends"][0], "http://10.42.0.12:3000");
    assert_eq!(json["problems"], serde_json::json!([]));
    assert_eq!(json["certificates"], serde_json::json!([]));
}

#[test]
fn empty_documents_and_other_kinds_are_skipped() {
    let mut snapshot = Snapshot::default();
    add_manifests(
        "---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
        &mut snapshot,
    )
    .unwrap();
    assert!(snapshot.ingresses.is_empty());
    assert!(add_manifests("kind: [", &mut snapshot).is_err());
}
