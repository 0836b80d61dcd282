//! Newtypes for the HTTPS-ingress values: entrypoint listen addresses, route
//! host patterns, backend and forward-auth URLs, route paths and durations.
//!
//! Each parser takes one string and says precisely what is wrong with it;
//! the section walkers (`entrypoint`, `route`, `ingress`) add the key and
//! the location.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use crate::types::is_hostname;

/// Where an `[[entrypoint]]` listens: `tunnel:443` is a port on the tunnel
/// address inside the WireGuard netstack; `0.0.0.0:3443` or `[::]:443` is a
/// socket on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listen {
    Tunnel { port: u16 },
    Host(SocketAddr),
}

// === impl Listen ===

impl Listen {
    /// Whether two listen addresses cannot both be bound: the same address,
    /// or the same port where one of them is the unspecified address of the
    /// other's family (`0.0.0.0:443` takes `10.0.0.5:443` too).
    pub(crate) fn clashes_with(&self, other: &Listen) -> bool {
        match (self, other) {
            (Listen::Tunnel { port: a }, Listen::Tunnel { port: b }) => a == b,
            (Listen::Host(a), Listen::Host(b)) => {
                a.port() == b.port()
                    && a.is_ipv4() == b.is_ipv4()
                    && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
            }
            _ => false,
        }
    }
}

/// The message for `listen = 443` or `listen = "443"`.
pub(crate) fn bare_port_hint(port: impl fmt::Display) -> String {
    format!(
        "a bare port does not say where to listen; write \"tunnel:{port}\" (the tunnel address) \
         or \"0.0.0.0:{port}\" (a host socket)"
    )
}

impl FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(port) = s.strip_prefix("tunnel:") {
            return parse_port(port).map(|port| Listen::Tunnel { port });
        }
        if s == "tunnel" {
            return Err("`tunnel` needs a port, e.g. \"tunnel:443\"".to_string());
        }
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bare_port_hint(s));
        }
        match s.parse::<SocketAddr>() {
            Ok(addr) if addr.port() == 0 => Err("port 0 is not a listen port".to_string()),
            Ok(addr) => Ok(Listen::Host(addr)),
            Err(_) => Err(format!(
                "`{s}` is not a listen address (expected \"tunnel:PORT\", \"IPv4:PORT\" \
                 or \"[IPv6]:PORT\")"
            )),
        }
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Tunnel { port } => write!(f, "tunnel:{port}"),
            Listen::Host(addr) => write!(f, "{addr}"),
        }
    }
}

/// A port number written as plain digits, 1-65535.
fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p != 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(format!("`{s}` is not a port number (1-65535)")),
    }
}

/// The host a `[[route]]` answers for, lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// `grafana.home.arpa`.
    Exact(String),
    /// `*.home.arpa`, stored as the suffix `.home.arpa`.
    Wildcard(String),
    /// `*`: any host.
    Any,
}

// === impl HostPattern ===

impl HostPattern {
    /// Whether `host` (a name without port, any case) is matched. A
    /// wildcard stands for exactly one label, as in certificates (RFC 6125):
    /// `*.home.arpa` matches `grafana.home.arpa`, not `home.arpa` nor
    /// `a.b.home.arpa`.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::Exact(name) => host.eq_ignore_ascii_case(name),
            HostPattern::Wildcard(suffix) => {
                let (host, suffix) = (host.as_bytes(), suffix.as_bytes());
                host.len() > suffix.len() && {
                    let (label, tail) = host.split_at(host.len() - suffix.len());
                    tail.eq_ignore_ascii_case(suffix) && !label.contains(&b'.')
                }
            }
        }
    }
}

impl FromStr for HostPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.contains("://") {
            return Err(format!("`{s}` is a URL; write the host name only"));
        }
        if s.contains('/') {
            return Err(format!(
                "`{s}` contains a path; write the host name only and use path_prefix"
            ));
        }
        if s.contains(':') {
            return Err(format!(
                "`{s}` contains a port; a route matches the host on every entrypoint"
            ));
        }
        if !s.is_ascii() {
            return Err(format!(
                "`{s}` is not ASCII; write internationalized names in their xn-- form"
            ));
        }
        let name = s.to_ascii_lowercase();
        if name == "*" {
            return Ok(HostPattern::Any);
        }
        match name.strip_prefix("*.") {
            Some(rest) if !rest.contains('*') => {
                check_dns_name(rest)?;
                Ok(HostPattern::Wildcard(format!(".{rest}")))
            }
            _ if name.contains('*') => Err(format!(
                "`{s}`: `*` may only be the whole first label, as in \"*.home.arpa\", or the \
                 whole host"
            )),
            _ => {
                check_dns_name(&name)?;
                Ok(HostPattern::Exact(name))
            }
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(name) => f.write_str(name),
            HostPattern::Wildcard(suffix) => write!(f, "*{suffix}"),
            HostPattern::Any => f.write_str("*"),
        }
    }
}

