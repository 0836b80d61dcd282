use std::path::Path;
use std::time::Duration;

use crate::entrypoint::default_entrypoints;
use crate::ingress::tests::{errors, messages, parse, route, secs, with_base};
use crate::route::{Access, AllowRule};

#[test]
fn a_minimal_route_gets_the_defaults() {
    let config = parse(&route("")).unwrap();
    let r = &config.routes[0];
    assert_eq!(r.path_prefix, "/");
    assert!(r.weights.is_empty() && r.allow.is_empty() && r.entrypoints.is_empty());
    assert_eq!(r.health_check, None);
    assert_eq!(r.access, Access::Tunnel);
    assert_eq!((r.timeout, r.connect_timeout), (secs(60), secs(5)));
    assert_eq!(r.location, (12, 1));
    assert!(r.copies_auth_header("Remote-User"));
    assert!(r.copies_auth_header("x-authentik-username"));
    assert!(r.copies_auth_header("X-Auth-Request-Email"));
    assert!(!r.copies_auth_header("Set-Cookie"));
    assert!(!r.copies_auth_header("X-Au"));

    assert!(config.entrypoints.is_empty());
    assert_eq!(config.effective_entrypoints(), default_entrypoints());
    let names: Vec<_> = default_entrypoints().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["tunnel-https", "tunnel-http"]);

    let config = parse(&route(
        "health_check = { path = \"/h?full=1\" }\ntimeout = \"1m30s\"\nconnect_timeout = \"500ms\"\n",
    ))
    .unwrap();
    let r = &config.routes[0];
    let check = r.health_check.as_ref().unwrap();
    assert_eq!(
        (check.path.as_str(), check.interval, check.timeout),
        ("/h?full=1", secs(5), secs(2))
    );
    assert_eq!(r.timeout, secs(90));
    assert_eq!(r.connect_timeout, Duration::from_millis(500));
    assert!(!r.grpc_deadline);
    assert!(parse(&route("grpc_deadline = true\n")).unwrap().routes[0].grpc_deadline);
}

#[test]
fn route_value_errors() {
    let text = with_base(
        r#"[[route]]
host = "grafana.home.arpa:443"
path_prefix = "api"
backends = ["ftp://10.0.0.5:3000", "http://10.0.0.6:3000/x"]
[[route]]
host = "b.home.arpa"
backends = []
timeout = 30
[[route]]
backends = ["http://a"]
"#,
    );
    assert_eq!(
        errors(&text),
        [
            "13:8: host: `grafana.home.arpa:443` contains a port; a route matches the host on every entrypoint",
            "14:15: path_prefix: `api` does not start with `/`",
            "15:13: backends: `ftp://10.0.0.5:3000`: unsupported scheme `ftp` (use http://, https:// or h2c://)",
            "15:36: backends: `http://10.0.0.6:3000/x` has a path or query; a backend is only scheme, host and port (requests keep their own path)",
            "18:12: backends: at least one backend is needed",
            "19:11: timeout: `30` has no unit; write e.g. \"30s\" (units: ms, s, m, h)",
            "20:1: missing required key `host` in [[route]]",
        ]
    );
}

#[test]
fn weights_follow_the_backends() {
    let two = "backends = [\"http://a:1\", \"http://b:1\"]\n";
    let text = with_base(&format!(
        "[[route]]\nhost = \"a.arpa\"\n{two}weights = [1, 0]\n\
         [[route]]\nhost = \"b.arpa\"\n{two}weights = [1, 2, 3]\n\
         [[route]]\nhost = \"c.arpa\"\n{two}weights = [-1, 5000000000]\n"
    ));
    assert_eq!(
        errors(&text),
        [
            "15:15: weights: must be between 1 and 4294967295, found 0",
            "19:11: weights: 3 weights for 2 backends; give one weight per backend",
            "23:12: weights: must be between 1 and 4294967295, found -1",
            "23:16: weights: must be between 1 and 4294967295, found 5000000000",
        ]
    );
}

