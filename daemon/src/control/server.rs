//! `wingress run`: the ingress daemon. Accepts WireGuard peers and serves
//! the configured entrypoints and TCP/UDP forwards on its tunnel address,
//! reloads its config on SIGHUP, file change and `POST /reload`, answers
//! the admin API, and drains on SIGTERM/SIGINT.

use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use wingress_config::{LogFormat, ServerConfig};
use wingress_proxy::{InProcessConnector, InProcessListener, ProxyStats};
use wingress_wg::Device;

use crate::control::admin::{AdminSockets, Answers, LocalBoxFuture};
use crate::control::file_stamp::file_stamp;
use crate::control::ready::Health;
use crate::control::state::{unix_now, Boot, Daemon, DaemonRef, KubeRecord, ReloadRecord};
use crate::control::{metrics, reload, shutdown, status};
use crate::dataplane::tunnel;
use crate::dataplane::udp_io::UdpIo;
use crate::dataplane::{Driver, NetCell};
use crate::ingress::forwarding::Ingress;
use crate::ingress::https::host_pool::HostPool;
use crate::ingress::https::{HttpsGen, HttpsService, CERT_RELOAD_EVERY};
use crate::ingress::limits::PeerCaps;
use crate::ingress::open_conns::OpenConns;
use crate::platform::node::NodeAddr;

/// How `run` was started.
pub(crate) struct Launch {
    pub(crate) port: u16,
    pub(crate) embedded: bool,
    /// The node address was detected, not configured.
    pub(crate) node_ip_detected: bool,
    /// The node address and where it came from, when known.
    pub(crate) node: Option<NodeAddr>,
    pub(crate) log_format: LogFormat,
}

pub(crate) async fn run(cfg: ServerConfig, launch: Launch) -> Result<()> {
    // Signals are caught from the start: one that arrives during start-up
    // waits for it to finish, then drains (SIGTERM) or reloads (SIGHUP),
    // instead of killing the process with the default action.
    let mut stop = shutdown::StopSignals::new()?;
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let (key, key_created) = tunnel::private_key(&cfg.wireguard, &cfg.node.state_dir)?;
    let public = key.public_key();
    let limits = crate::ingress::limits::tcp_limits(&cfg.limits);
    let stack = tunnel::stack(&cfg.wireguard, limits, Instant::now());
    let mut wg = Device::new(key);
    wg.set_mtu(cfg.wireguard.mtu);
    let net = NetCell::new(wg, stack);
    let stats = ProxyStats::new();
    let https = HttpsService::new(HttpsGen::empty(&stats));
    let (dashboard_connector, dashboard_listener) = dashboard_pair(&cfg);
    let boot = Boot {
        port: launch.port,
        public_key: public,
        node_ip: cfg.node.ip,
        node_ip_detected: launch.node_ip_detected,
        wireguard: cfg.wireguard.clone(),
        state_dir: cfg.node.state_dir.clone(),
        admin: cfg.admin.clone(),
        log_format: launch.log_format,
        nat: cfg.nat.clone(),
        embedded: launch.embedded,
        kubernetes: cfg.kubernetes.clone(),
        dashboard: dashboard_connector,
    };
    let d: DaemonRef = Rc::new(Daemon {
        net: net.clone(),
        tables: Rc::default(),
        flows: Rc::default(),
        caps: PeerCaps::new(&cfg.limits),
        https: https.clone(),
        hosts: HostPool::new(),
        stats,
        open: Arc::new(OpenConns::default()),
        boot,
        applied_stamp: RefCell::new(file_stamp(&cfg.path)),
        config: RefCell::new(cfg.clone()),
        reloads: RefCell::new(ReloadRecord {
            loaded_at: unix_now(),
            ..ReloadRecord::default()
        }),
        health: Arc::new(Health::new(Instant::now())),
        started: Instant::now(),
        hooks: Default::default(),
        sections: Default::default(),
        metric_sections: Default::default(),
        reloading: tokio::sync::Mutex::new(()),
        kube: KubeRecord::new(cfg.clone()),
    });

    // Everything that can fail comes before anything serves: the admin
    // socket (another daemon on this state directory?), certificates, CAs,
    // host sockets, the UDP port.
    let mut admin = AdminSockets::bind(&cfg.admin)?;
    if let Some(listener) = dashboard_listener {
        admin = admin.with_dashboard(crate::control::dashboard::Start::new(
            listener,
            (!launch.embedded).then(|| cfg.path.clone()),
            usize::try_from(cfg.dashboard.max_event_streams).unwrap_or(usize::MAX),
            &d.metric_sections,
        ));
    }
    let plan = reload::prepare(&d, cfg.clone()).await?;
    let port = launch.port;
    let io = UdpIo::bind(port).with_context(|| format!("cannot bind UDP port {port}"))?;
    banner(
        &cfg,
        &public.to_base64(),
        port,
        key_created,
        launch.embedded,
    );
    reload::apply(&d, plan);

    let ingress = Ingress::new(d.tables.clone(), https, d.flows.clone(), d.caps.clone());
    tokio::task::spawn_local(Driver::new(net, io, ingress).run());
    // After the port is bound (STUN goes out of it), before ready: the
    // status has its NAT sections from the first request.
    crate::control::nat_wiring::attach(&d, launch.node.clone(), port);
    spawn_cert_reload(&d);
    crate::control::kube_wiring::attach(&d)?;
    let admin = admin.serve(d.health.clone(), admin_answers(&d), &d.metric_sections)?;
    let socket = cfg.admin.socket.clone();
    d.hooks.register("remove the admin socket", move || {
        Box::pin(async move {
            let _ = std::fs::remove_file(&socket);
        })
    });
    reload::spawn_watchers(&d, hup);
    d.health.set_ready(true);
    tracing::info!("ready");
    // Every socket is bound and every host listener accepts: tell systemd
    // (Type=notify) that start-up is done.
    crate::control::notify::ready(&d.ready_status());

    let why = stop.recv().await;
    crate::control::notify::stopping();
    shutdown::run(&d, why, stop).await;
    drop(admin);
    Ok(())
}

