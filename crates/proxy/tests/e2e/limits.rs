//! Slow and greedy clients: a body that stops, a client that stops
//! reading (HTTP/1.1 and HTTP/2), HTTP/2 streams and the backend
//! connections they hold, idle upgraded connections; each hit counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wingress_proxy::{Limit, Proxy, ProxyOptions};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(10);

fn hits(proxy: &Arc<Proxy>, limit: Limit) -> u64 {
    proxy
        .stats()
        .limit_hits()
        .iter()
        .filter(|(entrypoint, l, _)| entrypoint == "web" && *l == limit)
        .map(|(_, _, n)| n)
        .sum()
}

fn proxy_with(backend: &Backend, opts: ProxyOptions) -> Arc<Proxy> {
    Proxy::new(vec![route(exact("app.example"), "/", &[backend])], opts)
}

/// A proxy with `opts` in front of an echo backend, and a connection to it
/// on which `request` has been sent.
async fn sent(opts: ProxyOptions, request: &[u8]) -> (Backend, Arc<Proxy>, TcpStream) {
    let a = backend("a").await;
    let proxy = proxy_with(&a, opts);
    let addr = listen(&proxy, host_client()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    (a, proxy, stream)
}

#[test]
fn a_body_that_stops_gets_408() {
    run(async {
        let opts = ProxyOptions {
            body_timeout: Duration::from_millis(500),
            ..ProxyOptions::default()
        };
        let request =
            b"POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: 100\r\n\r\n0123456789";
        let (_a, proxy, mut stream) = sent(opts, request).await;
        let addr = stream.peer_addr().unwrap();
        let started = Instant::now();
        let (head, _) = tokio::time::timeout(WAIT, read_response(&mut stream))
            .await
            .expect("answered, not left hanging");
        assert!(head.starts_with("HTTP/1.1 408"), "{head}");
        assert!(started.elapsed() >= Duration::from_millis(400));
        assert_eq!(hits(&proxy, Limit::BodyTimeout), 1);

        // A body that keeps coming, however slowly, is not cut off.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: 4\r\n\r\n")
            .await
            .unwrap();
        for byte in b"abcd" {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stream.write_all(&[*byte]).await.unwrap();
        }
        let (head, body) = tokio::time::timeout(WAIT, read_response(&mut stream))
            .await
            .unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, "bytes 4");
        assert_eq!(hits(&proxy, Limit::BodyTimeout), 1);
    });
}

/// Reads from `stream` until it closes; how many bytes came.
async fn drain(stream: &mut TcpStream) -> usize {
    let mut total = 0;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n,
        }
    }
}

#[test]
fn a_client_that_stops_reading_is_closed_after_send_timeout() {
    run(async {
        let opts = ProxyOptions {
            send_timeout: Duration::from_millis(500),
            ..ProxyOptions::default()
        };
        let request = b"GET /big HTTP/1.1\r\nHost: app.example\r\n\r\n";
        let (_a, proxy, mut stream) = sent(opts, request).await;
        let addr = stream.peer_addr().unwrap();
        // Read nothing: the socket buffers fill, then the proxy waits on us.
        tokio::time::sleep(Duration::from_millis(2000)).await;
        let got = tokio::time::timeout(WAIT, drain(&mut stream))
            .await
            .expect("connection closed");
        assert!(got < BIG_CHUNK * BIG_CHUNKS, "{got}");
        assert_eq!(hits(&proxy, Limit::SendTimeout), 1);

        // A client that reads, even while the backend pauses, is fine.
        let reply = get(&client(), addr, "app.example", "/big").await;
        assert_eq!(reply.body.len(), BIG_CHUNK * BIG_CHUNKS);
        assert_eq!(hits(&proxy, Limit::SendTimeout), 1);
    });
}

type H2Sender = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

