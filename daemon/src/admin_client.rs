//! A minimal client for the daemon's admin API: HTTP/1.1 over its Unix
//! socket (`<state_dir>/admin.sock` unless `[admin].socket` says
//! otherwise), one request per connection. The CLI uses it to ask a
//! running daemon to reload and for its status.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wingress_config::ServerConfig;

/// A reload validates and applies a whole config (certificates included):
/// give it time.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Responses larger than this are not the admin API's.
const MAX_RESPONSE: u64 = 16 << 20;

/// Why a request got no HTTP response.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
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
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// Where the daemon running `cfg` listens: `[admin].socket` (relative to
/// the config's folder), else `<state_dir>/admin.sock`. Read from the
/// config text itself so that the CLI finds the socket whichever version
/// of the `[admin]` schema the running daemon has.
pub fn socket_path(cfg: &ServerConfig, text: &str) -> PathBuf {
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

/// Sends `method target` with an empty body and reads the whole response.
pub fn request(socket: &Path, method: &str, target: &str) -> Result<Response, AdminError> {
    let io = |source| AdminError::Io {
        path: socket.to_path_buf(),
        source,
    };
    let mut s = UnixStream::connect(socket).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            AdminError::NotRunning(socket.to_path_buf())
        }
        _ => io(e),
    })?;
    s.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    s.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: wingress\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    s.take(MAX_RESPONSE).read_to_end(&mut raw).map_err(io)?;
    parse_response(&raw).ok_or_else(|| AdminError::BadResponse(socket.to_path_buf()))
}

/// Status line, headers, and a body framed by Content-Length, chunked
/// encoding, or the end of the connection.
fn parse_response(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()?
        .strip_prefix("HTTP/1.")?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().ok()?);
        }
    }
    let body = if chunked {
        dechunk(body)?
    } else {
        match length {
            Some(n) => body.get(..n)?.to_vec(),
            None => body.to_vec(),
        }
    };
    Some(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// The `"error"` of a JSON error body (`{"error":"..."}`), else the body.
pub fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let r =
            parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{\"ok\":true}").unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "{\"ok\":true}"));
        let r = parse_response(
            b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"err\r\n8;x=y\r\nor\":\"x\"}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_str()), (400, "{\"error\":\"x\"}"));
        assert_eq!(error_message(&r.body), "x");
        let r = parse_response(b"HTTP/1.0 503 Service Unavailable\r\n\r\nbusy\n").unwrap();
        assert_eq!((r.status, error_message(&r.body).as_str()), (503, "busy"));
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_none());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\nshort").is_none());
    }

    #[test]
    fn a_missing_socket_means_no_daemon() {
        let p =
            std::env::temp_dir().join(format!("wingress-no-daemon-{}.sock", std::process::id()));
        assert!(matches!(
            request(&p, "GET", "/status"),
            Err(AdminError::NotRunning(_))
        ));
    }
}
