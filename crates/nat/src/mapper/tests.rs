//! The mapper against simulated gateways, on an injected clock.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::*;
use crate::natpmp;
use crate::upnp::SoapRequest;

pub(super) const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 2);
const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);
const PORT: u16 = 41602;
pub(super) const NONCE: Nonce = [0x5A; 12];

pub(super) fn cfg(protocols: &[Protocol]) -> MapperConfig {
    MapperConfig {
        protocols: protocols.to_vec(),
        gateway: GATEWAY,
        client: CLIENT,
        internal_port: PORT,
        external_port: PORT,
        lease: Duration::from_secs(3600),
        check_interval: CHECK_INTERVAL,
    }
}

/// A config whose checks never come before a renewal.
fn no_checks(protocols: &[Protocol]) -> MapperConfig {
    MapperConfig {
        check_interval: Duration::from_secs(100_000),
        ..cfg(protocols)
    }
}

fn secs(t0: Instant, s: f64) -> Instant {
    t0 + Duration::from_secs_f64(s)
}

pub(super) fn drain(m: &mut PortMapper) -> Vec<Output> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

pub(super) fn events(m: &mut PortMapper) -> Vec<Event> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

/// The only output, which must be a datagram to port 5351.
fn one_pmp(m: &mut PortMapper) -> Vec<u8> {
    let out = drain(m);
    match out.as_slice() {
        [Output::Pmp(b)] => b.clone(),
        other => panic!("expected one PCP/NAT-PMP datagram, got {other:?}"),
    }
}

/// What a PCP server answers to our request `req` (MAP or ANNOUNCE).
fn pcp_answer(req: &[u8], result: u8, port: u16, lifetime: u32, epoch: u32) -> Vec<u8> {
    assert_eq!(req[0], 2, "a PCP request");
    let mut r = vec![2, 0x80 | req[1], 0, result];
    r.extend_from_slice(&lifetime.to_be_bytes());
    r.extend_from_slice(&epoch.to_be_bytes());
    r.extend_from_slice(&[0; 12]);
    if req[1] == 1 {
        r.extend_from_slice(&req[24..44 - 2]); // nonce, protocol, internal port
        r.extend_from_slice(&port.to_be_bytes());
        r.extend_from_slice(&PUBLIC.to_ipv6_mapped().octets());
    }
    r
}

fn pcp_lifetime(req: &[u8]) -> u32 {
    u32::from_be_bytes(req[4..8].try_into().unwrap())
}

fn mapped_pcp(t0: Instant) -> PortMapper {
    mapped_pcp_with(t0, cfg(&[Protocol::Pcp]))
}

fn mapped_pcp_with(t0: Instant, cfg: MapperConfig) -> PortMapper {
    let mut m = PortMapper::new(cfg, NONCE, t0);
    let req = one_pmp(&mut m);
    m.handle_pmp(secs(t0, 0.01), &pcp_answer(&req, 0, PORT, 3600, 1000));
    assert!(m.mapping().is_some());
    events(&mut m);
    m
}

#[test]
fn pcp_maps_then_renews_at_half_the_lease() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(cfg(&[Protocol::Pcp]), NONCE, t0);
    let req = one_pmp(&mut m);
    assert_eq!(&req[24..36], &NONCE);
    assert_eq!(pcp_lifetime(&req), 3600);
    assert_eq!(&req[42..44], &PORT.to_be_bytes(), "asks for 41600 + octet");
    m.handle_pmp(secs(t0, 0.01), &pcp_answer(&req, 0, PORT, 3600, 1000));
    assert_eq!(
        events(&mut m),
        [Event::Mapped {
            protocol: Protocol::Pcp,
            external: SocketAddrV4::new(PUBLIC, PORT),
            requested_port: PORT,
            lifetime: Duration::from_secs(3600),
        }]
    );
    let st = m.snapshot().status(secs(t0, 10.0));
    assert_eq!(st.state, MappingState::Mapped);
    assert_eq!(st.external.as_deref(), Some("203.0.113.2:41602"));
    assert_eq!(st.renews_in_secs, Some(1790));

    // Checks every minute (ANNOUNCE), answered with a steady epoch.
    for minute in 1..30 {
        let now = secs(t0, 60.0 * f64::from(minute) + 0.02);
        assert!(m.poll_timeout().unwrap() <= now);
        m.handle_timeout(now);
        let req = one_pmp(&mut m);
        assert_eq!(req[1], 0, "ANNOUNCE");
        m.handle_pmp(now, &pcp_answer(&req, 0, 0, 0, 1000 + 60 * minute));
        assert!(events(&mut m).is_empty());
    }
    // Nothing before half the lease...
    m.handle_timeout(secs(t0, 1799.0));
    assert!(drain(&mut m).is_empty());
    // ...then a renewal with the same nonce and port.
    let renew_at = m.poll_timeout().unwrap();
    assert!(renew_at >= secs(t0, 1800.0) && renew_at <= secs(t0, 1800.1));
    m.handle_timeout(renew_at);
    let req = one_pmp(&mut m);
    assert_eq!((req[1], &req[24..36]), (1, &NONCE[..]));
    assert_eq!(pcp_lifetime(&req), 3600);
    m.handle_pmp(renew_at, &pcp_answer(&req, 0, PORT, 3600, 2800));
    assert!(matches!(events(&mut m)[..], [Event::Renewed { .. }]));
}

