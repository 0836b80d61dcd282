use std::net::Ipv4Addr;
use std::path::Path;

use super::*;
use crate::test_keys::{KEY_A, KEY_B, KEY_C};
use crate::types::{Cidr, Endpoint};
use crate::DEFAULT_STATE_DIR;

const PATH: &str = "/etc/wingress/wingress.toml";

fn example() -> String {
    format!(
        r#"[node]
ip = "10.99.0.2"                 # UDP port = 41600 + 2, unless [wireguard].listen_port is set
state_dir = "/var/lib/wingress"  # optional; default /var/lib/wingress, or $STATE_DIRECTORY under systemd
[wireguard]
private_key_file = "server.key"  # relative paths resolve against the config file's folder
address = "100.64.0.2/24"        # the daemon's own address inside the tunnel
# listen_port = 51820            # optional override
# mtu = 1420                     # optional
[[peer]]
name = "laptop"
public_key = "{KEY_A}"
allowed_ips = ["100.64.0.1/32"]
persistent_keepalive = 25        # optional
[[tcp]]
listen = 5201                    # a port on the tunnel address
backend = "127.0.0.1:5201"
[[udp]]
listen = 5201
backend = "127.0.0.1:5201"
"#
    )
}

fn parse(text: &str) -> Result<ServerConfig, ConfigErrors> {
    parse_server(Path::new(PATH), text, &Env::default())
}

/// The errors as `line:col: message`, in file order.
fn errors(text: &str) -> Vec<String> {
    errors_with(text, &Env::default())
}

fn errors_with(text: &str, env: &Env) -> Vec<String> {
    match parse_server(Path::new(PATH), text, env) {
        Ok(config) => panic!("expected errors, got {config:#?}"),
        Err(errors) => errors.located(),
    }
}

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

/// A valid config with the given peers appended.
fn with_peers(peers: &str) -> String {
    format!("[wireguard]\naddress = \"100.64.0.1/24\"\n{peers}")
}

#[test]
fn example_parses_to_the_expected_model() {
    let config = parse(&example()).unwrap();
    let expected = ServerConfig {
        path: PathBuf::from(PATH),
        node: NodeConfig {
            ip: Some(Ipv4Addr::new(10, 99, 0, 2)),
            ip_source: Some(crate::NodeIpSource::Config),
            state_dir: PathBuf::from("/var/lib/wingress"),
        },
        wireguard: InterfaceConfig {
            private_key_file: Some(PathBuf::from("/etc/wingress/server.key")),
            address: cidr("100.64.0.2/24"),
            listen_port: None,
            mtu: 1420,
        },
        peers: vec![PeerConfig {
            name: "laptop".into(),
            public_key: KEY_A.parse().unwrap(),
            preshared_key_file: None,
            allowed_ips: vec![cidr("100.64.0.1/32")],
            endpoint: None,
            persistent_keepalive: Some(25),
            tags: vec![],
        }],
        tcp: vec![TcpService {
            listen: 5201,
            backend: Backend {
                host: "127.0.0.1".into(),
                port: 5201,
            },
            idle_timeout: DEFAULT_TCP_IDLE_TIMEOUT,
        }],
        udp: vec![UdpService {
            listen: 5201,
            backend: Backend {
                host: "127.0.0.1".into(),
                port: 5201,
            },
        }],
        entrypoints: vec![],
        tls: TlsConfig::default(),
        routes: vec![],
        transports: vec![],
        http: HttpConfig::default(),
        dns: DnsConfig::default(),
        admin: AdminConfig::default_for(Path::new("/var/lib/wingress")),
        log: LogConfig::default(),
        shutdown: ShutdownConfig::default(),
        nat: NatConfig::default(),
        limits: LimitsConfig::default(),
        kubernetes: KubernetesConfig::default(),
        dashboard: DashboardConfig::default(),
    };
    assert_eq!(config, expected);
    assert_eq!(config.listen_port(), Ok(41602));
}

