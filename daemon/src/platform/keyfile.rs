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
#[path = "keyfile_tests.rs"]
mod tests;
