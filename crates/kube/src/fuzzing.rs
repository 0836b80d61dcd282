//! Support for the fuzz target in `fuzz/` (`kube_map`) and this crate's
//! mapping tests: the config both build their policies from, so the two
//! map snapshots under the same peers. Not an API: hidden from the
//! documentation, and changed with the tests that use it.

use std::path::Path;

use wingress_config::{parse_server, Env};

use crate::Policy;

/// The config a test policy starts from: the WireGuard address and one
/// peer, `laptop`, tagged `family` (so `allow = peer:laptop` and
/// `tag:family` resolve).
pub const BASE_CONFIG: &str = r#"
[wireguard]
address = "100.64.0.1/24"

[[peer]]
name = "laptop"
public_key = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
allowed_ips = ["100.64.0.2/32"]
tags = ["family"]
"#;

/// The policy of [`BASE_CONFIG`] followed by `extra` (file routes, a
/// `[kubernetes]` table), read as `/etc/wingress/wingress.toml`; the
/// config's errors as text when it does not parse.
pub fn policy(extra: &str) -> Result<Policy, String> {
    let text = format!("{BASE_CONFIG}{extra}");
    parse_server(
        Path::new("/etc/wingress/wingress.toml"),
        &text,
        &Env::default(),
    )
    .map(|cfg| Policy::from_config(&cfg))
    .map_err(|e| e.to_string())
}
