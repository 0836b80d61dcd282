//! Real TLS handshakes (tokio-rustls client and server over an in-memory
//! duplex pipe) against `server_config`.
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::client::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{HandshakeKind, RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use wingress_tls::{server_config, CertStore, ClientCaVerifier, MemoryCert, ServerTlsOptions};

// === support ===

struct TestDir(PathBuf);

impl TestDir {
    fn new(tag: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "handshake-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TestDir(path)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A CA (for client certificates) and helpers to issue from it.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new(cn: &str) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        TestCa { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn client_cert(&self, cn: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let key = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap();
        (vec![cert.der().clone()], key)
    }
}

fn roots_from_pem(pem: &str) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    Arc::new(roots)
}

fn client(
    roots: Arc<RootCertStore>,
    auth: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    alpn: &[&[u8]],
) -> Arc<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match auth {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// What the server saw of a completed handshake.
struct Accepted {
    alpn: Option<Vec<u8>>,
    peer_certificates: Option<Vec<CertificateDer<'static>>>,
    kind: Option<HandshakeKind>,
}

/// Runs one handshake, then a one-byte exchange server→client (which also
/// delivers TLS 1.3 session tickets). `Err` carries the failing side's error.
async fn handshake(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    sni: &str,
) -> Result<Accepted, String> {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let name = ServerName::try_from(sni.to_owned()).unwrap();
    let server_side = async move {
        let mut tls = TlsAcceptor::from(server)
            .accept(server_io)
            .await
            .map_err(|e| format!("server: {e}"))?;
        let (_, conn) = tls.get_ref();
        let accepted = Accepted {
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            peer_certificates: conn
                .peer_certificates()
                .map(|c| c.iter().map(|d| d.clone().into_owned()).collect()),
            kind: conn.handshake_kind(),
        };
        tls.write_all(b"!")
            .await
            .map_err(|e| format!("server: {e}"))?;
        tls.flush().await.map_err(|e| format!("server: {e}"))?;
        Ok::<_, String>((accepted, tls))
    };
    let client_side = async move {
        let mut tls = TlsConnector::from(client)
            .connect(name, client_io)
            .await
            .map_err(|e| format!("client: {e}"))?;
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte)
            .await
            .map_err(|e| format!("client: {e}"))?;
        Ok::<_, String>(tls)
    };
    let (server_result, client_result) = tokio::join!(server_side, client_side);
    let (accepted, _server_tls) = server_result?;
    client_result?;
    Ok(accepted)
}

fn options(alpn_h2: bool, client_cas: Vec<PathBuf>) -> ServerTlsOptions {
    ServerTlsOptions {
        alpn_h2,
        client_cas,
        acme_tls_alpn: false,
    }
}

// === tests ===

#[tokio::test]
async fn client_trusting_only_the_internal_ca_connects_and_verifies_the_name() {
    let dir = TestDir::new("internal");
    let store = CertStore::new(&dir.0, true, &[]).unwrap();
    store.set_issue_hosts(&["app.internal"]);
    let server = server_config(&store, &options(false, vec![])).unwrap();
    let roots = roots_from_pem(&store.ca_pem().unwrap());

    let accepted = handshake(
        server.clone(),
        client(roots.clone(), None, &[]),
        "app.internal",
    )
    .await
    .unwrap();
    assert_eq!(accepted.kind, Some(HandshakeKind::Full));

    // A second store on the same state dir serves the same leaf to a client
    // that still trusts only the first store's CA.
    let restarted = CertStore::new(&dir.0, true, &[]).unwrap();
    restarted.set_issue_hosts(&["app.internal"]);
    let server2 = server_config(&restarted, &options(false, vec![])).unwrap();
    handshake(server2, client(roots, None, &[]), "app.internal")
        .await
        .unwrap();
}

