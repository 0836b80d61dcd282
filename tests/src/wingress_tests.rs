use super::*;

#[test]
fn server_config_renders() {
    let cfg = ServerConfig {
        node_ip: "10.99.0.2".parse().unwrap(),
        state_dir: "/tmp/st".into(),
        private_key_file: "server.key".into(),
        address: "100.64.0.2/24".into(),
        peers: vec![ServerPeer {
            name: "laptop".into(),
            public_key: "PUB=".into(),
            allowed_ips: vec!["100.64.0.1/32".into()],
            persistent_keepalive: Some(25),
        }],
        tcp: vec![(5201, "127.0.0.1:5201".into())],
        udp: vec![(5201, "127.0.0.1:5201".into())],
    };
    assert_eq!(cfg.port(), 41602);
    let t = cfg.to_toml();
    assert!(
        t.contains("[node]\nip = \"10.99.0.2\"\nstate_dir = \"/tmp/st\"\n"),
        "{t}"
    );
    assert!(
        t.contains("allowed_ips = [\"100.64.0.1/32\"]\npersistent_keepalive = 25\n"),
        "{t}"
    );
    assert!(
        t.contains("[[tcp]]\nlisten = 5201\nbackend = \"127.0.0.1:5201\"\n"),
        "{t}"
    );
    assert!(t.contains("[[udp]]\nlisten = 5201\n"), "{t}");
    assert!(
        t.contains("[nat]\nstun_servers = []\nport_mapping = false\n"),
        "{t}"
    );
}

#[test]
fn forward_config_renders() {
    let cfg = ForwardConfig {
        private_key_file: "client.key".into(),
        address: "100.64.0.1/32".into(),
        peer_public_key: "SPUB=".into(),
        endpoint: "10.99.0.2:41602".parse().unwrap(),
        allowed_ips: vec!["100.64.0.0/24".into()],
        persistent_keepalive: Some(25),
        forwards: vec![Forward {
            listen: "127.0.0.1:15201".parse().unwrap(),
            target: "100.64.0.2:5201".parse().unwrap(),
            protocol: "tcp".into(),
        }],
    };
    let t = cfg.to_toml();
    assert!(
        t.contains("endpoint = \"10.99.0.2:41602\"\nallowed_ips = [\"100.64.0.0/24\"]\n"),
        "{t}"
    );
    assert!(t.contains("[[forward]]\nlisten = \"127.0.0.1:15201\"\ntarget = \"100.64.0.2:5201\"\nprotocol = \"tcp\"\n"), "{t}");
}

#[test]
fn quotes_toml_strings() {
    assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
}
