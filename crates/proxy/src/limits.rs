//! The HTTP server's limits: which ones there are (for the hit counters in
//! [`crate::ProxyStats`]), and the connection caps of an entrypoint, in
//! all and per source (a tunnel peer, or a client address on host
//! entrypoints), which the caller checks before serving a connection.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use wingress_sync::lock;

use crate::spec::ConnInfo;

/// A limit of the HTTP server, as `wingress_http_limit_hits_total` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Limit {
    /// The entrypoint's `max_connections`: the connection was closed.
    Connections,
    /// The entrypoint's `max_connections_per_source`: closed.
    ConnectionsPerSource,
    /// An HTTP/2 connection reached `max_streams` concurrent streams; the
    /// client must wait before opening more.
    Streams,
    /// A request waited for one of its connection's
    /// `max_backend_connections`.
    BackendConnections,
    /// A request body went `body_timeout` without a byte: 408.
    BodyTimeout,
    /// A response waited `send_timeout` for the client: connection closed.
    SendTimeout,
    /// An upgraded connection (WebSocket) idle for `upgrade_idle_timeout`:
    /// closed.
    UpgradeIdle,
}

impl Limit {
    pub const ALL: [Limit; 7] = [
        Limit::Connections,
        Limit::ConnectionsPerSource,
        Limit::Streams,
        Limit::BackendConnections,
        Limit::BodyTimeout,
        Limit::SendTimeout,
        Limit::UpgradeIdle,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Connections => "connections",
            Limit::ConnectionsPerSource => "connections_per_source",
            Limit::Streams => "streams",
            Limit::BackendConnections => "backend_connections",
            Limit::BodyTimeout => "body_timeout",
            Limit::SendTimeout => "send_timeout",
            Limit::UpgradeIdle => "upgrade_idle_timeout",
        }
    }
}

/// Who a connection counts against: the WireGuard peer it came from (a
/// peer with a whole subnet of allowed IPs is still one source), or the
/// client's address on host entrypoints.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    Peer(Arc<str>),
    Addr(IpAddr),
}

impl Source {
    pub fn of(conn: &ConnInfo) -> Source {
        match &conn.peer {
            Some(peer) => Source::Peer(peer.public_key.as_str().into()),
            None => Source::Addr(conn.remote.ip().to_canonical()),
        }
    }
}

/// An entrypoint's caps; zero means no cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnCaps {
    pub max_connections: u32,
    pub max_per_source: u32,
}

/// Open connections of one entrypoint, in all and by source. Shared by the
/// threads that accept for it and kept across reloads (connections opened
/// before a reload still count); the caps come with each call, from the
/// configuration current when the connection arrived.
#[derive(Debug, Default)]
pub struct ConnLimiter {
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: u32,
    /// Only sources with a connection open: at most `total` entries.
    by_source: HashMap<Source, u32>,
}

/// One admitted connection; dropping it gives its place back.
#[derive(Debug)]
pub struct ConnPermit {
    limiter: Arc<ConnLimiter>,
    source: Source,
}

impl ConnLimiter {
    pub fn new() -> Arc<ConnLimiter> {
        Arc::default()
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        // Every update below is complete before anything can panic.
        lock(&self.open)
    }

    /// Admits a connection from `source`, or says which cap it hit.
    pub fn try_open(self: &Arc<Self>, source: Source, caps: ConnCaps) -> Result<ConnPermit, Limit> {
        let mut open = self.lock();
        if caps.max_connections != 0 && open.total >= caps.max_connections {
            return Err(Limit::Connections);
        }
        let count = open.by_source.entry(source.clone()).or_default();
        if caps.max_per_source != 0 && *count >= caps.max_per_source {
            return Err(Limit::ConnectionsPerSource);
        }
        *count += 1;
        open.total += 1;
        Ok(ConnPermit {
            limiter: self.clone(),
            source,
        })
    }

    /// Open connections, in all.
    pub fn open(&self) -> u32 {
        self.lock().total
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let mut open = self.limiter.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_source.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                open.by_source.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
