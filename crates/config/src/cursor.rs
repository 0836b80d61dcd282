//! A cursor over one TOML table that reads typed values and remembers which
//! keys the schema asked for.
//!
//! The schema is the sequence of accessor calls: every `optional_*`,
//! `required_*` or table accessor marks its key as known, and [`Table::finish`]
//! reports every key nobody asked for, with a suggestion drawn from the keys
//! that were asked for. Adding a section is therefore a function that takes a
//! `Table`, calls accessors and calls `finish`; there is no separate list of
//! allowed keys to keep in sync.
//!
//! Accessors return `None` after recording an error (wrong type, bad value,
//! missing required key) so that callers can keep walking and report every
//! mistake in one pass.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use toml_edit::{Item, TableLike, Value};

use crate::error::{Diagnostics, Span, Spanned};
use crate::suggest::suggest;

/// What [`Table::optional_bool_or_str_list`] found.
pub(crate) enum BoolOrList<'a> {
    Bool(bool),
    List(Vec<Spanned<&'a str>>),
}

/// One table (`[wireguard]`, one `[[peer]]`, the top level) being read.
pub(crate) struct Table<'a> {
    /// Dotted path from the root (`wireguard`, `peer`); empty for the root.
    path: String,
    /// How messages name this table: `in [wireguard]`, `at the top level`.
    place: String,
    /// Where the table starts (its header, or its key for dotted/inline
    /// tables); missing required keys are reported here.
    span: Span,
    entries: &'a dyn TableLike,
    known: Vec<&'static str>,
}

// === impl Table ===

impl<'a> Table<'a> {
    pub(crate) fn root(table: &'a toml_edit::Table) -> Self {
        Self {
            path: String::new(),
            place: "at the top level".to_string(),
            span: 0..0,
            entries: table,
            known: Vec::new(),
        }
    }

    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// Whether `key` is written in this table (whatever its type).
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Whether `key` is written in this table as an array, for keys that
    /// take either one word or a list (`forward = "system"` or
    /// `forward = ["10.0.0.53"]`).
    pub(crate) fn is_array(&self, key: &str) -> bool {
        self.entries.get(key).is_some_and(|item| item.is_array())
    }

    /// Marks `key` as known and returns its item and the item's location.
    fn entry(&mut self, key: &'static str) -> Option<(&'a Item, Span)> {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
        let entries: &'a dyn TableLike = self.entries;
        let (k, item) = entries.get_key_value(key)?;
        let span = item
            .span()
            .or_else(|| k.span())
            .unwrap_or_else(|| self.span.clone());
        Some((item, span))
    }

    /// Marks `key` as known; reports it missing if absent. Returns whether
    /// it is present.
    fn require(&mut self, d: &mut Diagnostics<'_>, key: &'static str) -> bool {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
        let present = self.entries.contains_key(key);
        if !present {
            d.error(
                &self.span,
                format!("missing required key `{key}` {}", self.place),
            );
        }
        present
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    // --- strings ---

    pub(crate) fn optional_str(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
    ) -> Option<Spanned<&'a str>> {
        let (item, span) = self.entry(key)?;
        match item.as_str() {
            Some(s) => Some(Spanned::new(s, span)),
            None => {
                d.error(&span, type_error(key, "a string", describe(item)));
                None
            }
        }
    }

