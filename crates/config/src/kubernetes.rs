//! `[kubernetes]`: Ingress discovery (off unless `enabled = true`).
//!
//! ```toml
//! [kubernetes]
//! enabled = true
//! ingress_classes = ["wingress"]        # spec.ingressClassName or kubernetes.io/ingress.class
//! namespaces = []                       # [] = every namespace
//! backends = "endpoints"                # pod addresses; "service" = the ClusterIP
//! host_suffixes = ["home.arpa"]         # hosts an Ingress may claim; [] = any host
//! access_modes = ["tunnel", "mtls", "forward-auth"]   # add "public" to allow it
//! client_cas = { home = "home-ca.pem" } # names for wingress.dev/client-ca
//! status_address = "192.168.1.10"       # written to status.loadBalancer.ingress
//! kubeconfig = "/root/.kube/config"     # default: the in-cluster service account
//! debounce = "100ms"
//! ```
//!
//! The section only holds what the operator decides; the mapping of
//! Ingresses to routes lives in `wingress-kube` and validates every value
//! with the parsers of `[[route]]`.
//!
//! `host_suffixes` is the fence around what an Ingress author may claim:
//! anyone who can create an Ingress of a watched class in a watched
//! namespace can otherwise claim any host (file routes still win a clash,
//! but a host no file route serves is up for grabs, and so is a host-less
//! rule, which matches every host). An entry `home.arpa` admits
//! `home.arpa` itself and every name under it (`grafana.home.arpa`,
//! `*.lab.home.arpa`); with any entry written, host-less rules are refused.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::cursor::Table;
use crate::error::{Diagnostics, Spanned};
use crate::ingress_values::{check_dns_name, duration_unit_hint, parse_duration};
use crate::route::Access;
use crate::wireguard::is_tag;

/// The debounce when `debounce` is not written: a `kubectl apply` of a
/// chart lands as a burst of events well inside it.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(100);

/// Longer debounces delay every change for no gain.
const MAX_DEBOUNCE: Duration = Duration::from_secs(10);

/// The Ingress class watched when `ingress_classes` is not written.
pub const DEFAULT_INGRESS_CLASS: &str = "wingress";

/// Where the addresses of a route's backends come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum BackendSource {
    /// The ready pod addresses of the Service's EndpointSlices (the proxy
    /// balances and health-checks them itself).
    #[default]
    Endpoints,
    /// The Service's ClusterIP and port (kube-proxy balances).
    Service,
}

/// The address written into `status.loadBalancer.ingress` of each Ingress.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StatusAddress {
    /// Written as `ip`.
    Ip(IpAddr),
    /// A lowercase DNS name, written as `hostname`.
    Hostname(String),
}

/// `[kubernetes]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesConfig {
    /// Off unless set: no client, no watch.
    pub enabled: bool,
    /// The Ingress classes served; never empty.
    pub ingress_classes: Vec<String>,
    /// The namespaces watched; empty: every namespace.
    pub namespaces: Vec<String>,
    pub backends: BackendSource,
    /// Lowercase DNS names without a leading dot; empty: any host.
    pub host_suffixes: Vec<String>,
    /// The `wingress.dev/access` values an Ingress may ask for.
    pub access_modes: Vec<Access>,
    /// `(name, CA file)` pairs, names unique (TOML keys), files resolved against the
    /// config file's folder, in the order written.
    pub client_cas: Vec<(String, PathBuf)>,
    /// `None`: the status of Ingresses is left alone.
    pub status_address: Option<StatusAddress>,
    /// `None`: the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// How long changes settle before the routes are rebuilt.
    pub debounce: Duration,
}

impl Default for KubernetesConfig {
    fn default() -> KubernetesConfig {
        KubernetesConfig {
            enabled: false,
            ingress_classes: vec![DEFAULT_INGRESS_CLASS.to_string()],
            namespaces: Vec::new(),
            backends: BackendSource::default(),
            host_suffixes: Vec::new(),
            access_modes: vec![Access::Tunnel, Access::Mtls, Access::ForwardAuth],
            client_cas: Vec::new(),
            status_address: None,
            kubeconfig: None,
            debounce: DEFAULT_DEBOUNCE,
        }
    }
}

// === impl KubernetesConfig ===

impl KubernetesConfig {
    /// Whether `host` (lowercase, without a leading `*.`) lies under one of
    /// `host_suffixes` on a label boundary; always true when there are
    /// none.
    pub fn admits_host(&self, host: &str) -> bool {
        self.host_suffixes.is_empty()
            || self.host_suffixes.iter().any(|suffix| {
                host == suffix
                    || host
                        .strip_suffix(suffix.as_str())
                        .is_some_and(|label| label.ends_with('.'))
            })
    }

    /// The CA file registered under `name`.
    pub fn client_ca(&self, name: &str) -> Option<&PathBuf> {
        self.client_cas
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, path)| path)
    }
}

// === walker ===

