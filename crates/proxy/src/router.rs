//! Route selection by entrypoint, Host and path prefix.
//!
//! Every route whose host, prefix and entrypoint all match is a candidate;
//! the most specific one wins: an exact host beats a wildcard (longer
//! suffixes first) which beats `Any`, and among equal hosts the longest path
//! prefix wins; config order breaks the remaining ties. Like Traefik, a
//! request for an exact host whose routes don't cover its path falls through
//! to a matching wildcard or catch-all route.

use std::borrow::Cow;

use crate::spec::HostMatch;

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
            HostMatch::Exact(host) => HostKey::Exact(normalize_host(host)),
            HostMatch::Wildcard(suffix) => {
                let bare = normalize_host(suffix.trim_start_matches('*').trim_start_matches('.'));
                HostKey::Suffix(format!(".{bare}"))
            }
            HostMatch::Any => HostKey::Any,
        }
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            HostKey::Exact(exact) => host == exact,
            HostKey::Suffix(suffix) => host.len() > suffix.len() && host.ends_with(suffix.as_str()),
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

/// What the router needs to know about one route.
#[derive(Clone, Debug)]
pub(crate) struct RouteKey {
    pub(crate) host: HostKey,
    pub(crate) prefix: String,
    /// Empty: every entrypoint.
    pub(crate) entrypoints: Vec<String>,
}

impl RouteKey {
    pub(crate) fn new(host: &HostMatch, prefix: &str, entrypoints: &[String]) -> Self {
        let prefix = if prefix.is_empty() {
            "/".to_owned()
        } else {
            prefix.to_owned()
        };
        RouteKey {
            host: HostKey::new(host),
            prefix,
            entrypoints: entrypoints.to_vec(),
        }
    }

    fn matches(&self, host: &str, path: &str, entrypoint: &str) -> bool {
        (self.entrypoints.is_empty() || self.entrypoints.iter().any(|e| e == entrypoint))
            && self.host.matches(host)
            && path.starts_with(self.prefix.as_str())
    }
}

/// Route keys in match order, each with its index in the configuration.
#[derive(Debug, Default)]
pub(crate) struct Router {
    ordered: Vec<(usize, RouteKey)>,
}

impl Router {
    pub(crate) fn new(keys: impl IntoIterator<Item = RouteKey>) -> Self {
        let mut ordered: Vec<(usize, RouteKey)> = keys.into_iter().enumerate().collect();
        // Stable: equal keys keep configuration order.
        ordered.sort_by(|(_, a), (_, b)| {
            b.host
                .rank()
                .cmp(&a.host.rank())
                .then(b.prefix.len().cmp(&a.prefix.len()))
        });
        Router { ordered }
    }

    /// The configuration index of the route serving this request. `host` and
    /// `path` must already be normalized ([`normalize_host`], [`normalize_path`]).
    /// A linear scan: route tables here have tens of entries, not thousands.
    pub(crate) fn find(&self, host: &str, path: &str, entrypoint: &str) -> Option<usize> {
        self.ordered
            .iter()
            .find(|(_, key)| key.matches(host, path, entrypoint))
            .map(|(index, _)| *index)
    }
}

/// Lowercases a host and strips its port and a trailing dot. IPv6 literals
/// keep their brackets.
pub(crate) fn normalize_host(raw: &str) -> String {
    let raw = raw.trim();
    let host = if raw.starts_with('[') {
        match raw.find(']') {
            Some(end) => &raw[..=end],
            None => raw,
        }
    } else {
        match raw.rsplit_once(':') {
            Some((host, port))
                if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                host
            }
            _ => raw,
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}

/// Removes dot segments (including percent-encoded ones) and collapses
/// repeated slashes, like Traefik's path sanitizing, so that `//admin` or
/// `/public/../admin` cannot select a less protected route and still reach
/// `/admin` on a backend that cleans paths itself. The result is what the
/// backend receives.
pub(crate) fn normalize_path(path: &str) -> Cow<'_, str> {
    if !path.starts_with('/') {
        return Cow::Borrowed(path);
    }
    let suspicious = path.contains("//") || path.contains("/.") || path.contains('%');
    if !suspicious {
        return Cow::Borrowed(path);
    }
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len() - 1;
    let mut trailing_slash = false;
    for (i, segment) in segments.iter().enumerate() {
        match dot_segment(segment) {
            Some(Dot::Current) => trailing_slash = i == last,
            Some(Dot::Parent) => {
                out.pop();
                trailing_slash = i == last;
            }
            None if segment.is_empty() => trailing_slash = i == last,
            None => {
                out.push(segment);
                trailing_slash = false;
            }
        }
    }
    let mut cleaned = String::with_capacity(path.len());
    for segment in &out {
        cleaned.push('/');
        cleaned.push_str(segment);
    }
    if trailing_slash || cleaned.is_empty() {
        cleaned.push('/');
    }
    if cleaned == path {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(cleaned)
    }
}

