//! Files only the daemon's user may read: the CA key and issued leaf keys.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
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

/// Replaces `path` with `contents` so that readers see either the old or the
/// new file, never a torn one: write a 0600 temporary file in the same
/// directory, fsync it, rename it over `path`, fsync the directory.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), TlsError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
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
            .mode(0o600)
            .open(&tmp)
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

/// Reads a secret (TSIG secret, EAB key), refusing it when group or others
/// may read it, as ssh refuses such keys.
pub fn read_secret(path: &Path) -> Result<String, TlsError> {
    let meta = fs::metadata(path).map_err(TlsError::io(path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(TlsError::SecretExposed {
            path: path.to_owned(),
            mode,
        });
    }
    fs::read_to_string(path).map_err(TlsError::io(path))
}
