//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4).
//!
//! Everything is read from counters that already exist: the WireGuard
//! device's per-peer and drop counters and the netstack's drop counters
//! (kept by the data-plane loop, read here when scraped), the proxy's
//! per-route atomics and the open-connection gauges. Nothing is added to
//! the per-packet path.
//!
//! Families (label sets in braces):
//!
//! | name | type | labels |
//! |---|---|---|
//! | `wingress_build_info` | gauge | version |
//! | `wingress_ready` | gauge | |
//! | `wingress_peer_info` | gauge (1) | peer, public_key, endpoint |
//! | `wingress_peer_rx_bytes_total`, `_tx_bytes_total` | counter | peer |
//! | `wingress_peer_seconds_since_handshake` | gauge | peer (absent before the first) |
//! | `wingress_http_requests_total` | counter | host, path, code (1xx..5xx) |
//! | `wingress_http_request_duration_seconds` | histogram | host, path |
//! | `wingress_http_unrouted_requests_total` | counter | code |
//! | `wingress_http_limit_hits_total` | counter | entrypoint, limit |
//! | `wingress_http_upgraded_connections` | gauge | |
//! | `wingress_open_connections` | gauge | listener |
//! | `wingress_tunnel_tcp_connections`, `wingress_udp_flows` | gauge | |
//! | `wingress_tcp_idle_timeouts_total` | counter | listener (`tcp:PORT`) |
//! | `wingress_dropped_packets_total` | counter | layer (wireguard, netstack, stun, udp), reason |
//! | `wingress_certificate_expiry_seconds` | gauge | name, source (seconds left; negative once expired) |
//! | `wingress_dns_messages_total` | counter | result (answered, nxdomain, refused, forwarded, ...) |
//! | `wingress_config_reloads_total` | counter | result (ok, failed) |
//! | `wingress_config_last_reload_success` | gauge | |
//! | `wingress_limit_hits_total`, per-peer usage | see [`crate::ingress::limits`] | peer, reason |
//! | `wingress_kube_synced`, `_routes`, `_problems`, `_stale`, `_last_contact_age_seconds` | gauge | (only with `[kubernetes]` on; the age once the API server answered) |
//! | `wingress_kube_snapshots_total` | counter | result (applied, failed) |
//!
//! Then the families registered in
//! [`MetricSections`](crate::control::registry::MetricSections), in
//! registration order: NAT traversal's (`wingress_nat_port_mapping`,
//! `wingress_nat_public_endpoint_info`, see `control::nat_wiring`) and the
//! admin API's own (`wingress_admin_*`).

use wingress_netstack::LimitHit;
use wingress_proxy::{LATENCY_BUCKETS, STATUS_CLASSES};
use wingress_wg::PeerId;

use crate::control::kube_wiring::{self, KubeMetrics};
use crate::control::registry::Exposition;
use crate::control::state::Daemon;
use crate::dataplane::{peer_key, Net};
use crate::ingress::limits::PeerCaps;

pub(crate) fn render(d: &Daemon) -> String {
    let mut m = Exposition::default();
    m.family(
        "wingress_build_info",
        "gauge",
        "The running wingress version.",
    );
    m.sample(
        "wingress_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    m.family(
        "wingress_ready",
        "gauge",
        "1 once listeners are up, 0 while starting or draining.",
    );
    m.sample(
        "wingress_ready",
        &[],
        if d.health.ready() { 1.0 } else { 0.0 },
    );
    peers(d, &mut m);
    http(d, &mut m);
    connections(d, &mut m);
    drops(d, &mut m);
    certificates(d, &mut m);
    dns(d, &mut m);
    reloads(d, &mut m);
    limits(d, &mut m);
    kube(d, &mut m);
    d.metric_sections.render(&mut m);
    m.finish()
}

