//! The web dashboard's HTTP server: pages for tunnel peers allowed by the
//! `[dashboard]` route, served on the admin thread from an in-process
//! listener (the proxy's backend connections are `tokio::io::duplex`
//! pairs, so no socket is involved).
//!
//! The proxy decides who may open the page (the route's `allow`) and tells
//! us who it is (identity headers it sets and strips from clients); this
//! server trusts those headers and nothing else a browser sends. Changes
//! are POSTs guarded by a token bound to the viewer's key and by the
//! browser's own cross-site signals ([`csrf`]).
//!
//! | method path | answer |
//! |---|---|
//! | `GET /`, `/peers`, `/routes`, `/certificates` | pages |
//! | `GET /peers/add`, `POST /peers/add` | the add form; the new device's config and QR code |
//! | `GET /peers/{name}/remove`, `POST …` | confirmation; 303 to `/peers` |
//! | `GET /events` | server-sent events, one a second ([`events`]) |
//! | `GET /assets/{file}` | embedded CSS, JavaScript, icons |
//!
//! Device changes go through `control::devices` (the code path of `wingress
//! peer add | remove`), one at a time, then the admin API's reload.

mod csrf;
mod events;
mod form;
mod pages;
mod read_only;
mod server;
mod stats;
mod viewer;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use tokio::io::DuplexStream;
use tokio::sync::mpsc;

use crate::control::admin::{DataPlane, LocalBoxFuture, Query};
use crate::control::registry::MetricSections;
pub(crate) use server::serve;
pub(crate) use stats::DashboardStats;

/// Where the dashboard's connections come from: the proxy's in-process
/// listener in the daemon, a channel of duplex streams in tests. `None`
/// means no more will come, and the server stops accepting.
pub(crate) trait Accept {
    fn accept(&mut self) -> Pin<Box<dyn Future<Output = Option<DuplexStream>> + '_>>;
}

impl Accept for wingress_proxy::InProcessListener {
    fn accept(&mut self) -> Pin<Box<dyn Future<Output = Option<DuplexStream>> + '_>> {
        Box::pin(wingress_proxy::InProcessListener::accept(self))
    }
}

impl Accept for mpsc::Receiver<DuplexStream> {
    fn accept(&mut self) -> Pin<Box<dyn Future<Output = Option<DuplexStream>> + '_>> {
        Box::pin(self.recv())
    }
}

/// What the dashboard needs from the daemon: its status document and a
/// reload. On the daemon this is the admin thread's [`DataPlane`]; tests
/// put a fake here.
pub(crate) trait DaemonLink {
    /// The status document (as `GET /status`), `None` when the data plane
    /// does not answer in time.
    fn status(&self) -> LocalBoxFuture<Option<serde_json::Value>>;
    /// Reloads the config as `POST /reload` does; the error says why not.
    fn reload(&self) -> LocalBoxFuture<Result<(), String>>;
}

impl DaemonLink for DataPlane {
    fn status(&self) -> LocalBoxFuture<Option<serde_json::Value>> {
        let dp = self.clone();
        Box::pin(async move { dp.status().await })
    }

    fn reload(&self) -> LocalBoxFuture<Result<(), String>> {
        let dp = self.clone();
        Box::pin(async move {
            let reply = dp.ask(Query::Reload).await;
            if (200..300).contains(&reply.status) {
                return Ok(());
            }
            let why = serde_json::from_str::<serde_json::Value>(&reply.body)
                .ok()
                .and_then(|v| v.get("error")?.as_str().map(str::to_string))
                .unwrap_or_else(|| reply.body.trim().to_string());
            Err(format!("reload refused ({}): {why}", reply.status))
        })
    }
}

/// What the server runs with.
pub(crate) struct Deps {
    pub(crate) daemon: Rc<dyn DaemonLink>,
    /// The config file the daemon runs; `None`: the built-in default.
    pub(crate) config_path: Option<PathBuf>,
    /// Concurrent `/events` streams; more get 503.
    pub(crate) max_event_streams: usize,
    pub(crate) stats: Arc<DashboardStats>,
}

/// The dashboard, ready to move to the admin thread: made at start-up on
/// the data-plane thread (where metrics are registered), started there by
/// [`Start::spawn`] with the admin thread's [`DataPlane`].
pub(crate) struct Start {
    listener: Box<dyn Accept + Send>,
    config_path: Option<PathBuf>,
    max_event_streams: usize,
    stats: Arc<DashboardStats>,
}

impl Start {
    /// Registers the dashboard's metrics in `metric_sections`.
    pub(crate) fn new(
        listener: impl Accept + Send + 'static,
        config_path: Option<PathBuf>,
        max_event_streams: usize,
        metric_sections: &MetricSections,
    ) -> Start {
        let stats = Arc::new(DashboardStats::default());
        {
            let stats = stats.clone();
            metric_sections.register(move |m| stats.render(m));
        }
        Start {
            listener: Box::new(listener),
            config_path,
            max_event_streams,
            stats,
        }
    }

    /// Serves on the current `LocalSet` (the admin thread's) until the
    /// listener ends or the `LocalSet` is dropped.
    pub(crate) fn spawn(self, data_plane: DataPlane) {
        let deps = Deps {
            daemon: Rc::new(data_plane),
            config_path: self.config_path,
            max_event_streams: self.max_event_streams,
            stats: self.stats,
        };
        tokio::task::spawn_local(serve(BoxedAccept(self.listener), deps));
    }
}

struct BoxedAccept(Box<dyn Accept + Send>);

impl Accept for BoxedAccept {
    fn accept(&mut self) -> Pin<Box<dyn Future<Output = Option<DuplexStream>> + '_>> {
        self.0.accept()
    }
}
