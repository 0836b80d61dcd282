//! Protocol behaviour: streaming, upgrades, HTTP/2, malformed input,
//! timeouts, and the redirect entrypoint.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wingress_proxy::{serve_redirect, Http01Responder, Proxy, ProxyOptions, Scheme};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn request_bodies_stream_to_the_backend() {
    run(async {
        let a = backend("a").await;
        let proxy = Proxy::new(
            vec![route(exact("app.example"), "/", &[&a])],
            ProxyOptions::default(),
        );
        let addr = listen(&proxy, host_client()).await;
        let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(4);
        let req = Request::post(format!("http://{addr}/upload"))
            .header("host", "app.example")
            .body(body)
            .unwrap();
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();
        let response = tokio::spawn(client.request(req));

        // The backend must see the first chunk while the rest is unsent: the
        // proxy does not buffer request bodies.
        let chunk = Bytes::from(vec![7u8; 64 * 1024]);
        tx.send_data(chunk.clone()).await.unwrap();
        tokio::time::timeout(WAIT, a.state.upload_started.notified())
            .await
            .expect("first chunk streamed through");
        for _ in 1..80 {
            tx.send_data(chunk.clone()).await.unwrap();
        }
        drop(tx);
        let response = tokio::time::timeout(WAIT, response)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, format!("bytes {}", 80 * 64 * 1024));
    });
}

#[test]
fn responses_stream_to_the_client() {
    run(async {
        let a = backend("a").await;
        let proxy = Proxy::new(
            vec![route(exact("app.example"), "/", &[&a])],
            ProxyOptions::default(),
        );
        let addr = listen(&proxy, host_client()).await;
        let req = Request::get(format!("http://{addr}/stream"))
            .header("host", "app.example")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();
        let response = tokio::time::timeout(WAIT, client.request(req))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        let first = tokio::time::timeout(WAIT, body.frame())
            .await
            .expect("first chunk before the end");
        assert_eq!(first.unwrap().unwrap().into_data().unwrap(), "first\n");
        a.state.stream_release.notify_one();
        let rest = tokio::time::timeout(WAIT, body.collect())
            .await
            .unwrap()
            .unwrap()
            .to_bytes();
        assert_eq!(rest, "second\n");
    });
}

#[test]
fn websocket_upgrade_round_trip() {
    run(async {
        let a = backend("a").await;
        let proxy = Proxy::new(
            vec![route(exact("app.example"), "/", &[&a])],
            ProxyOptions::default(),
        );
        let addr = listen(&proxy, peer("alice", &[])).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                b"GET /ws HTTP/1.1\r\nHost: app.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                  Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            )
            .await
            .unwrap();
        let (head, _) = tokio::time::timeout(WAIT, read_response(&mut stream))
            .await
            .unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("upgrade: websocket"), "{head}");
        assert!(lower.contains("connection: upgrade"), "{head}");
        for message in [&b"hello"[..], b"\x81\x05world", &[0u8; 3000]] {
            stream.write_all(message).await.unwrap();
            let mut echoed = vec![0u8; message.len()];
            tokio::time::timeout(WAIT, stream.read_exact(&mut echoed))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(echoed, message);
        }
    });
}

async fn h2_get(
    addr: std::net::SocketAddr,
    path: &str,
) -> (hyper::client::conn::http2::SendRequest<Full<Bytes>>, Echo) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::get(format!("http://app.example{path}"))
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = tokio::time::timeout(WAIT, sender.send_request(req))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (sender, Echo::parse(std::str::from_utf8(&body).unwrap()))
}

#[test]
fn http2_clients_reach_http1_backends() {
    run(async {
        let a = backend("a").await;
        let proxy = Proxy::new(
            vec![route(exact("app.example"), "/", &[&a])],
            ProxyOptions::default(),
        );
        let mut alpn = host_client();
        alpn.alpn_h2 = true;
        let addr = listen(&proxy, alpn).await;
        let (mut sender, echo) = h2_get(addr, "/h2?x=1").await;
        assert_eq!(echo.version, "HTTP/1.1");
        assert_eq!(echo.path, "/h2?x=1");
        assert_eq!(echo.header("host"), ["app.example"]);
        assert_eq!(echo.header("cookie"), ["a=1; b=2"]);
        assert_eq!(echo.header("x-forwarded-host"), ["app.example"]);

        // Concurrent streams, one with a body.
        let mut pending = Vec::new();
        for i in 0..5 {
            let req = Request::post(format!("http://app.example/upload?{i}"))
                .body(Full::new(Bytes::from(vec![1u8; 100_000])))
                .unwrap();
            pending.push(sender.send_request(req));
        }
        for response in pending {
            let response = tokio::time::timeout(WAIT, response).await.unwrap().unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, "bytes 100000");
        }

        // Plain-HTTP entrypoints detect prior knowledge, and still speak 1.1.
        let plain = listen(&proxy, conn_info("web", Scheme::Http, None)).await;
        let (_, echo) = h2_get(plain, "/").await;
        assert_eq!(echo.header("x-forwarded-proto"), ["http"]);
        let reply = get(&client(), plain, "app.example", "/").await;
        assert_eq!(reply.echo().backend, "a");
    });
}

