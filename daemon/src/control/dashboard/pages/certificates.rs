//! The certificates page (`GET /certificates`): names, source, issuer,
//! expiry, next renewal, state and the last problem, including ACME
//! orders still pending and why.

use std::fmt::Write;

use serde_json::Value;

use super::html::{
    heading, i64_of, layout, list, pill, span, str_of, strs, utc, Esc, Nav, Tone, NONE,
};
use super::overview::node_label;
use super::Frame;

/// The names of a certificate, comma separated.
pub(super) fn cert_names(c: &Value) -> String {
    match strs(c, "names") {
        n if n.is_empty() => NONE.to_owned(),
        n => n.join(", "),
    }
}

/// The state's word and how worrying it is.
pub(super) fn cert_state(c: &Value) -> (&str, Tone) {
    let state = str_of(c, "state").unwrap_or(NONE);
    let failing = str_of(c, "last_error").is_some();
    let tone = match state {
        "valid" if failing => Tone::Warn,
        "valid" => Tone::Ok,
        "renewing" if failing => Tone::Warn,
        "renewing" => Tone::Ok,
        "pending" if failing => Tone::Bad,
        "pending" | "expiring" => Tone::Warn,
        "expired" => Tone::Bad,
        _ => Tone::Quiet,
    };
    (state, tone)
}

/// Worth showing on the overview: not served, about to lapse, or failing.
pub(super) fn is_problem(c: &Value) -> bool {
    matches!(str_of(c, "state"), Some("pending" | "expiring" | "expired"))
        || str_of(c, "last_error").is_some()
}

fn source_words(source: &str) -> &str {
    match source {
        "acme" => "ACME",
        "file" => "file",
        "memory" => "Kubernetes Secret",
        "internal-ca" => "internal CA",
        "internal-ca-root" => "internal CA root",
        other => other,
    }
}

/// `2027-02-01T10:00:00Z` as `2027-02-01 10:00 UTC`; other text as is.
fn rfc3339_short(s: &str) -> String {
    match (s.get(..10), s.get(10..11), s.get(11..16)) {
        (Some(date), Some("T"), Some(time)) if s.ends_with('Z') => format!("{date} {time} UTC"),
        _ => s.to_owned(),
    }
}

fn expiry(c: &Value) -> String {
    let Some(at) = i64_of(c, "not_after_unix") else {
        return match str_of(c, "state") {
            Some("pending") => "<span class=\"muted\">no certificate yet</span>".to_owned(),
            _ => NONE.to_owned(),
        };
    };
    let left = match i64_of(c, "expires_in_secs") {
        Some(l) if l < 0 => format!("expired {} ago", span(l.unsigned_abs())),
        Some(l) => format!("in {}", span(l.unsigned_abs())),
        None => String::new(),
    };
    format!("{}<span class=\"sub\">{}</span>", Esc(&utc(at)), Esc(&left))
}

pub(crate) fn certificates(f: &Frame<'_>, status: &Value) -> String {
    let certs = list(status, "certificates");
    let mut main = heading(
        "Certificates",
        Some("Every certificate this node serves or is ordering."),
    );
    main.push_str(
        "<div class=\"table-wrap\"><table class=\"stack certs\"><thead><tr>\
         <th>Names</th><th>State</th><th>Source</th><th>Issuer</th><th>Expires</th>\
         <th>Next renewal</th><th>Last error</th></tr></thead><tbody>\n",
    );
    if certs.is_empty() {
        main.push_str("<tr><td colspan=\"7\" class=\"empty\">No certificates.</td></tr>\n");
    }
    for c in certs {
        let (state, tone) = cert_state(c);
        let path = str_of(c, "path")
            .map(|p| format!("<span class=\"sub\"><code>{}</code></span>", Esc(p)))
            .unwrap_or_default();
        let renewal = match (str_of(c, "next_renewal"), str_of(c, "state")) {
            (Some(r), Some("pending")) => format!("next try {}", rfc3339_short(r)),
            (Some(r), _) => rfc3339_short(r),
            (None, _) => "not renewed here".to_owned(),
        };
        let _ = writeln!(
            main,
            "<tr><td data-label=\"Names\"><span class=\"name\">{}</span>{path}</td>\
             <td data-label=\"State\">{}</td><td data-label=\"Source\">{}</td>\
             <td data-label=\"Issuer\">{}</td><td data-label=\"Expires\">{}</td>\
             <td data-label=\"Next renewal\">{}</td><td data-label=\"Last error\">{}</td></tr>",
            Esc(&cert_names(c)),
            pill(tone, state),
            Esc(source_words(str_of(c, "source").unwrap_or(NONE))),
            Esc(str_of(c, "issuer").unwrap_or(NONE)),
            expiry(c),
            Esc(&renewal),
            str_of(c, "last_error").map_or_else(
                || NONE.to_owned(),
                |e| format!("<span class=\"error\">{}</span>", Esc(e))
            ),
        );
    }
    main.push_str("</tbody></table></div>\n");
    layout(
        Some(f),
        "certificates",
        "Certificates",
        Some(Nav::Certificates),
        node_label(status),
        &main,
    )
}
