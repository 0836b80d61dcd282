use super::*;
use serde_json::json;

fn secret(name: &str, ty: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "apps", "labels": {"app": "web"}}, "type": ty})
}

#[test]
fn field_selectors_on_secret_type_and_metadata() {
    let s = Selectors::parse("Secret", Some("type=kubernetes.io/tls"), None).unwrap();
    assert!(s.matches(&secret("a", "kubernetes.io/tls")));
    assert!(!s.matches(&secret("a", "Opaque")));
    let s = Selectors::parse(
        "Secret",
        Some("metadata.name!=a,metadata.namespace==apps"),
        None,
    )
    .unwrap();
    assert!(!s.matches(&secret("a", "Opaque")));
    assert!(s.matches(&secret("b", "Opaque")));
}

#[test]
fn unknown_fields_are_refused_as_the_real_server_does() {
    let e = Selectors::parse("Service", Some("type=ClusterIP"), None).unwrap_err();
    assert_eq!(e, "field label not supported: type");
    assert!(Selectors::parse("Secret", Some("spec.x=1"), None).is_err());
}

#[test]
fn label_selectors_by_equality_and_existence() {
    let o = secret("a", "Opaque");
    for (sel, want) in [
        ("app=web", true),
        ("app!=web", false),
        ("app", true),
        ("!app", false),
        ("tier", false),
        ("app==web,!tier", true),
    ] {
        assert_eq!(
            Selectors::parse("Secret", None, Some(sel))
                .unwrap()
                .matches(&o),
            want,
            "{sel}"
        );
    }
    assert!(Selectors::parse("Secret", None, Some("app in (web)")).is_err());
}
