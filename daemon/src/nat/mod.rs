//! NAT traversal for the daemon: a task on the data-plane thread that
//! drives the sans-IO STUN probe (through the WireGuard socket, see
//! [`crate::dataplane::SideChannel`]) and the port mapper (its own sockets
//! to the gateway, and HTTP for UPnP), and publishes what they find.
//!
//! None of it delays the data plane: the daemon serves from the first
//! second, and the status says what NAT traversal has found so far and its
//! last error. [`NatHandle`] is how the rest of the daemon reads the public
//! endpoint and the status, and releases the mapping at shutdown.

mod driver;
mod http;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use wingress_config::{Advertise, NatConfig};
use wingress_nat::{MappingView, NatState, NatStatus, PublicEndpoint};
use wingress_sync::lock;

pub(crate) use driver::{NatSetup, PeerView};

/// Reads the NAT state and releases the mapping. Cheap to clone; usable
/// from any thread (the admin API's).
#[derive(Clone)]
pub(crate) struct NatHandle {
    state: Arc<Mutex<NatState>>,
    control: Option<mpsc::UnboundedSender<oneshot::Sender<()>>>,
}

impl NatHandle {
    /// The `nat` section of `wingress status`.
    pub(crate) fn status(&self) -> NatStatus {
        lock(&self.state).status(Instant::now())
    }

    /// The endpoint clients should use, when one is known (else the node's
    /// own address and port, or `[nat].advertise`, are the fallback).
    pub(crate) fn public_endpoint(&self) -> Option<PublicEndpoint> {
        lock(&self.state).public_endpoint(Instant::now())
    }

    /// Deletes the port mapping; returns when it is deleted or the router
    /// did not answer. The shutdown hook.
    pub(crate) async fn release(&self) {
        let Some(c) = &self.control else { return };
        let (done, wait) = oneshot::channel();
        if c.send(done).is_ok() {
            let _ = wait.await;
        }
    }
}

/// Starts NAT traversal as a task on the current `LocalSet`.
pub(crate) fn start(setup: NatSetup) -> NatHandle {
    let now = Instant::now();
    let ip = setup.node.as_ref().map_or(Ipv4Addr::UNSPECIFIED, |n| n.ip);
    let local = SocketAddrV4::new(ip, setup.local_port);
    let advertise = match &setup.cfg.advertise {
        Advertise::Auto => None,
        Advertise::Fixed(e) => Some(e.to_string()),
    };
    let mut state = NatState::new(local, advertise, now);
    let stun_on = !setup.cfg.stun_servers.is_empty();
    let mapping_on = !setup.cfg.port_mapping.is_empty();
    if ip.is_loopback() {
        // Nothing outside this host can reach a loopback node.
        if mapping_on {
            state.mapping = MappingView::Unavailable("the node address is loopback".into());
        }
        log_start(&mut state, &setup.cfg, "the node address is loopback");
        return handle(state, None);
    }
    if mapping_on {
        state.mapping = MappingView::Unavailable("looking for the default gateway".into());
    }
    if stun_on {
        state.stun_servers = Some(Vec::new());
    }
    if !stun_on && !mapping_on {
        log_start(&mut state, &setup.cfg, "STUN and port mapping are off");
        return handle(state, None);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let h = handle(state, Some(tx));
    tokio::task::spawn_local(driver::Driver::new(setup, h.state.clone(), rx).run());
    h
}

fn handle(
    state: NatState,
    control: Option<mpsc::UnboundedSender<oneshot::Sender<()>>>,
) -> NatHandle {
    NatHandle {
        state: Arc::new(Mutex::new(state)),
        control,
    }
}

/// NAT traversal has nothing to do: say so, and log the (static) status
/// once, as the driver does on every change.
fn log_start(state: &mut NatState, cfg: &NatConfig, why: &str) {
    tracing::info!(
        stun_servers = cfg.stun_servers.len(),
        port_mapping = cfg.port_mapping.len(),
        advertise = state.advertise.as_deref().unwrap_or("auto"),
        "NAT traversal idle: {why}"
    );
    let now = Instant::now();
    if let Some(e) = state.public_endpoint(now) {
        tracing::info!(address = %e.address, source = ?e.source, "public endpoint (use it as the Endpoint in client configs)");
    }
    match serde_json::to_string(&state.status(now)) {
        Ok(json) => tracing::info!(status = %json, "nat status"),
        Err(e) => tracing::debug!(error = %e, "cannot serialize the NAT status"),
    }
}
