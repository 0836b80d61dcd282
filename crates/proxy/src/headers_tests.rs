use super::*;

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    headers
}

#[test]
fn strips_hop_by_hop_and_connection_named() {
    let mut h = map(&[
        ("connection", "keep-alive, X-Secret"),
        ("keep-alive", "timeout=5"),
        ("x-secret", "1"),
        ("proxy-authorization", "x"),
        ("proxy", "http://evil"),
        ("te", "trailers"),
        ("transfer-encoding", "chunked"),
        ("transfer_encoding", "chunked"),
        ("content_length", "5"),
        ("proxy_connection", "close"),
        ("upgrade", "websocket"),
        ("accept", "*/*"),
    ]);
    strip_hop_by_hop(&mut h);
    assert_eq!(h.len(), 1);
    assert!(h.contains_key("accept"));
}

#[test]
fn strips_a_plain_connection_header() {
    let mut h = map(&[
        ("Connection", "Keep-Alive"),
        ("content-length", "3"),
        ("x-a", "1"),
    ]);
    strip_hop_by_hop(&mut h);
    assert_eq!(h.len(), 2);
    assert!(!h.contains_key("connection"));
    // Not the fast path: another header is named, or another hop-by-hop
    // header is present.
    let mut h = map(&[("connection", "close, x-a"), ("x-a", "1"), ("x-b", "2")]);
    strip_hop_by_hop(&mut h);
    assert_eq!(h.len(), 1);
    assert!(h.contains_key("x-b"));
    let mut h = map(&[("connection", "close"), ("te", "trailers"), ("x-b", "2")]);
    strip_hop_by_hop(&mut h);
    assert_eq!(h.len(), 1);
}

#[test]
fn detects_and_restores_upgrades() {
    let ws = ["websocket".to_string()];
    let mut h = map(&[
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
    ]);
    let proto = upgrade_protocol(&h, &ws).unwrap();
    strip_hop_by_hop(&mut h);
    restore_upgrade(&mut h, proto);
    assert_eq!(h["connection"], "upgrade");
    assert_eq!(h["upgrade"], "WebSocket");
    assert!(upgrade_protocol(&map(&[("upgrade", "websocket")]), &ws).is_none());
}

#[test]
fn only_allowed_upgrades() {
    let ws = ["websocket".to_string()];
    let upgrade = |value| map(&[("connection", "upgrade"), ("upgrade", value)]);
    assert!(upgrade_protocol(&upgrade("h2c"), &ws).is_none());
    assert!(upgrade_protocol(&upgrade("websocket, h2c"), &ws).is_none());
    assert!(upgrade_protocol(&upgrade(""), &ws).is_none());
    assert!(upgrade_protocol(&upgrade("websocket/13"), &ws).is_some());
    assert!(upgrade_protocol(&upgrade("websocket"), &[]).is_none());
    let two = ["websocket".to_string(), "tcp".to_string()];
    assert!(upgrade_protocol(&upgrade("tcp, websocket"), &two).is_some());
    let mut twice = upgrade("websocket");
    twice.append(header::UPGRADE, "h2c".parse().unwrap());
    assert!(upgrade_protocol(&twice, &ws).is_none());
}

#[test]
fn proxy_only_names_any_spelling() {
    let mut h = map(&[
        ("x-wingress-peer", "mallory"),
        ("X_Wingress_Peer_Tags", "admin"),
        ("x-wingress-peer-key", "k"),
        ("forwarded", "for=1.2.3.4"),
        ("x_forwarded_for", "1.2.3.4"),
        ("x-forwarded-port", "1"),
        ("x-original-url", "/admin"),
        ("x-rewrite-url", "/admin"),
        ("x-real-ip", "1.2.3.4"),
        ("true-client-ip", "1.2.3.4"),
        ("forwarded-x", "kept"),
        ("x-other", "1"),
    ]);
    strip_proxy_only(&mut h);
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(name_equals("Remote_User", "remote-user"));
    assert!(!name_equals("remote-users", "remote-user"));
}

#[test]
fn identity_and_forwarded() {
    let mut h = map(&[("x-forwarded-for", "1.2.3.4")]);
    let peer = PeerIdentity {
        name: "alice".into(),
        public_key: "AAA=".into(),
        tags: vec!["a".into(), "b".into()],
    };
    add_identity(&mut h, &peer);
    set_forwarded(
        &mut h,
        &forwarded_for("::ffff:10.0.0.2".parse().unwrap()),
        Scheme::Https,
        Some("app.example:8443"),
    );
    assert_eq!(h["x-wingress-peer"], "alice");
    assert_eq!(h["x-wingress-peer-key"], "AAA=");
    assert_eq!(h["x-wingress-peer-tags"], "a,b");
    assert_eq!(h["x-forwarded-for"], "10.0.0.2");
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(h["x-forwarded-host"], "app.example:8443");
}

#[test]
fn merges_cookies() {
    let mut h = map(&[("cookie", "a=1"), ("cookie", "b=2")]);
    merge_cookies(&mut h);
    assert_eq!(h.get_all("cookie").iter().count(), 1);
    assert_eq!(h["cookie"], "a=1; b=2");
}
