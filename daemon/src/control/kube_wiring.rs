//! Kubernetes discovery in the daemon (`[kubernetes] enabled = true`):
//! starts the connection (`crate::kube`), applies every snapshot through
//! the same prepare/apply path as a reload, and reports what the mapping
//! accepted and rejected back to the cluster (Ingress status, Events), to
//! `wingress status` (the `kubernetes` section) and to the metrics.
//!
//! Call order: [`attach`] once at start-up, after the first config is
//! applied and before the daemon reports ready; it spawns the task that
//! waits for snapshots on the data plane's runtime and registers the
//! status section and the shutdown hook; `control::metrics` renders the
//! numbers of [`metrics`].
//! `control::reload` calls [`merge`] for every file reload, so the routes
//! of the last snapshot stay, and [`publish`] after it applied.
//!
//! One snapshot is applied at a time, and never during a file reload
//! (both hold `Daemon::reloading`). The effective config is the file's,
//! with the mapped routes appended: the mapping already left out what the
//! file's routes claim, and the result goes through `reload::prepare`
//! like any file. A snapshot that fails there is reported and the routes
//! in effect keep serving; connections stay open either way.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Result;
use serde_json::{json, Value};
use wingress_config::{KubernetesConfig, ServerConfig, StatusAddress};
use wingress_kube::{Mapping, ObjectRef, Policy, Snapshot};
use wingress_tls::MemoryCert;

use crate::control::reload;
use crate::control::state::{Daemon, DaemonRef};
use crate::kube::{self, IngressProblem, MappingOutcome, ObjectKey, WatchOptions};

/// The Event reason of an Ingress the mapping skipped (or whose route
/// lost a conflict).
const REASON_ROUTE: &str = "RouteRejected";
/// The Event reason of an Ingress whose TLS Secret is not served.
const REASON_CERTIFICATE: &str = "CertificateRejected";

/// The connection's options from `[kubernetes]`.
fn watch_options(k: &KubernetesConfig) -> WatchOptions {
    WatchOptions {
        kubeconfig: k.kubeconfig.clone(),
        namespaces: k.namespaces.clone(),
        debounce: k.debounce,
        status_address: k.status_address.as_ref().map(|a| match a {
            StatusAddress::Ip(ip) => ip.to_string(),
            StatusAddress::Hostname(name) => name.clone(),
        }),
        reporter_instance: std::env::var("NODE_NAME").ok().filter(|n| !n.is_empty()),
    }
}

/// What a reload from `old` to `new` changed of the connection, which
/// keeps its start-up options (`enabled`, `kubeconfig`, `namespaces`,
/// `debounce`, `status_address`) until a restart; the mapping's keys
/// (classes, backends, host suffixes, access modes, client CAs) apply.
pub(crate) fn restart_note(old: &KubernetesConfig, new: &KubernetesConfig) -> Option<String> {
    let changed =
        old.enabled != new.enabled || (old.enabled && watch_options(old) != watch_options(new));
    changed.then(|| {
        "[kubernetes] enabled, kubeconfig, namespaces, debounce or status_address".to_string()
    })
}

/// Starts discovery when `[kubernetes]` is on: the `kube` thread, the task
/// that applies its snapshots, the status section and the shutdown hook
/// (the metrics follow from the health handle set here). An error (no in-cluster credentials, an unreadable
/// kubeconfig) is a start-up error.
pub(crate) fn attach(d: &DaemonRef) -> Result<()> {
    let k = d.kube.file_config.borrow().kubernetes.clone();
    if !k.enabled {
        return Ok(());
    }
    let watch = kube::spawn(watch_options(&k))?;
    *d.kube.health.borrow_mut() = Some(watch.health.clone());
    *d.kube.status.borrow_mut() = Some(watch.status.clone());
    let mut snapshots = watch.snapshots.clone();
    {
        let d = Rc::clone(d);
        tokio::task::spawn_local(async move {
            while snapshots.changed().await.is_ok() {
                let Some(snapshot) = snapshots.borrow_and_update().clone() else {
                    continue;
                };
                if d.health.draining() {
                    return;
                }
                apply_snapshot(&d, snapshot).await;
            }
        });
    }
    {
        let d = Rc::clone(d);
        d.clone()
            .sections
            .register("kubernetes", move || status_section(&d));
    }
    let mut watch = Some(watch);
    d.hooks.register("stop Kubernetes discovery", move || {
        Box::pin(async move {
            if let Some(watch) = watch.take() {
                // Joins the thread: not on the data plane's thread.
                let _ = tokio::task::spawn_blocking(move || watch.shutdown()).await;
            }
        })
    });
    tracing::info!(
        kubeconfig = ?k.kubeconfig,
        namespaces = ?k.namespaces,
        classes = ?k.ingress_classes,
        "Kubernetes discovery started"
    );
    Ok(())
}

