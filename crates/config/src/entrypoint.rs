//! `[[entrypoint]]`: where HTTP(S) connections arrive, the defaults used
//! when routes exist and none is written, and what routes may name.

use std::str::FromStr;

use crate::cursor::Table;
use crate::error::{Diagnostics, Span, Spanned};
use crate::ingress_values::{bare_port_hint, Listen};

/// One `[[entrypoint]]`: a listening socket for HTTPS, or for plain HTTP
/// that only redirects to HTTPS (and answers ACME HTTP-01 challenges).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrypointConfig {
    /// Unique; `[A-Za-z0-9._-]{1,64}`; routes name it in `entrypoints`.
    pub name: String,
    /// Unique among entrypoints; a tunnel port is not also a `[[tcp]]` port.
    pub listen: Listen,
    pub protocol: EntrypointProtocol,
    /// Connections open at once; more are closed as they arrive.
    pub max_connections: u32,
    /// Connections open at once from one source: a tunnel peer (however
    /// many addresses it has), or a client address on host entrypoints.
    pub max_connections_per_source: u32,
}

/// `max_connections` unless set: what a small host serves without running
/// out of memory (a TLS connection costs tens of KiB).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4096;
/// `max_connections_per_source` unless set: well above a browser's use
/// (6 connections per host over HTTP/1.1, one with HTTP/2), so one client
/// cannot take an entrypoint's whole budget.
pub const DEFAULT_MAX_CONNECTIONS_PER_SOURCE: u32 = 256;

/// The range of both connection caps.
const CONNECTIONS: std::ops::RangeInclusive<u32> = 1..=1_000_000;

/// `protocol` of an `[[entrypoint]]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum EntrypointProtocol {
    /// TLS, then the routes.
    #[default]
    Https,
    /// Plain HTTP: redirects to HTTPS, except ACME HTTP-01 challenge paths.
    Http,
}

/// The entrypoints used when routes exist but no `[[entrypoint]]` is
/// written: HTTPS on tunnel port 443, and the redirect on tunnel port 80.
pub fn default_entrypoints() -> Vec<EntrypointConfig> {
    vec![
        EntrypointConfig {
            name: "tunnel-https".to_string(),
            listen: Listen::Tunnel { port: 443 },
            protocol: EntrypointProtocol::Https,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_source: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
        },
        EntrypointConfig {
            name: "tunnel-http".to_string(),
            listen: Listen::Tunnel { port: 80 },
            protocol: EntrypointProtocol::Http,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_source: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
        },
    ]
}

// === impl EntrypointProtocol ===

impl FromStr for EntrypointProtocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "https" => Ok(EntrypointProtocol::Https),
            "http" => Ok(EntrypointProtocol::Http),
            other => Err(format!(
                "`{other}` is not an entrypoint protocol (expected \"https\" or \"http\")"
            )),
        }
    }
}

/// The entrypoints routes can name: those written (by name, with their
/// protocol when it parsed), or the defaults when none is written.
pub(crate) struct Declared {
    pub(crate) written: bool,
    pub(crate) entrypoints: Vec<(String, Option<EntrypointProtocol>)>,
    /// Whether any entrypoint may serve routes: one is https, or has a
    /// mistake (in its name or protocol) that hides what it is meant to be.
    pub(crate) may_serve_https: bool,
}

// === [[entrypoint]] ===

/// `tcp_ports`: the `[[tcp]]` listen ports, which tunnel entrypoints must
/// not take.
pub(crate) fn parse_entrypoints(
    root: &mut Table<'_>,
    d: &mut Diagnostics<'_>,
    tcp_ports: &[(u16, Span)],
) -> (Vec<EntrypointConfig>, Declared) {
    let tables = root.array_of_tables(d, "entrypoint");
    let written = !tables.is_empty();
    let mut may_serve_https = !written;
    let mut names: Vec<(String, Span)> = Vec::new();
    let mut protocols = Vec::new();
    let mut listens: Vec<(Listen, Span)> = Vec::new();
    let mut configs = Vec::new();
    for mut t in tables {
        let name = t.required_with(d, "name", parse_entrypoint_name);
        let listen = t.required_with_hint(d, "listen", str::parse::<Listen>, bare_port_hint);
        // `None` only when `protocol` is written and invalid.
        let protocol_written = t.contains("protocol");
        let protocol = match t.optional_parsed::<EntrypointProtocol>(d, "protocol") {
            Some(p) => Some(p.value),
            None if protocol_written => None,
            None => Some(EntrypointProtocol::default()),
        };
        let max_connections = t
            .optional_int(d, "max_connections", CONNECTIONS)
            .map_or(DEFAULT_MAX_CONNECTIONS, |v| v.value);
        let max_connections_per_source = t
            .optional_int(d, "max_connections_per_source", CONNECTIONS)
            .map_or(DEFAULT_MAX_CONNECTIONS_PER_SOURCE, |v| v.value);
        t.finish(d);
        if name.is_none() || protocol != Some(EntrypointProtocol::Http) {
            may_serve_https = true;
        }

        if let Some(name) = &name {
            match names.iter().find(|(other, _)| *other == name.value) {
                Some((_, first)) => {
                    let line = d.line_of(first);
                    let message = format!(
                        "name: entrypoint name `{}` is already used on line {line}",
                        name.value
                    );
                    d.error(&name.span, message);
                }
                None => {
                    names.push((name.value.clone(), name.span.clone()));
                    protocols.push((name.value.clone(), protocol));
                }
            }
        }
        if let Some(listen) = &listen {
            check_listen(d, &listens, tcp_ports, listen);
            listens.push((listen.value, listen.span.clone()));
        }
        if let (Some(name), Some(listen), Some(protocol)) = (name, listen, protocol) {
            configs.push(EntrypointConfig {
                name: name.value,
                listen: listen.value,
                protocol,
                max_connections,
                max_connections_per_source,
            });
        }
    }
    let declared = Declared {
        written,
        entrypoints: if written {
            protocols
        } else {
            default_entrypoints()
                .into_iter()
                .map(|e| (e.name, Some(e.protocol)))
                .collect()
        },
        may_serve_https,
    };
    (configs, declared)
}

/// Listen addresses are unique, and a tunnel port is not also a `[[tcp]]`
/// service port (the netstack has one listener per port).
fn check_listen(
    d: &mut Diagnostics<'_>,
    earlier: &[(Listen, Span)],
    tcp_ports: &[(u16, Span)],
    listen: &Spanned<Listen>,
) {
    let value = listen.value;
    if let Some((other, first)) = earlier.iter().find(|(other, _)| other.clashes_with(&value)) {
        let line = d.line_of(first);
        let message = if *other == value {
            format!("listen: {value} is already used on line {line}")
        } else {
            format!("listen: {value} clashes with {other} on line {line} (same port)")
        };
        d.error(&listen.span, message);
    }
    if let Listen::Tunnel { port } = value {
        if let Some((_, tcp)) = tcp_ports.iter().find(|(p, _)| *p == port) {
            let line = d.line_of(tcp);
            let message =
                format!("listen: tunnel port {port} is already used by [[tcp]] on line {line}");
            d.error(&listen.span, message);
        }
    }
}

fn parse_entrypoint_name(s: &str) -> Result<String, String> {
    let valid = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a valid entrypoint name (1 to 64 of A-Z, a-z, 0-9, `.`, `_` and `-`)"
        ))
    }
}
