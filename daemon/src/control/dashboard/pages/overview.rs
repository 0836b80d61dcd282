//! The overview (`GET /`): counts first, then the node, how peers reach it
//! (public endpoint, NAT), the config and its last reload, certificate
//! problems and the listeners.

use std::fmt::Write;

use serde_json::Value;

use super::certificates::{cert_names, cert_state, is_problem};
use super::html::{
    ago, count, heading, i64_of, layout, list, now_unix, pill, span, str_of, strs, text, u64_of,
    Esc, Nav, Tone, NONE,
};
use super::peers::is_online;
use super::Frame;

/// The node as the header shows it: its tunnel address, else its IP.
pub(super) fn node_label(status: &Value) -> Option<&str> {
    let node = &status["node"];
    str_of(node, "tunnel_address").or_else(|| str_of(node, "ip"))
}

pub(crate) fn overview(f: &Frame<'_>, status: &Value) -> String {
    let now = now_unix();
    let mut main = heading(
        "Overview",
        Some(&format!(
            "wingress {} · up {}",
            text(status, "version"),
            u64_of(&status["node"], "uptime_secs").map_or_else(|| NONE.to_owned(), span)
        )),
    );
    main.push_str(&tiles(status));
    main.push_str("<div class=\"grid\">\n");
    main.push_str(&node_card(status));
    main.push_str(&reach_card(status));
    main.push_str(&config_card(status, now));
    main.push_str(&certs_card(status));
    main.push_str("</div>\n");
    main.push_str(&listeners_card(status));
    layout(
        Some(f),
        "overview",
        "Overview",
        Some(Nav::Overview),
        node_label(status),
        &main,
    )
}

/// The row of counts at the top, each a link to its page.
fn tiles(status: &Value) -> String {
    let peers = list(status, "peers");
    let online = peers.iter().filter(|p| is_online(p)).count();
    let routes = list(status, "routes");
    let down = routes
        .iter()
        .flat_map(|r| list(r, "backends"))
        .filter(|b| b["healthy"].as_bool() != Some(true))
        .count();
    let certs = list(status, "certificates");
    let problems = certs.iter().filter(|c| is_problem(c)).count();
    let conns = &status["connections"];
    let mut out = String::from("<div class=\"tiles\">\n");
    let tile = |out: &mut String, href: &str, label: &str, value: String, sub: String, bad| {
        let _ = writeln!(
            out,
            "<a class=\"tile{}\" href=\"{href}\"><span class=\"label\">{label}</span>\
             <span class=\"value\">{}</span><span class=\"sub\">{}</span></a>",
            if bad { " attention" } else { "" },
            Esc(&value),
            Esc(&sub)
        );
    };
    tile(
        &mut out,
        "/peers",
        "Peers",
        format!("{online} / {}", peers.len()),
        "online now".into(),
        false,
    );
    tile(
        &mut out,
        "/routes",
        "Routes",
        routes.len().to_string(),
        match down {
            0 => "all backends up".into(),
            1 => "1 backend down".into(),
            n => format!("{n} backends down"),
        },
        down > 0,
    );
    tile(
        &mut out,
        "/certificates",
        "Certificates",
        certs.len().to_string(),
        match problems {
            0 => "all fine".into(),
            1 => "1 needs attention".into(),
            n => format!("{n} need attention"),
        },
        problems > 0,
    );
    tile(
        &mut out,
        "/#listeners",
        "Connections",
        u64_of(conns, "tunnel_tcp").map_or_else(|| NONE.to_owned(), count),
        format!("TCP in the tunnel · {} UDP flows", text(conns, "udp_flows")),
        false,
    );
    out.push_str("</div>\n");
    out
}

/// `<dt>label</dt><dd>value</dd>`; `value` is already HTML.
fn row(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "<dt>{label}</dt><dd>{value}</dd>");
}

