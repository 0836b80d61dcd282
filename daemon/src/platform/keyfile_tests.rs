use super::*;

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "wingress-keyfile-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    fs::create_dir_all(&d).unwrap();
    d
}

fn rand_suffix() -> String {
    PrivateKey::generate()
        .public_key()
        .to_base64()
        .replace(['/', '+', '='], "")[..8]
        .to_string()
}

#[test]
fn created_keys_are_0600_and_reload() {
    let d = tempdir();
    let p = d.join("state/private.key");
    let (k, created) = load_or_create(&p).unwrap();
    assert!(created);
    assert_eq!(
        fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (again, created) = load_or_create(&p).unwrap();
    assert!(!created);
    assert_eq!(again.public_key(), k.public_key());
    fs::remove_dir_all(d).unwrap();
}

#[test]
fn readable_keys_are_refused_with_the_fix() {
    let d = tempdir();
    let p = d.join("server.key");
    fs::write(&p, format!("{}\n", PrivateKey::generate().to_base64())).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    let e = load(&p).unwrap_err().to_string();
    assert!(e.contains("too open"), "{e}");
    assert!(e.contains("chmod 600"), "{e}");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    load(&p).unwrap();
    fs::write(&p, "not a key").unwrap();
    assert!(load(&p)
        .unwrap_err()
        .to_string()
        .contains("not a WireGuard key"));
    fs::remove_dir_all(d).unwrap();
}
