//! Reloading the config: on SIGHUP, when the file changes, and on
//! `POST /reload`.
//!
//! A reload has two phases. [`prepare`] does everything that can fail
//! (parse, read keys and certificates, load client CAs, compile routes,
//! resolve peer endpoints, bind new host sockets) without touching what is
//! running; any error rejects the whole reload and the old config keeps
//! serving. [`apply`] then swaps the new pieces in and cannot fail. It
//! keeps what did not change: unchanged peers keep their WireGuard
//! sessions, unchanged listeners their sockets, and established
//! connections keep their backends.
//!
//! Values fixed at start-up (the UDP port, node address, private key,
//! tunnel address and MTU, state directory, admin sockets, log format)
//! are not applied: the reload reports them as needing a restart.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde_json::json;
use wingress_config::{port_for_node_ip, ConfigErrors, Env, PeerConfig, ServerConfig, DNS_PORT};
use wingress_wg::{PeerId, PeerSpec};

use crate::control::file_stamp::file_stamp;
use crate::control::state::{unix_now, Boot, Daemon, DaemonRef};
use crate::dataplane::tunnel::{self, PeerMeta};
use crate::dataplane::Net;
use crate::ingress::backend::Addrs;
use crate::ingress::dns::DnsServer;
use crate::ingress::forwarding::{TcpForward, UdpForward};
use crate::ingress::https::host_pool::BoundAddr;
use crate::ingress::https::HttpsGen;
use crate::platform::{keyfile, logging};

/// How often the config file is checked for changes. A change is applied
/// once the file has stayed the same for one more interval, so an editor
/// that writes in place is not caught halfway.
const WATCH_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    Signal,
    FileChange,
    Api,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Signal => "sighup",
            Trigger::FileChange => "file changed",
            Trigger::Api => "admin api",
        }
    }
}

/// Why a reload was refused; the old config keeps serving.
#[derive(Debug)]
pub(crate) enum ReloadError {
    /// The file does not parse or validate.
    Config(ConfigErrors),
    /// It parses but cannot be applied (a file, a CA, a socket).
    Rejected(anyhow::Error),
    /// Running the built-in default: there is no file.
    NoFile,
}

impl ReloadError {
    /// The admin API's status code for this error.
    pub(crate) fn http_status(&self) -> u16 {
        match self {
            ReloadError::Config(_) => 400,
            ReloadError::Rejected(_) => 422,
            ReloadError::NoFile => 409,
        }
    }
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadError::Config(e) => write!(f, "{e}"),
            ReloadError::Rejected(e) => write!(f, "{e:#}"),
            ReloadError::NoFile => {
                f.write_str("running the built-in default config: there is no file to reload")
            }
        }
    }
}

/// What a successful reload did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Applied {
    pub(crate) changes: Vec<String>,
    pub(crate) restart_required: Vec<String>,
}

/// Reloads the config file (one reload at a time) and records the outcome
/// for status and metrics.
pub(crate) async fn reload(d: &DaemonRef, trigger: Trigger) -> Result<Applied, ReloadError> {
    let _one = d.reloading.lock().await;
    let path = d.config.borrow().path.clone();
    tracing::info!(trigger = trigger.as_str(), path = %path.display(), "reloading config");
    crate::control::notify::reloading();
    let result = load_and_apply(d).await;
    crate::control::notify::ready(&d.ready_status());
    let mut record = d.reloads.borrow_mut();
    record.last_reload_at = Some(unix_now());
    match &result {
        Ok(applied) => {
            record.reloads_ok += 1;
            record.last_reload_error = None;
            record.restart_required = applied.restart_required.clone();
            if applied.changes.is_empty() {
                tracing::info!("config reloaded; nothing changed");
            }
            for change in &applied.changes {
                tracing::info!(change = %change, "config reloaded");
            }
            for why in &applied.restart_required {
                tracing::warn!(change = %why, "config change needs a restart; the running value stays");
            }
        }
        Err(e) => {
            record.reloads_failed += 1;
            record.last_reload_error = Some(e.to_string());
            for line in e.to_string().lines() {
                tracing::error!(error = %line, "config reload rejected; the previous config keeps serving");
            }
        }
    }
    result
}

