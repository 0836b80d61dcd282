//! Tests of the ingress sections, and helpers the `[[route]]` tests share.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::entrypoint::{
    EntrypointProtocol, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
};
use crate::ingress_values::{BackendScheme, BackendUrl, Listen};
use crate::route::{Access, AllowRule, HealthCheck, PathMatch};
use crate::test_keys::{KEY_A, KEY_B};
use crate::{parse_server, ConfigErrors, Env, ServerConfig};

pub(crate) const PATH: &str = "/etc/wingress/wingress.toml";

/// `[wireguard]` and two peers: `laptop` (tag `admin`) and `phone`: eleven
/// lines, so `rest` starts on line 12.
pub(crate) fn with_base(rest: &str) -> String {
    format!(
        "[wireguard]\naddress = \"100.64.0.2/24\"\n\
         [[peer]]\nname = \"laptop\"\npublic_key = \"{KEY_A}\"\nallowed_ips = [\"100.64.0.1/32\"]\ntags = [\"admin\"]\n\
         [[peer]]\nname = \"phone\"\npublic_key = \"{KEY_B}\"\nallowed_ips = [\"100.64.0.3/32\"]\n{rest}"
    )
}

pub(crate) fn parse(text: &str) -> Result<ServerConfig, ConfigErrors> {
    parse_server(Path::new(PATH), text, &Env::default())
}

/// The errors as `line:col: message`, in file order.
pub(crate) fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(config) => panic!("expected errors, got {config:#?}"),
        Err(errors) => errors.located(),
    }
}

/// The messages only, for tests about what is reported rather than where.
pub(crate) fn messages(text: &str) -> Vec<String> {
    errors(text)
        .into_iter()
        .map(|e| e.splitn(3, ':').nth(2).unwrap().trim().to_string())
        .collect()
}

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn backend(host: &str, port: u16) -> BackendUrl {
    BackendUrl {
        scheme: BackendScheme::Http,
        host: host.into(),
        port,
    }
}

/// One route with the given extra keys, after the base config.
pub(crate) fn route(keys: &str) -> String {
    with_base(&format!(
        "[[route]]\nhost = \"app.home.arpa\"\nbackends = [\"http://10.0.0.5:3000\"]\n{keys}"
    ))
}

