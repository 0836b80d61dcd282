//! Load balancing, health checks, passive ejection, retries, 503 and 504.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wingress_proxy::{HealthCheckSpec, Proxy, ProxyOptions};

use crate::support::*;

fn backend_of(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.headers["x-backend"].to_str().unwrap().to_owned()
}

/// Polls `proxy.backend_status()` until backend `index` of route 0 has
/// the wanted health.
async fn wait_health(proxy: &Arc<Proxy>, index: usize, healthy: bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while proxy.backend_status()[index].healthy != healthy {
        assert!(
            Instant::now() < deadline,
            "backend {index} never became healthy={healthy}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn health_check() -> Option<HealthCheckSpec> {
    Some(HealthCheckSpec {
        path: "/health".into(),
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(500),
    })
}

#[test]
fn weighted_round_robin_follows_weights() {
    run(async {
        let (a, b) = (backend("a").await, backend("b").await);
        let mut weighted = route(exact("app.example"), "/", &[&a, &b]);
        weighted.weights = vec![3, 1];
        let proxy = Proxy::new(vec![weighted], ProxyOptions::default());
        let addr = listen(&proxy, host_client()).await;
        let client = client();
        let mut to_a = 0;
        for _ in 0..1000 {
            if backend_of(&get(&client, addr, "app.example", "/").await) == "a" {
                to_a += 1;
            }
        }
        assert!((675..=825).contains(&to_a), "a got {to_a} of 1000");
        let status = proxy.backend_status();
        assert_eq!(status[0].requests + status[1].requests, 1000);
        assert_eq!(status[0].requests, to_a);
    });
}

#[test]
fn health_checks_eject_and_restore_backends() {
    run(async {
        let (a, b) = (backend("a").await, backend("b").await);
        let mut checked = route(exact("app.example"), "/", &[&a, &b]);
        checked.health_check = health_check();
        let proxy = Proxy::new(vec![checked], ProxyOptions::default());
        proxy.start_health_checks();
        let addr = listen(&proxy, host_client()).await;
        let client = client();

        a.state.healthy.store(false, Ordering::SeqCst);
        wait_health(&proxy, 0, false).await;
        for _ in 0..20 {
            assert_eq!(
                backend_of(&get(&client, addr, "app.example", "/").await),
                "b"
            );
        }
        a.state.healthy.store(true, Ordering::SeqCst);
        wait_health(&proxy, 0, true).await;
        let mut seen_a = false;
        for _ in 0..4 {
            seen_a |= backend_of(&get(&client, addr, "app.example", "/").await) == "a";
        }
        assert!(seen_a, "a never came back");
    });
}

#[test]
fn connect_failure_ejects_and_retries_bodyless_requests() {
    run(async {
        let live = backend("live").await;
        let mut get_route = route(exact("get.example"), "/", &[&live]);
        get_route.backends.insert(0, dead_addr().await);
        let mut post_route = route(exact("post.example"), "/", &[&live]);
        post_route.backends.insert(0, dead_addr().await);
        let proxy = Proxy::new(vec![get_route, post_route], ProxyOptions::default());
        let addr = listen(&proxy, host_client()).await;
        let client = client();

        // Smooth WRR with equal weights picks the first (dead) backend first.
        assert_eq!(
            backend_of(&get(&client, addr, "get.example", "/").await),
            "live"
        );
        let status = proxy.backend_status();
        assert!(!status[0].healthy, "dead backend still in rotation");
        assert_eq!(status[0].requests, 1);
        assert!(status[1].healthy);
        for _ in 0..5 {
            assert_eq!(
                backend_of(&get(&client, addr, "get.example", "/").await),
                "live"
            );
        }
        assert_eq!(proxy.backend_status()[0].requests, 1);

        // A request with a body is not replayed: 502, and the backend is out.
        let reply = send(&client, addr, "POST", "post.example", "/", &[], "payload").await;
        assert_eq!(reply.status, 502);
        assert!(reply.body.contains("502 bad gateway"));
        let reply = send(&client, addr, "POST", "post.example", "/", &[], "payload").await;
        assert_eq!(backend_of(&reply), "live");
    });
}

#[test]
fn no_healthy_backend_is_503_quickly() {
    run(async {
        let mut checked = route(exact("checked.example"), "/", &[]);
        checked.backends = vec![dead_addr().await, dead_addr().await];
        checked.health_check = health_check();
        let mut passive = route(exact("passive.example"), "/", &[]);
        passive.backends = vec![dead_addr().await, dead_addr().await];
        let empty = route(exact("empty.example"), "/", &[]);
        let proxy = Proxy::new(vec![checked, passive, empty], ProxyOptions::default());
        proxy.start_health_checks();
        let addr = listen(&proxy, host_client()).await;
        let client = client();

        wait_health(&proxy, 0, false).await;
        wait_health(&proxy, 1, false).await;
        let started = Instant::now();
        let reply = get(&client, addr, "checked.example", "/").await;
        assert_eq!(reply.status, 503);
        assert!(reply.body.contains("503 no healthy backend"));
        assert!(started.elapsed() < Duration::from_secs(5));

        // Without checks: the first request finds both dead (502), then 503.
        assert_eq!(get(&client, addr, "passive.example", "/").await.status, 502);
        let started = Instant::now();
        assert_eq!(get(&client, addr, "passive.example", "/").await.status, 503);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(get(&client, addr, "empty.example", "/").await.status, 503);
    });
}

/// A route built with no backends (a Kubernetes Service without a ready
/// endpoint): health checks and weights have nothing to work on, access
/// is still checked first, and the 503 is counted like any other.
#[test]
fn a_route_without_backends_answers_503() {
    run(async {
        let mut empty = route(exact("empty.example"), "/", &[]);
        empty.health_check = health_check();
        empty.weights = vec![3];
        let mut tunnel = route(exact("tunnel.example"), "/", &[]);
        tunnel.access = wingress_proxy::Access::Tunnel;
        let proxy = Proxy::new(vec![empty, tunnel], ProxyOptions::default());
        proxy.start_health_checks();
        let addr = listen(&proxy, host_client()).await;
        let client = client();

        let reply = get(&client, addr, "empty.example", "/x").await;
        assert_eq!(reply.status, 503);
        assert!(reply.body.contains("503 no healthy backend"));
        let reply = send(&client, addr, "POST", "empty.example", "/", &[], "payload").await;
        assert_eq!(reply.status, 503);
        assert_eq!(get(&client, addr, "tunnel.example", "/").await.status, 403);

        assert!(proxy.backend_status().is_empty());
        let routes = proxy.route_status();
        assert!(routes[0].backends.is_empty());
        assert_eq!(routes[0].stats.requests[4], 2);
        assert_eq!(routes[1].stats.requests[3], 1);
        // The health checks found nothing to check, and nothing broke.
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(get(&client, addr, "empty.example", "/").await.status, 503);
    });
}

#[test]
fn slow_backend_headers_are_504() {
    run(async {
        let a = backend("a").await;
        let mut hasty = route(exact("app.example"), "/", &[&a]);
        hasty.timeout = Duration::from_millis(300);
        let proxy = Proxy::new(vec![hasty], ProxyOptions::default());
        let addr = listen(&proxy, host_client()).await;
        let client = client();
        let started = Instant::now();
        let reply = get(&client, addr, "app.example", "/slow").await;
        assert_eq!(reply.status, 504);
        assert!(reply.body.contains("504 gateway timeout"));
        assert!(started.elapsed() < Duration::from_millis(1900));
        // The backend is still fine for fast requests.
        assert_eq!(
            backend_of(&get(&client, addr, "app.example", "/").await),
            "a"
        );
    });
}

#[test]
fn health_checks_stop_when_the_proxy_is_dropped() {
    run(async {
        let a = backend("a").await;
        let mut checked = route(exact("app.example"), "/", &[&a]);
        checked.health_check = health_check();
        let proxy = Proxy::new(vec![checked], ProxyOptions::default());
        proxy.start_health_checks();
        proxy.start_health_checks();
        let checks = || a.state.health_checks.load(Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while checks() < 3 {
            assert!(Instant::now() < deadline, "no health checks");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(proxy);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after_drop = checks();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(checks(), after_drop, "health checks still running");
    });
}

#[test]
fn backend_host_names_are_resolved() {
    run(async {
        let a = backend("a").await;
        let mut named = route(exact("app.example"), "/", &[]);
        named.backends = vec![wingress_proxy::BackendAddr {
            host: "localhost".into(),
            port: a.addr.port(),
            scheme: wingress_proxy::BackendScheme::Http,
        }];
        let proxy = Proxy::new(vec![named], ProxyOptions::default());
        let addr = listen(&proxy, host_client()).await;
        let client = client();
        for _ in 0..10 {
            assert_eq!(
                backend_of(&get(&client, addr, "app.example", "/").await),
                "a"
            );
        }
        assert!(proxy.backend_status()[0].healthy);
    });
}
