use std::path::PathBuf;
use std::time::Duration;

use wingress_config::{Access, AllowRule, HealthCheck};

use super::*;

const TAILSCALE: &str = include_str!("../tests/manifests/tailscale.yaml");
const MULTIHOST: &str = include_str!("../tests/manifests/multihost.yaml");
const ANNOTATIONS: &str = include_str!("../tests/manifests/annotations.yaml");
const CONFLICTS: &str = include_str!("../tests/manifests/conflicts.yaml");

/// The policy of a config: a peer `laptop`, and `extra`.
fn policy(extra: &str) -> Policy {
    crate::fuzzing::policy(extra).unwrap_or_else(|e| panic!("{e}"))
}

fn snapshot(yaml: &str) -> Snapshot {
    let mut snapshot = Snapshot::default();
    for doc in serde_saphyr::from_multiple::<serde_json::Value>(yaml).unwrap() {
        snapshot.add_object(doc).unwrap();
    }
    snapshot
}

/// `host+path (type) -> backends` of each route.
fn summary(m: &Mapping) -> Vec<String> {
    m.routes
        .iter()
        .map(|r| {
            let backends: Vec<String> = r.route.backends.iter().map(|b| b.to_string()).collect();
            format!("{} -> [{}]", describe(&r.route), backends.join(", "))
        })
        .collect()
}

/// `namespace/name: message` of each problem.
fn problems(m: &Mapping) -> Vec<String> {
    m.problems
        .iter()
        .map(|p| format!("{}: {}", p.ingress, p.message))
        .collect()
}

#[test]
fn tailscale_shape_serves_slash_on_each_tls_host() {
    let m = map(&snapshot(TAILSCALE), &policy(""));
    assert_eq!(problems(&m), Vec::<String>::new());
    // Ready endpoints only: not the unready one, not the terminating one;
    // the one without conditions counts as ready.
    assert_eq!(
        summary(&m),
        ["grafana.home.arpa/ (Prefix) -> [http://10.42.0.12:3000, http://10.42.1.7:3000]"]
    );
    let route = &m.routes[0];
    assert_eq!(route.ingress.to_string(), "monitoring/grafana");
    assert_eq!(route.route.access, Access::Tunnel);
    assert_eq!(route.route.timeout, DEFAULT_ROUTE_TIMEOUT);
    assert!(m.certificates.is_empty());
}

#[test]
fn service_backends_use_the_cluster_ip() {
    let m = map(
        &snapshot(TAILSCALE),
        &policy("[kubernetes]\nbackends = \"service\"\n"),
    );
    assert_eq!(
        summary(&m),
        ["grafana.home.arpa/ (Prefix) -> [http://10.43.0.17:80]"]
    );
}

#[test]
fn every_rule_and_path_type_becomes_a_route() {
    let m = map(&snapshot(MULTIHOST), &policy(""));
    let app = "http://10.42.0.30:9000, http://[fd00::30]:9000";
    assert_eq!(
        summary(&m),
        [
            "*.apps.home.arpa/ (Prefix) -> []".to_string(),
            format!("app.home.arpa/api (Prefix) -> [{app}]"),
            format!("app.home.arpa/exact (Exact) -> [{app}]"),
            format!("app.home.arpa/legacy (Prefix) -> [{app}]"),
        ]
    );
    // No ready endpoint is a 503, not a problem.
    assert_eq!(problems(&m), Vec::<String>::new());
    let r = &m.routes[1].route;
    assert_eq!(r.path_match, PathMatch::Segments);
    assert_eq!(
        r.allow,
        [
            AllowRule::Peer("laptop".into()),
            AllowRule::Tag("ops".into())
        ]
    );
    assert_eq!(r.timeout, Duration::from_secs(30));
    assert_eq!(
        r.health_check,
        Some(HealthCheck::with_defaults(
            "/healthz".into(),
            Some(Duration::from_secs(10)),
            None
        ))
    );
    assert_eq!(m.routes[2].route.path_match, PathMatch::Exact);
}

