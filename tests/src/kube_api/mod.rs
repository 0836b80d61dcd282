//! A fake Kubernetes API server for discovery's tests: HTTPS with a test
//! CA, bearer tokens, RBAC from a ClusterRole, and the list/watch protocol
//! of the real `kube-apiserver` for the few resources wingress uses. No
//! real API server can run on these machines, so discovery is tested
//! against this one; what it does and does not do is listed here so that
//! nobody mistakes it for a cluster.
//!
//! Use: [`FakeApiServer::start`] in a tokio runtime, then hand a client
//! [`FakeApiServer::kubeconfig`] (or [`FakeApiServer::ca_pem`],
//! [`FakeApiServer::url`] and [`FakeApiServer::token_file`]); change the
//! cluster with [`FakeApiServer::apply`] / [`FakeApiServer::apply_yaml`]
//! / [`FakeApiServer::delete`]; break it with [`FakeApiServer::compact`],
//! [`FakeApiServer::end_watches`], [`FakeApiServer::rotate_token`],
//! [`FakeApiServer::stop`] and [`FakeApiServer::restart`]; read what the
//! client did with [`FakeApiServer::requests`] and
//! [`FakeApiServer::events`].
//!
//! # What it implements
//!
//! - Resources: `networking.k8s.io/v1` ingresses, `v1` services,
//!   `discovery.k8s.io/v1` endpointslices, `v1` secrets, and events in
//!   `v1` and `events.k8s.io/v1`; cluster-wide collections
//!   (`/apis/networking.k8s.io/v1/ingresses`) and namespaced paths
//!   (`/api/v1/namespaces/{ns}/services/{name}`). Other paths: 404 with a
//!   `Status`.
//! - LIST: items in etcd key order (namespace, name) without `kind` and
//!   `apiVersion`; the `…List` kind; `metadata.resourceVersion` of the
//!   list; `limit` with `metadata.continue` and `remainingItemCount`,
//!   pages served from a snapshot taken at the first page (consistent, as
//!   the real server's are); a continue token from before a compaction
//!   gets 410 Expired; `resourceVersionMatch=Exact` for anything but the
//!   current version gets 410.
//! - WATCH (`watch=1` / `watch=true`): `200` with
//!   `Content-Type: application/json` and a chunked body of
//!   newline-delimited `{"type","object"}` events, objects with `kind` and
//!   `apiVersion`; `resourceVersion` unset or `0` starts with `ADDED` for
//!   every current object; a version older than the compaction point gets
//!   one `ERROR` event with a 410 `Expired` `Status` and the stream ends
//!   (the real server's behaviour, after which kube-rs relists);
//!   `allowWatchBookmarks=true` gives `BOOKMARK`s carrying only
//!   `metadata.resourceVersion`, every bookmark interval (default 1 s;
//!   the real server's is about a minute) and on [`FakeApiServer::bookmark`];
//!   `sendInitialEvents=true` (with `resourceVersionMatch=NotOlderThan`
//!   and bookmarks, else 422) streams the current objects and then a
//!   `BOOKMARK` annotated `k8s.io/initial-events-end: "true"`, kube-rs's
//!   streaming-list mode; `timeoutSeconds` ends the stream.
//! - Field selectors `metadata.name`, `metadata.namespace` and, for
//!   Secrets, `type` (so `type=kubernetes.io/tls` is honoured); label
//!   selectors by equality and existence.
//! - GET of one object; POST (create, 201; `generateName`; 409
//!   AlreadyExists); DELETE of one object; PATCH with
//!   `application/merge-patch+json` and `application/apply-patch+yaml`
//!   (which needs `fieldManager`, as the real server), on objects and on
//!   `ingresses/{name}/status` (only `status` changes there, and the main
//!   resource ignores `status`); a write that changes nothing makes no new
//!   version and no event. Every write gets the next resource version of a
//!   counter shared by all kinds, `uid`, `creationTimestamp` and
//!   `generation` (bumped when anything outside metadata and status
//!   changes).
//! - `Authorization: Bearer`: one valid token, rotatable with a grace for
//!   the old one; otherwise 401 `Unauthorized`. RBAC: when a
//!   [`ClusterRole`] is given, any request it does not allow gets 403
//!   `Forbidden` with the real server's message.
//! - Discovery documents (`/api`, `/apis`, `/api/v1`,
//!   `/apis/{group}/{version}`, `/version`) in the legacy JSON form,
//!   listing only the served resources, so `kubectl --kubeconfig` works
//!   against the fake (`get`, `apply` aside); not subject to RBAC, as
//!   `system:discovery` allows them to everyone authenticated.
//! - HTTPS (TLS 1.2/1.3 by rustls) with a certificate for `127.0.0.1`,
//!   `::1` and `localhost` from a CA made per server; a kubeconfig with
//!   the CA inline and a `tokenFile`.
//!
//! # What it does not
//!
//! No HTTP/2 (ALPN offers `http/1.1` only), no protobuf or table output,
//! no aggregated discovery or OpenAPI documents, no `PUT`, JSON
//! patch, strategic merge patch (415), deletecollection, no server-side
//! apply field ownership (`managedFields`, conflicts: an apply patch is
//! merged like a merge patch), no admission, defaulting or validation of
//! object bodies, no finalizers or graceful deletion, no namespaces as
//! objects (any namespace exists), no set-based label selectors, no
//! `resourceVersionMatch` on watches other than with `sendInitialEvents`,
//! no "too large resource version" answers, no watch-cache
//! `continue`/`limit` subtleties (lists are always from the newest
//! state), no client certificates, impersonation, audit or rate limits
//! (no 429). A watch whose field selector stops matching an object does
//! not get the `DELETED` the real server synthesizes.

