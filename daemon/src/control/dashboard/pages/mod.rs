//! The dashboard's pages: a minimal, honest rendering with the contract's
//! signatures and DOM ids, standing in for the full pages module (which
//! replaces this file). Everything from the config, the peers or the
//! status is escaped.

#![allow(dead_code)]

use std::fmt::Write as _;

use serde_json::Value;

pub(crate) struct Frame<'a> {
    /// The signed-in peer's name.
    pub(crate) viewer: &'a str,
    pub(crate) viewer_tags: &'a [String],
    pub(crate) csrf: &'a str,
    /// Why changes are off.
    pub(crate) read_only: Option<&'a str>,
}

pub(crate) struct AddForm<'a> {
    pub(crate) name: &'a str,
    pub(crate) tags: &'a str,
    pub(crate) error: Option<&'a str>,
}

pub(crate) struct Added<'a> {
    pub(crate) name: &'a str,
    pub(crate) address: &'a str,
    pub(crate) conf: &'a str,
    pub(crate) qr_svg: &'a str,
}

pub(crate) struct Asset {
    pub(crate) content_type: &'static str,
    pub(crate) body: &'static [u8],
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => esc(s),
        other => esc(&other.to_string()),
    }
}

fn page(f: Option<&Frame<'_>>, title: &str, body: &str) -> String {
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · wingress</title><link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body><header><nav>\
         <a href=\"/\">Overview</a> <a href=\"/peers\">Peers</a> <a href=\"/routes\">Routes</a> \
         <a href=\"/certificates\">Certificates</a> <a href=\"/peers/add\">Add device</a></nav>",
        esc(title)
    );
    if let Some(f) = f {
        let _ = write!(out, "<span id=\"whoami\">{}</span>", esc(f.viewer));
    }
    out.push_str("</header>");
    if let Some(why) = f.and_then(|f| f.read_only) {
        let _ = write!(out, "<p id=\"read-only\">Read-only: {}</p>", esc(why));
    }
    let _ = write!(
        out,
        "<main><h1>{}</h1>{body}</main><script src=\"/assets/app.js\"></script></body></html>",
        esc(title)
    );
    out
}

pub(crate) fn overview(f: &Frame<'_>, status: &Value) -> String {
    let node = &status["node"];
    let body = format!(
        "<dl><dt>Node</dt><dd>{}</dd><dt>Tunnel address</dt><dd>{}</dd><dt>Public key</dt><dd>{}</dd>\
         <dt>Version</dt><dd>{}</dd><dt>UDP port</dt><dd>{}</dd></dl>",
        text(&node["ip"]),
        text(&node["tunnel_address"]),
        text(&node["public_key"]),
        text(&status["version"]),
        text(&node["port"]),
    );
    page(Some(f), "Overview", &body)
}

pub(crate) fn peers(f: &Frame<'_>, status: &Value) -> String {
    let mut body = String::from(
        "<div class=\"scroll\"><table><tr><th>Name</th><th>Tags</th><th>Endpoint</th><th>Handshake</th>\
         <th>Transfer</th><th>Throughput</th><th></th></tr>",
    );
    for p in status["peers"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default();
        let hs = match p["latest_handshake_secs"].as_u64() {
            Some(s) => format!("{s} s ago"),
            None => "never".into(),
        };
        let tags: Vec<String> = p["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(esc))
            .collect();
        let remove = if name != f.viewer && f.read_only.is_none() {
            format!(
                "<a class=\"remove\" href=\"/peers/{}/remove\">Remove</a>",
                esc(name)
            )
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<tr data-peer=\"{n}\"><td>{n}</td><td>{}</td><td class=\"endpoint\">{}</td>\
             <td class=\"handshake\">{hs}</td><td class=\"transfer\">{} B / {} B</td>\
             <td><svg class=\"graph\" viewBox=\"0 0 60 20\"><path d=\"\"/></svg></td><td>{remove}</td></tr>",
            tags.join(", "),
            text(&p["endpoint"]),
            text(&p["rx_bytes"]),
            text(&p["tx_bytes"]),
            n = esc(name),
        );
    }
    body.push_str("</table></div>");
    page(Some(f), "Peers", &body)
}

pub(crate) fn routes(f: &Frame<'_>, status: &Value) -> String {
    let mut body = String::from(
        "<div class=\"scroll\"><table><tr><th>Host</th><th>Path</th><th>Access</th><th>Backends</th></tr>",
    );
    for r in status["routes"].as_array().into_iter().flatten() {
        let backends: Vec<String> = r["backends"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| text(&b["address"]))
            .collect();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(&r["host"]),
            text(&r["path_prefix"]),
            text(&r["access"]),
            backends.join(", ")
        );
    }
    body.push_str("</table></div>");
    page(Some(f), "Routes", &body)
}

