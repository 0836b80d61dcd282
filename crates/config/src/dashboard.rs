//! `[dashboard]`: the web dashboard inside the tunnel. It is served as one
//! more route (host `host`, path `/`, access `tunnel` with `allow`),
//! appended after the `[[route]]`s, whose backend is the daemon itself.
//! With `client_ca`, host entrypoints may serve it too, through a second
//! route with access `mtls` (the client certificate is the login there).

use std::path::{Path, PathBuf};

use crate::cursor::Table;
use crate::entrypoint::{default_entrypoints, Declared, EntrypointConfig, EntrypointProtocol};
use crate::error::{Diagnostics, Span, Spanned};
use crate::ingress_values::{HostPattern, Listen};
use crate::route::{AllowRule, RouteConfig};
use crate::route_rules::{check_route_entrypoint, parse_allow_rule};

/// `max_event_streams` unless set: live pages open at once (each holds an
/// event stream); a household needs a few, and each costs a little work
/// every second.
pub const DEFAULT_MAX_EVENT_STREAMS: u32 = 16;

/// The most `max_event_streams` may be.
const MAX_EVENT_STREAMS: u32 = 1024;

/// `[dashboard]`, with its defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardConfig {
    /// Off unless set.
    pub enabled: bool,
    /// The host name the dashboard answers on (lowercase); always set when
    /// `enabled`.
    pub host: Option<String>,
    /// Who may open it: `["tag:admin"]` unless set; never empty.
    pub allow: Vec<AllowRule>,
    /// The entrypoints that serve it, resolved: those written, else every
    /// tunnel https entrypoint. Host entrypoints only with `client_ca`: the
    /// dashboard's login is the WireGuard key, which a host entrypoint does
    /// not see, so there a client certificate takes its place.
    pub entrypoints: Vec<String>,
    /// Those of `entrypoints` that listen on the host (served with mTLS);
    /// empty unless `client_ca` is set.
    pub host_entrypoints: Vec<String>,
    /// The CA (PEM) that signs the client certificates admitted on
    /// `host_entrypoints`, as a `[[route]]`'s `client_ca`.
    pub client_ca: Option<PathBuf>,
    /// Event streams (`/events`) open at once; more get 503.
    pub max_event_streams: u32,
    /// 1-based `(line, col)` of the `[dashboard]` header, for messages at
    /// run time (`(0, 0)` when not written).
    pub location: (usize, usize),
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            enabled: false,
            host: None,
            allow: vec![AllowRule::Tag("admin".to_string())],
            entrypoints: Vec::new(),
            host_entrypoints: Vec::new(),
            client_ca: None,
            max_event_streams: DEFAULT_MAX_EVENT_STREAMS,
            location: (0, 0),
        }
    }
}

// === impl DashboardConfig ===

impl DashboardConfig {
    /// The host the dashboard serves, when it is on.
    pub fn served_host(&self) -> Option<&str> {
        self.host.as_deref().filter(|_| self.enabled)
    }

    /// The entrypoints served through the tunnel route (those of
    /// `entrypoints` not in `host_entrypoints`).
    pub fn tunnel_entrypoints(&self) -> Vec<String> {
        self.entrypoints
            .iter()
            .filter(|e| !self.host_entrypoints.contains(e))
            .cloned()
            .collect()
    }
}

/// What `[dashboard]` is checked against.
pub(crate) struct DashboardContext<'c> {
    pub(crate) peer_names: &'c [String],
    /// The entrypoints as written (empty: the defaults are used).
    pub(crate) entrypoints: &'c [EntrypointConfig],
    pub(crate) declared: &'c Declared,
    pub(crate) routes: &'c [RouteConfig],
    /// The config file's folder, for a relative `client_ca`.
    pub(crate) base: &'c Path,
}

