//! Field and label selectors of list and watch requests.
//!
//! Field selectors: `metadata.name`, `metadata.namespace` for every kind
//! and `type` for Secrets, with `=`, `==` and `!=`, comma-separated (the
//! fields the real server indexes for these kinds; others get the real
//! server's 400). Label selectors: equality (`k=v`, `k==v`, `k!=v`) and
//! existence (`k`, `!k`); set-based `in`/`notin` are refused with 400.

use serde_json::Value;

/// One requirement on a field or label.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
}

/// The selectors of one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Selectors {
    fields: Vec<Requirement>,
    labels: Vec<Requirement>,
}

// === impl Selectors ===

impl Selectors {
    /// Parses `fieldSelector` and `labelSelector` for objects of `kind`;
    /// the error is the real server's message for a 400.
    pub(super) fn parse(
        kind: &str,
        fields: Option<&str>,
        labels: Option<&str>,
    ) -> Result<Selectors, String> {
        let mut s = Selectors::default();
        for term in fields
            .unwrap_or_default()
            .split(',')
            .filter(|t| !t.is_empty())
        {
            let req = parse_term(term).ok_or_else(|| format!("invalid field selector: {term}"))?;
            let field = match &req {
                Requirement::Equals(f, _) | Requirement::NotEquals(f, _) => f.as_str(),
                _ => {
                    return Err(format!(
                        "invalid selector: '{term}'; can't understand '{term}'"
                    ))
                }
            };
            let known = matches!(field, "metadata.name" | "metadata.namespace")
                || (kind == "Secret" && field == "type");
            if !known {
                return Err(format!("field label not supported: {field}"));
            }
            s.fields.push(req);
        }
        for term in labels
            .unwrap_or_default()
            .split(',')
            .filter(|t| !t.is_empty())
        {
            if term.contains(" in ") || term.contains(" notin ") || term.contains('(') {
                return Err(format!(
                    "the fake API server does not parse set-based label selectors: {term}"
                ));
            }
            s.labels
                .push(parse_term(term).ok_or_else(|| format!("invalid label selector: {term}"))?);
        }
        Ok(s)
    }

    /// Whether `object` (stored form) matches every requirement.
    pub(super) fn matches(&self, object: &Value) -> bool {
        let field = |name: &str| -> Option<String> {
            let v = match name {
                "metadata.name" => &object["metadata"]["name"],
                "metadata.namespace" => &object["metadata"]["namespace"],
                "type" => &object["type"],
                _ => return None,
            };
            v.as_str().map(str::to_owned)
        };
        let label = |name: &str| -> Option<String> {
            object["metadata"]["labels"][name]
                .as_str()
                .map(str::to_owned)
        };
        self.fields.iter().all(|r| r.holds(&field)) && self.labels.iter().all(|r| r.holds(&label))
    }
}

// === impl Requirement ===

impl Requirement {
    fn holds(&self, value: &dyn Fn(&str) -> Option<String>) -> bool {
        match self {
            Requirement::Equals(k, v) => value(k).as_deref() == Some(v),
            Requirement::NotEquals(k, v) => value(k).as_deref() != Some(v),
            Requirement::Exists(k) => value(k).is_some(),
            Requirement::Absent(k) => value(k).is_none(),
        }
    }
}

fn parse_term(term: &str) -> Option<Requirement> {
    let term = term.trim();
    if let Some((k, v)) = term.split_once("!=") {
        return Some(Requirement::NotEquals(k.trim().into(), v.trim().into()));
    }
    if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Some(Requirement::Equals(k.trim().into(), v.trim().into()));
    }
    if let Some(k) = term.strip_prefix('!') {
        return (!k.is_empty()).then(|| Requirement::Absent(k.trim().into()));
    }
    (!term.is_empty()).then(|| Requirement::Exists(term.into()))
}

#[cfg(test)]
#[path = "selector_tests.rs"]
mod tests;