#[test]
fn health_check_errors() {
    let text = route("health_check = { interval = \"50ms\", timeout = 2, every = \"1s\" }\n");
    assert_eq!(
        errors(&text),
        [
            "15:16: missing required key `path` in [route.health_check]",
            "15:29: interval: must be at least 100ms",
            "15:47: timeout: `2` has no unit; write e.g. \"2s\" (units: ms, s, m, h)",
            "15:50: unknown key `every` in [route.health_check]",
        ]
    );
    assert_eq!(
        messages(&route(
            "health_check = { path = \"health\", interval = \"100ms\" }\n"
        )),
        ["path: `health` does not start with `/`"]
    );
    let ok = parse(&route(
        "[route.health_check]\npath = \"/\"\ninterval = \"100ms\"\n",
    ))
    .unwrap();
    assert_eq!(
        ok.routes[0].health_check.as_ref().unwrap().interval,
        Duration::from_millis(100)
    );
}

#[test]
fn access_modes_need_their_keys() {
    assert_eq!(
        errors(&route("access = \"mtls\"\n")),
        ["15:10: access: \"mtls\" needs `client_ca`, the CA that signs client certificates"]
    );
    assert_eq!(
        errors(&route("client_ca = \"ca.pem\"\n")),
        ["15:13: client_ca: only used with access = \"mtls\""]
    );
    assert_eq!(
        messages(&route("access = \"forward-auth\"\n")),
        ["access: \"forward-auth\" needs `forward_auth`, the URL of the auth service"]
    );
    assert_eq!(
        messages(&route(
            "access = \"public\"\nforward_auth = \"http://auth:9000/check\"\nforward_auth_headers = [\"Remote-User\"]\n"
        )),
        [
            "forward_auth: only used with access = \"forward-auth\"",
            "forward_auth_headers: only used with access = \"forward-auth\"",
        ]
    );
    assert_eq!(
        errors(&route("access = \"public\"\nallow = [\"tag:admin\"]\n")),
        ["16:9: allow: a public route admits everyone; remove `allow` or choose another access"]
    );
    // An invalid mode is reported alone.
    assert_eq!(
        messages(&route("access = \"forward_auth\"\nforward_auth = \"http://auth/\"\n")),
        ["access: `forward_auth` is not an access mode (expected \"tunnel\", \"mtls\", \"forward-auth\" or \"public\")"]
    );

    let config = parse(&route(
        "access = \"mtls\"\nclient_ca = \"ca/clients.pem\"\nallow = [\"peer:phone\"]\n",
    ))
    .unwrap();
    let r = &config.routes[0];
    assert_eq!(
        r.client_ca.as_deref(),
        Some(Path::new("/etc/wingress/ca/clients.pem"))
    );
    assert_eq!(r.allow, [AllowRule::Peer("phone".into())]);

    let config = parse(&route(
        "access = \"forward-auth\"\nforward_auth = \"https://auth.example.com/verify?x=1\"\nforward_auth_headers = [\"Remote-User\", \"X-Email\"]\n",
    ))
    .unwrap();
    let r = &config.routes[0];
    assert_eq!(
        r.forward_auth.as_ref().unwrap().path_and_query,
        "/verify?x=1"
    );
    assert!(r.copies_auth_header("x-email"));
    assert!(!r.copies_auth_header("Remote-Groups"));
}

