use super::*;

#[test]
fn the_event_has_what_the_pages_draw() {
    let status = json!({
        "peers": [
            {"name": "laptop", "rx_bytes": 10, "tx_bytes": 20, "latest_handshake_secs": 3,
             "endpoint": "10.99.0.1:51820", "public_key": "K"},
            {"name": "tablet", "rx_bytes": 0, "tx_bytes": 0, "latest_handshake_secs": null,
             "endpoint": null},
            {"no_name": true},
        ],
        "routes": [
            {"host": "a", "stats": {"requests": [0, 7, 1, 2, 3], "latency_buckets": []}},
            {"host": "b"},
        ],
    });
    let e = event(&status, 1234);
    assert_eq!(
        e,
        json!({
            "t": 1234,
            "peers": {
                "laptop": {"rx": 10, "tx": 20, "hs": 3, "endpoint": "10.99.0.1:51820"},
                "tablet": {"rx": 0, "tx": 0, "hs": null, "endpoint": null},
            },
            "routes": [{"requests": 13, "errors": 3}, {"requests": 0, "errors": 0}],
        })
    );
    let f = frame(&status, 1);
    assert!(f.starts_with("data: {") && f.ends_with("}\n\n"), "{f}");
    assert_eq!(f.matches('\n').count(), 2, "one line of data: {f}");
}

#[test]
fn a_missing_status_is_an_empty_event() {
    assert_eq!(
        event(&Value::Null, 5),
        json!({"t": 5, "peers": {}, "routes": []})
    );
}
