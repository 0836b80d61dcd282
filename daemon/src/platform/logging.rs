//! Logs: tracing to stderr, human text by default or one JSON object per
//! line.
//!
//! Level filter, first found: `RUST_LOG`, `WINGRESS_LOG` (the older name),
//! `[log].level`, `info`. Format, first found: `--log-format`,
//! `WINGRESS_LOG_FORMAT`, `[log].format`, `text`. A reload applies a
//! changed `[log].level` at once unless an environment variable set it;
//! the format needs a restart.
//!
//! Secrets never reach a log line: key types print only their public half
//! (`PrivateKey(<public>)`, `PresharedKey(..)`), config models hold key
//! *paths*, not keys, and nothing logs file contents.

use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};
use wingress_config::LogFormat;

type FilterHandle = reload::Handle<EnvFilter, Registry>;

/// Set once logging is up, when the level came from the config file (and
/// so may change on reload).
static CONFIG_LEVEL: OnceLock<FilterHandle> = OnceLock::new();

/// The environment's filter, if any: `RUST_LOG`, then `WINGRESS_LOG`.
fn env_filter() -> Option<(String, &'static str)> {
    ["RUST_LOG", "WINGRESS_LOG"].into_iter().find_map(|var| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (v, var))
    })
}

/// The format: the flag, else `WINGRESS_LOG_FORMAT`, else the config's.
pub(crate) fn format_from(flag: Option<LogFormat>, config: LogFormat) -> Result<LogFormat> {
    if let Some(f) = flag {
        return Ok(f);
    }
    match std::env::var("WINGRESS_LOG_FORMAT") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .map_err(|e: String| anyhow!("WINGRESS_LOG_FORMAT: {e}")),
        _ => Ok(config),
    }
}

/// Installs the global subscriber. `level` is the config's `[log].level`.
pub(crate) fn init(format: LogFormat, level: Option<&str>) {
    let (filter, from_config) = match env_filter() {
        Some((value, var)) => match EnvFilter::try_new(&value) {
            Ok(f) => (f, false),
            Err(e) => {
                eprintln!("wingress: {var}={value:?} is not a valid filter ({e}); using info");
                (EnvFilter::new("info"), false)
            }
        },
        None => (
            level
                .and_then(|l| EnvFilter::try_new(l).ok())
                .unwrap_or_else(|| EnvFilter::new("info")),
            true,
        ),
    };
    let (filter, handle) = reload::Layer::new(filter);
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal();
    let (text, json) = match format {
        LogFormat::Text => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(std::io::stderr),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            ),
        ),
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .try_init()
        .is_ok();
    if installed && from_config {
        let _ = CONFIG_LEVEL.set(handle);
    }
}

/// Applies a reloaded `[log].level` (`None`: back to `info`), unless the
/// level comes from the environment. Returns whether it changed anything.
pub(crate) fn set_config_level(level: Option<&str>) -> bool {
    let Some(handle) = CONFIG_LEVEL.get() else {
        return false;
    };
    let filter = level
        .and_then(|l| EnvFilter::try_new(l).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    handle.reload(filter).is_ok()
}
