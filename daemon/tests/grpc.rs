//! gRPC end to end on a host entrypoint: Python grpcio's client, over TLS
//! and HTTP/2 to wingress, and grpcio's server as an `h2c://` backend.
//! The same server behind TLS (a private CA, h2 by ALPN with a
//! `[[transport]]` saying `http2 = true`) for the basic calls. Unary and
//! bidirectional streaming calls, a `PERMISSION_DENIED` status
//! with its message (trailers) arriving intact, a client deadline
//! expiring when the client set it, and one longer than the route's
//! `timeout` honoured with `grpc_deadline = true` (cut at the route's
//! timeout without it). Generic handlers on raw bytes, so no
//! generated code (grpcio-tools) is needed. Without python3's `grpc`
//! module the test skips, or fails when WINGRESS_LAB=require
//! (scripts/test.sh installs grpcio).
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::*;

/// The grpcio server and client, shared with the tunnel lab test
/// (tests/grpc_lab.rs).
const SERVER: &str = include_str!("../../tests/grpc/server.py");
const CLIENT: &str = include_str!("../../tests/grpc/client.py");
/// Whether python3 can import `grpc` (see `common::required`;
/// scripts/test.sh installs grpcio).
fn have_grpcio() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import grpc"])
        .output()
        .is_ok_and(|o| o.status.success());
    required(found, "python3 grpcio")
}

/// The grpcio server, killed on drop.
struct Server(Child);

impl Server {
    /// Starts server.py on any port (`tls`: certificate and key files) and
    /// returns it with the port it printed.
    fn start(script: &Path, tls: &[&str]) -> (Server, u16) {
        let mut child = Command::new("python3")
            .arg(script)
            .arg("0")
            .args(tls)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the server prints its port");
        (Server(child), port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn grpcio_calls_pass_through_a_host_entrypoint_to_an_h2c_backend() {
    if !have_grpcio() {
        return;
    }
    let dir = TempDir::new("grpc");
    let script = dir.write("server.py", SERVER);
    let (_server, backend) = Server::start(&script, &[]);
    // The same server behind TLS, its certificate from a private CA.
    let pki = Pki::new(&dir);
    let (cert, key) = pki.leaf(&dir, "backend", &["grpc-backend.test"], false, false);
    let (_tls_server, tls_backend) =
        Server::start(&script, &[cert.to_str().unwrap(), key.to_str().unwrap()]);

    let https = free_port(false);
    let cfg = host_entrypoint_config(
        &dir,
        https,
        &format!(
            r#"
[[route]]
host = "grpc.test"
backends = ["h2c://127.0.0.1:{backend}"]
access = "public"
timeout = "1s"
grpc_deadline = true
[[transport]]
name = "grpc-tls"
ca = "{ca}"
server_name = "grpc-backend.test"
http2 = true
[[route]]
host = "tls.test"
backends = ["https://127.0.0.1:{tls_backend}"]
transport = "grpc-tls"
access = "public"
[[route]]
host = "cut.test"
backends = ["h2c://127.0.0.1:{backend}"]
access = "public"
timeout = "1s"
"#,
            ca = pki.ca.display(),
        ),
    );
    let cfg = cfg.to_str().unwrap();
    let (daemon, ca_file) = serve_with_own_ca(&dir, cfg, https);

    let client = dir.write("client.py", CLIENT);
    let out = Command::new("python3")
        .arg(&client)
        .arg(format!("127.0.0.1:{https}"))
        .arg(&ca_file)
        .args(["grpc.test", "cut.test"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client failed:\n{stdout}\n{}\ndaemon:\n{}",
        String::from_utf8_lossy(&out.stderr),
        daemon.log()
    );
    for step in [
        "unary ok",
        "bidi ok",
        "status ok",
        "deadline ok",
        "route timeout ok",
    ] {
        assert!(stdout.contains(step), "{stdout}");
    }

    // The TLS backend: h2 by ALPN through the transport.
    let out = Command::new("python3")
        .arg(&client)
        .arg(format!("127.0.0.1:{https}"))
        .arg(&ca_file)
        .arg("tls.test")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client (tls backend) failed:\n{stdout}\n{}\ndaemon:\n{}",
        String::from_utf8_lossy(&out.stderr),
        daemon.log()
    );
    for step in ["unary ok", "bidi ok", "status ok", "deadline ok"] {
        assert!(stdout.contains(step), "{stdout}");
    }
}