fn peers(d: &Daemon, m: &mut Exposition) {
    let tables = d.tables.borrow();
    let net = d.net.borrow();
    let mut peers: Vec<_> = tables
        .peers
        .values()
        .filter_map(|p| Some((p.name.as_str(), net.wg().peer_status(p.id)?)))
        .collect();
    peers.sort_by(|a, b| a.0.cmp(b.0));
    m.family(
        "wingress_peer_info",
        "gauge",
        "A configured WireGuard peer and its current endpoint.",
    );
    for (name, s) in &peers {
        let endpoint = s.endpoint.map_or_else(String::new, |e| e.to_string());
        m.sample(
            "wingress_peer_info",
            &[
                ("peer", name),
                ("public_key", &s.public_key),
                ("endpoint", &endpoint),
            ],
            1.0,
        );
    }
    m.family(
        "wingress_peer_rx_bytes_total",
        "counter",
        "Bytes of IP packets received from the peer (decrypted).",
    );
    for (name, s) in &peers {
        m.sample(
            "wingress_peer_rx_bytes_total",
            &[("peer", name)],
            s.rx_bytes as f64,
        );
    }
    m.family(
        "wingress_peer_tx_bytes_total",
        "counter",
        "Bytes of IP packets sent to the peer (before encryption).",
    );
    for (name, s) in &peers {
        m.sample(
            "wingress_peer_tx_bytes_total",
            &[("peer", name)],
            s.tx_bytes as f64,
        );
    }
    m.family(
        "wingress_peer_seconds_since_handshake",
        "gauge",
        "Seconds since the last completed handshake with the peer.",
    );
    for (name, s) in &peers {
        if let Some(secs) = s.latest_handshake_secs {
            m.sample(
                "wingress_peer_seconds_since_handshake",
                &[("peer", name)],
                secs as f64,
            );
        }
    }
}

fn http(d: &Daemon, m: &mut Exposition) {
    let gen = d.https.current.load();
    let proxy = &gen.proxy;
    let routes = proxy.route_status();
    m.family(
        "wingress_http_requests_total",
        "counter",
        "HTTP requests by route and status class.",
    );
    for r in &routes {
        for (class, n) in STATUS_CLASSES.iter().zip(r.stats.requests) {
            m.sample(
                "wingress_http_requests_total",
                &[("host", &r.host), ("path", &r.path_prefix), ("code", class)],
                n as f64,
            );
        }
    }
    m.family(
        "wingress_http_request_duration_seconds",
        "histogram",
        "Time from the request head to the end of the response, by route.",
    );
    let name = "wingress_http_request_duration_seconds";
    for r in &routes {
        let labels = [("host", r.host.as_str()), ("path", r.path_prefix.as_str())];
        for (le, n) in LATENCY_BUCKETS.iter().zip(&r.stats.latency_buckets) {
            let le = le.to_string();
            let mut l = labels.to_vec();
            l.push(("le", &le));
            m.sample(&format!("{name}_bucket"), &l, *n as f64);
        }
        let count = r.stats.latency_buckets.last().copied().unwrap_or(0) as f64;
        let mut l = labels.to_vec();
        l.push(("le", "+Inf"));
        m.sample(&format!("{name}_bucket"), &l, count);
        m.sample(&format!("{name}_sum"), &labels, r.stats.latency_sum_secs);
        m.sample(&format!("{name}_count"), &labels, count);
    }
    m.family(
        "wingress_http_unrouted_requests_total",
        "counter",
        "HTTP requests no route took (404, refused methods), by status class.",
    );
    let unrouted = proxy.unrouted_stats();
    for (class, n) in STATUS_CLASSES.iter().zip(unrouted.requests) {
        m.sample(
            "wingress_http_unrouted_requests_total",
            &[("code", class)],
            n as f64,
        );
    }
    m.family(
        "wingress_http_limit_hits_total",
        "counter",
        "Times a limit of the HTTP server was hit, by entrypoint and limit \
         (connections, connections_per_source, streams, backend_connections, body_timeout, \
         send_timeout, upgrade_idle_timeout).",
    );
    for (entrypoint, limit, n) in proxy.stats().limit_hits() {
        m.sample(
            "wingress_http_limit_hits_total",
            &[("entrypoint", &entrypoint), ("limit", limit.as_str())],
            n as f64,
        );
    }
    m.family(
        "wingress_http_upgraded_connections",
        "gauge",
        "Upgraded connections (WebSocket tunnels) open now.",
    );
    m.sample(
        "wingress_http_upgraded_connections",
        &[],
        proxy.stats().open_upgrades() as f64,
    );
}

