//! `[dns]`: the in-tunnel DNS server on tunnel port 53 (UDP and TCP).
//!
//! It answers A/AAAA for every route host with the daemon's tunnel
//! address, NXDOMAIN for other names under the route domains, and passes
//! every other name to upstream resolvers (or refuses it). The records
//! themselves are not config: they follow from the routes.

use std::net::{IpAddr, SocketAddr};

use crate::cursor::Table;
use crate::entrypoint::EntrypointConfig;
use crate::error::{Diagnostics, Span};
use crate::ingress_values::{check_dns_name, Listen};

/// The port DNS clients ask.
pub const DNS_PORT: u16 = 53;

/// Seconds clients may cache an answer about a route host (and, as the
/// SOA minimum, a "no such name"). Short, so that a reload that adds or
/// removes a route is seen within a minute.
pub const DEFAULT_DNS_TTL: u32 = 60;

/// `[dns]`, with its defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Whether tunnel port 53 answers. Written as `enabled`; by default on
    /// when the config has `[[route]]`s (clients need the names to reach
    /// them, and `wingress peer add` hands out `DNS = <tunnel address>`)
    /// and tunnel port 53 is not already a `[[tcp]]`/`[[udp]]` service or
    /// an entrypoint (existing configs keep working as written). Off with no
    /// routes: there would be nothing to answer but forwarded names.
    pub enabled: bool,
    /// What happens to names outside the route domains.
    pub forward: DnsForward,
    /// The domains answered with authority (unknown names in them get
    /// NXDOMAIN). `None`: those of the route hosts (`grafana.home.arpa` →
    /// `home.arpa`). Lowercase, without a trailing dot.
    pub domains: Option<Vec<String>>,
    /// TTL of the answers, seconds.
    pub ttl: u32,
}

/// `forward`: where names outside the route domains go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsForward {
    /// `"system"` (the default): the host's resolvers, the `nameserver`
    /// lines of /etc/resolv.conf, read by the daemon.
    System,
    /// `"refuse"`: answer REFUSED; clients then use only the route names.
    Refuse,
    /// `["10.0.0.53", "[fd00::53]:5353"]`: these servers, in order (port 53
    /// unless given).
    Servers(Vec<SocketAddr>),
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            enabled: false,
            forward: DnsForward::System,
            domains: None,
            ttl: DEFAULT_DNS_TTL,
        }
    }
}

/// What `[dns]` needs from the rest of the config: who else uses tunnel
/// port 53, and whether there are routes.
pub(crate) struct DnsContext<'c> {
    pub(crate) has_routes: bool,
    pub(crate) tcp_ports: &'c [(u16, Span)],
    pub(crate) udp_ports: &'c [(u16, Span)],
    pub(crate) entrypoints: &'c [EntrypointConfig],
}

pub(crate) fn parse_dns(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    cx: &DnsContext<'_>,
) -> DnsConfig {
    let mut config = DnsConfig::default();
    let taken = port_53_user(d, cx);
    let Some(mut t) = root.optional_table(d, "dns") else {
        config.enabled = cx.has_routes && taken.is_none();
        return config;
    };
    let enabled = t.optional_bool(d, "enabled");
    let forward = if t.is_array("forward") {
        t.optional_str_list(d, "forward").map(|list| {
            let servers = list.value;
            if servers.is_empty() {
                d.error(
                    &list.span,
                    "forward: the server list is empty; write forward = \"refuse\" to refuse \
                     other names",
                );
            }
            let mut out = Vec::new();
            for s in servers {
                match parse_server_addr(s.value) {
                    Ok(addr) => out.push(addr),
                    Err(e) => d.error(&s.span, format!("forward: {e}")),
                }
            }
            DnsForward::Servers(out)
        })
    } else {
        t.optional_with(d, "forward", parse_forward_word)
            .map(|s| s.value)
    };
    let domains = t.optional_str_array(d, "domains").map(|names| {
        let mut out: Vec<String> = Vec::new();
        for n in names {
            let name = n
                .value
                .strip_suffix('.')
                .unwrap_or(n.value)
                .to_ascii_lowercase();
            match check_dns_name(&name) {
                Ok(()) if out.contains(&name) => {
                    d.error(&n.span, format!("domains: `{name}` is listed twice"))
                }
                Ok(()) => out.push(name),
                Err(e) => d.error(&n.span, format!("domains: {e}")),
            }
        }
        out
    });
    let ttl = t.optional_u16(d, "ttl", 0..=u16::MAX);
    t.finish(d);

    config.enabled = match &enabled {
        Some(e) => {
            if let (true, Some(why)) = (e.value, &taken) {
                d.error(&e.span, format!("enabled: {why}; DNS needs it"));
            }
            e.value
        }
        None => cx.has_routes && taken.is_none(),
    };
    if let Some(f) = forward {
        config.forward = f;
    }
    config.domains = domains;
    if let Some(ttl) = ttl {
        config.ttl = u32::from(ttl.value);
    }
    config
}

/// Who else has tunnel port 53, as a message: "tunnel port 53 is already
/// used by [[udp]] on line 12".
fn port_53_user(d: &Diagnostics<'_>, cx: &DnsContext<'_>) -> Option<String> {
    for (table, ports) in [("[[tcp]]", cx.tcp_ports), ("[[udp]]", cx.udp_ports)] {
        if let Some((_, span)) = ports.iter().find(|(p, _)| *p == DNS_PORT) {
            let line = d.line_of(span);
            return Some(format!(
                "tunnel port {DNS_PORT} is already used by {table} on line {line}"
            ));
        }
    }
    cx.entrypoints
        .iter()
        .find(|e| e.listen == Listen::Tunnel { port: DNS_PORT })
        .map(|e| {
            format!(
                "tunnel port {DNS_PORT} is already used by entrypoint `{}`",
                e.name
            )
        })
}

fn parse_forward_word(s: &str) -> Result<DnsForward, String> {
    match s {
        "system" => Ok(DnsForward::System),
        "refuse" => Ok(DnsForward::Refuse),
        _ if parse_server_addr(s).is_ok() => Err(format!(
            "servers are written as a list: forward = [\"{s}\"]"
        )),
        _ => Err(format!(
            "`{s}` is not \"system\", \"refuse\" or a list of server addresses"
        )),
    }
}

/// `10.0.0.53`, `10.0.0.53:5353`, `fd00::53` or `[fd00::53]:5353`.
fn parse_server_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DNS_PORT));
    }
    match s.parse::<SocketAddr>() {
        Ok(a) if a.port() != 0 => Ok(a),
        Ok(_) => Err(format!("`{s}`: port 0 is not a DNS server port")),
        Err(_) => Err(format!(
            "`{s}` is not a server address (an IP address, optionally with :port; \
             IPv6 with a port as [addr]:port)"
        )),
    }
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
