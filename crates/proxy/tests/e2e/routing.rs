//! Routing by host, wildcard, path prefix and entrypoint; header rewriting.

use wingress_proxy::{HostMatch, Proxy, ProxyOptions, Scheme};

use crate::support::*;

#[test]
fn routes_by_host_wildcard_and_longest_prefix() {
    run(async {
        let (a, b, c, d) = (
            backend("a").await,
            backend("b").await,
            backend("c").await,
            backend("d").await,
        );
        let proxy = Proxy::new(
            vec![
                route(HostMatch::Any, "/static", &[&d]),
                route(HostMatch::Wildcard(".example".into()), "/", &[&c]),
                route(exact("app.example"), "/", &[&a]),
                route(exact("app.example"), "/api", &[&b]),
            ],
            ProxyOptions::default(),
        );
        let addr = listen(&proxy, host_client()).await;
        let client = client();
        let backend_for = |r: Reply| r.echo().backend;
        assert_eq!(
            backend_for(get(&client, addr, "app.example", "/").await),
            "a"
        );
        assert_eq!(
            backend_for(get(&client, addr, "APP.example:8443", "/api/x").await),
            "b"
        );
        assert_eq!(
            backend_for(get(&client, addr, "app.example.", "/apix").await),
            "b"
        );
        assert_eq!(
            backend_for(get(&client, addr, "other.example", "/api").await),
            "c"
        );
        // A wildcard stands for one label.
        assert_eq!(
            get(&client, addr, "deep.other.example", "/").await.status,
            404
        );
        // Exact host without a matching prefix falls through to the catch-all.
        assert_eq!(
            backend_for(get(&client, addr, "unknown.test", "/static/x.css").await),
            "d"
        );

        let miss = get(&client, addr, "unknown.test", "/").await;
        assert_eq!(miss.status, 404);
        assert!(
            miss.body.contains("404 no route for this host"),
            "{}",
            miss.body
        );
        assert_eq!(miss.headers["content-type"], "text/html; charset=utf-8");
        // The apex is not covered by the wildcard.
        assert_eq!(get(&client, addr, "example", "/").await.status, 404);

        // Dot segments and doubled slashes are cleaned before routing, and
        // the backend sees the cleaned path.
        let echo = get(&client, addr, "app.example", "/x/../api//v1?q=1")
            .await
            .echo();
        assert_eq!(echo.backend, "b");
        assert_eq!(echo.path, "/api/v1?q=1");
    });
}

#[test]
fn entrypoint_restricted_routes() {
    run(async {
        let a = backend("a").await;
        let mut tunnel_only = route(exact("app.example"), "/", &[&a]);
        tunnel_only.entrypoints = vec!["tunnel".into()];
        let proxy = Proxy::new(vec![tunnel_only], ProxyOptions::default());
        let on_tunnel = listen(&proxy, conn_info("tunnel", Scheme::Https, None)).await;
        let on_web = listen(&proxy, conn_info("web", Scheme::Https, None)).await;
        let client = client();
        assert_eq!(
            get(&client, on_tunnel, "app.example", "/").await.status,
            200
        );
        assert_eq!(get(&client, on_web, "app.example", "/").await.status, 404);
    });
}

#[test]
fn identity_and_forwarding_headers() {
    run(async {
        let a = backend("a").await;
        let proxy = Proxy::new(
            vec![route(exact("app.example"), "/", &[&a])],
            ProxyOptions::default(),
        );
        let from_peer = listen(&proxy, peer("alice", &["family", "admin"])).await;
        let from_host = listen(&proxy, host_client()).await;
        let from_plain = listen(&proxy, conn_info("web", Scheme::Http, None)).await;
        let client = client();
        let spoofed: &[(&str, &str)] = &[
            ("x-wingress-peer", "mallory"),
            ("X_Wingress_Peer_Tags", "admin"),
            ("x-wingress-peer-key", "forged"),
            ("x-forwarded-for", "1.2.3.4"),
            ("x-real-ip", "1.2.3.4"),
            ("x-forwarded-proto", "gopher"),
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "Basic eA=="),
        ];

        let echo = send(
            &client,
            from_peer,
            "GET",
            "app.example:8443",
            "/",
            spoofed,
            "",
        )
        .await
        .echo();
        assert_eq!(echo.header("x-wingress-peer"), ["alice"]);
        assert_eq!(echo.header("x-wingress-peer-key"), ["alice-key="]);
        assert_eq!(echo.header("x-wingress-peer-tags"), ["family,admin"]);
        assert!(echo.header("x_wingress_peer_tags").is_empty());
        assert_eq!(echo.header("x-forwarded-for"), ["127.0.0.1"]);
        assert_eq!(echo.header("x-real-ip"), ["127.0.0.1"]);
        assert_eq!(echo.header("x-forwarded-proto"), ["https"]);
        assert_eq!(echo.header("x-forwarded-host"), ["app.example:8443"]);
        assert_eq!(echo.header("host"), ["app.example:8443"]);
        assert!(echo.header("x-hop").is_empty());
        assert!(echo.header("keep-alive").is_empty());
        assert!(echo.header("proxy-authorization").is_empty());
        assert_eq!(echo.version, "HTTP/1.1");

        for addr in [from_host, from_plain] {
            let echo = send(&client, addr, "GET", "app.example", "/", spoofed, "")
                .await
                .echo();
            let reserved: Vec<_> = echo
                .headers
                .iter()
                .filter(|(k, _)| k.contains("wingress"))
                .collect();
            assert!(reserved.is_empty(), "{reserved:?}");
            assert_eq!(echo.header("x-forwarded-for"), ["127.0.0.1"]);
        }
        let echo = get(&client, from_plain, "app.example", "/").await.echo();
        assert_eq!(echo.header("x-forwarded-proto"), ["http"]);
    });
}
