//! `[[transport]]`: how the daemon talks TLS to `https://` backends and
//! forward-auth services. Routes (and, by name, the Kubernetes discovery's
//! annotations) refer to a transport by its `name`; a route with `https://`
//! backends and no transport verifies them against the system's roots, with
//! the backend's host as the server name.

use std::path::{Path, PathBuf};

use crate::cursor::Table;
use crate::error::{Diagnostics, Spanned};
use crate::ingress_values::check_dns_name;

/// One `[[transport]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// Unique; what `[[route]] transport` names.
    pub name: String,
    /// Key `ca`: PEM certificates that are the only roots trusted for the
    /// backend's certificate. `None`: the system's roots.
    pub ca: Option<PathBuf>,
    /// Key `server_name`: the name sent as SNI and verified in the
    /// backend's certificate (a DNS name or an IP address). `None`: the
    /// backend's host.
    pub server_name: Option<String>,
    /// Key `insecure_skip_verify`: accept any certificate. `wingress check`
    /// warns about it; it excludes `ca`.
    pub insecure_skip_verify: bool,
    /// Keys `client_cert` and `client_key` (both or neither): the
    /// certificate chain and key presented to backends that ask for one.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Key `http2`: offer `h2` by ALPN (before `http/1.1`), so backends
    /// that pick it are spoken to in HTTP/2 (gRPC needs it). Off unless set:
    /// WebSocket upgrades need HTTP/1.1.
    pub http2: bool,
    /// 1-based `(line, col)` of the `[[transport]]` header, for warnings.
    pub location: (usize, usize),
}

/// Reads every `[[transport]]`; names must be unique.
pub(crate) fn parse_transports(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    base: &Path,
) -> Vec<TransportConfig> {
    let mut out: Vec<TransportConfig> = Vec::new();
    for mut t in root.array_of_tables(d, "transport") {
        let location = d.location(t.span());
        let name = t.required_with(d, "name", parse_transport_name);
        let ca = t.optional_path(d, "ca", base);
        let server_name = t.optional_with(d, "server_name", parse_server_name);
        let insecure = t.optional_bool(d, "insecure_skip_verify");
        let http2 = t.optional_bool(d, "http2").is_some_and(|b| b.value);
        let cert = t.optional_path(d, "client_cert", base);
        let key = t.optional_path(d, "client_key", base);
        let client_cert = match (cert, key) {
            (Some(c), Some(k)) => Some((c.value, k.value)),
            (Some(c), None) => {
                d.error(&c.span, "client_cert: client_key is needed with it");
                None
            }
            (None, Some(k)) => {
                d.error(&k.span, "client_key: client_cert is needed with it");
                None
            }
            (None, None) => None,
        };
        let insecure_skip_verify = insecure.as_ref().is_some_and(|b| b.value);
        if let (Some(i), Some(_)) = (&insecure, &ca) {
            if i.value {
                d.error(
                    &i.span,
                    "insecure_skip_verify: verifies nothing, so `ca` would be ignored; \
                     remove one of them",
                );
            }
        }
        t.finish(d);
        let Some(name) = name else { continue };
        if let Some(first) = out.iter().find(|x| x.name == name.value) {
            let message = format!(
                "name: a transport `{}` is already defined on line {}",
                name.value, first.location.0
            );
            d.error(&name.span, message);
            continue;
        }
        out.push(TransportConfig {
            name: name.value,
            ca: ca.map(|c| c.value),
            server_name: server_name.map(|s: Spanned<String>| s.value),
            insecure_skip_verify,
            client_cert,
            http2,
            location,
        });
    }
    out
}

/// A transport's `name`: 1 to 64 of `A-Z a-z 0-9 . _ -`, so that it fits in
/// a Kubernetes annotation value as it is.
fn parse_transport_name(s: &str) -> Result<String, String> {
    let valid = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a transport name (1 to 64 of A-Z, a-z, 0-9, `.`, `_` and `-`)"
        ))
    }
}

/// `server_name`: a DNS name (lowercased) or an IP address.
fn parse_server_name(s: &str) -> Result<String, String> {
    if s.parse::<std::net::IpAddr>().is_ok() {
        return Ok(s.to_string());
    }
    let name = s.to_ascii_lowercase();
    check_dns_name(&name)?;
    Ok(name)
}

#[cfg(test)]
#[path = "transport_tests.rs"]
mod tests;
