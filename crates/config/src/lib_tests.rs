use super::*;
use crate::test_keys::KEY_A;

#[test]
fn embedded_default_parses() {
    let env = Env::default();
    let config = parse_server(Path::new("<embedded>"), EMBEDDED_DEFAULT, &env).unwrap();
    assert_eq!(config.wireguard.address, "100.64.0.1/24".parse().unwrap());
    assert_eq!(config.wireguard.private_key_file, None);
    assert!(config.peers.is_empty() && config.tcp.is_empty() && config.udp.is_empty());
    assert_eq!(config.node.state_dir, Path::new(DEFAULT_STATE_DIR));
    assert!(config.listen_port().is_err());

    let env = Env {
        node_ip: Some("10.99.0.7".into()),
        state_directory: None,
    };
    let config = parse_server(Path::new("<embedded>"), EMBEDDED_DEFAULT, &env).unwrap();
    assert_eq!(config.listen_port(), Ok(41607));
}

/// The commented example in the default works once uncommented.
#[test]
fn embedded_default_example_works_uncommented() {
    let start = EMBEDDED_DEFAULT.find("# [[peer]]").unwrap();
    let mut text = EMBEDDED_DEFAULT[..start].to_string();
    for line in EMBEDDED_DEFAULT[start..].lines() {
        let line = line.strip_prefix("# ").unwrap_or(line);
        if line.starts_with('[') || line.contains(" = ") {
            text.push_str(line);
            text.push('\n');
        }
    }
    let text = text.replace("<the client's public key>", KEY_A);
    let config = parse_server(Path::new("w.toml"), &text, &Env::default()).unwrap();
    assert_eq!(config.peers.len(), 1);
    assert_eq!(config.peers[0].name, "laptop");
    assert_eq!(config.tcp.len(), 1);
    assert_eq!(config.tcp[0].backend.to_string(), "127.0.0.1:8080");
}
