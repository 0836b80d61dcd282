//! `[[route]]`: the walker and the rules that tie a route's keys to each
//! other (access modes), to the peers (`allow`) and to the entrypoints.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::cursor::Table;
use crate::entrypoint::{default_entrypoints, Declared};
use crate::error::{Diagnostics, Span, Spanned};
use crate::ingress_values::{
    duration_unit_hint, parse_duration, parse_path_prefix, parse_request_path, BackendUrl,
    ForwardAuthUrl, HostPattern, Listen,
};
use crate::route_rules::{
    access_problems, check_health_interval, check_route_entrypoint, parse_allow_rule, AccessKeys,
    RouteKey, DEFAULT_CONNECT_TIMEOUT, DEFAULT_ROUTE_TIMEOUT,
};
use crate::suggest::suggest;
use crate::transport::TransportConfig;

/// A list of strings as the cursor returns it.
type StrList<'a> = Spanned<Vec<Spanned<&'a str>>>;

/// One `[[route]]`: requests for `host` under `path_prefix` go to `backends`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    pub host: HostPattern,
    /// Starts with `/`; `/` unless set. The longest matching prefix wins.
    pub path_prefix: String,
    /// How `path_prefix` matches a request path: as a string prefix for
    /// routes from the file, as Kubernetes defines its path types for
    /// routes from Ingresses.
    pub path_match: PathMatch,
    /// At least one for routes from the file. A route from a Kubernetes
    /// Service with no ready endpoint has none and answers 503.
    pub backends: Vec<BackendUrl>,
    /// Empty: equal weights. Otherwise one weight (at least 1) per backend,
    /// for weighted round robin.
    pub weights: Vec<u32>,
    pub health_check: Option<HealthCheck>,
    pub access: Access,
    /// Empty: every tunnel peer (for `access = "tunnel"`). Otherwise only
    /// peers matching a rule. Never set with [`Access::Public`].
    pub allow: Vec<AllowRule>,
    /// Set exactly when `access` is [`Access::ForwardAuth`].
    pub forward_auth: Option<ForwardAuthUrl>,
    /// Key `forward_auth_headers`: the response headers of the forward-auth
    /// service copied into the request to the backend. Empty: every header
    /// whose name starts with `Remote-` or `X-Auth` (any case), which covers
    /// Authelia, Authentik and oauth2-proxy; see
    /// [`RouteConfig::copies_auth_header`].
    pub forward_auth_response_headers: Vec<String>,
    /// Set exactly when `access` is [`Access::Mtls`]: the CA that signs
    /// client certificates, resolved against the config file's folder.
    pub client_ca: Option<PathBuf>,
    /// Names of https entrypoints. Empty: every https entrypoint.
    pub entrypoints: Vec<String>,
    /// Time for the backend to send its response headers; `60s` unless set.
    pub timeout: Duration,
    /// Time to connect to a backend; `5s` unless set.
    pub connect_timeout: Duration,
    /// Key `allow_encoded_slashes`: paths with `%2F` are served (kept
    /// encoded) instead of refused, when decoding them would not select
    /// another route. Off unless set.
    pub allow_encoded_slashes: bool,
    /// Key `upgrades`: the `Upgrade` protocols passed to the backend
    /// (lowercase); `["websocket"]` unless set, `[]` for none. Never
    /// `h2c`.
    pub upgrades: Vec<String>,
    /// Key `grpc_deadline`: a request's `grpc-timeout` (plus a second)
    /// replaces `timeout` for it, so gRPC deadlines longer than the
    /// route's timeout are honoured. Off unless set.
    pub grpc_deadline: bool,
    /// Key `transport`: the `[[transport]]` (by name) for the route's
    /// `https://` backends and `https://` forward-auth. `None`: the
    /// system's roots, the backend's host as the server name.
    pub transport: Option<String>,
    /// 1-based `(line, col)` of the `[[route]]` header, for messages about
    /// this route at run time (no certificate, backend unresolvable).
    pub location: (usize, usize),
}