#[test]
fn a_backwards_epoch_means_the_gateway_restarted() {
    let t0 = Instant::now();
    let mut m = mapped_pcp(t0);
    let now = secs(t0, 60.1);
    m.handle_timeout(now);
    let announce = one_pmp(&mut m);
    // The gateway rebooted 5 s ago: its epoch is small again.
    m.handle_pmp(now, &pcp_answer(&announce, 0, 0, 0, 5));
    let ev = events(&mut m);
    assert!(
        matches!(&ev[..], [Event::Lost { protocol: Protocol::Pcp, reason }] if reason.contains("restarted")),
        "{ev:?}"
    );
    assert!(m.mapping().is_none());
    // Mapping again at once, same nonce.
    let req = one_pmp(&mut m);
    assert_eq!((req[1], &req[24..36]), (1, &NONCE[..]));
    m.handle_pmp(now, &pcp_answer(&req, 0, PORT, 3600, 6));
    assert!(matches!(events(&mut m)[..], [Event::Mapped { .. }]));
    assert_eq!(m.mapping().unwrap().created_at, now);
}

#[test]
fn a_failed_renewal_maps_again() {
    let t0 = Instant::now();
    let mut m = mapped_pcp_with(t0, no_checks(&[Protocol::Pcp]));
    let mut now = m.poll_timeout().unwrap();
    m.handle_timeout(now);
    // Nobody answers the renewal: six sends, then it has failed.
    let mut sent = drain(&mut m).len();
    while m.mapping().is_some() {
        now = m.poll_timeout().unwrap();
        m.handle_timeout(now);
        sent += drain(&mut m).len();
    }
    assert_eq!(sent, 6 + 1, "six renewal tries, then a new MAP");
    let ev = events(&mut m);
    assert!(
        matches!(&ev[..], [Event::Lost { reason, .. }] if reason.starts_with("renewal failed")),
        "{ev:?}"
    );
}

#[test]
fn a_refused_port_is_replaced_and_reported() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(cfg(&[Protocol::Pcp]), NONCE, t0);
    let req = one_pmp(&mut m);
    // The gateway will not give 41602 (NOT_AUTHORIZED)...
    m.handle_pmp(t0, &pcp_answer(&req, 2, 0, 30, 1));
    // ...so we ask again, for any port...
    let again = one_pmp(&mut m);
    assert_eq!(&again[42..44], &[0, 0]);
    // ...and take the one it offers.
    m.handle_pmp(t0, &pcp_answer(&again, 0, 50000, 3600, 1));
    let ev = events(&mut m);
    assert_eq!(
        ev,
        [Event::Mapped {
            protocol: Protocol::Pcp,
            external: SocketAddrV4::new(PUBLIC, 50000),
            requested_port: PORT,
            lifetime: Duration::from_secs(3600),
        }]
    );
    let st = m.snapshot().status(t0);
    assert_eq!(
        (st.requested_port, st.external.as_deref()),
        (Some(PORT), Some("203.0.113.2:50000"))
    );
}

