//! The rules a route's values obey, whatever wrote them: `[[route]]` in the
//! file (`route.rs`) and Ingresses in Kubernetes (`wingress-kube`) both call
//! these, so each rule lives in one place and both sources refuse the same
//! values with the same words.
//!
//! Every function takes plain values and returns `Err(message)`; the caller
//! says where (a `file:line:col`, or an Ingress and its annotation) and puts
//! the key's name in front.

use std::time::Duration;

use crate::entrypoint::EntrypointProtocol;
use crate::route::{Access, AllowRule, HealthCheck};
use crate::suggest::suggest;
use crate::wireguard::is_tag;

/// `interval` of a health check unless set.
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(5);
/// `timeout` of a health check unless set.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// The shortest health-check interval: shorter ones probe a backend harder
/// than they tell anything.
pub const MIN_HEALTH_INTERVAL: Duration = Duration::from_millis(100);
/// A route's `timeout` unless set.
pub const DEFAULT_ROUTE_TIMEOUT: Duration = Duration::from_secs(60);
/// A route's `connect_timeout` unless set.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A key of a route that the access rules tie together; each source names
/// it its own way (`client_ca` in the file, `wingress.dev/client-ca` on an
/// Ingress).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteKey {
    Access,
    ClientCa,
    ForwardAuth,
    ForwardAuthHeaders,
    Allow,
}

/// Which of the keys tied to the access mode a route wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccessKeys {
    /// `None`: `access` not written (the route is `tunnel`).
    pub access: Option<Access>,
    pub client_ca: bool,
    pub forward_auth: bool,
    pub forward_auth_headers: bool,
    pub allow: bool,
}

/// The broken access rules of a route, each as the key to blame and the
/// whole message (starting with that key's name as `name` spells it):
/// `mtls` needs a client CA and `forward-auth` an auth URL; those keys (and
/// the auth headers) mean nothing with another mode; `allow` means nothing
/// on a public route.
pub fn access_problems(
    keys: &AccessKeys,
    name: impl Fn(RouteKey) -> &'static str,
) -> Vec<(RouteKey, String)> {
    let mode = keys.access.unwrap_or_default();
    let access = name(RouteKey::Access);
    let mut out = Vec::new();
    if keys.access == Some(Access::Mtls) && !keys.client_ca {
        out.push((
            RouteKey::Access,
            format!(
                "{access}: \"mtls\" needs `{}`, the CA that signs client certificates",
                name(RouteKey::ClientCa)
            ),
        ));
    }
    if keys.access == Some(Access::ForwardAuth) && !keys.forward_auth {
        out.push((
            RouteKey::Access,
            format!(
                "{access}: \"forward-auth\" needs `{}`, the URL of the auth service",
                name(RouteKey::ForwardAuth)
            ),
        ));
    }
    let only_with = [
        (keys.client_ca, RouteKey::ClientCa, Access::Mtls, "mtls"),
        (
            keys.forward_auth,
            RouteKey::ForwardAuth,
            Access::ForwardAuth,
            "forward-auth",
        ),
        (
            keys.forward_auth_headers,
            RouteKey::ForwardAuthHeaders,
            Access::ForwardAuth,
            "forward-auth",
        ),
    ];
    for (written, key, wanted, mode_name) in only_with {
        if written && mode != wanted {
            out.push((
                key,
                format!("{}: only used with {access} = \"{mode_name}\"", name(key)),
            ));
        }
    }
    if keys.allow && mode == Access::Public {
        out.push((
            RouteKey::Allow,
            format!(
                "{}: a public route admits everyone; remove `{0}` or choose another access",
                name(RouteKey::Allow)
            ),
        ));
    }
    out
}

/// One `allow` entry: `peer:NAME` for a configured peer, `tag:NAME` for a
/// valid tag. A tag no peer carries is accepted: peers and their tags
/// change more often than routes.
pub fn parse_allow_rule(s: &str, peers: &[String]) -> Result<AllowRule, String> {
    if let Some(name) = s.strip_prefix("peer:") {
        if peers.iter().any(|p| p == name) {
            Ok(AllowRule::Peer(name.to_string()))
        } else {
            let names: Vec<&str> = peers.iter().map(String::as_str).collect();
            let hint = suggest(name, &names)
                .map(|n| format!("; did you mean `peer:{n}`?"))
                .unwrap_or_default();
            Err(format!("no [[peer]] is named `{name}`{hint}"))
        }
    } else if let Some(tag) = s.strip_prefix("tag:") {
        if is_tag(tag) {
            Ok(AllowRule::Tag(tag.to_string()))
        } else {
            Err(format!(
                "`{tag}` is not a valid tag (1 to 63 of a-z, 0-9 and `-`)"
            ))
        }
    } else {
        Err(format!(
            "`{s}` is not an allow rule (expected \"peer:NAME\" or \"tag:NAME\")"
        ))
    }
}

/// One entry of a route's `entrypoints`: the name of an https entrypoint
/// among `declared` (`written`: whether the config has `[[entrypoint]]`s,
/// else `declared` are the defaults).
pub fn check_route_entrypoint(
    name: &str,
    declared: &[(String, Option<EntrypointProtocol>)],
    written: bool,
) -> Result<(), String> {
    match declared.iter().find(|(n, _)| n == name) {
        Some((_, Some(EntrypointProtocol::Http))) => Err(format!(
            "`{name}` is an http entrypoint, which only redirects to https; routes are served \
             on https entrypoints"
        )),
        Some(_) => Ok(()),
        None => {
            let known: Vec<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
            let hint = match suggest(name, &known) {
                Some(n) => format!("; did you mean `{n}`?"),
                None if !written => {
                    " (with no [[entrypoint]] written, the https entrypoint is `tunnel-https`)"
                        .to_string()
                }
                None => String::new(),
            };
            Err(format!("no entrypoint is named `{name}`{hint}"))
        }
    }
}

/// A health-check interval: at least [`MIN_HEALTH_INTERVAL`].
pub fn check_health_interval(interval: Duration) -> Result<(), String> {
    if interval < MIN_HEALTH_INTERVAL {
        Err("must be at least 100ms".to_string())
    } else {
        Ok(())
    }
}

// === impl HealthCheck ===

impl HealthCheck {
    /// A check of `path` (already a valid request path), with the default
    /// interval and timeout where `None`.
    pub fn with_defaults(
        path: String,
        interval: Option<Duration>,
        timeout: Option<Duration>,
    ) -> HealthCheck {
        HealthCheck {
            path,
            interval: interval.unwrap_or(DEFAULT_HEALTH_INTERVAL),
            timeout: timeout.unwrap_or(DEFAULT_HEALTH_TIMEOUT),
        }
    }
}

#[cfg(test)]
#[path = "route_rules_tests.rs"]
mod tests;
