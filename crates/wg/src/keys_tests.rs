use super::*;

// Vector from `wg genkey | tee priv | wg pubkey` (RFC 7748 test key).
const PRIV: &str = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
const PUB: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

#[test]
fn pubkey_matches_rfc7748_vector() {
    let k: PrivateKey = PRIV.parse().unwrap();
    assert_eq!(k.public_key().to_base64(), PUB);
    assert_eq!(k.to_base64(), PRIV);
}

#[test]
fn generated_keys_are_clamped_and_round_trip() {
    let k = PrivateKey::generate();
    let b = STANDARD.decode(k.to_base64()).unwrap();
    assert_eq!(b[0] & 7, 0);
    assert_eq!(b[31] & 128, 0);
    assert_eq!(b[31] & 64, 64);
    let again: PrivateKey = k.to_base64().parse().unwrap();
    assert_eq!(again.public_key(), k.public_key());
}

#[test]
fn bad_keys_are_rejected() {
    assert_eq!("!!".parse::<PublicKey>(), Err(KeyError::Base64));
    assert_eq!("AAAA".parse::<PublicKey>(), Err(KeyError::Length(3)));
}

#[test]
fn debug_never_prints_secrets() {
    let key = PrivateKey::generate();
    let shown = format!("{key:?}");
    assert!(!shown.contains(&key.to_base64()), "{shown}");
    assert!(shown.contains(&key.public_key().to_base64()), "{shown}");
    let psk: PresharedKey = PRIV.parse().unwrap();
    assert_eq!(format!("{psk:?}"), "PresharedKey(..)");
}
