use super::*;

fn key(host: HostMatch, prefix: &str, entrypoints: &[&str]) -> RouteKey {
    let eps: Vec<String> = entrypoints.iter().map(|s| s.to_string()).collect();
    RouteKey::new(&host, prefix, &eps, false)
}

fn selected(router: &Router, path: &str) -> Result<Option<(usize, String)>, PathError> {
    router
        .select("a", path, "web")
        .map(|s| s.map(|s| (s.index, s.path.into_owned())))
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

#[test]
fn wildcards_match_one_label() {
    let router = Router::new([key(HostMatch::Wildcard("*.home.arpa".into()), "/", &[])]);
    assert_eq!(router.find("x.home.arpa", "/", "web"), Some(0));
    assert_eq!(router.find("x.y.home.arpa", "/", "web"), None);
    assert_eq!(router.find(".home.arpa", "/", "web"), None);
    assert_eq!(router.find("home.arpa", "/", "web"), None);
}

#[test]
fn prefixes_compare_canonically() {
    let router = Router::new([
        key(HostMatch::Exact("a".into()), "/admin", &[]),
        key(HostMatch::Exact("a".into()), "/caf\u{e9}", &[]),
        key(HostMatch::Exact("a".into()), "/", &[]),
    ]);
    assert_eq!(
        selected(&router, "/%61dmin/x"),
        Ok(Some((0, "/admin/x".into())))
    );
    assert_eq!(
        selected(&router, "/caf%c3%a9"),
        Ok(Some((1, "/caf%C3%A9".into())))
    );
    assert_eq!(
        selected(&router, "/p/../admin"),
        Ok(Some((0, "/admin".into())))
    );
    assert_eq!(selected(&router, "/%2fadmin"), Err(PathError::EncodedSlash));
}

#[test]
fn path_parameters_must_not_change_the_route() {
    let router = Router::new([
        key(HostMatch::Exact("a".into()), "/admin", &[]),
        key(HostMatch::Exact("a".into()), "/", &[]),
    ]);
    assert_eq!(
        selected(&router, "/public/..;/admin"),
        Err(PathError::Ambiguous)
    );
    assert_eq!(
        selected(&router, "/admin;x/y"),
        Ok(Some((0, "/admin;x/y".into())))
    );
    assert_eq!(
        selected(&router, "/a;jsessionid=1/b"),
        Ok(Some((1, "/a;jsessionid=1/b".into())))
    );
    assert_eq!(
        selected(&router, "/x/..;/y"),
        Ok(Some((1, "/x/..;/y".into())))
    );
}

#[test]
fn encoded_slashes_only_where_kept_and_harmless() {
    let mut repo = key(HostMatch::Exact("a".into()), "/repo", &[]);
    repo.encoded_slashes = true;
    let router = Router::new([
        repo,
        key(HostMatch::Exact("a".into()), "/repo/admin", &[]),
        key(HostMatch::Exact("a".into()), "/", &[]),
    ]);
    assert_eq!(
        selected(&router, "/repo/group%2fproject"),
        Ok(Some((0, "/repo/group%2Fproject".into())))
    );
    // Decoded, these reach another route: refused.
    assert_eq!(
        selected(&router, "/repo%2Fadmin"),
        Err(PathError::Ambiguous)
    );
    assert_eq!(
        selected(&router, "/repo/x%2F..%2F..%2Fy"),
        Err(PathError::Ambiguous)
    );
    assert_eq!(
        selected(&router, "/repo/x%2F..;%2Fadmin"),
        Err(PathError::Ambiguous)
    );
    // Routes that do not keep them refuse them.
    assert_eq!(
        selected(&router, "/other%2Fx"),
        Err(PathError::EncodedSlash)
    );
    // Without any such route the first refusal stands.
    let strict = Router::new([key(HostMatch::Exact("a".into()), "/", &[])]);
    assert_eq!(
        selected(&strict, "/repo/a%2Fb"),
        Err(PathError::EncodedSlash)
    );
}

fn typed(prefix: &str, path_match: PathMatch) -> RouteKey {
    key(HostMatch::Exact("a".into()), prefix, &[]).matching(path_match)
}

#[test]
fn segments_match_whole_path_elements() {
    for prefix in ["/foo", "/foo/"] {
        let router = Router::new([typed(prefix, PathMatch::Segments)]);
        for path in ["/foo", "/foo/", "/foo/bar", "/foo/bar/"] {
            assert_eq!(router.find("a", path, "web"), Some(0), "{prefix} {path}");
        }
        for path in ["/foobar", "/fo", "/", "/bar/foo", "/FOO"] {
            assert_eq!(router.find("a", path, "web"), None, "{prefix} {path}");
        }
    }
    let deep = Router::new([typed("/aaa/bb", PathMatch::Segments)]);
    assert_eq!(deep.find("a", "/aaa/bb/c", "web"), Some(0));
    assert_eq!(deep.find("a", "/aaa/bbb", "web"), None);
    let root = Router::new([typed("/", PathMatch::Segments)]);
    for path in ["/", "/x", "/x/y/"] {
        assert_eq!(root.find("a", path, "web"), Some(0), "{path}");
    }
}

#[test]
fn exact_matches_only_the_path_itself() {
    let router = Router::new([typed("/foo", PathMatch::Exact)]);
    assert_eq!(router.find("a", "/foo", "web"), Some(0));
    for path in ["/foo/", "/foo/bar", "/foobar", "/", "/FOO"] {
        assert_eq!(router.find("a", path, "web"), None, "{path}");
    }
    let root = Router::new([typed("", PathMatch::Exact)]);
    assert_eq!(root.find("a", "/", "web"), Some(0));
    assert_eq!(root.find("a", "/x", "web"), None);
}

#[test]
fn string_prefixes_are_unchanged() {
    let router = Router::new([typed("/foo", PathMatch::Prefix)]);
    for path in ["/foo", "/foobar", "/foo/bar"] {
        assert_eq!(router.find("a", path, "web"), Some(0), "{path}");
    }
}

#[test]
fn longest_wins_then_exact_then_config_order() {
    let router = Router::new([
        typed("/foo", PathMatch::Segments),
        typed("/foo/", PathMatch::Segments),
        typed("/foo", PathMatch::Exact),
        typed("/foo/bar", PathMatch::Segments),
        typed("/", PathMatch::Segments),
    ]);
    // Same length: Exact beats both Segments routes, whatever the order.
    assert_eq!(router.find("a", "/foo", "web"), Some(2));
    // `/foo` and `/foo/` are the same Segments route: the first one wins.
    assert_eq!(router.find("a", "/foo/", "web"), Some(0));
    assert_eq!(router.find("a", "/foo/x", "web"), Some(0));
    // Longest wins.
    assert_eq!(router.find("a", "/foo/bar/x", "web"), Some(3));
    assert_eq!(router.find("a", "/foobar", "web"), Some(4));
    // A longer Segments prefix beats a shorter Exact one where both match
    // (they cannot here), and an Exact route beats a shorter Segments one.
    let mixed = Router::new([
        typed("/a", PathMatch::Segments),
        typed("/a/b", PathMatch::Exact),
    ]);
    assert_eq!(mixed.find("a", "/a/b", "web"), Some(1));
    assert_eq!(mixed.find("a", "/a/b/c", "web"), Some(0));
}

/// A tunnel-only route next to a public catch-all: no spelling of a
/// protected path may reach the catch-all instead, nor may a path reach
/// the protected route under another reading.
fn protected(path_match: PathMatch, encoded_slashes: bool) -> Router {
    let mut admin = typed("/foo/bar", path_match);
    admin.encoded_slashes = encoded_slashes;
    let mut public = typed("/", PathMatch::Segments);
    public.encoded_slashes = encoded_slashes;
    Router::new([admin, public])
}

#[test]
fn typed_routes_keep_the_encoded_path_hardening() {
    for path_match in [PathMatch::Segments, PathMatch::Exact] {
        for kept in [false, true] {
            let router = protected(path_match, kept);
            let what = format!("{path_match:?} kept={kept}");
            // The canonical spellings reach the protected route.
            for path in [
                "/foo/bar",
                "/foo/x/../bar",
                "/%66oo/bar",
                "/foo//bar",
                "/x/../foo/bar",
            ] {
                assert_eq!(
                    selected(&router, path),
                    Ok(Some((0, "/foo/bar".into()))),
                    "{what} {path}"
                );
            }
            // An encoded slash is refused, whether or not a route keeps
            // them: decoded, it would be the protected path.
            let refused = if kept {
                PathError::Ambiguous
            } else {
                PathError::EncodedSlash
            };
            assert_eq!(selected(&router, "/foo%2Fbar"), Err(refused), "{what}");
            assert_eq!(selected(&router, "/foo%2fbar"), Err(refused), "{what}");
            // Path parameters a servlet backend drops.
            assert_eq!(
                selected(&router, "/foo;x/bar"),
                Err(PathError::Ambiguous),
                "{what}"
            );
            assert_eq!(
                selected(&router, "/foo/bar;x"),
                Err(PathError::Ambiguous),
                "{what}"
            );
            assert_eq!(
                selected(&router, "/x/..;/foo/bar"),
                Err(PathError::Ambiguous),
                "{what}"
            );
            // Paths are case-sensitive, as in Kubernetes: another path,
            // served by the catch-all (the backend behind the protected
            // route never sees it).
            assert_eq!(
                selected(&router, "/FOO/bar"),
                Ok(Some((1, "/FOO/bar".into()))),
                "{what}"
            );
        }
    }
}
