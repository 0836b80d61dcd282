//! `[[route]]`: the walker and the rules that tie a route's keys to each
//! other (access modes), to the peers (`allow`) and to the entrypoints.

use std::path::Path;
use std::time::Duration;

use crate::cursor::Table;
use crate::error::{Diagnostics, Span, Spanned};
use crate::ingress::{
    default_entrypoints, Access, AllowRule, Declared, EntrypointProtocol, HealthCheck,
    IngressContext, RouteConfig,
};
use crate::ingress_values::{
    duration_unit_hint, parse_duration, BackendUrl, ForwardAuthUrl, HostPattern, Listen,
};
use crate::suggest::suggest;
use crate::wireguard::is_tag;

const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(5);
const MIN_HEALTH_INTERVAL: Duration = Duration::from_millis(100);
const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_ROUTE_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A list of strings as the cursor returns it.
type StrList<'a> = Spanned<Vec<Spanned<&'a str>>>;

pub(crate) fn parse_routes(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    base: &Path,
    cx: &IngressContext<'_>,
    declared: &Declared,
) -> Vec<RouteConfig> {
    let tables = root.array_of_tables(d, "route");
    if !tables.is_empty() && !declared.written {
        check_default_ports(d, cx);
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
        let route = parse_route(&mut t, d, base, cx, declared);
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

/// With routes and no `[[entrypoint]]`, the default entrypoints take tunnel
/// ports 443 and 80; a `[[tcp]]` service there could not be reached.
fn check_default_ports(d: &mut Diagnostics<'_>, cx: &IngressContext<'_>) {
    for default in default_entrypoints() {
        let Listen::Tunnel { port } = default.listen else {
            continue;
        };
        for (_, span) in cx.tcp_ports.iter().filter(|(p, _)| *p == port) {
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
    cx: &IngressContext<'_>,
    declared: &Declared,
) -> Option<(RouteConfig, Span)> {
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
        .map(|list| parse_allow(d, list, cx.peer_names));
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

    // An invalid `access` is reported alone, without follow-on errors about
    // the keys of the mode it was meant to be.
    if access.is_some() || !t.contains("access") {
        check_access(
            d,
            access.as_ref(),
            AccessKeys {
                client_ca: t.contains("client_ca"),
                forward_auth: t.contains("forward_auth"),
                client_ca_span: client_ca.as_ref().map(|c| &c.span),
                forward_auth_span: forward_auth.as_ref().map(|f| &f.span),
                auth_headers_span: auth_headers.as_ref().map(|h| &h.span),
                allow_span: allow.as_ref().map(|a| &a.span),
            },
        );
    }

    let host = host?;
    let route = RouteConfig {
        host: host.value,
        path_prefix: path_prefix.map_or_else(|| "/".to_string(), |p| p.value),
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
    if let Some(interval) = interval.as_ref().filter(|i| i.value < MIN_HEALTH_INTERVAL) {
        d.error(&interval.span, "interval: must be at least 100ms");
    }
    let timeout = optional_duration(h, d, "timeout");
    Some(HealthCheck {
        path: path?.value,
        interval: interval.map_or(DEFAULT_HEALTH_INTERVAL, |i| i.value),
        timeout: timeout.map_or(DEFAULT_HEALTH_TIMEOUT, |t| t.value),
    })
}

/// A path prefix: starts with `/`, no query, no spaces, and in the form
/// requests are matched in (the proxy's canonical paths: escapes of
/// unreserved characters decoded, no empty, `.` or `..` segment).
/// Characters that a client may send escaped or not and that backends read
/// alike (`:`, `@`, `;`, `+`, ...) are refused: a request spelling them the
/// other way would miss the route.
fn parse_path_prefix(s: &str) -> Result<String, String> {
    let path = parse_request_path(s)?;
    if path.contains('?') {
        return Err(format!("`{s}` contains a query; a prefix is a path only"));
    }
    let bytes = path.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let escaped = bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok());
            match escaped {
                Some(e) if e.is_ascii_alphanumeric() || b"-._~".contains(&e) => {
                    return Err(format!(
                        "`{s}` escapes `{}`; write it as is (requests are matched with it decoded)",
                        char::from(e)
                    ))
                }
                Some(e) if stays_escaped(e) => i += 3,
                _ => {
                    return Err(format!(
                        "`{s}` has a `%` that is not an escape of a character a path must escape"
                    ))
                }
            }
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b"-._~/".contains(&b) || stays_escaped(b)) {
            return Err(format!(
                "`{s}` contains `{}`, which a client may send escaped or not; a prefix may have \
                 letters, digits, `-`, `.`, `_`, `~`, `/` and characters a path must escape",
                char::from(b)
            ));
        }
        i += 1;
    }
    if path.contains("//") || path.split('/').any(|segment| matches!(segment, "." | "..")) {
        return Err(format!(
            "`{s}` has an empty, `.` or `..` segment; requests are matched with those removed"
        ));
    }
    Ok(path)
}

/// Bytes a path can carry only escaped (non-ASCII, and the ASCII a URI
/// must not contain raw): one spelling on the wire, so safe in a prefix.
fn stays_escaped(b: u8) -> bool {
    b >= 0x80 || b" \"<>[]^`{|}".contains(&b)
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

/// A request path (and query) as sent on the wire: starts with `/`.
fn parse_request_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') {
        return Err(format!("`{s}` does not start with `/`"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '#')
    {
        return Err(format!("`{s}` contains {c:?}"));
    }
    Ok(s.to_string())
}

/// `allow`: `peer:NAME` for a configured peer, `tag:NAME` for a valid tag.
/// A tag no peer carries is accepted: peers and their tags change more
/// often than routes.
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
        let s = entry.value;
        let rule = if let Some(name) = s.strip_prefix("peer:") {
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
        };
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
        let name = entry.value;
        match declared.entrypoints.iter().find(|(n, _)| n == name) {
            Some((_, Some(EntrypointProtocol::Http))) => d.error(
                &entry.span,
                format!(
                    "entrypoints: `{name}` is an http entrypoint, which only redirects to \
                     https; routes are served on https entrypoints"
                ),
            ),
            Some(_) => names.push(name.to_string()),
            None => {
                let known: Vec<&str> = declared
                    .entrypoints
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect();
                let hint = match suggest(name, &known) {
                    Some(n) => format!("; did you mean `{n}`?"),
                    None if !declared.written => {
                        " (with no [[entrypoint]] written, the https entrypoint is `tunnel-https`)"
                            .to_string()
                    }
                    None => String::new(),
                };
                d.error(
                    &entry.span,
                    format!("entrypoints: no entrypoint is named `{name}`{hint}"),
                );
            }
        }
    }
    Spanned::new(names, list.span)
}

/// Whether the keys tied to an access mode were written, and where.
struct AccessKeys<'s> {
    client_ca: bool,
    forward_auth: bool,
    client_ca_span: Option<&'s Span>,
    forward_auth_span: Option<&'s Span>,
    auth_headers_span: Option<&'s Span>,
    allow_span: Option<&'s Span>,
}

