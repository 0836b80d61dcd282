//! Path normalisation and the router of the HTTP proxy, through
//! `wingress_proxy::fuzzing` (the functions the request path calls).
//!
//! Input: an entrypoint byte, the Host header (length-prefixed), and the
//! request target (the rest). Targets that `http` does not accept as a
//! path are skipped: hyper would have answered 400 before routing.
//!
//! Checked, for the normalised path `n`:
//! - it starts with `/`, has no `//` and no `.` or `..` segment (also
//!   percent-encoded), and normalising it again changes nothing;
//! - the route chosen for `n` is the route chosen for the path a backend
//!   makes of `n` (percent-decoding, dot segments, repeated slashes), so
//!   no encoding reaches a route's backend under another route's rules.
//!
//! When the router's API changes, only `route` below needs adapting.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use wingress_fuzz::input;
use wingress_proxy::fuzzing::{normalize_path, EncodedSlash, Routes};
use wingress_proxy::HostMatch;

const ENTRYPOINTS: [&str; 2] = ["web", "tunnel"];

fn routes() -> &'static Routes {
    static ROUTES: OnceLock<Routes> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let any: &[String] = &[];
        let web = &["web".to_string()][..];
        Routes::new(&[
            (HostMatch::Exact("app.example".into()), "/", any, false),
            (HostMatch::Exact("app.example".into()), "/admin", any, false),
            (
                HostMatch::Exact("app.example".into()),
                "/admin/public/",
                any,
                false,
            ),
            // Keeps encoded slashes: a backend that decodes them must
            // still land on this route, or the request is refused.
            (HostMatch::Exact("app.example".into()), "/files/", any, true),
            (HostMatch::Wildcard("*.example".into()), "/api/", any, false),
            (HostMatch::Wildcard("*.example".into()), "/", web, false),
            (HostMatch::Any, "/", any, false),
            (HostMatch::Any, "/.well-known/", web, false),
        ])
    })
}

/// The route for a request, as the proxy decides it: the path its backend
/// receives and the route index (`None`: no route, a 404). `None` overall:
/// the request is refused (400). The one function to adapt when the
/// router's API changes.
fn route(host: &str, path: &str, entrypoint: &str) -> Option<(String, Option<usize>)> {
    match routes().route(host, path, entrypoint).ok()? {
        Some((index, n)) => Some((n, Some(index))),
        None => {
            let n = normalize_path(path, EncodedSlash::Keep).ok()?;
            Some((n.into_owned(), None))
        }
    }
}

fn is_dot(segment: &str) -> bool {
    matches!(percent_decode(segment).as_slice(), b"." | b"..")
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// What a backend that decodes and cleans paths (nginx, most frameworks)
/// makes of the path it receives: percent-decoded, then dot segments
/// removed (RFC 3986 §5.2.4) and repeated slashes merged.
fn backend_view(path: &str) -> String {
    let decoded = String::from_utf8_lossy(&percent_decode(path)).into_owned();
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = decoded.split('/').skip(1).collect();
    let mut trailing = false;
    for (i, s) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *s {
            "." | "" => trailing = last,
            ".." => {
                out.pop();
                trailing = last;
            }
            s => {
                out.push(s);
                trailing = false;
            }
        }
    }
    let mut view = String::new();
    for s in &out {
        view.push('/');
        view.push_str(s);
    }
    if trailing || view.is_empty() {
        view.push('/');
    }
    view
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let ep: u8 = u.arbitrary().unwrap_or(0);
    let entrypoint = ENTRYPOINTS[usize::from(ep) % ENTRYPOINTS.len()];
    let host = String::from_utf8_lossy(input::bytes(&mut u, 300)).into_owned();
    let Ok(target) = http::uri::PathAndQuery::try_from(u.take_rest()) else {
        return;
    };
    let path = target.path();
    if !path.starts_with('/') {
        return;
    }
    let Some((n, found)) = route(&host, path, entrypoint) else {
        return;
    };
    assert!(n.starts_with('/'), "{path:?} -> {n:?}");
    assert!(!n.contains("//"), "{path:?} -> {n:?}");
    assert!(!n.split('/').any(is_dot), "{path:?} -> {n:?}");
    assert_eq!(
        normalize_path(&n, EncodedSlash::Keep).as_deref(),
        Ok(n.as_str()),
        "normalising {path:?} twice"
    );
    let seen = backend_view(&n);
    // What the backend reads may be no path we accept (a decoded `%25`
    // is a bad escape): nothing to compare then.
    if found.is_none() {
        // A 404: no backend reads it.
        return;
    }
    let Some((_, theirs)) = route(&host, &seen, entrypoint) else {
        return;
    };
    assert_eq!(
        found, theirs,
        "{path:?} is routed as {n:?} but a backend reads {seen:?}"
    );
});
