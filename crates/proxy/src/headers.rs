//! Header rewriting between client and backend: hop-by-hop removal, the
//! identity headers, `X-Forwarded-*`, and the headers only this proxy may
//! set (a client's copies are removed, in any spelling a CGI-style backend
//! maps to the same variable).

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::spec::{PeerIdentity, Scheme};

pub(crate) const X_WINGRESS_PEER: HeaderName = HeaderName::from_static("x-wingress-peer");
pub(crate) const X_WINGRESS_PEER_KEY: HeaderName = HeaderName::from_static("x-wingress-peer-key");
pub(crate) const X_WINGRESS_PEER_TAGS: HeaderName = HeaderName::from_static("x-wingress-peer-tags");
pub(crate) const X_WINGRESS_CLIENT_SUBJECT: HeaderName =
    HeaderName::from_static("x-wingress-client-subject");
pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub(crate) const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
pub(crate) const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
pub(crate) const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Headers that describe one connection rather than the message (RFC 9110
/// section 7.6.1), plus `Proxy` itself (httpoxy).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy",
    "proxy-connection",
];

/// Removes hop-by-hop headers: the fixed list, every `proxy-*` header, and
/// every header the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none of these (`Connection` is one): a pass over
    // the names, without hashing, usually decides. The usual message that
    // does carry one is a backend's response with only `Connection:
    // keep-alive` (or `close`), naming no other header: that header goes
    // without building the lists below.
    let mut hop = headers.keys().filter(|name| is_hop_by_hop(name));
    let Some(first) = hop.next() else {
        return;
    };
    let only_connection = first == header::CONNECTION && hop.next().is_none();
    if only_connection && connection_tokens(headers).all(names_no_header) {
        headers.remove(header::CONNECTION);
        return;
    }
    // (`keep-alive` names a header, but one on the fixed list.)
    let named: Vec<HeaderName> = connection_tokens(headers)
        .filter(|t| !names_no_header(t))
        .filter_map(|token| HeaderName::from_bytes(token.as_bytes()).ok())
        .collect();
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_hop_by_hop(name) || named.contains(name))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// The comma-separated tokens of every `Connection` value, trimmed; values
/// that are not text are skipped.
fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// Whether a `Connection` token names no header to remove: `keep-alive`,
/// `close`, or the empty one a stray comma leaves.
fn names_no_header(token: &str) -> bool {
    token.is_empty()
        || token.eq_ignore_ascii_case("keep-alive")
        || token.eq_ignore_ascii_case("close")
}

/// Whether a header is hop-by-hop by its name alone. A hop-by-hop or
/// `Content-Length` name spelled with `_` counts too: a backend that maps
/// `_` to `-` would read a second framing in `Transfer_Encoding`.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    let name = name.as_str();
    name.starts_with("proxy-")
        || HOP_BY_HOP.contains(&name)
        || (name.contains('_')
            && (name_equals(name, "content-length")
                || name_has_prefix(name, "proxy-")
                || HOP_BY_HOP.iter().any(|h| name_equals(name, h))))
}

/// The `Upgrade` value of an HTTP/1.1 upgrade request (`Connection: upgrade`
/// plus `Upgrade: …`) when every protocol it names is in `allowed`
/// (lowercase names, versions ignored). Anything else is no upgrade: the
/// request goes on without `Upgrade`, which RFC 9110 lets a server ignore.
pub(crate) fn upgrade_protocol(headers: &HeaderMap, allowed: &[String]) -> Option<HeaderValue> {
    if !connection_tokens(headers).any(|token| token.eq_ignore_ascii_case("upgrade")) {
        return None;
    }
    let mut values = headers.get_all(header::UPGRADE).iter();
    let value = values.next()?;
    if values.next().is_some() || !protocols_allowed(value, allowed) {
        return None;
    }
    Some(value.clone())
}

/// Whether an `Upgrade` value names only protocols in `allowed`.
pub(crate) fn protocols_allowed(value: &HeaderValue, allowed: &[String]) -> bool {
    let Ok(value) = value.to_str() else {
        return false;
    };
    let mut protocols = value.split(',').map(|p| {
        let p = p.trim();
        p.split_once('/').map_or(p, |(name, _)| name)
    });
    protocols.clone().next().is_some_and(|p| !p.is_empty())
        && protocols.all(|p| allowed.iter().any(|a| a.eq_ignore_ascii_case(p)))
}

/// Puts back the two headers an upgrade needs after `strip_hop_by_hop`.
pub(crate) fn restore_upgrade(headers: &mut HeaderMap, protocol: HeaderValue) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, protocol);
}

