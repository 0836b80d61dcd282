use std::net::SocketAddr;

use super::*;
use crate::ingress::tests::{errors, parse, with_base};

/// One route, so DNS is on by default; starts on line 12.
const ROUTE: &str =
    "[[route]]\nhost = \"grafana.home.arpa\"\nbackends = [\"http://127.0.0.1:3000\"]\n";

fn dns(rest: &str) -> DnsConfig {
    parse(&with_base(rest)).unwrap().dns
}

#[test]
fn on_by_default_with_routes_off_without() {
    let with_routes = dns(ROUTE);
    assert!(with_routes.enabled);
    assert_eq!(with_routes.forward, DnsForward::System);
    assert_eq!(with_routes.domains, None);
    assert_eq!(with_routes.ttl, DEFAULT_DNS_TTL);
    assert!(!dns("").enabled);
    // Explicitly on without routes: a forwarder only, allowed.
    assert!(dns("[dns]\nenabled = true\n").enabled);
    assert!(!dns(&format!("{ROUTE}[dns]\nenabled = false\n")).enabled);
}

#[test]
fn every_key_is_read() {
    let c = dns(&format!(
        "{ROUTE}[dns]\nenabled = true\nforward = [\"10.0.0.53\", \"[fd00::53]:5353\", \"10.0.0.54:5300\"]\n\
         domains = [\"Home.Arpa.\", \"lan\"]\nttl = 300\n"
    ));
    assert!(c.enabled);
    let servers: Vec<SocketAddr> = ["10.0.0.53:53", "[fd00::53]:5353", "10.0.0.54:5300"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(c.forward, DnsForward::Servers(servers));
    assert_eq!(c.domains, Some(vec!["home.arpa".into(), "lan".into()]));
    assert_eq!(c.ttl, 300);
    assert_eq!(
        dns("[dns]\nforward = \"refuse\"\n").forward,
        DnsForward::Refuse
    );
    assert_eq!(
        dns("[dns]\nforward = \"system\"\n").forward,
        DnsForward::System
    );
    assert_eq!(dns("[dns]\ndomains = []\n").domains, Some(vec![]));
}

/// A `[[udp]]` or `[[tcp]]` on port 53 (a Pi-hole forward, say) keeps
/// working: DNS then stays off unless asked for, and asking is an error.
#[test]
fn port_53_taken_by_a_service() {
    let udp = "[[udp]]\nlisten = 53\nbackend = \"127.0.0.1:5353\"\n";
    assert!(!dns(&format!("{ROUTE}{udp}")).enabled);
    let tcp = "[[tcp]]\nlisten = 53\nbackend = \"127.0.0.1:5353\"\n";
    assert!(!dns(&format!("{ROUTE}{tcp}")).enabled);
    assert_eq!(
        errors(&with_base(&format!("{ROUTE}{udp}[dns]\nenabled = true\n"))),
        ["19:11: enabled: tunnel port 53 is already used by [[udp]] on line 16; DNS needs it"]
    );
    let ep = "[[entrypoint]]\nname = \"dot\"\nlisten = \"tunnel:53\"\n";
    assert!(!dns(&format!("{ROUTE}{ep}")).enabled);
}

#[test]
fn mistakes_name_their_place() {
    let text = with_base(
        "[dns]\nenabled = \"yes\"\nforward = \"10.0.0.53\"\ndomains = [\"a..b\", \"ok.lan\", \"ok.lan\"]\n\
         ttl = 70000\nforwrd = 1\n",
    );
    assert_eq!(
        errors(&text),
        [
            "13:11: enabled: expected a boolean, found a string",
            "14:11: forward: servers are written as a list: forward = [\"10.0.0.53\"]",
            "15:12: domains: `a..b` has an empty label",
            "15:30: domains: `ok.lan` is listed twice",
            "16:7: ttl: must be between 0 and 65535, found 70000",
            "17:1: unknown key `forwrd` in [dns]; did you mean `forward`?",
        ]
    );
    assert_eq!(
        errors(&with_base("[dns]\nforward = [\"dns.google\", \"10.0.0.1:0\"]\n")),
        [
            "13:12: forward: `dns.google` is not a server address (an IP address, optionally with :port; IPv6 with a port as [addr]:port)",
            "13:26: forward: `10.0.0.1:0`: port 0 is not a DNS server port",
        ]
    );
    assert_eq!(
        errors(&with_base("[dns]\nforward = []\n")),
        ["13:11: forward: the server list is empty; write forward = \"refuse\" to refuse other names"]
    );
    assert_eq!(
        errors(&with_base("[dns]\nforward = \"google\"\n")),
        ["13:11: forward: `google` is not \"system\", \"refuse\" or a list of server addresses"]
    );
}
