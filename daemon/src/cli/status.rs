//! `wingress status`: asks a running daemon's admin socket for its status
//! document and prints it like `wg show` plus `tailscale serve status`, or
//! as JSON with `--json`. Unknown sections and fields are ignored, so an
//! older CLI reads a newer daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use wingress_config::Env;

use super::config_file::{report, server_config_source};

pub(crate) fn run(
    json: bool,
    config: Option<PathBuf>,
    socket: Option<PathBuf>,
) -> Result<ExitCode> {
    let socket = match socket {
        Some(s) => s,
        None => {
            let (path, text, _) = server_config_source(config)?;
            match wingress_config::parse_server(&path, &text, &Env::from_process()) {
                Ok(cfg) => cfg.admin.socket,
                Err(e) => return Ok(report(&e)),
            }
        }
    };
    let doc = fetch(&socket, "/status")?;
    let value: Value = serde_json::from_str(&doc).context("the daemon's status is not JSON")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", render(&value));
    }
    Ok(ExitCode::SUCCESS)
}

/// One GET over the admin socket; the body of a 200.
pub(crate) fn fetch(socket: &std::path::Path, path: &str) -> Result<String> {
    let r = super::admin_client::request(socket, "GET", path)
        .with_context(|| "is `wingress run` running? (pass --socket or --config)".to_string())?;
    if r.status != 200 {
        bail!("the daemon answered {}: {}", r.status, r.body.trim());
    }
    Ok(r.body)
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn n(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    list(v, key)
        .iter()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

/// `3 minutes, 12 seconds`, the way `wg show` counts.
pub(crate) fn duration(secs: u64) -> String {
    let units = [
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    let mut parts = Vec::new();
    let mut left = secs;
    for (size, name) in units {
        let count = left / size;
        if count > 0 {
            left -= count * size;
            parts.push(format!(
                "{count} {name}{}",
                if count == 1 { "" } else { "s" }
            ));
        }
        if parts.len() == 2 {
            break;
        }
    }
    if parts.is_empty() {
        "0 seconds".to_string()
    } else {
        parts.join(", ")
    }
}

/// `1.21 MiB`.
pub(crate) fn bytes(b: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = b as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{value:.2} {}", units[unit])
    }
}

fn ago_since(unix: Option<i64>, now: i64) -> String {
    match unix {
        Some(t) => format!("{} ago", duration(now.saturating_sub(t).max(0) as u64)),
        None => "never".to_string(),
    }
}

pub(crate) fn render(v: &Value) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let node = &v["node"];
    let state = if v["draining"].as_bool() == Some(true) {
        "draining"
    } else if v["ready"].as_bool() == Some(true) {
        "ready"
    } else {
        "starting"
    };
    line(format!(
        "node: {}  (wingress {}, up {}, {state})",
        node.get("ip")
            .and_then(Value::as_str)
            .unwrap_or("address unknown"),
        s(v, "version"),
        duration(n(node, "uptime_secs").unwrap_or(0) as u64),
    ));
    line(format!("  public key: {}", s(node, "public_key")));
    line(format!(
        "  listening port: {}/udp",
        n(node, "port").unwrap_or(0)
    ));
    line(format!("  tunnel address: {}", s(node, "tunnel_address")));
    let endpoint = match &v["public_endpoint"] {
        Value::Object(_) => {
            let ep = &v["public_endpoint"];
            let age = n(ep, "age_secs")
                .map_or(String::new(), |a| format!(", {} ago", duration(a as u64)));
            format!("{} ({}{age})", s(ep, "address"), s(ep, "source"))
        }
        _ => "unknown".to_string(),
    };
    line(format!("  public endpoint: {endpoint}"));
    if let Value::Object(_) = &v["nat"] {
        nat_lines(&v["nat"], &mut line);
    }
    if let Value::Object(_) = &v["kubernetes"] {
        kube_lines(&v["kubernetes"], &mut line);
    }
    let config = &v["config"];
    line(format!(
        "  config: {} (loaded {})",
        s(config, "path"),
        ago_since(n(config, "loaded_at"), now)
    ));
    let reload = match (
        config["last_reload_error"].as_str(),
        n(config, "last_reload_at"),
    ) {
        (Some(err), at) => format!(
            "FAILED {}, old config still serving:\n    {}",
            ago_since(at, now),
            err.replace('\n', "\n    ")
        ),
        (None, Some(at)) => format!("ok, {}", ago_since(Some(at), now)),
        (None, None) => "none yet".to_string(),
    };
    line(format!("  last reload: {reload}"));
    for why in strings(config, "restart_required") {
        line(format!("  needs a restart: {why}"));
    }

    for p in list(v, "peers") {
        line(String::new());
        let tags = strings(p, "tags");
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!("  (tags: {})", tags.join(", "))
        };
        line(format!("peer: {}{tags}", s(p, "name")));
        line(format!("  public key: {}", s(p, "public_key")));
        line(format!(
            "  endpoint: {}",
            p.get("endpoint")
                .and_then(Value::as_str)
                .unwrap_or("(none)")
        ));
        line(format!(
            "  allowed ips: {}",
            strings(p, "allowed_ips").join(", ")
        ));
        let handshake = n(p, "latest_handshake_secs").map_or("never".to_string(), |t| {
            format!("{} ago", duration(t as u64))
        });
        line(format!("  latest handshake: {handshake}"));
        line(format!(
            "  transfer: {} received, {} sent",
            bytes(n(p, "rx_bytes").unwrap_or(0) as u64),
            bytes(n(p, "tx_bytes").unwrap_or(0) as u64)
        ));
        if let Some(k) = n(p, "persistent_keepalive") {
            line(format!(
                "  persistent keepalive: every {}",
                duration(k as u64)
            ));
        }
    }

    let listeners = list(v, "listeners");
    if !listeners.is_empty() {
        line(String::new());
        line("listeners:".to_string());
        for l in listeners {
            let what = match l.get("backend").and_then(Value::as_str) {
                Some(b) => format!("-> {b}"),
                None => format!("entrypoint {}", s(l, "name")),
            };
            let open = n(l, "open_connections").map_or(String::new(), |o| format!("  {o} open"));
            line(format!(
                "  {:<22} {:<5} {what}{open}",
                s(l, "listen"),
                s(l, "kind")
            ));
        }
    }

    let routes = list(v, "routes");
    if !routes.is_empty() {
        line(String::new());
        line("routes:".to_string());
        for r in routes {
            let eps = strings(r, "entrypoints");
            let eps = if eps.is_empty() {
                "all entrypoints".to_string()
            } else {
                eps.join(", ")
            };
            let classes = ["1xx", "2xx", "3xx", "4xx", "5xx"];
            let counts: Vec<String> = list(&r["stats"], "requests")
                .iter()
                .zip(classes)
                .filter_map(|(c, class)| {
                    c.as_u64()
                        .filter(|c| *c > 0)
                        .map(|c| format!("{class} {c}"))
                })
                .collect();
            let counts = if counts.is_empty() {
                "no requests".to_string()
            } else {
                counts.join(", ")
            };
            line(format!(
                "  https://{}{}  access {}, on {eps}; {counts}",
                s(r, "host"),
                s(r, "path_prefix"),
                s(r, "access")
            ));
            for b in list(r, "backends") {
                let health = match (b["healthy"].as_bool(), b["health_checked"].as_bool()) {
                    (Some(true), Some(true)) => "up (health checked)",
                    (Some(true), _) => "up",
                    _ => "DOWN",
                };
                line(format!(
                    "    |-- http://{}  {health}, {} requests",
                    s(b, "address"),
                    n(b, "requests").unwrap_or(0)
                ));
            }
        }
    }

    let certs = list(v, "certificates");
    if !certs.is_empty() {
        line(String::new());
        line("certificates:".to_string());
        for c in certs {
            if c.get("not_after").is_none_or(Value::is_null) {
                // An ACME certificate not issued yet.
                let next = c
                    .get("next_renewal")
                    .and_then(Value::as_str)
                    .map_or(String::new(), |r| format!("; next try {r}"));
                line(format!(
                    "  {}  [{}, {}] no certificate yet{next}",
                    strings(c, "names").join(", "),
                    s(c, "source"),
                    s(c, "state"),
                ));
                if let Some(err) = c.get("last_error").and_then(Value::as_str) {
                    line(format!("    last error: {err}"));
                }
                continue;
            }
            let left = n(c, "expires_in_secs").unwrap_or(0);
            let when = if left >= 0 {
                format!("in {}", duration(left as u64))
            } else {
                format!("EXPIRED {} ago", duration(left.unsigned_abs()))
            };
            let renew = c
                .get("next_renewal")
                .and_then(Value::as_str)
                .map_or(String::new(), |r| format!(", renews {r}"));
            line(format!(
                "  {}  [{}, {}] issuer {}; expires {} ({when}){renew}",
                strings(c, "names").join(", "),
                s(c, "source"),
                s(c, "state"),
                s(c, "issuer"),
                s(c, "not_after"),
            ));
            if let Some(err) = c.get("last_error").and_then(Value::as_str) {
                line(format!("    last error: {err}"));
            }
        }
    }
    out
}

