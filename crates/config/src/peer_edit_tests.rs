use std::path::Path;

use super::*;
use crate::test_keys::{KEY_A, KEY_B, KEY_C};

const PATH: &str = "/etc/wingress/wingress.toml";

fn env() -> Env {
    Env::default()
}

fn new_peer(name: &str, key: &str, ip: &str, tags: &[&str]) -> NewPeer {
    NewPeer {
        name: name.into(),
        public_key: key.parse().unwrap(),
        allowed_ips: vec![ip.parse().unwrap()],
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }
}

fn config(text: &str) -> ServerConfig {
    parse_server(Path::new(PATH), text, &env()).unwrap()
}

/// A file with comments everywhere a person puts them.
fn commented() -> String {
    format!(
        r#"# wingress on the NAS
[node]
ip = "10.99.0.2"   # the LAN address

[wireguard]
address = "100.64.0.1/24"  # tunnel

# --- peers ---

# Anna's laptop
[[peer]]
name = "laptop"
public_key = "{KEY_A}"   # from wg pubkey
allowed_ips = ['100.64.0.2/32']
tags = ["admin"]

# services below
[[tcp]]
listen = 8080
backend = "127.0.0.1:8080"
# end of file
"#
    )
}

#[test]
fn add_appends_after_the_last_peer_and_keeps_everything_else() {
    let text = commented();
    let out = add_peer(
        Path::new(PATH),
        &text,
        &env(),
        &new_peer("phone", KEY_B, "100.64.0.3/32", &["phone", "family"]),
    )
    .unwrap();
    let added = format!(
        "\n[[peer]]\nname = \"phone\"\npublic_key = \"{KEY_B}\"\nallowed_ips = [\"100.64.0.3/32\"]\ntags = [\"phone\", \"family\"]\n"
    );
    let at = text.find("\n# services below").unwrap();
    let expected = format!("{}{added}{}", &text[..at], &text[at..]);
    assert_eq!(out, expected);
    let cfg = config(&out);
    assert_eq!(cfg.peers.len(), 2);
    assert_eq!(cfg.peers[1].tags, ["phone", "family"]);
}

#[test]
fn add_to_a_file_without_peers_goes_at_the_end() {
    let text = "# minimal\n[wireguard]\naddress = \"100.64.0.1/24\" # me\n";
    let out = add_peer(
        Path::new(PATH),
        text,
        &env(),
        &new_peer("phone", KEY_B, "100.64.0.2/32", &[]),
    )
    .unwrap();
    assert_eq!(
        out,
        format!("{text}\n[[peer]]\nname = \"phone\"\npublic_key = \"{KEY_B}\"\nallowed_ips = [\"100.64.0.2/32\"]\n")
    );
}

#[test]
fn remove_takes_the_table_and_its_comments_and_nothing_else() {
    let text = commented();
    let two = add_peer(
        Path::new(PATH),
        &text,
        &env(),
        &new_peer("phone", KEY_B, "100.64.0.3/32", &[]),
    )
    .unwrap();
    // Removing what was added gives the original file back, byte for byte.
    assert_eq!(
        remove_peer(Path::new(PATH), &two, &env(), "phone").unwrap(),
        text
    );

    // Removing the commented one takes "# Anna's laptop" and the inline
    // comment; the section comment above it is part of its prefix too.
    let out = remove_peer(Path::new(PATH), &text, &env(), "laptop").unwrap();
    assert!(
        !out.contains("Anna") && !out.contains("from wg pubkey"),
        "{out}"
    );
    assert!(!out.contains("[[peer]]"), "{out}");
    assert!(
        out.starts_with("# wingress on the NAS\n[node]\nip = \"10.99.0.2\"   # the LAN address\n")
    );
    assert!(out.ends_with("# services below\n[[tcp]]\nlisten = 8080\nbackend = \"127.0.0.1:8080\"\n# end of file\n"), "{out}");
    assert!(config(&out).peers.is_empty());
}

