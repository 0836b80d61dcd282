//! `https://` backends and forward-auth through `[[transport]]`s, against a
//! real nginx with certificates from a private CA made here (rcgen): the CA
//! file verifies; the system's roots refuse it (502, "unknown issuer"
//! logged); `insecure_skip_verify` accepts it; a wrong `server_name` is
//! refused ("name mismatch"), as is an expired certificate ("expired"); a
//! client certificate passes nginx's `ssl_verify_client`; forward-auth asks
//! an https auth endpoint; health checks go through the same transport.
//! Needs no privileges (nginx and curl from the system); without nginx the
//! tests skip, or fail when WINGRESS_LAB=require.
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

/// nginx in the foreground (one process), killed on drop.
struct Nginx(Child, PathBuf);

impl Nginx {
    fn start(dir: &TempDir, servers: &str) -> Self {
        let root = dir.path("nginx");
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        let conf = dir.write(
            "nginx.conf",
            &format!(
                r#"daemon off;
master_process off;
worker_processes 1;
error_log {root}/error.log info;
pid {root}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
{servers}
}}
"#,
                root = root.display()
            ),
        );
        let child = Command::new("nginx")
            .args(["-p"])
            .arg(&root)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx runs");
        Nginx(child, root.join("error.log"))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.1).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `curl https://HOST:PORT/` through the daemon's entrypoint: (status, body).
fn get(ca: &Path, port: u16, host: &str, extra: &[&str]) -> (String, String) {
    curl_https(ca, port, host, "/", 20, extra)
}

fn route(host: &str, backend: &str, transport: Option<&str>, extra: &str) -> String {
    let transport = transport.map_or(String::new(), |t| format!("transport = \"{t}\"\n"));
    format!(
        "[[route]]\nhost = \"{host}\"\nbackends = [\"{backend}\"]\naccess = \"public\"\n{transport}{extra}"
    )
}

#[test]
fn https_backends_are_verified_as_their_transport_says() {
    if !have("nginx") || !have("curl") {
        return;
    }
    let dir = TempDir::new("https-backend");
    let pki = Pki::new(&dir);
    let (cert, key) = pki.leaf(&dir, "backend", &["backend.test"], false, false);
    let (old_cert, old_key) = pki.leaf(&dir, "expired", &["backend.test"], false, true);
    let (client_cert, client_key) = pki.leaf(&dir, "client", &["client.test"], true, false);
    let (tls_port, mtls_port, expired_port) =
        (free_port(false), free_port(false), free_port(false));
    let ca = pki.ca.display();
    let nginx = Nginx::start(
        &dir,
        &format!(
            r#"
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        server_name backend.test;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location = /auth {{
            add_header Remote-User alice;
            return 200 "authorized\n";
        }}
        location = /health {{ return 204; }}
        location / {{ return 200 "tls backend user=$http_remote_user sni=$ssl_server_name\n"; }}
    }}
    server {{
        listen 127.0.0.1:{mtls_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_verify_client on;
        ssl_client_certificate {ca};
        location / {{ return 200 "mtls backend client=$ssl_client_s_dn\n"; }}
    }}
    server {{
        listen 127.0.0.1:{expired_port} ssl;
        ssl_certificate {old_cert};
        ssl_certificate_key {old_key};
        location / {{ return 200 "expired backend\n"; }}
    }}
"#,
            cert = cert.display(),
            key = key.display(),
            old_cert = old_cert.display(),
            old_key = old_key.display(),
        ),
    );
    listening(tls_port);
    listening(mtls_port);

    let https = free_port(false);
    let tls = format!("https://127.0.0.1:{tls_port}");
    let routes = [
        format!(
            r#"
[[transport]]
name = "private-ca"
ca = "{ca}"
server_name = "backend.test"
[[transport]]
name = "wrong-name"
ca = "{ca}"
server_name = "other.test"
[[transport]]
name = "lab"
insecure_skip_verify = true
[[transport]]
name = "mtls"
ca = "{ca}"
server_name = "backend.test"
client_cert = "{client_cert}"
client_key = "{client_key}"
"#,
            client_cert = client_cert.display(),
            client_key = client_key.display(),
        ),
        route("verified.test", &tls, Some("private-ca"), ""),
        route("system.test", &tls, None, ""),
        route("insecure.test", &tls, Some("lab"), ""),
        route("wrong-name.test", &tls, Some("wrong-name"), ""),
        route(
            "expired.test",
            &format!("https://127.0.0.1:{expired_port}"),
            Some("private-ca"),
            "",
        ),
        route(
            "mtls.test",
            &format!("https://127.0.0.1:{mtls_port}"),
            Some("mtls"),
            "",
        ),
        route(
            "no-client-cert.test",
            &format!("https://127.0.0.1:{mtls_port}"),
            Some("private-ca"),
            "",
        ),
        route(
            "checked.test",
            &tls,
            Some("private-ca"),
            "health_check = { path = \"/health\", interval = \"100ms\" }\n",
        ),
        format!(
            "[[route]]\nhost = \"auth.test\"\nbackends = [\"{tls}\"]\ntransport = \"private-ca\"\n\
             access = \"forward-auth\"\nforward_auth = \"https://127.0.0.1:{tls_port}/auth\"\n"
        ),
    ]
    .concat();
    let cfg = host_entrypoint_config(&dir, https, &routes);
    let cfg = cfg.to_str().unwrap();
    let (code, _, err) = wingress(&["check", "--config", cfg], "");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("`lab` has insecure_skip_verify = true"),
        "{err}"
    );

    let (daemon, own_ca) = serve_with_own_ca(&dir, cfg, https);
    let logs = || format!("daemon:\n{}\nnginx:\n{}", daemon.log(), nginx.log());

    let (status, body) = get(&own_ca, https, "verified.test", &[]);
    assert_eq!(status, "200", "{body}\n{}", logs());
    assert!(
        body.contains("tls backend user= sni=backend.test"),
        "{body}"
    );

    for (host, cause) in [
        ("system.test", "unknown issuer"),
        ("wrong-name.test", "name mismatch"),
        ("expired.test", "expired"),
    ] {
        // Twice: a certificate error does not eject the backend (that
        // would make the second answer 503).
        for _ in 0..2 {
            let (status, body) = get(&own_ca, https, host, &[]);
            assert_eq!(status, "502", "{host}: {body}\n{}", logs());
        }
        let logged = eventually(Duration::from_secs(5), || {
            daemon
                .log()
                .lines()
                .any(|l| l.contains("backend tls handshake failed") && l.contains(cause))
                .then_some(())
        });
        assert!(
            logged.is_some(),
            "{host}: no log line naming `{cause}`\n{}",
            logs()
        );
    }

    let (status, body) = get(&own_ca, https, "insecure.test", &[]);
    assert_eq!(status, "200", "{body}\n{}", logs());

    let (status, body) = get(&own_ca, https, "mtls.test", &[]);
    assert_eq!(status, "200", "{body}\n{}", logs());
    assert!(body.contains("client=CN=client"), "{body}");
    // nginx completes the handshake without a client certificate and
    // answers 400 itself.
    let (status, body) = get(&own_ca, https, "no-client-cert.test", &[]);
    assert_eq!(status, "400", "{body}\n{}", logs());

    // Forward-auth over https: the auth endpoint's Remote-User reaches the
    // backend; a client's own Remote-User never does.
    let (status, body) = get(&own_ca, https, "auth.test", &["-H", "Remote-User: mallory"]);
    assert_eq!(status, "200", "{body}\n{}", logs());
    assert!(body.contains("user=alice"), "{body}");

    // Health checks over the transport keep the backend up (a failing one
    // would answer 503 for the route).
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..3 {
        let (status, body) = get(&own_ca, https, "checked.test", &[]);
        assert_eq!(status, "200", "{body}\n{}", logs());
    }
    assert!(!daemon.log().contains("backend down"), "{}", logs());
}

