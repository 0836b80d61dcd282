use std::path::Path;

use super::*;
use wingress_config::{parse_server, Env};
use wingress_dns::wire::Name;
use wingress_dns::Lookup;

fn config(rest: &str) -> ServerConfig {
    let text =
        format!("[wireguard]\naddress = \"100.64.0.1/24\"\n[tls]\ninternal_ca = true\n{rest}");
    parse_server(Path::new("/w.toml"), &text, &Env::default()).unwrap()
}

fn route(host: &str) -> String {
    format!("[[route]]\nhost = \"{host}\"\nbackends = [\"http://127.0.0.1:3000\"]\n")
}

fn lookup(zone: &Zone, name: &str) -> String {
    let name = Name::from_dotted(name).unwrap();
    match zone.lookup(&name) {
        Lookup::Host(_) => "host".into(),
        Lookup::Apex(d) => format!("apex {d}"),
        Lookup::NoData(d) => format!("nodata {d}"),
        Lookup::NxDomain(d) => format!("nxdomain {d}"),
        Lookup::Outside => "outside".into(),
    }
}

#[test]
fn zone_follows_the_routes() {
    let cfg = config(&format!(
        "{}{}{}{}",
        route("grafana.home.arpa"),
        route("*.apps.example.net"),
        route("nas.lan"),
        route("*")
    ));
    let zone = zone_from(&cfg);
    assert_eq!(lookup(&zone, "grafana.home.arpa"), "host");
    assert_eq!(lookup(&zone, "other.home.arpa"), "nxdomain home.arpa");
    assert_eq!(lookup(&zone, "a.b.apps.example.net"), "host");
    assert_eq!(lookup(&zone, "apps.example.net"), "apex apps.example.net");
    // Two-label hosts are answered, but `lan` is not claimed.
    assert_eq!(lookup(&zone, "nas.lan"), "host");
    assert_eq!(lookup(&zone, "printer.lan"), "outside");
    assert_eq!(lookup(&zone, "example.org"), "outside");
    assert_eq!(zone.outside(), Outside::Forward);
    let domains: Vec<String> = zone.domains().collect();
    assert_eq!(domains, ["home.arpa", "apps.example.net"]);
}

#[test]
fn dns_section_overrides() {
    let cfg = config(&format!(
        "{}[dns]\nforward = \"refuse\"\ndomains = [\"lan\"]\n",
        route("grafana.home.arpa")
    ));
    let zone = zone_from(&cfg);
    assert_eq!(zone.outside(), Outside::Refuse);
    assert_eq!(lookup(&zone, "other.home.arpa"), "outside");
    assert_eq!(lookup(&zone, "printer.lan"), "nxdomain lan");
    assert!(upstreams_from(&cfg, "nameserver 10.0.0.1\n").is_empty());

    let cfg = config(&format!(
        "{}[dns]\nforward = [\"10.0.0.53\"]\n",
        route("grafana.home.arpa")
    ));
    assert_eq!(
        upstreams_from(&cfg, "nameserver 10.0.0.1\n"),
        ["10.0.0.53:53".parse::<SocketAddr>().unwrap()]
    );
    let cfg = config(&route("grafana.home.arpa"));
    assert_eq!(
        upstreams_from(&cfg, "nameserver 10.0.0.1\n"),
        ["10.0.0.1:53".parse::<SocketAddr>().unwrap()]
    );
}

/// The dashboard's host resolves like a route host, with or without
/// routes; off, it does not.
#[test]
fn zone_answers_the_dashboard_host() {
    let on = "[dashboard]\nenabled = true\nhost = \"wingress.home.arpa\"\n";
    let zone = zone_from(&config(on));
    assert_eq!(lookup(&zone, "wingress.home.arpa"), "host");
    assert_eq!(lookup(&zone, "other.home.arpa"), "nxdomain home.arpa");
    let zone = zone_from(&config(&format!("{}{on}", route("nas.lan"))));
    assert_eq!(lookup(&zone, "wingress.home.arpa"), "host");
    assert_eq!(lookup(&zone, "nas.lan"), "host");
    let off = "[dashboard]\nhost = \"wingress.home.arpa\"\n";
    let zone = zone_from(&config(off));
    assert_eq!(lookup(&zone, "wingress.home.arpa"), "outside");
}
