//! One UPnP IGD exchange: find the gateway (SSDP search, then its device
//! description) unless already known, then the SOAP calls for the purpose.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::{Ctx, Done, Grant, HttpResponse, Output, Purpose, Retx, Target};
use crate::upnp::{self, HttpUrl, UpnpError, WanService};

/// How long one HTTP request may take before the exchange gives up on it.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// A deletion at shutdown gets less.
const HTTP_TIMEOUT_DELETE: Duration = Duration::from_secs(2);
/// SSDP searches sent (250 ms, 500 ms apart), then 1 s for answers.
const SEARCHES: u32 = 3;
/// Other ports asked for after the gateway says ours is taken (IGD v1,
/// which has no AddAnyPortMapping).
const MAX_CONFLICTS: u16 = 4;

const CONFLICT_IN_MAPPING_ENTRY: u16 = 718;
const NO_SUCH_ENTRY: u16 = 714;
const ONLY_PERMANENT_LEASES: u16 = 725;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Search,
    Describe,
    ExternalIp,
    Add,
    AddAny,
    Check,
    Delete,
}

pub(super) struct IgdExchange {
    purpose: Purpose,
    step: Step,
    search: Option<Vec<(SocketAddrV4, Retx)>>,
    /// The request in flight: its id and deadline.
    http: Option<(u64, Instant)>,
    location: Option<HttpUrl>,
    service: Option<WanService>,
    external_ip: Option<Ipv4Addr>,
    port: u16,
    conflicts: u16,
    lease_secs: u32,
    /// SSDP answers not from the gateway or not about it, for the error
    /// when no good one comes.
    ignored: u32,
}

impl IgdExchange {
    pub(super) fn start(purpose: Purpose, target: Target, cx: &mut Ctx<'_>) -> IgdExchange {
        let mut x = IgdExchange {
            purpose,
            step: Step::Search,
            search: None,
            http: None,
            location: None,
            service: target.service,
            external_ip: target.external_ip,
            port: target.external_port,
            conflicts: 0,
            lease_secs: u32::try_from(cx.cfg.lease.as_secs())
                .unwrap_or(u32::MAX)
                .max(1),
            ignored: 0,
        };
        if x.service.is_some() {
            x.begin_soap(cx);
        } else {
            // To the multicast group and to the gateway itself: some
            // gateways answer only one of the two.
            let mut searches = Vec::new();
            for to in [
                upnp::SSDP_ADDR,
                SocketAddrV4::new(cx.cfg.gateway, upnp::SSDP_ADDR.port()),
            ] {
                for target in upnp::SEARCH_TARGETS {
                    let mut r = Retx::new(upnp::msearch(target), SEARCHES, cx.now);
                    if let Some(bytes) = r.due(cx.now) {
                        cx.out.push_back(Output::Ssdp { to, bytes });
                    }
                    searches.push((to, r));
                }
            }
            x.search = Some(searches);
        }
        x
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        match (&self.http, &self.search) {
            (Some((_, at)), _) => Some(*at),
            (None, Some(s)) => s.iter().map(|(_, r)| r.next_at).min(),
            (None, None) => None,
        }
    }

    pub(super) fn handle_timeout(&mut self, cx: &mut Ctx<'_>) -> Option<Done> {
        if let Some((_, at)) = self.http {
            if cx.now >= at {
                return fail(format!("no HTTP answer from the gateway ({:?})", self.step));
            }
            return None;
        }
        let searches = self.search.as_mut()?;
        if searches.iter().all(|(_, r)| r.expired(cx.now)) {
            let ignored = match self.ignored {
                0 => String::new(),
                1 => " (1 answer from other hosts ignored)".into(),
                n => format!(" ({n} answers from other hosts ignored)"),
            };
            return fail(format!(
                "the gateway {} did not answer the SSDP search{ignored}",
                cx.cfg.gateway
            ));
        }
        for (to, r) in searches.iter_mut() {
            if let Some(bytes) = r.due(cx.now) {
                cx.out.push_back(Output::Ssdp { to: *to, bytes });
            }
        }
        None
    }