/// `POST /reload`: a reload, answered as the admin API documents it (the
/// HTTP status and the JSON body).
pub(crate) async fn reload_for_api(d: &DaemonRef) -> (u16, serde_json::Value) {
    match reload(d, Trigger::Api).await {
        Ok(applied) => (
            200,
            json!({
                "ok": true,
                "changes": applied.changes,
                "restart_required": applied.restart_required,
            }),
        ),
        Err(e) => {
            let errors: Vec<String> = match &e {
                ReloadError::Config(errors) => {
                    errors.sorted().iter().map(|e| e.to_string()).collect()
                }
                other => vec![other.to_string()],
            };
            (
                e.http_status(),
                json!({"error": e.to_string(), "errors": errors}),
            )
        }
    }
}

async fn load_and_apply(d: &DaemonRef) -> Result<Applied, ReloadError> {
    if d.boot.embedded {
        return Err(ReloadError::NoFile);
    }
    let path = d.config.borrow().path.clone();
    // Recorded whatever the outcome, so the file watcher does not repeat
    // a reload that a signal or the API already did.
    *d.applied_stamp.borrow_mut() = file_stamp(&path);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ReloadError::Rejected(anyhow!("cannot read {}: {e}", path.display())))?;
    let cfg = wingress_config::parse_server(&path, &text, &Env::from_process())
        .map_err(ReloadError::Config)?;
    // The routes of the last Kubernetes snapshot stay, mapped again under
    // the new file's policy.
    let (merged, mapping) = crate::control::kube_wiring::merge(d, &cfg);
    let plan = prepare(d, merged).await.map_err(ReloadError::Rejected)?;
    let mut applied = apply(d, plan);
    if let Some(note) =
        crate::control::kube_wiring::restart_note(&d.boot.kubernetes, &cfg.kubernetes)
    {
        applied.restart_required.push(note);
    }
    *d.kube.file_config.borrow_mut() = cfg;
    if let Some(mapping) = mapping {
        crate::control::kube_wiring::publish(d, &mapping);
    }
    Ok(applied)
}

/// A validated config, with everything it needs loaded and bound.
pub(crate) struct Plan {
    config: ServerConfig,
    restart_required: Vec<String>,
    peers: Vec<(PeerConfig, PeerSpec)>,
    https: HttpsGen,
    bound: Vec<BoundAddr>,
}

/// Phase one: everything that can fail, nothing that changes the running
/// daemon.
pub(crate) async fn prepare(d: &Daemon, new: ServerConfig) -> Result<Plan> {
    let (config, restart_required) = pin_boot_values(&d.boot, new);
    let mut peers = Vec::with_capacity(config.peers.len());
    for p in &config.peers {
        let spec = tunnel::peer_spec(p)
            .await
            .with_context(|| format!("peer {}", p.name))?;
        peers.push((p.clone(), spec));
    }
    let current = d.https.current.load();
    let dashboard = d.boot.dashboard.as_ref();
    let https = HttpsGen::build(&config, &d.stats, &d.open, dashboard, Some(&current))?;
    let listening = d.hosts.listening();
    let mut bound = Vec::new();
    for addr in https.host_addrs() {
        if !listening.contains(&addr) {
            let name = https.host_entrypoint(addr).map_or("?", |e| &*e.name);
            bound.push(d.hosts.bind(addr, name)?);
        }
    }
    Ok(Plan {
        config,
        restart_required,
        peers,
        https,
        bound,
    })
}

