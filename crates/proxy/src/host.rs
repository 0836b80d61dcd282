//! The host a request asks for: the `Host` header, or the authority of an
//! absolute-form target or HTTP/2's `:authority`, checked and normalised.
//!
//! A host is routed on lowercased, without its port and trailing dot. One
//! with characters no DNS name has (spaces, `/`, `\`, `@`, `%`, `,`,
//! non-ASCII), an empty label, a port that is not a number, or a broken
//! IPv6 literal is refused: backends and logs would each read it their own
//! way. Underscores are allowed (some internal names have them).

use std::net::Ipv6Addr;

use http::header::{self, HeaderMap};
use http::Uri;

/// Why a request's host was refused. Every variant is a `400`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("more than one Host header")]
    Repeated,
    #[error("an HTTP/1.1 request without Host")]
    Missing,
    #[error("Host is not a host name, IP address or IPv6 literal")]
    Invalid,
}

/// The longest DNS name, without the trailing dot (RFC 1035 section 2.3.4).
const MAX_NAME: usize = 253;

/// The host of a request: `raw` as the client wrote it (with its port:
/// what the backend gets in `Host` and `X-Forwarded-Host`), and `name`
/// normalised for routing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RequestHost {
    pub(crate) raw: Option<String>,
    pub(crate) name: String,
}

/// The host a request names. `None` (no host at all) is allowed only for
/// HTTP/1.0 and HTTP/2 requests without an authority; such requests reach
/// only `*` routes.
pub(crate) fn request_host(
    uri: &Uri,
    headers: &HeaderMap,
    http11: bool,
) -> Result<RequestHost, HostError> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(HostError::Repeated);
    }
    // An absolute-form target (and HTTP/2's :authority) overrides Host.
    let raw = match uri.authority() {
        Some(authority) => authority.as_str(),
        None => match first {
            Some(value) => value.to_str().map_err(|_| HostError::Invalid)?,
            None if http11 => return Err(HostError::Missing),
            None => return Ok(RequestHost::default()),
        },
    };
    let name = normalize_host(raw)?;
    Ok(RequestHost {
        raw: Some(raw.to_owned()),
        name,
    })
}

/// A `Host` value (`name[:port]`, `IPv4[:port]`, `[IPv6][:port]`) checked
/// and reduced to its lowercased host name without trailing dot, or the
/// bracketed IPv6 literal. The empty string stays empty.
pub fn normalize_host(raw: &str) -> Result<String, HostError> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    if let Some(rest) = raw.strip_prefix('[') {
        let (literal, after) = rest.split_once(']').ok_or(HostError::Invalid)?;
        literal
            .parse::<Ipv6Addr>()
            .map_err(|_| HostError::Invalid)?;
        if !after.is_empty() {
            check_port(after.strip_prefix(':').ok_or(HostError::Invalid)?)?;
        }
        return Ok(format!("[{}]", literal.to_ascii_lowercase()));
    }
    let name = match raw.rsplit_once(':') {
        Some((name, port)) => {
            check_port(port)?;
            name
        }
        None => raw,
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid {
        return Err(HostError::Invalid);
    }
    Ok(name.to_ascii_lowercase())
}

/// A port: up to five digits (RFC 3986 allows it empty), at most 65535.
fn check_port(port: &str) -> Result<(), HostError> {
    let digits = port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    if digits && port.parse::<u32>().map_or(true, |p| p <= 65535) {
        Ok(())
    } else {
        Err(HostError::Invalid)
    }
}

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
