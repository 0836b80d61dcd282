use std::net::Ipv4Addr;

use super::*;
use crate::mapper::{ActiveMapping, Protocol};

const LOCAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 168, 10, 2), 41602);

fn snapshot(
    state: MappingState,
    external: Option<u16>,
    ever_failed: bool,
    t0: Instant,
) -> MappingSnapshot {
    MappingSnapshot {
        state,
        protocol: Some(Protocol::Pcp),
        gateway: Ipv4Addr::new(192, 168, 10, 1),
        internal: LOCAL,
        requested_port: 41602,
        mapping: external.map(|port| ActiveMapping {
            protocol: Protocol::Pcp,
            external: SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 2), port),
            created_at: t0,
            renewed_at: t0,
            lifetime: Duration::from_secs(7200),
        }),
        renew_at: external.map(|_| t0 + Duration::from_secs(3600)),
        retry_at: None,
        ever_failed,
        last_error: None,
    }
}

fn report(
    public: &str,
    mapping: MappingBehaviour,
    filtering: Filtering,
    t0: Instant,
) -> StunReport {
    let public: SocketAddr = public.parse().unwrap();
    StunReport {
        at: t0,
        public: Some(public),
        observations: vec![Observation {
            server: "192.0.2.1:3478".parse().unwrap(),
            mapped: Some(public),
            error: None,
        }],
        mapping,
        filtering,
    }
}

#[test]
fn nothing_is_published_while_the_first_mapping_is_made() {
    let t0 = Instant::now();
    let mut s = NatState::new(LOCAL, None, t0);
    s.mapping = MappingView::Active(snapshot(MappingState::Mapping, None, false, t0));
    s.stun_servers = Some(vec![]);
    s.stun = Some(report(
        "203.0.113.2:41602",
        MappingBehaviour::Unknown,
        Filtering::Filtered,
        t0,
    ));
    assert_eq!(s.refresh(t0), None);
    let st = s.status(t0);
    assert_eq!(st.public_endpoint, None);
    assert!(
        st.notes
            .iter()
            .any(|n| n.contains("creating the port mapping")),
        "{:?}",
        st.notes
    );

    // Mapped: the mapping is the endpoint.
    s.mapping = MappingView::Active(snapshot(MappingState::Mapped, Some(41602), false, t0));
    assert_eq!(
        s.refresh(t0 + Duration::from_secs(2)),
        Some(("203.0.113.2:41602".into(), EndpointSource::Mapped))
    );
    let ep = s.public_endpoint(t0 + Duration::from_secs(12)).unwrap();
    assert_eq!((ep.source, ep.age_secs), (EndpointSource::Mapped, 10));

    // Every protocol failed: fall back to what STUN saw.
    s.mapping = MappingView::Active(snapshot(MappingState::Failed, None, true, t0));
    assert_eq!(
        s.refresh(t0),
        Some(("203.0.113.2:41602".into(), EndpointSource::Stun))
    );
}

#[test]
fn a_configured_endpoint_wins() {
    let t0 = Instant::now();
    let mut s = NatState::new(LOCAL, Some("home.example.net:41602".into()), t0);
    s.mapping = MappingView::Active(snapshot(MappingState::Mapped, Some(5000), false, t0));
    s.refresh(t0);
    assert_eq!(
        s.public_endpoint(t0).map(|e| (e.address, e.source)),
        Some(("home.example.net:41602".into(), EndpointSource::Configured))
    );
}

#[test]
fn a_static_forward_is_recognised_and_said() {
    let t0 = Instant::now();
    let mut s = NatState::new(LOCAL, None, t0);
    s.stun_servers = Some(vec![]);
    s.stun = Some(report(
        "203.0.113.2:41602",
        MappingBehaviour::EndpointIndependent,
        Filtering::Open,
        t0,
    ));
    s.refresh(t0);
    let st = s.status(t0);
    assert_eq!(
        st.public_endpoint.unwrap().source,
        EndpointSource::StaticForward
    );
    assert!(st.stun.static_forward && st.stun.port_preserved == Some(true));
    assert!(
        st.notes
            .iter()
            .any(|n| n.contains("static port forward is in place")),
        "{:?}",
        st.notes
    );
    // The same public port behind a filtering NAT is just port preservation.
    s.stun = Some(report(
        "203.0.113.2:41602",
        MappingBehaviour::EndpointIndependent,
        Filtering::Filtered,
        t0,
    ));
    s.refresh(t0);
    let st = s.status(t0);
    assert_eq!(st.public_endpoint.unwrap().source, EndpointSource::Stun);
    assert!(!st.stun.static_forward);
    assert!(
        !st.notes.iter().any(|n| n.contains("static")),
        "{:?}",
        st.notes
    );
}

