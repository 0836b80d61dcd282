//! The request-smuggling corpus (shared with the proxy's own test) against
//! `wingress run`, over TLS, on a host entrypoint and on a tunnel
//! entrypoint reached through `wingress forward`: every request is refused
//! or reaches the raw backend with exactly one framing and nothing after
//! it. Needs no privileges.
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod common;

#[path = "../../crates/proxy/tests/e2e/smuggling_corpus.rs"]
mod smuggling_corpus;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use smuggling_corpus::{read_statuses, run_corpus, Recorder};
use tokio_rustls::rustls::{self, ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// A TLS client that trusts only `ca` (PEM), for the route host `h`.
fn tls_client(ca: &str) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// Sends `request` over TLS to `addr` and reads the statuses.
fn exchange(
    tls: &Arc<ClientConfig>,
    addr: SocketAddr,
    request: &[u8],
) -> std::io::Result<Vec<u16>> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let name = ServerName::try_from("h").expect("a DNS name");
    let conn = ClientConnection::new(tls.clone(), name).map_err(std::io::Error::other)?;
    let mut stream = StreamOwned::new(conn, tcp);
    stream.write_all(request)?;
    stream.flush()?;
    // The handshake is done once the request is written; from here a
    // quiet moment ends the exchange.
    stream
        .sock
        .set_read_timeout(Some(Duration::from_millis(300)))?;
    Ok(read_statuses(&mut stream))
}

#[test]
fn smuggling_corpus_on_host_and_tunnel_entrypoints() {
    let dir = TempDir::new("smuggling");
    let (skey, spub) = keypair(&dir, "server");
    let (ckey, cpub) = keypair(&dir, "client");
    let recorder = Recorder::start();
    let (wg, lan, tunnel) = (free_port(true), free_port(false), free_port(false));
    let server_cfg = dir.write(
        "server.toml",
        &format!(
            r#"
[node]
state_dir = "{state}"
[wireguard]
private_key_file = "{skey}"
address = "100.64.0.2/24"
listen_port = {wg}
[nat]
stun_servers = []
port_mapping = false
[[peer]]
name = "laptop"
public_key = "{cpub}"
allowed_ips = ["100.64.0.1/32"]
[[entrypoint]]
name = "lan"
listen = "127.0.0.1:{lan}"
[[entrypoint]]
name = "tunnel"
listen = "tunnel:443"
[tls]
internal_ca = true
[[route]]
host = "h"
backends = ["http://{backend}"]
access = "public"
"#,
            state = dir.path("state").display(),
            skey = skey.display(),
            backend = recorder.addr,
        ),
    );
    let client_cfg = forward_config(&dir, &ckey, &spub, wg, &[(tunnel, "100.64.0.2:443")]);
    let server_cfg = server_cfg.to_str().unwrap();
    let _server = Daemon::spawn(&dir, "server", &["run", "--config", server_cfg]);
    let _client = Daemon::spawn(
        &dir,
        "client",
        &["forward", "--config", client_cfg.to_str().unwrap()],
    );
    let lan: SocketAddr = ([127, 0, 0, 1], lan).into();
    let tunnel: SocketAddr = ([127, 0, 0, 1], tunnel).into();
    eventually(Duration::from_secs(20), || TcpStream::connect(lan).ok())
        .expect("entrypoint listens");
    let (code, ca, _) = wingress(&["ca", "export", "--config", server_cfg], "");
    assert_eq!(code, 0);
    let tls = tls_client(&ca);
    // The tunnel is up once a request through it is answered.
    let ping = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    let up = eventually(Duration::from_secs(20), || {
        let statuses = exchange(&tls, tunnel, ping).ok()?;
        (statuses == [200]).then_some(())
    });
    assert!(up.is_some(), "no answer through the tunnel");
    recorder.wait_for(1);

    for (entrypoint, addr) in [("lan", lan), ("tunnel", tunnel)] {
        let failures = run_corpus(&recorder, |request| {
            exchange(&tls, addr, request).expect("TLS exchange")
        });
        assert!(failures.is_empty(), "{entrypoint}: {failures:#?}");
    }
}
