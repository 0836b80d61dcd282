//! The admin API: HTTP/1.1 on a Unix socket (mode 0600; default
//! `<state_dir>/admin.sock`) and optionally on a TCP address.
//!
//! | route | answer |
//! |---|---|
//! | `GET /status` | 200, the status document (JSON, see `control::status`) |
//! | `GET /metrics` | 200, Prometheus text format 0.0.4 |
//! | `GET /healthz` | 200 `ok` while the process serves (also while draining); 503 `stalled` when the data plane has not run for 30 s |
//! | `GET /readyz` | 200 `ready` once listeners are up; 503 before, while draining, and when stalled |
//! | `POST /reload` | 200 `{"ok":true,"changes":[..],"restart_required":[..]}`; 400 `{"error":..,"errors":[..]}` for a config that does not parse, 422 when it cannot be applied (a file, a CA, a socket), 409 with the built-in default config |
//!
//! Other methods get 405, other paths 404. The Unix socket's file mode
//! says who may use it. On TCP, `/healthz` and `/readyz` are open and say
//! nothing more; everything else needs `Authorization: Bearer <token>`
//! with the token from `[admin] token_file` (401 otherwise; without a
//! token file the probes are all TCP serves), and `POST /reload` is
//! refused (403) even with it.
//!
//! The server runs on its own thread ([`server`]), with connection caps
//! and timeouts, and asks the data plane for what lives there (the status,
//! the metrics, reloads) over a channel ([`query`]), answered there by the
//! functions in [`Answers`]; the probes come from atomics
//! (`control::ready::Health`), so they answer while the
//! data plane is busy. The admin API never sees the daemon's state: its
//! inputs are the readiness handle, the [`Answers`], the token and its
//! counters.

mod query;
mod server;
mod token;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use tokio::sync::oneshot;
use wingress_config::AdminConfig;

use crate::control::ready::{self, Health};
use crate::control::registry::MetricSections;
pub(crate) use query::{Answers, DataPlane, LocalBoxFuture, Query};
use server::{AdminStats, Inputs, Listeners};
use token::Token;

/// The admin sockets and token, taken at start-up (before the data plane
/// starts, so a second daemon on the same state directory, or an exposed
/// token file, fails early).
pub(crate) struct AdminSockets {
    listeners: Listeners,
    token: Option<Token>,
    dashboard: Option<crate::control::dashboard::Start>,
}

impl AdminSockets {
    pub(crate) fn bind(cfg: &AdminConfig) -> Result<Self> {
        let token = cfg.token_file.as_deref().map(Token::load).transpose()?;
        let unix = bind_unix(&cfg.socket)?;
        let tcp = match cfg.listen {
            Some(addr) => {
                let tcp = std::net::TcpListener::bind(addr)
                    .with_context(|| format!("[admin] listen: cannot listen on {addr}"))?;
                tcp.set_nonblocking(true)?;
                if token.is_none() {
                    tracing::warn!(%addr, "admin tcp address without [admin] token_file: it serves /healthz and /readyz only");
                } else {
                    tracing::info!(%addr, "admin api listening (bearer token required)");
                }
                Some(tcp)
            }
            None => None,
        };
        Ok(AdminSockets {
            listeners: Listeners { unix, tcp },
            token,
            dashboard: None,
        })
    }

    /// Also serves the web dashboard on the admin thread.
    pub(crate) fn with_dashboard(mut self, dashboard: crate::control::dashboard::Start) -> Self {
        self.dashboard = Some(dashboard);
        self
    }

    /// Starts the admin thread, and on the current `LocalSet` (the data
    /// plane's) what answers it: `answers` to its queries, the heartbeat
    /// into `health`, and the admin API's own counters in
    /// `metric_sections`. Serves until the returned guard is dropped.
    pub(crate) fn serve(
        self,
        health: Arc<Health>,
        answers: Answers,
        metric_sections: &MetricSections,
    ) -> Result<AdminGuard> {
        let stats = Arc::new(AdminStats::default());
        {
            let stats = stats.clone();
            metric_sections.register(move |m| stats.render(m));
        }
        spawn_heartbeat(health.clone());
        let inputs = Inputs {
            health,
            data_plane: query::answer_on_data_plane(answers),
            token: self.token,
            stats,
            dashboard: self.dashboard,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("admin api runtime")?;
        let (stop, stopped) = oneshot::channel();
        let listeners = self.listeners;
        std::thread::Builder::new()
            .name("wingress-admin".into())
            .spawn(move || server::run(rt, listeners, inputs, stopped))
            .context("cannot start the admin api thread")?;
        Ok(AdminGuard { _stop: stop })
    }
}

/// Stops the admin thread when dropped. (The socket file is removed by a
/// shutdown hook.)
pub(crate) struct AdminGuard {
    _stop: oneshot::Sender<()>,
}

/// The data plane's heartbeat: a task on its thread, so it stops when that
/// thread is stuck.
fn spawn_heartbeat(health: Arc<Health>) {
    health.beat(Instant::now());
    tokio::task::spawn_local(async move {
        let mut every = tokio::time::interval(ready::BEAT_EVERY);
        loop {
            every.tick().await;
            health.beat(Instant::now());
        }
    });
}

/// Binds the Unix socket with mode 0600: bound under a temporary name,
/// chmod-ed, then renamed into place, so it is never reachable with looser
/// permissions. A socket file nobody answers on (a daemon that crashed) is
/// replaced; one that answers means another daemon runs, and is an error.
fn bind_unix(path: &Path) -> Result<std::os::unix::net::UnixListener> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                bail!(
                    "admin socket {} is in use: is another wingress running with this state directory?",
                    path.display()
                );
            }
            tracing::info!(path = %path.display(), "removing a stale admin socket");
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove stale socket {}", path.display()))?;
        }
        Ok(_) => bail!(
            "{} exists and is not a socket; set [admin] socket to another path",
            path.display()
        ),
        Err(_) => {}
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("admin.sock");
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let listener = std::os::unix::net::UnixListener::bind(&tmp)
        .with_context(|| format!("cannot create admin socket {}", tmp.display()))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot create admin socket {}", path.display()))?;
    listener.set_nonblocking(true)?;
    tracing::info!(path = %path.display(), "admin api listening");
    Ok(listener)
}
