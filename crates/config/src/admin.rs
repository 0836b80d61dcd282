//! `[admin]`: the local admin API (`/status`, `/metrics`, `/healthz`,
//! `/readyz`, `POST /reload`), on a Unix socket and optionally on TCP.
//!
//! ```toml
//! [admin]
//! socket = "/run/wingress/admin.sock"   # default: <state_dir>/admin.sock
//! listen = "127.0.0.1:9180"             # optional; GET routes only
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::cursor::Table;
use crate::error::Diagnostics;

/// The socket's name inside the state directory when `socket` is not set.
pub const DEFAULT_ADMIN_SOCKET: &str = "admin.sock";

/// `[admin]`, with the default socket path filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// The Unix socket (mode 0600). `socket` resolved against the config
    /// file's folder, else `<state_dir>/admin.sock`.
    pub socket: PathBuf,
    /// An optional TCP address for scrapers and probes. It serves the GET
    /// routes only: `POST /reload` is refused there, since a TCP port has
    /// no file permissions to say who may use it.
    pub listen: Option<SocketAddr>,
}

impl AdminConfig {
    /// The defaults for a state directory: the socket inside it, no TCP.
    pub fn default_for(state_dir: &Path) -> AdminConfig {
        AdminConfig {
            socket: state_dir.join(DEFAULT_ADMIN_SOCKET),
            listen: None,
        }
    }
}

pub(crate) fn parse_admin(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    base: &Path,
    state_dir: &Path,
) -> AdminConfig {
    let mut config = AdminConfig::default_for(state_dir);
    let Some(mut admin) = root.optional_table(d, "admin") else {
        return config;
    };
    if let Some(socket) = admin.optional_path(d, "socket", base) {
        config.socket = socket.value;
    }
    config.listen = admin
        .optional_with(d, "listen", parse_listen)
        .map(|s| s.value);
    admin.finish(d);
    config
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>().map_err(|_| {
        format!(
            "`{s}` is not an address and port (write e.g. \"127.0.0.1:9180\" or \"[::1]:9180\")"
        )
    })
}

#[cfg(test)]
#[path = "admin_tests.rs"]
mod tests;