/// Replaces the values that need a restart by the running ones, and says
/// which of them the file changed.
fn pin_boot_values(boot: &Boot, mut cfg: ServerConfig) -> (ServerConfig, Vec<String>) {
    let mut notes = Vec::new();
    let port = match (cfg.listen_port(), boot.node_ip_detected) {
        (Ok(p), _) => Some(p),
        (Err(_), true) => boot.node_ip.map(port_for_node_ip),
        (Err(_), false) => None,
    };
    if port != Some(boot.port) {
        let new = port.map_or_else(|| "none".to_string(), |p| p.to_string());
        notes.push(format!("UDP port {} -> {new}", boot.port));
    }
    let (old, new) = (&boot.wireguard, &cfg.wireguard);
    if old.address != new.address {
        notes.push(format!(
            "wireguard.address {} -> {}",
            old.address, new.address
        ));
    }
    if old.mtu != new.mtu {
        notes.push(format!("wireguard.mtu {} -> {}", old.mtu, new.mtu));
    }
    let key_path = new
        .private_key_file
        .clone()
        .unwrap_or_else(|| cfg.node.state_dir.join("private.key"));
    match keyfile::load(&key_path) {
        Ok(key) if key.public_key() == boot.public_key => {}
        Ok(_) => notes.push(format!(
            "private key {} is a different key",
            key_path.display()
        )),
        Err(e) => notes.push(format!("private key: {e:#}")),
    }
    if cfg.node.state_dir != boot.state_dir {
        notes.push(format!(
            "node.state_dir {} -> {}",
            boot.state_dir.display(),
            cfg.node.state_dir.display()
        ));
    }
    if cfg.admin != boot.admin {
        notes.push("[admin] socket or listen".to_string());
    }
    if cfg.log.format != boot.log_format {
        notes.push("log.format".to_string());
    }
    if cfg.nat != boot.nat {
        notes.push("[nat] (STUN servers, port mapping, lease, advertise)".to_string());
    }
    if cfg.dashboard.enabled && boot.dashboard.is_none() {
        // Its server starts with the admin thread; until a restart the
        // dashboard stays off (no route, no DNS name).
        notes.push("[dashboard] enabled".to_string());
        cfg.dashboard.enabled = false;
    }
    cfg.wireguard = boot.wireguard.clone();
    cfg.node.ip = boot.node_ip;
    cfg.node.state_dir = boot.state_dir.clone();
    cfg.admin = boot.admin.clone();
    cfg.log.format = boot.log_format;
    cfg.nat = boot.nat.clone();
    (cfg, notes)
}