mod discovery;
mod rbac;
mod resource;
mod selector;
mod server;
mod status;
mod store;
mod tls;
mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::Value;
use tokio::task::JoinHandle;

pub use rbac::{ClusterRole, PolicyRule};
pub use resource::{ApiResource, Target, RESOURCES};

pub use tls::{write_kubeconfig, TestCa};

use store::Store;

/// One request the server answered (after TLS), for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// The RBAC verb, for a served resource path.
    pub verb: Option<String>,
    /// The API group (`""` for core).
    pub group: Option<String>,
    /// The resource (plural).
    pub resource: Option<String>,
    /// The subresource (`status`).
    pub subresource: Option<String>,
    /// The namespace of a namespaced path.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: Option<String>,
    /// The answer's status code.
    pub code: u16,
    /// Whether the request was authenticated by an old token in its grace
    /// (after [`FakeApiServer::rotate_token`]).
    pub old_token: bool,
}

/// The valid token and the old ones still accepted.
#[derive(Debug)]
struct Tokens {
    current: String,
    /// Old tokens and when they stop being accepted.
    old: Vec<(String, Instant)>,
}

/// The server's mutable state, behind one lock.
struct State {
    store: Store,
    tokens: Tokens,
    role: Option<ClusterRole>,
    /// The user RBAC messages name.
    user: String,
    requests: Vec<RecordedRequest>,
    bookmark_interval: Duration,
}

// === impl State ===

impl State {
    /// `Some(false)` for the current token, `Some(true)` for an old one
    /// in its grace, `None` for anything else.
    fn token_valid(&self, token: &str) -> Option<bool> {
        let now = Instant::now();
        if token == self.tokens.current {
            return Some(false);
        }
        self.tokens
            .old
            .iter()
            .any(|(t, until)| t == token && now < *until)
            .then_some(true)
    }
}

/// What the listener, handler and watches share.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Bumped after every write: watches look for new changes.
    changed: tokio::sync::watch::Sender<u64>,
    /// Bumped by [`FakeApiServer::bookmark`].
    bookmark_hook: tokio::sync::watch::Sender<u64>,
    /// Bumped by [`FakeApiServer::end_watches`].
    end_watches: tokio::sync::watch::Sender<u64>,
    /// Bumped by [`FakeApiServer::stop`]: every connection closes.
    stop: tokio::sync::watch::Sender<u64>,
    /// The connections' tasks, aborted and awaited by
    /// [`FakeApiServer::stop`] so that no request is answered after it.
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

// === impl Shared ===

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug in a test; the state is
        // still usable for the rest of it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn notify(&self) {
        self.changed.send_modify(|n| *n += 1);
    }
}

/// How to start a [`FakeApiServer`].
#[derive(Clone, Debug)]
pub struct FakeConfig {
    /// Where the kubeconfig, CA and token files go (created if missing).
    pub dir: PathBuf,
    /// The role the client's user has; `None` allows everything.
    pub role: Option<ClusterRole>,
    /// The first valid token.
    pub token: String,
    /// The user in RBAC messages.
    pub user: String,
    /// The address to listen on (`127.0.0.1:0` picks a port).
    pub listen: SocketAddr,
    /// How often open watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
}

