use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::*;
use crate::{CertSource, CertStore};

/// A self-signed certificate for `sans`, handed in for `names`.
fn secret(id: &str, sans: &[&str], names: &[&str]) -> MemoryCert {
    let sans: Vec<String> = sans.iter().map(|n| n.to_string()).collect();
    let generated = rcgen::generate_simple_self_signed(sans).unwrap();
    MemoryCert {
        id: id.into(),
        names: names.iter().map(|n| n.to_string()).collect(),
        cert_pem: generated.cert.pem().into_bytes(),
        key_pem: generated.signing_key.serialize_pem().into_bytes(),
    }
}

fn leaf_der(cert: &MemoryCert) -> Vec<u8> {
    CertificateDer::from_pem_slice(&cert.cert_pem)
        .unwrap()
        .to_vec()
}

/// A store without static files or internal CA; nothing is written.
fn store() -> Arc<CertStore> {
    CertStore::new(Path::new("/nonexistent/wingress-memory-tests"), false, &[]).unwrap()
}

fn served(store: &CertStore, sni: &str) -> Option<Vec<u8>> {
    store.resolve_sni(Some(sni)).map(|k| k.cert[0].to_vec())
}

#[test]
fn sni_picks_the_item_handed_in_for_the_name() {
    let store = store();
    let a = secret("default/a", &["a.example.com"], &["a.example.com"]);
    let b = secret(
        "default/b",
        &["b.example.com", "c.example.com"],
        &["B.example.com.", "c.example.com"],
    );
    assert!(store.set_memory_certs(&[a.clone(), b.clone()]).is_empty());
    assert_eq!(served(&store, "a.example.com"), Some(leaf_der(&a)));
    assert_eq!(served(&store, "b.example.com"), Some(leaf_der(&b)));
    assert_eq!(served(&store, "C.EXAMPLE.COM"), Some(leaf_der(&b)));
    assert_eq!(served(&store, "d.example.com"), None);
    assert!(store.resolve_sni(None).is_none());
    assert_eq!(
        store.memory_names(),
        ["a.example.com", "b.example.com", "c.example.com"]
    );
    assert!(store.covers("a.example.com") && store.memory_covers("a.example.com"));
    assert!(!store.covers("d.example.com"));
    assert!(!store.static_covers("a.example.com"));
}

#[test]
fn without_names_the_leaf_names_are_served() {
    let store = store();
    let a = secret("default/a", &["a.example.com", "*.w.example.com"], &[]);
    assert!(store.set_memory_certs(std::slice::from_ref(&a)).is_empty());
    assert_eq!(served(&store, "a.example.com"), Some(leaf_der(&a)));
    assert_eq!(served(&store, "x.w.example.com"), Some(leaf_der(&a)));
}

#[test]
fn wildcards_cover_one_label_and_exact_names_win() {
    let store = store();
    let wild = secret("default/wild", &["*.example.com"], &["*.example.com"]);
    let www = secret("default/www", &["www.example.com"], &["www.example.com"]);
    assert!(store
        .set_memory_certs(&[wild.clone(), www.clone()])
        .is_empty());
    assert_eq!(served(&store, "www.example.com"), Some(leaf_der(&www)));
    assert_eq!(served(&store, "app.example.com"), Some(leaf_der(&wild)));
    assert_eq!(served(&store, "a.b.example.com"), None);
    assert_eq!(served(&store, "example.com"), None);
    // A wildcard name is covered only by that wildcard.
    assert!(store.covers("*.example.com"));
    assert!(store.covers("app.example.com"));
    assert!(!store.covers("*.www.example.com"));
    assert!(!store.covers("*.other.example"));
}

#[test]
fn replacing_the_set_changes_the_next_handshake() {
    let store = store();
    let first = secret("default/a", &["a.example.com"], &["a.example.com"]);
    store.set_memory_certs(std::slice::from_ref(&first));
    let before = store.resolve_sni(Some("a.example.com")).unwrap();
    let rotated = secret("default/a", &["a.example.com"], &["a.example.com"]);
    assert!(store
        .set_memory_certs(std::slice::from_ref(&rotated))
        .is_empty());
    assert_eq!(served(&store, "a.example.com"), Some(leaf_der(&rotated)));
    // What an open connection holds is untouched.
    assert_eq!(before.cert[0].to_vec(), leaf_der(&first));
    // Unchanged items are not loaded again: the same key is served.
    let again = store.resolve_sni(Some("a.example.com")).unwrap();
    store.set_memory_certs(std::slice::from_ref(&rotated));
    assert!(Arc::ptr_eq(
        &again,
        &store.resolve_sni(Some("a.example.com")).unwrap()
    ));
    // Names move with the set, and an empty set removes everything.
    let mut moved = rotated.clone();
    moved.names = vec!["b.example.com".into()];
    store.set_memory_certs(&[moved]);
    assert_eq!(served(&store, "a.example.com"), None);
    assert_eq!(served(&store, "b.example.com"), Some(leaf_der(&rotated)));
    assert!(store.set_memory_certs(&[]).is_empty());
    assert_eq!(served(&store, "b.example.com"), None);
    assert!(store.memory_names().is_empty());
}

#[test]
fn the_first_item_naming_a_host_serves_it() {
    let store = store();
    let old = secret("a/old", &["x.example.com"], &["x.example.com"]);
    let new = secret("b/new", &["x.example.com"], &["x.example.com"]);
    store.set_memory_certs(&[old.clone(), new.clone()]);
    assert_eq!(served(&store, "x.example.com"), Some(leaf_der(&old)));
    store.set_memory_certs(&[new.clone(), old]);
    assert_eq!(served(&store, "x.example.com"), Some(leaf_der(&new)));
}

