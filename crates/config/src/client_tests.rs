use std::path::Path;

use super::*;
use crate::test_keys::{KEY_A, KEY_B};
use crate::types::{Cidr, Endpoint};
use crate::DEFAULT_STATE_DIR;

const PATH: &str = "/home/me/.config/wingress/client.toml";

fn example() -> String {
    format!(
        r#"[wireguard]
private_key_file = "client.key"
address = "100.64.0.1/32"
# listen_port, mtu optional
[[peer]]
public_key = "{KEY_A}"
endpoint = "10.99.0.2:41602"
allowed_ips = ["100.64.0.0/24"]
persistent_keepalive = 25
[[forward]]
listen = "127.0.0.1:15201"
target = "100.64.0.2:5201"
protocol = "tcp"                 # or "udp"; default tcp
"#
    )
}

fn errors(text: &str) -> Vec<String> {
    match parse_client(Path::new(PATH), text, &Env::default()) {
        Ok(config) => panic!("expected errors, got {config:#?}"),
        Err(errors) => errors.located(),
    }
}

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

/// The example's `[wireguard]` and `[[peer]]` followed by `rest`.
fn with_forwards(rest: &str) -> String {
    let example = example();
    let start = example.find("[[forward]]").unwrap();
    format!("{}{rest}", &example[..start])
}

#[test]
fn example_parses_to_the_expected_model() {
    let config = parse_client(Path::new(PATH), &example(), &Env::default()).unwrap();
    let expected = ClientConfig {
        path: PathBuf::from(PATH),
        state_dir: PathBuf::from(DEFAULT_STATE_DIR),
        wireguard: InterfaceConfig {
            private_key_file: Some(PathBuf::from("/home/me/.config/wingress/client.key")),
            address: cidr("100.64.0.1/32"),
            listen_port: None,
            mtu: 1420,
        },
        peers: vec![PeerConfig {
            name: "peer1".into(),
            public_key: KEY_A.parse().unwrap(),
            preshared_key_file: None,
            allowed_ips: vec![cidr("100.64.0.0/24")],
            endpoint: Some(Endpoint::Addr("10.99.0.2:41602".parse().unwrap())),
            persistent_keepalive: Some(25),
            tags: vec![],
        }],
        forwards: vec![Forward {
            listen: "127.0.0.1:15201".parse().unwrap(),
            target: "100.64.0.2:5201".parse().unwrap(),
            protocol: Protocol::Tcp,
        }],
    };
    assert_eq!(config, expected);
}

#[test]
fn peers_are_named_by_position_unless_named() {
    let text = format!(
        r#"[wireguard]
address = "100.64.0.1/32"
[[peer]]
public_key = "{KEY_A}"
endpoint = "10.99.0.2:41602"
allowed_ips = ["100.64.0.0/24"]
[[peer]]
name = "office"
public_key = "{KEY_B}"
endpoint = "vpn.example.com:51820"
allowed_ips = ["100.65.0.0/24"]
"#
    );
    let config = parse_client(Path::new(PATH), &text, &Env::default()).unwrap();
    let names: Vec<&str> = config.peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["peer1", "office"]);
}

#[test]
fn endpoint_is_required_here() {
    let text = format!(
        "[wireguard]\naddress = \"100.64.0.1/32\"\n\n[[peer]]\npublic_key = \"{KEY_A}\"\nallowed_ips = []\n"
    );
    assert_eq!(
        errors(&text),
        ["4:1: missing required key `endpoint` in [[peer]]"]
    );
}

#[test]
fn protocol_defaults_to_tcp_and_accepts_udp() {
    let text = with_forwards(
        r#"[[forward]]
listen = "127.0.0.1:15201"
target = "100.64.0.2:5201"
[[forward]]
listen = "127.0.0.1:15201"
target = "100.64.0.2:5201"
protocol = "udp"
"#,
    );
    let config = parse_client(Path::new(PATH), &text, &Env::default()).unwrap();
    let protocols: Vec<Protocol> = config.forwards.iter().map(|f| f.protocol).collect();
    assert_eq!(protocols, [Protocol::Tcp, Protocol::Udp]);
    assert_eq!(Protocol::Udp.to_string(), "udp");
}

#[test]
fn forward_mistakes() {
    let text = with_forwards(
        r#"[[forward]]
listen = "127.0.0.1:15201"
target = "100.64.0.2:5201"
[[forward]]
listen = "0.0.0.0:15201"
target = "100.64.0.2:5201"
[[forward]]
listen = "localhost:80"
target = "10.0.0.1:80"
protocol = "sctp"
[[forward]]
listen = "[::1]:0"
"#,
    );
    assert_eq!(
        errors(&text),
        [
            "14:10: listen: tcp 0.0.0.0:15201 clashes with 127.0.0.1:15201 on line 11",
            "17:10: listen: `localhost:80` is not an IP address and port (e.g. \"127.0.0.1:15201\" or \"[::1]:15201\")",
            "18:10: target: 10.0.0.1 is not inside any [[peer]]'s allowed_ips, so no peer would carry it",
            "19:12: protocol: `sctp` is not a protocol (expected \"tcp\" or \"udp\")",
            "20:1: missing required key `target` in [[forward]]",
            "21:10: listen: `[::1]:0` has port 0; give a fixed port",
        ]
    );
}

#[test]
fn client_address_may_sit_inside_the_servers_range() {
    // 100.64.0.1/32 inside the server's 100.64.0.0/24 is the normal client
    // setup; only servers forbid it.
    assert!(parse_client(Path::new(PATH), &example(), &Env::default()).is_ok());
}

#[test]
fn state_dir_from_config_env_or_default() {
    let env = Env {
        node_ip: Some("fd00::1".into()),
        state_directory: Some("/var/lib/private/wingress".into()),
    };
    // WINGRESS_NODE_IP means nothing to a client, even when it is IPv6.
    let config = parse_client(Path::new(PATH), &example(), &env).unwrap();
    assert_eq!(config.state_dir, Path::new("/var/lib/private/wingress"));

    let text = format!("[node]\nstate_dir = \"state\"\n{}", example());
    let config = parse_client(Path::new(PATH), &text, &env).unwrap();
    assert_eq!(
        config.state_dir,
        Path::new("/home/me/.config/wingress/state")
    );

    let text = format!("[node]\nip = \"10.0.0.2\"\n{}", example());
    assert_eq!(errors(&text), ["2:1: unknown key `ip` in [node]"]);
}

#[test]
fn server_only_sections_are_unknown_here() {
    let text = format!("{}[[tcp]]\nlisten = 1\n", example());
    assert_eq!(errors(&text), ["14:3: unknown key `tcp` at the top level"]);
}
