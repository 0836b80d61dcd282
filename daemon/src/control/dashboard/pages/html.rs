//! The building blocks every page shares: escaping, the page frame (head,
//! header with the signed-in peer, navigation, read-only banner), pills,
//! and readers for the status document that turn anything missing or of
//! the wrong type into "—" instead of failing.
//!
//! Pages are built with `write!` into a `String`; writing into a `String`
//! cannot fail, so those results are ignored on purpose (`let _ =`).

use std::fmt::{self, Write};

use serde_json::Value;

use super::Frame;

/// What a page shows for a value the status document does not have.
pub(super) const NONE: &str = "—";

/// Text escaped for element content and double-quoted attribute values.
/// Everything from the config, the peers or the status document goes
/// through this (names, tags, hosts, errors, paths).
pub(super) struct Esc<'a>(pub(super) &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// Percent-encodes a path segment (a peer name in `/peers/NAME/remove`):
/// unreserved characters stay, every other byte is `%XX`.
pub(super) fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The navigation entries; `None` on message pages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Nav {
    Overview,
    Peers,
    Routes,
    Certificates,
    Add,
}

const NAV: [(Nav, &str, &str); 5] = [
    (Nav::Overview, "/", "Overview"),
    (Nav::Peers, "/peers", "Peers"),
    (Nav::Routes, "/routes", "Routes"),
    (Nav::Certificates, "/certificates", "Certificates"),
    (Nav::Add, "/peers/add", "Add device"),
];

/// One whole page. `page` names the page for app.js (`data-page`); `node`
/// is shown beside the product name when the status document is at hand;
/// `main` is the already-escaped content.
pub(super) fn layout(
    f: Option<&Frame<'_>>,
    page: &str,
    title: &str,
    current: Option<Nav>,
    node: Option<&str>,
    main: &str,
) -> String {
    let mut out = String::with_capacity(main.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <meta name=\"referrer\" content=\"same-origin\">\n\
         <title>{} · wingress</title>\n\
         <link rel=\"icon\" href=\"/assets/icon.svg\" type=\"image/svg+xml\">\n\
         <link rel=\"stylesheet\" href=\"/assets/app.css\">\n\
         <script src=\"/assets/app.js\" defer></script>\n\
         </head>\n<body data-page=\"{}\">\n<header class=\"top\">\n<div class=\"bar\">\n\
         <a class=\"brand\" href=\"/\"><img src=\"/assets/icon.svg\" alt=\"\" width=\"28\" height=\"28\">\
         <span>wingress</span></a>\n",
        Esc(title),
        Esc(page),
    );
    if let Some(node) = node {
        let _ = writeln!(
            out,
            "<span class=\"node\" title=\"this node\">{}</span>",
            Esc(node)
        );
    }
    if let Some(f) = f {
        let _ = writeln!(
            out,
            "<span class=\"who\" title=\"{}{}\">\
             <span class=\"avatar\" aria-hidden=\"true\">{}</span>\
             <span id=\"whoami\">{}</span></span>",
            if f.by_certificate {
                "signed in with a client certificate"
            } else {
                "signed in with this peer's WireGuard key"
            },
            Esc(&match f.viewer_tags {
                [] => String::new(),
                tags => format!(" (tags: {})", tags.join(", ")),
            }),
            Esc(&initial(f.viewer)),
            Esc(f.viewer)
        );
    }
    out.push_str("</div>\n");
    if f.is_some() {
        out.push_str("<nav aria-label=\"sections\">\n");
        for (nav, href, label) in NAV {
            let here = if Some(nav) == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = writeln!(out, "<a href=\"{href}\"{here}>{label}</a>");
        }
        out.push_str("</nav>\n");
    }
    out.push_str("</header>\n");
    if let Some(why) = f.and_then(|f| f.read_only) {
        let _ = writeln!(
            out,
            "<div id=\"read-only\" class=\"banner\" role=\"status\"><strong>Read-only.</strong> \
             Devices cannot be added or removed here: {}</div>",
            Esc(why)
        );
    }
    let _ = write!(
        out,
        "<main>\n{main}</main>\n<footer>wingress · the WireGuard key is the login</footer>\n\
         </body>\n</html>\n"
    );
    out
}