/// How a route's `path_prefix` matches a request's path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PathMatch {
    /// The path starts with the prefix, as a string (`/api` matches
    /// `/api`, `/api/v1` and `/apis`): routes from the file, like Traefik's
    /// `PathPrefix`.
    #[default]
    Prefix,
    /// Kubernetes' `Prefix` path type: the prefix's segments are the
    /// path's first segments (`/foo` matches `/foo` and `/foo/bar`, not
    /// `/foobar`; a trailing `/` in the prefix is ignored).
    Segments,
    /// Kubernetes' `Exact` path type: the path is the prefix.
    Exact,
}

/// `health_check = { path = "/api/health", interval = "5s" }` of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// The request path (and query) probed on every backend.
    pub path: String,
    /// `5s` unless set; at least `100ms`.
    pub interval: Duration,
    /// `2s` unless set.
    pub timeout: Duration,
}

/// `access` of a route: who may reach it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Access {
    /// Only requests arriving through the tunnel, from peers `allow` admits.
    #[default]
    Tunnel,
    /// Clients presenting a certificate signed by `client_ca`.
    Mtls,
    /// Requests the `forward_auth` service approves.
    ForwardAuth,
    /// Anyone who can reach the entrypoint.
    Public,
}

/// One `allow` entry of a route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AllowRule {
    /// `peer:NAME`: the `[[peer]]` of that name.
    Peer(String),
    /// `tag:NAME`: every peer with that tag.
    Tag(String),
}

// === impl RouteConfig ===

impl RouteConfig {
    /// Whether a response header of the forward-auth service is copied into
    /// the request to the backend.
    pub fn copies_auth_header(&self, name: &str) -> bool {
        if self.forward_auth_response_headers.is_empty() {
            let starts = |prefix: &str| {
                name.get(..prefix.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            };
            starts("remote-") || starts("x-auth")
        } else {
            self.forward_auth_response_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
        }
    }
}

// === impl Access ===

impl FromStr for Access {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tunnel" => Ok(Access::Tunnel),
            "mtls" => Ok(Access::Mtls),
            "forward-auth" => Ok(Access::ForwardAuth),
            "public" => Ok(Access::Public),
            other => Err(format!(
                "`{other}` is not an access mode (expected \"tunnel\", \"mtls\", \
                 \"forward-auth\" or \"public\")"
            )),
        }
    }
}

// === walker ===

/// What a route's keys are checked against.
pub(crate) struct RouteContext<'c> {
    pub(crate) peer_names: &'c [String],
    pub(crate) tcp_ports: &'c [(u16, Span)],
    pub(crate) declared: &'c Declared,
    pub(crate) transports: &'c [TransportConfig],
}

pub(crate) fn parse_routes(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    base: &Path,
    cx: &RouteContext<'_>,
) -> Vec<RouteConfig> {
    let (tcp_ports, declared) = (cx.tcp_ports, cx.declared);
    let tables = root.array_of_tables(d, "route");
    if !tables.is_empty() && !declared.written {
        check_default_ports(d, tcp_ports);
    }
    let mut reported_no_https = false;
    let mut seen: Vec<(HostPattern, String, Span)> = Vec::new();
    let mut routes = Vec::new();
    for mut t in tables {
        if !declared.may_serve_https && !t.contains("entrypoints") && !reported_no_https {
            reported_no_https = true;
            d.error(
                t.span(),
                "no https [[entrypoint]] serves this route (http entrypoints only redirect)",
            );
        }
        let route = parse_route(&mut t, d, base, cx);
        t.finish(d);
        let Some((route, host_span)) = route else {
            continue;
        };
        let duplicate = seen
            .iter()
            .find(|(host, prefix, _)| *host == route.host && *prefix == route.path_prefix);
        match duplicate {
            Some((_, _, first)) => {
                let line = d.line_of(first);
                let message = format!(
                    "host: a route for `{}` with path_prefix \"{}\" is already defined on line {line}",
                    route.host, route.path_prefix
                );
                d.error(&host_span, message);
            }
            None => seen.push((route.host.clone(), route.path_prefix.clone(), host_span)),
        }
        routes.push(route);
    }
    routes
}