/// Phase two: swap the prepared pieces in. Cannot fail.
pub(crate) fn apply(d: &Daemon, plan: Plan) -> Applied {
    let old = d.config.borrow().clone();
    let mut changes = Vec::new();
    let gen = Arc::new(plan.https);
    {
        let mut net = d.net.borrow_mut();
        let mut tables = d.tables.borrow_mut();
        let peers = apply_peers(&mut net, &mut tables.peers, plan.peers, &mut changes);
        tables.peers = peers;

        let mut tcp = HashMap::new();
        for s in &plan.config.tcp {
            let forward = match tables.tcp.get(&s.listen) {
                Some(f) if f.config == *s => f.clone(),
                _ => TcpForward {
                    backend: Addrs::new(&s.backend),
                    config: s.clone(),
                    open: d.open.gauge(&format!("tcp:{}", s.listen)),
                    idle_closed: d.open.idle_counter(&format!("tcp:{}", s.listen)),
                },
            };
            tcp.insert(s.listen, forward);
        }
        let mut udp = HashMap::new();
        for s in &plan.config.udp {
            let forward = match tables.udp.get(&s.listen) {
                Some(f) if f.config == *s => f.clone(),
                _ => UdpForward {
                    backend: Addrs::new(&s.backend),
                    config: s.clone(),
                },
            };
            udp.insert(s.listen, forward);
        }
        let current = d.https.current.load();
        let dns_port = |on: bool| on.then_some(DNS_PORT);
        let (dns_was, dns_now) = (tables.dns.is_some(), plan.config.dns.enabled);
        let old_tcp: BTreeSet<u16> = tables
            .tcp
            .keys()
            .copied()
            .chain(current.tunnel_ports())
            .chain(dns_port(dns_was))
            .collect();
        let new_tcp: BTreeSet<u16> = tcp
            .keys()
            .copied()
            .chain(gen.tunnel_ports())
            .chain(dns_port(dns_now))
            .collect();
        for p in old_tcp.difference(&new_tcp) {
            net.stack_mut().unlisten_tcp(*p);
            changes.push(format!("tunnel tcp port {p} closed"));
        }
        for p in new_tcp.difference(&old_tcp) {
            net.stack_mut().listen_tcp(*p);
            changes.push(format!("tunnel tcp port {p} listening"));
        }
        let old_udp: BTreeSet<u16> = tables
            .udp
            .keys()
            .copied()
            .chain(dns_port(dns_was))
            .collect();
        let new_udp: BTreeSet<u16> = udp.keys().copied().chain(dns_port(dns_now)).collect();
        for p in old_udp.difference(&new_udp) {
            net.stack_mut().unbind_udp(*p);
            changes.push(format!("tunnel udp port {p} closed"));
        }
        for p in new_udp.difference(&old_udp) {
            net.stack_mut().bind_udp(*p);
            changes.push(format!("tunnel udp port {p} bound"));
        }
        tables.tcp = tcp;
        tables.udp = udp;
        if old.limits != plan.config.limits {
            net.stack_mut()
                .set_limits(crate::ingress::limits::tcp_limits(&plan.config.limits));
            d.caps.apply(&plan.config.limits);
            changes.push("[limits] changed".to_string());
        }
        // DNS keeps its server (and its counters) across reloads; only the
        // zone and the upstreams change.
        tables.dns = match (tables.dns.take(), dns_now) {
            (Some(dns), true) => {
                dns.reload(&plan.config);
                Some(dns)
            }
            (None, true) => DnsServer::from_config(&plan.config, d.caps.clone()),
            (Some(_), false) => {
                changes.push("dns stopped".to_string());
                None
            }
            (None, false) => None,
        };
        net.kick();
    }

    let old_hosts = d.hosts.listening();
    let new_hosts = gen.host_addrs();
    d.https.install(gen);
    for bound in plan.bound {
        d.hosts.open(&d.https, bound);
    }
    for addr in old_hosts.difference(&new_hosts) {
        d.hosts.close(*addr);
    }
    describe_routes(&old, &plan.config, &mut changes);
    if old.log.level != plan.config.log.level
        && logging::set_config_level(plan.config.log.level.as_deref())
    {
        changes.push("log level changed".to_string());
    }
    *d.config.borrow_mut() = plan.config;
    Applied {
        changes,
        restart_required: plan.restart_required,
    }
}

/// Brings the device's peer table to `wanted`. Unchanged peers keep their
/// sessions; new allowed IPs apply in place; a new preshared key or
/// keepalive starts a new session. Connections from addresses no peer
/// owns any more, and those of peers whose name or tags changed (their
/// identity was fixed when they connected), are reset.
fn apply_peers(
    net: &mut Net,
    current: &mut HashMap<PeerId, PeerMeta>,
    wanted: Vec<(PeerConfig, PeerSpec)>,
    changes: &mut Vec<String>,
) -> HashMap<PeerId, PeerMeta> {
    let mut old: HashMap<_, PeerMeta> = current
        .drain()
        .map(|(_, m)| (m.config.public_key, m))
        .collect();
    let mut peers = HashMap::new();
    let mut reset = HashSet::new();
    for (p, spec) in wanted {
        let psk = spec.preshared_key;
        let has_endpoint = spec.endpoint.is_some();
        let id = match old.remove(&p.public_key) {
            None => {
                let id = net.wg_mut().add_peer(spec);
                changes.push(format!("peer {} added", p.name));
                if has_endpoint {
                    net.initiate(id);
                }
                id
            }
            Some(was) => {
                let mut id = was.id;
                if was.preshared_key != psk
                    || was.config.persistent_keepalive != p.persistent_keepalive
                {
                    id = net.wg_mut().add_peer(spec);
                    changes.push(format!(
                        "peer {}: new session (preshared key or keepalive changed)",
                        p.name
                    ));
                    if has_endpoint {
                        net.initiate(id);
                    }
                } else {
                    if was.config.allowed_ips != p.allowed_ips {
                        net.wg_mut().set_allowed_ips(id, spec.allowed_ips);
                        changes.push(format!("peer {}: allowed_ips changed", p.name));
                    }
                    if was.config.endpoint != p.endpoint {
                        if let Some(ep) = spec.endpoint {
                            net.wg_mut().set_peer_endpoint(id, ep);
                            net.initiate(id);
                        }
                        changes.push(format!("peer {}: endpoint changed", p.name));
                    }
                }
                if was.config.name != p.name || was.config.tags != p.tags {
                    reset.insert(id);
                    changes.push(format!(
                        "peer {}: name or tags changed; its connections restart",
                        p.name
                    ));
                }
                id
            }
        };
        peers.insert(id, PeerMeta::new(id, &p, psk));
    }
    for (_, gone) in old {
        net.wg_mut().remove_peer(gone.id);
        changes.push(format!("peer {} removed", gone.name));
    }
    let aborted = net.abort_connections(|wg, remote| match wg.peer_for_addr(remote.ip()) {
        None => true,
        Some(id) => reset.contains(&id),
    });
    if aborted > 0 {
        changes.push(format!(
            "{aborted} tunnel connections of removed or changed peers reset"
        ));
    }
    peers
}