/// The `nat` section in a line, then its notes: the port mapping, what
/// STUN sees.
/// The `kubernetes` section: sync, routes, staleness and problems.
fn kube_lines(k: &Value, line: &mut impl FnMut(String)) {
    let objects = &k["objects"];
    let state = if k["synced"].as_bool() == Some(true) {
        format!(
            "synced, {} routes from Ingresses ({} Ingresses, {} Services, {} EndpointSlices, {} TLS Secrets)",
            n(k, "routes").unwrap_or(0),
            n(objects, "ingresses").unwrap_or(0),
            n(objects, "services").unwrap_or(0),
            n(objects, "endpoint_slices").unwrap_or(0),
            n(objects, "secrets").unwrap_or(0),
        )
    } else {
        "waiting for the initial lists".to_string()
    };
    line(format!("  kubernetes: {state}"));
    if k["stale"].as_bool() == Some(true) {
        let contact = n(k, "last_contact_secs").map_or("never".to_string(), |a| {
            format!("{} ago", duration(a as u64))
        });
        line(format!(
            "    STALE for {} (API server last answered {contact}): {}",
            duration(n(k, "stale_secs").unwrap_or(0) as u64),
            k["error"].as_str().unwrap_or("watch failing")
        ));
    }
    if let Some(e) = k["last_apply_error"].as_str() {
        line(format!(
            "    last snapshot NOT applied, previous routes serving: {e}"
        ));
    }
    if let Some(e) = k["write_error"].as_str() {
        line(format!("    status/Event write failed: {e}"));
    }
    for p in strings(k, "problems") {
        line(format!("    problem: {p}"));
    }
}

fn nat_lines(nat: &Value, line: &mut impl FnMut(String)) {
    let pm = &nat["port_mapping"];
    let mapping = match s(pm, "state") {
        "mapped" => format!(
            "mapped with {} ({}{})",
            s(pm, "protocol"),
            s(pm, "external"),
            n(pm, "renews_in_secs").map_or(String::new(), |r| format!(
                ", renews in {}",
                duration(r as u64)
            ))
        ),
        state => match pm["last_error"].as_str() {
            Some(e) => format!("{state} ({e})"),
            None => state.to_string(),
        },
    };
    let stun = &nat["stun"];
    let seen = match s(stun, "state") {
        "ok" => format!(
            "{}, {} mapping, {} filtering{}",
            s(stun, "public"),
            s(stun, "mapping"),
            s(stun, "filtering"),
            if stun["static_forward"].as_bool() == Some(true) {
                ", a static forward"
            } else {
                ""
            }
        ),
        state => state.to_string(),
    };
    line(format!("  nat: port mapping {mapping}; STUN {seen}"));
    for note in list(nat, "notes").iter().filter_map(Value::as_str) {
        line(format!("  note: {note}"));
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
