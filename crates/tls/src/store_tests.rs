use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

use super::*;

// === test support ===

pub(crate) struct TestDir(PathBuf);

impl TestDir {
    pub(crate) fn new(tag: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "wingress-tls-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TestDir(path)
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }

    /// Writes via rename, the way deploy tools replace certificates.
    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        let tmp = self.0.join(format!(".{name}.tmp"));
        fs::write(&tmp, contents).unwrap();
        fs::rename(&tmp, &path).unwrap();
        path
    }

    /// A self-signed pair for `names`, written as `<stem>.pem` / `<stem>.key`.
    fn cert_pair(&self, stem: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let generated = rcgen::generate_simple_self_signed(names).unwrap();
        (
            self.write(&format!("{stem}.pem"), &generated.cert.pem()),
            self.write(
                &format!("{stem}.key"),
                &generated.signing_key.serialize_pem(),
            ),
        )
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub(super) struct FakeClock(AtomicU64);

impl FakeClock {
    pub(super) fn starting_now() -> Arc<Self> {
        Arc::new(FakeClock(AtomicU64::new(UnixTime::now().as_secs())))
    }

    pub(super) fn advance_days(&self, days: u64) {
        self.0.fetch_add(days * 86_400, Ordering::Relaxed);
    }

    pub(super) fn now(&self) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(self.0.load(Ordering::Relaxed)))
    }
}

impl TimeProvider for FakeClock {
    fn current_time(&self) -> Option<UnixTime> {
        Some(self.now())
    }
}

/// `store` issuing for `hosts`.
pub(super) fn with_hosts(store: Arc<CertStore>, hosts: &[&str]) -> Arc<CertStore> {
    store.set_issue_hosts(hosts);
    store
}

pub(super) fn leaf_of(key: &CertifiedKey) -> Vec<u8> {
    key.cert[0].to_vec()
}

