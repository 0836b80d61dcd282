//! Private key files: refused when others can read them (as ssh refuses),
//! created atomically with mode 0600. Also the atomic writer the CLI uses
//! for config files.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};
use wingress_wg::PrivateKey;

/// Reads a private key file written by `wg genkey` or `wingress genkey`.
pub fn load(path: &Path) -> Result<PrivateKey> {
    let meta = fs::metadata(path)
        .with_context(|| format!("cannot read private key {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "permissions {mode:04o} for private key {p} are too open: it must not be readable by group or others.\n\
             Fix with: chmod 600 {p}",
            p = path.display()
        );
    }
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read private key {}", path.display()))?;
    text.trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("private key {} is not a WireGuard key: {e}", path.display()))
}

/// Loads the key at `path`, creating a new one (and its directory, 0700)
/// when there is none. Returns the key and whether it was created.
pub fn load_or_create(path: &Path) -> Result<(PrivateKey, bool)> {
    if path.exists() {
        return Ok((load(path)?, false));
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create state directory {}", dir.display()))?;
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    }
    let key = PrivateKey::generate();
    write_atomic(path, format!("{}\n", key.to_base64()).as_bytes())?;
    Ok((key, true))
}

/// Writes a secret file atomically: a 0600 temporary file beside the target,
/// synced, then renamed over it. Readers never see a partial file and the
/// secret is never readable by others, not even briefly.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_mode(path, bytes, 0o600)
}

/// [`write_atomic`] with another mode (a config file keeps its own), and
/// the owner of the file it replaces when there is one (possible as root;
/// otherwise the new file is the writer's, as any editor would leave it).
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let owner = fs::metadata(path).ok().map(|m| (m.uid(), m.gid()));
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("key");
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode & 0o7777)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    if let Some((uid, gid)) = owner {
        let _ = std::os::unix::fs::fchown(&f, Some(uid), Some(gid));
    }
    // The umask may have narrowed the mode at creation; set it exactly.
    let written = f
        .set_permissions(fs::Permissions::from_mode(mode & 0o7777))
        .and_then(|()| f.write_all(bytes))
        .and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
}
