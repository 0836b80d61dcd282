use super::*;

#[test]
fn counts_classes_and_cumulative_buckets() {
    let s = RouteStats::default();
    s.record(200, Duration::from_micros(900));
    s.record(204, Duration::from_millis(30));
    s.record(404, Duration::from_secs(60));
    s.record(503, Duration::from_millis(1));
    s.record(99, Duration::ZERO);
    let snap = s.snapshot();
    assert_eq!(snap.requests, [1, 2, 0, 1, 1]);
    assert_eq!(snap.latency_buckets.len(), LATENCY_BUCKETS.len() + 1);
    assert_eq!(
        snap.latency_buckets[0], 3,
        "<= 1ms: 0, 0.9ms and exactly 1ms"
    );
    assert_eq!(snap.latency_buckets[5], 4, "<= 50ms");
    assert_eq!(snap.latency_buckets[12], 4, "<= 10s");
    assert_eq!(
        *snap.latency_buckets.last().unwrap(),
        5,
        "+Inf is the count"
    );
    assert!((snap.latency_sum_secs - 60.0319).abs() < 1e-9);
}

#[test]
fn limit_hits_by_entrypoint_and_upgrades_open() {
    let stats = ProxyStats::new();
    stats.limit_hit("lan", Limit::BodyTimeout);
    stats.limit_hit("lan", Limit::BodyTimeout);
    stats.limit_hit("tunnel", Limit::Connections);
    assert_eq!(
        stats.limit_hits(),
        [
            ("lan".to_string(), Limit::BodyTimeout, 2),
            ("tunnel".to_string(), Limit::Connections, 1)
        ]
    );
    let guard = stats.upgrade_opened();
    assert_eq!(stats.open_upgrades(), 1);
    drop(guard);
    assert_eq!(stats.open_upgrades(), 0);
}

#[test]
fn routes_keep_their_counters_across_lookups() {
    let stats = ProxyStats::new();
    stats.route("a", "/").record(200, Duration::ZERO);
    assert_eq!(stats.route("a", "/").snapshot().requests[1], 1);
    assert_eq!(stats.route("a", "/x").snapshot().requests[1], 0);
}

#[test]
fn counters_of_routes_no_table_holds_are_forgotten() {
    let stats = ProxyStats::new();
    let kept = stats.route("a", "/");
    kept.record(200, Duration::ZERO);
    stats.route("gone", "/").record(200, Duration::ZERO);
    assert_eq!(stats.routes_kept(), 2);
    stats.forget_unused();
    assert_eq!(stats.routes_kept(), 1);
    assert_eq!(stats.route("a", "/").snapshot().requests[1], 1);
    assert_eq!(stats.route("gone", "/").snapshot().requests[1], 0);
}
