//! UPnP Internet Gateway Device messages: the SSDP search and its answer,
//! the device description (to find the WAN connection service), and the
//! SOAP bodies of the actions we use (GetExternalIPAddress, AddPortMapping,
//! GetSpecificPortMappingEntry, DeletePortMapping). No I/O: the driver sends
//! the bytes and fetches the URLs.
//!
//! Only the default gateway is believed. Any host on the LAN can answer an
//! SSDP search, and a description can name any URL: taken at their word,
//! the first host to answer would choose where the daemon sends requests
//! (127.0.0.1 included) and which external address it publishes to
//! clients. So an answer counts only when the gateway sent it about
//! itself ([`gateway_location`]), and a description's URLs must lead back
//! to the host that served it ([`parse_description`]).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

/// The SSDP multicast group and port.
pub const SSDP_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 255, 255, 250), 1900);

/// Search targets: IGD version 2 and 1 (most routers answer only one).
pub const SEARCH_TARGETS: [&str; 2] = [
    "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
];

/// The WAN connection services that map ports, most capable first.
const SERVICES: [&str; 3] = [
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
];

/// What went wrong with a UPnP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpnpError {
    #[error("`{0}` is not an http:// URL with an IPv4 address")]
    Url(String),
    /// A sender or URL that is not the gateway's.
    #[error("`{url}` is not the gateway {gateway}")]
    NotGateway { url: String, gateway: Ipv4Addr },
    #[error("device description is not XML: {0}")]
    Xml(String),
    #[error("the device has no WANIPConnection or WANPPPConnection service")]
    NoWanService,
    /// A SOAP fault: the UPnP error code and description (718 is
    /// ConflictInMappingEntry, 714 NoSuchEntryInArray, 725
    /// OnlyPermanentLeasesSupported).
    #[error("UPnP error {code} ({description})")]
    Fault { code: u16, description: String },
    #[error("HTTP status {0} without a UPnP error")]
    Status(u16),
    #[error("the reply has no {0}")]
    Missing(&'static str),
}

// === SSDP ===

/// An M-SEARCH for `target`, to multicast (or unicast to the gateway).
pub fn msearch(target: &str) -> Vec<u8> {
    format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: {SSDP_ADDR}\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: {target}\r\n\r\n"
    )
    .into_bytes()
}

/// The LOCATION of an SSDP search answer (`HTTP/1.1 200 OK` with the
/// device description's URL), or `None` for anything else.
pub fn parse_search_response(d: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(d).ok()?;
    let mut lines = text.split("\r\n");
    let status = lines.next()?;
    if !status.starts_with("HTTP/1.1 200") && !status.starts_with("HTTP/1.0 200") {
        return None;
    }
    lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("location"))
        .map(|(_, v)| v.trim().to_string())
}

/// The device description URL of an SSDP answer `d` that `from` sent, when
/// the sender is `gateway` and so is the URL's host (its port and path are
/// the gateway's own business).
pub fn gateway_location(
    d: &[u8],
    from: SocketAddrV4,
    gateway: Ipv4Addr,
) -> Result<HttpUrl, UpnpError> {
    if *from.ip() != gateway {
        return Err(UpnpError::NotGateway {
            url: from.to_string(),
            gateway,
        });
    }
    let location =
        parse_search_response(d).ok_or(UpnpError::Missing("LOCATION in an SSDP answer"))?;
    HttpUrl::parse(&location)?.on_host(gateway)
}

// === URLs ===

/// An `http://a.b.c.d[:port]/path` URL. Names are refused: the gateway
/// describes itself by address, and resolving names here would leak
/// lookups to whatever resolver the host has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub addr: SocketAddrV4,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl HttpUrl {
    pub fn parse(s: &str) -> Result<HttpUrl, UpnpError> {
        let bad = || UpnpError::Url(s.to_string());
        let rest = s
            .strip_prefix("http://")
            .or_else(|| s.strip_prefix("HTTP://"))
            .ok_or_else(bad)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
            None => (authority, 80),
        };
        let ip: Ipv4Addr = host.parse().map_err(|_| bad())?;
        Ok(HttpUrl {
            addr: SocketAddrV4::new(ip, port),
            path: path.to_string(),
        })
    }

    /// This URL, if its host is `host`.
    pub fn on_host(self, host: Ipv4Addr) -> Result<HttpUrl, UpnpError> {
        if *self.addr.ip() == host {
            Ok(self)
        } else {
            Err(UpnpError::NotGateway {
                url: self.to_string(),
                gateway: host,
            })
        }
    }

    /// `reference` resolved against this URL: absolute, absolute-path
    /// (`/ctl/IPConn`), or relative to this URL's folder.
    pub fn join(&self, reference: &str) -> Result<HttpUrl, UpnpError> {
        let reference = reference.trim();
        if reference.contains("://") {
            return HttpUrl::parse(reference);
        }
        let path = if reference.starts_with('/') {
            reference.to_string()
        } else {
            let dir = self.path.rsplit_once('/').map_or("", |(d, _)| d);
            format!("{dir}/{reference}")
        };
        Ok(HttpUrl {
            addr: self.addr,
            path,
        })
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.addr, self.path)
    }
}

// === device description ===

/// The gateway's WAN connection service: where to send SOAP, and its type
/// (which names the SOAP namespace and says whether it is IGD v2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WanService {
    pub control: HttpUrl,
    pub service_type: String,
}