/// The first letter of a name, for the avatar circle.
fn initial(name: &str) -> String {
    name.chars()
        .find(|c| c.is_alphanumeric())
        .map_or_else(|| "?".to_owned(), |c| c.to_uppercase().collect())
}

/// How a pill is coloured.
#[derive(Clone, Copy)]
pub(super) enum Tone {
    Ok,
    Warn,
    Bad,
    /// Neither good nor bad: off, never, idle.
    Quiet,
}

/// `<span class="pill ok">text</span>`.
pub(super) fn pill(tone: Tone, text: &str) -> String {
    let class = match tone {
        Tone::Ok => "ok",
        Tone::Warn => "warn",
        Tone::Bad => "bad",
        Tone::Quiet => "quiet",
    };
    format!("<span class=\"pill {class}\">{}</span>", Esc(text))
}

/// Tags as small chips; nothing for none.
pub(super) fn chips(tags: &[&str]) -> String {
    let mut out = String::new();
    for t in tags {
        let _ = write!(out, "<span class=\"chip\">{}</span>", Esc(t));
    }
    out
}

/// A page heading with an optional line under it.
pub(super) fn heading(title: &str, lead: Option<&str>) -> String {
    let mut out = format!("<div class=\"heading\"><h1>{}</h1>", Esc(title));
    if let Some(lead) = lead {
        let _ = write!(out, "<p class=\"lead\">{}</p>", Esc(lead));
    }
    out.push_str("</div>\n");
    out
}

// === Reading the status document ===

/// A string field; `None` when missing, null or not a string.
pub(super) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A non-negative integer field.
pub(super) fn u64_of(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

pub(super) fn i64_of(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

pub(super) fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The string items of an array field (others skipped).
pub(super) fn strs<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    list(v, key).iter().filter_map(Value::as_str).collect()
}

/// Any scalar as text, "—" for null or missing.
pub(super) fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.to_owned(),
        _ => NONE.to_owned(),
    }
}

// === Numbers for people ===

/// `12 s`, `4 min`, `2 h 5 min`, `3 d 4 h`.
pub(super) fn span(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3_599 => format!("{} min", secs / 60),
        3_600..=86_399 => match (secs % 3_600) / 60 {
            0 => format!("{} h", secs / 3_600),
            m => format!("{} h {m} min", secs / 3_600),
        },
        _ => match (secs % 86_400) / 3_600 {
            0 => format!("{} d", secs / 86_400),
            h => format!("{} d {h} h", secs / 86_400),
        },
    }
}

/// `1.2 MiB`.
pub(super) fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = b as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{b} B"),
        _ if value < 10.0 => format!("{value:.1} {}", UNITS[unit]),
        _ => format!("{value:.0} {}", UNITS[unit]),
    }
}

/// `12,345`.
pub(super) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `part` of `whole` as `0.4 %`; "—" with nothing to divide.
pub(super) fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return NONE.to_owned();
    }
    let p = part as f64 * 100.0 / whole as f64;
    if p == 0.0 {
        "0 %".to_owned()
    } else if p < 0.1 {
        "< 0.1 %".to_owned()
    } else {
        format!("{p:.1} %")
    }
}

/// Unix seconds as `2026-12-06 17:45 UTC` (proleptic Gregorian, the
/// days-from-civil inverse by Howard Hinnant).
pub(super) fn utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3_600,
        (secs % 3_600) / 60
    )
}

/// Seconds since the Unix epoch, for "5 min ago" next to stored times.
pub(super) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `<time>` with a relative text (`5 min ago`) and the absolute UTC time
/// as its tooltip.
pub(super) fn ago(unix: Option<u64>, now: i64) -> String {
    let Some(t) = unix.and_then(|t| i64::try_from(t).ok()) else {
        return NONE.to_owned();
    };
    let text = match u64::try_from(now.saturating_sub(t)) {
        Ok(secs) if secs > 0 => format!("{} ago", span(secs)),
        // The node's clock moved back, or the same second.
        _ => "just now".to_owned(),
    };
    format!("<time title=\"{}\">{text}</time>", utc(t))
}