#[test]
fn pcp_silence_falls_back_to_natpmp() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(cfg(&[Protocol::Pcp, Protocol::NatPmp]), NONCE, t0);
    let mut pcp_sends = 0;
    let mut now = t0;
    let natpmp = loop {
        let out = drain(&mut m);
        if let Some(Output::Pmp(b)) = out.first() {
            if b[0] == 0 {
                break out;
            }
            pcp_sends += out.len();
        }
        now = m.poll_timeout().unwrap();
        m.handle_timeout(now);
    };
    assert_eq!(pcp_sends, 4);
    assert!(now - t0 >= Duration::from_millis(3750) && now - t0 < Duration::from_secs(4));
    assert!(
        matches!(&events(&mut m)[..], [Event::ProtocolFailed { protocol: Protocol::Pcp, error }] if error.contains("no answer"))
    );
    // NAT-PMP: the mapping request and the external-address request.
    let (map, addr) = match &natpmp[..] {
        [Output::Pmp(a), Output::Pmp(b)] => (a.clone(), b.clone()),
        other => panic!("{other:?}"),
    };
    assert_eq!(map, natpmp::map_request(PORT, PORT, 3600));
    assert_eq!(addr, natpmp::external_address_request());
    let mut reply = vec![0, 129, 0, 0, 0, 0, 0, 50];
    reply.extend_from_slice(&PORT.to_be_bytes());
    reply.extend_from_slice(&41777u16.to_be_bytes());
    reply.extend_from_slice(&3600u32.to_be_bytes());
    m.handle_pmp(now, &reply);
    assert!(m.mapping().is_none(), "waits for the external address");
    let mut a = vec![0, 128, 0, 0, 0, 0, 0, 50];
    a.extend_from_slice(&PUBLIC.octets());
    m.handle_pmp(now, &a);
    assert_eq!(
        m.mapping().map(|m| (m.protocol, m.external)),
        Some((Protocol::NatPmp, SocketAddrV4::new(PUBLIC, 41777)))
    );
}

#[test]
fn a_nat_pmp_only_gateway_is_recognised_at_once() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(cfg(&[Protocol::Pcp, Protocol::NatPmp]), NONCE, t0);
    one_pmp(&mut m);
    // RFC 6886 §3.5: "unsupported version", in NAT-PMP's format.
    m.handle_pmp(t0, &[0, 129, 0, 1, 0, 0, 0, 7]);
    let out = drain(&mut m);
    assert!(
        matches!(&out[..], [Output::Pmp(b), _] if b[0] == 0),
        "{out:?}"
    );
}

