//! [`map`]: a snapshot to routes, certificates and problems.
//!
//! Each selected Ingress (class, namespace), oldest first, becomes a
//! *candidate*: its annotations, hosts, paths and backends checked with the
//! parsers and rules of `[[route]]`. Any mistake skips the whole Ingress
//! (a half-served Ingress would be harder to notice than a missing one).
//! The candidate's routes then meet the routes already taken: a host the
//! config file serves is the file's; a host an older Ingress took belongs
//! to that Ingress's namespace (other Ingresses there may add paths, other
//! namespaces may not); and a `(host, path, path type)` an older Ingress
//! took is the older one's. Certificates follow the routes:
//! an Ingress only gives a certificate for a host it won a route for.

use std::collections::HashMap;

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};
use wingress_config::{
    parse_path_prefix, BackendSource, HostPattern, PathMatch, RouteConfig, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_ROUTE_TIMEOUT,
};

use crate::annotations::{parse_annotations, RouteOptions};
use crate::backends::resolve;
use crate::mapping::{Certificate, KubeRoute, Mapping, ObjectRef, Problem};
use crate::policy::Policy;
use crate::Snapshot;

/// The legacy annotation naming an Ingress's class, read when
/// `spec.ingressClassName` is not set.
pub const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// The Secret type whose Secrets hold certificates.
const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";

/// What one Ingress asks for, checked but not yet weighed against the
/// routes of the file and of older Ingresses.
struct Candidate {
    routes: Vec<RouteConfig>,
    /// `(secretName, SNI names)` of each `tls[]` entry with a Secret.
    tls: Vec<(String, Vec<HostPattern>)>,
    /// Missing Services and ports: reported, the routes kept (503).
    notes: Vec<String>,
}

/// Maps a snapshot to the routes, certificates and problems of the
/// Ingresses `policy` selects. Pure: the same inputs give the same output,
/// in the same order. Never panics on what the cluster holds.
pub fn map(snapshot: &Snapshot, policy: &Policy) -> Mapping {
    let mut ingresses: Vec<&Ingress> = snapshot
        .ingresses
        .iter()
        .map(|i| &**i)
        .filter(|i| selected(i, policy))
        .collect();
    // The oldest wins a conflict; manifests without a creation time (files
    // given to `wingress kube render`) come after, by namespace and name.
    ingresses.sort_by_cached_key(|i| {
        let created = i.metadata.creation_timestamp.clone();
        (created.is_none(), created, ObjectRef::of(&i.metadata))
    });

    let mut out = Mapping::default();
    let mut owners: HashMap<(HostPattern, String, PathMatch), ObjectRef> = HashMap::new();
    let mut cert_owners: HashMap<HostPattern, ObjectRef> = HashMap::new();
    let mut host_owners: HashMap<HostPattern, ObjectRef> = HashMap::new();
    for ingress in ingresses {
        let me = ObjectRef::of(&ingress.metadata);
        let mut problem = |message: String| {
            out.problems.push(Problem {
                ingress: me.clone(),
                message,
            })
        };
        let candidate = match candidate(ingress, &me, snapshot, policy) {
            Ok(c) => c,
            Err(errors) => {
                for e in errors {
                    problem(format!("skipped: {e}"));
                }
                continue;
            }
        };
        candidate.notes.into_iter().for_each(&mut problem);

        let mut won: Vec<HostPattern> = Vec::new();
        for route in candidate.routes {
            if let Some(file) = policy.reserves(&route.host) {
                problem(format!(
                    "{}: file route wins: the config file serves `{file}`",
                    describe(&route)
                ));
                continue;
            }
            if let Some(owner) = host_owners
                .get(&route.host)
                .filter(|o| o.namespace != me.namespace)
            {
                problem(format!(
                    "{}: host `{}` belongs to namespace {} (its older Ingress {owner})",
                    describe(&route),
                    route.host,
                    owner.namespace
                ));
                continue;
            }
            let key = (
                route.host.clone(),
                route.path_prefix.clone(),
                route.path_match,
            );
            match owners.get(&key) {
                Some(owner) if *owner == me => {
                    problem(format!(
                        "{}: listed twice; the first kept",
                        describe(&route)
                    ));
                }
                Some(owner) => problem(format!(
                    "{}: served by the older Ingress {owner}",
                    describe(&route)
                )),
                None => {
                    owners.insert(key, me.clone());
                    host_owners
                        .entry(route.host.clone())
                        .or_insert_with(|| me.clone());
                    if !won.contains(&route.host) {
                        won.push(route.host.clone());
                    }
                    out.routes.push(KubeRoute {
                        ingress: me.clone(),
                        route,
                    });
                }
            }
        }

        for (secret, names) in candidate.tls {
            let mut kept = Vec::new();
            for name in names {
                if let Some(owner) = cert_owners.get(&name).filter(|o| **o != me) {
                    problem(format!(
                        "tls: `{name}` keeps the certificate of the older Ingress {owner}"
                    ));
                } else if !won.contains(&name) {
                    problem(format!(
                        "tls: Secret {secret} is not used for `{name}`: this Ingress serves \
                         no route for it"
                    ));
                } else if !kept.contains(&name) {
                    kept.push(name);
                }
            }
            if kept.is_empty() {
                continue;
            }
            match certificate(snapshot, &me, &secret, kept) {
                Ok(cert) => {
                    for name in &cert.names {
                        cert_owners.insert(name.clone(), me.clone());
                    }
                    out.certificates.push(cert);
                }
                Err(e) => problem(format!(
                    "tls: {e}; its hosts get certificates as file routes do"
                )),
            }
        }
    }

    out.routes.sort_by_cached_key(|r| {
        (
            r.route.host.to_string(),
            r.route.path_prefix.clone(),
            match_rank(r.route.path_match),
        )
    });
    out.certificates
        .sort_by(|a, b| (&a.secret, &a.ingress).cmp(&(&b.secret, &b.ingress)));
    out.problems.sort_by(|a, b| a.ingress.cmp(&b.ingress));
    out
}