#[test]
fn every_optional_key_is_read() {
    let text = format!(
        r#"[wireguard]
address = "fd00::1/64"
listen_port = 51820
mtu = 1280
[[peer]]
name = "phone"
public_key = "{KEY_A}"
preshared_key_file = "psk/phone.psk"
allowed_ips = ["fd00::2/128", "100.64.0.9"]
endpoint = "vpn.example.com:51820"
persistent_keepalive = 0
tags = ["admins", "team-2"]
"#
    );
    let config = parse_server(Path::new("conf/w.toml"), &text, &Env::default()).unwrap();
    assert_eq!(config.wireguard.listen_port, Some(51820));
    assert_eq!(config.listen_port(), Ok(51820));
    assert_eq!(config.wireguard.mtu, 1280);
    let peer = &config.peers[0];
    assert_eq!(
        peer.preshared_key_file,
        Some(PathBuf::from("conf/psk/phone.psk"))
    );
    assert_eq!(
        peer.allowed_ips,
        [cidr("fd00::2/128"), cidr("100.64.0.9/32")]
    );
    assert_eq!(
        peer.endpoint,
        Some(Endpoint::Host {
            host: "vpn.example.com".into(),
            port: 51820
        })
    );
    assert_eq!(peer.persistent_keepalive, None, "0 means off");
    assert_eq!(peer.tags, ["admins", "team-2"]);
}

#[test]
fn three_independent_mistakes_give_exactly_three_errors() {
    let text = r#"[wireguard]
address = "100.64.0.2/24"
mtu = "1420"

[[peer]]
name = "laptop"
public_key = "not base64!"
allowed_ips = ["100.64.0.1/32"]

[[tcp]]
listen = 5201
backend = "127.0.0.1:5201"
  timeout = 30
"#;
    assert_eq!(
        errors(text),
        [
            "3:7: mtu: expected an integer, found a string",
            "7:14: public_key: key is not valid base64",
            "13:3: unknown key `timeout` in [[tcp]]; did you mean `idle_timeout`?",
        ]
    );
    let rendered = parse(text).unwrap_err().to_string();
    assert_eq!(
        rendered.lines().collect::<Vec<_>>(),
        [
            "/etc/wingress/wingress.toml:3:7: error: mtu: expected an integer, found a string",
            "/etc/wingress/wingress.toml:7:14: error: public_key: key is not valid base64",
            "/etc/wingress/wingress.toml:13:3: error: unknown key `timeout` in [[tcp]]; did you mean `idle_timeout`?",
        ]
    );
}

#[test]
fn unknown_keys_get_suggestions_everywhere() {
    let text = format!(
        r#"[wireguard]
address = "100.64.0.2/24"
listen-port = 51820
[[peer]]
name = "laptop"
PublicKey = "{KEY_A}"
allowed_ips = []
[[peers]]
"#
    );
    assert_eq!(
        errors(&text),
        [
            "3:1: unknown key `listen-port` in [wireguard]; did you mean `listen_port`?",
            "4:1: missing required key `public_key` in [[peer]]",
            "6:1: unknown key `PublicKey` in [[peer]]; did you mean `public_key`?",
            "8:3: unknown key `peers` at the top level; did you mean `peer`?",
        ]
    );
}

#[test]
fn syntax_errors_have_a_location() {
    let text = "[wireguard]\naddress = \"100.64.0.2/24\nmtu = 1420\n";
    let errors = errors(text);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("2:"), "{errors:?}");
    assert!(errors[0].contains("invalid TOML"), "{errors:?}");

    let errors = self::errors("[wireguard]\naddress = \"100.64.0.2/24\"\naddress = \"x\"\n");
    assert_eq!(errors, ["3:1: invalid TOML: duplicate key"]);
}

#[test]
fn empty_config_needs_wireguard_address() {
    assert_eq!(errors(""), ["1:1: missing required table [wireguard]"]);
    assert_eq!(
        errors("\n[wireguard]\nmtu = 1400\n"),
        ["2:1: missing required key `address` in [wireguard]"]
    );
}

#[test]
fn ipv6_node_ip_is_an_error_at_its_location() {
    let text = "[node]\nip = \"fd00::2\"\n[wireguard]\naddress = \"100.64.0.2/24\"\n";
    assert_eq!(
        errors(text),
        ["2:6: ip: node ip `fd00::2` is IPv6; the port formula needs the node's IPv4 address"]
    );
    // A bad [node].ip is not replaced by the environment.
    let env = Env {
        node_ip: Some("10.0.0.3".into()),
        state_directory: None,
    };
    assert_eq!(errors_with(text, &env).len(), 1);
}