#[test]
fn the_issue_example_parses_to_the_expected_values() {
    let text = format!(
        r#"[wireguard]
address = "100.64.0.2/24"

[[peer]]
name = "laptop"
public_key = "{KEY_A}"
allowed_ips = ["100.64.0.1/32"]
tags = ["admin"]                   # used by route ACLs and identity headers

[[entrypoint]]
name = "tunnel-https"
listen = "tunnel:443"              # inside the WireGuard netstack, on the tunnel address
[[entrypoint]]
name = "tunnel-http"
listen = "tunnel:80"
protocol = "http"                  # https (default) | http; http redirects to https except ACME HTTP-01 paths
[[entrypoint]]
name = "lan"
listen = "0.0.0.0:3443"            # a host socket, like Traefik's hostNetwork entrypoint

[tls]
internal_ca = true                 # the daemon's own CA (kept in state_dir) signs certs for hosts with no other source
[[tls.certificate]]                # static files, chosen by SNI, reloaded when the files change
cert_file = "app.pem"
key_file = "app.key"

[[route]]
host = "grafana.home.arpa"         # exact, or "*.home.arpa"
path_prefix = "/"                  # optional; the longest matching prefix wins
backends = ["http://grafana.monitoring.svc.cluster.local:3000", "http://10.0.0.5:3000"]
weights = [3, 1]                   # optional weighted round robin
health_check = {{ path = "/api/health", interval = "5s" }}   # optional
access = "tunnel"                  # tunnel | mtls | forward-auth | public
allow = ["peer:laptop", "tag:admin"]   # optional; default: every tunnel peer
# forward_auth = "http://authentik.auth.svc:9000/outpost.goauthentik.io/auth/traefik"
# client_ca = "clients-ca.pem"     # for access = "mtls"
# entrypoints = ["tunnel-https"]   # optional; default: all https entrypoints
"#
    );
    let config = parse(&text).unwrap();
    let entrypoints = vec![
        EntrypointConfig {
            name: "tunnel-https".into(),
            listen: Listen::Tunnel { port: 443 },
            protocol: EntrypointProtocol::Https,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_source: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
        },
        EntrypointConfig {
            name: "tunnel-http".into(),
            listen: Listen::Tunnel { port: 80 },
            protocol: EntrypointProtocol::Http,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_source: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
        },
        EntrypointConfig {
            name: "lan".into(),
            listen: Listen::Host("0.0.0.0:3443".parse().unwrap()),
            protocol: EntrypointProtocol::Https,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_source: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
        },
    ];
    assert_eq!(config.entrypoints, entrypoints);
    assert_eq!(config.effective_entrypoints(), entrypoints);
    assert_eq!(
        config.tls,
        TlsConfig {
            internal_ca: true,
            certificates: vec![CertificateFiles {
                cert_file: PathBuf::from("/etc/wingress/app.pem"),
                key_file: PathBuf::from("/etc/wingress/app.key"),
            }],
            acme: None,
        }
    );
    assert_eq!(
        config.routes,
        [RouteConfig {
            host: HostPattern::Exact("grafana.home.arpa".into()),
            path_prefix: "/".into(),
            path_match: PathMatch::Prefix,
            backends: vec![
                backend("grafana.monitoring.svc.cluster.local", 3000),
                backend("10.0.0.5", 3000),
            ],
            weights: vec![3, 1],
            health_check: Some(HealthCheck {
                path: "/api/health".into(),
                interval: secs(5),
                timeout: secs(2),
            }),
            access: Access::Tunnel,
            allow: vec![
                AllowRule::Peer("laptop".into()),
                AllowRule::Tag("admin".into())
            ],
            forward_auth: None,
            forward_auth_response_headers: vec![],
            client_ca: None,
            entrypoints: vec![],
            timeout: secs(60),
            connect_timeout: secs(5),
            allow_encoded_slashes: false,
            upgrades: vec!["websocket".into()],
            grpc_deadline: false,
            transport: None,
            location: (27, 1),
        }]
    );
}

#[test]
fn the_https_example_file_parses_and_uses_every_key() {
    let text = include_str!("../../../config/https.toml");
    let config = parse_server(Path::new("config/https.toml"), text, &Env::default()).unwrap();
    assert_eq!(config.entrypoints.len(), 3);
    assert!(config.tls.internal_ca);
    assert_eq!(
        config.tls.certificates[0].cert_file,
        Path::new("config/certs/app.pem")
    );
    assert_eq!(config.routes.len(), 8);
    let argocd = config
        .routes
        .iter()
        .find(|r| r.transport.is_some())
        .unwrap();
    assert_eq!(argocd.backends[0].scheme, BackendScheme::Https);
    assert_eq!(config.transports[0].name, "home-ca");
    assert!(config
        .routes
        .iter()
        .any(|r| r.grpc_deadline && r.backends[0].scheme == BackendScheme::H2c));
    let grafana = &config.routes[0];
    assert_eq!(grafana.weights, [3, 1]);
    assert_eq!(grafana.entrypoints, ["tunnel-https"]);
    let mtls = config.routes.iter().find(|r| r.access == Access::Mtls);
    assert_eq!(
        mtls.unwrap().client_ca.as_deref(),
        Some(Path::new("config/certs/clients-ca.pem"))
    );
    let auth = config
        .routes
        .iter()
        .find(|r| r.access == Access::ForwardAuth);
    let auth = auth.unwrap();
    assert_eq!(auth.forward_auth.as_ref().unwrap().port, 9000);
    assert!(auth.copies_auth_header("x-authentik-groups"));
    assert!(!auth.copies_auth_header("Remote-User"));
    assert!(config.routes.iter().any(|r| r.access == Access::Public));

    for key in [
        "name",
        "listen",
        "protocol",
        "internal_ca",
        "cert_file",
        "key_file",
        "host",
        "path_prefix",
        "backends",
        "weights",
        "health_check",
        "path",
        "interval",
        "timeout",
        "access",
        "allow",
        "forward_auth",
        "forward_auth_headers",
        "client_ca",
        "entrypoints",
        "connect_timeout",
        "max_connections",
        "max_connections_per_source",
        "upgrades",
        "allow_encoded_slashes",
        "header_timeout",
        "idle_timeout",
        "body_timeout",
        "send_timeout",
        "max_streams",
        "max_backend_connections",
        "upgrade_idle_timeout",
        "transport",
        "ca",
        "server_name",
        "client_cert",
        "client_key",
        "insecure_skip_verify",
        "http2",
        "grpc_deadline",
    ] {
        let written = text
            .lines()
            .any(|l| l.starts_with(&format!("{key} = ")) || l.contains(&format!(" {key} = ")));
        assert!(written, "config/https.toml does not show `{key}`");
    }
}

