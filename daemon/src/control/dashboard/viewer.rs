//! Who is looking: the peer the proxy says sent the request. The proxy
//! sets these headers on every dashboard request from the tunnel peer's
//! WireGuard identity and strips any a client sent, so they are the
//! login; a request without them did not come through the route and gets
//! 403.

use http::HeaderMap;

pub(crate) const PEER: &str = "x-wingress-peer";
pub(crate) const PEER_KEY: &str = "x-wingress-peer-key";
pub(crate) const PEER_TAGS: &str = "x-wingress-peer-tags";

/// Longer values are not what the proxy sets (names and tags are at most
/// 63 characters, keys 44).
const MAX_VALUE: usize = 1024;

/// The signed-in peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Viewer {
    pub(crate) name: String,
    /// Base64 public key: what the form token is bound to.
    pub(crate) key: String,
    pub(crate) tags: Vec<String>,
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
        Some(Viewer { name, key, tags })
    }
}

#[cfg(test)]
#[path = "viewer_tests.rs"]
mod tests;