enum Dot {
    Current,
    Parent,
}

fn dot_segment(segment: &str) -> Option<Dot> {
    let lower = segment.to_ascii_lowercase();
    match lower.as_str() {
        "." | "%2e" => Some(Dot::Current),
        ".." | "%2e%2e" | ".%2e" | "%2e." => Some(Dot::Parent),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(host: HostMatch, prefix: &str, entrypoints: &[&str]) -> RouteKey {
        let eps: Vec<String> = entrypoints.iter().map(|s| s.to_string()).collect();
        RouteKey::new(&host, prefix, &eps)
    }

    #[test]
    fn normalizes_hosts() {
        assert_eq!(normalize_host("Example.COM:8443"), "example.com");
        assert_eq!(normalize_host("example.com."), "example.com");
        assert_eq!(normalize_host("[::1]:443"), "[::1]");
        assert_eq!(normalize_host("[::1]"), "[::1]");
        assert_eq!(normalize_host("10.0.0.1:80"), "10.0.0.1");
        assert_eq!(normalize_host(""), "");
    }

    #[test]
    fn normalizes_paths() {
        assert_eq!(normalize_path("/a/b"), "/a/b");
        assert_eq!(normalize_path("//admin"), "/admin");
        assert_eq!(normalize_path("/public/../admin"), "/admin");
        assert_eq!(normalize_path("/public/%2e%2E/admin"), "/admin");
        assert_eq!(normalize_path("/a/./b/"), "/a/b/");
        assert_eq!(normalize_path("/a/.."), "/");
        assert_eq!(normalize_path("/../../x"), "/x");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("/a%20b"), "/a%20b");
        assert_eq!(normalize_path("*"), "*");
    }

    #[test]
    fn exact_beats_wildcard_beats_any() {
        let router = Router::new([
            key(HostMatch::Any, "/", &[]),
            key(HostMatch::Wildcard(".home.arpa".into()), "/", &[]),
            key(HostMatch::Exact("App.Home.Arpa".into()), "/", &[]),
            key(HostMatch::Wildcard("*.b.home.arpa".into()), "/", &[]),
        ]);
        assert_eq!(router.find("app.home.arpa", "/", "web"), Some(2));
        assert_eq!(router.find("x.home.arpa", "/", "web"), Some(1));
        assert_eq!(router.find("x.b.home.arpa", "/", "web"), Some(3));
        assert_eq!(router.find("home.arpa", "/", "web"), Some(0));
        assert_eq!(router.find("other", "/", "web"), Some(0));
    }

    #[test]
    fn longest_prefix_wins_and_falls_through() {
        let router = Router::new([
            key(HostMatch::Exact("a".into()), "/", &[]),
            key(HostMatch::Exact("a".into()), "/api", &[]),
            key(HostMatch::Exact("a".into()), "/api/v2", &[]),
            key(HostMatch::Exact("b".into()), "/only", &[]),
            key(HostMatch::Any, "", &[]),
        ]);
        assert_eq!(router.find("a", "/api/v2/x", "web"), Some(2));
        assert_eq!(router.find("a", "/apix", "web"), Some(1));
        assert_eq!(router.find("a", "/", "web"), Some(0));
        assert_eq!(router.find("b", "/only/x", "web"), Some(3));
        assert_eq!(router.find("b", "/elsewhere", "web"), Some(4));
    }

    #[test]
    fn entrypoints_restrict() {
        let router = Router::new([
            key(HostMatch::Exact("a".into()), "/", &["tunnel"]),
            key(HostMatch::Exact("b".into()), "/", &[]),
        ]);
        assert_eq!(router.find("a", "/", "tunnel"), Some(0));
        assert_eq!(router.find("a", "/", "public"), None);
        assert_eq!(router.find("b", "/", "public"), Some(1));
    }
}
