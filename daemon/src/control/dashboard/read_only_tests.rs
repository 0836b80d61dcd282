use super::*;

fn scratch(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("wingress-read-only-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_writable_file_in_a_writable_directory_can_be_edited() {
    let dir = scratch("ok");
    let file = dir.join("wingress.toml");
    std::fs::write(&file, "").unwrap();
    assert_eq!(reason(Some(&file)), None);
    // Through a symlink, as a ConfigMap mounts it.
    let link = dir.join("link.toml");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    assert_eq!(reason(Some(&link)), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn each_reason_is_said() {
    let r = reason(None).unwrap();
    assert!(r.contains("built-in default"), "{r}");
    let r = reason(Some(Path::new("/nonexistent/wingress.toml"))).unwrap();
    assert!(r.contains("cannot find the config file"), "{r}");
    let p = Path::new("/etc/wingress.toml");
    let r = explain(Errno::EROFS, "the config file", p);
    assert!(r.contains("read-only file system"), "{r}");
    assert!(explain(Errno::EACCES, "the config file", p).contains("not writable"));
    // Root may write anything that is not on a read-only file system, so
    // the permission case is checked only for other users.
    if !nix::unistd::geteuid().is_root() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("perm");
        let file = dir.join("wingress.toml");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
        assert!(reason(Some(&file)).unwrap().contains("not writable"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        assert!(reason(Some(&file)).unwrap().contains("directory"));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