#[test]
fn missing_service_or_port_answers_503_and_is_reported() {
    let mut s = snapshot(MULTIHOST);
    s.services
        .retain(|svc| svc.metadata.name.as_deref() != Some("empty"));
    if let Some(spec) = std::sync::Arc::make_mut(&mut s.services[0]).spec.as_mut() {
        spec.ports = Some(Vec::new());
    }
    s.endpoint_slices.clear();
    let m = map(&s, &policy(""));
    assert!(m.routes.iter().all(|r| r.route.backends.is_empty()));
    assert_eq!(
        problems(&m),
        [
            "default/app: Service default/app has no port named `web`; its routes answer 503",
            "default/app: Service default/app has no port 8080; its routes answer 503",
            "default/app: Service default/empty not found; its routes answer 503",
        ]
    );
}

#[test]
fn host_suffixes_fence_the_hosts() {
    let m = map(
        &snapshot(MULTIHOST),
        &policy("[kubernetes]\nhost_suffixes = [\"apps.home.arpa\"]\n"),
    );
    assert!(m.routes.is_empty());
    assert_eq!(
        problems(&m),
        [
            "default/app: skipped: host `app.home.arpa` is outside [kubernetes] host_suffixes \
          (apps.home.arpa)"
        ]
    );
}

#[test]
fn a_host_less_rule_is_any_host_unless_fenced() {
    let yaml = TAILSCALE.replace("  tls:\n    - hosts:\n        - grafana.home.arpa\n", "");
    let m = map(&snapshot(&yaml), &policy(""));
    assert_eq!(m.routes.len(), 1);
    assert_eq!(m.routes[0].route.host, HostPattern::Any);
    let m = map(
        &snapshot(&yaml),
        &policy("[kubernetes]\nhost_suffixes = [\"home.arpa\"]\n"),
    );
    assert!(m.routes.is_empty());
    assert_eq!(m.problems.len(), 1);
}

#[test]
fn bad_annotations_skip_only_their_ingress() {
    let m = map(
        &snapshot(ANNOTATIONS),
        &policy("[kubernetes]\nbackends = \"service\"\nclient_cas = { home = \"ca/home.pem\" }\n"),
    );
    // `traefik` is another class: not ours, not a problem.
    assert_eq!(
        summary(&m),
        ["good.home.arpa/ (Prefix) -> [http://10.43.0.40:80]"]
    );
    assert_eq!(
        m.routes[0].route.client_ca,
        Some(PathBuf::from("/etc/wingress/ca/home.pem"))
    );
    assert_eq!(m.routes[0].route.access, Access::Mtls);
    assert_eq!(
        problems(&m),
        [
            "default/bad: skipped: wingress.dev/alow: unknown annotation (wingress reads \
             wingress.dev/access, wingress.dev/allow, wingress.dev/client-ca, \
             wingress.dev/forward-auth, wingress.dev/entrypoints, wingress.dev/timeout, \
             wingress.dev/health-check, wingress.dev/backend-protocol, wingress.dev/transport, \
             wingress.dev/grpc-deadline)",
            "default/bad: skipped: wingress.dev/timeout: `5` has no unit; write e.g. \"5s\" \
             (units: ms, s, m, h)",
            "default/bad: skipped: wingress.dev/access: \"mtls\" needs `wingress.dev/client-ca`, \
             the CA that signs client certificates",
            "default/open: skipped: wingress.dev/access: \"public\" is not allowed for \
             Ingresses ([kubernetes] access_modes = [tunnel, mtls, forward-auth])",
        ]
    );
}

