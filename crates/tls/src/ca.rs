//! The internal CA: a P-256 root kept in `state_dir/ca/`, issuing 90-day leaves.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, TrustAnchor, UnixTime};
use time::OffsetDateTime;

use crate::hostname::HostName;
use crate::{pem, private_file, TlsError};

const CA_VALIDITY: time::Duration = time::Duration::days(3650);
const LEAF_VALIDITY: time::Duration = time::Duration::days(90);
/// Backdating `notBefore` keeps clients whose clocks run slow from seeing a
/// not-yet-valid certificate right after issuance.
const BACKDATE: time::Duration = time::Duration::hours(1);

/// `state_dir/ca`.
pub(crate) fn ca_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("ca")
}

pub(crate) struct InternalCa {
    cert_pem: String,
    anchor: TrustAnchor<'static>,
    issuer: Issuer<'static, KeyPair>,
    provider: Arc<CryptoProvider>,
}

/// A freshly issued leaf, in the forms the cache and the disk need.
pub(crate) struct IssuedLeaf {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
    pub(crate) key: Arc<CertifiedKey>,
}

// === impl InternalCa ===

impl InternalCa {
    /// Loads `ca.pem` + `ca.key` from `state_dir/ca`, or (if `create`)
    /// generates them when either is missing.
    pub(crate) fn open(
        state_dir: &Path,
        create: bool,
        provider: Arc<CryptoProvider>,
        now: UnixTime,
    ) -> Result<Self, TlsError> {
        let dir = ca_dir(state_dir);
        let cert_path = dir.join("ca.pem");
        let key_path = dir.join("ca.key");
        let exists = |p: &Path| p.try_exists().map_err(TlsError::io(p));
        let (have_cert, have_key) = (exists(&cert_path)?, exists(&key_path)?);
        if have_cert && have_key {
            return Self::load(&cert_path, &key_path, provider);
        }
        if !create {
            return Err(TlsError::NoInternalCa);
        }
        if have_cert || have_key {
            tracing::warn!(dir = %dir.display(), "internal ca is incomplete (ca.pem or ca.key missing); creating a new one");
        }
        let ca = Self::generate(provider, now)?;
        private_file::ensure_dir(&dir)?;
        // Key first: a crash in between leaves no certificate without its key.
        private_file::write_atomic(&key_path, ca.issuer.key().serialize_pem().as_bytes())?;
        private_file::write_atomic(&cert_path, ca.cert_pem.as_bytes())?;
        tracing::info!(dir = %dir.display(), "created internal ca");
        Ok(ca)
    }

    fn load(
        cert_path: &Path,
        key_path: &Path,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, TlsError> {
        let cert_bytes = pem::read(cert_path)?;
        let chain = pem::parse_certs(cert_path, &cert_bytes)?;
        let cert_pem = String::from_utf8(cert_bytes).map_err(|_| TlsError::Pem {
            path: cert_path.to_owned(),
            message: "file is not ascii".into(),
        })?;
        private_file::warn_if_exposed(key_path);
        let key_der = pem::parse_key(key_path, &pem::read(key_path)?)?;
        // `parse_certs` returns at least one certificate.
        let cert_der = chain.into_iter().take(1).collect::<Vec<_>>();
        let checked = pem::certified_key(
            &provider,
            cert_der,
            key_der.clone_key(),
            cert_path,
            key_path,
        )?;
        let der = checked.end_entity_cert()?.clone();
        let key_pair = KeyPair::try_from(&key_der).map_err(|e| TlsError::Pem {
            path: key_path.to_owned(),
            message: e.to_string(),
        })?;
        let issuer = Issuer::from_ca_cert_der(&der, key_pair)?;
        Self::assemble(cert_pem, &der, cert_path, issuer, provider)
    }

    fn generate(provider: Arc<CryptoProvider>, now: UnixTime) -> Result<Self, TlsError> {
        let mut tag = [0u8; 4];
        provider
            .secure_random
            .fill(&mut tag)
            .map_err(|_| rustls::Error::FailedToGetRandomBytes)?;
        let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();

        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("wingress internal CA {tag}"));
        params
            .distinguished_name
            .push(DnType::OrganizationName, "wingress");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = datetime(now, -BACKDATE)?;
        params.not_after = datetime(now, CA_VALIDITY)?;

        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let cert = params.self_signed(&key)?;
        let issuer = Issuer::new(params, key);
        Self::assemble(
            cert.pem(),
            cert.der(),
            Path::new("ca.pem"),
            issuer,
            provider,
        )
    }

