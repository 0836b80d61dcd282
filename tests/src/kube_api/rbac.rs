//! A ClusterRole's rules and the RBAC decision on one request, as the real
//! authorizer makes it for resource requests: a request is allowed when
//! some rule lists its API group, its resource (`ingresses`, or
//! `ingresses/status` for a subresource; `*` and `*/status` match too),
//! its verb (or `*`), and, when the rule names resources, the object's
//! name. Non-resource URLs and aggregation are not modelled.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::resource::Target;

/// One rule of a ClusterRole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRule {
    /// `apiGroups` (`""` is the core group).
    pub api_groups: Vec<String>,
    /// `resources`, subresources as `ingresses/status`.
    pub resources: Vec<String>,
    /// `verbs`.
    pub verbs: Vec<String>,
    /// `resourceNames`; empty means any name.
    pub resource_names: Vec<String>,
}

/// What the authorizer decides on: the attributes of one resource request.
#[derive(Clone, Copy, Debug)]
struct Request<'a> {
    /// `get`, `list`, `watch`, `patch`, ...
    verb: &'a str,
    /// The API group (`""` is the core group).
    group: &'a str,
    /// The resource, plural (`ingresses`).
    resource: &'a str,
    /// The subresource (`status`), if any.
    subresource: Option<&'a str>,
    /// The object's name, when the request names one.
    name: Option<&'a str>,
}

/// A ClusterRole: its name and rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterRole {
    /// `metadata.name`.
    pub name: String,
    /// `rules`.
    pub rules: Vec<PolicyRule>,
}

// === impl ClusterRole ===

impl ClusterRole {
    /// The first ClusterRole among the YAML documents of `yaml`.
    pub fn from_yaml(yaml: &str) -> Result<ClusterRole> {
        let docs: Vec<Value> = serde_saphyr::from_multiple(yaml).context("parse the YAML")?;
        let doc = docs
            .iter()
            .find(|d| d["kind"] == "ClusterRole")
            .context("no ClusterRole among the documents")?;
        ClusterRole::from_value(doc)
    }

    /// The ClusterRole among the `*.yaml` files of `dir` (the packaging's
    /// folder); an error unless exactly one file holds one.
    pub fn from_dir(dir: &Path) -> Result<ClusterRole> {
        let mut found = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("read {}", dir.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        files.sort();
        for path in files
            .iter()
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        {
            let text = std::fs::read_to_string(path)?;
            if text.lines().any(|l| l.trim() == "kind: ClusterRole") {
                found.push(
                    ClusterRole::from_yaml(&text)
                        .with_context(|| format!("the ClusterRole in {}", path.display()))?,
                );
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            n => bail!("{n} ClusterRoles under {}", dir.display()),
        }
    }

    /// A ClusterRole from its JSON (or YAML-as-JSON) value.
    pub fn from_value(doc: &Value) -> Result<ClusterRole> {
        fn strings(v: &Value, key: &str) -> Result<Vec<String>> {
            match &v[key] {
                Value::Null => Ok(Vec::new()),
                Value::Array(items) => items
                    .iter()
                    .map(|s| {
                        s.as_str()
                            .map(str::to_owned)
                            .with_context(|| format!("{key}: {s} is not a string"))
                    })
                    .collect(),
                other => bail!("{key}: {other} is not a list"),
            }
        }
        let name = doc["metadata"]["name"]
            .as_str()
            .context("metadata.name")?
            .to_owned();
        let rules = doc["rules"]
            .as_array()
            .context("rules")?
            .iter()
            .map(|r| {
                Ok(PolicyRule {
                    api_groups: strings(r, "apiGroups")?,
                    resources: strings(r, "resources")?,
                    verbs: strings(r, "verbs")?,
                    resource_names: strings(r, "resourceNames")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(ClusterRole { name, rules })
    }

    /// Whether some rule allows `verb` on `group`'s `resource` (with
    /// `subresource`) named `name`.
    pub fn allows(
        &self,
        verb: &str,
        group: &str,
        resource: &str,
        subresource: Option<&str>,
        name: Option<&str>,
    ) -> bool {
        let request = Request {
            verb,
            group,
            resource,
            subresource,
            name,
        };
        self.rules.iter().any(|r| r.allows(&request))
    }

    /// Whether the role allows the request `target` describes.
    pub fn allows_target(&self, target: &Target) -> bool {
        let api = target.api();
        self.allows(
            target.verb,
            api.group,
            api.plural,
            target.subresource.as_deref(),
            target.name.as_deref(),
        )
    }
}

// === impl PolicyRule ===

impl PolicyRule {
    /// The rule's part of [`ClusterRole::allows`].
    fn allows(&self, request: &Request<'_>) -> bool {
        let Request {
            verb,
            group,
            resource,
            subresource,
            name,
        } = *request;
        let verb_ok = self.verbs.iter().any(|v| v == "*" || v == verb);
        let group_ok = self.api_groups.iter().any(|g| g == "*" || g == group);
        let resource_ok = self.resources.iter().any(|r| match subresource {
            None => r == "*" || r == resource,
            Some(sub) => {
                r == "*"
                    || *r == format!("{resource}/{sub}")
                    || *r == format!("*/{sub}")
                    || *r == format!("{resource}/*")
            }
        });
        let name_ok = self.resource_names.is_empty()
            || name.is_some_and(|n| self.resource_names.iter().any(|r| r == n));
        verb_ok && group_ok && resource_ok && name_ok
    }
}

#[cfg(test)]
#[path = "rbac_tests.rs"]
mod tests;