/// An Ingress for `host` with `annotations` (YAML map lines), on the
/// Service `web` of ANNOTATIONS.
fn annotated(host: &str, annotations: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {host}\n  \
         namespace: default\n  annotations:\n{annotations}spec:\n  ingressClassName: wingress\n  \
         defaultBackend:\n    service: {{ name: web, port: {{ number: 80 }} }}\n  tls:\n    \
         - hosts: [{host}.home.arpa]\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {{ name: web, namespace: default }}\n\
         spec:\n  clusterIP: 10.43.0.40\n  ports: [{{ port: 80, targetPort: 8080 }}]\n"
    )
}

#[test]
fn annotations_name_a_transport_and_the_backend_protocol() {
    let file = "[kubernetes]\nbackends = \"service\"\n[[transport]]\nname = \"private-ca\"\nca = \"ca.pem\"\n";
    let yaml = annotated(
        "argocd",
        "    wingress.dev/backend-protocol: https\n    wingress.dev/transport: private-ca\n",
    );
    let m = map(&snapshot(&yaml), &policy(file));
    assert_eq!(problems(&m), Vec::<String>::new());
    assert_eq!(
        summary(&m),
        ["argocd.home.arpa/ (Prefix) -> [https://10.43.0.40:80]"]
    );
    assert_eq!(m.routes[0].route.transport.as_deref(), Some("private-ca"));

    let yaml = annotated(
        "grpc",
        "    wingress.dev/backend-protocol: h2c\n    wingress.dev/grpc-deadline: \"true\"\n",
    );
    let m = map(&snapshot(&yaml), &policy(file));
    assert_eq!(
        summary(&m),
        ["grpc.home.arpa/ (Prefix) -> [h2c://10.43.0.40:80]"]
    );
    assert!(m.routes[0].route.grpc_deadline);

    for (annotations, problem) in [
        (
            "    wingress.dev/transport: nope\n    wingress.dev/backend-protocol: https\n",
            "wingress.dev/transport: no [[transport]] named `nope` in the config (it has: private-ca)",
        ),
        (
            "    wingress.dev/transport: private-ca\n",
            "wingress.dev/transport: needs wingress.dev/backend-protocol: https or an https:// \
             wingress.dev/forward-auth to use it",
        ),
        (
            "    wingress.dev/backend-protocol: h2\n",
            "wingress.dev/backend-protocol: `h2` is not a backend protocol (expected http, https \
             or h2c)",
        ),
        (
            "    wingress.dev/grpc-deadline: \"yes\"\n",
            "wingress.dev/grpc-deadline: `yes` is not true or false",
        ),
    ] {
        let m = map(&snapshot(&annotated("bad", annotations)), &policy(file));
        assert!(m.routes.is_empty(), "{annotations}");
        assert_eq!(problems(&m), [format!("default/bad: skipped: {problem}")]);
    }
}

#[test]
fn public_is_served_when_listed() {
    let m = map(
        &snapshot(ANNOTATIONS),
        &policy(
            "[kubernetes]\naccess_modes = [\"mtls\", \"public\"]\n\
             client_cas = { home = \"ca/home.pem\" }\n",
        ),
    );
    let hosts: Vec<String> = m.routes.iter().map(|r| r.route.host.to_string()).collect();
    assert_eq!(hosts, ["good.home.arpa", "open.home.arpa"]);
    assert_eq!(m.routes[1].route.access, Access::Public);
}

#[test]
fn unknown_client_ca_and_peer_are_refused() {
    let yaml = ANNOTATIONS
        .replace(
            "wingress.dev/client-ca: home",
            "wingress.dev/client-ca: office",
        )
        .replace(
            "wingress.dev/access: public",
            "wingress.dev/allow: peer:phone",
        );
    let m = map(
        &snapshot(&yaml),
        &policy("[kubernetes]\nclient_cas = { home = \"ca/home.pem\" }\n"),
    );
    assert!(m.routes.is_empty());
    let p = problems(&m);
    assert!(p.contains(
        &"default/good: skipped: wingress.dev/client-ca: no client CA is named `office` in \
          [kubernetes] client_cas (known: home)"
            .to_string()
    ));
    assert!(p.contains(
        &"default/open: skipped: wingress.dev/allow: no [[peer]] is named `phone`".to_string()
    ));
}