    fn assemble(
        cert_pem: String,
        der: &CertificateDer<'_>,
        cert_path: &Path,
        issuer: Issuer<'static, KeyPair>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, TlsError> {
        let anchor = webpki::anchor_from_trusted_cert(der)
            .map_err(|source| TlsError::BadCertificate {
                path: cert_path.to_owned(),
                source,
            })?
            .to_owned();
        Ok(InternalCa {
            cert_pem,
            anchor,
            issuer,
            provider,
        })
    }

    pub(crate) fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a leaf for `names` (the first is also the CN), valid from
    /// `now` for 90 days, and checks it verifies against this CA for each
    /// of `verify_for` (for a wildcard, names under it).
    pub(crate) fn issue(
        &self,
        names: &[HostName],
        verify_for: &[HostName],
        now: UnixTime,
    ) -> Result<IssuedLeaf, TlsError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        if let Some(first) = names.first() {
            params
                .distinguished_name
                .push(DnType::CommonName, first.to_string());
        }
        params.subject_alt_names = names.iter().map(HostName::san).collect::<Result<_, _>>()?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = datetime(now, -BACKDATE)?;
        params.not_after = datetime(now, LEAF_VALIDITY)?;

        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing_key = self.provider.key_provider.load_private_key(key_der)?;
        let certified = CertifiedKey::new(vec![cert.der().clone()], signing_key);
        for name in verify_for {
            self.check_leaf(&certified, name, now)
                .map_err(TlsError::IssuedCertRejected)?;
        }
        Ok(IssuedLeaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            key: Arc::new(certified),
        })
    }

    /// Whether `leaf` chains to this CA and covers `name` for server auth at `at`.
    pub(crate) fn check_leaf(
        &self,
        leaf: &CertifiedKey,
        name: &HostName,
        at: UnixTime,
    ) -> Result<(), webpki::Error> {
        let der = leaf.cert.first().ok_or(webpki::Error::BadDer)?;
        let ee = webpki::EndEntityCert::try_from(der)?;
        ee.verify_for_usage(
            self.provider.signature_verification_algorithms.all,
            std::slice::from_ref(&self.anchor),
            &[],
            at,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )?;
        let server_name = name
            .server_name()
            .ok_or(webpki::Error::MalformedDnsIdentifier)?;
        ee.verify_is_valid_for_subject_name(&server_name)
    }

    /// Reads a leaf this CA issued earlier; `None` if absent or unreadable.
    pub(crate) fn load_leaf(&self, cert_path: &Path, key_path: &Path) -> Option<CertifiedKey> {
        if !cert_path.exists() {
            return None;
        }
        let loaded = (|| {
            let chain = pem::parse_certs(cert_path, &pem::read(cert_path)?)?;
            let key = pem::parse_key(key_path, &pem::read(key_path)?)?;
            pem::certified_key(&self.provider, chain, key, cert_path, key_path)
        })();
        match loaded {
            Ok(key) => Some(key),
            Err(error) => {
                tracing::debug!(%error, "ignoring unreadable issued certificate");
                None
            }
        }
    }

    /// Writes an issued leaf (key first, both 0600), creating its directory.
    pub(crate) fn store_leaf(
        leaf: &IssuedLeaf,
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<(), TlsError> {
        if let Some(dir) = cert_path.parent() {
            private_file::ensure_dir(dir)?;
        }
        private_file::write_atomic(key_path, leaf.key_pem.as_bytes())?;
        private_file::write_atomic(cert_path, leaf.cert_pem.as_bytes())
    }
}

/// `now + offset` as the date type rcgen wants.
fn datetime(now: UnixTime, offset: time::Duration) -> Result<OffsetDateTime, TlsError> {
    let secs = i64::try_from(now.as_secs()).map_err(|_| rcgen::Error::Time)?;
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|base| base.checked_add(offset))
        .ok_or(TlsError::Generate(rcgen::Error::Time))
}

/// `now + by`, saturating.
pub(crate) fn later(now: UnixTime, by: Duration) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs()).saturating_add(by))
}
