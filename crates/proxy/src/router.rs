//! Route selection by entrypoint, Host and path prefix.
//!
//! Every route whose host, path and entrypoint all match is a candidate;
//! the most specific one wins: an exact host beats a wildcard (longer
//! suffixes first) which beats `Any`, and among equal hosts the longest path
//! prefix wins, [`PathMatch::Exact`] before the others at equal length (as
//! Kubernetes and ingress-nginx order paths); config order breaks the
//! remaining ties. Like Traefik, a request for an exact host whose routes
//! don't cover its path falls through to a matching wildcard or catch-all
//! route.
//!
//! A route's path matches as its [`PathMatch`] says: a string prefix (file
//! routes; one `starts_with`, as before path types existed), whole `/`
//! elements (Kubernetes `Prefix`: its prefix is kept without the trailing
//! `/`, so `/foo` and `/foo/` are the same route and have the same length
//! for ordering), or the whole path (Kubernetes `Exact`).
//!
//! Requests are routed on the canonical path (`path`), and a request is
//! refused when a backend that reads its path another common way would be
//! on another route's ground: with encoded slashes decoded (on routes that
//! keep them) or with `;` path parameters dropped (as servlet containers
//! do, so `/public/..;/admin` is `/admin` to them).

use std::borrow::Cow;

use crate::path::{has_encoded_slash, normalize, EncodedSlash, PathError};
use crate::spec::{HostMatch, PathMatch};

/// A route's host pattern, normalized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HostKey {
    Exact(String),
    /// Starts with a dot: `.home.arpa`.
    Suffix(String),
    Any,
}

impl HostKey {
    pub(crate) fn new(spec: &HostMatch) -> Self {
        match spec {
            HostMatch::Exact(host) => HostKey::Exact(config_host(host)),
            HostMatch::Wildcard(suffix) => {
                let bare = config_host(suffix.trim_start_matches('*').trim_start_matches('.'));
                HostKey::Suffix(format!(".{bare}"))
            }
            HostMatch::Any => HostKey::Any,
        }
    }

    /// A wildcard stands for exactly one label, as in certificates.
    fn matches(&self, host: &str) -> bool {
        match self {
            HostKey::Exact(exact) => host == exact,
            HostKey::Suffix(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|label| !label.is_empty() && !label.contains('.')),
            HostKey::Any => true,
        }
    }

    /// Higher is more specific.
    fn rank(&self) -> (u8, usize) {
        match self {
            HostKey::Exact(_) => (2, 0),
            HostKey::Suffix(suffix) => (1, suffix.len()),
            HostKey::Any => (0, 0),
        }
    }
}

