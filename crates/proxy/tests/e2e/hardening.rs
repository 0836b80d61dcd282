//! What a client cannot get past the proxy: path spellings that reach a
//! protected prefix's backend, hosts no DNS name has, headers only the
//! proxy may set, and upgrades to protocols other than WebSocket.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use wingress_proxy::{Access, ForwardAuthSpec, HostMatch, PathMatch, Proxy, ProxyOptions};

use crate::support::*;

/// `/admin` is tunnel-only, `/` public; both on one echo backend.
async fn admin_and_public() -> (Backend, SocketAddr) {
    let a = backend("a").await;
    let mut admin = route(exact("app.example"), "/admin", &[&a]);
    admin.access = Access::Tunnel;
    let public = route(exact("app.example"), "/", &[&a]);
    let proxy = Proxy::new(vec![admin, public], ProxyOptions::default());
    let addr = listen(&proxy, host_client()).await;
    (a, addr)
}

/// Sends `head` (a request line and headers, CRLF-terminated) on a fresh
/// connection with `Connection: close` and returns the status and body.
async fn raw_get(addr: SocketAddr, target: &str, headers: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let (head, body) = read_response(&mut stream).await;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, body)
}

#[test]
fn encoded_and_dotted_spellings_of_a_protected_prefix_are_refused() {
    run(async {
        let (a, addr) = admin_and_public().await;
        let host = "Host: app.example\r\n";
        let bypasses = [
            "/admin",
            "/./admin",
            "//admin",
            "/%61dmin",
            "/%61%64%6d%69%6e/x",
            "/%2fadmin",
            "/%2Fadmin",
            "/public%2F..%2Fadmin",
            "/public%2f..%2fadmin",
            "/public/%2e%2e/admin",
            "/public/%2E%2e/admin",
            "/public/.%2e/admin",
            "/public/%2e./admin",
            "/public/%252e%252e/admin",
            "/%2561dmin",
            "/public%252F..%252Fadmin",
            "/public\\..\\admin",
            "/public%5c..%5cadmin",
            "/public%5C..%5Cadmin",
            "/%00/../admin",
            "/public%00/../../admin",
            "/public/%0a/../../admin",
            "/public/..;/admin",
            "/public;x/..;y/admin",
            "/admin%",
            "/admin%2",
            "/%zzadmin",
            "/%%32%65%%32%65/admin",
            "/%u0061dmin",
        ];
        for target in bypasses {
            let before = a.state.hits.load(std::sync::atomic::Ordering::SeqCst);
            let (status, body) = raw_get(addr, target, host).await;
            assert!(status == 400 || status == 403, "{target}: {status}\n{body}");
            let after = a.state.hits.load(std::sync::atomic::Ordering::SeqCst);
            assert_eq!(before, after, "{target} reached the backend");
        }
    });
}