fn node_card(status: &Value) -> String {
    let node = &status["node"];
    let state = if status["draining"].as_bool() == Some(true) {
        pill(Tone::Warn, "draining")
    } else if status["ready"].as_bool() == Some(true) {
        pill(Tone::Ok, "ready")
    } else {
        pill(Tone::Warn, "starting")
    };
    let mut out = String::from("<section class=\"card\"><h2>Node</h2><dl>\n");
    row(&mut out, "State", &state);
    row(
        &mut out,
        "Version",
        &Esc(&text(status, "version")).to_string(),
    );
    row(
        &mut out,
        "Uptime",
        &u64_of(node, "uptime_secs").map_or_else(|| NONE.to_owned(), span),
    );
    row(&mut out, "Node IP", &Esc(&text(node, "ip")).to_string());
    row(
        &mut out,
        "UDP port",
        &u64_of(node, "port").map_or_else(|| NONE.to_owned(), |p| p.to_string()),
    );
    row(
        &mut out,
        "Tunnel address",
        &Esc(&text(node, "tunnel_address")).to_string(),
    );
    row(&mut out, "MTU", &Esc(&text(node, "mtu")).to_string());
    row(
        &mut out,
        "Public key",
        &format!(
            "<code class=\"key\">{}</code>",
            Esc(&text(node, "public_key"))
        ),
    );
    out.push_str("</dl></section>\n");
    out
}

/// Where the published endpoint comes from, in words.
fn source_words(source: &str) -> &str {
    match source {
        "configured" => "set in [nat] advertise",
        "mapped" => "port mapping on the router",
        "static-forward" => "static port forward",
        "stun" => "seen by STUN",
        other => other,
    }
}

