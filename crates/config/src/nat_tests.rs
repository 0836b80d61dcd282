use std::path::Path;

use super::*;
use crate::{parse_server, ConfigErrors, Env, ServerConfig};

const PATH: &str = "/etc/wingress/wingress.toml";
const BASE: &str = "[wireguard]\naddress = \"100.64.0.1/24\"\n";

fn parse(nat: &str) -> Result<ServerConfig, ConfigErrors> {
    parse_server(Path::new(PATH), &format!("{BASE}{nat}"), &Env::default())
}

fn nat(text: &str) -> NatConfig {
    parse(text).unwrap().nat
}

/// `line:col: message` of each error, lines counted in the whole file.
fn errors(text: &str) -> Vec<String> {
    parse(text).unwrap_err().located()
}

#[test]
fn no_section_means_the_defaults() {
    let n = nat("");
    assert_eq!(n, NatConfig::default());
    assert_eq!(
        n.stun_servers,
        [
            Endpoint::Host {
                host: "stun.l.google.com".into(),
                port: 19302
            },
            Endpoint::Host {
                host: "stun.cloudflare.com".into(),
                port: 3478
            },
        ]
    );
    assert_eq!(n.port_mapping, MappingProtocol::ALL);
    assert_eq!(n.lease, DEFAULT_LEASE);
    assert_eq!(n.advertise, Advertise::Auto);
}

#[test]
fn the_issue_example_parses() {
    let n = nat(r#"
[nat]
stun_servers = ["stun.l.google.com:19302", "stun.cloudflare.com:3478"]   # default list; [] turns STUN off
port_mapping = true
lease = "2h"
advertise = "auto"
"#);
    assert_eq!(n, NatConfig::default());
}

#[test]
fn everything_can_be_turned_off_or_forced() {
    let n = nat("[nat]\nstun_servers = []\nport_mapping = false\n");
    assert!(n.stun_servers.is_empty() && n.port_mapping.is_empty());
    let n = nat("[nat]\nport_mapping = [\"upnp\", \"NAT-PMP\"]\nlease = \"90s\"\n");
    assert_eq!(
        n.port_mapping,
        [MappingProtocol::Upnp, MappingProtocol::NatPmp]
    );
    assert_eq!(n.lease, Duration::from_secs(90));
    let n =
        nat("[nat]\nstun_servers = [\"192.0.2.1:3478\"]\nadvertise = \"home.example.net:41602\"\n");
    assert_eq!(
        n.stun_servers,
        [Endpoint::Addr("192.0.2.1:3478".parse().unwrap())]
    );
    assert_eq!(
        n.advertise,
        Advertise::Fixed(Endpoint::Host {
            host: "home.example.net".into(),
            port: 41602
        })
    );
}

#[test]
fn mistakes_name_file_line_and_column() {
    // Line 3 is the first line of the [nat] text below (BASE has two).
    assert_eq!(
        errors("[nat]\nport_mapping = [\"upnpp\", \"pcp\", \"pcp\"]\n"),
        [
            "4:17: port_mapping: unknown protocol `upnpp` (known: pcp, natpmp, upnp); did you mean `upnp`?",
            "4:33: port_mapping: pcp is listed twice",
        ]
    );
    assert_eq!(
        errors("[nat]\nport_mapping = \"upnp\"\n"),
        ["4:16: port_mapping: expected true, false or a list of protocols such as [\"upnp\"], found a string"]
    );
    assert_eq!(
        errors("[nat]\nstun_servers = [\"stun.example\", \"192.0.2.1:3478\", \"192.0.2.1:3478\"]\n"),
        [
            "4:17: stun_servers: `stun.example` has no port (expected host:port, e.g. \"127.0.0.1:8080\")",
            "4:51: stun_servers: 192.0.2.1:3478 is listed twice",
        ]
    );
    assert_eq!(
        errors("[nat]\nlease = 7200\n"),
        ["4:9: lease: `7200` has no unit; write e.g. \"7200s\" (units: ms, s, m, h)"]
    );
    assert_eq!(
        errors("[nat]\nlease = \"5s\"\n"),
        ["4:9: lease: 5s is out of range (between 10s and 168h)"]
    );
    assert_eq!(
        errors("[nat]\nlease = \"10500ms\"\n"),
        ["4:9: lease: give whole seconds (routers count in seconds)"]
    );
    let e = errors("[nat]\nadvertise = \"somewhere\"\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("4:13: advertise: `somewhere` has no port"),
        "{e:?}"
    );
    assert!(e[0].contains("write \"auto\""), "{e:?}");
    assert_eq!(
        errors("[nat]\nstun_server = []\n"),
        ["4:1: unknown key `stun_server` in [nat]; did you mean `stun_servers`?"]
    );
}