#[test]
fn oldest_ingress_wins_and_file_routes_win_over_all() {
    let file = "[[route]]\nhost = \"grafana.home.arpa\"\nbackends = [\"http://127.0.0.1:3000\"]\n";
    let m = map(
        &snapshot(CONFLICTS),
        &policy(&format!("{file}[kubernetes]\nbackends = \"service\"\n")),
    );
    assert_eq!(
        summary(&m),
        ["shared.home.arpa/ (Prefix) -> [http://10.43.2.1:80]"]
    );
    assert_eq!(m.routes[0].ingress.to_string(), "b/old");
    assert_eq!(
        problems(&m),
        [
            "a/hijack: grafana.home.arpa/login (Prefix): file route wins: the config file \
             serves `grafana.home.arpa`",
            "a/hijack: tls: Secret young-tls is not used for `grafana.home.arpa`: this Ingress \
             serves no route for it",
            "a/young: shared.home.arpa/ (Prefix): host `shared.home.arpa` belongs to namespace b \
             (its older Ingress b/old)",
            "a/young: shared.home.arpa/young (Prefix): host `shared.home.arpa` belongs to \
             namespace b (its older Ingress b/old)",
            "a/young: tls: `shared.home.arpa` keeps the certificate of the older Ingress b/old",
        ]
    );
    assert_eq!(m.certificates.len(), 1);
    let cert = &m.certificates[0];
    assert_eq!(cert.secret.to_string(), "b/old-tls");
    assert_eq!(cert.names, [HostPattern::Exact("shared.home.arpa".into())]);
    assert_eq!(
        cert.cert_pem,
        b"-----BEGIN CERTIFICATE-----\nold\n-----END CERTIFICATE-----\n"
    );
    assert!(!format!("{cert:?}").contains("PRIVATE"));
}

#[test]
fn certificates_from_string_data_and_missing_secrets() {
    let yaml = CONFLICTS.replace("secretName: old-tls", "secretName: gone");
    let m = map(&snapshot(&yaml), &policy(""));
    let secrets: Vec<String> = m
        .certificates
        .iter()
        .map(|c| format!("{} {:?}", c.secret, c.names))
        .collect();
    // Without a file route, `hijack` wins grafana.home.arpa; `young` may
    // not give a certificate for the host of namespace b, which has none.
    assert_eq!(secrets, ["a/young-tls [Exact(\"grafana.home.arpa\")]"]);
    assert!(problems(&m).contains(
        &"b/old: tls: Secret b/gone not found; its hosts get certificates as file routes do"
            .to_string()
    ));
}

#[test]
fn ingresses_of_one_namespace_share_a_host() {
    let yaml = CONFLICTS.replace("name: old\n  namespace: b", "name: old\n  namespace: a");
    let m = map(
        &snapshot(&yaml),
        &policy("[kubernetes]\nbackends = \"service\"\n"),
    );
    let owners: Vec<String> = m
        .routes
        .iter()
        .map(|r| format!("{}{} {}", r.route.host, r.route.path_prefix, r.ingress))
        .collect();
    assert_eq!(
        owners,
        [
            "grafana.home.arpa/login a/hijack",
            "shared.home.arpa/ a/old",
            "shared.home.arpa/young a/young",
        ]
    );
}

#[test]
fn namespaces_filter() {
    let m = map(
        &snapshot(CONFLICTS),
        &policy("[kubernetes]\nnamespaces = [\"b\"]\nbackends = \"service\"\n"),
    );
    assert_eq!(
        summary(&m),
        ["shared.home.arpa/ (Prefix) -> [http://10.43.2.1:80]"]
    );
    assert!(m.problems.is_empty());
}

