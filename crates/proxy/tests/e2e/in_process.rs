//! In-process backends: a route whose backend is a hyper server on an
//! `InProcessListener` (as the daemon's dashboard is), reached over duplex
//! streams instead of sockets.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use wingress_proxy::{
    in_process, Access, AllowRule, BackendAddr, InProcessConnector, InProcessListener, Proxy,
    ProxyOptions, RouteSpec,
};

use crate::support::*;

/// Serves `listener` on its own thread and runtime (the daemon's admin
/// thread): `/events` streams five chunks 150 ms apart, everything else
/// echoes method, path and headers. Returns the number of connections
/// accepted so far.
fn serve_on_own_thread(mut listener: InProcessListener) -> Arc<AtomicUsize> {
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            while let Some(stream) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(answer))
                        .await;
                });
            }
        });
    });
    accepted
}

async fn answer(req: Request<Incoming>) -> Result<Response<BoxBody>, Infallible> {
    if req.uri().path() == "/events" {
        let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(1);
        tokio::spawn(async move {
            for i in 0..5 {
                let event = format!("data: {i}\n\n");
                if tx.send_data(Bytes::from(event)).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        });
        return Ok(Response::builder()
            .header("content-type", "text/event-stream")
            .body(body.boxed())
            .unwrap());
    }
    let mut text = format!(
        "backend dashboard\nmethod {}\npath {}\nversion {:?}\n",
        req.method(),
        req.uri().path_and_query().map_or("", |p| p.as_str()),
        req.version()
    );
    for (k, v) in req.headers() {
        text.push_str(&format!("h {}: {}\n", k, v.to_str().unwrap_or("<bin>")));
    }
    Ok(Response::new(
        http_body_util::Full::new(Bytes::from(text)).boxed(),
    ))
}

/// The dashboard's route: admin peers only, a short response timeout (a
/// stream must outlive it).
fn dashboard_route(connector: InProcessConnector) -> RouteSpec {
    let mut spec = route(exact("wingress.home.arpa"), "/", &[]);
    spec.backends = vec![BackendAddr::in_process("dashboard")];
    spec.access = Access::Tunnel;
    spec.allow = vec![AllowRule::Tag("admin".into())];
    spec.timeout = Duration::from_millis(200);
    spec.in_process = Some(connector);
    spec
}

#[test]
fn requests_reach_the_listener_with_identity_and_reuse_connections() {
    run(async {
        let (connector, listener) = in_process(16);
        let accepted = serve_on_own_thread(listener);
        let proxy = Proxy::new(vec![dashboard_route(connector)], ProxyOptions::default());
        let admin = listen(&proxy, peer("laptop", &["admin"])).await;
        let client = client();
        for i in 0..20 {
            let reply = send(
                &client,
                admin,
                "GET",
                "wingress.home.arpa",
                &format!("/peers?n={i}"),
                &[("x-wingress-peer", "mallory")],
                "",
            )
            .await;
            let echo = reply.echo();
            assert_eq!(echo.backend, "dashboard");
            assert_eq!(echo.path, format!("/peers?n={i}"));
            assert_eq!(echo.header("x-wingress-peer"), ["laptop"]);
            assert_eq!(echo.header("x-wingress-peer-key"), ["laptop-key="]);
            assert_eq!(echo.header("x-wingress-peer-tags"), ["admin"]);
        }
        // One request at a time: one pooled connection carried them all.
        assert_eq!(accepted.load(Ordering::SeqCst), 1);

        let status = proxy.route_status();
        assert_eq!(status[0].backends[0].address, "dashboard");
        assert!(status[0].backends[0].healthy);
        assert!(!status[0].backends[0].health_checked);
    });
}

#[test]
fn peers_without_the_tag_are_refused_before_the_listener() {
    run(async {
        let (connector, listener) = in_process(16);
        let accepted = serve_on_own_thread(listener);
        let proxy = Proxy::new(vec![dashboard_route(connector)], ProxyOptions::default());
        let client = client();
        let guest = listen(&proxy, peer("tablet", &[])).await;
        let reply = get(&client, guest, "wingress.home.arpa", "/").await;
        assert_eq!(reply.status, 403);
        let outsider = listen(&proxy, host_client()).await;
        let reply = get(&client, outsider, "wingress.home.arpa", "/").await;
        assert_eq!(reply.status, 403);
        assert_eq!(accepted.load(Ordering::SeqCst), 0);
    });
}

/// An event stream runs far past the route's 200 ms response timeout, and
/// each event arrives as it is sent, not at the end.
#[test]
fn a_stream_flows_event_by_event_past_the_route_timeout() {
    run(async {
        let (connector, listener) = in_process(16);
        serve_on_own_thread(listener);
        let proxy = Proxy::new(vec![dashboard_route(connector)], ProxyOptions::default());
        let admin = listen(&proxy, peer("laptop", &["admin"])).await;
        let req = Request::get(format!("http://{admin}/events"))
            .header("host", "wingress.home.arpa")
            .body(http_body_util::Full::new(Bytes::new()))
            .unwrap();
        let response = client().request(req).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let mut body = response.into_body();
        let started = tokio::time::Instant::now();
        let mut events = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.expect("the stream is not cut");
            if let Some(data) = frame.data_ref() {
                events.push((
                    String::from_utf8_lossy(data).into_owned(),
                    started.elapsed(),
                ));
            }
        }
        let texts: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            texts,
            [
                "data: 0\n\n",
                "data: 1\n\n",
                "data: 2\n\n",
                "data: 3\n\n",
                "data: 4\n\n"
            ]
        );
        // The first event came long before the last was sent.
        assert!(events[0].1 < Duration::from_millis(300), "{events:?}");
        assert!(events[4].1 >= Duration::from_millis(550), "{events:?}");
    });
}

#[test]
fn a_listener_that_is_gone_is_a_refused_backend() {
    run(async {
        let (connector, listener) = in_process(16);
        drop(listener);
        let proxy = Proxy::new(vec![dashboard_route(connector)], ProxyOptions::default());
        let admin = listen(&proxy, peer("laptop", &["admin"])).await;
        let reply = get(&client(), admin, "wingress.home.arpa", "/").await;
        assert_eq!(reply.status, 502, "{}", reply.body);

        // A route without a connector cannot reach the listener either.
        let mut spec = dashboard_route(in_process(1).0);
        spec.in_process = None;
        let proxy = Proxy::new(vec![spec], ProxyOptions::default());
        let admin = listen(&proxy, peer("laptop", &["admin"])).await;
        let reply = get(&client(), admin, "wingress.home.arpa", "/").await;
        assert_eq!(reply.status, 502, "{}", reply.body);
    });
}
