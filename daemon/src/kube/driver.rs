//! The `kube` thread: its runtime, the watch streams and the loop that
//! feeds their events to the stores, builds snapshots when the pacer says
//! so, writes Ingress statuses and posts Events for the mapping's
//! outcome, and probes failing streams.
//!
//! One task runs the loop, so the stores, the pacer and the planners need
//! no locks; the writes (status PATCHes, Event POSTs) and probes run as
//! tasks of their own on the same runtime (at most [`WRITES_IN_FLIGHT`]
//! writes at once) and report back over a channel, so a slow API server
//! never holds up the watches. Failed status writes are planned again
//! after 10 s, doubling to 5 minutes while they keep failing; a failed
//! Event is posted with the next outcome.
//!
//! Every watch stream is kube-runtime's `watcher` (paginated list, then a
//! watch from the list's resource version, with bookmarks) behind
//! kube-runtime's default backoff policy (0.8 s doubling to 30 s, with
//! jitter), reset only when objects arrive (`WatchBackoff`: kube-runtime's
//! own backoff stream resets on the `Init` that starts every list
//! attempt, so a failing list would be retried every second). On `410 Gone` the watcher lists again from
//! scratch: `Init`, the objects, `InitDone`; the stores keep the last
//! complete listing until then. When a watch ends (the server's timeout,
//! or 295 s without a byte) it resumes from the last resource version.
//! A 401 or 403 is an error like any other: shown in the health, retried
//! with backoff; the token is re-read from its file as it rotates (see
//! `client.rs`).

use std::fmt::Debug;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use futures_util::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::events::Reporter;
use kube::runtime::watcher::{self, watcher, DefaultBackoff, Event};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use wingress_kube::Snapshot;

use super::events::{self, EventDedup, IngressProblem};
use super::health::HealthTracker;
use super::pacer::Pacer;
use super::status::{StatusAddress, StatusPlanner};
use super::store::{key_of, ObjectKey, Store, Stores};
use super::trim::Trimmed;
use super::{client, HealthHandle, Kind, MappingOutcome, StreamId, WatchOptions};

/// The field selector of the Secret watches: only TLS Secrets.
const TLS_SECRETS: &str = "type=kubernetes.io/tls";
/// How often failing streams are probed.
const PROBE_EVERY: Duration = Duration::from_secs(10);
/// Status PATCHes and Event POSTs in flight at once (the first snapshot
/// of a large cluster may have thousands of statuses to write).
const WRITES_IN_FLIGHT: usize = 8;
/// The first pause before failed status writes are planned again;
/// doubled after each round that fails, up to [`STATUS_RETRY_MAX`].
const STATUS_RETRY_MIN: Duration = Duration::from_secs(10);
/// The longest pause between rounds of failed status writes.
const STATUS_RETRY_MAX: Duration = Duration::from_secs(300);
/// The controller name in Events.
const CONTROLLER: &str = "wingress";

/// The ends of the channels the thread serves.
pub(super) struct Channels {
    /// Where snapshots go.
    pub(super) snapshots: watch::Sender<Option<Arc<Snapshot>>>,
    /// The mapping's outcomes.
    pub(super) outcome: watch::Receiver<Arc<MappingOutcome>>,
    /// Where the health goes.
    pub(super) health: HealthHandle,
    /// Stops the thread.
    pub(super) stop: oneshot::Receiver<()>,
}

