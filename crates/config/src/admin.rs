//! `[admin]`: the local admin API (`/status`, `/metrics`, `/healthz`,
//! `/readyz`, `POST /reload`), on a Unix socket and optionally on TCP.
//!
//! ```toml
//! [admin]
//! socket = "/run/wingress/admin.sock"   # default: <state_dir>/admin.sock
//! listen = "127.0.0.1:9180"             # optional; GET routes only
//! token_file = "admin.token"            # the bearer token TCP clients send (0600)
//! ```
//!
//! Over TCP, everything but `/healthz` and `/readyz` needs
//! `Authorization: Bearer <token>`; without `token_file` those two probes
//! are all the TCP listener serves.

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
    /// The file holding the bearer token TCP clients must send (resolved
    /// against the config file's folder). Read at start-up; it must not be
    /// readable by group or others. Only with `listen`.
    pub token_file: Option<PathBuf>,
}

impl AdminConfig {
    /// The defaults for a state directory: the socket inside it, no TCP.
    pub fn default_for(state_dir: &Path) -> AdminConfig {
        AdminConfig {
            socket: state_dir.join(DEFAULT_ADMIN_SOCKET),
            listen: None,
            token_file: None,
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
    if let Some(token) = admin.optional_path(d, "token_file", base) {
        if config.listen.is_none() {
            d.error(
                &token.span,
                "token_file: the token is for the TCP listener; set `listen` too (the unix socket needs none)",
            );
        }
        config.token_file = Some(token.value);
    }
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