/// A host from the (validated) configuration, as requests are compared.
fn config_host(host: &str) -> String {
    let host = host.trim();
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// What the router needs to know about one route.
#[derive(Clone, Debug)]
pub(crate) struct RouteKey {
    pub(crate) host: HostKey,
    /// In canonical form (see `path`), so it compares with canonical paths;
    /// for [`PathMatch::Segments`] without its trailing `/` (`/` is empty).
    pub(crate) prefix: String,
    /// How `prefix` compares with a path.
    pub(crate) path_match: PathMatch,
    /// Empty: every entrypoint.
    pub(crate) entrypoints: Vec<String>,
    /// The route takes paths with encoded slashes (kept encoded).
    pub(crate) encoded_slashes: bool,
}

impl RouteKey {
    pub(crate) fn new(
        host: &HostMatch,
        prefix: &str,
        entrypoints: &[String],
        encoded_slashes: bool,
    ) -> Self {
        let prefix = if prefix.is_empty() { "/" } else { prefix };
        // The config refuses prefixes that are not canonical; one that
        // fails here can never match and is kept as written.
        let prefix = normalize(prefix, EncodedSlash::Keep)
            .map_or_else(|_| prefix.to_owned(), Cow::into_owned);
        RouteKey {
            host: HostKey::new(host),
            prefix,
            path_match: PathMatch::Prefix,
            entrypoints: entrypoints.to_vec(),
            encoded_slashes,
        }
    }

    /// The same key with its path compared as `path_match` says (the
    /// default is [`PathMatch::Prefix`]).
    pub(crate) fn matching(mut self, path_match: PathMatch) -> Self {
        if path_match == PathMatch::Segments {
            let trimmed = self.prefix.trim_end_matches('/').len();
            self.prefix.truncate(trimmed);
        }
        self.path_match = path_match;
        self
    }

    fn matches(&self, host: &str, path: &str, entrypoint: &str) -> bool {
        (self.entrypoints.is_empty() || self.entrypoints.iter().any(|e| e == entrypoint))
            && self.host.matches(host)
            && self.path_matches(path)
    }

    fn path_matches(&self, path: &str) -> bool {
        match self.path_match {
            PathMatch::Prefix => path.starts_with(self.prefix.as_str()),
            PathMatch::Segments => path
                .strip_prefix(self.prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
            PathMatch::Exact => path == self.prefix,
        }
    }

    /// Ordering among keys of equally specific hosts: longer prefixes
    /// first, then `Exact` before the others.
    fn path_rank(&self) -> (usize, bool) {
        (self.prefix.len(), self.path_match == PathMatch::Exact)
    }
}

/// Route keys in match order, each with its index in the configuration.
#[derive(Debug, Default)]
pub(crate) struct Router {
    ordered: Vec<(usize, RouteKey)>,
    /// Some route keeps encoded slashes: worth a second look at paths
    /// refused for having them.
    any_encoded_slashes: bool,
}

/// The route a request goes to and the path its backend receives.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Selected<'p> {
    pub(crate) index: usize,
    pub(crate) path: Cow<'p, str>,
}

impl Router {
    pub(crate) fn new(keys: impl IntoIterator<Item = RouteKey>) -> Self {
        let mut ordered: Vec<(usize, RouteKey)> = keys.into_iter().enumerate().collect();
        // Stable: equal keys keep configuration order.
        ordered.sort_by(|(_, a), (_, b)| {
            b.host
                .rank()
                .cmp(&a.host.rank())
                .then(b.path_rank().cmp(&a.path_rank()))
        });
        let any_encoded_slashes = ordered.iter().any(|(_, key)| key.encoded_slashes);
        Router {
            ordered,
            any_encoded_slashes,
        }
    }

    /// The route for a request for `host` (normalised: `host::normalize_host`)
    /// and `raw_path` (as received, without the query) on `entrypoint`, and
    /// the canonical path to send. `Ok(None)`: no route (404); `Err`: a path
    /// to refuse (400).
    pub(crate) fn select<'p>(
        &self,
        host: &str,
        raw_path: &'p str,
        entrypoint: &str,
    ) -> Result<Option<Selected<'p>>, PathError> {
        let (path, kept_slashes) = match normalize(raw_path, EncodedSlash::Refuse) {
            Ok(path) => (path, false),
            Err(PathError::EncodedSlash) if self.any_encoded_slashes => {
                (normalize(raw_path, EncodedSlash::Keep)?, true)
            }
            Err(e) => return Err(e),
        };
        let Some(index) = self.find(host, &path, entrypoint) else {
            return Ok(None);
        };
        let decoded = if kept_slashes {
            if !self.route(index).is_some_and(|key| key.encoded_slashes) {
                return Err(PathError::EncodedSlash);
            }
            // What a backend that decodes slashes makes of the path.
            let decoded = normalize(raw_path, EncodedSlash::Decode)?;
            self.agrees(index, host, &decoded, entrypoint)?;
            Some(decoded)
        } else {
            None
        };
        if path.contains(';') {
            for alternative in [Some(&path), decoded.as_ref()].into_iter().flatten() {
                let stripped = without_parameters(alternative)?;
                self.agrees(index, host, &stripped, entrypoint)?;
            }
        }
        Ok(Some(Selected { index, path }))
    }

    fn route(&self, index: usize) -> Option<&RouteKey> {
        self.ordered
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, key)| key)
    }

    /// Another reading of the path must select the same route.
    fn agrees(
        &self,
        index: usize,
        host: &str,
        path: &str,
        entrypoint: &str,
    ) -> Result<(), PathError> {
        if self.find(host, path, entrypoint) == Some(index) {
            Ok(())
        } else {
            Err(PathError::Ambiguous)
        }
    }

    /// The configuration index of the route serving this request. `host` and
    /// `path` must already be normalized.
    /// A linear scan: route tables here have tens of entries, not thousands.
    pub(crate) fn find(&self, host: &str, path: &str, entrypoint: &str) -> Option<usize> {
        self.ordered
            .iter()
            .find(|(_, key)| key.matches(host, path, entrypoint))
            .map(|(index, _)| *index)
    }
}

/// A canonical path with every segment's `;` parameters dropped, then
/// canonical again (`/a/..;x/b` becomes `/b`).
fn without_parameters(path: &str) -> Result<String, PathError> {
    let stripped: Vec<&str> = path
        .split('/')
        .map(|segment| segment.split_once(';').map_or(segment, |(keep, _)| keep))
        .collect();
    let stripped = stripped.join("/");
    let mode = if has_encoded_slash(&stripped) {
        EncodedSlash::Keep
    } else {
        EncodedSlash::Refuse
    };
    normalize(&stripped, mode).map(Cow::into_owned)
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