#[test]
fn ipv6_node_ip_from_the_environment_is_an_error_too() {
    let env = Env {
        node_ip: Some("fd00::2".into()),
        state_directory: None,
    };
    let text = "[wireguard]\naddress = \"100.64.0.2/24\"\n";
    let err = parse_server(Path::new("w.toml"), text, &env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "w.toml: error: WINGRESS_NODE_IP: node ip `fd00::2` is IPv6; \
         the port formula needs the node's IPv4 address"
    );
    // The config's own address wins over a bad environment.
    let text = "[node]\nip = \"10.0.0.9\"\n[wireguard]\naddress = \"100.64.0.2/24\"\n";
    let config = parse_server(Path::new("w.toml"), text, &env).unwrap();
    assert_eq!(config.listen_port(), Ok(41609));
}

#[test]
fn relative_paths_resolve_against_the_config_folder() {
    let text = r#"[node]
state_dir = "state"
[wireguard]
private_key_file = "keys/server.key"
address = "100.64.0.2/24"
"#;
    let config = parse_server(Path::new("/etc/wingress/w.toml"), text, &Env::default()).unwrap();
    assert_eq!(config.node.state_dir, Path::new("/etc/wingress/state"));
    assert_eq!(
        config.wireguard.private_key_file.as_deref(),
        Some(Path::new("/etc/wingress/keys/server.key"))
    );

    let config = parse_server(Path::new("w.toml"), text, &Env::default()).unwrap();
    assert_eq!(config.node.state_dir, Path::new("state"));

    let text = text.replace("keys/server.key", "/srv/k/server.key");
    let config = parse_server(Path::new("/etc/wingress/w.toml"), &text, &Env::default()).unwrap();
    assert_eq!(
        config.wireguard.private_key_file.as_deref(),
        Some(Path::new("/srv/k/server.key"))
    );
}

#[test]
fn env_fallbacks() {
    let bare = "[wireguard]\naddress = \"100.64.0.2/24\"\n";
    let configured = "[node]\nip = \"192.168.1.254\"\nstate_dir = \"/srv/w\"\n\
                      [wireguard]\naddress = \"100.64.0.2/24\"\n";
    let env = Env {
        node_ip: Some("10.99.0.2".into()),
        state_directory: Some("/var/lib/wingress-sd".into()),
    };

    let none = parse_server(Path::new(PATH), bare, &Env::default()).unwrap();
    assert_eq!(none.node.ip, None);
    assert_eq!(none.node.state_dir, Path::new(DEFAULT_STATE_DIR));
    assert_eq!(
        none.listen_port(),
        Err("no UDP port: set [node].ip, WINGRESS_NODE_IP or [wireguard].listen_port".into())
    );

    let from_env = parse_server(Path::new(PATH), bare, &env).unwrap();
    assert_eq!(from_env.node.ip, Some(Ipv4Addr::new(10, 99, 0, 2)));
    assert_eq!(from_env.node.state_dir, Path::new("/var/lib/wingress-sd"));
    assert_eq!(from_env.listen_port(), Ok(41602));

    let from_config = parse_server(Path::new(PATH), configured, &env).unwrap();
    assert_eq!(from_config.node.ip, Some(Ipv4Addr::new(192, 168, 1, 254)));
    assert_eq!(from_config.node.state_dir, Path::new("/srv/w"));
    assert_eq!(from_config.listen_port(), Ok(41854));

    let garbage = Env {
        node_ip: Some("node-1".into()),
        state_directory: None,
    };
    let errors = errors_with(bare, &garbage);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("0:0: WINGRESS_NODE_IP: node ip `node-1` is not an IPv4 address"));
}

#[test]
fn peer_names_and_keys_are_unique() {
    let text = with_peers(&format!(
        r#"[[peer]]
name = "laptop"
public_key = "{KEY_A}"
allowed_ips = ["100.64.0.2/32"]
[[peer]]
name = "laptop"
public_key = "{KEY_B}"
allowed_ips = ["100.64.0.3/32"]
[[peer]]
name = "phone"
public_key = "{KEY_A}"
allowed_ips = ["100.64.0.4/32"]
[[peer]]
name = "bad name"
public_key = "{KEY_C}"
allowed_ips = []
"#
    ));
    assert_eq!(
        errors(&text),
        [
            "8:8: name: peer name `laptop` is already used on line 4",
            "13:14: public_key: peer `phone` has the same public key as peer `laptop`",
            "16:8: name: `bad name` is not a valid peer name (1 to 64 of A-Z, a-z, 0-9, `.`, `_` and `-`)",
        ]
    );
}

