//! Seeds for the NAT targets: STUN answers, PCP and NAT-PMP answers,
//! miniupnpd's SSDP answer, descriptions and SOAP replies, and whole
//! mapping runs with each protocol.

use std::net::{Ipv4Addr, SocketAddr};

use wingress_fuzz::input::Seed;
use wingress_nat::{pcp, stun};

use crate::{join, Corpus};

pub(crate) fn stun_answers(c: &mut Corpus) {
    // The probe's first transaction id is [1; 12]; bit 0 of the flags
    // writes it into the answer anyway.
    let id = [1u8; 12];
    let mapped: SocketAddr = "203.0.113.2:41602".parse().expect("addr");
    let other: SocketAddr = "192.0.2.2:3479".parse().expect("addr");
    c.seed(
        "success",
        Seed::new()
            .u8(1)
            .bytes(&stun::binding_success(&id, mapped, None)),
    );
    c.seed(
        "success-other-address",
        Seed::new()
            .u8(1)
            .bytes(&stun::binding_success(&id, mapped, Some(other))),
    );
    let v6: SocketAddr = "[2001:db8::2]:41602".parse().expect("addr");
    c.seed(
        "success-v6-from-other",
        Seed::new()
            .u8(3)
            .bytes(&stun::binding_success(&id, v6, None)),
    );
    c.seed(
        "error",
        Seed::new()
            .u8(1)
            .bytes(&stun::binding_error(&id, 420, "Unknown Attribute")),
    );
    c.seed(
        "request",
        Seed::new().u8(0).bytes(&stun::binding_request(&id, None)),
    );
}

/// The router's answer to a MAP request (RFC 6887 §7.2, §11.1): the
/// request with the response bit, a result, the epoch in place of the
/// client address, and the mapping it granted.
fn pcp_map(result: u8, lifetime: u32, epoch: u32) -> Vec<u8> {
    let granted = pcp::MapRequest {
        client: Ipv4Addr::new(192, 168, 10, 2),
        nonce: [0xAB; 12],
        internal_port: 41602,
        suggested_external_port: 41700,
        suggested_external_address: Ipv4Addr::new(203, 0, 113, 2),
        lifetime_secs: lifetime,
    };
    let mut r = granted.encode().to_vec();
    r[1] |= 0x80;
    r[3] = result;
    r[8..24].fill(0);
    r[8..12].copy_from_slice(&epoch.to_be_bytes());
    r
}