#[test]
fn allow_rules_name_peers_and_tags() {
    let text = route(
        "allow = [\"peer:laptp\", \"tag:Admins\", \"admin\", \"tag:\", \"peer:nobody\", \"tag:unused\"]\n",
    );
    assert_eq!(
        errors(&text),
        [
            "15:10: allow: no [[peer]] is named `laptp`; did you mean `peer:laptop`?",
            "15:24: allow: `Admins` is not a valid tag (1 to 63 of a-z, 0-9 and `-`)",
            "15:38: allow: `admin` is not an allow rule (expected \"peer:NAME\" or \"tag:NAME\")",
            "15:47: allow: `` is not a valid tag (1 to 63 of a-z, 0-9 and `-`)",
            "15:55: allow: no [[peer]] is named `nobody`",
        ]
    );
    assert_eq!(
        messages(&route("allow = []\n")),
        ["allow: the list is empty; remove `allow` to admit every tunnel peer"]
    );
    // A peer with another mistake is still a peer that `allow` can name.
    let text = route("allow = [\"peer:tablet\"]\n[[peer]]\nname = \"tablet\"\nallowed_ips = []\n");
    assert_eq!(
        messages(&text),
        ["missing required key `public_key` in [[peer]]"]
    );
}

#[test]
fn route_entrypoints_must_be_https_entrypoints() {
    let declared = "[[entrypoint]]\nname = \"web\"\nlisten = \"tunnel:443\"\n\
                    [[entrypoint]]\nname = \"redirect\"\nlisten = \"tunnel:80\"\nprotocol = \"http\"\n";
    let text = route(&format!(
        "entrypoints = [\"web\", \"redirect\", \"webb\", \"lan\"]\n{declared}"
    ));
    assert_eq!(
        errors(&text),
        [
            "15:23: entrypoints: `redirect` is an http entrypoint, which only redirects to https; routes are served on https entrypoints",
            "15:35: entrypoints: no entrypoint is named `webb`; did you mean `web`?",
            "15:43: entrypoints: no entrypoint is named `lan`",
        ]
    );
    // Without [[entrypoint]], the defaults are the names.
    assert_eq!(
        parse(&route("entrypoints = [\"tunnel-https\"]\n"))
            .unwrap()
            .routes[0]
            .entrypoints,
        ["tunnel-https"]
    );
    assert_eq!(
        messages(&route("entrypoints = [\"tunnel-http\", \"lan\"]\n")),
        [
            "entrypoints: `tunnel-http` is an http entrypoint, which only redirects to https; routes are served on https entrypoints",
            "entrypoints: no entrypoint is named `lan` (with no [[entrypoint]] written, the https entrypoint is `tunnel-https`)",
        ]
    );
    assert_eq!(
        messages(&route("entrypoints = []\n")),
        ["entrypoints: the list is empty; remove it to serve on every https entrypoint"]
    );
}

#[test]
fn routes_need_an_https_entrypoint() {
    let text =
        route("[[entrypoint]]\nname = \"redirect\"\nlisten = \"tunnel:80\"\nprotocol = \"http\"\n");
    assert_eq!(
        errors(&text),
        ["12:1: no https [[entrypoint]] serves this route (http entrypoints only redirect)"]
    );
    // Reported once, however many routes there are.
    let twice = format!("{text}[[route]]\nhost = \"b.arpa\"\nbackends = [\"http://b\"]\n");
    assert_eq!(errors(&twice).len(), 1);
    // An entrypoint with a mistake may have been meant as https: only the
    // mistake is reported.
    let text = format!("{text}[[entrypoint]]\nname = \"bad name\"\nlisten = \"tunnel:443\"\n");
    assert_eq!(
        messages(&text),
        ["name: `bad name` is not a valid entrypoint name (1 to 64 of A-Z, a-z, 0-9, `.`, `_` and `-`)"]
    );
}

#[test]
fn default_entrypoints_take_tunnel_ports_443_and_80() {
    let tcp = "[[tcp]]\nlisten = 443\nbackend = \"127.0.0.1:8443\"\n\
               [[tcp]]\nlisten = 80\nbackend = \"127.0.0.1:8080\"\n";
    assert_eq!(
        errors(&route(tcp)),
        [
            "16:10: listen: tcp port 443 is the port of the default entrypoint `tunnel-https` (tunnel:443), used because there are [[route]]s and no [[entrypoint]]; declare [[entrypoint]]s on other ports or move this service",
            "19:10: listen: tcp port 80 is the port of the default entrypoint `tunnel-http` (tunnel:80), used because there are [[route]]s and no [[entrypoint]]; declare [[entrypoint]]s on other ports or move this service",
        ]
    );
    let declared = format!("{tcp}[[entrypoint]]\nname = \"web\"\nlisten = \"tunnel:8443\"\n");
    assert!(parse(&route(&declared)).is_ok());
}