    pub(crate) fn required_str(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
    ) -> Option<Spanned<&'a str>> {
        if self.require(d, key) {
            self.optional_str(d, key)
        } else {
            None
        }
    }

    /// A string converted by `parse`; a conversion error is reported as
    /// `key: error` at the value.
    pub(crate) fn optional_with<T, E: Display>(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Spanned<T>> {
        let s = self.optional_str(d, key)?;
        convert(d, key, s, parse)
    }

    pub(crate) fn required_with<T, E: Display>(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Spanned<T>> {
        let s = self.required_str(d, key)?;
        convert(d, key, s, parse)
    }

    /// A string converted with `FromStr`.
    pub(crate) fn optional_parsed<T>(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
    ) -> Option<Spanned<T>>
    where
        T: std::str::FromStr,
        T::Err: Display,
    {
        self.optional_with(d, key, str::parse::<T>)
    }

    pub(crate) fn required_parsed<T>(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
    ) -> Option<Spanned<T>>
    where
        T: std::str::FromStr,
        T::Err: Display,
    {
        self.required_with(d, key, str::parse::<T>)
    }

    /// A file path; a relative path resolves against `base` (the config
    /// file's folder), so a config works the same from any working directory.
    pub(crate) fn optional_path(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
        base: &Path,
    ) -> Option<Spanned<PathBuf>> {
        self.optional_with(d, key, |s| {
            if s.is_empty() {
                Err("path must not be empty")
            } else {
                Ok(base.join(s))
            }
        })
    }

    pub(crate) fn required_path(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
        base: &Path,
    ) -> Option<Spanned<PathBuf>> {
        if self.require(d, key) {
            self.optional_path(d, key, base)
        } else {
            None
        }
    }

    /// Like [`Table::optional_with`], for strings with a unit or a prefix
    /// (`"5s"`, `"tunnel:443"`) where a bare integer is a likely slip: an
    /// integer is reported as `key: hint(n)` instead of as a type error.
    pub(crate) fn optional_with_hint<T, E: Display>(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
        hint: impl FnOnce(i64) -> String,
    ) -> Option<Spanned<T>> {
        let (item, span) = self.entry(key)?;
        if let Some(n) = item.as_integer() {
            d.error(&span, format!("{key}: {}", hint(n)));
            return None;
        }
        self.optional_with(d, key, parse)
    }

    pub(crate) fn required_with_hint<T, E: Display>(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
        hint: impl FnOnce(i64) -> String,
    ) -> Option<Spanned<T>> {
        if self.require(d, key) {
            self.optional_with_hint(d, key, parse, hint)
        } else {
            None
        }
    }

    // --- booleans ---

    pub(crate) fn optional_bool(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
    ) -> Option<Spanned<bool>> {
        let (item, span) = self.entry(key)?;
        match item.as_bool() {
            Some(b) => Some(Spanned::new(b, span)),
            None => {
                d.error(&span, type_error(key, "a boolean", describe(item)));
                None
            }
        }
    }

    /// A boolean or an array of strings, for keys that take `true`,
    /// `false` or a list (`port_mapping = ["upnp"]`). Anything else is
    /// reported as not being `what`.
    pub(crate) fn optional_bool_or_str_list(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
        what: &str,
    ) -> Option<Spanned<BoolOrList<'a>>> {
        let (item, span) = self.entry(key)?;
        if let Some(b) = item.as_bool() {
            return Some(Spanned::new(BoolOrList::Bool(b), span));
        }
        if item.as_array().is_none() {
            d.error(&span, type_error(key, what, describe(item)));
            return None;
        }
        self.optional_str_list(d, key)
            .map(|list| Spanned::new(BoolOrList::List(list.value), list.span))
    }

    // --- integers ---

    /// An integer that must lie in `range`.
    pub(crate) fn optional_u16(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
        range: RangeInclusive<u16>,
    ) -> Option<Spanned<u16>> {
        self.optional_int(d, key, range)
    }

    /// An integer of type `T` that must lie in `range`.
    pub(crate) fn optional_int<T>(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
        range: RangeInclusive<T>,
    ) -> Option<Spanned<T>>
    where
        T: TryFrom<i64> + PartialOrd + Display,
    {
        let (item, span) = self.entry(key)?;
        let Some(n) = item.as_integer() else {
            d.error(&span, type_error(key, "an integer", describe(item)));
            return None;
        };
        match T::try_from(n).ok().filter(|v| range.contains(v)) {
            Some(v) => Some(Spanned::new(v, span)),
            None => {
                d.error(
                    &span,
                    format!(
                        "{key}: must be between {} and {}, found {n}",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        }
    }

    pub(crate) fn required_u16(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
        range: RangeInclusive<u16>,
    ) -> Option<Spanned<u16>> {
        if self.require(d, key) {
            self.optional_u16(d, key, range)
        } else {
            None
        }
    }

    // --- arrays ---

    /// An array of strings. Elements of the wrong type are reported and
    /// skipped; `None` only when the key is absent or not an array.
    pub(crate) fn optional_str_array(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
    ) -> Option<Vec<Spanned<&'a str>>> {
        self.optional_str_list(d, key).map(|list| list.value)
    }

    /// [`Table::optional_str_array`] together with the array's own location,
    /// for checks on the list as a whole (empty, wrong length).
    pub(crate) fn optional_str_list(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
    ) -> Option<Spanned<Vec<Spanned<&'a str>>>> {
        self.optional_array(d, key, "a string", |v| v.as_str())
    }

    /// An array whose elements `get` converts, with the array's own
    /// location. Elements `get` refuses are reported as not being `what`
    /// and skipped; `None` only when the key is absent or not an array.
    fn optional_array<T>(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
        what: &str,
        get: impl Fn(&'a Value) -> Option<T>,
    ) -> Option<Spanned<Vec<Spanned<T>>>> {
        let (item, span) = self.entry(key)?;
        let Some(array) = item.as_array() else {
            d.error(&span, type_error(key, "an array", describe(item)));
            return None;
        };
        let mut out = Vec::with_capacity(array.len());
        for value in array.iter() {
            let value_span = value.span().unwrap_or_else(|| span.clone());
            match get(value) {
                Some(v) => out.push(Spanned::new(v, value_span)),
                None => d.error(&value_span, type_error(key, what, describe_value(value))),
            }
        }
        Some(Spanned::new(out, span))
    }

    pub(crate) fn required_str_array(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
    ) -> Option<Vec<Spanned<&'a str>>> {
        if self.require(d, key) {
            self.optional_str_array(d, key)
        } else {
            None
        }
    }

    pub(crate) fn required_str_list(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
    ) -> Option<Spanned<Vec<Spanned<&'a str>>>> {
        if self.require(d, key) {
            self.optional_str_list(d, key)
        } else {
            None
        }
    }

    /// An array of integers, with the array's own location. Elements of the
    /// wrong type are reported and skipped; `None` only when the key is
    /// absent or not an array.
    pub(crate) fn optional_int_array(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
    ) -> Option<Spanned<Vec<Spanned<i64>>>> {
        self.optional_array(d, key, "an integer", |v| v.as_integer())
    }

    /// A table of string values under names the user chooses
    /// (`client_cas = { home = "home-ca.pem" }`): each `(name, value)`
    /// with the value's location, in the order written. Values that are not
    /// strings are reported and skipped; `None` only when the key is absent
    /// or not a table.
    pub(crate) fn optional_str_map(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
    ) -> Option<Vec<(Spanned<&'a str>, Spanned<&'a str>)>> {
        let (item, span) = self.entry(key)?;
        let Some(entries) = item.as_table_like() else {
            d.error(&span, type_error(key, "a table", describe(item)));
            return None;
        };
        let mut out = Vec::new();
        for (name, value) in entries.iter() {
            let name_span = entries
                .key(name)
                .and_then(|k| k.span())
                .unwrap_or_else(|| span.clone());
            let value_span = value.span().unwrap_or_else(|| name_span.clone());
            match value.as_str() {
                Some(v) => out.push((Spanned::new(name, name_span), Spanned::new(v, value_span))),
                None => d.error(
                    &value_span,
                    type_error(&format!("{key}.{name}"), "a string", describe(value)),
                ),
            }
        }
        Some(out)
    }

    // --- tables ---

    /// A sub-table: `[key]`, a dotted `key.x = …`, or an inline `key = {…}`.
    pub(crate) fn optional_table(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
    ) -> Option<Table<'a>> {
        let (item, span) = self.entry(key)?;
        let path = self.child_path(key);
        match item.as_table_like() {
            Some(entries) => Some(Table {
                place: format!("in [{path}]"),
                path,
                span,
                entries,
                known: Vec::new(),
            }),
            None => {
                let hint = if item.is_array_of_tables() {
                    format!(" (write [{path}], not [[{path}]])")
                } else {
                    String::new()
                };
                d.error(
                    &span,
                    format!("{}{hint}", type_error(key, "a table", describe(item))),
                );
                None
            }
        }
    }

    pub(crate) fn required_table(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
    ) -> Option<Table<'a>> {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
        if !self.entries.contains_key(key) {
            let path = self.child_path(key);
            d.error(&self.span, format!("missing required table [{path}]"));
            return None;
        }
        self.optional_table(d, key)
    }

    /// Each table of `[[key]]`, or of an inline `key = [{…}, {…}]`. Absent
    /// means none.
    pub(crate) fn array_of_tables(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &'static str,
    ) -> Vec<Table<'a>> {
        let Some((item, span)) = self.entry(key) else {
            return Vec::new();
        };
        let path = self.child_path(key);
        let element = |entries: &'a dyn TableLike, span: Span| Table {
            place: format!("in [[{path}]]"),
            path: path.clone(),
            span,
            entries,
            known: Vec::new(),
        };
        match item {
            Item::ArrayOfTables(tables) => tables
                .iter()
                .map(|t| element(t, t.span().unwrap_or_else(|| span.clone())))
                .collect(),
            Item::Value(Value::Array(values)) => {
                let mut out = Vec::with_capacity(values.len());
                for value in values.iter() {
                    let value_span = value.span().unwrap_or_else(|| span.clone());
                    match value.as_inline_table() {
                        Some(t) => out.push(element(t, value_span)),
                        None => d.error(
                            &value_span,
                            type_error(key, "a table", describe_value(value)),
                        ),
                    }
                }
                out
            }
            other => {
                let hint = if other.is_table() {
                    format!(" (write [[{path}]], not [{path}])")
                } else {
                    String::new()
                };
                d.error(
                    &span,
                    format!(
                        "{}{hint}",
                        type_error(key, "an array of tables", describe(other))
                    ),
                );
                Vec::new()
            }
        }
    }

    /// Reports every key that no accessor asked for.
    pub(crate) fn finish(self, d: &mut Diagnostics<'_>) {
        for (key, item) in self.entries.iter() {
            if self.known.contains(&key) {
                continue;
            }
            let span = self
                .entries
                .key(key)
                .and_then(|k| k.span())
                .or_else(|| item.span())
                .unwrap_or_else(|| self.span.clone());
            let mut message = format!("unknown key `{key}` {}", self.place);
            if let Some(hint) = suggest(key, &self.known) {
                message.push_str(&format!("; did you mean `{hint}`?"));
            }
            d.error(&span, message);
        }
    }
}

fn convert<T, E: Display>(
    d: &mut Diagnostics<'_>,
    key: &str,
    s: Spanned<&str>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<Spanned<T>> {
    match parse(s.value) {
        Ok(value) => Some(Spanned::new(value, s.span)),
        Err(e) => {
            d.error(&s.span, format!("{key}: {e}"));
            None
        }
    }
}

fn type_error(key: &str, expected: &str, found: &str) -> String {
    format!("{key}: expected {expected}, found {found}")
}

fn describe(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(v) => describe_value(v),
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
    }
}

fn describe_value(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

#[cfg(test)]
#[path = "cursor_tests.rs"]
mod tests;