#[tokio::test]
async fn static_certs_are_chosen_by_sni_including_wildcards() {
    let dir = TestDir::new("static");
    let mut pairs = Vec::new();
    let mut pems = Vec::new();
    for (stem, name) in [("a", "a.example.com"), ("wild", "*.example.net")] {
        let generated = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        pems.push(generated.cert.pem());
        pairs.push((
            dir.write(&format!("{stem}.pem"), &generated.cert.pem()),
            dir.write(
                &format!("{stem}.key"),
                &generated.signing_key.serialize_pem(),
            ),
        ));
    }
    let store = CertStore::new(&dir.0, false, &pairs).unwrap();
    let server = server_config(&store, &options(false, vec![])).unwrap();

    // Each client trusts only the certificate it should get.
    let only_a = client(roots_from_pem(&pems[0]), None, &[]);
    let only_wild = client(roots_from_pem(&pems[1]), None, &[]);
    handshake(server.clone(), only_a.clone(), "a.example.com")
        .await
        .unwrap();
    handshake(server.clone(), only_wild.clone(), "x.example.net")
        .await
        .unwrap();
    assert!(handshake(server.clone(), only_a, "x.example.net")
        .await
        .is_err());
    // No internal CA: an unknown name gets no certificate at all.
    let err = handshake(server, only_wild, "unknown.example.org")
        .await
        .err()
        .unwrap();
    assert!(
        err.contains("no server certificate chain resolved"),
        "{err}"
    );
}

/// A self-signed certificate for `name`, as a `kubernetes.io/tls` Secret
/// holds it, and its PEM for a client to trust.
fn secret(id: &str, name: &str) -> (MemoryCert, String) {
    let generated = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    let cert = MemoryCert {
        id: id.into(),
        names: vec![name.into()],
        cert_pem: generated.cert.pem().into_bytes(),
        key_pem: generated.signing_key.serialize_pem().into_bytes(),
    };
    (cert, generated.cert.pem())
}

#[tokio::test]
async fn certificates_from_memory_are_chosen_by_sni_and_replaced_for_new_handshakes() {
    let dir = TestDir::new("memory");
    let store = CertStore::new(&dir.0, false, &[]).unwrap();
    let server = server_config(&store, &options(false, vec![])).unwrap();
    let (app, app_pem) = secret("default/app", "app.example.com");
    let (wild, wild_pem) = secret("default/wild", "*.example.net");
    assert!(store.set_memory_certs(&[app, wild]).is_empty());
    let trusts_app = client(roots_from_pem(&app_pem), None, &[]);
    handshake(server.clone(), trusts_app.clone(), "app.example.com")
        .await
        .unwrap();
    handshake(
        server.clone(),
        client(roots_from_pem(&wild_pem), None, &[]),
        "x.example.net",
    )
    .await
    .unwrap();
    assert!(
        handshake(server.clone(), trusts_app.clone(), "x.example.net")
            .await
            .is_err()
    );

    // The Secret rotates: new handshakes get the new certificate only.
    let (rotated, rotated_pem) = secret("default/app", "app.example.com");
    assert!(store.set_memory_certs(&[rotated]).is_empty());
    handshake(
        server.clone(),
        client(roots_from_pem(&rotated_pem), None, &[]),
        "app.example.com",
    )
    .await
    .unwrap();
    // A new client (a resumed session sends no certificate at all)
    // trusting only the old certificate refuses the new one.
    assert!(handshake(
        server.clone(),
        client(roots_from_pem(&app_pem), None, &[]),
        "app.example.com",
    )
    .await
    .is_err());
    // The wildcard's Secret is gone from the set, and so is its name.
    let err = handshake(
        server,
        client(roots_from_pem(&wild_pem), None, &[]),
        "x.example.net",
    )
    .await
    .err()
    .unwrap();
    assert!(
        err.contains("no server certificate chain resolved"),
        "{err}"
    );
}

#[tokio::test]
async fn alpn_offers_h2_only_when_enabled() {
    let dir = TestDir::new("alpn");
    let store = CertStore::new(&dir.0, true, &[]).unwrap();
    store.set_issue_hosts(&["alpn.internal"]);
    let roots = roots_from_pem(&store.ca_pem().unwrap());
    let both: &[&[u8]] = &[b"h2", b"http/1.1"];

    let h2 = server_config(&store, &options(true, vec![])).unwrap();
    let accepted = handshake(
        h2.clone(),
        client(roots.clone(), None, both),
        "alpn.internal",
    )
    .await
    .unwrap();
    assert_eq!(accepted.alpn.as_deref(), Some(&b"h2"[..]));
    let accepted = handshake(
        h2,
        client(roots.clone(), None, &[b"http/1.1"]),
        "alpn.internal",
    )
    .await
    .unwrap();
    assert_eq!(accepted.alpn.as_deref(), Some(&b"http/1.1"[..]));

    let h1 = server_config(&store, &options(false, vec![])).unwrap();
    let accepted = handshake(h1, client(roots, None, both), "alpn.internal")
        .await
        .unwrap();
    assert_eq!(accepted.alpn.as_deref(), Some(&b"http/1.1"[..]));
}