pub(crate) fn port_mapping(c: &mut Corpus) {
    c.add("pcp-map", pcp_map(0, 7200, 77));
    c.add("pcp-map-refused", pcp_map(2, 0, 77));
    let mut announce = vec![2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
    announce.extend_from_slice(&[0; 12]);
    c.add("pcp-announce", announce);
    c.add(
        "natpmp-external-address",
        [0, 128, 0, 0, 0, 0, 1, 44, 203, 0, 113, 2],
    );
    c.add(
        "natpmp-map-udp",
        [
            0, 129, 0, 0, 0, 0, 1, 44, 0xa2, 0x82, 0xa2, 0xe4, 0, 0, 0x1c, 0x20,
        ],
    );
    c.add("natpmp-unsupported-version", [0, 128, 0, 1]);
}

/// miniupnpd 2.3.1's answer to an M-SEARCH.
const SSDP_ANSWER: &str = "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n\
    ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
    USN: uuid:3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
    EXT:\r\nSERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n\
    location: http://192.168.10.1:5000/rootDesc.xml\r\n\r\n";

/// An IGD with a PPP and an IP connection service, a URLBase and a
/// relative control URL.
const DESCRIPTION: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><URLBase>http://192.168.1.1:49000/igd/</URLBase><device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType><deviceList><device><deviceList><device><serviceList>
<service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType><controlURL>upnp/control/WANPPPConn1</controlURL></service>
<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><controlURL>/ctl/IPConn</controlURL></service>
</serviceList></device></deviceList></device></deviceList></device></root>"#;

/// miniupnpd's description as the gateway of the mapper's network serves
/// it (the control URL relative to where it was fetched).
const GATEWAY_DESCRIPTION: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType><deviceList><device><deviceList><device><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>/ctl/IPConn</controlURL></service></serviceList></device></deviceList></device></deviceList></device></root>"#;

pub(crate) fn upnp(c: &mut Corpus) {
    c.seed(
        "ssdp-answer",
        Seed::new().u8(0).rest(SSDP_ANSWER.as_bytes()),
    );
    c.seed(
        "description",
        Seed::new().u8(1).rest(DESCRIPTION.as_bytes()),
    );
    let ok = r#"<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:GetExternalIPAddressResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:2"><NewExternalIPAddress>203.0.113.2</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>"#;
    c.seed(
        "soap-external-ip",
        Seed::new().u8(2).u16(0).rest(ok.as_bytes()),
    );
    let fault = r#"<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>718</errorCode><errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>"#;
    c.seed(
        "soap-fault",
        Seed::new().u8(6).u16(1).rest(fault.as_bytes()),
    );
    c.seed(
        "url-join",
        Seed::new()
            .u8(3)
            .bytes(b"http://192.168.1.1:49000/igd/desc.xml")
            .rest(b"../ctl/IPConn"),
    );
}

/// The mapper's runs with each protocol: mapped, renewed after half the
/// lease, then released (the answers are what miniupnpd sends).
pub(crate) fn nat_mapper(c: &mut Corpus) {
    let half_lease = Seed::new().u8(3).u16(3600);
    let release = Seed::new().u8(4);
    c.seed(
        "pcp",
        join(&[
            Seed::new().u8(0),
            Seed::new().u8(0).bytes(&pcp_map(0, 7200, 100)),
            half_lease.clone(),
            Seed::new().u8(0).bytes(&pcp_map(0, 7200, 3700)),
            release.clone(),
            Seed::new().u8(0).bytes(&pcp_map(0, 0, 3710)),
        ]),
    );
    let external = [0, 128, 0, 0, 0, 0, 0, 100, 203, 0, 113, 2];
    let mapped = |epoch: u32, lifetime: u32| {
        let mut m = vec![0, 129, 0, 0];
        m.extend_from_slice(&epoch.to_be_bytes());
        m.extend_from_slice(&41602u16.to_be_bytes());
        m.extend_from_slice(&41602u16.to_be_bytes());
        m.extend_from_slice(&lifetime.to_be_bytes());
        m
    };
    c.seed(
        "natpmp",
        join(&[
            Seed::new().u8(1),
            Seed::new().u8(0).bytes(&external),
            Seed::new().u8(0).bytes(&mapped(101, 7200)),
            half_lease,
            Seed::new().u8(0).bytes(&external),
            Seed::new().u8(0).bytes(&mapped(3701, 7200)),
            release,
            Seed::new().u8(0).bytes(&mapped(3702, 0)),
        ]),
    );
    let soap = |action: &str, args: &str| {
        format!(
            "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
             <u:{action}Response xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">{args}</u:{action}Response></s:Body></s:Envelope>"
        )
    };
    let http = |body: &str| Seed::new().u8(2).u16(200).bytes(body.as_bytes());
    c.seed(
        "upnp",
        join(&[
            Seed::new().u8(2),
            Seed::new().u8(1).bytes(SSDP_ANSWER.as_bytes()),
            http(GATEWAY_DESCRIPTION),
            http(&soap(
                "GetExternalIPAddress",
                "<NewExternalIPAddress>203.0.113.2</NewExternalIPAddress>",
            )),
            http(&soap("AddPortMapping", "")),
            Seed::new().u8(3).u16(60),
            http(&soap(
                "GetSpecificPortMappingEntry",
                "<NewInternalPort>41602</NewInternalPort><NewInternalClient>192.168.10.2</NewInternalClient>\
                 <NewEnabled>1</NewEnabled><NewLeaseDuration>7140</NewLeaseDuration>",
            )),
            Seed::new().u8(4),
            http(&soap("DeletePortMapping", "")),
        ]),
    );
}