pub(crate) fn parse_dashboard(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    cx: &DashboardContext<'_>,
) -> DashboardConfig {
    let mut config = DashboardConfig::default();
    let Some(mut t) = root.optional_table(d, "dashboard") else {
        return config;
    };
    config.location = d.location(t.span());
    let enabled = t.optional_bool(d, "enabled");
    let host = t.optional_parsed::<HostPattern>(d, "host");
    let host_written = t.contains("host");
    let allow = t.optional_str_list(d, "allow");
    let entrypoints = t.optional_str_list(d, "entrypoints");
    let max_streams = t.optional_int(d, "max_event_streams", 1..=MAX_EVENT_STREAMS);
    let client_ca = t.optional_path(d, "client_ca", cx.base);
    let span = t.span().clone();
    t.finish(d);

    config.enabled = enabled.as_ref().is_some_and(|e| e.value);
    config.host = host.and_then(|h| match h.value {
        HostPattern::Exact(name) => {
            check_route_clash(d, &name, &h.span, cx.routes);
            Some(name)
        }
        other => {
            d.error(
                &h.span,
                format!("host: the dashboard needs one host name, not the pattern `{other}`"),
            );
            None
        }
    });
    if config.enabled && !host_written {
        let at = enabled.as_ref().map_or(&span, |e| &e.span);
        d.error(
            at,
            "enabled: the dashboard needs `host`, the name it answers on (for example \
             host = \"wingress.home.arpa\")",
        );
    }
    if let Some(list) = allow {
        config.allow = parse_allow(d, list, cx.peer_names);
    }
    config.entrypoints = match entrypoints {
        Some(list) => {
            let (names, host) =
                parse_entrypoints(d, list, cx, client_ca.as_ref().map(|c| &c.value));
            config.host_entrypoints = host;
            names
        }
        None => {
            let names = tunnel_https(cx);
            if config.enabled && names.is_empty() && cx.declared.written {
                let at = enabled.as_ref().map_or(&span, |e| &e.span);
                d.error(
                    at,
                    "enabled: no https [[entrypoint]] listens on the tunnel to serve the \
                     dashboard; add one (listen = \"tunnel:443\")",
                );
            }
            names
        }
    };
    if let Some(ca) = client_ca {
        if config.host_entrypoints.is_empty() {
            d.error(
                &ca.span,
                "client_ca: only used when `entrypoints` names a host https entrypoint; \
                 tunnel peers sign in with their WireGuard key",
            );
        }
        config.client_ca = Some(ca.value);
    }
    if let Some(m) = max_streams {
        config.max_event_streams = m.value;
    }
    config
}

/// The tunnel https entrypoints, by name (the defaults when none is
/// written).
fn tunnel_https(cx: &DashboardContext<'_>) -> Vec<String> {
    let defaults;
    let all = if cx.declared.written {
        cx.entrypoints
    } else {
        defaults = default_entrypoints();
        &defaults
    };
    all.iter()
        .filter(|e| e.protocol == EntrypointProtocol::Https)
        .filter(|e| matches!(e.listen, Listen::Tunnel { .. }))
        .map(|e| e.name.clone())
        .collect()
}

/// `allow`: as a route's, and never empty (an empty list would admit every
/// tunnel peer to a page that adds and removes peers).
fn parse_allow(
    d: &mut Diagnostics<'_>,
    list: Spanned<Vec<Spanned<&str>>>,
    peers: &[String],
) -> Vec<AllowRule> {
    if list.value.is_empty() {
        d.error(
            &list.span,
            "allow: the list is empty; name who may use the dashboard, as in \
             allow = [\"tag:admin\"]",
        );
    }
    let mut rules = Vec::with_capacity(list.value.len());
    for entry in &list.value {
        match parse_allow_rule(entry.value, peers) {
            Ok(rule) => rules.push(rule),
            Err(e) => d.error(&entry.span, format!("allow: {e}")),
        }
    }
    rules
}

/// `entrypoints`: https entrypoints on the tunnel, and on the host when
/// `client_ca` is set. Returns every name, and the host ones apart.
fn parse_entrypoints(
    d: &mut Diagnostics<'_>,
    list: Spanned<Vec<Spanned<&str>>>,
    cx: &DashboardContext<'_>,
    client_ca: Option<&PathBuf>,
) -> (Vec<String>, Vec<String>) {
    if list.value.is_empty() {
        d.error(
            &list.span,
            "entrypoints: the list is empty; remove it to serve on every tunnel https entrypoint",
        );
    }
    let declared = cx.declared;
    let mut names = Vec::with_capacity(list.value.len());
    let mut host = Vec::new();
    for entry in &list.value {
        if let Err(e) = check_route_entrypoint(entry.value, &declared.entrypoints, declared.written)
        {
            d.error(&entry.span, format!("entrypoints: {e}"));
            continue;
        }
        let listen = cx
            .entrypoints
            .iter()
            .find(|e| e.name == entry.value)
            .map(|e| e.listen);
        if let Some(Listen::Host(addr)) = listen {
            if client_ca.is_none() {
                d.error(
                    &entry.span,
                    format!(
                        "entrypoints: `{}` listens on the host ({addr}), which needs client_ca: \
                         the dashboard admits tunnel peers by their WireGuard key, and anyone \
                         else only with a client certificate signed by client_ca",
                        entry.value
                    ),
                );
                continue;
            }
            if !host.iter().any(|n| n == entry.value) {
                host.push(entry.value.to_string());
            }
        }
        if !names.iter().any(|n| n == entry.value) {
            names.push(entry.value.to_string());
        }
    }
    (names, host)
}

/// A `[[route]]` for the same host and path `/` would take every request
/// meant for the dashboard.
fn check_route_clash(d: &mut Diagnostics<'_>, host: &str, span: &Span, routes: &[RouteConfig]) {
    let clash = routes
        .iter()
        .find(|r| r.path_prefix == "/" && matches!(&r.host, HostPattern::Exact(h) if h == host));
    if let Some(route) = clash {
        let line = route.location.0;
        d.error(
            span,
            format!(
                "host: the [[route]] on line {line} already serves every path of `{host}`; \
                 give the dashboard its own host name"
            ),
        );
    }
}

#[cfg(test)]
#[path = "dashboard_tests.rs"]
mod tests;