/// A lowercase DNS name: labels of 1-63 of `a-z`, `0-9` and `-`, not
/// starting or ending with `-`, 253 characters at most.
pub(crate) fn check_dns_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the host name is empty".to_string());
    }
    if name.len() > 253 {
        return Err(format!(
            "`{name}` is longer than 253 characters, too long for a DNS name"
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("`{name}` has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!("label `{label}` is longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(format!(
                "`{name}` contains `{c}`; host names use only a-z, 0-9, `-` and `.`"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` starts or ends with `-`"));
        }
    }
    Ok(())
}

/// A backend of a `[[route]]`: `http://host[:port]` (port 80 by default),
/// `https://host[:port]` (port 443) or `h2c://host[:port]` (port 80). `host` is an IP address (IPv6
/// without brackets) or a DNS name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BackendUrl {
    pub scheme: BackendScheme,
    pub host: String,
    pub port: u16,
}

/// How a backend is spoken to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum BackendScheme {
    /// `http://`: HTTP/1.1 over plain TCP.
    #[default]
    Http,
    /// `https://`: TLS, verified as the route's `[[transport]]` says;
    /// HTTP/2 when the transport offers `h2` (`http2 = true`) and the
    /// backend picks it, otherwise HTTP/1.1.
    Https,
    /// `h2c://`: HTTP/2 over plain TCP, with prior knowledge.
    H2c,
}

// === impl BackendScheme ===

impl BackendScheme {
    /// The URL scheme: `http`, `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendScheme::Http => "http",
            BackendScheme::Https => "https",
            BackendScheme::H2c => "h2c",
        }
    }

    /// Whether connections are TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, BackendScheme::Https)
    }
}

// === impl BackendUrl ===

impl FromStr for BackendUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let url = split_url(s)?;
        let scheme = match url.scheme.as_str() {
            "http" => BackendScheme::Http,
            "https" => BackendScheme::Https,
            "h2c" => BackendScheme::H2c,
            other => {
                return Err(format!(
                    "`{s}`: unsupported scheme `{other}` (use http://, https:// or h2c://)"
                ))
            }
        };
        if !url.rest.is_empty() && url.rest != "/" {
            return Err(format!(
                "`{s}` has a path or query; a backend is only scheme, host and port (requests \
                 keep their own path)"
            ));
        }
        let default_port = if scheme.is_tls() { 443 } else { 80 };
        Ok(BackendUrl {
            scheme,
            host: url.host,
            port: url.port.unwrap_or(default_port),
        })
    }
}

impl fmt::Display for BackendUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, host) = (self.scheme.as_str(), bracketed(&self.host));
        write!(f, "{scheme}://{host}:{}", self.port)
    }
}

/// The forward-auth service of a `[[route]]`: the full URL each request is
/// checked against (`http://authentik.auth.svc:9000/outpost.goauthentik.io/auth/traefik`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ForwardAuthUrl {
    /// `https://` rather than `http://`.
    pub scheme_https: bool,
    /// An IP address (IPv6 without brackets) or a DNS name.
    pub host: String,
    /// 80 or 443 when not written.
    pub port: u16,
    /// Starts with `/`; `/` when the URL has no path.
    pub path_and_query: String,
}

// === impl ForwardAuthUrl ===

impl FromStr for ForwardAuthUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let url = split_url(s)?;
        let scheme_https = match url.scheme.as_str() {
            "http" => false,
            "https" => true,
            other => {
                return Err(format!(
                    "`{s}`: unsupported scheme `{other}` (use http:// or https://)"
                ))
            }
        };
        let path_and_query = if url.rest.starts_with('/') {
            url.rest
        } else {
            format!("/{}", url.rest)
        };
        Ok(ForwardAuthUrl {
            scheme_https,
            host: url.host,
            port: url.port.unwrap_or(if scheme_https { 443 } else { 80 }),
            path_and_query,
        })
    }
}

impl fmt::Display for ForwardAuthUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.scheme_https { "https" } else { "http" };
        let host = bracketed(&self.host);
        write!(f, "{scheme}://{host}:{}{}", self.port, self.path_and_query)
    }
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// An absolute URL split into its parts; `rest` is the path and query
/// (possibly empty), without fragment.
struct UrlParts {
    scheme: String,
    host: String,
    port: Option<u16>,
    rest: String,
}