#[test]
fn duplicate_host_and_prefix_is_an_error_at_the_second() {
    let text = with_base(
        r#"[[route]]
host = "App.home.arpa"
backends = ["http://a"]
[[route]]
host = "app.home.arpa"
path_prefix = "/api"
backends = ["http://b"]
[[route]]
host = "*.home.arpa"
backends = ["http://c"]
[[route]]
host = "app.home.arpa"
path_prefix = "/"
backends = ["http://d"]
"#,
    );
    assert_eq!(
        errors(&text),
        ["23:8: host: a route for `app.home.arpa` with path_prefix \"/\" is already defined on line 13"]
    );
}

#[test]
fn upgrades_and_encoded_slashes() {
    let config = parse(&route("")).unwrap();
    assert_eq!(config.routes[0].upgrades, ["websocket"]);
    assert!(!config.routes[0].allow_encoded_slashes);
    let config = parse(&route(
        "upgrades = [\"WebSocket\", \"tcp\", \"websocket\"]\nallow_encoded_slashes = true\n",
    ))
    .unwrap();
    assert_eq!(config.routes[0].upgrades, ["websocket", "tcp"]);
    assert!(config.routes[0].allow_encoded_slashes);
    assert!(parse(&route("upgrades = []\n")).unwrap().routes[0]
        .upgrades
        .is_empty());
    assert_eq!(
        errors(&route("upgrades = [\"h2c\", \"a b\"]\n")),
        [
            "15:13: upgrades: `h2c` is never forwarded: the client would speak HTTP/2 to the \
             backend past the proxy's checks",
            "15:20: upgrades: `a b` is not a protocol name",
        ]
    );
}

#[test]
fn path_prefixes_are_in_the_form_requests_are_matched_in() {
    for ok in [
        "/api",
        "/api/",
        "/.well-known",
        "/~u/a-b_c.d",
        "/caf\u{e9}",
        "/a%20b",
        "/a%C3%A9",
    ] {
        let config = parse(&route(&format!("path_prefix = \"{ok}\"\n"))).unwrap();
        assert_eq!(config.routes[0].path_prefix, ok);
    }
    let refused = [
        ("/%61dmin", "`/%61dmin` escapes `a`; write it as is (requests are matched with it decoded)"),
        ("/a%2Fb", "`/a%2Fb` has a `%` that is not an escape of a character a path must escape"),
        ("/a%zz", "`/a%zz` has a `%` that is not an escape of a character a path must escape"),
        ("/api:x", "`/api:x` contains `:`, which a client may send escaped or not; a prefix may \
                    have letters, digits, `-`, `.`, `_`, `~`, `/` and characters a path must escape"),
        ("/a;b", "`/a;b` contains `;`, which a client may send escaped or not; a prefix may \
                  have letters, digits, `-`, `.`, `_`, `~`, `/` and characters a path must escape"),
        ("/a//b", "`/a//b` has an empty, `.` or `..` segment; requests are matched with those removed"),
        ("/a/../b", "`/a/../b` has an empty, `.` or `..` segment; requests are matched with those removed"),
        ("/a/.", "`/a/.` has an empty, `.` or `..` segment; requests are matched with those removed"),
        ("/a\\\\b", "`/a\\b` contains `\\`, which a client may send escaped or not; a prefix may \
                    have letters, digits, `-`, `.`, `_`, `~`, `/` and characters a path must escape"),
    ];
    for (prefix, message) in refused {
        assert_eq!(
            messages(&route(&format!("path_prefix = \"{prefix}\"\n"))),
            [format!("path_prefix: {message}")],
            "{prefix}"
        );
    }
}