/// Writes `request` on a fresh connection and returns everything the proxy
/// sends until it closes.
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut out))
        .await
        .expect("connection closed");
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn malformed_and_oversized_requests() {
    run(async {
        let a = backend("a").await;
        let proxy = Proxy::new(
            vec![route(exact("app.example"), "/", &[&a])],
            ProxyOptions::default(),
        );
        let addr = listen(&proxy, host_client()).await;
        let (log, _guard) = capture_log();
        let reply = raw(addr, b"GARBAGE\r\n\r\n").await;
        assert!(reply.starts_with("HTTP/1.1 400"), "{reply:?}");
        let reply = raw(addr, b"GET / HTTP/1.1\r\nHost app.example\r\n\r\n").await;
        assert!(reply.starts_with("HTTP/1.1 400"), "{reply:?}");

        let mut big = b"GET / HTTP/1.1\r\nHost: app.example\r\nX-Big: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 70 * 1024));
        big.extend_from_slice(b"\r\n\r\n");
        let reply = raw(addr, &big).await;
        assert!(reply.starts_with("HTTP/1.1 431"), "{reply:?}");
        // Just under the limit is fine.
        let mut fits =
            b"GET / HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\nX-Big: ".to_vec();
        fits.extend(std::iter::repeat_n(b'a', 60 * 1024));
        fits.extend_from_slice(b"\r\n\r\n");
        let reply = raw(addr, &fits).await;
        assert!(
            reply.starts_with("HTTP/1.1 200"),
            "{:?}",
            &reply[..reply.len().min(200)]
        );
        assert_eq!(a.state.hits.load(Ordering::SeqCst), 1);

        // Every one of those got its access-log line, the rejected ones
        // with what is known: no method, host or path.
        let access: Vec<String> = log
            .text()
            .lines()
            .filter(|l| l.contains("wingress::access"))
            .map(str::to_owned)
            .collect();
        let with = |status: &str| {
            access
                .iter()
                .filter(|l| l.contains(&format!("status={status}")))
                .count()
        };
        assert_eq!(access.len(), 4, "{access:#?}");
        assert_eq!(with("400"), 2, "{access:#?}");
        assert_eq!(with("431"), 1, "{access:#?}");
        assert_eq!(with("200"), 1, "{access:#?}");
        assert!(
            access
                .iter()
                .filter(|l| !l.contains("status=200"))
                .all(|l| l.contains("method=-") && l.contains("path=-")),
            "{access:#?}"
        );
    });
}

#[test]
fn slow_heads_and_idle_connections_are_closed() {
    run(async {
        let a = backend("a").await;
        let opts = ProxyOptions {
            header_read_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_millis(1500),
            ..ProxyOptions::default()
        };
        let proxy = Proxy::new(vec![route(exact("app.example"), "/", &[&a])], opts);
        let addr = listen(&proxy, host_client()).await;

        // A head that never finishes is cut off after header_read_timeout.
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: app.example\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let mut buf = Vec::new();
        let closed = tokio::time::timeout(WAIT, slow.read_to_end(&mut buf)).await;
        assert!(closed.is_ok(), "slow head not closed");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_secs(3),
            "{took:?}"
        );

        // An idle keep-alive connection outlives the head timeout…
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let request = b"GET / HTTP/1.1\r\nHost: app.example\r\n\r\n";
        conn.write_all(request).await.unwrap();
        let (head, _) = read_response(&mut conn).await;
        assert!(head.starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(900)).await;
        conn.write_all(request).await.unwrap();
        let (head, _) = read_response(&mut conn).await;
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "idle connection closed by the head timeout"
        );
        // …and is closed after idle_timeout.
        let started = Instant::now();
        let mut buf = Vec::new();
        let closed = tokio::time::timeout(WAIT, conn.read_to_end(&mut buf)).await;
        assert!(closed.is_ok(), "idle connection not closed");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1200) && took < Duration::from_secs(4),
            "{took:?}"
        );

        // A connection that never sends anything is idle too.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let closed = tokio::time::timeout(WAIT, silent.read_to_end(&mut buf)).await;
        assert!(closed.is_ok(), "silent connection not closed");

        // Many idle connections do not block new ones.
        let mut idle = Vec::new();
        for _ in 0..50 {
            idle.push(TcpStream::connect(addr).await.unwrap());
        }
        assert_eq!(get(&client(), addr, "app.example", "/").await.status, 200);
    });
}

#[test]
fn redirect_entrypoint_sends_clients_to_https() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::task::spawn_local(async move {
            loop {
                let Ok((stream, remote)) = listener.accept().await else {
                    return;
                };
                let mut info = conn_info("http", Scheme::Http, None);
                info.remote = remote;
                let http01: Http01Responder = Arc::new(|token: &str| {
                    (token == "tok-1_A").then(|| "tok-1_A.thumbprint".to_string())
                });
                tokio::task::spawn_local(serve_redirect(stream, info, Some(http01)));
            }
        });
        let client = client();
        let reply = get(&client, addr, "Example.COM:8080", "/foo/bar?x=1&y=2").await;
        assert_eq!(reply.status, 308);
        assert_eq!(
            reply.headers["location"],
            "https://example.com/foo/bar?x=1&y=2"
        );
        let reply = get(&client, addr, "[::1]:80", "/").await;
        assert_eq!(reply.headers["location"], "https://[::1]/");
        let reply = get(
            &client,
            addr,
            "example.com",
            "/.well-known/acme-challenge/token",
        )
        .await;
        assert_eq!(reply.status, 404, "unknown token");
        // A pending HTTP-01 token: its key authorization, not a redirect.
        let path = "/.well-known/acme-challenge/tok-1_A";
        let reply = get(&client, addr, "example.com", path).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.headers["content-type"], "text/plain");
        assert_eq!(reply.body, "tok-1_A.thumbprint");
        let path = "/.well-known/acme-challenge/tok-1_A%2F..";
        assert_eq!(get(&client, addr, "example.com", path).await.status, 404);
        let reply = raw(addr, b"GET / HTTP/1.0\r\n\r\n").await;
        assert!(
            reply.starts_with("HTTP/1.0 400") || reply.starts_with("HTTP/1.1 400"),
            "{reply:?}"
        );
    });
}