fn split_url(s: &str) -> Result<UrlParts, String> {
    let Some((scheme, after)) = s.split_once("://") else {
        return Err(format!(
            "`{s}` is not a URL; write it with a scheme, e.g. \"http://{s}\""
        ));
    };
    let scheme = scheme.to_ascii_lowercase();
    if s.contains('#') {
        return Err(format!("`{s}` has a fragment (`#…`), which is never sent"));
    }
    if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{s}` contains {c:?}"));
    }
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.contains('@') {
        return Err(format!(
            "`{s}` has user info (`…@`); credentials do not belong here"
        ));
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("`{s}` has an unclosed `[`"))?;
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(format!("`{host}` is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("`{s}` is not a valid URL"))?,
            ),
        };
        (host.to_string(), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if port.is_some_and(|p| p.contains(':')) {
            return Err(format!(
                "`{s}`: write an IPv6 address in brackets, e.g. \"http://[fd00::1]:8080\""
            ));
        }
        if host.is_empty() {
            return Err(format!("`{s}` has no host"));
        }
        if host.parse::<Ipv4Addr>().is_err() && !is_hostname(host) {
            return Err(format!("`{host}` is not an IP address or host name"));
        }
        (host.to_string(), port)
    };
    let port = port.map(parse_port).transpose()?;
    // `[::ffff:1.2.3.4]` and friends come back in their canonical form.
    let host = match host.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => host,
    };
    Ok(UrlParts {
        scheme,
        host,
        port,
        rest: rest.to_string(),
    })
}

/// The message for a duration written as a bare number.
pub(crate) fn duration_unit_hint(n: impl fmt::Display) -> String {
    format!("`{n}` has no unit; write e.g. \"{n}s\" (units: ms, s, m, h)")
}

/// A duration such as `500ms`, `5s`, `2m`, `1h` or `1m30s`: one or more
/// `<digits><unit>` parts, units `ms`, `s`, `m`, `h`. Zero is rejected: every
/// duration in the schema is a timeout or an interval.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s.is_empty() {
        return Err("the duration is empty (write e.g. \"5s\")".to_string());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(duration_unit_hint(s));
    }
    let mut total_ms: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "`{s}` is not a duration (write e.g. \"500ms\", \"5s\", \"2m\" or \"1h\")"
            ));
        }
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        let scale: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "" if tail.starts_with('.') => {
                return Err(format!(
                    "`{s}`: fractions are not supported; use a smaller unit, e.g. \"1500ms\""
                ))
            }
            "" => return Err(format!("`{s}`: `{number}` has no unit (use ms, s, m or h)")),
            other => return Err(format!("`{s}`: unknown unit `{other}` (use ms, s, m or h)")),
        };
        let part = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .and_then(|ms| total_ms.checked_add(ms));
        total_ms = part.ok_or_else(|| format!("`{s}` is too long"))?;
        rest = tail;
    }
    if total_ms == 0 {
        return Err(format!("`{s}` is zero; give a positive duration"));
    }
    Ok(Duration::from_millis(total_ms))
}

/// A path prefix: starts with `/`, no query, no spaces, and in the form
/// requests are matched in (the proxy's canonical paths: escapes of
/// unreserved characters decoded, no empty, `.` or `..` segment).
/// Characters that a client may send escaped or not and that backends read
/// alike (`:`, `@`, `;`, `+`, ...) are refused: a request spelling them the
/// other way would miss the route.
pub fn parse_path_prefix(s: &str) -> Result<String, String> {
    let path = parse_request_path(s)?;
    if path.contains('?') {
        return Err(format!("`{s}` contains a query; a prefix is a path only"));
    }
    let bytes = path.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let escaped = bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok());
            match escaped {
                Some(e) if e.is_ascii_alphanumeric() || b"-._~".contains(&e) => {
                    return Err(format!(
                        "`{s}` escapes `{}`; write it as is (requests are matched with it decoded)",
                        char::from(e)
                    ))
                }
                Some(e) if stays_escaped(e) => i += 3,
                _ => {
                    return Err(format!(
                        "`{s}` has a `%` that is not an escape of a character a path must escape"
                    ))
                }
            }
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b"-._~/".contains(&b) || stays_escaped(b)) {
            return Err(format!(
                "`{s}` contains `{}`, which a client may send escaped or not; a prefix may have \
                 letters, digits, `-`, `.`, `_`, `~`, `/` and characters a path must escape",
                char::from(b)
            ));
        }
        i += 1;
    }
    if path.contains("//") || path.split('/').any(|segment| matches!(segment, "." | "..")) {
        return Err(format!(
            "`{s}` has an empty, `.` or `..` segment; requests are matched with those removed"
        ));
    }
    Ok(path)
}

/// Bytes a path can carry only escaped (non-ASCII, and the ASCII a URI
/// must not contain raw): one spelling on the wire, so safe in a prefix.
fn stays_escaped(b: u8) -> bool {
    b >= 0x80 || b" \"<>[]^`{|}".contains(&b)
}

/// A request path (and query) as sent on the wire: starts with `/`.
pub fn parse_request_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') {
        return Err(format!("`{s}` does not start with `/`"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '#')
    {
        return Err(format!("`{s}` contains {c:?}"));
    }
    Ok(s.to_string())
}

#[cfg(test)]
#[path = "ingress_values_tests.rs"]
mod tests;