    pub(super) fn handle_ssdp(
        &mut self,
        cx: &mut Ctx<'_>,
        from: SocketAddrV4,
        data: &[u8],
    ) -> Option<Done> {
        if self.step != Step::Search {
            return None;
        }
        let url = match upnp::gateway_location(data, from, cx.cfg.gateway) {
            Ok(url) => url,
            Err(UpnpError::NotGateway { .. }) => {
                self.ignored = self.ignored.saturating_add(1);
                return None;
            }
            Err(_) => return None,
        };
        self.search = None;
        self.step = Step::Describe;
        self.location = Some(url.clone());
        self.send(cx, url, None);
        None
    }

    pub(super) fn handle_http(
        &mut self,
        cx: &mut Ctx<'_>,
        id: u64,
        result: &Result<HttpResponse, String>,
    ) -> Option<Done> {
        if self.http.map(|(i, _)| i) != Some(id) {
            return None;
        }
        self.http = None;
        let response = match result {
            Ok(r) => r,
            Err(e) => return fail(format!("HTTP request to the gateway failed: {e}")),
        };
        match self.step {
            Step::Search => None,
            Step::Describe => {
                if response.status != 200 {
                    return fail(format!(
                        "device description: HTTP status {}",
                        response.status
                    ));
                }
                let location = self.location.clone()?;
                match upnp::parse_description(&response.body, &location) {
                    Ok(service) => {
                        self.service = Some(service);
                        self.begin_soap(cx);
                        None
                    }
                    Err(e) => fail(e.to_string()),
                }
            }
            Step::ExternalIp => {
                let args = match self.soap_result(response, "GetExternalIPAddress") {
                    Ok(a) => a,
                    Err(e) => return fail(e.to_string()),
                };
                let ip = upnp::argument(&args, "NewExternalIPAddress").and_then(|s| s.parse().ok());
                match ip {
                    Some(ip) if ip != Ipv4Addr::UNSPECIFIED => {
                        self.external_ip = Some(ip);
                        self.add(cx, false);
                        None
                    }
                    _ => fail("the gateway reports no external IPv4 address".into()),
                }
            }
            Step::Add | Step::AddAny => self.after_add(cx, response),
            Step::Check => match self.soap_result(response, "GetSpecificPortMappingEntry") {
                Ok(args) => {
                    let client = upnp::argument(&args, "NewInternalClient").unwrap_or("");
                    let port =
                        upnp::argument(&args, "NewInternalPort").and_then(|p| p.parse().ok());
                    if client == cx.cfg.client.to_string() && port == Some(cx.cfg.internal_port) {
                        Some(Done::Intact {
                            epoch: None,
                            external_ip: None,
                        })
                    } else {
                        Some(Done::Gone(format!(
                            "external port {} now leads to {client}:{}",
                            self.port,
                            port.unwrap_or(0)
                        )))
                    }
                }
                Err(UpnpError::Fault {
                    code: NO_SUCH_ENTRY,
                    ..
                }) => Some(Done::Gone("the gateway no longer has the mapping".into())),
                Err(e) => fail(e.to_string()),
            },
            Step::Delete => match self.soap_result(response, "DeletePortMapping") {
                Ok(_)
                | Err(UpnpError::Fault {
                    code: NO_SUCH_ENTRY,
                    ..
                }) => Some(Done::Deleted),
                Err(e) => fail(e.to_string()),
            },
        }
    }