/// Whether the Ingress is of a configured class, in a watched namespace.
fn selected(ingress: &Ingress, policy: &Policy) -> bool {
    let k = &policy.kubernetes;
    let class = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref())
        .or_else(|| {
            ingress
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(CLASS_ANNOTATION))
                .map(String::as_str)
        });
    let namespace = ingress.metadata.namespace.as_deref().unwrap_or("default");
    class.is_some_and(|c| k.ingress_classes.iter().any(|k| k == c))
        && (k.namespaces.is_empty() || k.namespaces.iter().any(|n| n == namespace))
}

/// The Ingress's routes and TLS entries, or every mistake in it.
fn candidate(
    ingress: &Ingress,
    me: &ObjectRef,
    snapshot: &Snapshot,
    policy: &Policy,
) -> Result<Candidate, Vec<String>> {
    let mut errors = Vec::new();
    let opts = match parse_annotations(ingress.metadata.annotations.as_ref(), policy) {
        Ok(opts) => opts,
        Err(e) => {
            errors.extend(e);
            RouteOptions::default()
        }
    };
    let modes = &policy.kubernetes.access_modes;
    if errors.is_empty() && !modes.contains(&opts.access) {
        let allowed: Vec<&str> = modes.iter().map(|m| access_name(*m)).collect();
        errors.push(format!(
            "wingress.dev/access: \"{}\" is not allowed for Ingresses ([kubernetes] access_modes \
             = [{}])",
            access_name(opts.access),
            allowed.join(", ")
        ));
    }
    let source = policy.kubernetes.backends;
    let mut c = Candidate {
        routes: Vec::new(),
        tls: Vec::new(),
        notes: Vec::new(),
    };
    let spec = ingress.spec.clone().unwrap_or_default();
    let rules = spec.rules.unwrap_or_default();
    let mut hosts: Vec<HostPattern> = Vec::new();
    let mut add_host = |host: &HostPattern| {
        if !hosts.contains(host) {
            hosts.push(host.clone());
        }
    };

    for rule in &rules {
        let host = match host(rule.host.as_deref(), policy) {
            Ok(h) => h,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        add_host(&host);
        let paths = rule
            .http
            .as_ref()
            .map(|h| h.paths.as_slice())
            .unwrap_or_default();
        for path in paths {
            let path_match = match path.path_type.as_str() {
                "Exact" => PathMatch::Exact,
                // ImplementationSpecific as Prefix: whole segments, so
                // `/api` never catches `/apis`, as with every other
                // controller that reads it as a prefix of segments.
                "Prefix" | "ImplementationSpecific" => PathMatch::Segments,
                other => {
                    errors.push(format!(
                        "path type `{other}` (expected Exact, Prefix or ImplementationSpecific)"
                    ));
                    continue;
                }
            };
            let prefix = match parse_path_prefix(path.path.as_deref().unwrap_or("/")) {
                Ok(p) => p,
                Err(e) => {
                    errors.push(format!("path: {e}"));
                    continue;
                }
            };
            match backends(&path.backend, me, snapshot, source, &mut c.notes) {
                Ok(b) => c
                    .routes
                    .push(route(host.clone(), prefix, path_match, b, &opts)),
                Err(e) => errors.push(e),
            }
        }
    }

    for tls in spec.tls.as_deref().unwrap_or_default() {
        let mut names = Vec::new();
        for name in tls.hosts.as_deref().unwrap_or_default() {
            match host(Some(name), policy) {
                Ok(h) => {
                    add_host(&h);
                    names.push(h);
                }
                Err(e) => errors.push(format!("tls: {e}")),
            }
        }
        if let Some(secret) = tls.secret_name.clone().filter(|s| !s.is_empty()) {
            c.tls.push((secret, names));
        }
    }
    // A TLS entry without hosts covers the rules' hosts.
    for (_, names) in c.tls.iter_mut().filter(|(_, n)| n.is_empty()) {
        names.extend(hosts.iter().filter(|h| **h != HostPattern::Any).cloned());
    }

    match &spec.default_backend {
        Some(default) => {
            if hosts.is_empty() {
                // Only a defaultBackend: Kubernetes' catch-all.
                match host(None, policy) {
                    Ok(h) => hosts.push(h),
                    Err(e) => errors.push(e),
                }
            }
            match backends(default, me, snapshot, source, &mut c.notes) {
                Ok(b) => {
                    for h in &hosts {
                        let served = c.routes.iter().any(|r| {
                            r.host == *h && r.path_prefix == "/" && r.path_match != PathMatch::Exact
                        });
                        if !served {
                            let r =
                                route(h.clone(), "/".into(), PathMatch::Segments, b.clone(), &opts);
                            c.routes.push(r);
                        }
                    }
                }
                Err(e) => errors.push(format!("defaultBackend: {e}")),
            }
        }
        None if rules.is_empty() => {
            errors.push("no rules and no defaultBackend: nothing to serve".to_string());
        }
        None => {}
    }

    if errors.is_empty() {
        Ok(c)
    } else {
        Err(errors)
    }
}

/// A rule's or TLS entry's host, parsed as `[[route]] host` is and held
/// to `host_suffixes`. No host is Kubernetes' "any host", refused when
/// `host_suffixes` fences what Ingresses may claim.
fn host(written: Option<&str>, policy: &Policy) -> Result<HostPattern, String> {
    let k = &policy.kubernetes;
    let Some(written) = written.filter(|h| !h.is_empty()) else {
        return if k.host_suffixes.is_empty() {
            Ok(HostPattern::Any)
        } else {
            Err(
                "a rule without a host claims every host; [kubernetes] host_suffixes allows \
                 only named hosts"
                    .to_string(),
            )
        };
    };
    let pattern: HostPattern = written.parse().map_err(|e| format!("host: {e}"))?;
    let name = match &pattern {
        HostPattern::Exact(name) => name.as_str(),
        HostPattern::Wildcard(suffix) => suffix.trim_start_matches('.'),
        HostPattern::Any => "",
    };
    if pattern == HostPattern::Any && !k.host_suffixes.is_empty() || !k.admits_host(name) {
        return Err(format!(
            "host `{written}` is outside [kubernetes] host_suffixes ({})",
            k.host_suffixes.join(", ")
        ));
    }
    Ok(pattern)
}

/// The backends of an Ingress backend; a note when its Service or port
/// is missing.
fn backends(
    backend: &IngressBackend,
    me: &ObjectRef,
    snapshot: &Snapshot,
    source: BackendSource,
    notes: &mut Vec<String>,
) -> Result<Vec<wingress_config::BackendUrl>, String> {
    let Some(service) = &backend.service else {
        return Err("backend: only Service backends are served (not resource)".to_string());
    };
    let resolved = resolve(snapshot, &me.namespace, service, source)?;
    if let Some(note) = resolved.note {
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    Ok(resolved.backends)
}

fn route(
    host: HostPattern,
    path_prefix: String,
    path_match: PathMatch,
    backends: Vec<wingress_config::BackendUrl>,
    opts: &RouteOptions,
) -> RouteConfig {
    RouteConfig {
        host,
        path_prefix,
        path_match,
        backends: backends
            .into_iter()
            .map(|b| wingress_config::BackendUrl {
                scheme: opts.backend_scheme,
                ..b
            })
            .collect(),
        weights: Vec::new(),
        health_check: opts.health_check.clone(),
        access: opts.access,
        allow: opts.allow.clone(),
        forward_auth: opts.forward_auth.clone(),
        forward_auth_response_headers: Vec::new(),
        client_ca: opts.client_ca.clone(),
        entrypoints: opts.entrypoints.clone(),
        timeout: opts.timeout.unwrap_or(DEFAULT_ROUTE_TIMEOUT),
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        allow_encoded_slashes: false,
        upgrades: vec!["websocket".to_string()],
        grpc_deadline: opts.grpc_deadline,
        transport: opts.transport.clone(),
        location: (0, 0),
    }
}

/// The certificate in the Secret `name` of the Ingress's namespace.
fn certificate(
    snapshot: &Snapshot,
    me: &ObjectRef,
    name: &str,
    names: Vec<HostPattern>,
) -> Result<Certificate, String> {
    let secret_ref = ObjectRef {
        namespace: me.namespace.clone(),
        name: name.to_string(),
    };
    let Some(secret) = snapshot
        .secrets
        .iter()
        .find(|s| ObjectRef::of(&s.metadata) == secret_ref)
    else {
        return Err(format!("Secret {secret_ref} not found"));
    };
    if secret.type_.as_deref() != Some(TLS_SECRET_TYPE) {
        return Err(format!(
            "Secret {secret_ref} is not of type {TLS_SECRET_TYPE}"
        ));
    }
    let field = |key: &str| -> Option<Vec<u8>> {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .map(|s| s.as_bytes().to_vec())
            })
            .filter(|b| !b.is_empty())
    };
    let (Some(cert_pem), Some(key_pem)) = (field("tls.crt"), field("tls.key")) else {
        return Err(format!("Secret {secret_ref} lacks tls.crt or tls.key"));
    };
    Ok(Certificate {
        secret: secret_ref,
        ingress: me.clone(),
        names,
        cert_pem,
        key_pem,
    })
}

/// `host/path (Type)`, as problems name a route.
pub(crate) fn describe(route: &RouteConfig) -> String {
    let kind = match route.path_match {
        PathMatch::Exact => "Exact",
        PathMatch::Segments => "Prefix",
        PathMatch::Prefix => "string prefix",
    };
    format!("{}{} ({kind})", route.host, route.path_prefix)
}

fn match_rank(m: PathMatch) -> u8 {
    match m {
        PathMatch::Exact => 0,
        PathMatch::Segments => 1,
        PathMatch::Prefix => 2,
    }
}

/// An access mode as `wingress.dev/access` spells it.
pub(crate) fn access_name(access: wingress_config::Access) -> &'static str {
    match access {
        wingress_config::Access::Tunnel => "tunnel",
        wingress_config::Access::Mtls => "mtls",
        wingress_config::Access::ForwardAuth => "forward-auth",
        wingress_config::Access::Public => "public",
    }
}

#[cfg(test)]
#[path = "map_tests.rs"]
mod tests;
