//! The dns-01 propagation check: the CA is told to look only once every
//! authoritative server of the zone answers with the TXT record, since it
//! may ask any of them.
//!
//! The servers are found through the configured server alone (never the
//! host's resolver): the zone's NS records, each name server's addresses
//! from the glue or from A and AAAA queries. An address equal to the
//! configured server's IP is asked at the configured port (a server on a
//! test or non-standard port lists itself in its own NS set), every other
//! one at port 53. The configured server is always asked too: the update
//! went there, and it is authoritative for the zone even when the NS set
//! does not name it (a hidden primary).

use std::net::{IpAddr, SocketAddr};

use tokio::task::JoinSet;
use tokio::time::Instant;
use wingress_dns::Name;

use super::dns::{self, DnsError, Rfc2136};

/// How often the servers that do not have the record yet are asked again.
const POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// One authoritative server the check waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthServer {
    /// The NS name it was found under; `None` for the configured server
    /// when the NS set does not list its address.
    pub(crate) name: Option<String>,
    pub(crate) addr: SocketAddr,
}

impl std::fmt::Display for AuthServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} ({})", self.addr),
            None => write!(f, "{} (the configured server)", self.addr),
        }
    }
}

/// A server still waited for, with what it answered last.
#[derive(Debug)]
pub(crate) struct Waiting {
    pub(crate) server: AuthServer,
    pub(crate) last: String,
}

/// The servers to ask: the configured one first, then each name server
/// address (name servers without one are the caller's to report).
/// Duplicates are merged; the configured server takes the NS name listing
/// its address.
pub(crate) fn server_set(
    configured: SocketAddr,
    nameservers: &[(Name, Vec<IpAddr>)],
) -> Vec<AuthServer> {
    let mut out = vec![AuthServer {
        name: None,
        addr: configured,
    }];
    for (name, ips) in nameservers {
        for &ip in ips {
            let addr = if ip == configured.ip() {
                configured
            } else {
                SocketAddr::new(ip, 53)
            };
            match out.iter_mut().find(|s| s.addr == addr) {
                Some(known) => {
                    known.name.get_or_insert_with(|| name.to_string());
                }
                None => out.push(AuthServer {
                    name: Some(name.to_string()),
                    addr,
                }),
            }
        }
    }
    out
}

/// The zone's authoritative servers, found through the configured server.
/// A name server without an address there is logged (once per check) and
/// skipped; without an NS set, the configured server alone is asked.
pub(crate) async fn authoritative_servers(dns: &Rfc2136) -> Vec<AuthServer> {
    let mut nameservers = match dns.nameservers().await {
        Ok(found) => found,
        Err(error) => {
            tracing::debug!(zone = dns.zone(), %error, "cannot read the zone's NS records; checking the configured server only");
            Vec::new()
        }
    };
    if nameservers.is_empty() {
        tracing::debug!(
            zone = dns.zone(),
            "no NS records for the zone; checking the configured server only"
        );
    }
    for (name, ips) in &mut nameservers {
        if ips.is_empty() {
            *ips = dns.addresses(name).await;
        }
        if ips.is_empty() {
            tracing::warn!(zone = dns.zone(), nameserver = %name, "the configured dns server knows no address for this name server; the dns-01 check skips it");
        }
    }
    server_set(dns.server(), &nameservers)
}

/// Asks `servers` for `value` at `record` until each has answered
/// authoritatively with it, or `deadline`; then `Err` with the servers
/// still waited for. A server no socket can reach from this host (no
/// route, no IPv6) is logged and dropped; one that times out or answers
/// without the value is asked again.
pub(crate) async fn wait_for_txt(
    servers: Vec<AuthServer>,
    record: &str,
    value: &str,
    deadline: Instant,
) -> Result<(), Vec<Waiting>> {
    let mut waiting: Vec<Waiting> = servers
        .into_iter()
        .map(|server| Waiting {
            server,
            last: "no answer yet".into(),
        })
        .collect();
    loop {
        let mut round = JoinSet::new();
        for (i, w) in waiting.iter().enumerate() {
            let (addr, record) = (w.server.addr, record.to_owned());
            round.spawn(async move { (i, dns::txt_values(addr, &record).await) });
        }
        let mut answered = vec![false; waiting.len()];
        let mut unreachable = vec![false; waiting.len()];
        let collect = async {
            while let Some(Ok((i, result))) = round.join_next().await {
                let w = &mut waiting[i];
                match result {
                    Ok(values) if values.iter().any(|v| v == value) => {
                        tracing::debug!(record, server = %w.server, "the dns-01 TXT record is on this server");
                        answered[i] = true;
                    }
                    Ok(_) => w.last = "answers without the value".into(),
                    Err(error @ DnsError::Unreachable { .. }) => {
                        tracing::warn!(record, server = %w.server, %error, "the dns-01 check skips an authoritative server this host cannot reach");
                        unreachable[i] = true;
                    }
                    Err(error) => {
                        tracing::debug!(record, server = %w.server, %error, "dns-01 propagation check");
                        w.last = error.to_string();
                    }
                }
            }
        };
        // A round cut short by the deadline leaves its servers waiting
        // (dropping the set aborts their queries).
        let finished = tokio::time::timeout_at(deadline, collect).await.is_ok();
        let mut i = 0;
        waiting.retain(|_| {
            i += 1;
            !answered[i - 1] && !unreachable[i - 1]
        });
        if waiting.is_empty() {
            return Ok(());
        }
        if !finished || Instant::now() + POLL >= deadline {
            return Err(waiting);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The servers waited for, as one line for errors: each with what it
/// answered last.
pub(crate) fn describe(waiting: &[Waiting]) -> String {
    waiting
        .iter()
        .map(|w| format!("{}: {}", w.server, w.last))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The servers as one line for logs.
pub(crate) fn list(servers: &[AuthServer]) -> String {
    servers
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[path = "propagation_tests.rs"]
mod tests;