// === impl FakeConfig ===

impl FakeConfig {
    /// Files in `dir`, wingress's service account as the user, no role,
    /// a random port on 127.0.0.1, bookmarks every second.
    pub fn new(dir: impl Into<PathBuf>) -> FakeConfig {
        FakeConfig {
            dir: dir.into(),
            role: None,
            token: "wingress-token-1".into(),
            user: "system:serviceaccount:wingress:wingress".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            bookmark_interval: Duration::from_secs(1),
        }
    }
}

/// A running fake API server; stops listening when dropped.
pub struct FakeApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    ca: TestCa,
    dir: PathBuf,
    listener: Option<JoinHandle<()>>,
}

// === impl FakeApiServer ===

impl FakeApiServer {
    /// Generates the CA, writes `ca.pem`, `token` and `kubeconfig` into
    /// the config's folder and starts listening.
    pub async fn start(config: FakeConfig) -> Result<FakeApiServer> {
        std::fs::create_dir_all(&config.dir)?;
        let ca = TestCa::generate()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                store: Store::default(),
                tokens: Tokens {
                    current: config.token.clone(),
                    old: Vec::new(),
                },
                role: config.role,
                user: config.user,
                requests: Vec::new(),
                bookmark_interval: config.bookmark_interval,
            }),
            changed: tokio::sync::watch::Sender::new(0),
            bookmark_hook: tokio::sync::watch::Sender::new(0),
            end_watches: tokio::sync::watch::Sender::new(0),
            stop: tokio::sync::watch::Sender::new(0),
            connections: Arc::default(),
        });
        let (addr, task) = server::listen(shared.clone(), config.listen, ca.server.clone()).await?;
        let server = FakeApiServer {
            shared,
            addr,
            ca,
            dir: config.dir,
            listener: Some(task),
        };
        std::fs::write(server.dir.join("ca.pem"), &server.ca.ca_pem)?;
        std::fs::write(server.token_file(), &config.token)?;
        write_kubeconfig(
            &server.kubeconfig(),
            &server.url(),
            &server.ca.ca_pem,
            &server.token_file(),
        )?;
        Ok(server)
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The test CA's certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca.ca_pem
    }

    /// The kubeconfig file.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// The file holding the current token (the kubeconfig's `tokenFile`).
    pub fn token_file(&self) -> PathBuf {
        self.dir.join("token")
    }

    /// The valid token.
    pub fn token(&self) -> String {
        self.shared.lock().tokens.current.clone()
    }

    /// Makes `new` the valid token and writes it to the token file; the
    /// old one is still accepted for `grace` (zero: refused at once, 401).
    pub fn rotate_token(&self, new: &str, grace: Duration) -> Result<()> {
        {
            let mut state = self.shared.lock();
            let old = std::mem::replace(&mut state.tokens.current, new.to_owned());
            state.tokens.old.push((old, Instant::now() + grace));
        }
        // Written to a new file and renamed, as kubelet swaps projected
        // tokens, so a reader never sees half a token.
        let tmp = self.dir.join("token.new");
        std::fs::write(&tmp, new)?;
        std::fs::rename(&tmp, self.token_file())?;
        Ok(())
    }

    /// Ends the grace of every old token now.
    pub fn expire_old_tokens(&self) {
        self.shared.lock().tokens.old.clear();
    }

    /// Creates or replaces an object (a k8s-openapi value or anything that
    /// serializes with `apiVersion`, `kind` and `metadata.name`; a missing
    /// namespace is `default`). Returns its new resource version.
    pub fn apply<T: Serialize>(&self, object: &T) -> Result<u64> {
        let value = serde_json::to_value(object)?;
        let resource = resource_of(&value)?;
        if value["metadata"]["name"].as_str().is_none_or(str::is_empty) {
            bail!("the object has no metadata.name");
        }
        let rv = {
            let mut state = self.shared.lock();
            state.store.put(resource, value);
            state.store.rv()
        };
        self.shared.notify();
        Ok(rv)
    }

    /// [`FakeApiServer::apply`] for every document of `yaml`.
    pub fn apply_yaml(&self, yaml: &str) -> Result<u64> {
        let docs: Vec<Value> = serde_saphyr::from_multiple(yaml).context("parse the YAML")?;
        let mut rv = 0;
        for doc in docs.iter().filter(|d| !d.is_null()) {
            rv = self.apply(doc)?;
        }
        Ok(rv)
    }

    /// Deletes the object of `api_version`/`kind` named `name` in `ns`;
    /// `false` if there was none.
    pub fn delete(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Result<bool> {
        let resource = ApiResource::of_object(api_version, kind)
            .with_context(|| format!("the fake does not serve {api_version} {kind}"))?;
        let deleted = self
            .shared
            .lock()
            .store
            .delete(resource, ns, name)
            .is_some();
        self.shared.notify();
        Ok(deleted)
    }

    /// The stored object (with `kind` and `apiVersion`), if any.
    pub fn object(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let resource = ApiResource::of_object(api_version, kind)?;
        self.shared
            .lock()
            .store
            .get(resource, ns, name)
            .map(|o| store::with_type(resource, o))
    }

    /// The current resource version.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().store.rv()
    }

    /// Compacts the history: every resource version before now becomes
    /// too old, so a watch resuming from one gets 410 and must relist.
    /// Open watches keep going (see [`FakeApiServer::end_watches`]).
    pub fn compact(&self) {
        self.shared.lock().store.compact();
        self.shared.notify();
    }

    /// Ends every open watch stream cleanly, as when `timeoutSeconds`
    /// expires; clients re-watch from their last resource version.
    pub fn end_watches(&self) {
        self.shared.end_watches.send_modify(|n| *n += 1);
    }

    /// Sends a `BOOKMARK` now on every open watch that allows them.
    pub fn bookmark(&self) {
        self.shared.bookmark_hook.send_modify(|n| *n += 1);
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Every stored Event, both API groups, with `kind` and `apiVersion`.
    pub fn events(&self) -> Vec<Value> {
        let state = self.shared.lock();
        RESOURCES
            .iter()
            .enumerate()
            .filter(|(_, r)| r.kind == "Event")
            .flat_map(|(i, _)| {
                state
                    .store
                    .list(i, None, &selector::Selectors::default())
                    .into_iter()
                    .map(move |o| store::with_type(i, &o))
            })
            .collect()
    }

    /// Stops listening and closes every connection (open watches end
    /// abruptly, new connections are refused); returns once the port is
    /// closed.
    pub async fn stop(&mut self) {
        if let Some(task) = self.listener.take() {
            task.abort();
            // The listening socket closes when the aborted task is dropped.
            let _ = task.await;
        }
        self.shared.stop.send_modify(|n| *n += 1);
        let conns = std::mem::take(
            &mut *self
                .shared
                .connections
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for conn in conns {
            conn.abort();
            let _ = conn.await;
        }
    }

    /// Starts listening again on the same port after [`FakeApiServer::stop`]
    /// (stops first if still running). With `keep_state` false the objects
    /// are gone (an API server on a wiped etcd): resource versions stay
    /// monotonic and everything before the restart is compacted.
    pub async fn restart(&mut self, keep_state: bool) -> Result<()> {
        self.stop().await;
        if !keep_state {
            self.shared.lock().store.wipe();
        }
        // The aborted accept loop drops its socket asynchronously.
        let mut last = None;
        for _ in 0..50 {
            match server::listen(self.shared.clone(), self.addr, self.ca.server.clone()).await {
                Ok((_, task)) => {
                    self.listener = Some(task);
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("cannot listen again")))
    }

    /// The recorded requests for resources that were authenticated but
    /// that `role` does not allow (empty when the client stayed inside
    /// it). Requests for discovery documents are not resource requests
    /// and not checked (every authenticated user may read them); requests
    /// for paths the fake does not serve are.
    pub fn requests_outside(&self, role: &ClusterRole) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.code != 401 && !(r.resource.is_none() && r.code == 200))
            .filter(|r| {
                !role.allows(
                    r.verb.as_deref().unwrap_or_default(),
                    r.group.as_deref().unwrap_or_default(),
                    r.resource.as_deref().unwrap_or_default(),
                    r.subresource.as_deref(),
                    r.name.as_deref(),
                )
            })
            .collect()
    }

    /// The folder of the server's files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        if let Some(task) = self.listener.take() {
            task.abort();
        }
        self.shared.stop.send_modify(|n| *n += 1);
    }
}

fn resource_of(value: &Value) -> Result<usize> {
    let api_version = value["apiVersion"].as_str().context("apiVersion")?;
    let kind = value["kind"].as_str().context("kind")?;
    ApiResource::of_object(api_version, kind)
        .with_context(|| format!("the fake does not serve {api_version} {kind}"))
}