fn describe_routes(old: &ServerConfig, new: &ServerConfig, changes: &mut Vec<String>) {
    let key = |r: &wingress_config::RouteConfig| format!("{}{}", r.host, r.path_prefix);
    let strip = |r: &wingress_config::RouteConfig| {
        let mut r = r.clone();
        r.location = (0, 0);
        r
    };
    let before: HashMap<String, _> = old.routes.iter().map(|r| (key(r), strip(r))).collect();
    let after: HashMap<String, _> = new.routes.iter().map(|r| (key(r), strip(r))).collect();
    for (k, r) in &after {
        match before.get(k) {
            None => changes.push(format!("route {k} added")),
            Some(b) if b != r => changes.push(format!("route {k} changed")),
            Some(_) => {}
        }
    }
    for k in before.keys().filter(|k| !after.contains_key(*k)) {
        changes.push(format!("route {k} removed"));
    }
    if old.effective_entrypoints() != new.effective_entrypoints() {
        changes.push("entrypoints changed".to_string());
    }
    if old.http != new.http {
        changes.push("[http] changed (new connections)".to_string());
    }
    if old.tls != new.tls {
        changes.push("certificate sources changed".to_string());
    }
    if old.dashboard != new.dashboard {
        changes.push("[dashboard] changed".to_string());
    }
}

/// Polls the config file and reloads once a change has settled. Polling
/// (a `stat` per second) rather than inotify: it needs no dependency, sees
/// through symlink swaps (ConfigMaps) and replaced directories, where a
/// watch on the old inode goes quiet, and costs nothing measurable.
pub(crate) async fn watch_file(d: DaemonRef) {
    if d.boot.embedded {
        return;
    }
    let path = d.config.borrow().path.clone();
    let mut seen = file_stamp(&path);
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        if d.health.draining() {
            return;
        }
        let now = file_stamp(&path);
        if now != seen {
            seen = now;
            continue;
        }
        if now.is_some() && now != *d.applied_stamp.borrow() {
            // Rejected reloads are recorded too; the stamp moves on so a
            // broken file is reported once, not every second.
            *d.applied_stamp.borrow_mut() = now;
            let _ = reload(&d, Trigger::FileChange).await;
        }
    }
}

/// Runs a reload for every SIGHUP.
pub(crate) async fn on_sighup(d: DaemonRef, mut hup: tokio::signal::unix::Signal) {
    while hup.recv().await.is_some() {
        let _ = reload(&d, Trigger::Signal).await;
    }
}

/// Starts the file watcher and the SIGHUP handler (`hup`, registered by
/// the caller before it announced readiness).
pub(crate) fn spawn_watchers(d: &DaemonRef, hup: tokio::signal::unix::Signal) {
    tokio::task::spawn_local(watch_file(Rc::clone(d)));
    tokio::task::spawn_local(on_sighup(Rc::clone(d), hup));
}
