//! Whether the dashboard may change the config, and if not, why: the
//! pages say so instead of offering forms that would fail. Checked on
//! every request (a few system calls), so fixing the permissions needs no
//! restart.

use std::path::Path;

use nix::errno::Errno;
use nix::unistd::{access, AccessFlags};

/// `None` when the config file at `path` can be edited the way
/// `control::devices` edits it (a temporary file beside it, renamed over
/// it); else why not, in a sentence. `path` is `None` when the daemon runs
/// its built-in default.
pub(crate) fn reason(path: Option<&Path>) -> Option<String> {
    let Some(path) = path else {
        return Some(
            "the daemon runs its built-in default config: there is no file to edit (start it with a config file)"
                .into(),
        );
    };
    // Edits go to the symlink's target (a ConfigMap's file is a symlink).
    let target = match std::fs::canonicalize(path) {
        Ok(t) => t,
        Err(e) => {
            return Some(format!(
                "cannot find the config file {}: {e}",
                path.display()
            ))
        }
    };
    if let Err(e) = access(&target, AccessFlags::W_OK) {
        return Some(explain(e, "the config file", &target));
    }
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Err(e) = access(dir, AccessFlags::W_OK) {
        return Some(format!(
            "{} (a change is written to a temporary file there, then renamed over the config)",
            explain(e, "the config file's directory", dir)
        ));
    }
    None
}

fn explain(e: Errno, what: &str, path: &Path) -> String {
    match e {
        Errno::EROFS => format!(
            "{what} {} is on a read-only file system (a Kubernetes ConfigMap, or a read-only mount)",
            path.display()
        ),
        Errno::EACCES | Errno::EPERM => {
            format!("{what} {} is not writable by the daemon", path.display())
        }
        other => format!("{what} {} cannot be written: {}", path.display(), other.desc()),
    }
}

#[cfg(test)]
#[path = "read_only_tests.rs"]
mod tests;
