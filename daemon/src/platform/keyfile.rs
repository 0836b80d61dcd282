//! Private key files: refused when others can read them (as ssh refuses),
//! created atomically with mode 0600. The checks and the atomic writer
//! (also what the CLI replaces config files with) are `wingress_tls`'s,
//! shared with the certificate store.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use wingress_tls::{read_secret, TlsError};
pub(crate) use wingress_tls::{write_atomic, write_atomic_mode};
use wingress_wg::PrivateKey;

/// Reads a private key file written by `wg genkey` or `wingress genkey`.
pub(crate) fn load(path: &Path) -> Result<PrivateKey> {
    let text = match read_secret(path) {
        Ok(text) => text,
        Err(TlsError::SecretExposed { mode, .. }) => bail!(
            "permissions {mode:04o} for private key {p} are too open: it must not be readable by group or others.\n\
             Fix with: chmod 600 {p}",
            p = path.display()
        ),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read private key {}", path.display()))
        }
    };
    text.trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("private key {} is not a WireGuard key: {e}", path.display()))
}

/// Loads the key at `path`, creating a new one (and its directory, 0700)
/// when there is none. Returns the key and whether it was created.
pub(crate) fn load_or_create(path: &Path) -> Result<(PrivateKey, bool)> {
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