/// With routes (or the dashboard) and no `[[entrypoint]]`, the default
/// entrypoints take tunnel ports 443 and 80; a `[[tcp]]` service there
/// could not be reached.
pub(crate) fn check_default_ports(d: &mut Diagnostics<'_>, tcp_ports: &[(u16, Span)]) {
    for default in default_entrypoints() {
        let Listen::Tunnel { port } = default.listen else {
            continue;
        };
        for (_, span) in tcp_ports.iter().filter(|(p, _)| *p == port) {
            let message = format!(
                "listen: tcp port {port} is the port of the default entrypoint `{}` \
                 (tunnel:{port}), used because there are [[route]]s and no [[entrypoint]]; \
                 declare [[entrypoint]]s on other ports or move this service",
                default.name
            );
            d.error(span, message);
        }
    }
}

/// One route and the location of its `host`, or `None` when a required
/// value is missing or invalid (already reported).
fn parse_route(
    t: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    base: &Path,
    cx: &RouteContext<'_>,
) -> Option<(RouteConfig, Span)> {
    let (peer_names, declared) = (cx.peer_names, cx.declared);
    let location = d.location(t.span());
    let host = t.required_parsed::<HostPattern>(d, "host");
    let path_prefix = t.optional_with(d, "path_prefix", parse_path_prefix);
    let backends = t.required_str_list(d, "backends");
    let weights = t.optional_int_array(d, "weights");
    let (backends, weights) = parse_backends(d, backends, weights);
    let health_check = t.optional_table(d, "health_check").and_then(|mut h| {
        let check = parse_health_check(&mut h, d);
        h.finish(d);
        check
    });
    let access = t.optional_parsed::<Access>(d, "access");
    let allow = t
        .optional_str_list(d, "allow")
        .map(|list| parse_allow(d, list, peer_names));
    let forward_auth = t.optional_parsed::<ForwardAuthUrl>(d, "forward_auth");
    let auth_headers = t
        .optional_str_list(d, "forward_auth_headers")
        .map(|list| parse_header_names(d, list));
    let client_ca = t.optional_path(d, "client_ca", base);
    let entrypoints = t
        .optional_str_list(d, "entrypoints")
        .map(|list| parse_route_entrypoints(d, list, declared));
    let timeout = optional_duration(t, d, "timeout");
    let connect_timeout = optional_duration(t, d, "connect_timeout");
    let allow_encoded_slashes = t
        .optional_bool(d, "allow_encoded_slashes")
        .is_some_and(|b| b.value);
    let upgrades = t
        .optional_str_array(d, "upgrades")
        .map(|list| parse_upgrades(d, list));
    let grpc_deadline = t.optional_bool(d, "grpc_deadline").is_some_and(|b| b.value);
    let transport = t.optional_str(d, "transport");
    if let Some(name) = &transport {
        check_transport(
            d,
            name,
            cx.transports,
            backends.as_deref().unwrap_or_default(),
            forward_auth.as_ref().map(|f| &f.value),
        );
    }

    // An invalid `access` is reported alone, without follow-on errors about
    // the keys of the mode it was meant to be.
    if access.is_some() || !t.contains("access") {
        check_access(
            d,
            access.as_ref(),
            &AccessSpans {
                client_ca: client_ca.as_ref().map(|c| &c.span),
                forward_auth: forward_auth.as_ref().map(|f| &f.span),
                auth_headers: auth_headers.as_ref().map(|h| &h.span),
                allow: allow.as_ref().map(|a| &a.span),
            },
            AccessKeys {
                access: access.as_ref().map(|a| a.value),
                client_ca: t.contains("client_ca"),
                forward_auth: t.contains("forward_auth"),
                forward_auth_headers: t.contains("forward_auth_headers"),
                allow: t.contains("allow"),
            },
        );
    }

    let host = host?;
    let route = RouteConfig {
        host: host.value,
        path_prefix: path_prefix.map_or_else(|| "/".to_string(), |p| p.value),
        path_match: PathMatch::Prefix,
        backends: backends?,
        weights,
        health_check,
        access: access.map_or(Access::default(), |a| a.value),
        allow: allow.map(|a| a.value).unwrap_or_default(),
        forward_auth: forward_auth.map(|f| f.value),
        forward_auth_response_headers: auth_headers.map(|h| h.value).unwrap_or_default(),
        client_ca: client_ca.map(|c| c.value),
        entrypoints: entrypoints.map(|e| e.value).unwrap_or_default(),
        timeout: timeout.map_or(DEFAULT_ROUTE_TIMEOUT, |t| t.value),
        connect_timeout: connect_timeout.map_or(DEFAULT_CONNECT_TIMEOUT, |t| t.value),
        allow_encoded_slashes,
        upgrades: upgrades.unwrap_or_else(|| vec!["websocket".to_string()]),
        grpc_deadline,
        transport: transport.map(|t| t.value.to_string()),
        location,
    };
    Some((route, host.span))
}

