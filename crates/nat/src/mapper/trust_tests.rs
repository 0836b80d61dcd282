//! Only the default gateway is believed: SSDP answers from other hosts,
//! or with URLs leading away from the gateway, are ignored.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use super::tests::{cfg, drain, events, one_http, DESC, GATEWAY, NONCE};
use super::*;

/// A LAN host that answers the search first, or a gateway answer whose
/// URL leads elsewhere (127.0.0.1 included), is ignored: the description
/// is fetched from the gateway only.
#[test]
fn ssdp_answers_from_other_hosts_or_with_urls_elsewhere_are_ignored() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(cfg(&[Protocol::Upnp]), NONCE, t0);
    drain(&mut m);
    let answer = |location: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: {location}\r\n\r\n"
        )
        .into_bytes()
    };
    let rogue = SocketAddrV4::new(Ipv4Addr::new(192, 168, 10, 3), 1900);
    let gateway = SocketAddrV4::new(GATEWAY, 1900);
    for (from, location) in [
        (rogue, "http://192.168.10.3:5000/rootDesc.xml"),
        (rogue, "http://192.168.10.1:5000/rootDesc.xml"),
        (gateway, "http://127.0.0.1:5000/rootDesc.xml"),
        (gateway, "http://192.168.10.3:5000/rootDesc.xml"),
    ] {
        m.handle_ssdp(t0, from, &answer(location));
        assert_eq!(drain(&mut m), [], "{from} {location}");
    }
    m.handle_ssdp(
        t0,
        gateway,
        &answer("http://192.168.10.1:5000/rootDesc.xml"),
    );
    let (_, path, soap) = one_http(&mut m);
    assert_eq!((path.as_str(), soap), ("/rootDesc.xml", None));
}

/// Only rogue answers: the search fails, and says how many were ignored.
#[test]
fn a_search_answered_only_by_other_hosts_fails_and_says_so() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(cfg(&[Protocol::Upnp]), NONCE, t0);
    let rogue = SocketAddrV4::new(Ipv4Addr::new(192, 168, 10, 3), 1900);
    m.handle_ssdp(
        t0,
        rogue,
        b"HTTP/1.1 200 OK\r\nLOCATION: http://192.168.10.3:5000/d.xml\r\n\r\n",
    );
    while !events(&mut m)
        .iter()
        .any(|e| matches!(e, Event::ProtocolFailed { .. }))
    {
        assert!(drain(&mut m)
            .iter()
            .all(|o| matches!(o, Output::Ssdp { .. })));
        let now = m.poll_timeout().unwrap();
        m.handle_timeout(now);
    }
    let error = m.snapshot().status(t0).last_error.unwrap();
    assert!(
        error.contains("1 answer from other hosts ignored"),
        "{error}"
    );
}

/// A description (served by the gateway) whose control URL leads to
/// another host is refused: no SOAP goes there.
#[test]
fn a_control_url_away_from_the_gateway_is_refused() {
    for desc in [
        DESC.replace("/ctl/IPConn", "http://127.0.0.1:5000/ctl/IPConn"),
        DESC.replace(
            "<device>",
            "<URLBase>http://192.168.10.3:5000/</URLBase><device>",
        ),
    ] {
        let t0 = Instant::now();
        let mut m = PortMapper::new(cfg(&[Protocol::Upnp]), NONCE, t0);
        drain(&mut m);
        m.handle_ssdp(
            t0,
            SocketAddrV4::new(GATEWAY, 1900),
            b"HTTP/1.1 200 OK\r\nLOCATION: http://192.168.10.1:5000/rootDesc.xml\r\n\r\n",
        );
        let (id, _, _) = one_http(&mut m);
        m.handle_http(
            t0,
            id,
            Ok(HttpResponse {
                status: 200,
                body: desc.clone(),
            }),
        );
        assert_eq!(drain(&mut m), [], "{desc}");
        let failed = events(&mut m);
        assert!(
            matches!(&failed[..], [Event::ProtocolFailed { error, .. }, ..] if error.contains("not the gateway")),
            "{failed:?}"
        );
    }
}
