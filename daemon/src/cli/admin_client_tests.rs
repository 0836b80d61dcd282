use super::*;

/// Answers one connection on a fresh socket with `raw`, and returns
/// the socket's path.
fn answering(tag: &str, raw: &'static [u8]) -> PathBuf {
    use std::io::{Read, Write};
    let p = std::env::temp_dir().join(format!(
        "wingress-admin-client-{tag}-{}.sock",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&p);
    let listener = std::os::unix::net::UnixListener::bind(&p).unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0];
        while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let _ = s.write_all(raw);
    });
    p
}

fn get(tag: &str, raw: &'static [u8]) -> Result<Response, AdminError> {
    let p = answering(tag, raw);
    let r = request(&p, "GET", "/status");
    let _ = std::fs::remove_file(&p);
    r
}

#[test]
fn reads_plain_chunked_and_close_delimited_responses() {
    let r = get(
        "plain",
        b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{\"ok\":true}",
    )
    .unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "{\"ok\":true}"));
    let r = get(
            "chunked",
            b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"err\r\n8;x=y\r\nor\":\"x\"}\r\n0\r\n\r\n",
        )
        .unwrap();
    assert_eq!((r.status, r.body.as_str()), (400, "{\"error\":\"x\"}"));
    assert_eq!(error_message(&r.body), "x");
    let r = get("close", b"HTTP/1.0 503 Service Unavailable\r\n\r\nbusy\n").unwrap();
    assert_eq!((r.status, error_message(&r.body).as_str()), (503, "busy"));
}

#[test]
fn what_is_not_an_http_response_is_refused() {
    assert!(matches!(
        get("ssh", b"SSH-2.0-OpenSSH\r\n\r\n"),
        Err(AdminError::BadResponse(_))
    ));
    assert!(matches!(
        get(
            "short",
            b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\nshort"
        ),
        Err(AdminError::BadResponse(_))
    ));
}

#[test]
fn a_missing_socket_means_no_daemon() {
    let p = std::env::temp_dir().join(format!("wingress-no-daemon-{}.sock", std::process::id()));
    assert!(matches!(
        request(&p, "GET", "/status"),
        Err(AdminError::NotRunning(_))
    ));
}
