//! HTTP/2 to backends: an h2c (prior knowledge) backend reached by HTTP/1.1
//! and HTTP/2 clients, its response trailers (gRPC's `grpc-status`) passed
//! to HTTP/2 clients, `TE: trailers` passed on, request bodies streamed,
//! and one backend connection shared by concurrent requests.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::channel::Channel;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use wingress_proxy::{BackendAddr, BackendScheme, Proxy, ProxyOptions};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(5);

/// An h2c backend: answers with what it saw (protocol, authority, TE, the
/// request body's length) and the trailers `grpc-status: 7`,
/// `grpc-message: denied`. Counts its connections.
async fn h2c_backend() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let count = conns.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
            });
        }
    });
    (addr, conns)
}

async fn answer(
    req: Request<Incoming>,
) -> Result<Response<Channel<Bytes, Infallible>>, Infallible> {
    let seen = format!(
        "proto={:?} authority={} host={} te={} path={}",
        req.version(),
        req.uri().authority().map_or("-", |a| a.as_str()),
        header(&req, "host"),
        header(&req, "te"),
        req.uri().path(),
    );
    let (mut tx, body) = Channel::new(4);
    tokio::spawn(async move {
        let received = req
            .into_body()
            .collect()
            .await
            .map_or(0, |b| b.to_bytes().len());
        let _ = tx
            .send_data(Bytes::from(format!("{seen} body={received}\n")))
            .await;
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("7"));
        trailers.insert("grpc-message", HeaderValue::from_static("denied"));
        let _ = tx.send_trailers(trailers).await;
    });
    Ok(Response::new(body))
}

fn header(req: &Request<Incoming>, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

fn h2c_route(addr: SocketAddr) -> wingress_proxy::RouteSpec {
    let a = BackendAddr {
        host: "127.0.0.1".into(),
        port: addr.port(),
        scheme: BackendScheme::H2c,
    };
    let mut r = route(exact("grpc.example"), "/", &[]);
    r.backends = vec![a];
    r
}

#[test]
fn http1_and_http2_clients_reach_an_h2c_backend_with_trailers() {
    run(async {
        let (backend, conns) = h2c_backend().await;
        let proxy = Proxy::new(vec![h2c_route(backend)], ProxyOptions::default());
        let mut info = host_client();
        info.alpn_h2 = true;
        let h2_addr = listen(&proxy, info).await;
        let h1_addr = listen(&proxy, host_client()).await;

        // HTTP/1.1 client: the backend gets HTTP/2 with :authority.
        let reply = get(&client(), h1_addr, "grpc.example", "/svc/Call").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(
            reply.body.starts_with(
                "proto=HTTP/2.0 authority=grpc.example host=- te=- path=/svc/Call body=0"
            ),
            "{}",
            reply.body
        );

        // HTTP/2 client with a body and `TE: trailers`: the trailers come back.
        let stream = TcpStream::connect(h2_addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let mut pending = Vec::new();
        for _ in 0..8 {
            let req = Request::post("http://grpc.example/svc/Stream")
                .header("te", "trailers")
                .header("content-type", "application/grpc")
                .body(Full::new(Bytes::from(vec![0u8; 50_000])))
                .unwrap();
            pending.push(sender.send_request(req));
        }
        for response in pending {
            let response = tokio::time::timeout(WAIT, response).await.unwrap().unwrap();
            assert_eq!(response.status(), 200);
            let collected = tokio::time::timeout(WAIT, response.into_body().collect())
                .await
                .unwrap()
                .unwrap();
            let trailers = collected.trailers().cloned().expect("trailers arrive");
            assert_eq!(trailers["grpc-status"], "7");
            assert_eq!(trailers["grpc-message"], "denied");
            let body = String::from_utf8(collected.to_bytes().to_vec()).unwrap();
            assert!(body.contains("te=trailers"), "{body}");
            assert!(body.contains("body=50000"), "{body}");
        }
        // Every request above shared one backend connection.
        assert_eq!(conns.load(Ordering::SeqCst), 1);
    });
}
