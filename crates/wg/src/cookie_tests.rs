use super::testing::{add_mac2, message};
use super::*;
use crate::keys::PrivateKey;

#[test]
fn cookies_bind_address_port_and_secret_age() {
    let public = PrivateKey::generate().public_key();
    let mut c = CookieChecker::new(&public);
    let t0 = Instant::now();
    let from: SocketAddr = "198.51.100.7:5000".parse().unwrap();
    let mut msg = message(&public, 148, 42);
    assert!(c.mac1_ok(&msg));
    assert!(!c.mac2_ok(t0, from, &msg));
    let mut out = [0u8; 64];
    assert_eq!(c.write_reply(t0, from, &msg, &mut out), Some(64));
    assert_eq!(out[..8], [3, 0, 0, 0, 42, 0, 0, 0]);
    add_mac2(&public, &out, &mut msg);
    assert!(c.mac2_ok(t0 + Duration::from_secs(119), from, &msg));
    // Another port, another address: not theirs.
    assert!(!c.mac2_ok(t0, "198.51.100.7:5001".parse().unwrap(), &msg));
    assert!(!c.mac2_ok(t0, "198.51.100.8:5000".parse().unwrap(), &msg));
    // Two minutes later the secret is new; the cookie still verifies
    // within the grace, and is worthless after it.
    assert!(c.mac2_ok(t0 + COOKIE_SECRET_LIFETIME, from, &msg));
    let late = COOKIE_SECRET_LIFETIME + COOKIE_SECRET_GRACE;
    assert!(!c.mac2_ok(t0 + late, from, &msg));
    // A corrupted mac1 fails, and short messages do not panic.
    msg[120] ^= 1;
    assert!(!c.mac1_ok(&msg));
    assert!(!c.mac1_ok(&msg[..20]));
    assert!(!c.mac2_ok(t0, from, &msg[..10]));
    assert_eq!(c.write_reply(t0, from, &msg[..6], &mut out), None);
    assert_eq!(c.write_reply(t0, from, &msg, &mut out[..63]), None);
}

/// A cookie handed out a second before the secret changes still
/// verifies at the sender's retry five seconds later (else the
/// handshake needs a third attempt), for that address and port only;
/// and one from two secrets ago never does.
#[test]
fn a_cookie_from_just_before_the_secret_changed_verifies_at_the_retry() {
    let public = PrivateKey::generate().public_key();
    let mut c = CookieChecker::new(&public);
    let t0 = Instant::now();
    let from: SocketAddr = "198.51.100.7:5000".parse().unwrap();
    let mut msg = message(&public, 148, 42);
    let mut out = [0u8; 64];
    // The secret is made at t0; the cookie a second before it changes.
    assert!(!c.mac2_ok(t0, from, &msg));
    let issued = t0 + COOKIE_SECRET_LIFETIME - Duration::from_secs(1);
    c.write_reply(issued, from, &msg, &mut out).unwrap();
    add_mac2(&public, &out, &mut msg);
    let retry = issued + Duration::from_secs(5);
    assert!(c.mac2_ok(retry, from, &msg));
    assert!(!c.mac2_ok(retry, "198.51.100.7:5001".parse().unwrap(), &msg));
    // Two changes later (the secret after is made at the retry), the
    // cookie is worthless.
    let later = retry + COOKIE_SECRET_LIFETIME;
    assert!(!c.mac2_ok(later, from, &msg));
}

#[test]
fn reply_nonces_never_repeat() {
    let public = PrivateKey::generate().public_key();
    let mut c = CookieChecker::new(&public);
    let msg = message(&public, 92, 1);
    let from: SocketAddr = "[2001:db8::1]:9".parse().unwrap();
    let now = Instant::now();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..100 {
        let mut out = [0u8; 64];
        c.write_reply(now, from, &msg, &mut out).unwrap();
        assert!(seen.insert(out[8..32].to_vec()));
    }
}
