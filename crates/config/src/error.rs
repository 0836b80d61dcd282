//! Config errors and the collector that gathers them while the walker runs.
//!
//! Parsing never stops at the first problem: every section is walked, every
//! mistake is recorded with its byte span, and spans become `line:col` only
//! when an error is recorded, so the happy path does no position arithmetic.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// A byte range in the config text.
pub(crate) type Span = Range<usize>;

/// One problem in a config file.
///
/// `line` and `col` are 1-based; `col` counts characters, not bytes. A
/// problem that comes from the environment rather than from a place in the
/// file (a bad `WINGRESS_NODE_IP`) has `line == 0` and `col == 0`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_one(.path, *.line, *.col, .message))]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Every problem found in one config file.
///
/// Displays one `FILE:LINE:COL: error: message` per line, sorted by position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_all(.0))]
pub struct ConfigErrors(pub Vec<ConfigError>);

#[cfg(test)]
impl ConfigErrors {
    /// Each error as `line:col: message`, in order: what tests compare.
    pub(crate) fn located(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|e| format!("{}:{}: {}", e.line, e.col, e.message))
            .collect()
    }
}

// === impl ConfigError ===

fn render_one(path: &Path, line: usize, col: usize, message: &str) -> String {
    if line == 0 {
        format!("{}: error: {message}", path.display())
    } else {
        format!("{}:{line}:{col}: error: {message}", path.display())
    }
}

// === impl ConfigErrors ===

impl ConfigErrors {
    /// The errors in file order (a stable sort: errors at one position keep
    /// the order they were found in).
    pub fn sorted(&self) -> Vec<&ConfigError> {
        sorted(&self.0)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn sorted(errors: &[ConfigError]) -> Vec<&ConfigError> {
    let mut errors: Vec<&ConfigError> = errors.iter().collect();
    errors.sort_by_key(|e| (e.line, e.col));
    errors
}

fn render_all(errors: &[ConfigError]) -> String {
    sorted(errors)
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A value together with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

impl<T> Spanned<T> {
    pub(crate) fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

/// Collects errors for one config file.
pub(crate) struct Diagnostics<'s> {
    path: PathBuf,
    text: &'s str,
    errors: Vec<ConfigError>,
}

// === impl Diagnostics ===

impl<'s> Diagnostics<'s> {
    pub(crate) fn new(path: &Path, text: &'s str) -> Self {
        Self {
            path: path.to_path_buf(),
            text,
            errors: Vec::new(),
        }
    }

    /// Records an error at the start of `span`.
    pub(crate) fn error(&mut self, span: &Span, message: impl Into<String>) {
        let (line, col) = self.position(span.start);
        self.push(line, col, message.into());
    }

    /// Records an error at a 1-based `(line, col)` kept from parsing (a
    /// route's [`crate::RouteConfig::location`]).
    pub(crate) fn error_at(&mut self, (line, col): (usize, usize), message: impl Into<String>) {
        self.push(line, col, message.into());
    }

    /// Records an error that has no place in the file (it comes from the
    /// environment).
    pub(crate) fn error_unlocated(&mut self, message: impl Into<String>) {
        self.push(0, 0, message.into());
    }

    /// Records a TOML syntax error.
    pub(crate) fn syntax(&mut self, err: &toml_edit::TomlError) {
        let span = err.span().unwrap_or(0..0);
        self.error(&span, format!("invalid TOML: {}", err.message()));
    }

    /// The 1-based line of a byte offset, for messages that point at an
    /// earlier definition ("already used on line 12").
    pub(crate) fn line_of(&self, span: &Span) -> usize {
        self.position(span.start).0
    }

    /// The 1-based `(line, col)` of a span's start, for values that keep
    /// their place for messages produced after parsing.
    pub(crate) fn location(&self, span: &Span) -> (usize, usize) {
        self.position(span.start)
    }

    /// `Ok(value)` when nothing went wrong, every recorded error otherwise.
    ///
    /// Section parsers return `None` only after recording why, so a `None`
    /// with no errors means a walker bug; it is still reported, not panicked
    /// on.
    pub(crate) fn finish<T>(mut self, value: Option<T>) -> Result<T, ConfigErrors> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            value => {
                if value.is_none() && self.errors.is_empty() {
                    self.error(&(0..0), "incomplete configuration (internal error)");
                }
                let mut errors = self.errors;
                errors.sort_by_key(|e| (e.line, e.col));
                Err(ConfigErrors(errors))
            }
        }
    }

    fn push(&mut self, line: usize, col: usize, message: String) {
        self.errors.push(ConfigError {
            path: self.path.clone(),
            line,
            col,
            message,
        });
    }

    fn position(&self, offset: usize) -> (usize, usize) {
        position(self.text, offset)
    }
}

/// The 1-based (line, column) of a byte offset; the column counts chars.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    // Spans from the parser fall on char boundaries; this only guards against
    // slicing inside a multi-byte char if one ever does not.
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