fn connections(d: &Daemon, m: &mut Exposition) {
    m.family(
        "wingress_open_connections",
        "gauge",
        "Open connections by listener (entrypoint name or tcp:PORT).",
    );
    for (listener, n) in d.open.snapshot() {
        m.sample(
            "wingress_open_connections",
            &[("listener", &listener)],
            n as f64,
        );
    }
    m.family(
        "wingress_tunnel_tcp_connections",
        "gauge",
        "TCP connections the tunnel's TCP/IP stack holds, in any state.",
    );
    m.sample(
        "wingress_tunnel_tcp_connections",
        &[],
        d.net.borrow().stack().connections() as f64,
    );
    m.family("wingress_udp_flows", "gauge", "Forwarded UDP flows.");
    m.sample("wingress_udp_flows", &[], d.flows.borrow().len() as f64);
    m.family(
        "wingress_tcp_idle_timeouts_total",
        "counter",
        "[[tcp]] connections closed after idle_timeout without a byte either way.",
    );
    for (listener, n) in d.open.idle_closed() {
        m.sample(
            "wingress_tcp_idle_timeouts_total",
            &[("listener", &listener)],
            n as f64,
        );
    }
}

fn drops(d: &Daemon, m: &mut Exposition) {
    let net = d.net.borrow();
    m.family(
        "wingress_dropped_packets_total",
        "counter",
        "Packets dropped, by layer and reason.",
    );
    for (reason, n) in net.wg().drops().iter() {
        m.sample(
            "wingress_dropped_packets_total",
            &[("layer", "wireguard"), ("reason", reason.as_str())],
            n as f64,
        );
    }
    for (reason, n) in net.stack().stats().iter() {
        m.sample(
            "wingress_dropped_packets_total",
            &[("layer", "netstack"), ("reason", reason.as_str())],
            n as f64,
        );
    }
    // STUN-shaped datagrams on the WireGuard port, and datagrams we could
    // not send because the socket stayed blocked.
    for (layer, reason, n) in [
        ("stun", "unsolicited", net.side().unsolicited),
        ("stun", "inbox_full", net.side().dropped),
        ("udp", "send_queue_full", net.tx_dropped),
    ] {
        m.sample(
            "wingress_dropped_packets_total",
            &[("layer", layer), ("reason", reason)],
            n as f64,
        );
    }
    // The kernel's load shedding on the WireGuard port (dataplane/shed.rs).
    m.family(
        "wingress_wireguard_shed_one_in",
        "gauge",
        "While the WireGuard port is flooded, the kernel passes 1 in this many datagrams from addresses that are not a peer's endpoint; 0 when no filter is attached.",
    );
    m.sample(
        "wingress_wireguard_shed_one_in",
        &[],
        f64::from(net.shed().one_in().unwrap_or(0)),
    );
    m.family(
        "wingress_wireguard_shed_engaged_total",
        "counter",
        "Times a flood made the daemon attach the kernel's load-shedding filter.",
    );
    m.sample(
        "wingress_wireguard_shed_engaged_total",
        &[],
        net.shed().engaged() as f64,
    );
    // The netstack's egress budget: polls that stopped at it, and the
    // connections smoltcp kept sending bare ACKs on, reset for it.
    m.family(
        "wingress_netstack_egress_budget_hits_total",
        "counter",
        "Polls of the tunnel's TCP/IP stack that stopped sending at their budget of packets.",
    );
    m.sample(
        "wingress_netstack_egress_budget_hits_total",
        &[],
        net.stack().stats().egress_budget_hits as f64,
    );
    m.family(
        "wingress_netstack_runaway_resets_total",
        "counter",
        "Connections reset because the stack kept sending bare ACKs on them (see docs/threat-model.md).",
    );
    m.sample(
        "wingress_netstack_runaway_resets_total",
        &[],
        net.stack().stats().runaway_resets as f64,
    );
}

