//! The client for the daemon's admin API: HTTP/1.1 (hyper) over its Unix
//! socket (`<state_dir>/admin.sock` unless `[admin].socket` says
//! otherwise), one request per connection. The CLI uses it to ask a
//! running daemon to reload and for its status.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use wingress_config::ServerConfig;

/// A reload validates and applies a whole config (certificates included):
/// give it time.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Responses larger than this are not the admin API's.
const MAX_RESPONSE: usize = 16 << 20;

/// Why a request got no HTTP response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AdminError {
    /// Nothing listens on the socket: no daemon runs (with this config).
    #[error("no daemon answered on {}", .0.display())]
    NotRunning(PathBuf),
    #[error("admin socket {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("admin socket {}: not an HTTP response", .0.display())]
    BadResponse(PathBuf),
}

/// An HTTP response: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// Where the daemon running `cfg` listens: `[admin].socket` (relative to
/// the config's folder), else `<state_dir>/admin.sock`. Read from the
/// config text itself so that the CLI finds the socket whichever version
/// of the `[admin]` schema the running daemon has.
pub(crate) fn socket_path(cfg: &ServerConfig, text: &str) -> PathBuf {
    let written = text.parse::<toml_edit::DocumentMut>().ok().and_then(|doc| {
        doc.get("admin")?
            .get("socket")?
            .as_str()
            .map(str::to_string)
    });
    match written {
        Some(p) => cfg.path.parent().unwrap_or(Path::new("")).join(p),
        None => cfg.node.state_dir.join("admin.sock"),
    }
}

/// Sends `method target` with an empty body and reads the whole response,
/// with hyper's HTTP/1.1 client on a current-thread runtime of its own (the
/// CLI runs none).
pub(crate) fn request(socket: &Path, method: &str, target: &str) -> Result<Response, AdminError> {
    let io = |source| AdminError::Io {
        path: socket.to_path_buf(),
        source,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io)?;
    rt.block_on(async {
        tokio::time::timeout(TIMEOUT, exchange(socket, method, target))
            .await
            .unwrap_or_else(|_| Err(io(std::io::ErrorKind::TimedOut.into())))
    })
}

async fn exchange(socket: &Path, method: &str, target: &str) -> Result<Response, AdminError> {
    let bad = || AdminError::BadResponse(socket.to_path_buf());
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                AdminError::NotRunning(socket.to_path_buf())
            }
            _ => AdminError::Io {
                path: socket.to_path_buf(),
                source: e,
            },
        })?;
    let (mut sender, conn) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|_| bad())?;
    let request = Request::builder()
        .method(method)
        .uri(target)
        .header(header::HOST, "wingress")
        .header(header::CONNECTION, "close")
        .body(Empty::new())
        .map_err(|_| bad())?;
    // The connection runs beside the request; it ends with the response
    // (the daemon serves one request per connection).
    tokio::spawn(conn);
    let response = sender.send_request(request).await.map_err(|_| bad())?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|_| bad())?
        .to_bytes();
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// The `"error"` of a JSON error body (`{"error":"..."}`), else the body.
pub(crate) fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string())
}

#[cfg(test)]
#[path = "admin_client_tests.rs"]
mod tests;
