//! The `wingress.dev/` annotations of an Ingress, read into the options its
//! routes share, with the value parsers and rules of `[[route]]`.
//!
//! | annotation | value | file key |
//! |---|---|---|
//! | `wingress.dev/access` | `tunnel`, `mtls`, `forward-auth`, `public` | `access` |
//! | `wingress.dev/allow` | `peer:NAME, tag:NAME, ...` | `allow` |
//! | `wingress.dev/client-ca` | a name from `[kubernetes] client_cas` | `client_ca` |
//! | `wingress.dev/forward-auth` | `http://auth:9091/api/verify` | `forward_auth` |
//! | `wingress.dev/entrypoints` | `NAME, ...` (https entrypoints) | `entrypoints` |
//! | `wingress.dev/timeout` | duration (`30s`) | `timeout` |
//! | `wingress.dev/health-check` | `/healthz` or `/healthz, interval=10s, timeout=1s` | `health_check` |
//! | `wingress.dev/backend-protocol` | `http`, `https`, `h2c` | the scheme of `backends` |
//! | `wingress.dev/transport` | a `[[transport]]` name from the file | `transport` |
//! | `wingress.dev/grpc-deadline` | `true`, `false` | `grpc_deadline` |
//!
//! Lists are comma-separated, spaces around entries ignored. Any other key
//! under `wingress.dev/` is an error: a misspelt `allow` would otherwise
//! open the routes to every tunnel peer.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use wingress_config::{
    access_problems, check_health_interval, check_route_entrypoint, parse_allow_rule,
    parse_duration, parse_request_path, Access, AccessKeys, AllowRule, BackendScheme,
    ForwardAuthUrl, HealthCheck, RouteKey,
};

use crate::policy::Policy;

/// The prefix of wingress's annotations.
pub const ANNOTATION_PREFIX: &str = "wingress.dev/";

/// The keys after [`ANNOTATION_PREFIX`] that wingress reads.
const KNOWN: [&str; 10] = [
    "access",
    "allow",
    "client-ca",
    "forward-auth",
    "entrypoints",
    "timeout",
    "health-check",
    "backend-protocol",
    "transport",
    "grpc-deadline",
];

/// What the annotations set for every route of an Ingress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RouteOptions {
    pub(crate) access: Access,
    pub(crate) allow: Vec<AllowRule>,
    pub(crate) client_ca: Option<PathBuf>,
    pub(crate) forward_auth: Option<ForwardAuthUrl>,
    pub(crate) entrypoints: Vec<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) health_check: Option<HealthCheck>,
    /// How the Service's endpoints are spoken to: `http` unless set.
    pub(crate) backend_scheme: BackendScheme,
    /// A `[[transport]]` of the file, by name.
    pub(crate) transport: Option<String>,
    pub(crate) grpc_deadline: bool,
}