/// Applies the routes of `snapshot` (with the file's config) as a reload
/// would; a failure keeps the routes in effect and is reported.
async fn apply_snapshot(d: &DaemonRef, snapshot: Arc<Snapshot>) {
    let _one = d.reloading.lock().await;
    let file = d.kube.file_config.borrow().clone();
    let (merged, mapping) = merge_with(&file, Some(&snapshot));
    match reload::prepare(d, merged).await {
        Ok(plan) => {
            let applied = reload::apply(d, plan);
            for change in &applied.changes {
                tracing::info!(change = %change, "routes from Kubernetes applied");
            }
            *d.kube.snapshot.borrow_mut() = Some(snapshot);
            {
                let mut o = d.kube.outcome.borrow_mut();
                o.snapshots_applied += 1;
                o.last_error = None;
            }
            if let Some(mapping) = mapping {
                publish(d, &mapping);
            }
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "routes from Kubernetes rejected; the previous routes keep serving");
            let mut o = d.kube.outcome.borrow_mut();
            o.snapshots_failed += 1;
            o.last_error = Some(format!("{e:#}"));
        }
    }
}

/// The config to run for the file's config `file`: with discovery on and
/// a snapshot applied before, the routes that snapshot maps to under the
/// file's policy are appended (and the mapping is returned, for
/// [`publish`] once applied).
pub(crate) fn merge(d: &Daemon, file: &ServerConfig) -> (ServerConfig, Option<Mapping>) {
    let snapshot = d.kube.snapshot.borrow().clone();
    merge_with(file, snapshot.as_deref())
}

/// [`merge`] with the snapshot given.
fn merge_with(file: &ServerConfig, snapshot: Option<&Snapshot>) -> (ServerConfig, Option<Mapping>) {
    let mut cfg = file.clone();
    let Some(snapshot) = snapshot.filter(|_| file.kubernetes.enabled) else {
        return (cfg, None);
    };
    let mut mapping = wingress_kube::map(snapshot, &Policy::from_config(file));
    cfg.routes
        .extend(mapping.routes.iter().map(|r| r.route.clone()));
    oldest_first(&mut mapping, snapshot);
    (cfg, Some(mapping))
}

/// Orders the mapping's certificates by the age of their Ingress (oldest
/// first, as the mapping decides conflicts), then by Secret.
fn oldest_first(mapping: &mut Mapping, snapshot: &Snapshot) {
    let mut ages: Vec<_> = snapshot
        .ingresses
        .iter()
        .map(|i| {
            let created = i.metadata.creation_timestamp.clone();
            (created.is_none(), created, ObjectRef::of(&i.metadata))
        })
        .collect();
    ages.sort();
    let rank: HashMap<ObjectRef, usize> = ages
        .into_iter()
        .enumerate()
        .map(|(n, (_, _, r))| (r, n))
        .collect();
    mapping
        .certificates
        .sort_by_key(|c| (rank.get(&c.ingress).copied(), c.secret.clone()));
}

/// The key the `kube` connection knows an Ingress by.
fn key(r: &ObjectRef) -> ObjectKey {
    (r.namespace.clone(), r.name.clone())
}