#[test]
fn same_snapshot_same_mapping_whatever_the_order() {
    let mut s = snapshot(CONFLICTS);
    let m = map(&s, &policy(""));
    s.ingresses.reverse();
    s.services.reverse();
    assert_eq!(map(&s, &policy("")), m);
}

#[test]
fn odd_objects_never_panic() {
    let yaml = r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: empty }
spec: { ingressClassName: wingress }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: odd }
spec:
  ingressClassName: wingress
  rules:
    - host: "bad host"
    - host: ok.home.arpa
      http:
        paths:
          - { path: "no-slash", pathType: Prefix, backend: { service: { name: x, port: { number: 1 } } } }
          - { path: /a, pathType: Regex, backend: { service: { name: x, port: { number: 1 } } } }
          - { path: /b, pathType: Exact, backend: { service: { name: x } } }
          - { path: /c, pathType: Exact, backend: { resource: { kind: Bucket, name: b } } }
"#;
    let m = map(&snapshot(yaml), &policy(""));
    assert!(m.routes.is_empty());
    assert_eq!(
        problems(&m),
        [
            "default/empty: skipped: no rules and no defaultBackend: nothing to serve",
            "default/odd: skipped: host: `bad host` contains ` `; host names use only a-z, 0-9, \
             `-` and `.`",
            "default/odd: skipped: path: `no-slash` does not start with `/`",
            "default/odd: skipped: path type `Regex` (expected Exact, Prefix or \
             ImplementationSpecific)",
            "default/odd: skipped: backend service `x`: give exactly one of port.number and \
             port.name",
            "default/odd: skipped: backend: only Service backends are served (not resource)",
        ]
    );
}

#[test]
fn forward_auth_entrypoints_and_tls_without_hosts() {
    let yaml = r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: grafana
  annotations:
    wingress.dev/access: forward-auth
    wingress.dev/forward-auth: http://authelia:9091/api/verify
    wingress.dev/entrypoints: tunnel-https
spec:
  ingressClassName: wingress
  tls:
    - secretName: grafana-tls
  rules:
    - host: grafana.home.arpa
      http:
        paths:
          - { path: /, pathType: Prefix, backend: { service: { name: grafana, port: { number: 80 } } } }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: wrong
  annotations:
    wingress.dev/entrypoints: "tunnel-http"
    wingress.dev/forward-auth: http://authelia:9091/api/verify
    wingress.dev/health-check: "/healthz, interval=10ms"
spec:
  ingressClassName: wingress
  defaultBackend: { service: { name: grafana, port: { number: 80 } } }
  tls: [{ hosts: [wrong.home.arpa] }]
---
apiVersion: v1
kind: Secret
metadata: { name: grafana-tls }
type: kubernetes.io/tls
stringData: { tls.crt: cert, tls.key: key }
"#;
    let m = map(&snapshot(yaml), &policy(""));
    assert_eq!(m.routes.len(), 1);
    let r = &m.routes[0].route;
    assert_eq!(r.access, Access::ForwardAuth);
    assert_eq!(
        r.forward_auth.as_ref().map(ToString::to_string).as_deref(),
        Some("http://authelia:9091/api/verify")
    );
    assert_eq!(r.entrypoints, ["tunnel-https"]);
    // A TLS entry without hosts covers the rules' hosts.
    assert_eq!(m.certificates.len(), 1);
    assert_eq!(
        m.certificates[0].names,
        [HostPattern::Exact("grafana.home.arpa".into())]
    );
    assert_eq!(
        problems(&m),
        [
            "default/grafana: Service default/grafana not found; its routes answer 503",
            "default/wrong: skipped: wingress.dev/entrypoints: `tunnel-http` is an http \
             entrypoint, which only redirects to https; routes are served on https entrypoints",
            "default/wrong: skipped: wingress.dev/health-check: interval: must be at least 100ms",
            "default/wrong: skipped: wingress.dev/forward-auth: only used with \
             wingress.dev/access = \"forward-auth\"",
        ]
    );
}
