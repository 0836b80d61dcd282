use super::*;
use crate::ingress::tests::{errors, parse, with_base};

fn dashboard(rest: &str) -> crate::ServerConfig {
    parse(&with_base(rest)).unwrap()
}

const ON: &str = "[dashboard]\nenabled = true\nhost = \"Wingress.Home.Arpa\"\n";

#[test]
fn off_unless_enabled() {
    let c = dashboard("");
    assert_eq!(c.dashboard, DashboardConfig::default());
    assert!(!c.dashboard.enabled);
    assert_eq!(c.dashboard.served_host(), None);
    assert!(c.effective_entrypoints().is_empty());
    assert!(!c.dns.enabled);
    // Written but off: the keys are still checked, nothing is served.
    let c = dashboard("[dashboard]\nhost = \"wingress.home.arpa\"\n");
    assert!(!c.dashboard.enabled);
    assert_eq!(c.dashboard.served_host(), None);
}

#[test]
fn defaults_when_enabled() {
    let c = dashboard(ON);
    let d = &c.dashboard;
    assert!(d.enabled);
    assert_eq!(d.served_host(), Some("wingress.home.arpa"));
    assert_eq!(d.allow, [AllowRule::Tag("admin".into())]);
    assert_eq!(d.entrypoints, ["tunnel-https"]);
    assert_eq!(d.max_event_streams, DEFAULT_MAX_EVENT_STREAMS);
    assert_eq!(d.location, (12, 1));
    // Without routes, the dashboard alone opens the default entrypoints
    // and turns the in-tunnel DNS on (its host must resolve).
    let names: Vec<String> = c
        .effective_entrypoints()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["tunnel-https", "tunnel-http"]);
    assert!(c.dns.enabled);
}

#[test]
fn every_key_is_read() {
    let c = dashboard(
        "[[entrypoint]]\nname = \"wg\"\nlisten = \"tunnel:443\"\n\
         [[entrypoint]]\nname = \"wg2\"\nlisten = \"tunnel:8443\"\n\
         [[entrypoint]]\nname = \"lan\"\nlisten = \"0.0.0.0:443\"\n\
         [dashboard]\nenabled = true\nhost = \"dash.lan.example\"\n\
         allow = [\"peer:phone\", \"tag:ops\"]\nentrypoints = [\"wg2\"]\nmax_event_streams = 4\n",
    );
    let d = &c.dashboard;
    assert_eq!(
        d.allow,
        [
            AllowRule::Peer("phone".into()),
            AllowRule::Tag("ops".into())
        ]
    );
    assert_eq!(d.entrypoints, ["wg2"]);
    assert_eq!(d.max_event_streams, 4);
    // By default: every tunnel https entrypoint, never the host one.
    let c = dashboard(
        "[[entrypoint]]\nname = \"wg\"\nlisten = \"tunnel:443\"\n\
         [[entrypoint]]\nname = \"web\"\nlisten = \"tunnel:80\"\nprotocol = \"http\"\n\
         [[entrypoint]]\nname = \"wg2\"\nlisten = \"tunnel:8443\"\n\
         [[entrypoint]]\nname = \"lan\"\nlisten = \"0.0.0.0:443\"\n\
         [dashboard]\nenabled = true\nhost = \"dash.lan.example\"\n",
    );
    assert_eq!(c.dashboard.entrypoints, ["wg", "wg2"]);
}

#[test]
fn mistakes_name_their_place() {
    assert_eq!(
        errors(&with_base("[dashboard]\nenabled = true\n")),
        ["13:11: enabled: the dashboard needs `host`, the name it answers on (for example host = \"wingress.home.arpa\")"]
    );
    assert_eq!(
        errors(&with_base(
            "[dashboard]\nenabled = \"yes\"\nhost = \"*.home.arpa\"\nallow = [\"tag:Admin\", \"peer:laptp\"]\n\
             max_event_streams = 0\nport = 8080\n"
        )),
        [
            "13:11: enabled: expected a boolean, found a string",
            "14:8: host: the dashboard needs one host name, not the pattern `*.home.arpa`",
            "15:10: allow: `Admin` is not a valid tag (1 to 63 of a-z, 0-9 and `-`)",
            "15:23: allow: no [[peer]] is named `laptp`; did you mean `peer:laptop`?",
            "16:21: max_event_streams: must be between 1 and 1024, found 0",
            "17:1: unknown key `port` in [dashboard]",
        ]
    );
    assert_eq!(
        errors(&with_base(&format!("{ON}allow = []\n"))),
        ["15:9: allow: the list is empty; name who may use the dashboard, as in allow = [\"tag:admin\"]"]
    );
}

/// A host entrypoint would let anyone who reaches the host try the
/// dashboard; without client_ca nothing would check them.
#[test]
fn host_entrypoints_need_client_ca_and_tunnel_ones_are_needed() {
    let eps = "[[entrypoint]]\nname = \"wg\"\nlisten = \"tunnel:443\"\n\
               [[entrypoint]]\nname = \"lan\"\nlisten = \"0.0.0.0:443\"\n\
               [[entrypoint]]\nname = \"web\"\nlisten = \"tunnel:80\"\nprotocol = \"http\"\n";
    assert_eq!(
        errors(&with_base(&format!(
            "{eps}{ON}entrypoints = [\"lan\", \"web\", \"wgg\"]\n"
        ))),
        [
            "25:16: entrypoints: `lan` listens on the host (0.0.0.0:443), which needs client_ca: the dashboard admits tunnel peers by their WireGuard key, and anyone else only with a client certificate signed by client_ca",
            "25:23: entrypoints: `web` is an http entrypoint, which only redirects to https; routes are served on https entrypoints",
            "25:30: entrypoints: no entrypoint is named `wgg`; did you mean `wg`?",
        ]
    );
    let host_only = "[[entrypoint]]\nname = \"lan\"\nlisten = \"0.0.0.0:443\"\n";
    assert_eq!(
        errors(&with_base(&format!("{host_only}{ON}"))),
        ["16:11: enabled: no https [[entrypoint]] listens on the tunnel to serve the dashboard; add one (listen = \"tunnel:443\")"]
    );
}

