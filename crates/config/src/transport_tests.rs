use std::path::PathBuf;

use crate::ingress::tests::{errors, parse, with_base};
use crate::ingress_values::BackendScheme;

/// A route with `https://` backends on `transport`, after `transports`.
fn config(transports: &str, route_keys: &str) -> String {
    with_base(&format!(
        "{transports}[[route]]\nhost = \"argocd.home.arpa\"\n\
         backends = [\"https://10.0.0.5:8443\", \"http://10.0.0.6\"]\n{route_keys}"
    ))
}

#[test]
fn a_transport_is_read_and_routes_refer_to_it() {
    let text = config(
        "[[transport]]\nname = \"private-ca\"\nca = \"ca.pem\"\nserver_name = \"ArgoCD.svc\"\n\
         client_cert = \"/etc/c.pem\"\nclient_key = \"k.pem\"\n\
         [[transport]]\nname = \"lab\"\ninsecure_skip_verify = true\nhttp2 = true\n",
        "transport = \"private-ca\"\n",
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.transports.len(), 2);
    let t = &c.transports[0];
    assert_eq!(t.name, "private-ca");
    assert_eq!(t.ca, Some(PathBuf::from("/etc/wingress/ca.pem")));
    assert_eq!(t.server_name.as_deref(), Some("argocd.svc"));
    assert!(!t.insecure_skip_verify);
    assert_eq!(
        t.client_cert,
        Some((
            PathBuf::from("/etc/c.pem"),
            PathBuf::from("/etc/wingress/k.pem")
        ))
    );
    assert_eq!(t.location, (12, 1));
    assert!(!t.http2);
    assert!(c.transports[1].insecure_skip_verify && c.transports[1].http2);
    assert_eq!(c.transports[1].location, (18, 1));
    let r = &c.routes[0];
    assert_eq!(r.transport.as_deref(), Some("private-ca"));
    assert_eq!(r.backends[0].scheme, BackendScheme::Https);
    assert_eq!(r.backends[1].scheme, BackendScheme::Http);

    // No transport: https:// backends are verified against system roots.
    let c = parse(&config("", "")).unwrap();
    assert!(c.transports.is_empty() && c.routes[0].transport.is_none());
    // An IP address is a server name too.
    let text = config(
        "[[transport]]\nname = \"ip\"\nserver_name = \"10.0.0.5\"\n",
        "",
    );
    assert_eq!(
        parse(&text).unwrap().transports[0].server_name.as_deref(),
        Some("10.0.0.5")
    );
}

#[test]
fn transport_errors_name_their_place() {
    let text = config(
        "[[transport]]\nname = \"a b\"\n\
         [[transport]]\nname = \"x\"\nca = \"ca.pem\"\ninsecure_skip_verify = true\n\
         client_cert = \"c.pem\"\nserver_name = \"bad_name\"\n\
         [[transport]]\nname = \"x\"\nclient_key = \"k.pem\"\nverify = false\n",
        "transport = \"y\"\n",
    );
    assert_eq!(
        errors(&text),
        [
            "13:8: name: `a b` is not a transport name (1 to 64 of A-Z, a-z, 0-9, `.`, `_` and `-`)",
            "17:24: insecure_skip_verify: verifies nothing, so `ca` would be ignored; remove one of them",
            "18:15: client_cert: client_key is needed with it",
            "19:15: server_name: `bad_name` contains `_`; host names use only a-z, 0-9, `-` and `.`",
            "21:8: name: a transport `x` is already defined on line 14",
            "22:14: client_key: client_cert is needed with it",
            "23:1: unknown key `verify` in [[transport]]; did you mean `insecure_skip_verify`?",
            "27:13: transport: no [[transport]] is named `y`; did you mean `x`?",
        ]
    );
}

#[test]
fn a_transport_needs_something_that_speaks_tls() {
    let text = with_base(
        "[[transport]]\nname = \"private-ca\"\n\
         [[route]]\nhost = \"a.home.arpa\"\nbackends = [\"http://10.0.0.6\"]\n\
         transport = \"private-ca\"\n\
         [[route]]\nhost = \"b.home.arpa\"\nbackends = [\"http://10.0.0.6\"]\n\
         access = \"forward-auth\"\nforward_auth = \"https://auth.home.arpa/verify\"\n\
         transport = \"private-cb\"\n",
    );
    assert_eq!(
        errors(&text),
        [
            "17:13: transport: the route has no https:// backend nor https:// forward_auth to use it",
            "23:13: transport: no [[transport]] is named `private-cb`; did you mean `private-ca`?",
        ]
    );
    let ok = text.replace("private-cb", "private-ca").replace(
        "backends = [\"http://10.0.0.6\"]\ntransport = \"private-ca\"\n[[route]]\nhost = \"b",
        "backends = [\"https://10.0.0.6\"]\ntransport = \"private-ca\"\n[[route]]\nhost = \"b",
    );
    let c = parse(&ok).unwrap();
    assert_eq!(c.routes[1].transport.as_deref(), Some("private-ca"));
}