fn optional_duration(
    t: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    key: &'static str,
) -> Option<Spanned<Duration>> {
    t.optional_with_hint(d, key, parse_duration, duration_unit_hint)
}

/// The backends (`None` if missing or empty) and their weights (empty when
/// not given or invalid).
fn parse_backends(
    d: &mut Diagnostics<'_>,
    backends: Option<StrList<'_>>,
    weights: Option<Spanned<Vec<Spanned<i64>>>>,
) -> (Option<Vec<BackendUrl>>, Vec<u32>) {
    let backends = backends.filter(|list| {
        if list.value.is_empty() {
            d.error(&list.span, "backends: at least one backend is needed");
        }
        !list.value.is_empty()
    });
    let mut out = None;
    if let Some(list) = &backends {
        let mut urls = Vec::with_capacity(list.value.len());
        for entry in &list.value {
            match entry.value.parse::<BackendUrl>() {
                Ok(url) => urls.push(url),
                Err(e) => d.error(&entry.span, format!("backends: {e}")),
            }
        }
        out = Some(urls);
    }

    let Some(weights) = weights else {
        return (out, Vec::new());
    };
    let mut parsed = Vec::with_capacity(weights.value.len());
    for w in &weights.value {
        match u32::try_from(w.value) {
            Ok(n) if n >= 1 => parsed.push(n),
            _ => d.error(
                &w.span,
                format!(
                    "weights: must be between 1 and {}, found {}",
                    u32::MAX,
                    w.value
                ),
            ),
        }
    }
    if let Some(list) = &backends {
        let (w, b) = (weights.value.len(), list.value.len());
        if w != b {
            let message =
                format!("weights: {w} weights for {b} backends; give one weight per backend");
            d.error(&weights.span, message);
        }
    }
    (out, parsed)
}

fn parse_health_check(h: &mut Table<'_>, d: &mut Diagnostics<'_>) -> Option<HealthCheck> {
    let path = h.required_with(d, "path", parse_request_path);
    let interval = optional_duration(h, d, "interval");
    if let Some(interval) = &interval {
        if let Err(e) = check_health_interval(interval.value) {
            d.error(&interval.span, format!("interval: {e}"));
        }
    }
    let timeout = optional_duration(h, d, "timeout");
    Some(HealthCheck::with_defaults(
        path?.value,
        interval.map(|i| i.value),
        timeout.map(|t| t.value),
    ))
}

/// `transport`: names a declared `[[transport]]`, and the route has
/// something that speaks TLS to use it.
fn check_transport(
    d: &mut Diagnostics<'_>,
    name: &Spanned<&str>,
    transports: &[TransportConfig],
    backends: &[BackendUrl],
    forward_auth: Option<&ForwardAuthUrl>,
) {
    if !transports.iter().any(|t| t.name == name.value) {
        let known: Vec<&str> = transports.iter().map(|t| t.name.as_str()).collect();
        let hint = match suggest(name.value, &known) {
            Some(s) => format!("; did you mean `{s}`?"),
            None => String::new(),
        };
        let message = format!(
            "transport: no [[transport]] is named `{}`{hint}",
            name.value
        );
        d.error(&name.span, message);
        return;
    }
    let uses_tls =
        backends.iter().any(|b| b.scheme.is_tls()) || forward_auth.is_some_and(|f| f.scheme_https);
    if !uses_tls {
        d.error(
            &name.span,
            "transport: the route has no https:// backend nor https:// forward_auth to use it",
        );
    }
}

