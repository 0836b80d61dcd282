//! `[tls.acme]` and `[tls.acme.dns]`: certificates from an ACME CA (Let's
//! Encrypt by default) for every route host no static certificate covers.
//!
//! Parse-only, like the rest of the config: the CA root, the EAB key and the
//! TSIG secret are paths here; the daemon reads them (refusing secrets that
//! group or others can read) before anything starts.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::cursor::Table;
use crate::error::{Diagnostics, Spanned};
use crate::types::is_hostname;

/// Let's Encrypt's production directory: used when `directory` is not set.
pub const LETS_ENCRYPT_DIRECTORY: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// `[tls.acme]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeConfig {
    /// The account's contact, without `mailto:`; optional (Let's Encrypt no
    /// longer sends expiry mail).
    pub email: Option<String>,
    /// The CA's directory URL (`https://` only); Let's Encrypt unless set.
    pub directory: String,
    /// PEM with CA certificates trusted, in addition to the built-in web
    /// roots, for the directory's own TLS (test CAs such as pebble).
    pub ca_root: Option<PathBuf>,
    /// The challenge for names without a wildcard. Wildcard names always
    /// use dns-01 (the only challenge CAs accept for them).
    pub challenge: AcmeChallenge,
    /// External account binding, for CAs that require one (ZeroSSL, ...).
    pub eab: Option<ExternalAccountBinding>,
    /// `[tls.acme.dns]`: how dns-01 records are published.
    pub dns: Option<AcmeDnsConfig>,
}

/// `challenge` of `[tls.acme]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcmeChallenge {
    /// Answered on the plain-HTTP entrypoints (port 80 as the CA sees it).
    Http01,
    /// Answered on the HTTPS entrypoints with the `acme-tls/1` ALPN (port 443).
    TlsAlpn01,
    /// A TXT record published through `[tls.acme.dns]`.
    Dns01,
}

/// `eab = { kid = "...", hmac_key_file = "eab.key" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalAccountBinding {
    pub kid: String,
    /// The CA-issued HMAC key (base64url, as CAs hand it out); a secret.
    pub hmac_key_file: PathBuf,
}

/// `[tls.acme.dns]`: RFC 2136 dynamic updates signed with TSIG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeDnsConfig {
    pub provider: DnsProvider,
    /// The primary server that takes the updates; the record is also looked
    /// for there (never through the host's resolver).
    pub server: SocketAddr,
    /// The zone updated, lowercase with the trailing dot (`example.com.`).
    pub zone: String,
    /// The TSIG key's name, lowercase with the trailing dot.
    pub tsig_key_name: String,
    pub tsig_algorithm: TsigAlgorithm,
    /// The TSIG secret: the base64 secret alone, or the `key { ... }` file
    /// `tsig-keygen` writes; a secret.
    pub tsig_secret_file: PathBuf,
}

/// `provider` of `[tls.acme.dns]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DnsProvider {
    #[default]
    Rfc2136,
}

/// `tsig_algorithm` of `[tls.acme.dns]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TsigAlgorithm {
    #[default]
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

// === impl AcmeChallenge ===

impl AcmeChallenge {
    pub fn as_str(self) -> &'static str {
        match self {
            AcmeChallenge::Http01 => "http-01",
            AcmeChallenge::TlsAlpn01 => "tls-alpn-01",
            AcmeChallenge::Dns01 => "dns-01",
        }
    }
}

impl fmt::Display for AcmeChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AcmeChallenge {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "http-01" => Ok(AcmeChallenge::Http01),
            "tls-alpn-01" => Ok(AcmeChallenge::TlsAlpn01),
            "dns-01" => Ok(AcmeChallenge::Dns01),
            other => Err(format!(
                "`{other}` is not an ACME challenge (expected \"http-01\", \"tls-alpn-01\" or \"dns-01\")"
            )),
        }
    }
}

// === impl DnsProvider ===

impl FromStr for DnsProvider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rfc2136" => Ok(DnsProvider::Rfc2136),
            other => Err(format!(
                "`{other}` is not a DNS provider (expected \"rfc2136\")"
            )),
        }
    }
}

// === impl TsigAlgorithm ===

impl TsigAlgorithm {
    /// The algorithm's name as DNS writes it (RFC 8945, section 6).
    pub fn as_str(self) -> &'static str {
        match self {
            TsigAlgorithm::HmacSha256 => "hmac-sha256",
            TsigAlgorithm::HmacSha384 => "hmac-sha384",
            TsigAlgorithm::HmacSha512 => "hmac-sha512",
        }
    }
}

impl FromStr for TsigAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().trim_end_matches('.') {
            "hmac-sha256" => Ok(TsigAlgorithm::HmacSha256),
            "hmac-sha384" => Ok(TsigAlgorithm::HmacSha384),
            "hmac-sha512" => Ok(TsigAlgorithm::HmacSha512),
            _ => Err(format!(
                "`{s}` is not a supported TSIG algorithm (expected \"hmac-sha256\", \"hmac-sha384\" or \"hmac-sha512\")"
            )),
        }
    }
}

