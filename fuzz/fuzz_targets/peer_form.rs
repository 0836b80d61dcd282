//! The dashboard's "add device" POST, from the form body to the config
//! edit: an urlencoded body (what `control::dashboard::form` parses with
//! the same `form_urlencoded` crate, at most 16 fields), the name and tags
//! checked as `control::devices` checks them, then `add_peer` on a config
//! with comments, and `remove_peer` of the same name.
//!
//! Input: the form body's bytes.
//!
//! Checked: nothing panics; a name or tag the checks refuse never reaches
//! the file; an accepted add keeps the old text as a prefix, parses, holds
//! the peer with exactly those tags, and removing it gives the old text
//! back byte for byte.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wingress_config::{
    add_peer, check_new_name, is_tag, next_free_address, parse_peer_name, parse_server, remove_peer,
    Env, NewPeer,
};
use wingress_wg::PublicKey;

const BASE: &str = "# a node\n[wireguard]\naddress = \"100.64.0.1/24\" # the tunnel\n\n\
# the admin\n[[peer]]\nname = \"laptop\"\n\
public_key = \"U6nISMIg0CVl/m/5uxmXuKnD2ANFnaYbxC9NJ3mx+XI=\"\n\
allowed_ips = [\"100.64.0.2/32\"]\ntags = [\"admin\"]\n";

fuzz_target!(|data: &[u8]| {
    let fields: Vec<(String, String)> = form_urlencoded::parse(data)
        .take(17)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if fields.len() > 16 {
        return; // the dashboard answers 400
    }
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| f == k)
            .map_or("", |(_, v)| v.as_str())
    };
    let name = get("name").trim();
    let tags: Vec<String> = get("tags")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    if parse_peer_name(name).is_err() || !tags.iter().all(|t| is_tag(t)) {
        return; // 400 with the form again; nothing is written
    }
    let path = Path::new("wingress.toml");
    let env = Env::default();
    let Ok(cfg) = parse_server(path, BASE, &env) else {
        unreachable!("the base config parses");
    };
    if check_new_name(BASE, name).is_err() {
        assert_eq!(name, "laptop");
        return;
    }
    let address = next_free_address(&cfg, BASE).expect("a /24 with one peer has room");
    let peer = NewPeer {
        name: name.to_string(),
        public_key: PublicKey::from_bytes([7; 32]),
        allowed_ips: vec![address],
        tags: tags.clone(),
    };
    let edited = add_peer(path, BASE, &env, &peer).expect("a checked name and tags are written");
    assert!(edited.starts_with(BASE), "the old text is kept:\n{edited}");
    let after = parse_server(path, &edited, &env).expect("the edited config parses");
    let added = after
        .peers
        .iter()
        .find(|p| p.name == name)
        .expect("the new peer is in the edited config");
    assert_eq!(added.tags, tags);
    let back = remove_peer(path, &edited, &env, name).expect("the new peer can be removed");
    assert_eq!(back, BASE, "removing the peer restores the file");
});