#[test]
fn a_bad_item_is_reported_and_the_others_are_served() {
    let store = store();
    let good = secret("default/good", &["good.example.com"], &["good.example.com"]);
    let mut garbage = secret(
        "default/garbage",
        &["bad.example.com"],
        &["bad.example.com"],
    );
    garbage.cert_pem =
        b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".to_vec();
    let mut empty = secret("default/empty", &["e.example.com"], &["e.example.com"]);
    empty.cert_pem.clear();
    let mut no_key = secret("default/no-key", &["k.example.com"], &["k.example.com"]);
    no_key.key_pem = b"nothing here".to_vec();
    let mut mismatch = secret("default/mismatch", &["m.example.com"], &["m.example.com"]);
    mismatch.key_pem = good.key_pem.clone();
    let bad_name = secret(
        "default/bad-name",
        &["n.example.com"],
        &["not a name", "n.example.com"],
    );
    let errors =
        store.set_memory_certs(&[garbage, empty, good.clone(), no_key, mismatch, bad_name]);
    let described: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(described.len(), 5, "{described:#?}");
    assert!(described[0].starts_with("certificate default/garbage: cannot parse PEM in tls.crt"));
    assert_eq!(
        described[1],
        "certificate default/empty: no certificate found in tls.crt"
    );
    assert_eq!(
        described[2],
        "certificate default/no-key: no private key found in tls.key"
    );
    assert_eq!(
        described[3],
        "certificate default/mismatch: private key tls.key does not match certificate tls.crt"
    );
    assert_eq!(
        described[4],
        "certificate default/bad-name: `not a name` is not a server name a certificate can be chosen for"
    );
    assert!(errors.iter().all(|e| !e.kept_previous));
    assert_eq!(served(&store, "good.example.com"), Some(leaf_der(&good)));
    assert_eq!(store.memory_names(), ["good.example.com"]);
}

#[test]
fn a_broken_rotation_keeps_the_previous_certificate() {
    let store = store();
    let first = secret("default/a", &["a.example.com"], &["a.example.com"]);
    store.set_memory_certs(std::slice::from_ref(&first));
    let mut broken = first.clone();
    broken.key_pem = b"-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n".to_vec();
    let errors = store.set_memory_certs(std::slice::from_ref(&broken));
    assert_eq!(errors.len(), 1);
    assert!(errors[0].kept_previous);
    assert!(errors[0]
        .to_string()
        .ends_with("(its previous certificate is still served)"));
    assert_eq!(served(&store, "a.example.com"), Some(leaf_der(&first)));
    let status = store.certificates();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].source, CertSource::Memory);
    assert_eq!(status[0].path, Some(PathBuf::from("default/a")));
    assert_eq!(status[0].names, ["a.example.com"]);
    assert!(status[0]
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains("tls.key")));
    // Reported again while it stays broken; fixed, the error goes.
    assert_eq!(
        store.set_memory_certs(std::slice::from_ref(&broken)).len(),
        1
    );
    let fixed = secret("default/a", &["a.example.com"], &["a.example.com"]);
    assert!(store
        .set_memory_certs(std::slice::from_ref(&fixed))
        .is_empty());
    assert_eq!(served(&store, "a.example.com"), Some(leaf_der(&fixed)));
    assert_eq!(store.certificates()[0].last_error, None);
    // Going back to the first version, still in memory, is a change too.
    assert!(store
        .set_memory_certs(std::slice::from_ref(&first))
        .is_empty());
    assert_eq!(served(&store, "a.example.com"), Some(leaf_der(&first)));
}

/// Writes a self-signed pair for `sans` under a fresh temporary folder.
fn static_pair(sans: &[&str]) -> (PathBuf, PathBuf, Vec<u8>) {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "wingress-tls-memory-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = secret("file", sans, &[]);
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    std::fs::write(&key_path, &cert.key_pem).unwrap();
    (cert_path, key_path, leaf_der(&cert))
}

#[test]
fn static_files_come_first_and_a_new_store_adopts_the_set() {
    let (cert_path, key_path, file_leaf) = static_pair(&["*.example.com"]);
    let store = CertStore::new(
        Path::new("/nonexistent/wingress-memory-tests"),
        false,
        &[(cert_path.clone(), key_path.clone())],
    )
    .unwrap();
    let app = secret("default/app", &["app.example.com"], &["app.example.com"]);
    let other = secret("default/other", &["x.other.example"], &["x.other.example"]);
    store.set_memory_certs(&[app, other.clone()]);
    // The static wildcard covers app.example.com before the Secret does.
    assert_eq!(served(&store, "app.example.com"), Some(file_leaf.clone()));
    assert_eq!(served(&store, "x.other.example"), Some(leaf_der(&other)));
    assert!(store.static_covers("app.example.com") && store.covers("x.other.example"));
    // Without SNI: the first static certificate, never one from memory.
    assert_eq!(
        store.resolve_sni(None).map(|k| k.cert[0].to_vec()),
        Some(file_leaf)
    );

    let next = CertStore::new(Path::new("/nonexistent/wingress-memory-tests"), false, &[]).unwrap();
    assert_eq!(served(&next, "x.other.example"), None);
    next.adopt_memory_certs(&store);
    assert_eq!(served(&next, "x.other.example"), Some(leaf_der(&other)));
    let _ = std::fs::remove_dir_all(cert_path.parent().unwrap());
}

#[test]
fn the_key_is_never_printed() {
    let a = secret("default/a", &["a.example.com"], &[]);
    let printed = format!("{a:?}");
    assert!(printed.contains("default/a"));
    assert!(!printed.contains("PRIVATE KEY"));
}