/// Kubernetes path types guard as string prefixes do: with `/foo`
/// (`Prefix`, whole segments) and `/bar` (`Exact`) tunnel-only on backend
/// `a` and `/` public on `b`, no spelling of a protected path reaches `a`
/// from outside the tunnel, and what the protected routes do not cover
/// (other segments, other case) goes to `b`.
#[test]
fn kubernetes_path_types_keep_their_access_rules() {
    run(async {
        let (a, b) = (backend("a").await, backend("b").await);
        let mut foo = route(exact("app.example"), "/foo", &[&a]);
        foo.path_match = PathMatch::Segments;
        foo.access = Access::Tunnel;
        let mut bar = route(exact("app.example"), "/bar", &[&a]);
        bar.path_match = PathMatch::Exact;
        bar.access = Access::Tunnel;
        let mut public = route(exact("app.example"), "/", &[&b]);
        public.path_match = PathMatch::Segments;
        let proxy = Proxy::new(vec![foo, bar, public], ProxyOptions::default());
        let outside = listen(&proxy, host_client()).await;
        let inside = listen(&proxy, peer("laptop", &[])).await;
        let host = "Host: app.example\r\n";
        let protected = [
            "/foo",
            "/foo/",
            "/foo/x",
            "/%66oo/x",
            "//foo",
            "/./foo",
            "/x/../foo",
            "/foo%2Fbar",
            "/foo%2fbar",
            "/x%2F..%2Ffoo",
            "/foo;x",
            "/foo;x/y",
            "/x/..;/foo",
            "/bar",
            "/%62ar",
            "/foo/../bar",
            "/x/./../bar",
            "/bar;x",
            "/x/..;/bar",
            "/x%2F..%2Fbar",
        ];
        for target in protected {
            let (status, body) = raw_get(outside, target, host).await;
            assert!(status == 400 || status == 403, "{target}: {status}\n{body}");
        }
        assert_eq!(a.state.hits.load(std::sync::atomic::Ordering::SeqCst), 0);
        for (target, path) in [("/foo/x", "/foo/x"), ("/foo/../bar", "/bar")] {
            let (status, body) = raw_get(inside, target, host).await;
            assert_eq!(status, 200, "{target}: {body}");
            assert_eq!(Echo::parse(&body).path, path);
        }
        assert_eq!(a.state.hits.load(std::sync::atomic::Ordering::SeqCst), 2);
        for target in ["/FOO", "/foobar", "/bar/", "/BAR", "/barx", "/"] {
            let (status, body) = raw_get(outside, target, host).await;
            assert_eq!(status, 200, "{target}: {body}");
            assert_eq!(Echo::parse(&body).path, target);
        }
        assert_eq!(a.state.hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    });
}

#[test]
fn the_backend_receives_the_normalised_path_it_was_routed_on() {
    run(async {
        let (_a, addr) = admin_and_public().await;
        let host = "Host: app.example\r\n";
        let cases = [
            ("/public/x?q=%2F..%2F&a=1", "/public/x?q=%2F..%2F&a=1"),
            ("/x/../y/./z//w", "/y/z/w"),
            ("/%7Euser/%41%42c", "/~user/ABc"),
            ("/a%20b/%c3%a9", "/a%20b/%C3%A9"),
            ("/caf\u{e9}", "/caf%C3%A9"),
            ("/{x}", "/%7Bx%7D"),
            ("/a;b=c/d", "/a;b=c/d"),
            ("/admins/..", "/"),
            ("/50%25off", "/50%25off"),
        ];
        for (target, expected) in cases {
            let (status, body) = raw_get(addr, target, host).await;
            assert_eq!(status, 200, "{target}: {body}");
            assert_eq!(Echo::parse(&body).path, expected, "{target}");
        }
    });
}

#[test]
fn forward_auth_sees_the_uri_the_backend_gets() {
    run(async {
        let app = backend("app").await;
        let auth = backend("auth").await;
        let mut guarded = route(exact("app.example"), "/", &[&app]);
        guarded.access = Access::ForwardAuth(ForwardAuthSpec {
            url: auth.spec(),
            path_and_query: "/auth".into(),
            copy_headers: vec![],
        });
        let proxy = Proxy::new(vec![guarded], ProxyOptions::default());
        let addr = listen(&proxy, host_client()).await;
        let (status, body) = raw_get(
            addr,
            "/x/../%61pi//v1?q=%2F",
            "Host: app.example\r\nX-Forwarded-Uri: /forged\r\nX-Original-URL: /forged\r\n",
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert!(body.starts_with("denied uri=/api/v1?q=%2F "), "{body}");
    });
}

#[test]
fn hosts_no_dns_name_has_are_refused() {
    run(async {
        let a = backend("a").await;
        let proxy = Proxy::new(
            vec![
                route(exact("app.example"), "/", &[&a]),
                route(HostMatch::Wildcard("*.home.example".into()), "/", &[&a]),
            ],
            ProxyOptions::default(),
        );
        let addr = listen(&proxy, host_client()).await;
        for host in [
            "app example",
            "app.example/..",
            "app.example\\x",
            "app.exa%6dple",
            "user@app.example",
            "app..example",
            ".app.example",
            "app.example:80x",
            "app.example:99999",
            "[::1",
            "[::1]x",
            "app.example,evil.example",
            "\u{e4}pp.example",
        ] {
            let (status, body) = raw_get(addr, "/", &format!("Host: {host}\r\n")).await;
            assert_eq!(status, 400, "Host: {host}: {body}");
        }
        // Two Host headers, and HTTP/1.1 without one.
        let (status, _) = raw_get(addr, "/", "Host: app.example\r\nHost: other.example\r\n").await;
        assert_eq!(status, 400);
        let (status, _) = raw_get(addr, "/", "").await;
        assert_eq!(status, 400);

        // Still fine: ports, a trailing dot, IP literals, underscores.
        for (host, status) in [
            ("App.Example:8443", 200),
            ("app.example.", 200),
            ("app.example:", 200),
            ("x.home.example", 200),
            ("x_y.home.example", 200),
            ("10.0.0.1", 404),
            ("[::1]:443", 404),
        ] {
            let (got, body) = raw_get(addr, "/", &format!("Host: {host}\r\n")).await;
            assert_eq!(got, status, "Host: {host}: {body}");
        }
    });
}

#[test]
fn a_wildcard_host_matches_exactly_one_label() {
    run(async {
        let a = backend("a").await;
        let proxy = Proxy::new(
            vec![route(
                HostMatch::Wildcard("*.home.example".into()),
                "/",
                &[&a],
            )],
            ProxyOptions::default(),
        );
        let addr = listen(&proxy, host_client()).await;
        let client = client();
        assert_eq!(get(&client, addr, "x.home.example", "/").await.status, 200);
        assert_eq!(
            get(&client, addr, "a.b.home.example", "/").await.status,
            404
        );
        assert_eq!(get(&client, addr, "home.example", "/").await.status, 404);
    });
}

#[test]
fn headers_only_the_proxy_may_set_are_not_passed_on() {
    run(async {
        let a = backend("a").await;
        let proxy = Proxy::new(
            vec![route(exact("app.example"), "/", &[&a])],
            ProxyOptions::default(),
        );
        let addr = listen(&proxy, host_client()).await;
        let forged: &[(&str, &str)] = &[
            ("forwarded", "for=1.2.3.4;host=admin.example;proto=https"),
            ("x-forwarded-port", "443"),
            ("x-forwarded-prefix", "/admin"),
            ("x-original-url", "/admin"),
            ("x-original-uri", "/admin"),
            ("x-rewrite-url", "/admin"),
            ("x-real-ip", "1.2.3.4"),
            ("x-forwarded-server", "admin.example"),
            ("x-forwarded-ssl", "on"),
            ("x-forwarded-scheme", "https"),
            ("x_forwarded_for", "1.2.3.4"),
            ("x_forwarded_host", "admin.example"),
            ("x_real_ip", "1.2.3.4"),
            ("x-forwarded-uri", "/admin"),
            ("x-forwarded-method", "DELETE"),
        ];
        let echo = send(&client(), addr, "GET", "app.example", "/", forged, "")
            .await
            .echo();
        let leaked: Vec<_> = echo
            .headers
            .iter()
            .filter(|(k, v)| {
                forged.iter().any(|(f, _)| f == k) && *v != "127.0.0.1" && k != "x-forwarded-host"
            })
            .collect();
        assert!(leaked.is_empty(), "{leaked:?}");
        assert_eq!(echo.header("x-real-ip"), ["127.0.0.1"]);
        assert_eq!(echo.header("x-forwarded-for"), ["127.0.0.1"]);
        assert_eq!(echo.header("x-forwarded-host"), ["app.example"]);
        assert!(echo.header("x_forwarded_for").is_empty());
    });
}

#[test]
fn only_websocket_upgrades_are_forwarded() {
    run(async {
        let a = backend("a").await;
        let proxy = Proxy::new(
            vec![route(exact("app.example"), "/", &[&a])],
            ProxyOptions::default(),
        );
        let addr = listen(&proxy, host_client()).await;
        // h2c would let the client speak HTTP/2 to the backend past the
        // proxy; the backend's /ws switches for any Upgrade it is shown.
        for target in ["/ws", "/echo"] {
            let (status, body) = raw_get(
                addr,
                target,
                "Host: app.example\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
                 HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
            )
            .await;
            assert_eq!(status, 200, "{target}: {body}");
            let echo = Echo::parse(&body);
            assert!(echo.header("upgrade").is_empty(), "{echo:?}");
            assert!(echo.header("http2-settings").is_empty(), "{echo:?}");
        }
    });
}