/// nginx speaking HTTP/2 only (h2c by prior knowledge, and h2 over TLS
/// offered by ALPN with `http2 = true`), reached by curl over HTTP/1.1 and
/// HTTP/2: nginx reports the protocol it was spoken to in.
#[test]
fn http2_backends_are_reached_by_http1_and_http2_clients() {
    if !have("nginx") || !have("curl") {
        return;
    }
    let dir = TempDir::new("h2-backend");
    let pki = Pki::new(&dir);
    let (cert, key) = pki.leaf(&dir, "backend", &["backend.test"], false, false);
    let (h2c_port, h2_port) = (free_port(false), free_port(false));
    let nginx = Nginx::start(
        &dir,
        &format!(
            r#"
    server {{
        listen 127.0.0.1:{h2c_port} http2;
        location / {{ return 200 "h2c backend proto=$server_protocol host=$host\n"; }}
    }}
    server {{
        listen 127.0.0.1:{h2_port} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{ return 200 "h2 backend proto=$server_protocol host=$host\n"; }}
    }}
"#,
            cert = cert.display(),
            key = key.display(),
        ),
    );
    listening(h2c_port);
    listening(h2_port);

    let https = free_port(false);
    let routes = [
        format!(
            "[[transport]]\nname = \"h2\"\nca = \"{ca}\"\nserver_name = \"backend.test\"\nhttp2 = true\n\
             [[transport]]\nname = \"h1\"\nca = \"{ca}\"\nserver_name = \"backend.test\"\n",
            ca = pki.ca.display()
        ),
        route(
            "h2c.test",
            &format!("h2c://127.0.0.1:{h2c_port}"),
            None,
            "",
        ),
        route(
            "h2.test",
            &format!("https://127.0.0.1:{h2_port}"),
            Some("h2"),
            "",
        ),
        route(
            "h1.test",
            &format!("https://127.0.0.1:{h2_port}"),
            Some("h1"),
            "",
        ),
    ]
    .concat();
    let cfg = host_entrypoint_config(&dir, https, &routes);
    let cfg = cfg.to_str().unwrap();
    let (daemon, own_ca) = serve_with_own_ca(&dir, cfg, https);
    let logs = || format!("daemon:\n{}\nnginx:\n{}", daemon.log(), nginx.log());

    for client in ["--http1.1", "--http2"] {
        for (host, expect) in [
            ("h2c.test", "h2c backend proto=HTTP/2.0 host=h2c.test"),
            ("h2.test", "h2 backend proto=HTTP/2.0 host=h2.test"),
            // Without `http2 = true` only http/1.1 is offered.
            ("h1.test", "h2 backend proto=HTTP/1.1 host=h1.test"),
        ] {
            for _ in 0..2 {
                let (status, body) = get(&own_ca, https, host, &[client]);
                assert_eq!(status, "200", "{client} {host}: {body}\n{}", logs());
                assert!(body.contains(expect), "{client} {host}: {body}");
            }
        }
    }
}