fn certificates(d: &Daemon, m: &mut Exposition) {
    let gen = d.https.current.load();
    let mut certs = gen
        .store
        .as_ref()
        .map(|s| s.certificates())
        .unwrap_or_default();
    certs.extend(gen.acme_certificates());
    m.family(
        "wingress_certificate_expiry_seconds",
        "gauge",
        "Seconds until the certificate expires (negative once expired).",
    );
    // A pending ACME certificate has no expiry yet: no sample.
    for c in &certs {
        let Some(expires_in) = c.expires_in_secs else {
            continue;
        };
        let source = serde_json::to_value(c.source)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        m.sample(
            "wingress_certificate_expiry_seconds",
            &[("name", &c.names.join(",")), ("source", &source)],
            expires_in as f64,
        );
    }
}

fn dns(d: &Daemon, m: &mut Exposition) {
    let Some(dns) = d.tables.borrow().dns.as_ref().map(|dns| dns.stats()) else {
        return;
    };
    m.family(
        "wingress_dns_messages_total",
        "counter",
        "Messages to the in-tunnel DNS server, by outcome.",
    );
    for (result, n) in [
        ("answered", dns.answered),
        ("nxdomain", dns.nxdomain),
        ("refused", dns.refused),
        ("forwarded", dns.forwarded),
        ("upstream_failed", dns.upstream_failed),
        ("malformed", dns.malformed),
        ("dropped", dns.dropped),
        ("shed", dns.shed),
    ] {
        m.sample(
            "wingress_dns_messages_total",
            &[("result", result)],
            n as f64,
        );
    }
}

fn reloads(d: &Daemon, m: &mut Exposition) {
    let r = d.reloads.borrow();
    m.family(
        "wingress_config_reloads_total",
        "counter",
        "Config reloads by result.",
    );
    m.sample(
        "wingress_config_reloads_total",
        &[("result", "ok")],
        r.reloads_ok as f64,
    );
    m.sample(
        "wingress_config_reloads_total",
        &[("result", "failed")],
        r.reloads_failed as f64,
    );
    m.family(
        "wingress_config_last_reload_success",
        "gauge",
        "1 unless the last reload was rejected.",
    );
    let ok = r.last_reload_error.is_none();
    m.sample(
        "wingress_config_last_reload_success",
        &[],
        if ok { 1.0 } else { 0.0 },
    );
}

/// Kubernetes discovery's families (see `control::kube_wiring`), absent
/// while discovery is off.
fn kube(d: &Daemon, m: &mut Exposition) {
    if let Some(k) = kube_wiring::metrics(d) {
        kube_families(m, &k);
    }
}