/// The dashboard's in-process pair, made once when `[dashboard]` is on at
/// start-up: the connector stays with the data plane (its route), the
/// listener goes to the admin thread.
fn dashboard_pair(cfg: &ServerConfig) -> (Option<InProcessConnector>, Option<InProcessListener>) {
    if !cfg.dashboard.enabled {
        return (None, None);
    }
    let (connector, listener) = wingress_proxy::in_process(DASHBOARD_QUEUE);
    (Some(connector), Some(listener))
}

/// Dashboard connections opened and not yet accepted by the admin thread.
const DASHBOARD_QUEUE: usize = 32;

/// What the admin API asks the data plane for, answered from `d`.
fn admin_answers(d: &DaemonRef) -> Answers {
    let status = {
        let d = d.clone();
        move || status::document(&d)
    };
    let metrics = {
        let d = d.clone();
        move || metrics::render(&d)
    };
    let reload = {
        let d = d.clone();
        move || {
            let d = d.clone();
            Box::pin(async move { reload::reload_for_api(&d).await }) as LocalBoxFuture<_>
        }
    };
    Answers {
        status: Box::new(status),
        metrics: Box::new(metrics),
        reload: Box::new(reload),
    }
}

/// Checks static certificate files for changes; a broken replacement is
/// reported (also in status) and the previous certificate keeps serving.
fn spawn_cert_reload(d: &DaemonRef) {
    let d = d.clone();
    tokio::task::spawn_local(async move {
        let mut every = tokio::time::interval(CERT_RELOAD_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            let gen = d.https.current.load();
            let Some(store) = &gen.store else { continue };
            match store.reload_changed() {
                Ok(0) => {}
                Ok(n) => tracing::info!(certificates = n, "reloaded changed certificate files"),
                Err(e) => {
                    tracing::warn!(error = %e, "certificate reload failed; serving the previous certificates")
                }
            }
        }
    });
}

fn banner(cfg: &ServerConfig, public: &str, port: u16, key_created: bool, embedded: bool) {
    tracing::info!(
        public_key = %public,
        port,
        address = %cfg.wireguard.address,
        peers = cfg.peers.len(),
        tcp = cfg.tcp.len(),
        udp = cfg.udp.len(),
        admin = %cfg.admin.socket.display(),
        "wingress running"
    );
    if key_created {
        tracing::info!(path = %cfg.node.state_dir.join("private.key").display(), "created a new private key");
    }
    if embedded || cfg.peers.is_empty() {
        let ip = cfg.node.ip.map_or_else(
            || "<this host's address>".to_string(),
            |ip: Ipv4Addr| ip.to_string(),
        );
        eprintln!(
            "\nwingress public key: {public}\nlistening on UDP port {port}, tunnel address {addr}\n\n\
             To add a peer, put this in a config file (./wingress.toml or /etc/wingress/wingress.toml)\n\
             and restart, or pass it with --config:\n\n\
             [[peer]]\nname = \"laptop\"\npublic_key = \"<the peer's public key: wg pubkey < peer.key>\"\n\
             allowed_ips = [\"100.64.0.10/32\"]\n\n\
             and on the peer (wg-quick):\n\n\
             [Peer]\nPublicKey = {public}\nEndpoint = {ip}:{port}\nAllowedIPs = {net}\nPersistentKeepalive = 25\n",
            addr = cfg.wireguard.address,
            net = cfg.wireguard.address.network(),
        );
    }
}