/// Whether a header name starts with `prefix` (lowercase, with `-`),
/// treating `_` as `-`: CGI-style backends map both to the same variable, so
/// `X_Wingress_Peer` must be treated like `X-Wingress-Peer`.
pub(crate) fn name_has_prefix(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.bytes().zip(prefix.bytes()).all(|(n, p)| {
            let n = if n == b'_' {
                b'-'
            } else {
                n.to_ascii_lowercase()
            };
            n == p
        })
}

/// Whether a header name equals `wanted` (lowercase, with `-`), treating `_` as `-`.
pub(crate) fn name_equals(name: &str, wanted: &str) -> bool {
    name.len() == wanted.len() && name_has_prefix(name, wanted)
}

pub(crate) fn remove_where(headers: &mut HeaderMap, mut pred: impl FnMut(&str) -> bool) {
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| pred(name.as_str()))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// Headers that tell the backend about the client or the original request
/// and that only a proxy sets: a client's copy is removed on every
/// entrypoint, then this proxy sets its own (`X-Forwarded-For`, `-Proto`,
/// `-Host`, `X-Real-Ip`; `-Method` and `-Uri` towards forward-auth).
/// Prefixes (with `-`) cover a family.
const PROXY_ONLY: [&str; 8] = [
    "x-wingress-",
    "x-forwarded-",
    "x-original-",
    "forwarded",
    "x-real-ip",
    "x-rewrite-url",
    "x-client-ip",
    "true-client-ip",
];

/// Removes every client-supplied header in [`PROXY_ONLY`], spelled with
/// `-` or `_`: only the proxy speaks there.
pub(crate) fn strip_proxy_only(headers: &mut HeaderMap) {
    remove_where(headers, is_proxy_only);
}

fn is_proxy_only(name: &str) -> bool {
    // Most header names start with none of these letters: one byte decides.
    matches!(name.as_bytes().first(), Some(b'x' | b'f' | b't'))
        && PROXY_ONLY.iter().any(|p| {
            if p.ends_with('-') {
                name_has_prefix(name, p)
            } else {
                name_equals(name, p)
            }
        })
}

/// Adds the identity of the tunnel peer. Values that cannot be header values
/// (config should never produce them) are left out rather than mangled.
pub(crate) fn add_identity(headers: &mut HeaderMap, peer: &PeerIdentity) {
    if let Ok(value) = HeaderValue::from_str(&peer.name) {
        headers.insert(X_WINGRESS_PEER, value);
    }
    if let Ok(value) = HeaderValue::from_str(&peer.public_key) {
        headers.insert(X_WINGRESS_PEER_KEY, value);
    }
    if let Ok(value) = HeaderValue::from_str(&peer.tags.join(",")) {
        headers.insert(X_WINGRESS_PEER_TAGS, value);
    }
}

/// Sets `X-Forwarded-For`/`X-Real-Ip` to the client address (replacing
/// whatever the client sent: this proxy is the edge), `X-Forwarded-Proto`,
/// and `X-Forwarded-Host` to the host the client asked for.
/// `client` is [`forwarded_for`] of the client's address.
pub(crate) fn set_forwarded(
    headers: &mut HeaderMap,
    client: &HeaderValue,
    scheme: Scheme,
    host: Option<&str>,
) {
    headers.insert(X_FORWARDED_FOR, client.clone());
    headers.insert(X_REAL_IP, client.clone());
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(scheme.as_str()));
    match host.and_then(|h| HeaderValue::from_str(h).ok()) {
        Some(host) => {
            headers.insert(X_FORWARDED_HOST, host);
        }
        None => {
            headers.remove(X_FORWARDED_HOST);
        }
    }
}

/// The `X-Forwarded-For` value for a client address (IPv4-mapped IPv6
/// addresses as plain IPv4), made once per connection.
pub(crate) fn forwarded_for(client: IpAddr) -> HeaderValue {
    HeaderValue::from_str(&client.to_canonical().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// HTTP/2 clients may split `Cookie` into several fields; HTTP/1.1 backends
/// expect one (RFC 9113 section 8.2.3).
pub(crate) fn merge_cookies(headers: &mut HeaderMap) {
    if headers.get_all(header::COOKIE).iter().count() < 2 {
        return;
    }
    let joined: Vec<&[u8]> = headers
        .get_all(header::COOKIE)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    if let Ok(value) = HeaderValue::from_bytes(&joined.join(&b"; "[..])) {
        headers.insert(header::COOKIE, value);
    }
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