#[test]
fn a_symmetric_nat_publishes_nothing() {
    let t0 = Instant::now();
    let mut s = NatState::new(LOCAL, None, t0);
    s.stun_servers = Some(vec![]);
    s.stun = Some(report(
        "203.0.113.2:1000",
        MappingBehaviour::EndpointDependent,
        Filtering::Filtered,
        t0,
    ));
    s.refresh(t0);
    let st = s.status(t0);
    assert_eq!(st.public_endpoint, None);
    assert!(st.notes.iter().any(|n| n.contains("symmetric NAT")));
}

#[test]
fn peers_without_a_handshake_on_a_new_mapping_get_the_conntrack_hint() {
    let t0 = Instant::now();
    let mut s = NatState::new(LOCAL, None, t0);
    s.mapping = MappingView::Active(snapshot(MappingState::Mapped, Some(41602), false, t0));
    s.peers_waiting = vec!["phone".into()];
    let st = s.status(t0 + Duration::from_secs(90));
    assert!(
        st.notes.iter().any(|n| n.contains("90 s old")
            && n.contains("peer phone has")
            && n.contains("connection-tracking")),
        "{:?}",
        st.notes
    );
    // An old mapping: the hint no longer applies.
    assert!(s.status(t0 + Duration::from_secs(3600)).notes.is_empty());
}

#[test]
fn the_status_serializes_with_stable_names() {
    let t0 = Instant::now();
    let mut s = NatState::new(LOCAL, None, t0);
    s.mapping = MappingView::Active(snapshot(MappingState::Mapped, Some(41603), false, t0));
    s.refresh(t0);
    let v = serde_json::to_value(s.status(t0)).unwrap();
    assert_eq!(v["local"], "192.168.10.2:41602");
    assert_eq!(v["public_endpoint"]["source"], "mapped");
    assert_eq!(v["public_endpoint"]["address"], "203.0.113.2:41603");
    assert_eq!(v["port_mapping"]["state"], "mapped");
    assert_eq!(v["port_mapping"]["protocol"], "pcp");
    assert_eq!(v["port_mapping"]["requested_port"], 41602);
    assert_eq!(v["port_mapping"]["renews_in_secs"], 3600);
    assert_eq!(v["stun"]["state"], "off");
    assert!(v["notes"][0]
        .as_str()
        .unwrap()
        .contains("refused external port 41602"));
    let off = NatState::new(LOCAL, None, t0);
    let v = serde_json::to_value(off.status(t0)).unwrap();
    assert_eq!(v["port_mapping"]["state"], "off");
    assert_eq!(v["public_endpoint"], serde_json::Value::Null);
}

#[test]
fn which_peers_wait_for_a_handshake_since_the_mapping() {
    let t0 = Instant::now();
    let mut s = NatState::new(LOCAL, None, t0);
    let peers = |hs: &[(&str, Option<u64>)]| -> Vec<(String, Option<Duration>)> {
        hs.iter()
            .map(|(n, d)| (n.to_string(), d.map(Duration::from_secs)))
            .collect()
    };
    // No mapping: nobody is waiting for one.
    s.update_peers(t0, peers(&[("phone", None)]));
    assert!(s.peers_waiting.is_empty());
    s.mapping = MappingView::Active(snapshot(MappingState::Mapped, Some(41602), false, t0));
    let now = t0 + Duration::from_secs(10);
    s.update_peers(
        now,
        peers(&[
            ("never", None),
            // Its handshake came just after the mapping; boringtun's whole
            // seconds make it look a little older.
            ("just-after", Some(11)),
            ("before", Some(30)),
            ("recent", Some(2)),
        ]),
    );
    assert_eq!(s.peers_waiting, ["never", "before"]);
    // Ten minutes on, the mapping is not new: no hint.
    s.update_peers(t0 + NEW_MAPPING, peers(&[("never", None)]));
    assert!(s.peers_waiting.is_empty());
}
