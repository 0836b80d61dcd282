//! The routes page (`GET /routes`): host and path, access mode,
//! entrypoints, backends with their health, and request counts.
//!
//! Rendered totals (requests, share of 5xx, mean latency) stand without
//! JavaScript; app.js turns `.rps` and `.errors` of each
//! `tr[data-route="INDEX"]` into rates over the last seconds, from the
//! `routes` array of `/events` (same order as `/status`).

use std::fmt::Write;

use serde_json::Value;

use super::html::{
    count, heading, layout, list, percent, pill, str_of, strs, u64_of, Esc, Nav, Tone, NONE,
};
use super::overview::node_label;
use super::Frame;

/// `stats.requests` counts responses by class 1xx..5xx.
fn classes(route: &Value) -> (u64, u64) {
    let by_class: Vec<u64> = list(&route["stats"], "requests")
        .iter()
        .map(|c| c.as_u64().unwrap_or(0))
        .collect();
    let total = by_class.iter().fold(0u64, |a, b| a.saturating_add(*b));
    let errors = by_class.get(4).copied().unwrap_or(0);
    (total, errors)
}

/// Mean latency from the histogram's sum and its `+Inf` bucket (the count).
fn mean_latency(route: &Value) -> String {
    let stats = &route["stats"];
    let n = list(stats, "latency_buckets")
        .last()
        .and_then(Value::as_u64)
        .unwrap_or(0);
    match stats.get("latency_sum_secs").and_then(Value::as_f64) {
        Some(sum) if n > 0 => {
            let ms = sum * 1000.0 / n as f64;
            if ms < 10.0 {
                format!("{ms:.1} ms")
            } else {
                format!("{ms:.0} ms")
            }
        }
        _ => NONE.to_owned(),
    }
}

fn access_pill(access: &str) -> String {
    // Public routes are the ones open beyond the tunnel: worth a glance.
    let tone = if access == "public" {
        Tone::Warn
    } else {
        Tone::Quiet
    };
    pill(tone, access)
}

fn backends(route: &Value) -> String {
    let list = list(route, "backends");
    if list.is_empty() {
        return NONE.to_owned();
    }
    let mut out = String::from("<ul class=\"backends\">");
    for b in list {
        let healthy = b["healthy"].as_bool() == Some(true);
        let checked = b["health_checked"].as_bool() == Some(true);
        let health = match (healthy, checked) {
            (true, true) => pill(Tone::Ok, "up"),
            (true, false) => "<span class=\"pill quiet\" title=\"no health check: in rotation\">\
                              unchecked</span>"
                .to_owned(),
            (false, _) => pill(Tone::Bad, "down"),
        };
        let _ = write!(
            out,
            "<li>{health} <code>{}</code> <span class=\"muted\">{} req</span></li>",
            Esc(str_of(b, "address").unwrap_or(NONE)),
            u64_of(b, "requests").map_or_else(|| NONE.to_owned(), count),
        );
    }
    out.push_str("</ul>");
    out
}

pub(crate) fn routes(f: &Frame<'_>, status: &Value) -> String {
    let routes = list(status, "routes");
    let mut main = heading(
        "Routes",
        Some(
            "Routes are matched top to bottom; requests and errors count since the daemon started.",
        ),
    );
    main.push_str(
        "<div class=\"actions\"><span id=\"live\" class=\"live\" hidden>live</span></div>\n",
    );
    main.push_str(
        "<div class=\"table-wrap\"><table class=\"stack routes\"><thead><tr>\
         <th>Route</th><th>Access</th><th>Entrypoints</th><th>Backends</th>\
         <th class=\"num\">Requests</th><th class=\"num\">Req/s</th>\
         <th class=\"num\">5xx</th><th class=\"num\" title=\"mean response time\">Latency</th>\
         </tr></thead><tbody>\n",
    );
    if routes.is_empty() {
        main.push_str("<tr><td colspan=\"8\" class=\"empty\">No routes.</td></tr>\n");
    }
    for (i, r) in routes.iter().enumerate() {
        let (total, errors) = classes(r);
        let eps = strs(r, "entrypoints");
        let _ = writeln!(
            main,
            "<tr data-route=\"{i}\"><td data-label=\"Route\"><span class=\"route\">\
             <span class=\"host\">{}</span><span class=\"path\">{}</span></span></td>\
             <td data-label=\"Access\">{}</td><td data-label=\"Entrypoints\">{}</td>\
             <td data-label=\"Backends\">{}</td>\
             <td data-label=\"Requests\" class=\"num requests\">{}</td>\
             <td data-label=\"Req/s\" class=\"num rps\">{NONE}</td>\
             <td data-label=\"5xx\" class=\"num errors\" title=\"{} responses with 5xx\">{}</td>\
             <td data-label=\"Latency\" class=\"num\">{}</td></tr>",
            Esc(str_of(r, "host").unwrap_or(NONE)),
            Esc(str_of(r, "path_prefix").unwrap_or("")),
            access_pill(str_of(r, "access").unwrap_or(NONE)),
            if eps.is_empty() {
                "all".to_owned()
            } else {
                Esc(&eps.join(", ")).to_string()
            },
            backends(r),
            count(total),
            count(errors),
            percent(errors, total),
            mean_latency(r),
        );
    }
    main.push_str("</tbody></table></div>\n");
    layout(
        Some(f),
        "routes",
        "Routes",
        Some(Nav::Routes),
        node_label(status),
        &main,
    )
}
