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
            by_certificate: false,
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

/// On the dashboard's mtls route (host entrypoints) the proxy sets the
/// certificate's subject and no peer headers.
#[test]
fn a_client_certificate_names_the_viewer() {
    let v = Viewer::from_headers(&headers(&[(CLIENT_SUBJECT, "alice@example.com")])).unwrap();
    assert_eq!(
        v,
        Viewer {
            name: "alice@example.com".into(),
            key: "cert:alice@example.com".into(),
            tags: Vec::new(),
            by_certificate: true,
        }
    );
    assert!(!v.is_own_device("alice@example.com"));
    // A peer's identity wins; a peer is its own device.
    let v = Viewer::from_headers(&headers(&[
        (PEER, "laptop"),
        (PEER_KEY, "KEY="),
        (CLIENT_SUBJECT, "alice"),
    ]))
    .unwrap();
    assert_eq!((v.name.as_str(), v.by_certificate), ("laptop", false));
    assert!(v.is_own_device("laptop"));
    // Half a peer identity is not a certificate login.
    assert_eq!(
        Viewer::from_headers(&headers(&[(PEER, "laptop"), (CLIENT_SUBJECT, "alice")])),
        None
    );
    assert_eq!(
        Viewer::from_headers(&headers(&[(PEER_KEY, "K"), (CLIENT_SUBJECT, "alice")])),
        None
    );
    // Empty, repeated, oversized or non-text subjects are not the proxy's.
    assert_eq!(
        Viewer::from_headers(&headers(&[(CLIENT_SUBJECT, " ")])),
        None
    );
    assert_eq!(
        Viewer::from_headers(&headers(&[(CLIENT_SUBJECT, "a"), (CLIENT_SUBJECT, "b")])),
        None
    );
    let long = "a".repeat(2000);
    assert_eq!(
        Viewer::from_headers(&headers(&[(CLIENT_SUBJECT, &long)])),
        None
    );
    let mut h = HeaderMap::new();
    h.insert(CLIENT_SUBJECT, HeaderValue::from_bytes(b"\xff").unwrap());
    assert_eq!(Viewer::from_headers(&h), None);
}