fn reach_card(status: &Value) -> String {
    let mut out = String::from("<section class=\"card\"><h2>Reachability</h2><dl>\n");
    let ep = &status["public_endpoint"];
    let endpoint = match str_of(ep, "address") {
        Some(addr) => format!(
            "<code>{}</code> <span class=\"muted\">{}{}</span>",
            Esc(addr),
            Esc(source_words(str_of(ep, "source").unwrap_or(NONE))),
            u64_of(ep, "age_secs").map_or_else(String::new, |a| format!(", for {}", span(a)))
        ),
        None => format!(
            "{} <span class=\"muted\">clients use the node IP</span>",
            pill(Tone::Quiet, "unknown")
        ),
    };
    row(&mut out, "Public endpoint", &endpoint);
    let nat = &status["nat"];
    if nat.is_object() {
        let pm = &nat["port_mapping"];
        let state = str_of(pm, "state").unwrap_or(NONE);
        let tone = match state {
            "mapped" => Tone::Ok,
            "mapping" => Tone::Warn,
            "failed" | "unavailable" => Tone::Bad,
            _ => Tone::Quiet,
        };
        let mut mapping = pill(tone, state);
        if let Some(p) = str_of(pm, "protocol") {
            let name = match p {
                "pcp" => "PCP",
                "natpmp" => "NAT-PMP",
                "upnp" => "UPnP",
                other => other,
            };
            let _ = write!(mapping, " {}", Esc(name));
        }
        if let Some(e) = str_of(pm, "external") {
            let _ = write!(mapping, " <code>{}</code>", Esc(e));
        }
        if let Some(r) = u64_of(pm, "renews_in_secs") {
            let _ = write!(
                mapping,
                " <span class=\"muted\">renews in {}</span>",
                span(r)
            );
        }
        if let Some(r) = u64_of(pm, "retry_in_secs") {
            let _ = write!(
                mapping,
                " <span class=\"muted\">retry in {}</span>",
                span(r)
            );
        }
        if let Some(e) = str_of(pm, "last_error") {
            let _ = write!(mapping, "<div class=\"error\">{}</div>", Esc(e));
        }
        row(&mut out, "Port mapping", &mapping);
        let stun = &nat["stun"];
        let state = str_of(stun, "state").unwrap_or(NONE);
        let tone = match state {
            "ok" => Tone::Ok,
            "probing" => Tone::Warn,
            "failed" => Tone::Bad,
            _ => Tone::Quiet,
        };
        let mut seen = pill(tone, state);
        if let Some(p) = str_of(stun, "public") {
            let _ = write!(seen, " <code>{}</code>", Esc(p));
        }
        if let (Some(m), Some(fl)) = (str_of(stun, "mapping"), str_of(stun, "filtering")) {
            let _ = write!(
                seen,
                " <span class=\"muted\">mapping {}, filtering {}</span>",
                Esc(m),
                Esc(fl)
            );
        }
        if let Some(e) = str_of(stun, "last_error") {
            let _ = write!(seen, "<div class=\"error\">{}</div>", Esc(e));
        }
        row(&mut out, "STUN", &seen);
    } else {
        row(&mut out, "NAT", NONE);
    }
    out.push_str("</dl>\n");
    let notes = strs(nat, "notes");
    if !notes.is_empty() {
        out.push_str("<ul class=\"notes\">\n");
        for n in notes {
            let _ = writeln!(out, "<li>{}</li>", Esc(n));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    out
}

fn config_card(status: &Value, now: i64) -> String {
    let cfg = &status["config"];
    let mut out = String::from("<section class=\"card\"><h2>Configuration</h2><dl>\n");
    row(
        &mut out,
        "File",
        &format!("<code>{}</code>", Esc(&text(cfg, "path"))),
    );
    row(&mut out, "Loaded", &ago(u64_of(cfg, "loaded_at"), now));
    let last = match (
        str_of(cfg, "last_reload_error"),
        u64_of(cfg, "last_reload_at"),
    ) {
        (Some(_), at) => format!(
            "{} {} <span class=\"muted\">the previous config still serves</span>",
            pill(Tone::Bad, "failed"),
            ago(at, now)
        ),
        (None, Some(at)) => format!("{} {}", pill(Tone::Ok, "ok"), ago(Some(at), now)),
        (None, None) => pill(Tone::Quiet, "none yet"),
    };
    row(&mut out, "Last reload", &last);
    row(
        &mut out,
        "Reloads",
        &format!(
            "{} ok · {} failed",
            Esc(&text(cfg, "reloads_ok")),
            Esc(&text(cfg, "reloads_failed"))
        ),
    );
    out.push_str("</dl>\n");
    if let Some(err) = str_of(cfg, "last_reload_error") {
        let _ = writeln!(out, "<pre class=\"error-block\">{}</pre>", Esc(err));
    }
    let restart = strs(cfg, "restart_required");
    if !restart.is_empty() {
        out.push_str("<p class=\"muted\">Needs a restart to apply:</p><ul class=\"notes\">\n");
        for r in restart {
            let _ = writeln!(out, "<li>{}</li>", Esc(r));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    out
}

fn certs_card(status: &Value) -> String {
    let certs = list(status, "certificates");
    let problems: Vec<&Value> = certs.iter().filter(|c| is_problem(c)).collect();
    let mut out = String::from("<section class=\"card\"><h2>Certificate problems</h2>\n");
    if problems.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"muted\">{}</p>",
            match certs.len() {
                0 => "No certificates.".to_owned(),
                n => format!("None: all {n} certificates are fine."),
            }
        );
    } else {
        out.push_str("<ul class=\"problems\">\n");
        for c in problems {
            let (state, tone) = cert_state(c);
            let _ = write!(
                out,
                "<li><div>{} <strong>{}</strong></div>",
                pill(tone, state),
                Esc(&cert_names(c))
            );
            if let Some(e) = str_of(c, "last_error") {
                let _ = write!(out, "<div class=\"error\">{}</div>", Esc(e));
            } else if let Some(left) = i64_of(c, "expires_in_secs") {
                let _ = write!(
                    out,
                    "<div class=\"muted\">{}</div>",
                    if left < 0 {
                        format!("expired {} ago", span(left.unsigned_abs()))
                    } else {
                        format!("expires in {}", span(left.unsigned_abs()))
                    }
                );
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n<p><a href=\"/certificates\">All certificates</a></p>\n");
    }
    out.push_str("</section>\n");
    out
}

fn listeners_card(status: &Value) -> String {
    let listeners = list(status, "listeners");
    let mut out = String::from(
        "<section class=\"card\" id=\"listeners\"><h2>Listeners</h2>\n<div class=\"table-wrap\">\
         <table class=\"stack\"><thead><tr><th>Name</th><th>Kind</th><th>Listen</th>\
         <th>Forwards to</th><th class=\"num\">Open</th></tr></thead><tbody>\n",
    );
    if listeners.is_empty() {
        out.push_str("<tr><td colspan=\"5\" class=\"empty\">No listeners.</td></tr>\n");
    }
    for l in listeners {
        let _ = writeln!(
            out,
            "<tr><td data-label=\"Name\">{}</td><td data-label=\"Kind\">{}</td>\
             <td data-label=\"Listen\"><code>{}</code></td><td data-label=\"Forwards to\">{}</td>\
             <td data-label=\"Open\" class=\"num\">{}</td></tr>",
            Esc(&text(l, "name")),
            Esc(&text(l, "kind")),
            Esc(&text(l, "listen")),
            Esc(&text(l, "backend")),
            Esc(&text(l, "open_connections")),
        );
    }
    out.push_str("</tbody></table></div></section>\n");
    out
}