/// With client_ca, host entrypoints serve the dashboard too (with mTLS);
/// the tunnel ones keep the WireGuard login.
#[test]
fn host_entrypoints_with_client_ca() {
    let eps = "[[entrypoint]]\nname = \"wg\"\nlisten = \"tunnel:443\"\n\
               [[entrypoint]]\nname = \"lan\"\nlisten = \"0.0.0.0:8443\"\n";
    let c = dashboard(&format!(
        "{eps}{ON}entrypoints = [\"wg\", \"lan\", \"lan\"]\nclient_ca = \"ca/clients.pem\"\n"
    ));
    let d = &c.dashboard;
    assert_eq!(d.entrypoints, ["wg", "lan"]);
    assert_eq!(d.host_entrypoints, ["lan"]);
    assert_eq!(d.tunnel_entrypoints(), ["wg"]);
    let ca = d.client_ca.as_deref().unwrap();
    assert!(ca.ends_with("ca/clients.pem"), "{ca:?}");
    assert!(ca.is_absolute(), "{ca:?}");
    // Only the host one: no tunnel route at all.
    let c = dashboard(&format!(
        "{eps}{ON}entrypoints = [\"lan\"]\nclient_ca = \"/etc/wingress/ca.pem\"\n"
    ));
    assert_eq!(c.dashboard.host_entrypoints, ["lan"]);
    assert!(c.dashboard.tunnel_entrypoints().is_empty());
    // Without client_ca the tunnel route alone, as before.
    let c = dashboard(&format!("{eps}{ON}"));
    assert!(c.dashboard.host_entrypoints.is_empty());
    assert_eq!(c.dashboard.client_ca, None);
    assert_eq!(c.dashboard.tunnel_entrypoints(), ["wg"]);
}

/// client_ca with no host entrypoint would check nobody.
#[test]
fn client_ca_without_a_host_entrypoint_is_an_error() {
    let eps = "[[entrypoint]]\nname = \"wg\"\nlisten = \"tunnel:443\"\n\
               [[entrypoint]]\nname = \"lan\"\nlisten = \"0.0.0.0:8443\"\n";
    let msg = "client_ca: only used when `entrypoints` names a host https entrypoint; \
               tunnel peers sign in with their WireGuard key";
    assert_eq!(
        errors(&with_base(&format!("{eps}{ON}client_ca = \"ca.pem\"\n"))),
        [format!("21:13: {msg}")]
    );
    assert_eq!(
        errors(&with_base(&format!(
            "{eps}{ON}entrypoints = [\"wg\"]\nclient_ca = \"ca.pem\"\n"
        ))),
        [format!("22:13: {msg}")]
    );
    assert_eq!(
        errors(&with_base(&format!("{ON}client_ca = \"\"\n"))),
        ["15:13: client_ca: path must not be empty"]
    );
}

#[test]
fn clashes_with_routes_and_services() {
    let route =
        "[[route]]\nhost = \"wingress.home.arpa\"\nbackends = [\"http://127.0.0.1:3000\"]\n";
    assert_eq!(
        errors(&with_base(&format!("{route}{ON}"))),
        ["17:8: host: the [[route]] on line 12 already serves every path of `wingress.home.arpa`; give the dashboard its own host name"]
    );
    // A route under a longer path of the same host is fine.
    dashboard(&format!("{route}path_prefix = \"/grafana\"\n{ON}"));
    // Alone, the dashboard needs the default entrypoints' ports.
    let tcp = "[[tcp]]\nlisten = 443\nbackend = \"127.0.0.1:8443\"\n";
    let errs = errors(&with_base(&format!("{tcp}{ON}")));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(
            "13:10: listen: tcp port 443 is the port of the default entrypoint `tunnel-https`"
        ),
        "{errs:?}"
    );
}

/// The commented `[dashboard]` block of config/https.toml works
/// uncommented, after its routes.
#[test]
fn the_https_example_dashboard_block_parses_uncommented() {
    let text = include_str!("../../../config/https.toml");
    let (before, block) = text.split_once("# [dashboard]").unwrap();
    let block: String = format!("# [dashboard]{block}")
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or(l)))
        .collect();
    let c = crate::parse_server(
        Path::new("config/https.toml"),
        &format!("{before}{block}"),
        &crate::Env::default(),
    )
    .unwrap();
    let d = c.dashboard;
    assert!(d.enabled);
    assert_eq!(d.served_host(), Some("wingress.home.arpa"));
    assert_eq!(d.allow, [AllowRule::Tag("admin".into())]);
    assert_eq!(d.entrypoints, ["tunnel-https"]);
    assert_eq!(d.max_event_streams, 16);
}