/// Finds the best WAN connection service in a device description fetched
/// from `location`. Its URLBase and control URL must be on `location`'s
/// host: a description leads only back to the device that served it.
pub fn parse_description(xml: &str, location: &HttpUrl) -> Result<WanService, UpnpError> {
    let host = *location.addr.ip();
    let doc = roxmltree::Document::parse(xml).map_err(|e| UpnpError::Xml(e.to_string()))?;
    let base = doc
        .descendants()
        .find(|n| n.has_tag_name_local("URLBase"))
        .and_then(|n| n.text())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let base = match base {
        Some(b) => HttpUrl::parse(b)?.on_host(host)?,
        None => location.clone(),
    };
    let mut best: Option<(usize, WanService)> = None;
    for service in doc
        .descendants()
        .filter(|n| n.has_tag_name_local("service"))
    {
        let child = |name: &str| {
            service
                .children()
                .find(|c| c.has_tag_name_local(name))
                .and_then(|c| c.text())
                .map(str::trim)
        };
        let (Some(kind), Some(control)) = (child("serviceType"), child("controlURL")) else {
            continue;
        };
        let Some(rank) = SERVICES.iter().position(|s| *s == kind) else {
            continue;
        };
        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
            best = Some((
                rank,
                WanService {
                    control: base.join(control)?.on_host(host)?,
                    service_type: kind.to_string(),
                },
            ));
        }
    }
    best.map(|(_, s)| s).ok_or(UpnpError::NoWanService)
}

trait LocalName {
    fn has_tag_name_local(&self, name: &str) -> bool;
}

impl LocalName for roxmltree::Node<'_, '_> {
    fn has_tag_name_local(&self, name: &str) -> bool {
        self.is_element() && self.tag_name().name() == name
    }
}

// === SOAP ===

/// A SOAP action ready to POST: the `SOAPAction` header value and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapRequest {
    pub action: &'static str,
    pub soap_action: String,
    pub body: String,
}

/// Builds the envelope for `action` with its arguments, in order.
pub fn soap_request(
    service_type: &str,
    action: &'static str,
    args: &[(&str, String)],
) -> SoapRequest {
    let mut body = format!(
        "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:{action} xmlns:u=\"{service_type}\">"
    );
    for (name, value) in args {
        body.push_str(&format!("<{name}>{}</{name}>", escape(value)));
    }
    body.push_str(&format!("</u:{action}></s:Body></s:Envelope>\r\n"));
    SoapRequest {
        action,
        soap_action: format!("\"{service_type}#{action}\""),
        body,
    }
}

/// The arguments of an AddPortMapping (or, on IGD v2, AddAnyPortMapping)
/// for a UDP mapping of `external` to `internal` at `client`.
pub fn add_port_mapping(
    service: &WanService,
    any: bool,
    external: u16,
    client: Ipv4Addr,
    internal: u16,
    lease_secs: u32,
) -> SoapRequest {
    soap_request(
        &service.service_type,
        if any {
            "AddAnyPortMapping"
        } else {
            "AddPortMapping"
        },
        &[
            ("NewRemoteHost", String::new()),
            ("NewExternalPort", external.to_string()),
            ("NewProtocol", "UDP".into()),
            ("NewInternalPort", internal.to_string()),
            ("NewInternalClient", client.to_string()),
            ("NewEnabled", "1".into()),
            ("NewPortMappingDescription", "wingress".into()),
            ("NewLeaseDuration", lease_secs.to_string()),
        ],
    )
}

pub fn get_external_ip(service: &WanService) -> SoapRequest {
    soap_request(&service.service_type, "GetExternalIPAddress", &[])
}

pub fn get_mapping(service: &WanService, external: u16) -> SoapRequest {
    soap_request(
        &service.service_type,
        "GetSpecificPortMappingEntry",
        &[
            ("NewRemoteHost", String::new()),
            ("NewExternalPort", external.to_string()),
            ("NewProtocol", "UDP".into()),
        ],
    )
}

pub fn delete_port_mapping(service: &WanService, external: u16) -> SoapRequest {
    soap_request(
        &service.service_type,
        "DeletePortMapping",
        &[
            ("NewRemoteHost", String::new()),
            ("NewExternalPort", external.to_string()),
            ("NewProtocol", "UDP".into()),
        ],
    )
}

/// The out-arguments of a SOAP reply to `action` (name, text), or its fault.
pub fn parse_soap_response(
    status: u16,
    body: &str,
    action: &str,
) -> Result<Vec<(String, String)>, UpnpError> {
    let doc = roxmltree::Document::parse(body);
    if status == 200 {
        let doc = doc.map_err(|e| UpnpError::Xml(e.to_string()))?;
        let want = format!("{action}Response");
        let reply = doc
            .descendants()
            .find(|n| n.has_tag_name_local(&want))
            .ok_or(UpnpError::Missing("response element"))?;
        return Ok(reply
            .children()
            .filter(|c| c.is_element())
            .map(|c| {
                (
                    c.tag_name().name().to_string(),
                    c.text().unwrap_or("").trim().to_string(),
                )
            })
            .collect());
    }
    let fault = doc.ok().and_then(|doc| {
        let text = |name: &str| {
            doc.descendants()
                .find(|n| n.has_tag_name_local(name))
                .and_then(|n| n.text())
                .map(|t| t.trim().to_string())
        };
        let code = text("errorCode")?.parse().ok()?;
        Some(UpnpError::Fault {
            code,
            description: text("errorDescription").unwrap_or_default(),
        })
    });
    Err(fault.unwrap_or(UpnpError::Status(status)))
}

/// The value of out-argument `name`.
pub fn argument<'a>(args: &'a [(String, String)], name: &str) -> Option<&'a str> {
    args.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
#[path = "upnp_tests.rs"]
mod tests;