#[tokio::test]
async fn sessions_resume() {
    let dir = TestDir::new("resume");
    let store = CertStore::new(&dir.0, true, &[]).unwrap();
    store.set_issue_hosts(&["resume.internal"]);
    let server = server_config(&store, &options(true, vec![])).unwrap();
    let client = client(roots_from_pem(&store.ca_pem().unwrap()), None, &[]);
    let first = handshake(server.clone(), client.clone(), "resume.internal")
        .await
        .unwrap();
    assert_eq!(first.kind, Some(HandshakeKind::Full));
    let second = handshake(server, client, "resume.internal").await.unwrap();
    assert_eq!(second.kind, Some(HandshakeKind::Resumed));
}

#[tokio::test]
async fn client_certificates_are_requested_but_optional() {
    let dir = TestDir::new("mtls");
    let store = CertStore::new(&dir.0, true, &[]).unwrap();
    store.set_issue_hosts(&["api.internal"]);
    let roots = roots_from_pem(&store.ca_pem().unwrap());
    let trusted = TestCa::new("team ca");
    let other = TestCa::new("stranger ca");
    let ca_file = dir.write("clients.pem", &trusted.pem());
    let server = server_config(&store, &options(false, vec![ca_file.clone()])).unwrap();
    let route = ClientCaVerifier::from_pem_file(&ca_file).unwrap();
    let now = UnixTime::now();

    // A certificate from the configured CA: handshake, and the route agrees.
    let alice = trusted.client_cert("alice");
    let accepted = handshake(
        server.clone(),
        client(roots.clone(), Some(alice), &[]),
        "api.internal",
    )
    .await
    .unwrap();
    let chain = accepted
        .peer_certificates
        .expect("client presented a chain");
    assert!(route.verify(&chain, now));
    assert_eq!(
        ClientCaVerifier::subject_of(&chain).as_deref(),
        Some("alice")
    );

    // No certificate: the handshake still completes; routes decide later.
    let accepted = handshake(
        server.clone(),
        client(roots.clone(), None, &[]),
        "api.internal",
    )
    .await
    .unwrap();
    assert!(accepted.peer_certificates.is_none());
    assert!(!route.verify(&[], now));
    assert_eq!(ClientCaVerifier::subject_of(&[]), None);

    // A certificate from another CA fails the handshake.
    let mallory = other.client_cert("mallory");
    let (mallory_chain, _) = other.client_cert("mallory-copy");
    let err = handshake(server, client(roots, Some(mallory), &[]), "api.internal")
        .await
        .err()
        .expect("foreign client certificate must be rejected");
    assert!(err.contains("server: invalid peer certificate"), "{err}");
    assert!(!route.verify(&mallory_chain, now));
}

#[test]
fn route_verifier_checks_only_its_own_ca_file() {
    let dir = TestDir::new("route");
    let team = TestCa::new("team ca");
    let ops = TestCa::new("ops ca");
    let team_route = ClientCaVerifier::from_pem_file(&dir.write("team.pem", &team.pem())).unwrap();
    let both = format!("{}{}", team.pem(), ops.pem());
    let both_route = ClientCaVerifier::from_pem_file(&dir.write("both.pem", &both)).unwrap();
    let (ops_chain, _) = ops.client_cert("operator");
    let now = UnixTime::now();
    assert!(!team_route.verify(&ops_chain, now));
    assert!(both_route.verify(&ops_chain, now));

    let garbage = dir.write("garbage.pem", "nothing here");
    let err = ClientCaVerifier::from_pem_file(&garbage).unwrap_err();
    assert!(err.to_string().contains("garbage.pem"), "{err}");
    let err = server_config(
        &CertStore::new(&dir.0, false, &[]).unwrap(),
        &options(false, vec![garbage, dir.0.join("missing.pem")]),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("garbage.pem") && err.to_string().contains("missing.pem"),
        "{err}"
    );
}
