use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use super::*;

fn scratch(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "wingress-private-file-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Files in `dir` other than `keep`: leftover temporaries.
fn others(dir: &Path, keep: &str) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != keep)
        .collect()
}

#[test]
fn secrets_are_0600_and_other_modes_are_exact_despite_the_umask() {
    let dir = scratch("mode");
    let key = dir.join("private.key");
    write_atomic(&key, b"secret\n").unwrap();
    assert_eq!(mode(&key), 0o600);
    assert_eq!(fs::read(&key).unwrap(), b"secret\n");
    // 0666 is what the umask (022 at least) would narrow at creation.
    let conf = dir.join("wingress.toml");
    write_atomic_mode(&conf, b"a = 1\n", 0o666).unwrap();
    assert_eq!(mode(&conf), 0o666);
    write_atomic(&key, b"again\n").unwrap();
    assert_eq!(fs::read(&key).unwrap(), b"again\n");
    assert!(others(&dir, "private.key")
        .iter()
        .all(|n| n == "wingress.toml"));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn concurrent_writers_of_one_file_do_not_collide() {
    // Temporary names are unique per write, not per process: two threads
    // replacing the same file both succeed, and one of them wins whole.
    let dir = scratch("race");
    let path = dir.join("state.json");
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let path = &path;
            s.spawn(move || {
                for _ in 0..50 {
                    write_atomic(path, &[t; 64]).unwrap();
                }
            });
        }
    });
    let last = fs::read(&path).unwrap();
    assert_eq!(last.len(), 64);
    assert!(last.iter().all(|b| *b == last[0]), "a torn file");
    assert!(others(&dir, "state.json").is_empty(), "temporaries left");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_replaced_file_keeps_its_owner() {
    let dir = scratch("owner");
    let path = dir.join("wingress.toml");
    fs::write(&path, "old").unwrap();
    // Only root can give a file away; as anyone else the owner is the
    // writer either way and there is nothing to check.
    if std::os::unix::fs::chown(&path, Some(4242), Some(4243)).is_err() {
        fs::remove_dir_all(dir).unwrap();
        return;
    }
    write_atomic_mode(&path, b"new", 0o640).unwrap();
    let meta = fs::metadata(&path).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (4242, 4243));
    assert_eq!(mode(&path), 0o640);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn secrets_readable_by_others_are_refused() {
    let dir = scratch("read");
    let path = dir.join("tsig.secret");
    fs::write(&path, "c2VjcmV0\n").unwrap();
    fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
    match read_secret(&path) {
        Err(TlsError::SecretExposed { mode, .. }) => assert_eq!(mode, 0o644),
        other => panic!("{other:?}"),
    }
    fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
    assert_eq!(read_secret(&path).unwrap(), "c2VjcmV0\n");
    assert!(matches!(
        read_secret(&dir.join("missing")),
        Err(TlsError::Io { .. })
    ));
    fs::remove_dir_all(dir).unwrap();
}
