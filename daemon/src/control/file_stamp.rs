//! [`FileStamp`]: which version of the config file the daemon applied, so
//! the file watcher reloads only what a signal or the API has not. A leaf:
//! it imports nothing of the daemon.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::SystemTime;

/// What identifies a version of a file: size, mtime, inode (following
/// symlinks, so a Kubernetes ConfigMap's `..data` swap counts). `None`
/// when the file cannot be read.
pub(crate) type FileStamp = Option<(u64, Option<SystemTime>, u64)>;

/// The stamp of the file at `path` now.
pub(crate) fn file_stamp(path: &Path) -> FileStamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok(), m.ino()))
}