#[test]
fn configs_without_ingress_sections_are_unchanged() {
    let config = parse(&with_base(
        "[[tcp]]\nlisten = 443\nbackend = \"127.0.0.1:8443\"\n",
    ))
    .unwrap();
    assert!(config.entrypoints.is_empty() && config.routes.is_empty());
    assert_eq!(config.tls, TlsConfig::default());
    assert!(config.effective_entrypoints().is_empty());
}

#[test]
fn entrypoint_listen_errors() {
    let text = with_base(
        r#"[[tcp]]
listen = 8443
backend = "127.0.0.1:8443"
[[entrypoint]]
name = "a"
listen = 443
[[entrypoint]]
name = "b"
listen = "443"
[[entrypoint]]
name = "c"
listen = "tunnel:8443"
[[entrypoint]]
name = "d"
listen = "0.0.0.0:3443"
[[entrypoint]]
name = "e"
listen = "10.0.0.5:3443"
[[entrypoint]]
name = "f"
listen = "tunnel:8443"
"#,
    );
    let hint = "a bare port does not say where to listen; write \"tunnel:443\" (the tunnel \
                address) or \"0.0.0.0:443\" (a host socket)";
    assert_eq!(
        errors(&text),
        [
            format!("17:10: listen: {hint}"),
            format!("20:10: listen: {hint}"),
            "23:10: listen: tunnel port 8443 is already used by [[tcp]] on line 13".to_string(),
            "29:10: listen: 10.0.0.5:3443 clashes with 0.0.0.0:3443 on line 26 (same port)"
                .to_string(),
            "32:10: listen: tunnel:8443 is already used on line 23".to_string(),
            "32:10: listen: tunnel port 8443 is already used by [[tcp]] on line 13".to_string(),
        ]
    );
}

#[test]
fn entrypoint_names_and_protocols() {
    let text = with_base(
        r#"[[entrypoint]]
name = "web"
listen = "tunnel:443"
[[entrypoint]]
name = "web"
listen = "tunnel:80"
protocol = "HTTP"
[[entrypoint]]
name = "my web"
listen = "tunnel:81"
protcol = "http"
[[entrypoint]]
listen = "tunnel:82"
"#,
    );
    assert_eq!(
        errors(&text),
        [
            "16:8: name: entrypoint name `web` is already used on line 13",
            "18:12: protocol: `HTTP` is not an entrypoint protocol (expected \"https\" or \"http\")",
            "20:8: name: `my web` is not a valid entrypoint name (1 to 64 of A-Z, a-z, 0-9, `.`, `_` and `-`)",
            "22:1: unknown key `protcol` in [[entrypoint]]; did you mean `protocol`?",
            "23:1: missing required key `name` in [[entrypoint]]",
        ]
    );
}

