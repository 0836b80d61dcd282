//! Backend keep-alive: connections are reused, and a pooled connection the
//! backend has closed in the meantime costs the client nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wingress_proxy::{BackendAddr, Proxy, ProxyOptions};

use crate::support::*;

/// A raw HTTP/1.1 backend that answers `per_conn` requests on a connection
/// with keep-alive responses (no `Connection: close`), then closes it
/// silently, as a backend whose keep-alive timeout ran out does. Returns
/// its address and the number of connections it accepted.
pub(crate) async fn closing_backend(per_conn: usize) -> (BackendAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                for _ in 0..per_conn {
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    buf.drain(..end);
                    let body = format!("connection {n}\n");
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nx-backend: raw\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
                // Closed without a word, with the connection idle in the pool.
            });
        }
    });
    let spec = BackendAddr {
        host: "127.0.0.1".into(),
        port: addr.port(),
        scheme: wingress_proxy::BackendScheme::Http,
    };
    (spec, accepted)
}

#[test]
fn backend_connections_are_reused() {
    run(async {
        let (addr, accepted) = closing_backend(usize::MAX).await;
        let mut spec = route(exact("app.example"), "/", &[]);
        spec.backends = vec![addr];
        let proxy = Proxy::new(vec![spec], ProxyOptions::default());
        let listen_addr = listen(&proxy, host_client()).await;
        let client = client();
        for _ in 0..50 {
            let reply = get(&client, listen_addr, "app.example", "/").await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(reply.body, "connection 1\n");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_pooled_connection_the_backend_closed_is_replaced() {
    run(async {
        let (addr, accepted) = closing_backend(1).await;
        let mut spec = route(exact("app.example"), "/", &[]);
        spec.backends = vec![addr];
        let proxy = Proxy::new(vec![spec], ProxyOptions::default());
        let listen_addr = listen(&proxy, host_client()).await;
        let client = client();
        for i in 1..=5 {
            let reply = get(&client, listen_addr, "app.example", "/").await;
            assert_eq!(reply.status, 200, "request {i}: {}", reply.body);
            assert_eq!(reply.body, format!("connection {i}\n"));
            // Sometimes the close has been seen before the next request,
            // sometimes not: either way the next request must succeed.
            if i % 2 == 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 5);
    });
}
