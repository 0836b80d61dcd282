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