/// `upgrades`: protocol names (RFC 9110 tokens), lowercased; never `h2c`.
fn parse_upgrades(d: &mut Diagnostics<'_>, list: Vec<Spanned<&str>>) -> Vec<String> {
    let mut protocols = Vec::with_capacity(list.len());
    for entry in list {
        let name = entry.value.to_ascii_lowercase();
        let is_token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if name == "h2c" {
            d.error(
                &entry.span,
                "upgrades: `h2c` is never forwarded: the client would speak HTTP/2 to the \
                 backend past the proxy's checks",
            );
        } else if !is_token {
            let message = format!("upgrades: `{}` is not a protocol name", entry.value);
            d.error(&entry.span, message);
        } else if !protocols.contains(&name) {
            protocols.push(name);
        }
    }
    protocols
}

/// `allow`: each entry as [`parse_allow_rule`] reads it.
fn parse_allow(
    d: &mut Diagnostics<'_>,
    list: StrList<'_>,
    peers: &[String],
) -> Spanned<Vec<AllowRule>> {
    if list.value.is_empty() {
        d.error(
            &list.span,
            "allow: the list is empty; remove `allow` to admit every tunnel peer",
        );
    }
    let mut rules = Vec::with_capacity(list.value.len());
    for entry in &list.value {
        let rule = parse_allow_rule(entry.value, peers);
        match rule {
            Ok(rule) => rules.push(rule),
            Err(e) => d.error(&entry.span, format!("allow: {e}")),
        }
    }
    Spanned::new(rules, list.span)
}

/// `forward_auth_headers`: HTTP header names (RFC 9110 tokens).
fn parse_header_names(d: &mut Diagnostics<'_>, list: StrList<'_>) -> Spanned<Vec<String>> {
    if list.value.is_empty() {
        d.error(
            &list.span,
            "forward_auth_headers: the list is empty; remove it to copy every Remote-* and \
             X-Auth* header",
        );
    }
    let mut names = Vec::with_capacity(list.value.len());
    for entry in &list.value {
        let is_token = !entry.value.is_empty()
            && entry
                .value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if is_token {
            names.push(entry.value.to_string());
        } else {
            let message = format!(
                "forward_auth_headers: `{}` is not an HTTP header name",
                entry.value
            );
            d.error(&entry.span, message);
        }
    }
    Spanned::new(names, list.span)
}

/// `entrypoints` of a route: names of https entrypoints.
fn parse_route_entrypoints(
    d: &mut Diagnostics<'_>,
    list: StrList<'_>,
    declared: &Declared,
) -> Spanned<Vec<String>> {
    if list.value.is_empty() {
        d.error(
            &list.span,
            "entrypoints: the list is empty; remove it to serve on every https entrypoint",
        );
    }
    let mut names = Vec::with_capacity(list.value.len());
    for entry in &list.value {
        match check_route_entrypoint(entry.value, &declared.entrypoints, declared.written) {
            Ok(()) => names.push(entry.value.to_string()),
            Err(e) => d.error(&entry.span, format!("entrypoints: {e}")),
        }
    }
    Spanned::new(names, list.span)
}

/// Where the keys tied to an access mode were written, when their values
/// parsed (a key whose value did not parse is already reported).
struct AccessSpans<'s> {
    client_ca: Option<&'s Span>,
    forward_auth: Option<&'s Span>,
    auth_headers: Option<&'s Span>,
    allow: Option<&'s Span>,
}

/// Reports [`access_problems`] at the key each one blames.
fn check_access(
    d: &mut Diagnostics<'_>,
    access: Option<&Spanned<Access>>,
    spans: &AccessSpans<'_>,
    keys: AccessKeys,
) {
    for (key, message) in access_problems(&keys, file_key) {
        let span = match key {
            RouteKey::Access => access.map(|a| &a.span),
            RouteKey::ClientCa => spans.client_ca,
            RouteKey::ForwardAuth => spans.forward_auth,
            RouteKey::ForwardAuthHeaders => spans.auth_headers,
            RouteKey::Allow => spans.allow,
        };
        if let Some(span) = span {
            d.error(span, message);
        }
    }
}

/// How the file names a route's keys.
pub(crate) fn file_key(key: RouteKey) -> &'static str {
    match key {
        RouteKey::Access => "access",
        RouteKey::ClientCa => "client_ca",
        RouteKey::ForwardAuth => "forward_auth",
        RouteKey::ForwardAuthHeaders => "forward_auth_headers",
        RouteKey::Allow => "allow",
    }
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
