//! The admin API: HTTP/1.1 on a Unix socket (mode 0600; default
//! `<state_dir>/admin.sock`) and optionally on a TCP address.
//!
//! | route | answer |
//! |---|---|
//! | `GET /status` | 200, the status document (JSON, see `status.rs`) |
//! | `GET /metrics` | 200, Prometheus text format 0.0.4 |
//! | `GET /healthz` | 200 `ok` while the process serves (also while draining) |
//! | `GET /readyz` | 200 `ready` once listeners are up; 503 before and while draining |
//! | `POST /reload` | 200 `{"ok":true,"changes":[..],"restart_required":[..]}`; 400 `{"error":..,"errors":[..]}` for a config that does not parse, 422 when it cannot be applied (a file, a CA, a socket), 409 with the built-in default config |
//!
//! `POST /reload` is refused (403) on the TCP address: a Unix socket's file
//! mode says who may use it, a TCP port does not. Other methods get 405,
//! other paths 404. The server runs on the data-plane thread, where the
//! state it reports lives; a scrape borrows that state for microseconds.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

use crate::reload::{self, ReloadError, Trigger};
use crate::state::DaemonRef;
use crate::{metrics, status};

/// The admin sockets, bound at start-up (before the data plane starts, so a
/// second daemon on the same state directory fails early).
pub struct AdminSockets {
    unix: UnixListener,
    tcp: Option<TcpListener>,
}

impl AdminSockets {
    pub fn bind(socket: &Path, listen: Option<SocketAddr>) -> Result<Self> {
        let unix = bind_unix(socket)?;
        let tcp = match listen {
            Some(addr) => {
                let std = std::net::TcpListener::bind(addr)
                    .with_context(|| format!("[admin] listen: cannot listen on {addr}"))?;
                std.set_nonblocking(true)?;
                Some(TcpListener::from_std(std)?)
            }
            None => None,
        };
        Ok(AdminSockets { unix, tcp })
    }

    /// Serves until the returned guard is dropped.
    pub fn serve(self, d: &DaemonRef) -> AdminGuard {
        let mut tasks = Vec::new();
        let (unix, d2) = (self.unix, d.clone());
        tasks.push(tokio::task::spawn_local(async move {
            loop {
                match unix.accept().await {
                    Ok((stream, _)) => serve_conn(d2.clone(), stream, Origin::Unix),
                    Err(e) => {
                        tracing::warn!(error = %e, "admin socket accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            }
        }));
        if let Some(tcp) = self.tcp {
            let d = d.clone();
            tasks.push(tokio::task::spawn_local(async move {
                loop {
                    match tcp.accept().await {
                        Ok((stream, _)) => serve_conn(d.clone(), stream, Origin::Tcp),
                        Err(e) => {
                            tracing::warn!(error = %e, "admin tcp accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                    }
                }
            }));
        }
        AdminGuard { tasks }
    }
}

/// The admin server's tasks; they stop when this is dropped. (The socket
/// file is removed by a shutdown hook.)
pub struct AdminGuard {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for AdminGuard {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Binds the Unix socket with mode 0600: bound under a temporary name,
/// chmod-ed, then renamed into place, so it is never reachable with looser
/// permissions. A socket file nobody answers on (a daemon that crashed) is
/// replaced; one that answers means another daemon runs, and is an error.
fn bind_unix(path: &Path) -> Result<UnixListener> {
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
    let listener = UnixListener::bind(&tmp)
        .with_context(|| format!("cannot create admin socket {}", tmp.display()))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot create admin socket {}", path.display()))?;
    tracing::info!(path = %path.display(), "admin api listening");
    Ok(listener)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Unix,
    Tcp,
}

fn serve_conn<IO>(d: DaemonRef, io: IO, origin: Origin)
where
    IO: AsyncRead + AsyncWrite + Unpin + 'static,
{
    tokio::task::spawn_local(async move {
        let service = service_fn(move |req| {
            let d = d.clone();
            async move { Ok::<_, Infallible>(handle(&d, req, origin).await) }
        });
        let _ = http1::Builder::new()
            .serve_connection(TokioIo::new(io), service)
            .await;
    });
}

type Body = Full<Bytes>;

fn respond(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Full::new(body.into()))
        .unwrap_or_default()
}

fn json(status: u16, value: &serde_json::Value) -> Response<Body> {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    respond(status, "application/json", text)
}

async fn handle(d: &DaemonRef, req: Request<Incoming>, origin: Origin) -> Response<Body> {
    let path = req.uri().path();
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    match (path, get, req.method() == Method::POST) {
        ("/status", true, _) => json(200, &status::document(d)),
        ("/metrics", true, _) => respond(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics::render(d),
        ),
        ("/healthz", true, _) => respond(200, "text/plain", "ok\n"),
        ("/readyz", true, _) if d.ready.get() => respond(200, "text/plain", "ready\n"),
        ("/readyz", true, _) => {
            let why = if d.draining.get() {
                "draining\n"
            } else {
                "starting\n"
            };
            respond(503, "text/plain", why)
        }
        ("/reload", _, true) if origin == Origin::Tcp => json(
            403,
            &serde_json::json!({"error": "reload is accepted only on the admin unix socket"}),
        ),
        ("/reload", _, true) => match reload::reload(d, Trigger::Api).await {
            Ok(applied) => json(
                200,
                &serde_json::json!({
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
                json(
                    e.http_status(),
                    &serde_json::json!({"error": e.to_string(), "errors": errors}),
                )
            }
        },
        ("/status" | "/metrics" | "/healthz" | "/readyz" | "/reload", _, _) => {
            respond(405, "text/plain", "method not allowed\n")
        }
        _ => respond(404, "text/plain", "not found\n"),
    }
}
