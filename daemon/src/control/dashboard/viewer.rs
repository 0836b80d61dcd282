//! Who is looking: the peer the proxy says sent the request, or on a host
//! entrypoint (the dashboard's mtls route) the client certificate's
//! subject. The proxy sets these headers on every dashboard request, from
//! the tunnel peer's WireGuard identity or the verified certificate, and
//! strips any a client sent, so they are the login; a request without them
//! did not come through a dashboard route and gets 403.

use http::HeaderMap;

pub(crate) const PEER: &str = "x-wingress-peer";
pub(crate) const PEER_KEY: &str = "x-wingress-peer-key";
pub(crate) const PEER_TAGS: &str = "x-wingress-peer-tags";
pub(crate) const CLIENT_SUBJECT: &str = "x-wingress-client-subject";

/// What a certificate viewer's token key starts with, so that it can never
/// equal a WireGuard key (base64 has no `:`).
const CERT_KEY_PREFIX: &str = "cert:";

/// Longer values are not what the proxy sets (names and tags are at most
/// 63 characters, keys 44).
const MAX_VALUE: usize = 1024;

/// The signed-in peer, or client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Viewer {
    /// The peer's name, or the certificate's subject.
    pub(crate) name: String,
    /// What the form token is bound to: the peer's base64 public key, or
    /// `cert:` and the subject.
    pub(crate) key: String,
    /// The peer's tags; none for a certificate.
    pub(crate) tags: Vec<String>,
    /// Signed in with a client certificate, not as a tunnel peer: no peer
    /// is "the device you are signed in with".
    pub(crate) by_certificate: bool,
}

impl Viewer {
    /// The viewer named by the proxy's headers; `None` without a name and
    /// a key (or with values that are not the proxy's).
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Viewer> {
        let value = |name: &str| -> Option<&str> {
            let mut all = headers.get_all(name).iter();
            let first = all.next()?;
            // The proxy sets each once; more than one is not the proxy's doing.
            if all.next().is_some() || first.len() > MAX_VALUE {
                return None;
            }
            let v = first.to_str().ok()?.trim();
            (!v.is_empty()).then_some(v)
        };
        // The proxy sets peer headers only for tunnel peers and the subject
        // only on an mtls route, which the dashboard has only on host
        // entrypoints; a peer's identity wins if both ever came.
        if headers.get(PEER).is_none() && headers.get(PEER_KEY).is_none() {
            let subject = value(CLIENT_SUBJECT)?;
            return Some(Viewer {
                name: subject.to_string(),
                key: format!("{CERT_KEY_PREFIX}{subject}"),
                tags: Vec::new(),
                by_certificate: true,
            });
        }
        let name = value(PEER)?.to_string();
        let key = value(PEER_KEY)?.to_string();
        let tags = match headers.get(PEER_TAGS) {
            Some(v) if v.len() <= MAX_VALUE => v
                .to_str()
                .ok()?
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            Some(_) => return None,
            None => Vec::new(),
        };
        Some(Viewer {
            name,
            key,
            tags,
            by_certificate: false,
        })
    }

    /// Whether `peer` is the device this viewer is signed in with.
    pub(crate) fn is_own_device(&self, peer: &str) -> bool {
        !self.by_certificate && peer == self.name
    }
}

#[cfg(test)]
#[path = "viewer_tests.rs"]
mod tests;
