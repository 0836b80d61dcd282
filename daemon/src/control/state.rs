//! [`Daemon`]: everything `wingress run` holds on its data-plane thread,
//! shared (through `Rc`) by the reloader, the admin API and shutdown.

use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wingress_config::{
    AdminConfig, InterfaceConfig, KubernetesConfig, LogFormat, NatConfig, ServerConfig,
};
use wingress_kube::Snapshot;
use wingress_proxy::{InProcessConnector, ProxyStats};
use wingress_wg::PublicKey;

use crate::control::file_stamp::FileStamp;
use crate::control::ready::{self, Health};
use crate::control::registry::{MetricSections, ShutdownHooks, StatusSections};
use crate::dataplane::NetRef;
use crate::ingress::forwarding::{Flows, TablesRef};
use crate::ingress::https::host_pool::HostPool;
use crate::ingress::https::HttpsService;
use crate::ingress::limits::PeerCaps;
use crate::ingress::open_conns::OpenConns;
use crate::kube::{HealthHandle, StatusWriterHandle};

/// What was fixed at start-up: a reload that changes any of it is told
/// that it needs a restart, and the running values stay.
#[derive(Debug, Clone)]
pub(crate) struct Boot {
    pub(crate) port: u16,
    pub(crate) public_key: PublicKey,
    /// The node address in effect (configured, from the environment, or
    /// detected).
    pub(crate) node_ip: Option<Ipv4Addr>,
    /// Whether `node_ip` was detected rather than configured.
    pub(crate) node_ip_detected: bool,
    pub(crate) wireguard: InterfaceConfig,
    pub(crate) state_dir: PathBuf,
    pub(crate) admin: AdminConfig,
    pub(crate) log_format: LogFormat,
    /// `[nat]`: NAT traversal runs with the start-up values.
    pub(crate) nat: NatConfig,
    /// Running the built-in default: there is no file to reload.
    pub(crate) embedded: bool,
    /// `[kubernetes]` at start-up: the connection keeps its options.
    pub(crate) kubernetes: KubernetesConfig,
    /// `[dashboard]` was on at start-up: how its route reaches the
    /// dashboard server on the admin thread (the listener went there).
    /// `None`: the dashboard stays off until a restart.
    pub(crate) dashboard: Option<InProcessConnector>,
}

/// What status reports about the config and its reloads.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReloadRecord {
    pub(crate) loaded_at: u64,
    pub(crate) last_reload_at: Option<u64>,
    pub(crate) last_reload_error: Option<String>,
    /// Changes in the file that wait for a restart.
    pub(crate) restart_required: Vec<String>,
    pub(crate) reloads_ok: u64,
    pub(crate) reloads_failed: u64,
}

pub(crate) struct Daemon {
    pub(crate) net: NetRef,
    pub(crate) tables: TablesRef,
    pub(crate) flows: Flows,
    /// The daemon's per-peer caps on UDP flows and DNS (`[limits]`).
    pub(crate) caps: Rc<PeerCaps>,
    pub(crate) https: Arc<HttpsService>,
    /// The host entrypoints' threads, which serve `https`.
    pub(crate) hosts: HostPool,
    pub(crate) stats: Arc<ProxyStats>,
    pub(crate) open: Arc<OpenConns>,
    pub(crate) boot: Boot,
    /// The config in effect: the last one applied, with [`Boot`]'s values
    /// in place of the ones that need a restart.
    pub(crate) config: RefCell<ServerConfig>,
    pub(crate) reloads: RefCell<ReloadRecord>,
    /// Readiness, draining and the data plane's heartbeat, which the admin
    /// thread reads too.
    pub(crate) health: Arc<Health>,
    pub(crate) started: Instant,
    pub(crate) hooks: ShutdownHooks,
    pub(crate) sections: StatusSections,
    pub(crate) metric_sections: MetricSections,
    /// The config file as last read by a reload (or at start-up).
    pub(crate) applied_stamp: RefCell<FileStamp>,
    /// One reload at a time (SIGHUP, the file watcher, POST /reload and
    /// Kubernetes snapshots).
    pub(crate) reloading: tokio::sync::Mutex<()>,
    /// Kubernetes discovery: the file's own config, the last snapshot
    /// applied, and what status reports.
    pub(crate) kube: KubeRecord,
}

/// What the daemon keeps of Kubernetes discovery (`[kubernetes]`): a
/// file reload merges the last snapshot again, so a SIGHUP does not drop
/// the routes from Ingresses.
pub(crate) struct KubeRecord {
    /// The config as the file has it, without routes from Ingresses: the
    /// policy the mapping follows, and what a snapshot's routes are added
    /// to.
    pub(crate) file_config: RefCell<ServerConfig>,
    /// The last snapshot whose routes were applied.
    pub(crate) snapshot: RefCell<Option<Arc<Snapshot>>>,
    /// The connection's health (set at start-up when discovery is on).
    pub(crate) health: RefCell<Option<HealthHandle>>,
    /// Where mapping outcomes go (set at start-up when discovery is on).
    pub(crate) status: RefCell<Option<StatusWriterHandle>>,
    /// What status and metrics show of the last mapping.
    pub(crate) outcome: RefCell<KubeOutcome>,
}

impl KubeRecord {
    /// Nothing from Kubernetes yet; `file` is the config read at start-up.
    pub(crate) fn new(file: ServerConfig) -> KubeRecord {
        KubeRecord {
            file_config: RefCell::new(file),
            snapshot: RefCell::default(),
            health: RefCell::default(),
            status: RefCell::default(),
            outcome: RefCell::default(),
        }
    }
}

/// The last mapping applied, and how applying snapshots went.
#[derive(Debug, Clone, Default)]
pub(crate) struct KubeOutcome {
    /// Routes from Ingresses in effect.
    pub(crate) routes: usize,
    /// `namespace/name: message` for each Ingress (or certificate) skipped.
    pub(crate) problems: Vec<String>,
    /// Snapshots whose routes were applied.
    pub(crate) snapshots_applied: u64,
    /// Snapshots whose routes could not be applied (the previous routes
    /// kept serving).
    pub(crate) snapshots_failed: u64,
    /// Why the last snapshot could not be applied; `None` once one is.
    pub(crate) last_error: Option<String>,
}

pub(crate) type DaemonRef = Rc<Daemon>;

impl Daemon {
    /// The one-line `STATUS=` systemd shows.
    pub(crate) fn ready_status(&self) -> String {
        ready::status_line(self.tables.borrow().peers.len(), self.boot.port)
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
