//! What the internal CA issues for clients' names: route hosts only, one
//! wildcard certificate per wildcard route, and per-name certificates for
//! `*` routes bounded and never written.

use std::collections::HashSet;
use std::fs;

use super::tests::{leaf_of, verifies_for, with_hosts, FakeClock, TestDir};
use super::*;
use crate::issued::MAX_TRANSIENT;

fn issued_files(state: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(state.join("ca/issued"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Random names under a wildcard route: one `*.parent` leaf serves them
/// all (on disk once, reused after a restart), nothing is written per
/// name, the cache does not grow, and the exact host keeps its own leaf.
#[test]
fn a_wildcard_route_gets_one_wildcard_certificate() {
    let dir = TestDir::new("wild");
    let state = dir.path().join("state");
    let store = with_hosts(
        CertStore::new(&state, true, &[]).unwrap(),
        &["app.home.arpa", "*.apps.home.arpa"],
    );
    let ca = store.ca_pem().unwrap();
    let now = UnixTime::now();
    let app = store.resolve_sni(Some("app.home.arpa")).unwrap();
    let first = store.resolve_sni(Some("r0.apps.home.arpa")).unwrap();
    assert!(verifies_for(&ca, &first, "anything.apps.home.arpa", now));
    assert!(!verifies_for(&ca, &first, "a.b.apps.home.arpa", now));
    for i in 1..2_000 {
        let name = format!("r{i}.apps.home.arpa");
        let leaf = store.resolve_sni(Some(&name)).unwrap();
        assert!(Arc::ptr_eq(&leaf, &first), "{name}");
    }
    assert!(verifies_for(&ca, &first, "r1999.apps.home.arpa", now));
    // Not covered: deeper names, the parent itself, other zones.
    for name in ["a.b.apps.home.arpa", "apps.home.arpa", "x.example"] {
        assert!(store.resolve_sni(Some(name)).is_none(), "{name}");
    }
    assert_eq!(
        issued_files(&state),
        [
            "+.apps.home.arpa.key",
            "+.apps.home.arpa.pem",
            "app.home.arpa.key",
            "app.home.arpa.pem"
        ]
    );
    assert_eq!(store.certificates().len(), 3, "root, app, the wildcard");
    assert!(Arc::ptr_eq(
        &app,
        &store.resolve_sni(Some("app.home.arpa")).unwrap()
    ));

    drop(store);
    let restarted = with_hosts(
        CertStore::new(&state, true, &[]).unwrap(),
        &["*.apps.home.arpa"],
    );
    let reused = restarted.resolve_sni(Some("new.apps.home.arpa")).unwrap();
    assert_eq!(leaf_of(&reused), leaf_of(&first), "reused from disk");
}

/// A wildcard certificate that has less than seven days left is replaced,
/// as per-name ones are.
#[test]
fn the_wildcard_certificate_is_renewed() {
    let dir = TestDir::new("wildrenew");
    let clock = FakeClock::starting_now();
    let store = with_hosts(
        CertStore::with_time_provider(dir.path(), true, &[], clock.clone()).unwrap(),
        &["*.apps.home.arpa"],
    );
    let old = store.resolve_sni(Some("a.apps.home.arpa")).unwrap();
    clock.advance_days(84);
    let new = store.resolve_sni(Some("b.apps.home.arpa")).unwrap();
    assert_ne!(leaf_of(&new), leaf_of(&old));
    assert!(verifies_for(
        &store.ca_pem().unwrap(),
        &new,
        "c.apps.home.arpa",
        clock.now()
    ));
}

/// `*` routes (and wildcards under one label, which clients refuse as a
/// wildcard certificate): a leaf per name, in memory, the last
/// MAX_TRANSIENT names; an exact host's leaf is never evicted by them.
#[test]
fn per_name_certificates_are_bounded_and_never_written() {
    let dir = TestDir::new("any");
    let state = dir.path().join("state");
    let store = with_hosts(
        CertStore::new(&state, true, &[]).unwrap(),
        &["app.home.arpa", "*", "*.internal"],
    );
    let ca = store.ca_pem().unwrap();
    let app = store.resolve_sni(Some("app.home.arpa")).unwrap();
    let svc = store.resolve_sni(Some("svc.internal")).unwrap();
    assert!(verifies_for(&ca, &svc, "svc.internal", UnixTime::now()));
    assert!(!verifies_for(&ca, &svc, "other.internal", UnixTime::now()));
    let mut seen = HashSet::new();
    for i in 0..MAX_TRANSIENT + 40 {
        let name = format!("n{i}.example");
        let leaf = store.resolve_sni(Some(&name)).unwrap();
        assert!(verifies_for(&ca, &leaf, &name, UnixTime::now()));
        seen.insert(leaf_of(&leaf));
    }
    assert_eq!(seen.len(), MAX_TRANSIENT + 40);
    // The root, the exact host, and the most recent per-name leaves.
    assert_eq!(store.certificates().len(), 2 + MAX_TRANSIENT);
    assert_eq!(
        issued_files(&state),
        ["app.home.arpa.key", "app.home.arpa.pem"]
    );
    assert!(Arc::ptr_eq(
        &app,
        &store.resolve_sni(Some("app.home.arpa")).unwrap()
    ));
    // A recent name is still cached; the first ones were evicted.
    let last = format!("n{}.example", MAX_TRANSIENT + 39);
    assert_eq!(
        leaf_of(&store.resolve_sni(Some(&last)).unwrap()),
        leaf_of(&store.resolve_sni(Some(&last)).unwrap())
    );
}

/// A new config drops what its hosts no longer cover.
#[test]
fn new_hosts_replace_the_old_ones() {
    let dir = TestDir::new("rehost");
    let store = with_hosts(
        CertStore::new(dir.path(), true, &[]).unwrap(),
        &["a.home.arpa", "*.apps.home.arpa"],
    );
    assert!(store.resolve_sni(Some("a.home.arpa")).is_some());
    assert!(store.resolve_sni(Some("x.apps.home.arpa")).is_some());
    store.set_issue_hosts(&["b.home.arpa"]);
    assert!(store.resolve_sni(Some("a.home.arpa")).is_none());
    assert!(store.resolve_sni(Some("x.apps.home.arpa")).is_none());
    assert!(store.resolve_sni(Some("b.home.arpa")).is_some());
    assert_eq!(store.certificates().len(), 2, "the root and b");
}
