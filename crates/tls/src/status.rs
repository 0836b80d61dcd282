//! What `wingress status` and `/metrics` show of the certificates being
//! served: names, issuer, expiry, where each came from.

use std::path::PathBuf;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Serialize;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A file certificate with less than this left is reported as expiring.
pub const EXPIRING_WITHIN: Duration = Duration::from_secs(14 * 24 * 60 * 60);

/// One certificate the daemon can serve, or (ACME) will serve once issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateStatus {
    /// DNS and IP subject alternative names, as written in the certificate;
    /// for ACME the managed name (`*.example.com` for a wildcard).
    pub names: Vec<String>,
    /// The issuer's common name (or its whole distinguished name); `None`
    /// while an ACME certificate is pending.
    pub issuer: Option<String>,
    /// RFC 3339, UTC; `None` while pending.
    pub not_after: Option<String>,
    pub not_after_unix: Option<i64>,
    /// Negative once expired; `None` while pending.
    pub expires_in_secs: Option<i64>,
    /// When it is replaced automatically (RFC 3339), if it is.
    pub next_renewal: Option<String>,
    pub state: CertState,
    /// The last problem with it, e.g. a replacement file that did not load.
    pub last_error: Option<String>,
    pub source: CertSource,
    /// The certificate file, for `source = "file"`; the item's id
    /// ([`crate::MemoryCert::id`], e.g. `namespace/name`) for
    /// `source = "memory"`.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertState {
    /// No certificate yet (ACME): handshakes for the name fail; see
    /// `last_error` for why, `next_renewal` for the next try.
    Pending,
    Valid,
    /// Served; its (ACME) renewal is due, running or being retried.
    Renewing,
    /// Less than [`EXPIRING_WITHIN`] left and nothing will renew it.
    Expiring,
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertSource {
    /// Ordered from an ACME CA (`[tls.acme]`).
    Acme,
    /// `[[tls.certificate]]` files.
    File,
    /// Handed in from memory ([`crate::MemoryCert`]): a Kubernetes Secret.
    Memory,
    /// A leaf the internal CA issued.
    InternalCa,
    /// The internal CA's own root (what clients trust).
    InternalCaRoot,
}

/// Reads names, issuer and expiry out of `der`; `renew_before` is how long
/// before expiry something replaces it (`None`: nothing does).
pub(crate) fn describe(
    der: &CertificateDer<'_>,
    source: CertSource,
    path: Option<PathBuf>,
    renew_before: Option<Duration>,
    now: UnixTime,
) -> Option<CertificateStatus> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) => names.push((*n).to_owned()),
                GeneralName::IPAddress(b) => names.extend(ip_name(b)),
                _ => {}
            }
        }
    }
    let issuer = cert
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map_or_else(|| cert.issuer().to_string(), str::to_owned);
    let not_after_unix = cert.validity().not_after.timestamp();
    let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let expires_in_secs = not_after_unix.saturating_sub(now_secs);
    let renew_at = renew_before
        .map(|d| not_after_unix.saturating_sub(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
    let state = if expires_in_secs <= 0 {
        CertState::Expired
    } else if renew_at.is_none() && expires_in_secs < EXPIRING_WITHIN.as_secs() as i64 {
        CertState::Expiring
    } else {
        CertState::Valid
    };
    Some(CertificateStatus {
        names,
        issuer: Some(issuer),
        not_after: Some(rfc3339(not_after_unix)),
        not_after_unix: Some(not_after_unix),
        expires_in_secs: Some(expires_in_secs),
        next_renewal: renew_at.map(rfc3339),
        state,
        last_error: None,
        source,
        path,
    })
}

fn ip_name(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).to_string()),
        _ => None,
    }
}

/// `2027-02-01T10:00:00Z`.
pub(crate) fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}
