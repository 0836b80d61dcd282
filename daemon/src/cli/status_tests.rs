use super::*;

#[test]
fn durations_and_sizes_read_like_wg_show() {
    assert_eq!(duration(0), "0 seconds");
    assert_eq!(duration(1), "1 second");
    assert_eq!(duration(192), "3 minutes, 12 seconds");
    assert_eq!(duration(90_061), "1 day, 1 hour");
    assert_eq!(bytes(512), "512 B");
    assert_eq!(bytes(1_268_777), "1.21 MiB");
}

#[test]
fn renders_a_document_and_ignores_what_it_does_not_know() {
    let doc = serde_json::json!({
        "version": "0.1.0", "ready": true, "draining": false, "future_section": {"x": 1},
        "node": {"ip": "10.99.0.2", "port": 41602, "public_key": "PUB=", "tunnel_address": "100.64.0.2/24", "uptime_secs": 61},
        "public_endpoint": {"address": "203.0.113.2:41602", "source": "mapped", "age_secs": 75},
        "nat": {"port_mapping": {"state": "mapped", "protocol": "pcp", "external": "203.0.113.2:41602", "renews_in_secs": 3540},
                "stun": {"state": "ok", "public": "203.0.113.2:41602", "mapping": "endpoint-independent", "filtering": "open", "static_forward": true},
                "notes": ["the router refused external port 41602"]},
        "peers": [{"name": "laptop", "tags": ["admin"], "public_key": "K=", "endpoint": "10.99.0.1:51820",
                   "allowed_ips": ["100.64.0.1/32"], "latest_handshake_secs": 12, "rx_bytes": 2048, "tx_bytes": 10}],
        "listeners": [{"name": "tcp:5201", "kind": "tcp", "listen": "tunnel:5201", "backend": "127.0.0.1:5201", "open_connections": 1}],
        "routes": [{"host": "app.home.arpa", "path_prefix": "/", "access": "tunnel", "entrypoints": [],
                    "backends": [{"address": "127.0.0.1:8080", "healthy": false, "health_checked": true, "requests": 3}],
                    "stats": {"requests": [0, 3, 0, 1, 0]}}],
        "certificates": [],
        "config": {"path": "/etc/w.toml", "loaded_at": 0, "last_reload_error": "w.toml:3:1: error: bad", "last_reload_at": 0, "restart_required": ["UDP port 1 -> 2"]}
    });
    let text = render(&doc);
    for want in [
            "node: 10.99.0.2  (wingress 0.1.0, up 1 minute, 1 second, ready)",
            "  public endpoint: 203.0.113.2:41602 (mapped, 1 minute, 15 seconds ago)",
            "  nat: port mapping mapped with pcp (203.0.113.2:41602, renews in 59 minutes); STUN 203.0.113.2:41602, endpoint-independent mapping, open filtering, a static forward",
            "  note: the router refused external port 41602",
            "  last reload: FAILED",
            "    w.toml:3:1: error: bad",
            "  needs a restart: UDP port 1 -> 2",
            "peer: laptop  (tags: admin)",
            "  latest handshake: 12 seconds ago",
            "  transfer: 2.00 KiB received, 10 B sent",
            "  tunnel:5201            tcp   -> 127.0.0.1:5201  1 open",
            "  https://app.home.arpa/  access tunnel, on all entrypoints; 2xx 3, 4xx 1",
            "    |-- http://127.0.0.1:8080  DOWN, 3 requests",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
}

#[test]
fn renders_the_kubernetes_section() {
    let doc = serde_json::json!({
        "version": "0.1.0", "ready": true, "draining": false,
        "node": {"ip": "10.99.0.2", "port": 41602, "public_key": "PUB=", "tunnel_address": "100.64.0.2/24", "uptime_secs": 61},
        "config": {"path": "/etc/w.toml", "loaded_at": 0},
        "kubernetes": {"synced": true, "routes": 3,
                       "objects": {"ingresses": 2, "services": 1, "endpoint_slices": 1, "secrets": 0},
                       "stale": true, "stale_secs": 75, "last_contact_secs": 80, "error": "connection refused",
                       "problems": ["apps/bad: skipped: wingress.dev/timeout: `5` has no unit"]}
    });
    let text = render(&doc);
    for want in [
        "  kubernetes: synced, 3 routes from Ingresses (2 Ingresses, 1 Services, 1 EndpointSlices, 0 TLS Secrets)",
        "    STALE for 1 minute, 15 seconds (API server last answered 1 minute, 20 seconds ago): connection refused",
        "    problem: apps/bad: skipped: wingress.dev/timeout: `5` has no unit",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}
