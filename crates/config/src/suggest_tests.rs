use super::*;

const PEER_KEYS: &[&str] = &[
    "name",
    "public_key",
    "preshared_key_file",
    "allowed_ips",
    "endpoint",
    "persistent_keepalive",
    "tags",
];

#[test]
fn edit_distance_basics() {
    // Counted in chars, not bytes: `é` is one edit.
    assert_eq!(levenshtein("", ""), 0);
    assert_eq!(levenshtein("abc", ""), 3);
    assert_eq!(levenshtein("kitten", "sitting"), 3);
    assert_eq!(levenshtein("flaw", "lawn"), 2);
    assert_eq!(levenshtein("tagé", "tags"), 1);
}

#[test]
fn typos_and_wg_quick_names_find_the_key() {
    assert_eq!(suggest("allowed_ip", PEER_KEYS), Some("allowed_ips"));
    assert_eq!(suggest("publc_key", PEER_KEYS), Some("public_key"));
    assert_eq!(suggest("PublicKey", PEER_KEYS), Some("public_key"));
    assert_eq!(suggest("AllowedIPs", PEER_KEYS), Some("allowed_ips"));
    assert_eq!(suggest("Endpoint", PEER_KEYS), Some("endpoint"));
    assert_eq!(
        suggest("keepalive", PEER_KEYS),
        Some("persistent_keepalive")
    );
    assert_eq!(suggest("tag", PEER_KEYS), Some("tags"));
}

#[test]
fn unrelated_keys_get_no_suggestion() {
    assert_eq!(suggest("colour", PEER_KEYS), None);
    assert_eq!(suggest("x", PEER_KEYS), None);
    assert_eq!(suggest("foo", &[]), None);
}