    fn after_add(&mut self, cx: &mut Ctx<'_>, response: &HttpResponse) -> Option<Done> {
        let action = if self.step == Step::AddAny {
            "AddAnyPortMapping"
        } else {
            "AddPortMapping"
        };
        match self.soap_result(response, action) {
            Ok(args) => {
                if self.step == Step::AddAny {
                    match upnp::argument(&args, "NewReservedPort").and_then(|p| p.parse().ok()) {
                        Some(p) => self.port = p,
                        None => return fail("AddAnyPortMapping returned no port".into()),
                    }
                }
                // A permanent mapping (lease 0) is still refreshed on the
                // configured schedule.
                let lifetime = match self.lease_secs {
                    0 => cx.cfg.lease,
                    s => Duration::from_secs(s.into()),
                };
                Some(Done::Granted(Grant {
                    external: SocketAddrV4::new(self.external_ip?, self.port),
                    lifetime,
                    epoch: None,
                    service: self.service.clone(),
                }))
            }
            Err(UpnpError::Fault {
                code: ONLY_PERMANENT_LEASES,
                ..
            }) if self.lease_secs != 0 => {
                self.lease_secs = 0;
                self.add(cx, self.step == Step::AddAny);
                None
            }
            Err(UpnpError::Fault {
                code: CONFLICT_IN_MAPPING_ENTRY,
                ..
            }) if self.purpose == Purpose::Map => {
                // Our port is taken: IGD v2 picks a free one for us; on v1,
                // try the next few ports.
                let v2 = self
                    .service
                    .as_ref()
                    .is_some_and(|s| s.service_type.ends_with(":2"));
                if v2 && self.step == Step::Add {
                    self.add(cx, true);
                    None
                } else if self.conflicts < MAX_CONFLICTS {
                    self.conflicts += 1;
                    self.port = self.port.checked_add(1).unwrap_or(1024);
                    self.add(cx, false);
                    None
                } else {
                    Some(Done::Failed {
                        error: format!("ports up to {} are taken on the gateway", self.port),
                        refused: false,
                    })
                }
            }
            Err(e) => fail(e.to_string()),
        }
    }

    fn begin_soap(&mut self, cx: &mut Ctx<'_>) {
        match self.purpose {
            Purpose::Map | Purpose::Renew => {
                self.step = Step::ExternalIp;
                let Some(s) = &self.service else { return };
                let req = upnp::get_external_ip(s);
                let url = s.control.clone();
                self.send(cx, url, Some(req));
            }
            Purpose::Check => {
                self.step = Step::Check;
                let Some(s) = &self.service else { return };
                let (url, req) = (s.control.clone(), upnp::get_mapping(s, self.port));
                self.send(cx, url, Some(req));
            }
            Purpose::Delete => {
                self.step = Step::Delete;
                let Some(s) = &self.service else { return };
                let (url, req) = (s.control.clone(), upnp::delete_port_mapping(s, self.port));
                self.send(cx, url, Some(req));
            }
        }
    }

    fn add(&mut self, cx: &mut Ctx<'_>, any: bool) {
        let Some(s) = &self.service else { return };
        self.step = if any { Step::AddAny } else { Step::Add };
        let req = upnp::add_port_mapping(
            s,
            any,
            self.port,
            cx.cfg.client,
            cx.cfg.internal_port,
            self.lease_secs,
        );
        let url = s.control.clone();
        self.send(cx, url, Some(req));
    }

    fn send(&mut self, cx: &mut Ctx<'_>, url: HttpUrl, soap: Option<upnp::SoapRequest>) {
        let limit = if self.purpose == Purpose::Delete {
            HTTP_TIMEOUT_DELETE
        } else {
            HTTP_TIMEOUT
        };
        let id = cx.http(url, soap);
        self.http = Some((id, cx.now + limit));
    }

    fn soap_result(
        &self,
        response: &HttpResponse,
        action: &str,
    ) -> Result<Vec<(String, String)>, UpnpError> {
        upnp::parse_soap_response(response.status, &response.body, action)
    }
}

fn fail(error: String) -> Option<Done> {
    Some(Done::Failed {
        error,
        refused: false,
    })
}
