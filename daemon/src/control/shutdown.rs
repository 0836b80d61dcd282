//! Graceful shutdown on SIGTERM or SIGINT.
//!
//! 1. Readiness goes to 503 and the listeners stop accepting: host
//!    entrypoints close their sockets, tunnel ports refuse new connections
//!    (RST), forwarded UDP ports close.
//! 2. HTTP connections finish the requests they have in flight and close;
//!    idle keep-alive connections close at once. Open connections (HTTP
//!    and `[[tcp]]` forwards) are waited for, up to `[shutdown]
//!    drain_timeout` (10 s unless set). The data plane keeps running
//!    meanwhile, since tunnel connections need it to finish.
//! 3. The shutdown hooks run (e.g. deleting NAT port mappings), each with
//!    up to [`HOOK_TIMEOUT`](crate::control::registry::HOOK_TIMEOUT).
//!
//! A second SIGTERM or SIGINT skips the rest of the drain.

use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::time::Instant;

use crate::control::state::Daemon;

/// SIGTERM and SIGINT, caught from the moment this exists: create it
/// before telling anyone the daemon is ready, or an early signal kills the
/// process with the default action instead of draining it.
pub(crate) struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    pub(crate) fn new() -> std::io::Result<Self> {
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The next SIGTERM or SIGINT, by name.
    pub(crate) async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// Resolves on the first SIGTERM or SIGINT from now on, saying which.
pub(crate) async fn stop_signal() -> std::io::Result<&'static str> {
    Ok(StopSignals::new()?.recv().await)
}

/// Stops accepting, drains, runs the hooks. `signals` ends the drain early
/// on a second signal.
pub(crate) async fn run(d: &Daemon, why: &str, mut signals: StopSignals) {
    let timeout = d.config.borrow().shutdown.drain_timeout;
    tracing::info!(
        signal = why,
        drain_timeout_secs = timeout.as_secs_f64(),
        "stopping: no new connections, draining open ones"
    );
    d.health.start_draining();
    d.hosts.close_all();
    {
        let mut net = d.net.borrow_mut();
        let tables = d.tables.borrow();
        let gen = d.https.current.load();
        let dns = tables.dns.is_some().then_some(wingress_config::DNS_PORT);
        for port in tables
            .tcp
            .keys()
            .copied()
            .chain(gen.tunnel_ports())
            .chain(dns)
        {
            net.stack_mut().unlisten_tcp(port);
        }
        for port in tables.udp.keys().copied().chain(dns) {
            net.stack_mut().unbind_udp(port);
        }
        net.kick();
    }
    d.https.proxy.drain();

    let deadline = Instant::now() + timeout;
    let drained = async {
        loop {
            let open = d.open.total();
            if open <= 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let again = signals.recv();
    tokio::select! {
        () = drained => tracing::info!("all connections closed"),
        () = tokio::time::sleep_until(deadline) => {
            tracing::warn!(open = d.open.total(), "drain timeout; closing the remaining connections");
        }
        s = again => tracing::warn!(signal = s, "second signal; not waiting for connections"),
    }
    d.hooks.run().await;
    tracing::info!("stopped");
}