pub(crate) fn certificates(f: &Frame<'_>, status: &Value) -> String {
    let mut body = String::from("<ul>");
    for c in status["certificates"].as_array().into_iter().flatten() {
        let _ = write!(body, "<li>{}</li>", text(c));
    }
    body.push_str("</ul>");
    page(Some(f), "Certificates", &body)
}

pub(crate) fn add_device(f: &Frame<'_>, form: &AddForm<'_>) -> String {
    let mut body = String::new();
    if let Some(e) = form.error {
        let _ = write!(body, "<p class=\"error\">{}</p>", esc(e));
    }
    if f.read_only.is_none() {
        let _ = write!(
            body,
            "<form id=\"add-device\" method=\"post\" action=\"/peers/add\">\
             <label>Name <input name=\"name\" value=\"{}\" required></label>\
             <label>Tags <input name=\"tags\" value=\"{}\"></label>\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button id=\"add-submit\" type=\"submit\">Add</button></form>",
            esc(form.name),
            esc(form.tags),
            esc(f.csrf)
        );
    }
    page(Some(f), "Add a device", &body)
}

pub(crate) fn added(f: &Frame<'_>, a: &Added<'_>) -> String {
    let mut data = String::from("data:text/plain;charset=utf-8,");
    form_urlencoded::byte_serialize(a.conf.as_bytes())
        .for_each(|s| data.push_str(&s.replace('+', "%20")));
    let body = format!(
        "<p>Added {} with address {}. The private key is shown only once: wingress does not keep it.</p>\
         <pre id=\"client-conf\">{}</pre><a id=\"download-conf\" download=\"{}.conf\" href=\"{}\">Download .conf</a> \
         <button id=\"copy-conf\" type=\"button\">Copy</button><div id=\"qr\">{}</div>",
        esc(a.name),
        esc(a.address),
        esc(a.conf),
        esc(a.name),
        esc(&data),
        a.qr_svg
    );
    page(Some(f), "Device added", &body)
}

pub(crate) fn remove_device(f: &Frame<'_>, name: &str, _status: &Value) -> String {
    let mut body = format!("<p>Remove {}? Its session ends.</p>", esc(name));
    if f.read_only.is_none() {
        let _ = write!(
            body,
            "<form id=\"remove-device\" method=\"post\" action=\"/peers/{}/remove\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button id=\"remove-submit\" type=\"submit\">Remove</button></form>",
            esc(name),
            esc(f.csrf)
        );
    }
    page(Some(f), "Remove a device", &body)
}

pub(crate) fn message(f: Option<&Frame<'_>>, title: &str, detail: &str) -> String {
    page(f, title, &format!("<p>{}</p>", esc(detail)))
}

pub(crate) fn asset(path: &str) -> Option<Asset> {
    match path {
        "app.css" => Some(Asset {
            content_type: "text/css; charset=utf-8",
            body:
                b"body{font-family:sans-serif;max-width:60rem;margin:auto;padding:0 1rem}\
                    .scroll{overflow-x:auto}#qr svg{width:100%;max-width:360px}pre{overflow-x:auto}",
        }),
        "app.js" => Some(Asset {
            content_type: "text/javascript; charset=utf-8",
            body: b"",
        }),
        _ => None,
    }
}
