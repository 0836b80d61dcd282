//! Kubernetes discovery's connection to the API server: the kube-rs
//! client, the watchers of Ingress, Service, EndpointSlice and
//! `kubernetes.io/tls` Secret objects, and the writes back (Ingress
//! status, Events). It produces [`wingress_kube::Snapshot`]s; `control/`
//! maps them to routes and reports back what it accepted and rejected.
//!
//! Call order: [`spawn`] once with the [`WatchOptions`]; read snapshots
//! from [`KubeWatch::snapshots`] (`None` until every initial list has
//! completed, then the newest; a slow reader skips to the latest, nothing
//! queues); after mapping each one, hand the outcome to
//! [`StatusWriterHandle::report`]; read [`HealthHandle::get`] for the
//! status; [`KubeWatch::shutdown`] (or drop) at the end.
//!
//! Everything here runs on its own thread (`kube`) with its own
//! single-threaded tokio runtime, not on the data plane's: the initial
//! lists of a large cluster are megabytes of JSON, parsed and trimmed in
//! one go, and the data plane's thread must not stall on them; and a
//! client that waits on a dead API server must not hold up packets.
//! Snapshots cross over through a `tokio::sync::watch` channel (the
//! newest wins), health through a mutex, outcomes through another watch
//! channel.
//!
//! The parts: `client.rs` (in-cluster or kubeconfig credentials),
//! `driver.rs` (the thread: watch streams, the loop), and the sans-IO
//! pieces it drives: `trim.rs` (objects cut to what the mapping reads),
//! `store.rs` (per-stream stores, the initial-list barrier, snapshots),
//! `pacer.rs` (barrier and debounce timing), `health.rs` (how stale the
//! routes are), `status.rs` (which Ingress statuses to write) and
//! `events.rs` (which problems to post as Events).

mod client;
mod driver;
mod events;
mod health;
mod pacer;
mod status;
mod store;
mod trim;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use tokio::sync::{oneshot, watch};
use wingress_kube::Snapshot;
use wingress_sync::lock;

pub(crate) use events::IngressProblem;
pub(crate) use health::KubeHealth;
pub(crate) use store::ObjectKey;

/// What the connection needs from `[kubernetes]`; `control/` fills it
/// from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WatchOptions {
    /// A kubeconfig file; `None`: the in-cluster service account.
    pub(crate) kubeconfig: Option<PathBuf>,
    /// The namespaces watched, one watch per kind in each; empty: one
    /// cluster-wide watch per kind.
    pub(crate) namespaces: Vec<String>,
    /// How long changes settle before a new snapshot is built.
    pub(crate) debounce: Duration,
    /// The address written into accepted Ingresses' status (an IP address,
    /// else a host name); `None`: statuses are left alone.
    pub(crate) status_address: Option<String>,
    /// The reporting instance of Events (the node's name, e.g. from the
    /// downward API); `None`: the host name, else `wingress`.
    pub(crate) reporter_instance: Option<String>,
}

/// A watch stream: a kind, and which namespace of
/// [`WatchOptions::namespaces`] (0 for the cluster-wide one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct StreamId {
    /// The kind watched.
    pub(crate) kind: Kind,
    /// The namespace's index.
    pub(crate) index: usize,
}

/// The kinds watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    /// networking.k8s.io/v1 Ingress.
    Ingress,
    /// v1 Service.
    Service,
    /// discovery.k8s.io/v1 EndpointSlice.
    EndpointSlice,
    /// v1 Secret of type `kubernetes.io/tls`.
    Secret,
}

impl Kind {
    /// The kind's name, for logs and errors.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Ingress => "Ingress",
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Secret => "Secret",
        }
    }
}

/// What the mapping made of the last snapshot: the Ingresses it turned
/// into routes (their status gets the address) and those it skipped (an
/// Event each).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MappingOutcome {
    /// Accepted Ingresses, by namespace and name.
    pub(crate) accepted: Vec<ObjectKey>,
    /// Skipped Ingresses and why.
    pub(crate) problems: Vec<IngressProblem>,
}

/// Reads the connection's health; cheap to clone, usable from any thread.
#[derive(Debug, Clone, Default)]
pub(crate) struct HealthHandle {
    /// Written by the `kube` thread.
    health: Arc<Mutex<KubeHealth>>,
}

impl HealthHandle {
    /// The health now.
    pub(crate) fn get(&self) -> KubeHealth {
        lock(&self.health).clone()
    }

    /// Replaces the health (the `kube` thread).
    fn set(&self, health: &KubeHealth) {
        lock(&self.health).clone_from(health);
    }
}

/// Hands the mapping's outcome to the status writer and the Event poster;
/// cheap to clone. Only the newest outcome counts.
#[derive(Debug, Clone)]
pub(crate) struct StatusWriterHandle {
    /// Read by the `kube` thread.
    outcome: Arc<watch::Sender<Arc<MappingOutcome>>>,
}

impl StatusWriterHandle {
    /// The mapping of the newest snapshot produced `outcome`.
    pub(crate) fn report(&self, outcome: MappingOutcome) {
        self.outcome.send_replace(Arc::new(outcome));
    }
}

/// The running connection: its thread and what it hands out.
#[derive(Debug)]
pub(crate) struct KubeWatch {
    /// The newest snapshot; `None` until every initial list completed.
    pub(crate) snapshots: watch::Receiver<Option<Arc<Snapshot>>>,
    /// The connection's health.
    pub(crate) health: HealthHandle,
    /// Where the mapping's outcome goes.
    pub(crate) status: StatusWriterHandle,
    /// Tells the thread to stop.
    stop: Option<oneshot::Sender<()>>,
    /// The `kube` thread.
    thread: Option<JoinHandle<()>>,
}

impl KubeWatch {
    /// Stops the watches and waits for the thread to end.
    pub(crate) fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::warn!("the kube thread panicked");
            }
        }
    }
}

impl Drop for KubeWatch {
    fn drop(&mut self) {
        // Not joined: a drop must not block the data plane's thread.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the `kube` thread: loads the credentials (in-cluster, or the
/// kubeconfig), builds the client and starts the watches. Returns once
/// the client is built; an error here (not in a cluster, an unreadable
/// kubeconfig) is a start-up error. Everything after (the API server
/// refusing, going away, `410 Gone`) is retried with backoff and shown in
/// the health, never returned.
pub(crate) fn spawn(mut options: WatchOptions) -> Result<KubeWatch> {
    // One watch per namespace: a namespace listed twice would list its
    // objects twice.
    options.namespaces.sort();
    options.namespaces.dedup();
    let (snapshots_tx, snapshots) = watch::channel(None);
    let (outcome_tx, outcome_rx) = watch::channel(Arc::new(MappingOutcome::default()));
    let health = HealthHandle::default();
    let (stop_tx, stop_rx) = oneshot::channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let channels = driver::Channels {
        snapshots: snapshots_tx,
        outcome: outcome_rx,
        health: health.clone(),
        stop: stop_rx,
    };
    let thread = std::thread::Builder::new()
        .name("kube".into())
        .spawn(move || driver::run_thread(options, channels, ready_tx))
        .context("cannot start the kube thread")?;
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            let _ = thread.join();
            return Err(e);
        }
        Err(_) => {
            let _ = thread.join();
            return Err(anyhow!("the kube thread ended before its client was built"));
        }
    }
    Ok(KubeWatch {
        snapshots,
        health,
        status: StatusWriterHandle {
            outcome: Arc::new(outcome_tx),
        },
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