/// The options, or every mistake found (each a whole message naming its
/// annotation).
pub(crate) fn parse_annotations(
    annotations: Option<&BTreeMap<String, String>>,
    policy: &Policy,
) -> Result<RouteOptions, Vec<String>> {
    let mut errors = Vec::new();
    let mut opts = RouteOptions::default();
    let Some(annotations) = annotations else {
        return Ok(opts);
    };
    let mut keys = AccessKeys::default();
    for (key, value) in annotations {
        let Some(name) = key.strip_prefix(ANNOTATION_PREFIX) else {
            continue;
        };
        let value = value.trim();
        let parsed = match name {
            "access" => value.parse::<Access>().map(|a| {
                keys.access = Some(a);
                opts.access = a;
            }),
            "allow" => {
                keys.allow = true;
                list(value).and_then(|entries| {
                    entries
                        .into_iter()
                        .map(|e| parse_allow_rule(e, &policy.peer_names))
                        .collect::<Result<Vec<_>, _>>()
                        .map(|rules| opts.allow = rules)
                })
            }
            "client-ca" => {
                keys.client_ca = true;
                match policy.kubernetes.client_ca(value) {
                    Some(path) => {
                        opts.client_ca = Some(path.clone());
                        Ok(())
                    }
                    None => Err(unknown_ca(value, policy)),
                }
            }
            "forward-auth" => {
                keys.forward_auth = true;
                value
                    .parse::<ForwardAuthUrl>()
                    .map(|url| opts.forward_auth = Some(url))
            }
            "entrypoints" => list(value).and_then(|entries| {
                entries
                    .into_iter()
                    .map(|e| {
                        check_route_entrypoint(e, &policy.entrypoints, policy.entrypoints_written)
                            .map(|()| e.to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(|names| opts.entrypoints = names)
            }),
            "timeout" => parse_duration(value).map(|t| opts.timeout = Some(t)),
            "health-check" => {
                parse_health_check(value).map(|check| opts.health_check = Some(check))
            }
            "backend-protocol" => {
                parse_backend_protocol(value).map(|scheme| opts.backend_scheme = scheme)
            }
            "transport" => {
                if policy.transports.iter().any(|t| t == value) {
                    opts.transport = Some(value.to_string());
                    Ok(())
                } else {
                    Err(format!(
                        "no [[transport]] named `{value}` in the config (it has: {})",
                        names_or_none(&policy.transports)
                    ))
                }
            }
            "grpc-deadline" => parse_bool(value).map(|on| opts.grpc_deadline = on),
            _ => Err(format!(
                "unknown annotation (wingress reads {})",
                KNOWN
                    .iter()
                    .map(|k| format!("{ANNOTATION_PREFIX}{k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        if let Err(e) = parsed {
            errors.push(format!("{key}: {e}"));
        }
    }
    // A bad `access` is reported alone, as in the file.
    let access_parsed = !annotations.contains_key("wingress.dev/access") || keys.access.is_some();
    if access_parsed {
        errors.extend(
            access_problems(&keys, annotation_key)
                .into_iter()
                .map(|(_, message)| message),
        );
    }
    let uses_tls =
        opts.backend_scheme.is_tls() || opts.forward_auth.as_ref().is_some_and(|f| f.scheme_https);
    if opts.transport.is_some() && !uses_tls {
        errors.push(
            "wingress.dev/transport: needs wingress.dev/backend-protocol: https or an https:// \
             wingress.dev/forward-auth to use it"
                .to_string(),
        );
    }
    if errors.is_empty() {
        Ok(opts)
    } else {
        Err(errors)
    }
}

/// `http`, `https` or `h2c`.
fn parse_backend_protocol(value: &str) -> Result<BackendScheme, String> {
    match value {
        "http" => Ok(BackendScheme::Http),
        "https" => Ok(BackendScheme::Https),
        "h2c" => Ok(BackendScheme::H2c),
        other => Err(format!(
            "`{other}` is not a backend protocol (expected http, https or h2c)"
        )),
    }
}

/// `true` or `false`.
fn parse_bool(value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("`{other}` is not true or false")),
    }
}

/// `a, b` or `none`.
fn names_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// How an Ingress names a route's keys.
fn annotation_key(key: RouteKey) -> &'static str {
    match key {
        RouteKey::Access => "wingress.dev/access",
        RouteKey::ClientCa => "wingress.dev/client-ca",
        RouteKey::ForwardAuth => "wingress.dev/forward-auth",
        // No annotation sets the headers, so this one is never written.
        RouteKey::ForwardAuthHeaders => "wingress.dev/forward-auth-headers",
        RouteKey::Allow => "wingress.dev/allow",
    }
}

/// A comma-separated list, entries trimmed; empty entries refused.
fn list(value: &str) -> Result<Vec<&str>, String> {
    if value.is_empty() {
        return Err("the list is empty; remove the annotation instead".to_string());
    }
    value
        .split(',')
        .map(str::trim)
        .map(|e| {
            if e.is_empty() {
                Err(format!("`{value}` has an empty entry"))
            } else {
                Ok(e)
            }
        })
        .collect()
}

/// `/healthz`, optionally followed by `, interval=DURATION` and
/// `, timeout=DURATION`.
fn parse_health_check(value: &str) -> Result<HealthCheck, String> {
    let mut parts = value.split(',').map(str::trim);
    let path = parse_request_path(parts.next().unwrap_or_default())?;
    let (mut interval, mut timeout) = (None, None);
    for part in parts {
        match part.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
            Some(("interval", v)) => {
                let i = parse_duration(v)?;
                check_health_interval(i).map_err(|e| format!("interval: {e}"))?;
                interval = Some(i);
            }
            Some(("timeout", v)) => timeout = Some(parse_duration(v)?),
            _ => {
                return Err(format!(
                    "`{part}`: expected `interval=DURATION` or `timeout=DURATION` after the path"
                ))
            }
        }
    }
    Ok(HealthCheck::with_defaults(path, interval, timeout))
}

fn unknown_ca(name: &str, policy: &Policy) -> String {
    let known: Vec<&str> = policy
        .kubernetes
        .client_cas
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    if known.is_empty() {
        format!("no client CA is named `{name}` ([kubernetes] client_cas is empty)")
    } else {
        format!(
            "no client CA is named `{name}` in [kubernetes] client_cas (known: {})",
            known.join(", ")
        )
    }
}
