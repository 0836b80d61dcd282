use super::*;
use http::Method;

#[test]
fn paths_resolve_as_the_real_request_info_resolver() {
    let t = Target::parse(&Method::GET, "/apis/networking.k8s.io/v1/ingresses", false).unwrap();
    assert_eq!(
        (t.api().plural, t.verb, t.namespace.as_deref()),
        ("ingresses", "list", None)
    );
    let t = Target::parse(&Method::GET, "/api/v1/services", true).unwrap();
    assert_eq!(t.verb, "watch");
    let t = Target::parse(
        &Method::PATCH,
        "/apis/networking.k8s.io/v1/namespaces/apps/ingresses/web/status",
        false,
    )
    .unwrap();
    assert_eq!(
        (
            t.verb,
            t.namespace.as_deref(),
            t.name.as_deref(),
            t.subresource.as_deref()
        ),
        ("patch", Some("apps"), Some("web"), Some("status"))
    );
    let t = Target::parse(
        &Method::POST,
        "/apis/events.k8s.io/v1/namespaces/apps/events",
        false,
    )
    .unwrap();
    assert_eq!((t.api().group, t.verb), ("events.k8s.io", "create"));
    let t = Target::parse(&Method::POST, "/api/v1/namespaces/apps/events", false).unwrap();
    assert_eq!((t.api().group, t.verb), ("", "create"));
    let t = Target::parse(
        &Method::GET,
        "/apis/discovery.k8s.io/v1/namespaces/a/endpointslices",
        false,
    )
    .unwrap();
    assert_eq!(
        (t.api().kind, t.namespace.as_deref()),
        ("EndpointSlice", Some("a"))
    );
}

#[test]
fn unserved_paths_are_none() {
    for path in [
        "/api/v1/configmaps",
        "/api/v1/namespaces/apps",
        "/apis/networking.k8s.io/v1beta1/ingresses",
        "/apis/networking.k8s.io/v1/ingresses/web",
        "/version",
        "/",
    ] {
        assert_eq!(Target::parse(&Method::GET, path, false), None, "{path}");
    }
    assert_eq!(
        Target::parse(&Method::POST, "/api/v1/namespaces/a/services/web", false),
        None
    );
}

#[test]
fn names_as_in_the_real_server() {
    let ing = &RESOURCES[ApiResource::of_object("networking.k8s.io/v1", "Ingress").unwrap()];
    assert_eq!(ing.qualified(), "ingresses.networking.k8s.io");
    assert_eq!(ing.list_kind(), "IngressList");
    let svc = &RESOURCES[ApiResource::of_object("v1", "Service").unwrap()];
    assert_eq!(
        (svc.qualified(), svc.api_version()),
        ("services".into(), "v1".into())
    );
    assert_eq!(ApiResource::of_object("v1", "ConfigMap"), None);
}
