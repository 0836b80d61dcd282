//! The fake server's test CA, its serving certificate, and the kubeconfig
//! a client uses to reach it.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA made for one fake server, and the server's certificate from it
/// (for `127.0.0.1`, `::1` and `localhost`).
pub struct TestCa {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The rustls server configuration with the serving certificate,
    /// offering ALPN `http/1.1` only (the fake speaks HTTP/1.1).
    pub server: Arc<rustls::ServerConfig>,
}

// === impl TestCa ===

impl TestCa {
    /// Generates the CA and the serving certificate.
    pub fn generate() -> Result<TestCa> {
        let mut ca = CertificateParams::default();
        ca.distinguished_name
            .push(DnType::CommonName, "wingress fake kube-apiserver CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);

        let mut leaf =
            CertificateParams::new(vec!["127.0.0.1".into(), "::1".into(), "localhost".into()])?;
        leaf.distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.use_authority_key_identifier_extension = true;
        let leaf_key = KeyPair::generate()?;
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

        let chain = vec![
            CertificateDer::from(leaf_cert.der().to_vec()),
            CertificateDer::from(ca_cert.der().to_vec()),
        ];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS versions")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("the serving certificate")?;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TestCa {
            ca_pem: ca_cert.pem(),
            server: Arc::new(server),
        })
    }
}

/// Writes a kubeconfig to `path`: one cluster at `server` trusting
/// `ca_pem` (inline, `certificate-authority-data`), one user whose token
/// is read from `token_file` (kube-rs and kubectl re-read it, kube-rs
/// about once a minute), one context using both.
pub fn write_kubeconfig(path: &Path, server: &str, ca_pem: &str, token_file: &Path) -> Result<()> {
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
  - name: fake
    cluster:
      server: {server}
      certificate-authority-data: {ca}
users:
  - name: wingress
    user:
      tokenFile: {token}
contexts:
  - name: fake
    context:
      cluster: fake
      user: wingress
      namespace: default
current-context: fake
",
        token = token_file.display()
    );
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}
