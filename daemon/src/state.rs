//! [`Daemon`]: everything `wingress run` holds on its data-plane thread,
//! shared (through `Rc`) by the reloader, the admin API and shutdown.

use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wingress_config::{AdminConfig, InterfaceConfig, LogFormat, NatConfig, ServerConfig};
use wingress_proxy::ProxyStats;
use wingress_wg::PublicKey;

use crate::admin::Health;
use crate::dataplane::NetRef;
use crate::forwarding::{Flows, TablesRef};
use crate::https::HttpsService;
use crate::limits::PeerCaps;
use crate::open_conns::OpenConns;
use crate::shutdown::ShutdownHooks;
use crate::status::StatusSections;

/// What was fixed at start-up: a reload that changes any of it is told
/// that it needs a restart, and the running values stay.
#[derive(Debug, Clone)]
pub struct Boot {
    pub port: u16,
    pub public_key: PublicKey,
    /// The node address in effect (configured, from the environment, or
    /// detected).
    pub node_ip: Option<Ipv4Addr>,
    /// Whether `node_ip` was detected rather than configured.
    pub node_ip_detected: bool,
    pub wireguard: InterfaceConfig,
    pub state_dir: PathBuf,
    pub admin: AdminConfig,
    pub log_format: LogFormat,
    /// `[nat]`: NAT traversal runs with the start-up values.
    pub nat: NatConfig,
    /// Running the built-in default: there is no file to reload.
    pub embedded: bool,
}

/// What status reports about the config and its reloads.
#[derive(Debug, Clone, Default)]
pub struct ReloadRecord {
    pub loaded_at: u64,
    pub last_reload_at: Option<u64>,
    pub last_reload_error: Option<String>,
    /// Changes in the file that wait for a restart.
    pub restart_required: Vec<String>,
    pub reloads_ok: u64,
    pub reloads_failed: u64,
}

pub struct Daemon {
    pub net: NetRef,
    pub tables: TablesRef,
    pub flows: Flows,
    /// The daemon's per-peer caps on UDP flows and DNS (`[limits]`).
    pub caps: Rc<PeerCaps>,
    pub https: Arc<HttpsService>,
    pub stats: Arc<ProxyStats>,
    pub open: Arc<OpenConns>,
    pub boot: Boot,
    /// The config in effect: the last one applied, with [`Boot`]'s values
    /// in place of the ones that need a restart.
    pub config: RefCell<ServerConfig>,
    pub reloads: RefCell<ReloadRecord>,
    /// Readiness, draining and the data plane's heartbeat, which the admin
    /// thread reads too.
    pub health: Arc<Health>,
    pub started: Instant,
    pub hooks: ShutdownHooks,
    pub sections: StatusSections,
    pub metric_sections: crate::metrics::MetricSections,
    /// The config file as last read by a reload (or at start-up).
    pub applied_stamp: RefCell<crate::reload::FileStamp>,
    /// One reload at a time (SIGHUP, the file watcher and POST /reload).
    pub reloading: tokio::sync::Mutex<()>,
}

pub type DaemonRef = Rc<Daemon>;

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
