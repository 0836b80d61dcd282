//! Access modes: tunnel allow lists, mTLS, forward-auth, public.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use wingress_proxy::{Access, AllowRule, ClientCertCheck, ForwardAuthSpec, Proxy, ProxyOptions};

use crate::support::*;

#[test]
fn tunnel_routes_admit_peers_by_name_and_tag() {
    run(async {
        let a = backend("a").await;
        let mut by_peer = route(exact("app.example"), "/peer", &[&a]);
        by_peer.access = Access::Tunnel;
        by_peer.allow = vec![AllowRule::Peer("alice".into())];
        let mut by_tag = route(exact("app.example"), "/tag", &[&a]);
        by_tag.access = Access::Tunnel;
        by_tag.allow = vec![AllowRule::Tag("ops".into())];
        let mut any_peer = route(exact("app.example"), "/any", &[&a]);
        any_peer.access = Access::Tunnel;
        let public = route(exact("app.example"), "/public", &[&a]);
        let proxy = Proxy::new(
            vec![by_peer, by_tag, any_peer, public],
            ProxyOptions::default(),
        );
        let alice = listen(&proxy, peer("alice", &["family"])).await;
        let bob = listen(&proxy, peer("bob", &["ops"])).await;
        let outsider = listen(&proxy, host_client()).await;
        let client = client();

        let cases = [
            (alice, "/peer", 200),
            (alice, "/tag", 403),
            (alice, "/any", 200),
            (bob, "/peer", 403),
            (bob, "/tag", 200),
            (bob, "/any", 200),
            (outsider, "/peer", 403),
            (outsider, "/tag", 403),
            (outsider, "/any", 403),
            (outsider, "/public", 200),
            (alice, "/public", 200),
        ];
        for (addr, path, status) in cases {
            let before = a.state.hits.load(Ordering::SeqCst);
            let reply = get(&client, addr, "app.example", path).await;
            assert_eq!(reply.status, status, "{path}: {}", reply.body);
            let reached = a.state.hits.load(Ordering::SeqCst) - before;
            if status == 403 {
                assert!(reply.body.contains("403 forbidden"));
                assert_eq!(reached, 0, "a denied request reached the backend");
            } else {
                assert_eq!(reached, 1);
            }
        }
    });
}

/// Accepts the chain whose leaf is the bytes `good-cert`.
struct FakeCheck;

impl ClientCertCheck for FakeCheck {
    fn verify(&self, chain: &[CertificateDer<'_>]) -> bool {
        chain
            .first()
            .is_some_and(|leaf| leaf.as_ref() == b"good-cert")
    }

    fn subject(&self, _chain: &[CertificateDer<'_>]) -> Option<String> {
        Some("CN=good client".into())
    }
}

#[test]
fn mtls_routes_check_the_client_chain() {
    run(async {
        let a = backend("a").await;
        let mut mtls = route(exact("app.example"), "/", &[&a]);
        mtls.access = Access::Mtls(Arc::new(FakeCheck));
        let proxy = Proxy::new(vec![mtls], ProxyOptions::default());
        let with_chain = |leaf: &'static [u8]| {
            let mut info = host_client();
            info.client_chain = Some(Arc::new(vec![CertificateDer::from(leaf.to_vec())]));
            info
        };
        let good = listen(&proxy, with_chain(b"good-cert")).await;
        let bad = listen(&proxy, with_chain(b"bad-cert")).await;
        let none = listen(&proxy, host_client()).await;
        // A tunnel peer without a certificate is not exempt.
        let tunnel_peer = listen(&proxy, peer("alice", &[])).await;
        let client = client();

        let spoof = [("x-wingress-client-subject", "CN=admin")];
        let echo = send(&client, good, "GET", "app.example", "/", &spoof, "")
            .await
            .echo();
        assert_eq!(echo.header("x-wingress-client-subject"), ["CN=good client"]);
        for addr in [bad, none, tunnel_peer] {
            let reply = get(&client, addr, "app.example", "/").await;
            assert_eq!(reply.status, 403);
        }
        assert_eq!(a.state.hits.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn forward_auth_allows_denies_and_copies_headers() {
    run(async {
        let app = backend("app").await;
        let auth = backend("auth").await;
        let mut guarded = route(exact("app.example"), "/", &[&app]);
        guarded.access = Access::ForwardAuth(ForwardAuthSpec {
            url: auth.spec(),
            path_and_query: "/auth".into(),
            copy_headers: vec![],
        });
        guarded.allow = vec![AllowRule::Tag("family".into())];
        let mut named = route(exact("named.example"), "/", &[&app]);
        named.access = Access::ForwardAuth(ForwardAuthSpec {
            url: auth.spec(),
            path_and_query: "auth".into(),
            copy_headers: vec!["X-Auth-Groups".into()],
        });
        let proxy = Proxy::new(vec![guarded, named], ProxyOptions::default());
        let outsider = listen(&proxy, host_client()).await;
        let family = listen(&proxy, peer("alice", &["family"])).await;
        let stranger_peer = listen(&proxy, peer("bob", &["guest"])).await;
        let client = client();
        let calls = || auth.state.auth_calls.load(Ordering::SeqCst);

        // Valid credentials: the auth headers travel on, spoofed ones do not.
        let creds = [
            ("authorization", "Bearer good"),
            ("remote-user", "mallory"),
            ("Remote_Email", "m@x"),
        ];
        let echo = send(
            &client,
            outsider,
            "GET",
            "app.example",
            "/private",
            &creds,
            "",
        )
        .await
        .echo();
        assert_eq!(echo.header("remote-user"), ["alice"]);
        assert!(echo.header("remote_email").is_empty());
        assert_eq!(echo.header("x-auth-groups"), ["admins"]);
        assert!(echo.header("x-unrelated").is_empty());
        assert_eq!(echo.header("authorization"), ["Bearer good"]);
        assert_eq!(calls(), 1);

        // No credentials: the auth service's answer is the response.
        let hits = app.state.hits.load(Ordering::SeqCst);
        let reply = get(&client, outsider, "app.example", "/private/x?q=1").await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.headers["www-authenticate"], "Bearer");
        assert_eq!(
            reply.body,
            "denied uri=/private/x?q=1 method=GET host=app.example proto=https for=127.0.0.1"
        );
        assert_eq!(app.state.hits.load(Ordering::SeqCst), hits);
        assert_eq!(calls(), 2);

        // Admitted tunnel peers skip the auth service entirely.
        let spoof = [("remote-user", "mallory")];
        let echo = send(&client, family, "GET", "app.example", "/", &spoof, "")
            .await
            .echo();
        assert_eq!(echo.header("x-wingress-peer"), ["alice"]);
        assert!(echo.header("remote-user").is_empty());
        assert_eq!(calls(), 2);

        // Peers outside the allow list are asked like anyone else.
        assert_eq!(
            get(&client, stranger_peer, "app.example", "/").await.status,
            401
        );
        assert_eq!(calls(), 3);

        // An explicit copy list copies only those headers.
        let creds = [("authorization", "Bearer good")];
        let echo = send(&client, outsider, "GET", "named.example", "/", &creds, "")
            .await
            .echo();
        assert_eq!(echo.header("x-auth-groups"), ["admins"]);
        assert!(echo.header("remote-user").is_empty());
    });
}