/// The thread's body: builds the runtime and the client, says whether
/// that worked on `ready`, then runs the loop until told to stop.
pub(super) fn run_thread(options: WatchOptions, channels: Channels, ready: SyncSender<Result<()>>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    rt.block_on(async move {
        let client = match client::client(options.kubeconfig.as_deref()).await {
            Ok(c) => c,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        Driver::new(client, options, channels).run().await;
    });
}

/// One watch stream per namespace of one kind, merged; each item tagged
/// with its namespace's index.
type WatchStream<K> = BoxStream<'static, (usize, Result<Event<K>, watcher::Error>)>;

/// A finished write or probe.
enum Done {
    /// A probe of a failing stream, sent at `sent`.
    Probe {
        stream: StreamId,
        sent: SystemTime,
        result: Result<(), kube::Error>,
    },
    /// A status PATCH.
    Status {
        key: ObjectKey,
        result: Result<(), kube::Error>,
    },
    /// An Event POST.
    Event {
        problem: IngressProblem,
        result: Result<(), kube::Error>,
    },
}

/// The loop's state.
struct Driver {
    /// The API client.
    client: Client,
    /// The namespaces watched (empty: all).
    namespaces: Vec<String>,
    /// Who posts Events.
    reporter: Reporter,
    /// What the watches have seen.
    stores: Stores,
    /// When to build a snapshot.
    pacer: Pacer,
    /// How healthy the streams are.
    health: HealthTracker,
    /// The status writer; `None` without a status address.
    status: Option<StatusPlanner>,
    /// Which problems were posted.
    dedup: EventDedup,
    /// When failed status writes are planned again, if any failed.
    status_retry_at: Option<Instant>,
    /// The pause before the next round of retries.
    status_retry_pause: Duration,
    /// Streams with a probe in flight.
    probing: std::collections::BTreeSet<StreamId>,
    /// Caps the writes in flight.
    writes: Arc<Semaphore>,
    /// Where writes and probes report.
    done_tx: mpsc::UnboundedSender<Done>,
    /// Their reports.
    done_rx: mpsc::UnboundedReceiver<Done>,
    /// The channels served.
    channels: Channels,
}

impl Driver {
    /// A driver with empty stores.
    fn new(client: Client, options: WatchOptions, channels: Channels) -> Driver {
        // Unbounded, but never more in it than the writes and probes
        // started, which the semaphore and `probing` bound.
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Driver {
            client,
            stores: Stores::new(options.namespaces.len()),
            pacer: Pacer::new(options.debounce),
            health: HealthTracker::new(),
            status: options
                .status_address
                .as_deref()
                .map(|a| StatusPlanner::new(StatusAddress::parse(a))),
            dedup: EventDedup::new(),
            status_retry_at: None,
            status_retry_pause: STATUS_RETRY_MIN,
            reporter: Reporter {
                controller: CONTROLLER.to_string(),
                instance: options.reporter_instance,
            },
            namespaces: options.namespaces,
            probing: std::collections::BTreeSet::new(),
            writes: Arc::new(Semaphore::new(WRITES_IN_FLIGHT)),
            done_tx,
            done_rx,
            channels,
        }
    }

    /// Runs until stopped.
    async fn run(mut self) {
        let mut ingresses = self.watch::<Ingress>(watcher::Config::default());
        let mut services = self.watch::<Service>(watcher::Config::default());
        let mut slices = self.watch::<EndpointSlice>(watcher::Config::default());
        let mut secrets = self.watch::<Secret>(watcher::Config::default().fields(TLS_SECRETS));
        let mut probe = tokio::time::interval(PROBE_EVERY);
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut outcome_open = true;
        tracing::info!(
            namespaces = self.namespaces.len(),
            "watching Ingress, Service, EndpointSlice and TLS Secret objects"
        );
        loop {
            let due = self.pacer.poll_timeout();
            let sleep = tokio::time::sleep_until(
                due.map_or_else(tokio::time::Instant::now, tokio::time::Instant::from_std),
            );
            tokio::select! {
                _ = &mut self.channels.stop => break,
                Some((i, r)) = ingresses.next() => self.on_ingress(i, r),
                Some((i, r)) = services.next() => {
                    self.on_watch(Kind::Service, i, r, |s| &mut s.services);
                }
                Some((i, r)) = slices.next() => {
                    self.on_watch(Kind::EndpointSlice, i, r, |s| &mut s.endpoint_slices);
                }
                Some((i, r)) = secrets.next() => self.on_watch(Kind::Secret, i, r, |s| &mut s.secrets),
                () = sleep, if due.is_some() => self.build(),
                changed = self.channels.outcome.changed(), if outcome_open => match changed {
                    Ok(()) => self.on_outcome(),
                    Err(_) => outcome_open = false,
                },
                _ = probe.tick() => {
                    self.probe();
                    self.retry_statuses();
                }
                Some(done) = self.done_rx.recv() => self.on_done(done),
            }
            self.channels.health.set(self.health.view());
        }
        tracing::debug!("Kubernetes watches stopped");
    }

    /// The merged watch streams of `K`, objects trimmed as they arrive.
    fn watch<K>(&self, config: watcher::Config) -> WatchStream<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + Debug
            + Default
            + DeserializeOwned
            + Send
            + Trimmed
            + 'static,
    {
        let apis: Vec<Api<K>> = if self.namespaces.is_empty() {
            vec![Api::all(self.client.clone())]
        } else {
            self.namespaces
                .iter()
                .map(|ns| Api::namespaced(self.client.clone(), ns))
                .collect()
        };
        stream::select_all(apis.into_iter().enumerate().map(|(i, api)| {
            with_backoff(watcher(api, config.clone()))
                .map(move |r| (i, r.map(|e| e.modify(|o| *o = std::mem::take(o).trim()))))
                .boxed()
        }))
        .boxed()
    }

    /// An Ingress stream's event: stored, then the status of what it
    /// touched checked.
    fn on_ingress(&mut self, index: usize, result: Result<Event<Ingress>, watcher::Error>) {
        let touched = match &result {
            Ok(Event::Apply(obj)) => Some(vec![key_of(obj)]),
            Ok(Event::InitDone) => self.status.as_ref().map(StatusPlanner::keys),
            _ => None,
        };
        self.on_watch(Kind::Ingress, index, result, |s| &mut s.ingresses);
        if let (Some(keys), Some(planner)) = (touched, self.status.as_mut()) {
            let todo = planner.plan(&self.stores, &keys);
            self.write_statuses(todo);
        }
    }

    /// A stream's event or error: into its store and the health.
    fn on_watch<K: Resource + Trimmed + Clone>(
        &mut self,
        kind: Kind,
        index: usize,
        result: Result<Event<K>, watcher::Error>,
        pick: fn(&mut Stores) -> &mut Vec<Store<K>>,
    ) {
        let stream = StreamId { kind, index };
        match result {
            Ok(event) => {
                self.health.handle_event(stream, SystemTime::now());
                let changed = pick(&mut self.stores)
                    .get_mut(index)
                    .is_some_and(|s| s.handle(event));
                if changed {
                    self.pacer
                        .handle_change(Instant::now(), self.stores.all_listed());
                }
            }
            Err(e) => {
                let first = !self.health.failing().any(|s| s == stream);
                let namespace = self.namespaces.get(index).map_or("*", String::as_str);
                if first {
                    tracing::warn!(kind = kind.as_str(), namespace, error = %e,
                        "Kubernetes watch failed; serving the last known routes, retrying");
                } else {
                    tracing::debug!(kind = kind.as_str(), namespace, error = %e,
                        "Kubernetes watch failed again");
                }
                let error = format!("{} watch: {e}", kind.as_str());
                self.health.handle_error(stream, error, SystemTime::now());
            }
        }
    }

    /// Builds and hands out a snapshot if one is due.
    fn build(&mut self) {
        let first = !self.pacer.first_built();
        if !self.pacer.handle_timeout(Instant::now()) {
            return;
        }
        let snapshot = Arc::new(self.stores.snapshot());
        let [ingresses, services, endpoint_slices, secrets] = self.stores.counts();
        if first {
            tracing::info!(
                ingresses,
                services,
                endpoint_slices,
                secrets,
                "Kubernetes initial lists complete"
            );
        } else {
            tracing::debug!(
                ingresses,
                services,
                endpoint_slices,
                secrets,
                "Kubernetes snapshot"
            );
        }
        self.channels.snapshots.send_replace(Some(snapshot));
        self.health
            .handle_snapshot(self.stores.counts(), SystemTime::now());
    }

    /// The mapping's newest outcome: statuses written, problems posted.
    fn on_outcome(&mut self) {
        let outcome = Arc::clone(&self.channels.outcome.borrow_and_update());
        if let Some(planner) = self.status.as_mut() {
            planner.set_accepted(outcome.accepted.iter().cloned());
            let keys = planner.keys();
            let todo = planner.plan(&self.stores, &keys);
            self.write_statuses(todo);
        }
        let posts: Vec<IngressProblem> = self
            .dedup
            .select(&outcome.problems, Instant::now())
            .into_iter()
            .cloned()
            .collect();
        for problem in posts {
            let Some(ingress) = self.stores.ingress(&problem.ingress) else {
                // Not stored (yet): posted with a later outcome.
                self.dedup.handle_failed(&problem);
                continue;
            };
            let reference = ingress.object_ref(&());
            let (client, reporter) = (self.client.clone(), self.reporter.clone());
            let (writes, done) = (Arc::clone(&self.writes), self.done_tx.clone());
            tokio::spawn(async move {
                let _permit = writes.acquire().await;
                let result = events::publish(client, reporter, &problem, reference).await;
                let _ = done.send(Done::Event { problem, result });
            });
        }
    }

    /// PATCHes the status of each key of `writes` with its merge patch.
    fn write_statuses(&self, writes: Vec<(ObjectKey, serde_json::Value)>) {
        for (key, body) in writes {
            let api: Api<Ingress> = Api::namespaced(self.client.clone(), &key.0);
            let (writes, done) = (Arc::clone(&self.writes), self.done_tx.clone());
            tokio::spawn(async move {
                let _permit = writes.acquire().await;
                let result = api
                    .patch_status(&key.1, &PatchParams::default(), &Patch::Merge(&body))
                    .await
                    .map(drop);
                let _ = done.send(Done::Status { key, result });
            });
        }
    }

    /// Plans every Ingress the status writer looks after again once the retry pause after a
    /// failed status write has passed (checked on the probe tick).
    fn retry_statuses(&mut self) {
        let now = Instant::now();
        if self.status_retry_at.is_none_or(|at| at > now) {
            return;
        }
        self.status_retry_at = None;
        if let Some(planner) = self.status.as_mut() {
            let keys = planner.keys();
            let todo = planner.plan(&self.stores, &keys);
            self.write_statuses(todo);
        }
    }

    /// Probes each failing stream that has no probe in flight: a one-item
    /// list of its kind in its namespace.
    fn probe(&mut self) {
        let streams: Vec<StreamId> = self
            .health
            .failing()
            .filter(|s| !self.probing.contains(s))
            .collect();
        for stream in streams {
            self.probing.insert(stream);
            let namespace = self.namespaces.get(stream.index).cloned();
            let (client, done) = (self.client.clone(), self.done_tx.clone());
            let sent = SystemTime::now();
            tokio::spawn(async move {
                let result = probe(client, stream.kind, namespace).await;
                let _ = done.send(Done::Probe {
                    stream,
                    sent,
                    result,
                });
            });
        }
    }

    /// A write or probe finished.
    fn on_done(&mut self, done: Done) {
        match done {
            Done::Probe {
                stream,
                sent,
                result,
            } => {
                self.probing.remove(&stream);
                if result.is_ok() {
                    self.health.handle_probe(stream, sent, SystemTime::now());
                }
            }
            Done::Status { key, result } => match result {
                Ok(()) => {
                    self.health.handle_write(None);
                    self.status_retry_pause = STATUS_RETRY_MIN;
                }
                Err(e) => {
                    if self.status_retry_at.is_none() {
                        self.status_retry_at = Some(Instant::now() + self.status_retry_pause);
                        self.status_retry_pause =
                            (self.status_retry_pause * 2).min(STATUS_RETRY_MAX);
                    }
                    if self.health.view().write_error.is_none() {
                        tracing::warn!(namespace = %key.0, ingress = %key.1, error = %e,
                            "cannot write the Ingress status; retrying with backoff");
                    } else {
                        tracing::debug!(namespace = %key.0, ingress = %key.1, error = %e,
                            "cannot write the Ingress status");
                    }
                    self.health
                        .handle_write(Some(format!("status of {}/{}: {e}", key.0, key.1)));
                    if let Some(planner) = self.status.as_mut() {
                        planner.handle_failed(&key);
                    }
                }
            },
            Done::Event { problem, result } => match result {
                Ok(()) => self.health.handle_write(None),
                Err(e) => {
                    let (ns, name) = &problem.ingress;
                    if self.health.view().write_error.is_none() {
                        tracing::warn!(namespace = %ns, ingress = %name, error = %e,
                            "cannot post the Event");
                    } else {
                        tracing::debug!(namespace = %ns, ingress = %name, error = %e,
                            "cannot post the Event");
                    }
                    self.health
                        .handle_write(Some(format!("Event for {ns}/{name}: {e}")));
                    self.dedup.handle_failed(&problem);
                }
            },
        }
    }
}

/// The backoff of one watch stream: kube-runtime's default policy (0.8 s
/// doubling to 30 s, with jitter), reset only when objects arrive.
/// kube-runtime's own backoff stream resets on any `Ok`, and the watcher
/// yields `Init` before every list attempt, so a list that keeps failing
/// (a 403, a refused connection) would be retried every second forever,
/// from every node.
#[derive(Default)]
struct WatchBackoff {
    /// kube-runtime's policy.
    policy: DefaultBackoff,
}

impl WatchBackoff {
    /// How long to pause before polling the stream again after `item`.
    fn pause_after<K, E>(&mut self, item: &Result<Event<K>, E>) -> Option<Duration> {
        match item {
            Err(_) => self.policy.next(),
            Ok(Event::Init) => None,
            Ok(_) => {
                kube::runtime::utils::Backoff::reset(&mut self.policy);
                None
            }
        }
    }
}

/// `watch` paused after each error as [`WatchBackoff`] says.
fn with_backoff<K, E>(
    watch: impl futures_util::Stream<Item = Result<Event<K>, E>> + Send + 'static,
) -> impl futures_util::Stream<Item = Result<Event<K>, E>> + Send + 'static
where
    K: Send + 'static,
    E: Send + 'static,
{
    let state = (watch.boxed(), WatchBackoff::default(), None::<Duration>);
    stream::unfold(state, |(mut watch, mut backoff, pause)| async move {
        if let Some(pause) = pause {
            tokio::time::sleep(pause).await;
        }
        let item = watch.next().await?;
        let pause = backoff.pause_after(&item);
        Some((item, (watch, backoff, pause)))
    })
}

/// A one-item list of `kind` in `namespace` (all without): whether the
/// API server answers this stream's requests again.
async fn probe(client: Client, kind: Kind, namespace: Option<String>) -> Result<(), kube::Error> {
    let lp = ListParams::default().limit(1);
    let ns = namespace.as_deref();
    match kind {
        Kind::Ingress => list_one::<Ingress>(client, ns, &lp).await,
        Kind::Service => list_one::<Service>(client, ns, &lp).await,
        Kind::EndpointSlice => list_one::<EndpointSlice>(client, ns, &lp).await,
        Kind::Secret => list_one::<Secret>(client, ns, &lp.fields(TLS_SECRETS)).await,
    }
}

/// Lists at most one `K`, and drops it.
async fn list_one<K>(client: Client, ns: Option<&str>, lp: &ListParams) -> Result<(), kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Debug
        + DeserializeOwned,
{
    let api: Api<K> = match ns {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    api.list(lp).await.map(drop)
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
