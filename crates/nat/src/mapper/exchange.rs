//! What the protocol exchanges share: why one runs, what it is about, how
//! it ended, and the retransmission schedule.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::{igd, pmp, ActiveMapping, MapperConfig, Output, Protocol};
use crate::pcp::Nonce;
use crate::upnp::{HttpUrl, SoapRequest, WanService};

/// Why an exchange was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    Map,
    Renew,
    Check,
    Delete,
}

/// What an exchange is about: the mapping we want or have.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) external_port: u16,
    /// Let the gateway choose the port (after it refused ours).
    pub(super) any_port: bool,
    pub(super) external_ip: Option<Ipv4Addr>,
    pub(super) nonce: Nonce,
    pub(super) service: Option<WanService>,
}

impl Target {
    /// The mapping the gateway already gave us: renewed, checked or deleted
    /// at exactly its external address and port.
    pub(super) fn kept(m: &ActiveMapping, nonce: Nonce, service: &Option<WanService>) -> Self {
        Target {
            external_port: m.external.port(),
            any_port: false,
            external_ip: Some(*m.external.ip()),
            nonce,
            service: service.clone(),
        }
    }
}

/// How one exchange ended.
#[derive(Debug)]
pub(super) enum Done {
    Granted(Grant),
    /// A check found the mapping in place.
    Intact {
        epoch: Option<u32>,
        external_ip: Option<Ipv4Addr>,
    },
    /// A check found the mapping gone.
    Gone(String),
    Deleted,
    /// The exchange failed. `refused`: the gateway answered no to the
    /// port we asked for (worth asking again for any port).
    Failed {
        error: String,
        refused: bool,
    },
}

#[derive(Debug)]
pub(super) struct Grant {
    pub(super) external: SocketAddrV4,
    pub(super) lifetime: Duration,
    pub(super) epoch: Option<u32>,
    pub(super) service: Option<WanService>,
}

/// State shared by the exchanges of one call.
pub(super) struct Ctx<'a> {
    pub(super) cfg: &'a MapperConfig,
    pub(super) now: Instant,
    pub(super) out: &'a mut VecDeque<Output>,
    pub(super) next_id: &'a mut u64,
}

impl Ctx<'_> {
    pub(super) fn http(&mut self, url: HttpUrl, soap: Option<SoapRequest>) -> u64 {
        *self.next_id += 1;
        let id = *self.next_id;
        self.out.push_back(Output::Http { id, url, soap });
        id
    }
}

/// A request resent on RFC 6886's schedule (250 ms, doubling) until it is
/// answered or has gone out `max` times and the last wait passed.
#[derive(Debug)]
pub(super) struct Retx {
    pub(super) bytes: Vec<u8>,
    pub(super) sent: u32,
    pub(super) max: u32,
    pub(super) next_at: Instant,
}

pub(super) const RETX_FIRST: Duration = Duration::from_millis(250);

impl Retx {
    pub(super) fn new(bytes: Vec<u8>, max: u32, now: Instant) -> Retx {
        Retx {
            bytes,
            sent: 0,
            max,
            next_at: now,
        }
    }

    /// The bytes, when a (re)transmission is due.
    pub(super) fn due(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.sent >= self.max || now < self.next_at {
            return None;
        }
        self.sent += 1;
        self.next_at = now + RETX_FIRST * (1 << (self.sent - 1));
        Some(self.bytes.clone())
    }

    pub(super) fn expired(&self, now: Instant) -> bool {
        self.sent >= self.max && now >= self.next_at
    }
}

pub(super) enum Exchange {
    Pmp(pmp::PmpExchange),
    Igd(igd::IgdExchange),
}

impl Exchange {
    pub(super) fn start(
        protocol: Protocol,
        purpose: Purpose,
        target: Target,
        cx: &mut Ctx<'_>,
    ) -> Exchange {
        match protocol {
            Protocol::Pcp | Protocol::NatPmp => {
                Exchange::Pmp(pmp::PmpExchange::start(protocol, purpose, target, cx))
            }
            Protocol::Upnp => Exchange::Igd(igd::IgdExchange::start(purpose, target, cx)),
        }
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        match self {
            Exchange::Pmp(x) => x.deadline(),
            Exchange::Igd(x) => x.deadline(),
        }
    }
}