/// After the config with `mapping`'s routes was applied: hands its
/// certificates to the HTTPS service, and reports what was accepted and
/// what not (status, Events, `wingress status`).
pub(crate) fn publish(d: &Daemon, mapping: &Mapping) {
    let mut ids = HashMap::new();
    let certs: Vec<MemoryCert> = mapping
        .certificates
        .iter()
        .map(|c| {
            let id = format!("{} ({})", c.secret, c.ingress);
            ids.insert(id.clone(), c.ingress.clone());
            MemoryCert {
                id,
                names: c.names.iter().map(ToString::to_string).collect(),
                cert_pem: c.cert_pem.clone(),
                key_pem: c.key_pem.clone(),
            }
        })
        .collect();
    let mut problems: Vec<IngressProblem> = mapping
        .problems
        .iter()
        .map(|p| IngressProblem {
            ingress: key(&p.ingress),
            reason: REASON_ROUTE.to_string(),
            message: p.message.clone(),
        })
        .collect();
    for e in d.https.set_memory_certs(certs) {
        let Some(ingress) = ids.get(&e.id) else {
            continue;
        };
        let kept = if e.kept_previous {
            "; the previous version keeps serving"
        } else {
            ""
        };
        problems.push(IngressProblem {
            ingress: key(ingress),
            reason: REASON_CERTIFICATE.to_string(),
            message: format!("certificate {}: {}{kept}", e.id, e.error),
        });
    }
    for p in &problems {
        tracing::warn!(ingress = %format!("{}/{}", p.ingress.0, p.ingress.1), problem = %p.message, "Ingress problem");
    }
    let accepted: BTreeSet<ObjectKey> = mapping.routes.iter().map(|r| key(&r.ingress)).collect();
    {
        let mut o = d.kube.outcome.borrow_mut();
        o.routes = mapping.routes.len();
        o.problems = problems
            .iter()
            .map(|p| format!("{}/{}: {}", p.ingress.0, p.ingress.1, p.message))
            .collect();
    }
    if let Some(status) = &*d.kube.status.borrow() {
        status.report(MappingOutcome {
            accepted: accepted.into_iter().collect(),
            problems,
        });
    }
}

/// Seconds from `t` to now (0 for a time in the future).
fn age_secs(t: SystemTime) -> u64 {
    SystemTime::now()
        .duration_since(t)
        .map_or(0, |d| d.as_secs())
}

/// The `kubernetes` section of the status document.
fn status_section(d: &Daemon) -> Value {
    let health = d.kube.health.borrow().as_ref().map(|h| h.get());
    let health = health.unwrap_or_default();
    let o = d.kube.outcome.borrow();
    let [ingresses, services, endpoint_slices, secrets] = health.objects;
    json!({
        "synced": health.synced,
        "objects": {
            "ingresses": ingresses,
            "services": services,
            "endpoint_slices": endpoint_slices,
            "secrets": secrets,
        },
        "stale": health.broken_since.is_some(),
        "stale_secs": health.broken_since.map(age_secs),
        "last_contact_secs": health.last_contact.map(age_secs),
        "last_snapshot_secs": health.last_snapshot.map(age_secs),
        "error": health.error,
        "write_error": health.write_error,
        "routes": o.routes,
        "problems": o.problems,
        "snapshots_applied": o.snapshots_applied,
        "snapshots_failed": o.snapshots_failed,
        "last_apply_error": o.last_error,
    })
}

/// The numbers behind the `wingress_kube_*` metric families, which
/// `control::metrics` renders.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KubeMetrics {
    /// Whether every initial list from the API server completed.
    pub(crate) synced: bool,
    /// Routes from Ingresses in effect.
    pub(crate) routes: usize,
    /// Ingresses (or their certificates) skipped by the last mapping.
    pub(crate) problems: usize,
    /// Seconds since the API server last answered (none before it did).
    pub(crate) last_contact_age_secs: Option<f64>,
    /// Whether a watch of the API server is failing.
    pub(crate) stale: bool,
    /// Snapshots whose routes were applied.
    pub(crate) snapshots_applied: u64,
    /// Snapshots whose routes could not be applied.
    pub(crate) snapshots_failed: u64,
}

/// The numbers of the `wingress_kube_*` metric families; `None` while
/// discovery is off (then the families are left out).
pub(crate) fn metrics(d: &Daemon) -> Option<KubeMetrics> {
    let health = d.kube.health.borrow().as_ref().map(|h| h.get())?;
    let o = d.kube.outcome.borrow();
    Some(KubeMetrics {
        synced: health.synced,
        routes: o.routes,
        problems: o.problems.len(),
        last_contact_age_secs: health.last_contact.map(|contact| {
            SystemTime::now()
                .duration_since(contact)
                .map_or(0.0, |d| d.as_secs_f64())
        }),
        stale: health.broken_since.is_some(),
        snapshots_applied: o.snapshots_applied,
        snapshots_failed: o.snapshots_failed,
    })
}

#[cfg(test)]
#[path = "kube_wiring_tests.rs"]
mod tests;
