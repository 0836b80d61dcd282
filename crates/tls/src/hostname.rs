//! `HostName`: a server name from a client or the config, validated once.
//!
//! Every name that reaches the internal CA, and so the file system, goes
//! through [`HostName::parse`]: a lowercased DNS name of letters, digits,
//! `-` and `_` (or an IP literal), never `/`, never a leading `.`, so it is
//! safe as a file name. [`HostName::Wildcard`] is what the internal CA
//! issues for a wildcard route; parsing never produces it.

use std::fmt;
use std::net::IpAddr;

use rustls_pki_types::{DnsName, ServerName};

/// RFC 1035 limits: 253 octets in text form, 63 per label.
const MAX_NAME_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum HostName {
    Dns(String),
    Ip(IpAddr),
    /// `*.` and this parent (a valid DNS name): the subject of a wildcard
    /// certificate, never a name a client sends.
    Wildcard(String),
}

impl HostName {
    /// Parses untrusted input (SNI, config). `None` for anything that is not
    /// a plain DNS name or IP literal, including wildcards.
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        if let Ok(ip) = raw.parse::<IpAddr>() {
            return Some(HostName::Ip(ip));
        }
        let name = raw.strip_suffix('.').unwrap_or(raw);
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return None;
        }
        for label in name.split('.') {
            let bytes = label.as_bytes();
            let valid_chars = bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
            if label.is_empty()
                || label.len() > MAX_LABEL_LEN
                || !valid_chars
                || label.starts_with('-')
                || label.ends_with('-')
            {
                return None;
            }
        }
        // "1.2.3" is neither a DNS name (numeric TLD) nor an IP literal.
        let last = name.rsplit('.').next().unwrap_or(name);
        if last.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let name = name.to_ascii_lowercase();
        // Second opinion from pki-types, which rustls and webpki use too.
        DnsName::try_from(name.as_str()).ok()?;
        Some(HostName::Dns(name))
    }

    /// `*.rest` for `label.rest`: the only wildcard SAN that covers this name.
    pub(crate) fn wildcard(&self) -> Option<String> {
        match self {
            HostName::Dns(name) => name.split_once('.').map(|(_, rest)| format!("*.{rest}")),
            HostName::Ip(_) | HostName::Wildcard(_) => None,
        }
    }

    /// The file stem under `ca/issued/`: the name, with `+` for a
    /// wildcard's `*` (as ACME's store writes it). DNS names never contain
    /// `:` or `+`, so neither an IPv6 literal nor a wildcard can collide
    /// with one.
    pub(crate) fn file_stem(&self) -> String {
        match self {
            HostName::Wildcard(parent) => format!("+.{parent}"),
            other => other.to_string(),
        }
    }

    pub(crate) fn server_name(&self) -> Option<ServerName<'static>> {
        match self {
            HostName::Dns(name) => ServerName::try_from(name.clone()).ok(),
            HostName::Ip(ip) => Some(ServerName::IpAddress((*ip).into())),
            HostName::Wildcard(_) => None,
        }
    }

    pub(crate) fn san(&self) -> Result<rcgen::SanType, rcgen::Error> {
        Ok(match self {
            HostName::Dns(name) => rcgen::SanType::DnsName(name.clone().try_into()?),
            HostName::Ip(ip) => rcgen::SanType::IpAddress(*ip),
            HostName::Wildcard(parent) => {
                rcgen::SanType::DnsName(format!("*.{parent}").try_into()?)
            }
        })
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostName::Dns(name) => f.write_str(name),
            HostName::Ip(ip) => write!(f, "{ip}"),
            HostName::Wildcard(parent) => write!(f, "*.{parent}"),
        }
    }
}

#[cfg(test)]
#[path = "hostname_tests.rs"]
mod tests;
