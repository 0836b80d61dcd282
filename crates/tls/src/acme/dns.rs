//! dns-01 through RFC 2136: a TXT record added and removed with TSIG-signed
//! UPDATEs on the configured server, the zone's name servers and their
//! addresses asked of that server too, and the record looked for on each
//! authoritative server directly (never through the host's resolver; see
//! [`super::propagation`] for the check itself).
//!
//! The messages and their signatures are wingress-dns's (sans-IO);
//! [`Rfc2136`] and [`txt_values`] are the thin tokio driver: one UDP
//! exchange per message, retried on timeout, TCP when the answer is
//! truncated.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use wingress_dns::authority;
use wingress_dns::tsig::{self, TsigError};
use wingress_dns::update::{self, Change};
use wingress_dns::wire::{
    absolute_lower, Message, Name, Rcode, WireError, TYPE_A, TYPE_AAAA, TYPE_NS,
};

pub use wingress_dns::tsig::{TsigAlgorithm, TsigKey};

/// Each UDP attempt waits this long for the answer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const ATTEMPTS: u32 = 3;
/// TTL of the challenge record: short, so a resolver that cached it during
/// one challenge does not serve it during the next.
const RECORD_TTL: u32 = 60;

/// What can go wrong talking to the DNS server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// A name that cannot be encoded, or an answer that cannot be read.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The server rejected our signature, or its answer is not signed
    /// with our key.
    #[error(transparent)]
    Tsig(#[from] TsigError),
    #[error("dns server {server}: {source}")]
    Io {
        server: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// No socket to the server could be set up: this host has no route
    /// to it or no such address family (an IPv6 server from an IPv4-only
    /// host).
    #[error("dns server {server} cannot be reached from this host: {source}")]
    Unreachable {
        server: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("dns server {server} did not answer")]
    Timeout { server: SocketAddr },
    /// The server refused the request; `hint` says what usually causes it.
    #[error("dns server {server} answered {rcode}{tsig} to the {what}{hint}")]
    Refused {
        server: SocketAddr,
        what: String,
        rcode: &'static str,
        /// `", TSIG BADSIG"` or empty.
        tsig: String,
        hint: String,
    },
}

/// An RFC 2136 server for one zone, with the TSIG key that may update it.
#[derive(Debug, Clone)]
pub struct Rfc2136 {
    server: SocketAddr,
    zone: String,
    key: TsigKey,
}

impl Rfc2136 {
    pub fn new(server: SocketAddr, zone: &str, key: TsigKey) -> Self {
        Rfc2136 {
            server,
            zone: absolute_lower(zone),
            key,
        }
    }

    pub fn zone(&self) -> &str {
        &self.zone
    }

    /// Whether `name` lies in the zone (the zone apex included).
    pub fn contains(&self, name: &str) -> bool {
        let name = absolute_lower(name);
        name == self.zone || name.ends_with(&format!(".{}", self.zone))
    }

    /// Adds the TXT record `value` at `name`.
    pub async fn add_txt(&self, name: &str, value: &str) -> Result<(), DnsError> {
        let change = Change::AddTxt {
            name,
            ttl: RECORD_TTL,
            value,
        };
        self.update(&[change], &format!("update adding a TXT record at {name}"))
            .await
    }

    /// Removes exactly the TXT record `value` at `name` (others stay).
    pub async fn delete_txt(&self, name: &str, value: &str) -> Result<(), DnsError> {
        let change = Change::DeleteTxt { name, value };
        self.update(
            &[change],
            &format!("update removing the TXT record at {name}"),
        )
        .await
    }

    /// The configured server's address.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The zone's name servers as the configured server lists them (its
    /// answer must be authoritative), each with the addresses that answer
    /// carries as glue (often none for names outside the zone).
    pub async fn nameservers(&self) -> Result<Vec<(Name, Vec<IpAddr>)>, DnsError> {
        let query = authority::query(random_id(), &self.zone, TYPE_NS)?;
        let reply = exchange(self.server, query).await?;
        let parsed = Message::parse_response(&reply)?;
        let what = || format!("query for the NS records of {}", self.zone);
        match parsed.rcode() {
            Rcode::NoError if parsed.authoritative() => {
                Ok(authority::ns_names(&parsed, &self.zone)
                    .into_iter()
                    .map(|ns| {
                        let glue = authority::addresses(&parsed, &ns);
                        (ns, glue)
                    })
                    .collect())
            }
            Rcode::NoError => Err(refused(
                self.server,
                what(),
                Rcode::NoError,
                None,
                NOT_AUTHORITATIVE,
            )),
            rcode => Err(refused(self.server, what(), rcode, None, "")),
        }
    }

    /// The A and AAAA addresses of `host` the configured server answers
    /// with (from its zones, or its cache if it keeps one: the servers
    /// found are then asked for authoritative answers themselves). Failed
    /// queries are logged and count as no address.
    pub async fn addresses(&self, host: &Name) -> Vec<IpAddr> {
        let ask = |qtype| async move {
            let query = authority::query(random_id(), &host.to_string(), qtype)?;
            let reply = exchange(self.server, query).await?;
            let parsed = Message::parse_response(&reply)?;
            Ok::<_, DnsError>(match parsed.rcode() {
                Rcode::NoError => authority::addresses(&parsed, host),
                _ => Vec::new(),
            })
        };
        let (v4, v6) = tokio::join!(ask(TYPE_A), ask(TYPE_AAAA));
        let mut out = Vec::new();
        for result in [v4, v6] {
            match result {
                Ok(ips) => out.extend(ips),
                Err(error) => {
                    tracing::debug!(%host, %error, "address query for a name server failed")
                }
            }
        }
        out
    }

    async fn update(&self, changes: &[Change<'_>], what: &str) -> Result<(), DnsError> {
        let mut msg = update::update(random_id(), &self.zone, changes)?;
        let mac = tsig::sign(&mut msg, &self.key, unix_now())?;
        let reply = exchange(self.server, msg).await?;
        let parsed = Message::parse_response(&reply)?;
        let verified = tsig::verify(&parsed, &mac, &self.key, unix_now());
        let tsig_error = match &verified {
            Err(TsigError::Rejected { error }) => Some(*error),
            _ => None,
        };
        if parsed.rcode() != Rcode::NoError || tsig_error.is_some() {
            let hint = match (parsed.rcode(), tsig_error) {
                (_, Some("BADSIG")) => format!(
                    " (the secret of key `{}` does not match the server's)",
                    self.key.name()
                ),
                (_, Some("BADKEY")) => format!(
                    " (the server has no key `{}` with algorithm {})",
                    self.key.name(),
                    self.key.algorithm().name().trim_end_matches('.')
                ),
                (_, Some("BADTIME")) => {
                    " (this host's clock and the server's differ by more than 5 minutes)".into()
                }
                (Rcode::Refused, _) => format!(
                    " (the server's update-policy does not let key `{}` change this name)",
                    self.key.name()
                ),
                (Rcode::NotAuth, _) => format!(
                    " (the server is not authoritative for {} or does not accept this key)",
                    self.zone
                ),
                (Rcode::NotZone, _) => format!(" (the name is not in zone {})", self.zone),
                _ => String::new(),
            };
            return Err(refused(
                self.server,
                what.to_string(),
                parsed.rcode(),
                tsig_error,
                &hint,
            ));
        }
        verified.map_err(DnsError::from)
    }
}

/// The TXT values at `name` on `server`, as that server answers from its
/// own zone data (no recursion asked; the answer must be authoritative).
/// NXDOMAIN is no values: the record is not there yet.
pub(super) async fn txt_values(server: SocketAddr, name: &str) -> Result<Vec<String>, DnsError> {
    let query = update::txt_query(random_id(), name)?;
    let reply = exchange(server, query).await?;
    let parsed = Message::parse_response(&reply)?;
    let what = || format!("query for {name}");
    match parsed.rcode() {
        Rcode::NoError if parsed.authoritative() => Ok(update::txt_values(&parsed, name)),
        Rcode::NoError => Err(refused(
            server,
            what(),
            Rcode::NoError,
            None,
            NOT_AUTHORITATIVE,
        )),
        Rcode::NxDomain if parsed.authoritative() => Ok(Vec::new()),
        rcode => Err(refused(server, what(), rcode, None, "")),
    }
}

const NOT_AUTHORITATIVE: &str =
    " (the answer is not authoritative: does the server serve the zone?)";

fn refused(
    server: SocketAddr,
    what: String,
    rcode: Rcode,
    tsig: Option<&'static str>,
    hint: &str,
) -> DnsError {
    DnsError::Refused {
        server,
        what,
        rcode: rcode.name(),
        tsig: tsig.map(|t| format!(", TSIG {t}")).unwrap_or_default(),
        hint: hint.to_string(),
    }
}

/// Sends `msg` to `server` and returns the matching answer, a response
/// that parses: UDP first (retried), TCP when the UDP answer is truncated.
async fn exchange(server: SocketAddr, msg: Vec<u8>) -> Result<Vec<u8>, DnsError> {
    let io = |source| DnsError::Io { server, source };
    let unreachable = |source| DnsError::Unreachable { server, source };
    let sent = Message::parse(&msg)?;
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let sock = UdpSocket::bind(bind).await.map_err(unreachable)?;
    sock.connect(server).await.map_err(unreachable)?;
    let mut buf = vec![0u8; 4096];
    for attempt in 1..=ATTEMPTS {
        sock.send(&msg).await.map_err(io)?;
        let deadline = tokio::time::Instant::now() + ATTEMPT_TIMEOUT;
        loop {
            let n = match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
                Err(_) => break,
                Ok(Err(e)) if attempt < ATTEMPTS => {
                    // ICMP unreachable: the server may be starting; try again.
                    tracing::debug!(%server, error = %e, "dns exchange failed; retrying");
                    tokio::time::sleep_until(deadline).await;
                    break;
                }
                Ok(Err(e)) => return Err(io(e)),
                Ok(Ok(n)) => n,
            };
            // Stray datagrams (garbage, answers to other queries) are ignored.
            let Ok(parsed) = Message::parse_response(&buf[..n]) else {
                continue;
            };
            if !parsed.answers(&sent) {
                tracing::trace!(%server, "dns reply to another query ignored");
                continue;
            }
            if parsed.truncated() {
                return exchange_tcp(server, &msg).await;
            }
            return Ok(buf[..n].to_vec());
        }
    }
    Err(DnsError::Timeout { server })
}

async fn exchange_tcp(server: SocketAddr, msg: &[u8]) -> Result<Vec<u8>, DnsError> {
    let io = |source| DnsError::Io { server, source };
    let exchange = async {
        let mut s = TcpStream::connect(server).await.map_err(io)?;
        let len = u16::try_from(msg.len())
            .map_err(|_| WireError::TooLarge("message over 65535 bytes"))?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(msg);
        s.write_all(&framed).await.map_err(io)?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.map_err(io)?;
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut reply).await.map_err(io)?;
        let parsed = Message::parse_response(&reply)?;
        if !parsed.answers(&Message::parse(msg)?) {
            return Err(WireError::Malformed("answer to another query").into());
        }
        Ok(reply)
    };
    tokio::time::timeout(ATTEMPT_TIMEOUT * ATTEMPTS, exchange)
        .await
        .map_err(|_| DnsError::Timeout { server })?
}

fn random_id() -> u16 {
    let mut b = [0u8; 2];
    // An id only pairs answers with queries; TSIG is what authenticates.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    u16::from_be_bytes(b)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