fn kube_families(m: &mut Exposition, k: &KubeMetrics) {
    let gauge = |m: &mut Exposition, name: &str, help: &str, value: f64| {
        m.family(name, "gauge", help);
        m.sample(name, &[], value);
    };
    gauge(
        m,
        "wingress_kube_synced",
        "1 once every initial list from the API server completed.",
        f64::from(u8::from(k.synced)),
    );
    gauge(
        m,
        "wingress_kube_routes",
        "Routes from Ingresses in effect.",
        k.routes as f64,
    );
    gauge(
        m,
        "wingress_kube_problems",
        "Ingresses (or their certificates) skipped by the last mapping.",
        k.problems as f64,
    );
    if let Some(age) = k.last_contact_age_secs {
        gauge(
            m,
            "wingress_kube_last_contact_age_seconds",
            "Seconds since the API server last answered.",
            age,
        );
    }
    gauge(
        m,
        "wingress_kube_stale",
        "1 while a watch of the API server is failing (routes may be stale).",
        f64::from(u8::from(k.stale)),
    );
    m.family(
        "wingress_kube_snapshots_total",
        "counter",
        "Snapshots from the API server by result of applying their routes.",
    );
    for (result, n) in [
        ("applied", k.snapshots_applied),
        ("failed", k.snapshots_failed),
    ] {
        m.sample(
            "wingress_kube_snapshots_total",
            &[("result", result)],
            n as f64,
        );
    }
}

/// The limit families (see [`crate::ingress::limits`]): refusals and usage
/// by peer.
fn limits(d: &Daemon, m: &mut Exposition) {
    let mut peers: Vec<(String, PeerId)> = d
        .tables
        .borrow()
        .peers
        .values()
        .map(|p| (p.name.clone(), p.id))
        .collect();
    peers.sort();
    limit_families(m, &d.net.borrow(), &peers, &d.caps);
}

/// A per-peer gauge: name, help, and its value for a peer.
type PeerGauge<'a> = (&'static str, &'static str, &'a dyn Fn(PeerId) -> usize);

fn limit_families(m: &mut Exposition, net: &Net, peers: &[(String, PeerId)], caps: &PeerCaps) {
    let usage = |id| {
        net.stack()
            .peer_usage(peer_key(id))
            .cloned()
            .unwrap_or_default()
    };
    let name = "wingress_limit_hits_total";
    m.family(
        name,
        "counter",
        "Times a peer hit a limit: a refused connection, flow, query or payload, a writer \
         made to wait, a connection reset or forgotten.",
    );
    for (peer, id) in peers {
        let u = usage(*id);
        for hit in LimitHit::ALL {
            let labels = [("peer", peer.as_str()), ("reason", hit.as_str())];
            m.sample(name, &labels, u.hits(hit) as f64);
        }
        for (reason, n) in caps.refusals(Some(*id)) {
            m.sample(name, &[("peer", peer), ("reason", reason)], n as f64);
        }
    }
    let gauges: [PeerGauge<'_>; 5] = [
        (
            "wingress_peer_tcp_connections",
            "TCP connections the peer holds in the tunnel's stack, in any state.",
            &|id| usage(id).connections,
        ),
        (
            "wingress_peer_tcp_half_open",
            "TCP connections of the peer still in their handshake.",
            &|id| usage(id).half_open,
        ),
        (
            "wingress_peer_buffered_bytes",
            "Bytes queued in the peer's TCP connections (received and unread, sent and \
             unacknowledged).",
            &|id| usage(id).buffered,
        ),
        (
            "wingress_peer_tcp_ring_bytes",
            "Size of the peer's TCP connections' buffers, both directions: the most they can \
             commit to memory.",
            &|id| usage(id).rings,
        ),
        (
            "wingress_peer_udp_flows",
            "Forwarded UDP flows of the peer.",
            &|id| caps.udp_flows.held(Some(id)),
        ),
    ];
    for (name, help, value) in gauges {
        m.family(name, "gauge", help);
        for (peer, id) in peers {
            m.sample(name, &[("peer", peer)], value(*id) as f64);
        }
    }
    m.family(
        "wingress_tcp_buffered_bytes",
        "gauge",
        "Bytes queued in all TCP connections of the tunnel's stack.",
    );
    m.sample(
        "wingress_tcp_buffered_bytes",
        &[],
        net.stack().buffered() as f64,
    );
    m.family(
        "wingress_tcp_ring_bytes",
        "gauge",
        "Size of the buffers of all peers' TCP connections, both directions.",
    );
    m.sample("wingress_tcp_ring_bytes", &[], net.stack().rings() as f64);
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
