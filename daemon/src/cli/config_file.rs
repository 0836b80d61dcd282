//! Finding and reading the config file a command works on, and reporting
//! its errors (every one, with file:line:col; exit status 64).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use wingress_config::ConfigErrors;

/// EX_USAGE: the command was used incorrectly (a bad config).
const EX_USAGE: u8 = 64;

/// A config file's text, or a usage error.
pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))
}

pub(crate) fn report(errors: &ConfigErrors) -> ExitCode {
    eprintln!("{errors}");
    let n = errors.0.len();
    eprintln!(
        "wingress: {n} error{} in config",
        if n == 1 { "" } else { "s" }
    );
    ExitCode::from(EX_USAGE)
}

/// The config to run: the flag, else ./wingress.toml, else
/// /etc/wingress/wingress.toml, else the embedded default (`true`).
pub(crate) fn server_config_source(config: Option<PathBuf>) -> Result<(PathBuf, String, bool)> {
    let found = config.or_else(|| {
        [
            PathBuf::from("wingress.toml"),
            PathBuf::from("/etc/wingress/wingress.toml"),
        ]
        .into_iter()
        .find(|p| p.exists())
    });
    Ok(match found {
        Some(p) => {
            let t = read(&p)?;
            (p, t, false)
        }
        None => (
            PathBuf::from("<embedded default>"),
            wingress_config::EMBEDDED_DEFAULT.to_string(),
            true,
        ),
    })
}