#[test]
fn every_protocol_failing_backs_off() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(cfg(&[Protocol::Pcp]), NONCE, t0);
    let mut backoffs = Vec::new();
    while backoffs.len() < 3 {
        drain(&mut m);
        let now = m.poll_timeout().unwrap();
        m.handle_timeout(now);
        for e in events(&mut m) {
            match e {
                Event::Failed { retry_in, error } => {
                    assert!(error.starts_with("pcp: no answer"), "{error}");
                    backoffs.push(retry_in.as_secs());
                    let st = m.snapshot().status(now);
                    assert_eq!(st.state, MappingState::Failed);
                    assert_eq!(st.retry_in_secs, Some(retry_in.as_secs()));
                    assert!(st.last_error.is_some());
                }
                Event::ProtocolFailed { .. } => {}
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(backoffs, [30, 60, 120]);
}

#[test]
fn release_deletes_with_the_nonce_of_the_mapping() {
    let t0 = Instant::now();
    let mut m = mapped_pcp(t0);
    m.release(secs(t0, 5.0));
    let del = one_pmp(&mut m);
    assert_eq!((del[1], pcp_lifetime(&del)), (1, 0));
    assert_eq!(&del[24..36], &NONCE, "the MAP delete reuses the nonce");
    m.handle_pmp(secs(t0, 5.0), &pcp_answer(&del, 0, PORT, 0, 1005));
    assert_eq!(
        events(&mut m),
        [Event::Released {
            protocol: Some(Protocol::Pcp),
            result: Ok(())
        }]
    );
    assert_eq!(m.poll_timeout(), None);
    // Without a mapping there is nothing to delete.
    let mut idle = PortMapper::new(cfg(&[Protocol::Pcp]), NONCE, t0);
    drain(&mut idle);
    idle.release(t0);
    assert!(drain(&mut idle).is_empty());
    assert!(matches!(
        events(&mut idle)[..],
        [Event::Released { protocol: None, .. }]
    ));
}

#[test]
fn a_late_renewal_answer_is_not_taken_for_the_deletion() {
    // The renewal is in flight when shutdown releases the mapping; its
    // answer (same nonce, same opcode, a lifetime) arrives after the delete
    // went out. Only the lifetime-0 answer ends the release: were the
    // renewal's answer taken for it, the mapping would outlive the daemon.
    let t0 = Instant::now();
    let mut m = mapped_pcp_with(t0, no_checks(&[Protocol::Pcp]));
    let renew_at = m.poll_timeout().unwrap();
    m.handle_timeout(renew_at);
    let renewal = one_pmp(&mut m);
    assert_eq!(pcp_lifetime(&renewal), 3600);
    m.release(renew_at);
    let del = one_pmp(&mut m);
    assert_eq!(pcp_lifetime(&del), 0);
    m.handle_pmp(renew_at, &pcp_answer(&renewal, 0, PORT, 3600, 2000));
    assert!(
        events(&mut m).is_empty(),
        "the renewal's answer is not the deletion's"
    );
    assert!(
        m.poll_timeout().is_some(),
        "the delete is still retransmitted"
    );
    m.handle_pmp(renew_at, &pcp_answer(&del, 0, PORT, 0, 2000));
    assert_eq!(
        events(&mut m),
        [Event::Released {
            protocol: Some(Protocol::Pcp),
            result: Ok(())
        }]
    );
}

#[test]
fn garbage_from_the_gateway_is_ignored() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(cfg(&[Protocol::Pcp, Protocol::NatPmp]), NONCE, t0);
    let req = one_pmp(&mut m);
    for junk in [
        &[][..],
        &[2],
        &[2, 0x81, 0, 0, 1],
        &[9; 60],
        &[0, 200, 0, 0],
    ] {
        m.handle_pmp(t0, junk);
    }
    // A MAP answer for someone else's nonce is not ours.
    let mut other = pcp_answer(&req, 0, PORT, 3600, 1);
    other[24] ^= 0xFF;
    m.handle_pmp(t0, &other);
    assert!(m.mapping().is_none() && events(&mut m).is_empty());
    m.handle_pmp(t0, &pcp_answer(&req, 0, PORT, 3600, 1));
    assert!(m.mapping().is_some());
}

// === UPnP ===

pub(super) const DESC: &str = r#"<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>/ctl/IPConn</controlURL></service></serviceList></device></root>"#;

fn soap_ok(action: &str, args: &str) -> HttpResponse {
    HttpResponse {
        status: 200,
        body: format!(
            "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
             <u:{action}Response xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">{args}</u:{action}Response></s:Body></s:Envelope>"
        ),
    }
}

fn soap_fault(code: u16) -> HttpResponse {
    HttpResponse {
        status: 500,
        body: format!(
            "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>\
             <detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>{code}</errorCode>\
             <errorDescription>x</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>"
        ),
    }
}

/// The one HTTP request queued: its id, URL path and SOAP action.
pub(super) fn one_http(m: &mut PortMapper) -> (u64, String, Option<SoapRequest>) {
    let out = drain(m);
    match out.as_slice() {
        [Output::Http { id, url, soap }] => (*id, url.path.clone(), soap.clone()),
        other => panic!("expected one HTTP request, got {other:?}"),
    }
}

fn mapped_upnp(t0: Instant, cfg: MapperConfig) -> PortMapper {
    let mut m = PortMapper::new(cfg, NONCE, t0);
    let searches = drain(&mut m);
    assert_eq!(
        searches.len(),
        4,
        "two targets, to the group and the gateway"
    );
    assert!(searches.iter().all(|o| matches!(o, Output::Ssdp { .. })));
    m.handle_ssdp(
        t0,
        SocketAddrV4::new(GATEWAY, 1900),
        b"HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://192.168.10.1:5000/rootDesc.xml\r\n\r\n",
    );
    let (id, path, soap) = one_http(&mut m);
    assert_eq!((path.as_str(), soap), ("/rootDesc.xml", None));
    m.handle_http(
        t0,
        id,
        Ok(HttpResponse {
            status: 200,
            body: DESC.into(),
        }),
    );
    let (id, path, soap) = one_http(&mut m);
    assert_eq!(
        (path.as_str(), soap.unwrap().action),
        ("/ctl/IPConn", "GetExternalIPAddress")
    );
    m.handle_http(
        t0,
        id,
        Ok(soap_ok(
            "GetExternalIPAddress",
            "<NewExternalIPAddress>203.0.113.2</NewExternalIPAddress>",
        )),
    );
    let (id, _, soap) = one_http(&mut m);
    let soap = soap.unwrap();
    assert_eq!(soap.action, "AddPortMapping");
    assert!(soap
        .body
        .contains("<NewExternalPort>41602</NewExternalPort>"));
    // Taken by someone else: an IGD v1 gets asked for the next port.
    m.handle_http(t0, id, Ok(soap_fault(718)));
    let (id, _, soap) = one_http(&mut m);
    assert!(soap
        .unwrap()
        .body
        .contains("<NewExternalPort>41603</NewExternalPort>"));
    m.handle_http(t0, id, Ok(soap_ok("AddPortMapping", "")));
    assert_eq!(
        events(&mut m),
        [Event::Mapped {
            protocol: Protocol::Upnp,
            external: SocketAddrV4::new(PUBLIC, 41603),
            requested_port: PORT,
            lifetime: Duration::from_secs(3600),
        }]
    );
    m
}

#[test]
fn upnp_discovers_maps_and_takes_another_port_on_conflict() {
    mapped_upnp(Instant::now(), cfg(&[Protocol::Upnp]));
}

#[test]
fn upnp_check_finds_the_mapping_gone_and_maps_again_without_discovery() {
    let t0 = Instant::now();
    let mut m = mapped_upnp(t0, cfg(&[Protocol::Upnp]));
    let now = secs(t0, 60.0);
    m.handle_timeout(now);
    let (id, _, soap) = one_http(&mut m);
    assert_eq!(soap.unwrap().action, "GetSpecificPortMappingEntry");
    m.handle_http(now, id, Ok(soap_fault(714)));
    let ev = events(&mut m);
    assert!(
        matches!(
            &ev[..],
            [Event::Lost {
                protocol: Protocol::Upnp,
                ..
            }]
        ),
        "{ev:?}"
    );
    // The gateway is known: straight to SOAP, no SSDP.
    let (_, _, soap) = one_http(&mut m);
    assert_eq!(soap.unwrap().action, "GetExternalIPAddress");
}

#[test]
fn upnp_renews_and_deletes() {
    let t0 = Instant::now();
    let mut m = mapped_upnp(t0, no_checks(&[Protocol::Upnp]));
    let at = m.poll_timeout().unwrap();
    assert_eq!(at, t0 + Duration::from_secs(1800));
    m.handle_timeout(at);
    let (id, _, _) = one_http(&mut m);
    m.handle_http(
        at,
        id,
        Ok(soap_ok(
            "GetExternalIPAddress",
            "<NewExternalIPAddress>203.0.113.2</NewExternalIPAddress>",
        )),
    );
    let (id, _, soap) = one_http(&mut m);
    assert!(soap
        .unwrap()
        .body
        .contains("<NewExternalPort>41603</NewExternalPort>"));
    m.handle_http(at, id, Ok(soap_ok("AddPortMapping", "")));
    assert!(matches!(events(&mut m)[..], [Event::Renewed { .. }]));

    m.release(at);
    let (id, _, soap) = one_http(&mut m);
    let soap = soap.unwrap();
    assert_eq!(soap.action, "DeletePortMapping");
    assert!(soap
        .body
        .contains("<NewExternalPort>41603</NewExternalPort>"));
    // An answer that never comes: the deletion gives up after 2 s.
    assert_eq!(m.poll_timeout(), Some(at + Duration::from_secs(2)));
    m.handle_timeout(at + Duration::from_secs(2));
    assert!(matches!(
        &events(&mut m)[..],
        [Event::Released { result: Err(_), .. }]
    ));
    // A late answer to the abandoned request changes nothing.
    m.handle_http(
        at + Duration::from_secs(3),
        id,
        Ok(soap_ok("DeletePortMapping", "")),
    );
    assert!(events(&mut m).is_empty());
}

#[test]
fn upnp_without_an_answer_to_the_search_fails() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(cfg(&[Protocol::Upnp]), NONCE, t0);
    let mut sends = 0;
    while !events(&mut m)
        .iter()
        .any(|e| matches!(e, Event::ProtocolFailed { .. }))
    {
        sends += drain(&mut m).len();
        let now = m.poll_timeout().unwrap();
        m.handle_timeout(now);
    }
    assert_eq!(sends, 4 * 3);
    assert!(m.snapshot().status(t0).last_error.unwrap().contains("SSDP"));
}
