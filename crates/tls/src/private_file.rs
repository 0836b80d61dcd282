//! Files only the daemon's user may read: the CA key, issued leaf keys,
//! ACME state, the WireGuard private key; and the one atomic writer the
//! daemon and its CLI use for every file they replace (keys, configs).

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::TlsError;

/// Creates `dir` (and missing parents) as 0700, and tightens it to 0700 if
/// it already existed with wider permissions.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), TlsError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(TlsError::io(dir))?;
    let mode = fs::metadata(dir)
        .map_err(TlsError::io(dir))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, Permissions::from_mode(0o700)).map_err(TlsError::io(dir))?;
    }
    Ok(())
}

/// Replaces `path` with `contents`, readable by the owner only (0600): see
/// [`write_atomic_mode`].
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), TlsError> {
    write_atomic_mode(path, contents, 0o600)
}

/// Replaces `path` with `contents` so that readers see either the old or the
/// new file, never a torn one: a temporary file of a unique name in the same
/// directory, created with `mode` (exactly: the umask does not narrow it),
/// owned like the file it replaces when there is one (possible as root;
/// otherwise it is the writer's, as an editor would leave it), fsynced,
/// renamed over `path`; then the directory is fsynced so the rename
/// survives a crash. The contents are never readable beyond `mode`, not
/// even briefly.
pub fn write_atomic_mode(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mode = mode & 0o7777;
    let owner = fs::metadata(path).ok().map(|m| (m.uid(), m.gid()));
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));

    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(TlsError::io(&tmp))?;
        if let Some((uid, gid)) = owner {
            // Only root may give a file away; anyone else keeps it.
            let _ = std::os::unix::fs::fchown(&file, Some(uid), Some(gid));
        }
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(TlsError::io(&tmp))?;
        file.write_all(contents).map_err(TlsError::io(&tmp))?;
        file.sync_all().map_err(TlsError::io(&tmp))?;
        fs::rename(&tmp, path).map_err(TlsError::io(path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(TlsError::io(dir))
}

/// Warns when a secret file is readable by others (e.g. restored from a
/// backup with a loose umask); the daemon still uses it.
pub(crate) fn warn_if_exposed(path: &Path) {
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format_args!("{:o}", mode & 0o777), "private key file is accessible to other users");
        }
    }
}

/// Reads a secret (a private key, a TSIG secret, an EAB key, a token),
/// refusing it when group or others may read it, as ssh refuses such keys.
/// The mode checked is the opened file's, so the file read is the file
/// checked, even if `path` is replaced in between.
pub fn read_secret(path: &Path) -> Result<String, TlsError> {
    let mut file = File::open(path).map_err(TlsError::io(path))?;
    let mode = file
        .metadata()
        .map_err(TlsError::io(path))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(TlsError::SecretExposed {
            path: path.to_owned(),
            mode,
        });
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(TlsError::io(path))?;
    Ok(text)
}

#[cfg(test)]
#[path = "private_file_tests.rs"]
mod tests;