#[test]
fn allowed_ips_must_not_overlap_between_peers() {
    let text = with_peers(&format!(
        r#"[[peer]]
name = "laptop"
public_key = "{KEY_A}"
allowed_ips = ["100.64.0.2/32", "10.8.0.0/16"]
[[peer]]
name = "router"
public_key = "{KEY_B}"
allowed_ips = ["10.8.1.0/24", "192.168.0.0/16", "100.64.0.300/32"]
"#
    ));
    assert_eq!(
        errors(&text),
        [
            "10:16: allowed_ips: 10.8.1.0/24 of peer `router` overlaps 10.8.0.0/16 of peer `laptop`",
            "10:49: allowed_ips: `100.64.0.300` is not an IP address",
        ]
    );
}

#[test]
fn own_address_must_not_be_inside_a_peers_allowed_ips() {
    // The daemon is 100.64.0.2/24. A peer owning 100.64.0.1/32 is fine (the
    // example); a peer owning the whole /24 would swallow the daemon's own
    // address.
    let text = format!(
        r#"[wireguard]
address = "100.64.0.2/24"
[[peer]]
name = "greedy"
public_key = "{KEY_B}"
allowed_ips = ["10.0.0.0/8", "100.64.0.0/24"]
"#
    );
    assert_eq!(
        errors(&text),
        ["6:30: allowed_ips: 100.64.0.0/24 of peer `greedy` contains this node's own tunnel address 100.64.0.2"]
    );
}

#[test]
fn service_ports_are_unique_per_protocol() {
    let text = r#"[wireguard]
address = "100.64.0.2/24"
[[tcp]]
listen = 80
backend = "web.default.svc.cluster.local:80"
[[tcp]]
listen = 80
backend = "[::1]:8080"
[[udp]]
listen = 80
backend = "127.0.0.1:53"
[[tcp]]
listen = 0
backend = "127.0.0.1"
"#;
    assert_eq!(
        errors(text),
        [
            "7:10: listen: tcp port 80 is already used on line 4",
            "13:10: listen: must be between 1 and 65535, found 0",
            "14:11: backend: `127.0.0.1` has no port (expected host:port, e.g. \"127.0.0.1:8080\")",
        ]
    );
}

#[test]
fn value_ranges_and_types() {
    let text = with_peers(&format!(
        r#"mtu = 576
[[peer]]
name = "laptop"
public_key = "{KEY_A}"
allowed_ips = "100.64.0.2/32"
persistent_keepalive = 70000
tags = ["Admins", 7]
endpoint = "vpn.example.com"
"#
    ));
    assert_eq!(
        errors(&text),
        [
            "3:7: mtu: must be between 1280 and 9000, found 576",
            "7:15: allowed_ips: expected an array, found a string",
            "8:24: persistent_keepalive: must be between 0 and 65535, found 70000",
            "9:9: tags: `Admins` is not a valid tag (1 to 63 of a-z, 0-9 and `-`)",
            "9:19: tags: expected a string, found an integer",
            "10:12: endpoint: `vpn.example.com` has no port (expected host:port, e.g. \"127.0.0.1:8080\")",
        ]
    );
}

#[test]
fn sections_of_the_wrong_shape() {
    let text =
        "[wireguard]\naddress = \"100.64.0.2/24\"\n[peer]\nname = \"x\"\n[node]\nstate_dir = 5\n";
    assert_eq!(
        errors(text),
        [
            "3:1: peer: expected an array of tables, found a table (write [[peer]], not [peer])",
            "6:13: state_dir: expected a string, found an integer",
        ]
    );
}

#[test]
fn inline_tables_work_like_sections() {
    let text = format!(
        "wireguard = {{ address = \"100.64.0.2/24\" }}\n\
         peer = [{{ name = \"a\", public_key = \"{KEY_A}\", allowed_ips = [\"100.64.0.9/32\"] }}]\n\
         tcp = [{{ listen = 443, backend = \"127.0.0.1:8443\" }}]\n"
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.peers[0].name, "a");
    assert_eq!(config.tcp[0].listen, 443);
}

#[test]
fn a_config_with_no_peers_is_valid() {
    let config = parse("[wireguard]\naddress = \"100.64.0.1/24\"\n").unwrap();
    assert!(config.peers.is_empty());
}