pub(crate) fn parse_kubernetes(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    base: &std::path::Path,
) -> KubernetesConfig {
    let mut cfg = KubernetesConfig::default();
    let Some(mut t) = root.optional_table(d, "kubernetes") else {
        return cfg;
    };
    if let Some(enabled) = t.optional_bool(d, "enabled") {
        cfg.enabled = enabled.value;
    }
    if let Some(list) = t.optional_str_list(d, "ingress_classes") {
        if list.value.is_empty() {
            d.error(
                &list.span,
                "ingress_classes: the list is empty; no Ingress would be served \
                 (set enabled = false instead)",
            );
        }
        cfg.ingress_classes = names(d, "ingress_classes", list.value, |s| {
            check_dns_name(s).map(|()| s.to_string())
        });
    }
    if let Some(list) = t.optional_str_array(d, "namespaces") {
        cfg.namespaces = names(d, "namespaces", list, parse_namespace);
    }
    if let Some(b) = t.optional_with(d, "backends", |s| match s {
        "endpoints" => Ok(BackendSource::Endpoints),
        "service" => Ok(BackendSource::Service),
        other => Err(format!(
            "`{other}` is not a backend source (expected \"endpoints\" or \"service\")"
        )),
    }) {
        cfg.backends = b.value;
    }
    if let Some(list) = t.optional_str_array(d, "host_suffixes") {
        cfg.host_suffixes = names(d, "host_suffixes", list, parse_host_suffix);
    }
    if let Some(list) = t.optional_str_array(d, "access_modes") {
        cfg.access_modes = names(d, "access_modes", list, str::parse::<Access>);
    }
    if let Some(map) = t.optional_str_map(d, "client_cas") {
        cfg.client_cas = client_cas(d, map, base);
    }
    if let Some(a) = t.optional_with(d, "status_address", parse_status_address) {
        cfg.status_address = Some(a.value);
    }
    if let Some(path) = t.optional_path(d, "kubeconfig", base) {
        cfg.kubeconfig = Some(path.value);
    }
    if let Some(debounce) = t.optional_with_hint(d, "debounce", parse_duration, duration_unit_hint)
    {
        if debounce.value > MAX_DEBOUNCE {
            d.error(
                &debounce.span,
                format!("debounce: {:?} is longer than 10s", debounce.value),
            );
        } else {
            cfg.debounce = debounce.value;
        }
    }
    t.finish(d);
    cfg
}

/// Each entry of a list parsed with `parse`; bad and repeated entries are
/// reported and dropped.
fn names<T: PartialEq, E: std::fmt::Display>(
    d: &mut Diagnostics<'_>,
    key: &str,
    list: Vec<Spanned<&str>>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(list.len());
    for entry in list {
        match parse(entry.value) {
            Ok(v) if out.contains(&v) => {
                d.error(
                    &entry.span,
                    format!("{key}: `{}` is listed twice", entry.value),
                );
            }
            Ok(v) => out.push(v),
            Err(e) => d.error(&entry.span, format!("{key}: {e}")),
        }
    }
    out
}

/// A namespace name: an RFC 1123 label (what Kubernetes accepts).
fn parse_namespace(s: &str) -> Result<String, String> {
    let is_label = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if is_label {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a namespace name (1 to 63 of a-z, 0-9 and `-`, not starting or \
             ending with `-`)"
        ))
    }
}

/// `home.arpa`, also written `.home.arpa` or `*.home.arpa`; stored as
/// `home.arpa`.
fn parse_host_suffix(s: &str) -> Result<String, String> {
    let name = s.to_ascii_lowercase();
    let name = name
        .strip_prefix("*.")
        .or_else(|| name.strip_prefix('.'))
        .unwrap_or(&name);
    check_dns_name(name)?;
    Ok(name.to_string())
}

/// An IP address or a DNS name.
fn parse_status_address(s: &str) -> Result<StatusAddress, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(StatusAddress::Ip(ip));
    }
    let name = s.to_ascii_lowercase();
    check_dns_name(&name).map_err(|e| format!("{e}; write an IP address or a host name"))?;
    Ok(StatusAddress::Hostname(name))
}

/// `client_cas`: names as tags are written (a-z, 0-9, `-`), non-empty
/// paths resolved against the config's folder.
fn client_cas(
    d: &mut Diagnostics<'_>,
    map: Vec<(Spanned<&str>, Spanned<&str>)>,
    base: &std::path::Path,
) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = Vec::with_capacity(map.len());
    for (name, path) in map {
        if !is_tag(name.value) {
            let message = format!(
                "client_cas: `{}` is not a CA name (1 to 63 of a-z, 0-9 and `-`)",
                name.value
            );
            d.error(&name.span, message);
        } else if path.value.is_empty() {
            let message = format!("client_cas.{}: path must not be empty", name.value);
            d.error(&path.span, message);
        } else {
            out.push((name.value.to_string(), base.join(path.value)));
        }
    }
    out
}

#[cfg(test)]
#[path = "kubernetes_tests.rs"]
mod tests;