#[test]
fn remove_in_the_middle_keeps_the_neighbours_comments() {
    let text = format!(
        "[wireguard]\naddress = \"100.64.0.1/24\"\n\n# one\n[[peer]]\nname = \"a\"\npublic_key = \"{KEY_A}\"\nallowed_ips = [\"100.64.0.2/32\"]\n\n\
         # two\n[[peer]]\nname = \"b\"\npublic_key = \"{KEY_B}\"\nallowed_ips = [\"100.64.0.3/32\"]\n\n\
         # three\n[[peer]]\nname = \"c\"\npublic_key = \"{KEY_C}\"\nallowed_ips = [\"100.64.0.4/32\"]\n"
    );
    let out = remove_peer(Path::new(PATH), &text, &env(), "b").unwrap();
    assert_eq!(
        out,
        format!(
            "[wireguard]\naddress = \"100.64.0.1/24\"\n\n# one\n[[peer]]\nname = \"a\"\npublic_key = \"{KEY_A}\"\nallowed_ips = [\"100.64.0.2/32\"]\n\n\
             # three\n[[peer]]\nname = \"c\"\npublic_key = \"{KEY_C}\"\nallowed_ips = [\"100.64.0.4/32\"]\n"
        )
    );
}

#[test]
fn duplicate_names_are_refused_with_the_line() {
    let e = add_peer(
        Path::new(PATH),
        &commented(),
        &env(),
        &new_peer("laptop", KEY_B, "100.64.0.3/32", &[]),
    )
    .unwrap_err();
    assert_eq!(
        e,
        EditError::Duplicate {
            name: "laptop".into(),
            line: 12
        }
    );
    assert!(e.to_string().contains("wingress peer remove laptop"), "{e}");
}

#[test]
fn results_the_daemon_would_refuse_are_not_returned() {
    // The same key twice.
    let e = add_peer(
        Path::new(PATH),
        &commented(),
        &env(),
        &new_peer("phone", KEY_A, "100.64.0.3/32", &[]),
    )
    .unwrap_err();
    assert!(matches!(e, EditError::ResultInvalid(_)), "{e}");
    assert!(e.to_string().contains("same public key"), "{e}");
    // A route that allows the peer being removed.
    let text = format!(
        "{}[[route]]\nhost = \"a.home.arpa\"\nbackends = [\"http://127.0.0.1:1\"]\nallow = [\"peer:laptop\"]\n",
        commented()
    );
    let e = remove_peer(Path::new(PATH), &text, &env(), "laptop").unwrap_err();
    assert!(matches!(e, EditError::ResultInvalid(_)), "{e}");
    assert!(e.to_string().contains("laptop"), "{e}");
    // A broken file is not edited at all.
    let e = remove_peer(Path::new(PATH), "[wireguard]\n", &env(), "x").unwrap_err();
    assert!(matches!(e, EditError::CurrentInvalid(_)), "{e}");
    assert_eq!(
        remove_peer(Path::new(PATH), &commented(), &env(), "nobody").unwrap_err(),
        EditError::NotFound("nobody".into())
    );
}

#[test]
fn inline_peer_arrays_are_not_edited() {
    let text = format!(
        "peer = [{{ name = \"a\", public_key = \"{KEY_A}\", allowed_ips = [\"100.64.0.2/32\"] }}]\n[wireguard]\naddress = \"100.64.0.1/24\"\n"
    );
    let e = add_peer(
        Path::new(PATH),
        &text,
        &env(),
        &new_peer("b", KEY_B, "100.64.0.3/32", &[]),
    )
    .unwrap_err();
    assert_eq!(e, EditError::InlinePeers);
}

// === allocation ===