#[test]
fn client_only_sections_are_unknown_here() {
    assert_eq!(
        errors("[wireguard]\naddress = \"100.64.0.1/24\"\n[[forward]]\n"),
        ["3:3: unknown key `forward` at the top level"]
    );
}

/// One config for every node: the tunnel address takes the node's last
/// octet, from `[node].ip` or WINGRESS_NODE_IP, like the UDP port.
#[test]
fn address_takes_the_node_octet() {
    let text = format!(
        "[wireguard]\naddress = \"100.64.0.{{octet}}/16\"\n\
         [[peer]]\nname = \"phone\"\npublic_key = \"{KEY_A}\"\nallowed_ips = [\"100.64.1.10/32\"]\n"
    );
    let env = Env {
        node_ip: Some("10.0.0.21".into()),
        state_directory: None,
    };
    let config = parse_server(Path::new(PATH), &text, &env).unwrap();
    assert_eq!(config.wireguard.address, cidr("100.64.0.21/16"));
    assert_eq!(config.listen_port(), Ok(41621));

    let pinned = format!("[node]\nip = \"192.168.1.7\"\n{text}");
    let config = parse_server(Path::new(PATH), &pinned, &env).unwrap();
    assert_eq!(config.wireguard.address, cidr("100.64.0.7/16"));

    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("2:11: address: `100.64.0.{octet}/16` takes its {octet}"),
        "{errs:?}"
    );
    // A peer may not claim the address the octet gives this node.
    let clash = text.replace("100.64.1.10/32", "100.64.0.21/32");
    let errs = errors_with(&clash, &env);
    assert!(
        errs.iter()
            .any(|e| e.contains("contains this node's own tunnel address 100.64.0.21")),
        "{errs:?}"
    );
}

#[test]
fn the_node_address_says_where_it_came_from() {
    let text = "[wireguard]\naddress = \"100.64.0.1/24\"\n";
    let env = Env {
        node_ip: Some(crate::EnvVar {
            name: "K8S_NODE_IP",
            value: "10.1.2.3".into(),
        }),
        state_directory: None,
    };
    let node = parse_server(Path::new(PATH), text, &env).unwrap().node;
    assert_eq!(node.ip, Some(Ipv4Addr::new(10, 1, 2, 3)));
    assert_eq!(
        node.ip_source,
        Some(crate::NodeIpSource::Env("K8S_NODE_IP"))
    );
    assert_eq!(node.ip_source.unwrap().to_string(), "K8S_NODE_IP");
    // The config wins over the environment.
    let text = format!("[node]\nip = \"10.9.9.9\"\n{text}");
    let node = parse_server(Path::new(PATH), &text, &env).unwrap().node;
    assert_eq!(node.ip_source, Some(crate::NodeIpSource::Config));
    // A bad value names its variable.
    let env = Env {
        node_ip: Some(crate::EnvVar {
            name: "HOST_IP",
            value: "fd00::1".into(),
        }),
        state_directory: None,
    };
    let e = parse_server(
        Path::new(PATH),
        "[wireguard]\naddress = \"100.64.0.1/24\"\n",
        &env,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("HOST_IP: node ip `fd00::1` is IPv6"), "{e}");
}

#[test]
fn tcp_forwards_take_an_idle_timeout_udp_ones_do_not() {
    let text = "[wireguard]\naddress = \"100.64.0.1/24\"\n\
                [[tcp]]\nlisten = 22\nbackend = \"127.0.0.1:22\"\nidle_timeout = \"8h\"\n\
                [[tcp]]\nlisten = 23\nbackend = \"127.0.0.1:23\"\n";
    let config = parse(text).unwrap();
    assert_eq!(config.tcp[0].idle_timeout, Duration::from_secs(8 * 3600));
    assert_eq!(config.tcp[1].idle_timeout, DEFAULT_TCP_IDLE_TIMEOUT);
    let text = "[wireguard]\naddress = \"100.64.0.1/24\"\n\
                [[udp]]\nlisten = 53\nbackend = \"127.0.0.1:53\"\nidle_timeout = \"1m\"\n";
    let errors = parse(text).unwrap_err().located();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("6:1: unknown key `idle_timeout` in [[udp]]"),
        "{errors:?}"
    );
}
