//! One PCP or NAT-PMP exchange with the gateway: the request(s) for a
//! purpose, resent until answered, and what the answers mean.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::{Ctx, Done, Grant, Output, Protocol, Purpose, Retx, Target};
use crate::natpmp::{self, NatPmpError};
use crate::pcp::{self, MapRequest, PcpError};

/// Sends per request: a first mapping gives up after 3.75 s (the gateway
/// is on the LAN; a silent one does not speak the protocol), upkeep
/// retries longer, a deletion at shutdown shorter.
fn sends(purpose: Purpose) -> u32 {
    match purpose {
        Purpose::Map => 4,
        Purpose::Renew | Purpose::Check => 6,
        Purpose::Delete => 3,
    }
}

struct Slot {
    retx: Retx,
    answered: bool,
}

impl Slot {
    fn new(bytes: Vec<u8>, purpose: Purpose, now: Instant) -> Slot {
        Slot {
            retx: Retx::new(bytes, sends(purpose), now),
            answered: false,
        }
    }
}

pub(super) struct PmpExchange {
    protocol: Protocol,
    purpose: Purpose,
    /// The MAP, ANNOUNCE or NAT-PMP request the purpose needs.
    main: Slot,
    /// NAT-PMP's external-address request, which a NAT-PMP mapping needs
    /// for the address half of the endpoint.
    address: Option<Slot>,
    pcp: Option<MapRequest>,
    /// External port, lifetime and epoch of the NAT-PMP mapping.
    mapped: Option<(u16, u32, u32)>,
    external_ip: Option<(Ipv4Addr, u32)>,
}

impl PmpExchange {
    pub(super) fn start(
        protocol: Protocol,
        purpose: Purpose,
        target: Target,
        cx: &mut Ctx<'_>,
    ) -> PmpExchange {
        let cfg = cx.cfg;
        let lease = u32::try_from(cfg.lease.as_secs())
            .unwrap_or(u32::MAX)
            .max(1);
        let suggested = if target.any_port {
            0
        } else {
            target.external_port
        };
        let mut pcp = None;
        let (main, address) = match (protocol, purpose) {
            (Protocol::Pcp, Purpose::Check) => (pcp::announce_request(cfg.client).to_vec(), None),
            (Protocol::Pcp, _) => {
                let req = MapRequest {
                    client: cfg.client,
                    nonce: target.nonce,
                    internal_port: cfg.internal_port,
                    suggested_external_port: suggested,
                    suggested_external_address: target.external_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
                    lifetime_secs: if purpose == Purpose::Delete { 0 } else { lease },
                };
                pcp = Some(req);
                (req.encode().to_vec(), None)
            }
            (_, Purpose::Check) => (natpmp::external_address_request().to_vec(), None),
            (_, Purpose::Delete) => (natpmp::map_request(cfg.internal_port, 0, 0).to_vec(), None),
            (_, _) => (
                natpmp::map_request(cfg.internal_port, suggested, lease).to_vec(),
                Some(natpmp::external_address_request().to_vec()),
            ),
        };
        let mut x = PmpExchange {
            protocol,
            purpose,
            main: Slot::new(main, purpose, cx.now),
            address: address.map(|a| Slot::new(a, purpose, cx.now)),
            pcp,
            mapped: None,
            external_ip: None,
        };
        x.send_due(cx);
        x
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        [Some(&self.main), self.address.as_ref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.answered)
            .map(|s| s.retx.next_at)
            .min()
    }

    fn send_due(&mut self, cx: &mut Ctx<'_>) {
        for slot in [Some(&mut self.main), self.address.as_mut()]
            .into_iter()
            .flatten()
        {
            if !slot.answered {
                if let Some(bytes) = slot.retx.due(cx.now) {
                    cx.out.push_back(Output::Pmp(bytes));
                }
            }
        }
    }

    pub(super) fn handle_timeout(&mut self, cx: &mut Ctx<'_>) -> Option<Done> {
        let expired = [Some(&self.main), self.address.as_ref()]
            .into_iter()
            .flatten()
            .any(|s| !s.answered && s.retx.expired(cx.now));
        if expired {
            return Some(Done::Failed {
                error: format!(
                    "no answer from {} after {} tries",
                    SocketAddrV4::new(cx.cfg.gateway, natpmp::SERVER_PORT),
                    sends(self.purpose)
                ),
                refused: false,
            });
        }
        self.send_due(cx);
        None
    }

    pub(super) fn handle(&mut self, cx: &mut Ctx<'_>, data: &[u8]) -> Option<Done> {
        match self.protocol {
            Protocol::Pcp => self.handle_pcp(cx, data),
            _ => self.handle_natpmp(cx, data),
        }
    }