/// `mtls` needs `client_ca` and `forward-auth` needs `forward_auth`; those
/// keys (and `forward_auth_headers`) mean nothing with another mode, and
/// `allow` means nothing on a public route.
fn check_access(d: &mut Diagnostics<'_>, access: Option<&Spanned<Access>>, keys: AccessKeys<'_>) {
    let mode = access.map_or(Access::default(), |a| a.value);
    if let Some(access) = access {
        if mode == Access::Mtls && !keys.client_ca {
            d.error(
                &access.span,
                "access: \"mtls\" needs `client_ca`, the CA that signs client certificates",
            );
        }
        if mode == Access::ForwardAuth && !keys.forward_auth {
            d.error(
                &access.span,
                "access: \"forward-auth\" needs `forward_auth`, the URL of the auth service",
            );
        }
    }
    let mut only_with = |span: Option<&Span>, key: &str, wanted: Access, name: &str| {
        if let Some(span) = span.filter(|_| mode != wanted) {
            d.error(span, format!("{key}: only used with access = \"{name}\""));
        }
    };
    only_with(keys.client_ca_span, "client_ca", Access::Mtls, "mtls");
    only_with(
        keys.forward_auth_span,
        "forward_auth",
        Access::ForwardAuth,
        "forward-auth",
    );
    only_with(
        keys.auth_headers_span,
        "forward_auth_headers",
        Access::ForwardAuth,
        "forward-auth",
    );
    if let Some(span) = keys.allow_span.filter(|_| mode == Access::Public) {
        d.error(
            span,
            "allow: a public route admits everyone; remove `allow` or choose another access",
        );
    }
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
