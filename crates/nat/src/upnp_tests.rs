use super::*;

/// miniupnpd 2.3.1's root description (IGD v2), trimmed to the services.
const MINIUPNPD_DESC: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337"><specVersion><major>1</major><minor>1</minor></specVersion><device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType><serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType><serviceId>urn:upnp-org:serviceId:L3Forwarding1</serviceId><SCPDURL>/L3F.xml</SCPDURL><controlURL>/ctl/L3F</controlURL><eventSubURL>/evt/L3F</eventSubURL></service></serviceList><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType><serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId><SCPDURL>/WANCfg.xml</SCPDURL><controlURL>/ctl/CmnIfCfg</controlURL><eventSubURL>/evt/CmnIfCfg</eventSubURL></service></serviceList><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/WANIPCn.xml</SCPDURL><controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL></service></serviceList></device></deviceList></device></deviceList><presentationURL>http://192.168.10.1/</presentationURL></device></root>"#;

/// An IGD v1 router with a PPP connection, a URLBase and relative URLs.
const PPP_DESC: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><URLBase>http://192.168.1.1:49000/igd/</URLBase><device><deviceList><device><deviceList><device><serviceList>
<service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType><controlURL>upnp/control/WANPPPConn1</controlURL></service>
</serviceList></device></deviceList></device></deviceList></device></root>"#;

fn location() -> HttpUrl {
    HttpUrl::parse("http://192.168.10.1:5000/rootDesc.xml").unwrap()
}

#[test]
fn finds_the_wan_ip_service_of_miniupnpd() {
    let s = parse_description(MINIUPNPD_DESC, &location()).unwrap();
    assert_eq!(
        s.service_type,
        "urn:schemas-upnp-org:service:WANIPConnection:2"
    );
    assert_eq!(s.control.to_string(), "http://192.168.10.1:5000/ctl/IPConn");
}

#[test]
fn resolves_relative_urls_against_urlbase() {
    let at = HttpUrl::parse("http://192.168.1.1:49000/desc.xml").unwrap();
    let s = parse_description(PPP_DESC, &at).unwrap();
    assert_eq!(
        s.service_type,
        "urn:schemas-upnp-org:service:WANPPPConnection:1"
    );
    assert_eq!(
        s.control.to_string(),
        "http://192.168.1.1:49000/igd/upnp/control/WANPPPConn1"
    );
}

#[test]
fn descriptions_without_a_wan_service_or_not_xml_are_errors() {
    let no_wan = MINIUPNPD_DESC.replace("WANIPConnection:2", "Something:1");
    assert_eq!(
        parse_description(&no_wan, &location()),
        Err(UpnpError::NoWanService)
    );
    assert!(matches!(
        parse_description("<root><unclosed>", &location()),
        Err(UpnpError::Xml(_))
    ));
}

/// The description is the gateway's: its URLBase and control URLs must
/// lead back to the host that served it, never to 127.0.0.1 or another
/// LAN host.
#[test]
fn control_urls_must_stay_on_the_describing_host() {
    let foreign_base = PPP_DESC.replace("192.168.1.1", "192.168.10.3");
    let at = HttpUrl::parse("http://192.168.1.1:49000/desc.xml").unwrap();
    assert!(matches!(
        parse_description(&foreign_base, &at),
        Err(UpnpError::NotGateway { .. })
    ));
    for (control, shown) in [
        (
            "http://127.0.0.1:5000/ctl/IPConn",
            "http://127.0.0.1:5000/ctl/IPConn",
        ),
        ("http://192.168.10.3/ctl", "http://192.168.10.3:80/ctl"),
    ] {
        let desc = MINIUPNPD_DESC.replace("/ctl/IPConn", control);
        assert_eq!(
            parse_description(&desc, &location()),
            Err(UpnpError::NotGateway {
                url: shown.into(),
                gateway: "192.168.10.1".parse().unwrap()
            }),
            "{control}"
        );
    }
    // The same host on another port is the gateway's own business.
    let desc = MINIUPNPD_DESC.replace("/ctl/IPConn", "http://192.168.10.1:6000/ctl");
    assert!(parse_description(&desc, &location()).is_ok());
}

#[test]
fn ssdp_answers_count_only_from_the_gateway_about_itself() {
    let gw: Ipv4Addr = "192.168.10.1".parse().unwrap();
    let answer = |loc: &str| format!("HTTP/1.1 200 OK\r\nLOCATION: {loc}\r\n\r\n").into_bytes();
    let from_gw = SocketAddrV4::new(gw, 1900);
    assert_eq!(
        gateway_location(&answer("http://192.168.10.1:5000/d.xml"), from_gw, gw),
        Ok(HttpUrl::parse("http://192.168.10.1:5000/d.xml").unwrap())
    );
    let rogue = SocketAddrV4::new(Ipv4Addr::new(192, 168, 10, 3), 1900);
    assert!(matches!(
        gateway_location(&answer("http://192.168.10.1:5000/d.xml"), rogue, gw),
        Err(UpnpError::NotGateway { .. })
    ));
    assert!(matches!(
        gateway_location(&answer("http://127.0.0.1:5000/d.xml"), from_gw, gw),
        Err(UpnpError::NotGateway { .. })
    ));
    assert_eq!(
        gateway_location(b"NOTIFY * HTTP/1.1\r\n\r\n", from_gw, gw),
        Err(UpnpError::Missing("LOCATION in an SSDP answer"))
    );
    assert!(matches!(
        gateway_location(&answer("http://router.lan/d.xml"), from_gw, gw),
        Err(UpnpError::Url(_))
    ));
}