    fn handle_pcp(&mut self, cx: &mut Ctx<'_>, data: &[u8]) -> Option<Done> {
        let failed = |error: String, refused| Some(Done::Failed { error, refused });
        match pcp::parse_response(data) {
            Ok(pcp::Response::Announce { epoch }) if self.purpose == Purpose::Check => {
                Some(Done::Intact {
                    epoch: Some(epoch),
                    external_ip: None,
                })
            }
            Ok(pcp::Response::Map {
                epoch,
                lifetime_secs,
                nonce,
                internal_port,
                external_port,
                external_address,
            }) => {
                let ours = self.pcp.is_some_and(|r| r.nonce == nonce)
                    && internal_port == cx.cfg.internal_port;
                if !ours || self.purpose == Purpose::Check {
                    return None;
                }
                if self.purpose == Purpose::Delete {
                    // RFC 6887 §15: the answer to a delete has lifetime 0.
                    // A lifetime is the late answer to the renewal that was
                    // in flight when the release began (same nonce, same
                    // opcode): the delete is still unanswered.
                    return (lifetime_secs == 0).then_some(Done::Deleted);
                }
                let Some(ip) = external_address.filter(|ip| !ip.is_unspecified()) else {
                    return failed("the gateway gave no IPv4 external address".into(), false);
                };
                Some(Done::Granted(Grant {
                    external: SocketAddrV4::new(ip, external_port),
                    lifetime: Duration::from_secs(lifetime_secs.into()),
                    epoch: Some(epoch),
                    service: None,
                }))
            }
            Ok(pcp::Response::Announce { .. }) => None,
            // RFC 6886 §3.5: a NAT-PMP-only gateway answers "unsupported
            // version" in its own format. Other versions are noise.
            Err(PcpError::Version(0))
                if data.len() >= 4 && data[1] >= 128 && data[2..4] == [0, 1] =>
            {
                failed("the gateway speaks NAT-PMP, not PCP".into(), false)
            }
            Err(PcpError::Result { code, .. })
                if self.purpose == Purpose::Check && code == pcp::ResultCode::UnsupportedOpcode =>
            {
                // No ANNOUNCE support: nothing to learn, nothing wrong.
                Some(Done::Intact {
                    epoch: None,
                    external_ip: None,
                })
            }
            Err(PcpError::Result { code, .. }) => {
                let refused = matches!(
                    code,
                    pcp::ResultCode::NotAuthorized
                        | pcp::ResultCode::CannotProvideExternal
                        | pcp::ResultCode::NoResources
                );
                failed(format!("the gateway answered {code}"), refused)
            }
            // Not an answer to us: keep waiting.
            Err(_) => None,
        }
    }

    fn handle_natpmp(&mut self, cx: &mut Ctx<'_>, data: &[u8]) -> Option<Done> {
        match natpmp::parse_response(data) {
            Ok(natpmp::Response::ExternalAddress { epoch, address }) => {
                let slot = match (&mut self.address, self.purpose) {
                    (Some(s), _) => s,
                    (None, Purpose::Check) => &mut self.main,
                    (None, _) => return None,
                };
                slot.answered = true;
                self.external_ip = Some((address, epoch));
            }
            Ok(natpmp::Response::Mapped {
                epoch,
                internal_port,
                external_port,
                lifetime_secs,
            }) => {
                if internal_port != cx.cfg.internal_port || self.purpose == Purpose::Check {
                    return None;
                }
                // RFC 6886 §3.4: a deletion is answered with lifetime 0; a
                // lifetime answers an earlier (renewal) request.
                if self.purpose == Purpose::Delete && lifetime_secs != 0 {
                    return None;
                }
                self.main.answered = true;
                self.mapped = Some((external_port, lifetime_secs, epoch));
            }
            Err(NatPmpError::Result(code)) => {
                let refused = matches!(
                    code,
                    natpmp::ResultCode::NotAuthorized | natpmp::ResultCode::OutOfResources
                );
                return Some(Done::Failed {
                    error: format!("the gateway answered: {code}"),
                    refused,
                });
            }
            Err(_) => return None,
        }
        self.conclude()
    }

    /// The outcome, once every NAT-PMP request is answered.
    fn conclude(&mut self) -> Option<Done> {
        let waiting = [Some(&self.main), self.address.as_ref()]
            .into_iter()
            .flatten()
            .any(|s| !s.answered);
        if waiting {
            return None;
        }
        Some(match self.purpose {
            Purpose::Delete => Done::Deleted,
            Purpose::Check => {
                let (ip, epoch) = self.external_ip?;
                Done::Intact {
                    epoch: Some(epoch),
                    external_ip: Some(ip),
                }
            }
            Purpose::Map | Purpose::Renew => {
                let (port, lifetime, epoch) = self.mapped?;
                let (ip, _) = self.external_ip?;
                if ip.is_unspecified() {
                    return Some(Done::Failed {
                        error: "the gateway has no external address yet".into(),
                        refused: false,
                    });
                }
                Done::Granted(Grant {
                    external: SocketAddrV4::new(ip, port),
                    lifetime: Duration::from_secs(lifetime.into()),
                    epoch: Some(epoch),
                    service: None,
                })
            }
        })
    }
}