#[test]
fn tls_section() {
    let text = with_base(
        r#"[tls]
internal_ca = "yes"
[[tls.certificate]]
cert_file = "a.pem"
[[tls.certificate]]
cert_file = "/srv/b.pem"
key_file = "b.key"
keyfile = "x"
"#,
    );
    assert_eq!(
        errors(&text),
        [
            "13:15: internal_ca: expected a boolean, found a string",
            "14:1: missing required key `key_file` in [[tls.certificate]]",
            "19:1: unknown key `keyfile` in [[tls.certificate]]; did you mean `key_file`?",
        ]
    );
    let text = with_base(
        "[tls]\n[[tls.certificate]]\ncert_file = \"/srv/b.pem\"\nkey_file = \"keys/b.key\"\n",
    );
    let tls = parse(&text).unwrap().tls;
    assert!(!tls.internal_ca);
    assert_eq!(
        tls.certificates,
        [CertificateFiles {
            cert_file: PathBuf::from("/srv/b.pem"),
            key_file: PathBuf::from("/etc/wingress/keys/b.key"),
        }]
    );
}

#[test]
fn unknown_top_level_and_route_keys_get_suggestions() {
    let text = with_base("[[routes]]\n[[route]]\nhost = \"a.arpa\"\nbackend = \"http://a\"\n");
    assert_eq!(
        errors(&text),
        [
            "12:3: unknown key `routes` at the top level; did you mean `route`?",
            "13:1: missing required key `backends` in [[route]]",
            "15:1: unknown key `backend` in [[route]]; did you mean `backends`?",
        ]
    );
}

#[test]
fn four_independent_mistakes_give_exactly_four_errors() {
    let text = with_base(
        r#"[[entrypoint]]
name = "web"
listen = "443"
[[route]]
host = "grafana.home.arpa"
backends = ["http://grafana:3000"]
access = "mtls"
[[route]]
host = "wiki.home.arpa"
backends = ["http://wiki:3000"]
allow = ["peer:laptop", "tag:admin", "peer:tablet"]
health_check = { path = "/health", interval = "5" }
"#,
    );
    let rendered = parse(&text).unwrap_err().to_string();
    assert_eq!(
        rendered.lines().collect::<Vec<_>>(),
        [
            "/etc/wingress/wingress.toml:14:10: error: listen: a bare port does not say where to listen; write \"tunnel:443\" (the tunnel address) or \"0.0.0.0:443\" (a host socket)",
            "/etc/wingress/wingress.toml:18:10: error: access: \"mtls\" needs `client_ca`, the CA that signs client certificates",
            "/etc/wingress/wingress.toml:22:38: error: allow: no [[peer]] is named `tablet`",
            "/etc/wingress/wingress.toml:23:47: error: interval: `5` has no unit; write e.g. \"5s\" (units: ms, s, m, h)",
        ]
    );
}

#[test]
fn entrypoint_connection_caps() {
    let text = with_base(
        "[[entrypoint]]\nname = \"lan\"\nlisten = \"0.0.0.0:3443\"\nmax_connections = 100\n\
         max_connections_per_source = 10\n\
         [[entrypoint]]\nname = \"t\"\nlisten = \"tunnel:443\"\nmax_connections = 0\n\
         max_connections_per_source = \"many\"\n",
    );
    assert_eq!(
        errors(&text),
        [
            "20:19: max_connections: must be between 1 and 1000000, found 0",
            "21:30: max_connections_per_source: expected an integer, found a string",
        ]
    );
    let config = parse(&with_base(
        "[[entrypoint]]\nname = \"lan\"\nlisten = \"0.0.0.0:3443\"\nmax_connections = 100\n\
         max_connections_per_source = 10\n",
    ))
    .unwrap();
    let lan = &config.entrypoints[0];
    assert_eq!(
        (lan.max_connections, lan.max_connections_per_source),
        (100, 10)
    );
}
