use http::HeaderValue;

use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn the_proxys_headers_name_the_viewer() {
    let v = Viewer::from_headers(&headers(&[
        (PEER, "laptop"),
        (PEER_KEY, "KEY="),
        (PEER_TAGS, "admin, ops,,"),
    ]))
    .unwrap();
    assert_eq!(
        v,
        Viewer {
            name: "laptop".into(),
            key: "KEY=".into(),
            tags: vec!["admin".into(), "ops".into()],
        }
    );
    let v = Viewer::from_headers(&headers(&[(PEER, "tablet"), (PEER_KEY, "K")])).unwrap();
    assert!(v.tags.is_empty());
}

#[test]
fn no_identity_no_viewer() {
    assert_eq!(Viewer::from_headers(&HeaderMap::new()), None);
    assert_eq!(Viewer::from_headers(&headers(&[(PEER, "laptop")])), None);
    assert_eq!(Viewer::from_headers(&headers(&[(PEER_KEY, "K")])), None);
    assert_eq!(
        Viewer::from_headers(&headers(&[(PEER, " "), (PEER_KEY, "K")])),
        None
    );
    assert_eq!(
        Viewer::from_headers(&headers(&[(PEER, "a"), (PEER, "b"), (PEER_KEY, "K")])),
        None
    );
    let long = "a".repeat(2000);
    assert_eq!(
        Viewer::from_headers(&headers(&[(PEER, &long), (PEER_KEY, "K")])),
        None
    );
    let mut h = headers(&[(PEER, "a"), (PEER_KEY, "K")]);
    h.insert(PEER_TAGS, HeaderValue::from_bytes(b"\xff").unwrap());
    assert_eq!(Viewer::from_headers(&h), None);
}
