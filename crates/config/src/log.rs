//! `[log]`: how the daemon logs.
//!
//! ```toml
//! [log]
//! format = "json"                        # "text" (default) or "json"
//! level = "info,wingress::access=warn"   # used when RUST_LOG and WINGRESS_LOG are unset
//! ```
//!
//! The environment wins over the file: `RUST_LOG` (then `WINGRESS_LOG`)
//! sets the level filter, `WINGRESS_LOG_FORMAT` the format, and
//! `wingress run --log-format` wins over both.

use std::str::FromStr;

use crate::cursor::Table;
use crate::error::Diagnostics;

/// `[log]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A level filter in `RUST_LOG` syntax (`info`, `warn,wingress=debug`);
    /// `None`: `info`.
    pub level: Option<String>,
}

/// `format` of `[log]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// Human-readable lines (tracing's default formatter).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "`{other}` is not a log format (expected \"text\" or \"json\")"
            )),
        }
    }
}

pub(crate) fn parse_log(root: &mut Table<'_>, d: &mut Diagnostics<'_>) -> LogConfig {
    let Some(mut log) = root.optional_table(d, "log") else {
        return LogConfig::default();
    };
    let format = log.optional_parsed::<LogFormat>(d, "format");
    let level = log.optional_with(d, "level", check_level);
    log.finish(d);
    LogConfig {
        format: format.map(|s| s.value).unwrap_or_default(),
        level: level.map(|s| s.value),
    }
}

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Accepts the common `RUST_LOG` forms: `LEVEL` and `TARGET=LEVEL`,
/// comma-separated (targets are module paths such as `wingress::access`).
/// Span and field filters (`[span{f=1}]`) are not accepted here; they
/// still work through `RUST_LOG`.
pub fn check_level(s: &str) -> Result<String, String> {
    let directives: Vec<&str> = s.split(',').map(str::trim).collect();
    if directives.iter().all(|d| d.is_empty()) {
        return Err("the level is empty (write e.g. \"info\" or \"warn,wingress=debug\")".into());
    }
    for directive in directives.iter().filter(|d| !d.is_empty()) {
        let (target, level) = match directive.split_once('=') {
            Some((target, level)) => (Some(target), level),
            None if LEVELS.contains(&directive.to_ascii_lowercase().as_str()) => (None, *directive),
            // A bare target means "everything from it".
            None => (Some(*directive), "trace"),
        };
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "`{directive}`: `{level}` is not a level (use trace, debug, info, warn, error or off)"
            ));
        }
        if let Some(target) = target {
            let valid = !target.is_empty()
                && target
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b'.'));
            if !valid {
                return Err(format!(
                    "`{directive}`: `{target}` is not a module path (e.g. `wingress::access`)"
                ));
            }
        }
    }
    Ok(s.to_string())
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
