//! `LiveProxy`: a swapped route table applies to connections already open,
//! request counters survive the swap, and a drain lets the request in
//! flight finish while idle connections close.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wingress_proxy::{LiveProxy, Proxy, ProxyOptions, ProxyStats};

use crate::support::*;

async fn listen_live(live: &Arc<LiveProxy>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let live = live.clone();
    tokio::task::spawn_local(async move {
        while let Ok((stream, remote)) = listener.accept().await {
            let mut info = host_client();
            info.remote = remote;
            tokio::task::spawn_local(live.clone().serve(stream, info));
        }
    });
    addr
}

async fn request(stream: &mut TcpStream, host: &str, path: &str) -> (String, String) {
    let head = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    read_response(stream).await
}

#[test]
fn new_table_applies_to_open_connections_and_counters_survive() {
    run(async {
        let (a, b) = (backend("a").await, backend("b").await);
        let stats = ProxyStats::new();
        let first = Proxy::with_stats(
            vec![route(exact("a.example"), "/", &[&a])],
            ProxyOptions::default(),
            stats.clone(),
        );
        let live = LiveProxy::new(first);
        let addr = listen_live(&live).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let (head, body) = request(&mut conn, "a.example", "/").await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}{body}");
        let (head, _) = request(&mut conn, "b.example", "/").await;
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");

        live.replace(Proxy::with_stats(
            vec![
                route(exact("a.example"), "/", &[&a]),
                route(exact("b.example"), "/", &[&b]),
            ],
            ProxyOptions::default(),
            stats.clone(),
        ));
        // The same keep-alive connection sees the new route.
        let (head, body) = request(&mut conn, "b.example", "/").await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}{body}");
        assert_eq!(Echo::parse(&body).backend, "b");
        let (head, _) = request(&mut conn, "a.example", "/").await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");

        let current = live.current();
        let routes = current.route_status();
        assert_eq!(routes[0].host, "a.example");
        assert_eq!(
            routes[0].stats.requests,
            [0, 2, 0, 0, 0],
            "a: counted across the swap"
        );
        assert_eq!(routes[1].stats.requests, [0, 1, 0, 0, 0]);
        assert_eq!(*routes[1].stats.latency_buckets.last().unwrap(), 1);
        assert_eq!(routes[1].backends[0].address, b.addr.to_string());
        assert!(routes[1].backends[0].healthy);
        assert_eq!(current.unrouted_stats().requests, [0, 0, 0, 1, 0]);
    });
}

#[test]
fn drain_finishes_the_request_in_flight_and_closes_idle_connections() {
    run(async {
        let a = backend("a").await;
        let live = LiveProxy::new(Proxy::new(
            vec![route(exact("a.example"), "/", &[&a])],
            ProxyOptions::default(),
        ));
        let addr = listen_live(&live).await;
        let mut idle = TcpStream::connect(addr).await.unwrap();
        let (head, _) = request(&mut idle, "a.example", "/").await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");

        let mut busy = TcpStream::connect(addr).await.unwrap();
        busy.write_all(b"GET /slow HTTP/1.1\r\nhost: a.example\r\n\r\n")
            .await
            .unwrap();
        // The backend holds /slow for 2 s; drain once it has arrived there.
        while a.state.hits.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        live.drain();
        assert!(live.is_draining());

        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut rest))
            .await
            .expect("the idle connection is closed")
            .unwrap();
        assert_eq!(n, 0, "nothing more on the idle connection");

        let (head, body) = read_response(&mut busy).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, "slow");
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), busy.read_to_end(&mut rest))
            .await
            .expect("closed after its response")
            .unwrap();
        assert!(rest.is_empty());
    });
}

/// A new table (a reload, a Kubernetes snapshot) keeps using the backend
/// connections the previous one opened, and keeps counters only for the
/// routes in use. Before, every table had its own pools: each swap cost
/// every keep-alive client a new backend connection, and the old ones sat
/// idle for 90 s (4,800 sockets after a minute of 8 swaps a second with
/// 100 clients), and the counters of every host ever routed stayed.
#[test]
fn swapped_tables_share_backend_connections_and_forget_old_routes() {
    run(async {
        let (addr, accepted) = crate::pooling::closing_backend(usize::MAX).await;
        let stats = ProxyStats::new();
        let table = |host: &str| {
            let mut app = route(exact("app.example"), "/", &[]);
            app.backends = vec![addr.clone()];
            let mut other = route(exact(host), "/", &[]);
            other.backends = vec![addr.clone()];
            Proxy::with_stats(vec![app, other], ProxyOptions::default(), stats.clone())
        };
        let live = LiveProxy::new(table("h0.example"));
        let listen = listen_live(&live).await;
        let mut conn = TcpStream::connect(listen).await.unwrap();
        for i in 1..=20 {
            let (head, body) = request(&mut conn, "app.example", "/").await;
            assert!(head.starts_with("HTTP/1.1 200"), "swap {i}: {head}{body}");
            live.replace(table(&format!("h{i}.example")));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "backend connections");
        // app.example, the current h20 and the h19 of the table replaced.
        assert!(
            stats.routes_kept() <= 3,
            "{} routes' counters kept",
            stats.routes_kept()
        );
        assert_eq!(live.current().route_status()[0].stats.requests[1], 20);
    });
}