#[test]
fn urls_take_addresses_only() {
    assert_eq!(
        HttpUrl::parse("http://10.0.0.1/d.xml").unwrap().addr,
        "10.0.0.1:80".parse().unwrap()
    );
    assert!(HttpUrl::parse("http://router.lan:5000/d.xml").is_err());
    assert!(HttpUrl::parse("https://10.0.0.1/").is_err());
    assert!(HttpUrl::parse("http://10.0.0.1:99999/").is_err());
    let u = HttpUrl::parse("http://10.0.0.1:5000/a/b.xml").unwrap();
    assert_eq!(u.join("c").unwrap().path, "/a/c");
    assert_eq!(u.join("/d").unwrap().path, "/d");
    assert_eq!(
        u.join("http://10.0.0.2:1/e").unwrap().to_string(),
        "http://10.0.0.2:1/e"
    );
}

#[test]
fn ssdp_search_and_answer() {
    let m = String::from_utf8(msearch(SEARCH_TARGETS[1])).unwrap();
    assert!(m.starts_with("M-SEARCH * HTTP/1.1\r\n"), "{m}");
    assert!(m.contains("MAN: \"ssdp:discover\"\r\n"), "{m}");
    assert!(m.contains("ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"));
    assert!(m.ends_with("\r\n\r\n"));
    // miniupnpd's answer.
    let answer = "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
                  USN: uuid:3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
                  EXT:\r\nSERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\nlocation: http://192.168.10.1:5000/rootDesc.xml\r\n\r\n";
    assert_eq!(
        parse_search_response(answer.as_bytes()).as_deref(),
        Some("http://192.168.10.1:5000/rootDesc.xml")
    );
    assert_eq!(
        parse_search_response(m.as_bytes()),
        None,
        "a search is not an answer"
    );
    assert_eq!(parse_search_response(&[0xFF, 0xFE]), None);
}

#[test]
fn add_port_mapping_envelope() {
    let s = parse_description(MINIUPNPD_DESC, &location()).unwrap();
    let r = add_port_mapping(
        &s,
        false,
        41602,
        Ipv4Addr::new(192, 168, 10, 2),
        41602,
        7200,
    );
    assert_eq!(
        r.soap_action,
        "\"urn:schemas-upnp-org:service:WANIPConnection:2#AddPortMapping\""
    );
    // The body is well-formed XML with the arguments in the order the
    // service description lists them.
    let doc = roxmltree::Document::parse(&r.body).unwrap();
    let call = doc
        .descendants()
        .find(|n| n.tag_name().name() == "AddPortMapping")
        .unwrap();
    assert_eq!(
        call.tag_name().namespace(),
        Some("urn:schemas-upnp-org:service:WANIPConnection:2")
    );
    let args: Vec<(&str, &str)> = call
        .children()
        .filter(|c| c.is_element())
        .map(|c| (c.tag_name().name(), c.text().unwrap_or("")))
        .collect();
    assert_eq!(
        args,
        [
            ("NewRemoteHost", ""),
            ("NewExternalPort", "41602"),
            ("NewProtocol", "UDP"),
            ("NewInternalPort", "41602"),
            ("NewInternalClient", "192.168.10.2"),
            ("NewEnabled", "1"),
            ("NewPortMappingDescription", "wingress"),
            ("NewLeaseDuration", "7200"),
        ]
    );
}

#[test]
fn soap_replies_and_faults() {
    let ok = r#"<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:GetExternalIPAddressResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:2"><NewExternalIPAddress>203.0.113.2</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>"#;
    let args = parse_soap_response(200, ok, "GetExternalIPAddress").unwrap();
    assert_eq!(argument(&args, "NewExternalIPAddress"), Some("203.0.113.2"));
    assert_eq!(
        parse_soap_response(200, ok, "AddPortMapping"),
        Err(UpnpError::Missing("response element"))
    );

    // UPnP Device Architecture 1.1 §3.2.2 fault, as miniupnpd sends it.
    let fault = r#"<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>718</errorCode><errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>"#;
    assert_eq!(
        parse_soap_response(500, fault, "AddPortMapping"),
        Err(UpnpError::Fault {
            code: 718,
            description: "ConflictInMappingEntry".into()
        })
    );
    assert_eq!(
        parse_soap_response(404, "not found", "AddPortMapping"),
        Err(UpnpError::Status(404))
    );
}