// === walker ===

/// `[tls.acme]` inside the `[tls]` table, if written.
pub(crate) fn parse_acme(
    tls: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    base: &Path,
) -> Option<AcmeConfig> {
    let mut t = tls.optional_table(d, "acme")?;
    let email = t.optional_with(d, "email", parse_email).map(|s| s.value);
    let directory = t
        .optional_with(d, "directory", parse_directory)
        .map_or_else(|| LETS_ENCRYPT_DIRECTORY.to_string(), |s| s.value);
    let ca_root = t.optional_path(d, "ca_root", base).map(|s| s.value);
    let challenge_written = t.contains("challenge");
    let challenge = t.optional_parsed::<AcmeChallenge>(d, "challenge");
    let eab = parse_eab(&mut t, d, base);
    let dns = t.optional_table(d, "dns").map(|mut dns| {
        let parsed = parse_dns(&mut dns, d, base);
        dns.finish(d);
        parsed
    });
    t.finish(d);

    let has_dns = dns.is_some();
    let dns = dns.flatten();
    let challenge = match challenge {
        Some(Spanned {
            value: AcmeChallenge::Dns01,
            span,
        }) if !has_dns => {
            d.error(
                &span,
                "challenge: \"dns-01\" needs [tls.acme.dns] (where to publish the TXT records)",
            );
            AcmeChallenge::Dns01
        }
        Some(c) => c.value,
        // A written but invalid challenge is already reported.
        None if challenge_written => AcmeChallenge::TlsAlpn01,
        // With a DNS provider configured, dns-01 needs no reachable port.
        None if has_dns => AcmeChallenge::Dns01,
        None => AcmeChallenge::TlsAlpn01,
    };
    Some(AcmeConfig {
        email,
        directory,
        ca_root,
        challenge,
        eab,
        dns,
    })
}

fn parse_eab(
    t: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    base: &Path,
) -> Option<ExternalAccountBinding> {
    let mut eab = t.optional_table(d, "eab")?;
    let kid = eab.required_with(d, "kid", |s| {
        if s.trim().is_empty() {
            Err("must not be empty")
        } else {
            Ok(s.to_string())
        }
    });
    let hmac_key_file = eab.required_path(d, "hmac_key_file", base);
    eab.finish(d);
    Some(ExternalAccountBinding {
        kid: kid?.value,
        hmac_key_file: hmac_key_file?.value,
    })
}

/// `None` after reporting a missing or bad required key.
fn parse_dns(t: &mut Table<'_>, d: &mut Diagnostics<'_>, base: &Path) -> Option<AcmeDnsConfig> {
    let provider = t
        .optional_parsed::<DnsProvider>(d, "provider")
        .map(|s| s.value)
        .unwrap_or_default();
    let server = t.required_with(d, "server", parse_dns_server);
    let zone = t.required_with(d, "zone", |s| parse_dns_name(s, "zone"));
    let key_name = t.required_with(d, "tsig_key_name", |s| parse_dns_name(s, "key name"));
    let algorithm = t
        .optional_parsed::<TsigAlgorithm>(d, "tsig_algorithm")
        .map(|s| s.value)
        .unwrap_or_default();
    let secret = t.required_path(d, "tsig_secret_file", base);
    Some(AcmeDnsConfig {
        provider,
        server: server?.value,
        zone: zone?.value,
        tsig_key_name: key_name?.value,
        tsig_algorithm: algorithm,
        tsig_secret_file: secret?.value,
    })
}

fn parse_email(s: &str) -> Result<String, String> {
    let s = s.strip_prefix("mailto:").unwrap_or(s);
    let valid = match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && is_hostname(domain)
                && domain.contains('.')
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if valid {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}` is not an email address"))
    }
}

fn parse_directory(s: &str) -> Result<String, String> {
    let Some(rest) = s.strip_prefix("https://") else {
        return Err(format!(
            "`{s}` is not an https:// URL (ACME directories are served over HTTPS)"
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{s}` is not a valid URL"));
    }
    Ok(s.to_string())
}

/// `IP`, `IP:port` or `[IPv6]:port`; port 53 unless given. Names are
/// refused: resolving them would need the host's resolver.
fn parse_dns_server(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(format!(
        "`{s}` is not an IP address with an optional port (e.g. \"192.0.2.53:53\"); \
         names are not resolved"
    ))
}

/// A DNS name, lowercased, with the trailing dot.
fn parse_dns_name(s: &str, what: &str) -> Result<String, String> {
    // `is_hostname` refuses an all-numeric last label, which DNS allows in
    // zones only in reverse trees; those are not ACME zones.
    if !is_hostname(s) {
        return Err(format!("`{s}` is not a valid DNS {what}"));
    }
    let mut name = s.to_ascii_lowercase();
    if !name.ends_with('.') {
        name.push('.');
    }
    Ok(name)
}

#[cfg(test)]
#[path = "acme_tests.rs"]
mod tests;