fn with(address: &str, peers: &[&str]) -> ServerConfig {
    let keys = [KEY_A, KEY_B, KEY_C];
    let mut text = format!("[wireguard]\naddress = \"{address}\"\n");
    for (i, ips) in peers.iter().enumerate() {
        text.push_str(&format!(
            "[[peer]]\nname = \"p{i}\"\npublic_key = \"{}\"\nallowed_ips = [{ips}]\n",
            keys[i]
        ));
    }
    config(&text)
}

fn next_free_address_of(config: &ServerConfig) -> Result<Cidr, SubnetFull> {
    next_free_address(config, "")
}

fn next(address: &str, peers: &[&str]) -> String {
    next_free_address_of(&with(address, peers))
        .unwrap()
        .to_string()
}

#[test]
fn allocates_the_lowest_free_host() {
    assert_eq!(next("100.64.0.1/24", &[]), "100.64.0.2/32");
    // Not the network address, not the node's own.
    assert_eq!(next("100.64.0.5/24", &[]), "100.64.0.1/32");
    assert_eq!(
        next("100.64.0.1/24", &["\"100.64.0.2/32\""]),
        "100.64.0.3/32"
    );
    // A gap is reused.
    assert_eq!(
        next("100.64.0.1/24", &["\"100.64.0.3/32\"", "\"100.64.0.2/32\""]),
        "100.64.0.4/32"
    );
    assert_eq!(
        next("100.64.0.1/24", &["\"100.64.0.3/32\""]),
        "100.64.0.2/32"
    );
    // A peer routing a whole block inside the subnet takes all of it;
    // routes outside the subnet do not matter.
    assert_eq!(
        next("100.64.0.200/24", &["\"100.64.0.0/25\", \"10.0.0.0/8\""]),
        "100.64.0.128/32"
    );
    // IPv6 tunnels get /128s; the subnet-router address is skipped.
    assert_eq!(next("fd00::1/64", &["\"fd00::2/128\""]), "fd00::3/128");
    // A /31 has two usable addresses.
    assert_eq!(next("100.64.0.0/31", &[]), "100.64.0.1/32");
}

#[test]
fn a_full_subnet_is_a_clear_error() {
    let e = next_free_address_of(&with("100.64.0.1/30", &["\"100.64.0.2/32\""])).unwrap_err();
    assert_eq!(e.hosts, 2);
    assert_eq!(
        e.to_string(),
        "no free address in the tunnel subnet 100.64.0.0/30: all 2 host addresses are taken by \
         this node and its peers' allowed_ips; widen [wireguard].address (e.g. a /29) or remove a peer"
    );
    // The broadcast address is never handed out.
    assert!(next_free_address_of(&with("100.64.0.1/30", &["\"100.64.0.2/32\""])).is_err());
    assert!(next_free_address_of(&with("100.64.0.1/32", &[])).is_err());
    assert!(next_free_address_of(&with(
        "100.64.0.1/24",
        &["\"100.64.0.0/32\", \"100.64.0.2/31\", \"100.64.0.4/30\", \"100.64.0.8/29\", \"100.64.0.16/28\", \"100.64.0.32/27\", \"100.64.0.64/26\", \"100.64.0.128/25\""]
    ))
    .is_err());
}

/// One config for several nodes: no node's address is handed out.
#[test]
fn per_node_templates_keep_every_node_address_free() {
    let text = "[node]\nip = \"10.0.0.21\"\n[wireguard]\naddress = \"100.64.0.{octet}/16\"\n";
    let cfg = config(text);
    assert_eq!(cfg.wireguard.address.to_string(), "100.64.0.21/16");
    assert_eq!(
        next_free_address(&cfg, text).unwrap().to_string(),
        "100.64.1.0/32"
    );
    let text = "[node]\nip = \"10.0.0.21\"\n[wireguard]\naddress = \"100.64.{octet}.1/16\"\n";
    assert_eq!(
        next_free_address(&config(text), text).unwrap().to_string(),
        "100.64.0.2/32"
    );
}