/// An HTTP/2 prior-knowledge connection to a plain entrypoint; `window`
/// is the stream window the client announces.
async fn h2_connect(addr: std::net::SocketAddr, window: u32) -> H2Sender {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(window)
        .handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

fn h2_get(path: &str) -> Request<Full<Bytes>> {
    Request::get(format!("http://app.example{path}"))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

#[test]
fn an_http2_stream_whose_window_stays_shut_closes_the_connection() {
    run(async {
        let a = backend("a").await;
        let opts = ProxyOptions {
            send_timeout: Duration::from_millis(500),
            ..ProxyOptions::default()
        };
        let proxy = proxy_with(&a, opts);
        let addr = listen(&proxy, conn_info("web", wingress_proxy::Scheme::Http, None)).await;
        let mut sender = h2_connect(addr, 65_535).await;
        let response = tokio::time::timeout(WAIT, sender.send_request(h2_get("/big")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), 200);
        // The body is never read, so the window never opens again.
        let body = response.into_body();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(hits(&proxy, Limit::SendTimeout), 1);
        let closed = tokio::time::timeout(WAIT, sender.ready()).await.unwrap();
        assert!(closed.is_err(), "connection still open");
        drop(body);
    });
}

#[test]
fn http2_streams_and_the_backend_connections_they_hold_are_capped() {
    run(async {
        let a = backend("a").await;
        let opts = ProxyOptions {
            max_streams: 4,
            max_backend_connections: 1,
            ..ProxyOptions::default()
        };
        let proxy = proxy_with(&a, opts);
        let addr = listen(&proxy, conn_info("web", wingress_proxy::Scheme::Http, None)).await;
        let mut sender = h2_connect(addr, 1 << 20).await;

        // The first request holds the one backend connection while its
        // response streams; the second waits for it.
        let first = tokio::time::timeout(WAIT, sender.send_request(h2_get("/stream")))
            .await
            .unwrap()
            .unwrap();
        let mut first = first.into_body();
        let chunk = first.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(chunk, "first\n");
        let second = sender.send_request(h2_get("/second"));
        let mut second = tokio::task::spawn_local(second);
        let early = tokio::time::timeout(Duration::from_millis(500), &mut second).await;
        assert!(early.is_err(), "second request did not wait");
        assert_eq!(hits(&proxy, Limit::BackendConnections), 1);
        a.state.stream_release.notify_one();
        let rest = first.collect().await.unwrap().to_bytes();
        assert_eq!(rest, "second\n");
        let second = tokio::time::timeout(WAIT, second)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(second.status(), 200);

        // Streams over the cap wait in the client; reaching it is counted.
        let pending: Vec<_> = (0..6)
            .map(|i| sender.send_request(h2_get(&format!("/n{i}"))))
            .collect();
        for response in pending {
            let response = tokio::time::timeout(WAIT, response).await.unwrap().unwrap();
            assert_eq!(response.status(), 200);
            let _ = response.into_body().collect().await;
        }
        assert!(hits(&proxy, Limit::Streams) >= 1);
    });
}

#[test]
fn idle_upgraded_connections_are_closed_and_counted() {
    run(async {
        let opts = ProxyOptions {
            upgrade_idle_timeout: Duration::from_millis(700),
            ..ProxyOptions::default()
        };
        let request =
            b"GET /ws HTTP/1.1\r\nHost: app.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
        let (_a, proxy, mut stream) = sent(opts, request).await;
        let (head, _) = tokio::time::timeout(WAIT, read_response(&mut stream))
            .await
            .unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert_eq!(proxy.stats().open_upgrades(), 1);
        // Traffic keeps it open past the timeout...
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stream.write_all(b"ping").await.unwrap();
            let mut echoed = [0u8; 4];
            stream.read_exact(&mut echoed).await.unwrap();
        }
        // ...silence closes it.
        let started = Instant::now();
        let mut rest = Vec::new();
        tokio::time::timeout(WAIT, stream.read_to_end(&mut rest))
            .await
            .expect("closed")
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(600));
        assert_eq!(hits(&proxy, Limit::UpgradeIdle), 1);
        assert_eq!(proxy.stats().open_upgrades(), 0);
    });
}

#[test]
fn routes_choose_their_upgrade_protocols() {
    run(async {
        let a = backend("a").await;
        let mut none = route(exact("app.example"), "/", &[&a]);
        none.upgrades = vec![];
        let proxy = Proxy::new(vec![none], ProxyOptions::default());
        let addr = listen(&proxy, host_client()).await;
        let req = Request::get(format!("http://{addr}/ws"))
            .header("host", "app.example")
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();
        let response = tokio::time::timeout(WAIT, client.request(req))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), 200, "no upgrade on this route");
    });
}