fn file_der(path: &Path) -> Vec<u8> {
    CertificateDer::from_pem_file(path).unwrap().to_vec()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

pub(super) fn verifies_for(ca_pem: &str, key: &CertifiedKey, name: &str, at: UnixTime) -> bool {
    let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap();
    let anchor = webpki::anchor_from_trusted_cert(&ca).unwrap();
    let ee = webpki::EndEntityCert::try_from(&key.cert[0]).unwrap();
    let algs = rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all;
    let chain_ok = ee
        .verify_for_usage(
            algs,
            &[anchor],
            &[],
            at,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .is_ok();
    let name = ServerName::try_from(name.to_owned()).unwrap();
    chain_ok && ee.verify_is_valid_for_subject_name(&name).is_ok()
}

// === static certificates ===

#[test]
fn sni_picks_the_static_cert_with_that_name() {
    let dir = TestDir::new("sni");
    let a = dir.cert_pair("a", &["a.example.com"]);
    let b = dir.cert_pair("b", &["b.example.com", "B2.example.com"]);
    let store = CertStore::new(dir.path(), false, &[a.clone(), b.clone()]).unwrap();

    let got_a = store.resolve_sni(Some("a.example.com")).unwrap();
    let got_b = store.resolve_sni(Some("b2.EXAMPLE.com")).unwrap();
    assert_eq!(leaf_of(&got_a), file_der(&a.0));
    assert_eq!(leaf_of(&got_b), file_der(&b.0));
    assert!(store.resolve_sni(Some("c.example.com")).is_none());
    assert_eq!(
        store.static_names(),
        ["a.example.com", "b.example.com", "b2.example.com"]
    );
    // No SNI: the first static certificate.
    assert_eq!(leaf_of(&store.resolve_sni(None).unwrap()), file_der(&a.0));
    // Static-only stores create no CA.
    assert!(!dir.path().join("ca").exists());
}

#[test]
fn wildcard_covers_exactly_one_label_and_exact_names_win() {
    let dir = TestDir::new("wildcard");
    let wild = dir.cert_pair("wild", &["*.example.com"]);
    let www = dir.cert_pair("www", &["www.example.com"]);
    let store = CertStore::new(dir.path(), false, &[wild.clone(), www.clone()]).unwrap();

    let pick = |sni: &str| store.resolve_sni(Some(sni)).map(|k| leaf_of(&k));
    assert_eq!(pick("www.example.com"), Some(file_der(&www.0)));
    assert_eq!(pick("app.example.com"), Some(file_der(&wild.0)));
    assert_eq!(pick("a.b.example.com"), None);
    assert_eq!(pick("example.com"), None);
}

#[test]
fn broken_static_files_are_all_reported_with_their_paths() {
    let dir = TestDir::new("broken");
    let a = dir.cert_pair("a", &["a.example.com"]);
    let b = dir.cert_pair("b", &["b.example.com"]);
    let garbage = dir.write("garbage.pem", "not a certificate\n");
    let missing = dir.path().join("missing.pem");

    let mismatch = (a.0.clone(), b.1.clone());
    match CertStore::new(dir.path(), false, &[mismatch]).unwrap_err() {
        TlsError::KeyMismatch { cert, key } => assert_eq!((cert, key), (a.0.clone(), b.1.clone())),
        e => panic!("{e}"),
    }
    let msg = CertStore::new(dir.path(), false, &[(a.0.clone(), a.0.clone())])
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("no private key found in ") && msg.contains("a.pem"),
        "{msg}"
    );

    let err = CertStore::new(
        dir.path(),
        false,
        &[
            (garbage.clone(), a.1.clone()),
            (missing.clone(), a.1.clone()),
        ],
    )
    .unwrap_err();
    let TlsError::Multiple(errors) = &err else {
        panic!("{err}")
    };
    assert!(matches!(&errors[0], TlsError::NoCertInPem { path } if *path == garbage));
    assert!(matches!(&errors[1], TlsError::Io { path, .. } if *path == missing));
}

#[test]
fn reload_picks_up_a_replaced_cert_and_keeps_the_old_one_on_garbage() {
    let dir = TestDir::new("reload");
    let (cert, key) = dir.cert_pair("site", &["site.example.com"]);
    let store = CertStore::new(dir.path(), false, &[(cert.clone(), key.clone())]).unwrap();
    assert_eq!(store.reload_changed().unwrap(), 0);

    let (cert2, key2) = dir.cert_pair("next", &["site.example.com", "new.example.com"]);
    fs::rename(&cert2, &cert).unwrap();
    fs::rename(&key2, &key).unwrap();
    let replaced = file_der(&cert);
    assert_eq!(store.reload_changed().unwrap(), 1);
    let served = store.resolve_sni(Some("new.example.com")).unwrap();
    assert_eq!(leaf_of(&served), replaced);

    dir.write("site.pem", "-----BEGIN CERTIFICATE-----\n!!!\n");
    let err = store.reload_changed().unwrap_err();
    assert!(err.to_string().contains("site.pem"), "{err}");
    let served = store.resolve_sni(Some("site.example.com")).unwrap();
    assert_eq!(leaf_of(&served), replaced, "old certificate keeps serving");
    // Reported once; retried only when the file changes again.
    assert_eq!(store.reload_changed().unwrap(), 0);
    assert_eq!(
        store.static_names(),
        ["site.example.com", "new.example.com"]
    );
}

// === internal CA ===

#[test]
fn internal_ca_issues_on_first_use_and_reuses_across_restarts() {
    let dir = TestDir::new("ca");
    let state = dir.path().join("state");
    let store = CertStore::new(&state, true, &[]).unwrap();
    store.set_issue_hosts(&["app.internal", "other.internal"]);
    let ca_pem = store.ca_pem().unwrap();
    assert!(ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));

    let leaf = store.resolve_sni(Some("App.Internal")).unwrap();
    assert!(verifies_for(
        &ca_pem,
        &leaf,
        "app.internal",
        UnixTime::now()
    ));
    assert!(!verifies_for(
        &ca_pem,
        &leaf,
        "other.internal",
        UnixTime::now()
    ));
    let again = store.resolve_sni(Some("app.internal")).unwrap();
    assert!(Arc::ptr_eq(&leaf, &again), "cached in memory");

    let ca = state.join("ca");
    assert_eq!(mode(&ca), 0o700);
    assert_eq!(mode(&ca.join("issued")), 0o700);
    for file in [
        "ca.pem",
        "ca.key",
        "issued/app.internal.pem",
        "issued/app.internal.key",
    ] {
        assert_eq!(mode(&ca.join(file)), 0o600, "{file}");
    }
    let leftovers: Vec<_> = fs::read_dir(&ca)
        .unwrap()
        .chain(fs::read_dir(ca.join("issued")).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    drop(store);
    let restarted = CertStore::new(&state, true, &[]).unwrap();
    restarted.set_issue_hosts(&["app.internal"]);
    assert_eq!(restarted.ca_pem().unwrap(), ca_pem);
    let reused = restarted.resolve_sni(Some("app.internal")).unwrap();
    assert_eq!(leaf_of(&reused), leaf_of(&leaf));
    assert_eq!(export_ca(&state, false).unwrap(), ca_pem);
}

#[test]
fn cached_leaf_is_replaced_when_less_than_seven_days_remain() {
    let dir = TestDir::new("renew");
    let clock = FakeClock::starting_now();
    let store = with_hosts(
        CertStore::with_time_provider(dir.path(), true, &[], clock.clone()).unwrap(),
        &["svc.internal"],
    );
    let leaf0 = store.resolve_sni(Some("svc.internal")).unwrap();

    clock.advance_days(80);
    let leaf80 = store.resolve_sni(Some("svc.internal")).unwrap();
    assert_eq!(leaf_of(&leaf80), leaf_of(&leaf0), "10 days left: kept");

    clock.advance_days(4);
    let leaf84 = store.resolve_sni(Some("svc.internal")).unwrap();
    assert_ne!(leaf_of(&leaf84), leaf_of(&leaf0), "6 days left: reissued");
    assert!(verifies_for(
        &store.ca_pem().unwrap(),
        &leaf84,
        "svc.internal",
        crate::ca::later(clock.now(), Duration::from_secs(80 * 86_400)),
    ));
    let on_disk = file_der(&dir.path().join("ca/issued/svc.internal.pem"));
    assert_eq!(on_disk, leaf_of(&leaf84), "the replacement is saved");

    let restarted = with_hosts(
        CertStore::with_time_provider(dir.path(), true, &[], clock.clone()).unwrap(),
        &["svc.internal"],
    );
    let reused = restarted.resolve_sni(Some("svc.internal")).unwrap();
    assert_eq!(
        leaf_of(&reused),
        leaf_of(&leaf84),
        "restart reuses the replacement"
    );
}

#[test]
fn leaf_on_disk_with_less_than_seven_days_left_is_not_reused() {
    let dir = TestDir::new("stale");
    let clock = FakeClock::starting_now();
    let first = with_hosts(
        CertStore::with_time_provider(dir.path(), true, &[], clock.clone()).unwrap(),
        &["svc.internal"],
    );
    let old = first.resolve_sni(Some("svc.internal")).unwrap();
    drop(first);

    clock.advance_days(84);
    let restarted = with_hosts(
        CertStore::with_time_provider(dir.path(), true, &[], clock.clone()).unwrap(),
        &["svc.internal"],
    );
    let fresh = restarted.resolve_sni(Some("svc.internal")).unwrap();
    assert_ne!(leaf_of(&fresh), leaf_of(&old));
    assert!(verifies_for(
        &restarted.ca_pem().unwrap(),
        &fresh,
        "svc.internal",
        clock.now()
    ));
}

#[test]
fn concurrent_handshakes_for_one_name_issue_once() {
    let dir = TestDir::new("concurrent");
    let store = with_hosts(
        CertStore::new(dir.path(), true, &[]).unwrap(),
        &["busy.internal"],
    );
    let leaves: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| leaf_of(&store.resolve_sni(Some("busy.internal")).unwrap())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(leaves.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn no_sni_without_static_certs_gets_localhost_and_fallback_names() {
    let dir = TestDir::new("fallback");
    let store = CertStore::new(dir.path(), true, &[]).unwrap();
    let ca_pem = store.ca_pem().unwrap();
    store.set_fallback_names(vec![
        "100.64.0.2".into(),
        "node.internal".into(),
        "bad/name".into(),
    ]);
    let leaf = store.resolve_sni(None).unwrap();
    let now = UnixTime::now();
    assert!(verifies_for(&ca_pem, &leaf, "localhost", now));
    assert!(verifies_for(&ca_pem, &leaf, "100.64.0.2", now));
    assert!(verifies_for(&ca_pem, &leaf, "node.internal", now));
    assert!(Arc::ptr_eq(&leaf, &store.resolve_sni(None).unwrap()));

    store.set_fallback_names(vec!["100.64.0.3".into()]);
    let changed = store.resolve_sni(None).unwrap();
    assert!(verifies_for(&ca_pem, &changed, "100.64.0.3", now));
    assert!(!verifies_for(&ca_pem, &changed, "100.64.0.2", now));
    // Kept in memory only.
    assert!(!dir.path().join("ca/issued").exists());
}

#[test]
fn hostile_sni_gets_nothing_and_writes_nothing() {
    let dir = TestDir::new("hostile");
    let state = dir.path().join("state");
    let store = with_hosts(CertStore::new(&state, true, &[]).unwrap(), &["*"]);
    let long = "a".repeat(300);
    for sni in [
        "../../etc/passwd",
        "..",
        "a/b",
        long.as_str(),
        "*.example.com",
        "",
        "evil\0.com",
        ".hidden",
    ] {
        assert!(store.resolve_sni(Some(sni)).is_none(), "{sni:?}");
    }
    assert!(!state.join("ca/issued").exists());
    let mut names: Vec<_> = fs::read_dir(state.join("ca"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ca.key", "ca.pem"]);
    assert!(!dir.path().join("etc").exists());
}

#[test]
fn ca_pem_without_internal_ca() {
    let dir = TestDir::new("noca");
    let store = CertStore::new(dir.path(), false, &[]).unwrap();
    assert!(matches!(store.ca_pem(), Err(TlsError::NoInternalCa)));
    assert!(matches!(
        export_ca(dir.path(), false),
        Err(TlsError::NoInternalCa)
    ));
    assert!(store.resolve_sni(Some("x.internal")).is_none());
    assert!(store.resolve_sni(None).is_none());

    let created = export_ca(dir.path(), true).unwrap();
    assert_eq!(store.ca_pem().unwrap(), created);
    assert_eq!(export_ca(dir.path(), true).unwrap(), created);
}

#[test]
fn ca_with_mismatched_key_is_refused() {
    let dir = TestDir::new("camismatch");
    export_ca(dir.path(), true).unwrap();
    let other = rcgen::KeyPair::generate().unwrap();
    fs::write(dir.path().join("ca/ca.key"), other.serialize_pem()).unwrap();
    match CertStore::new(dir.path(), true, &[]).unwrap_err() {
        TlsError::KeyMismatch { cert, key } => {
            assert!(cert.ends_with("ca/ca.pem") && key.ends_with("ca/ca.key"))
        }
        e => panic!("{e}"),
    }
}

#[test]
fn names_too_long_for_a_file_name_are_served_from_memory_only() {
    let dir = TestDir::new("longname");
    let name = format!(
        "{}.{}.{}.{}",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(48)
    );
    let store = with_hosts(CertStore::new(dir.path(), true, &[]).unwrap(), &[&name]);
    let leaf = store.resolve_sni(Some(&name)).unwrap();
    assert!(verifies_for(
        &store.ca_pem().unwrap(),
        &leaf,
        &name,
        UnixTime::now()
    ));
    assert!(Arc::ptr_eq(&leaf, &store.resolve_sni(Some(&name)).unwrap()));
    assert!(!dir.path().join("ca/issued").exists());
}

#[test]
fn the_internal_ca_issues_only_for_route_hosts() {
    let dir = TestDir::new("filter");
    let state = dir.path().join("state");
    let store = CertStore::new(&state, true, &[]).unwrap();
    assert!(
        store.resolve_sni(Some("app.home.arpa")).is_none(),
        "nothing before the hosts are known"
    );
    store.set_issue_hosts(&["app.home.arpa"]);
    assert!(store.resolve_sni(Some("app.home.arpa")).is_some());
    assert!(
        store.resolve_sni(Some("APP.home.arpa")).is_some(),
        "names are lowercased first"
    );
    assert!(store.resolve_sni(Some("other.home.arpa")).is_none());
    let issued = state.join("ca").join("issued");
    let files: Vec<_> = fs::read_dir(&issued)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        files
            .iter()
            .all(|f| f.to_string_lossy().starts_with("app.home.arpa")),
        "{files:?}"
    );
}

// === status ===

#[test]
fn certificates_report_names_issuer_expiry_and_reload_errors() {
    use crate::{CertSource, CertState};
    let dir = TestDir::new("status");
    let (cert, key) = dir.cert_pair("site", &["site.example.com", "10.0.0.1"]);
    let clock = FakeClock::starting_now();
    let store = CertStore::with_time_provider(
        &dir.path().join("state"),
        true,
        &[(cert.clone(), key)],
        clock.clone(),
    )
    .unwrap();
    store.set_issue_hosts(&["app.internal"]);
    store.resolve_sni(Some("app.internal")).unwrap();
    let certs = store.certificates();
    let sources: Vec<_> = certs.iter().map(|c| c.source).collect();
    assert_eq!(
        sources,
        [
            CertSource::File,
            CertSource::InternalCaRoot,
            CertSource::InternalCa
        ]
    );
    let file = &certs[0];
    assert_eq!(file.names, ["site.example.com", "10.0.0.1"]);
    assert_eq!(file.path.as_deref(), Some(cert.as_path()));
    assert_eq!(file.state, CertState::Valid);
    assert_eq!(file.next_renewal, None);
    let leaf = &certs[2];
    assert_eq!(leaf.names, ["app.internal"]);
    let issuer = leaf.issuer.as_deref().unwrap_or_default();
    assert!(issuer.starts_with("wingress internal CA"), "{leaf:?}");
    // 90-day leaves, renewed with 7 days left.
    let days = leaf.expires_in_secs.unwrap_or_default() / 86_400;
    assert!((88..=90).contains(&days), "{leaf:?}");
    let not_after = leaf.not_after.as_deref().unwrap_or_default();
    assert!(
        not_after.ends_with('Z') && not_after.starts_with("20"),
        "{leaf:?}"
    );
    assert!(leaf.next_renewal.is_some());
    assert_eq!(leaf.state, CertState::Valid);

    clock.advance_days(91);
    let leaf = &store.certificates()[2];
    assert_eq!(leaf.state, CertState::Expired);
    assert!(leaf.expires_in_secs.is_some_and(|s| s < 0));

    dir.write("site.pem", "-----BEGIN CERTIFICATE-----\n!!!\n");
    assert!(store.reload_changed().is_err());
    let file = &store.certificates()[0];
    let error = file.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("site.pem"), "{file:?}");
    assert_eq!(file.names, ["site.example.com", "10.0.0.1"], "still served");
}
