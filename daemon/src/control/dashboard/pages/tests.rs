use serde_json::{json, Value};

use super::*;

/// A /status document with every section: several peers (one never
/// handshaked), an unhealthy backend, a pending ACME order with its error,
/// an expiring file certificate and a failed reload.
const FIXTURE: &str = include_str!("tests/status.json");

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).expect("tests/status.json is JSON")
}

const CONF: &str = "[Interface]\nPrivateKey = kF3mZ8n0Qp1rS2tU3vW4xY5zA6bC7dE8fG9hI0jK1lM=\n\
Address = 100.64.0.7/32\nDNS = 100.64.0.2\n\n[Peer]\n\
PublicKey = hX4c0Q3m8yq2Lk6B1vZ0cJk7tE9s2RyN5uWfPa3GdXw=\n\
Endpoint = 203.0.113.7:41620\nAllowedIPs = 100.64.0.0/24\nPersistentKeepalive = 25\n";

fn frame<'a>(tags: &'a [String], read_only: Option<&'a str>) -> Frame<'a> {
    Frame {
        viewer: "laptop",
        viewer_tags: tags,
        by_certificate: false,
        csrf: "5f2b9c0e",
        read_only,
    }
}

/// The daemon's QR renderer's shape: a viewBox, a white background, the
/// 4-module quiet zone, one `<rect>` per run of dark modules.
fn qr_svg(payload: &str) -> String {
    let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::M)
        .expect("fits a QR code");
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 8;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/>"
    );
    for y in 0..width {
        let mut x = 0;
        while x < width {
            if colors[y * width + x] == qrcode::Color::Dark {
                let start = x;
                while x < width && colors[y * width + x] == qrcode::Color::Dark {
                    x += 1;
                }
                out.push_str(&format!(
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"1\"/>",
                    start + 4,
                    y + 4,
                    x - start
                ));
            } else {
                x += 1;
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// Every page, rendered from `status` for `f`.
fn all_pages(f: &Frame<'_>, status: &Value) -> Vec<(&'static str, String)> {
    let qr = qr_svg(CONF);
    vec![
        ("overview", overview(f, status)),
        ("peers", peers(f, status)),
        ("routes", routes(f, status)),
        ("certificates", certificates(f, status)),
        (
            "add",
            add_device(
                f,
                &AddForm {
                    name: "",
                    tags: "",
                    error: None,
                },
            ),
        ),
        (
            "add-error",
            add_device(
                f,
                &AddForm {
                    name: "anna phone",
                    tags: "phone",
                    error: Some("a peer name is letters, digits, '-' and '_'"),
                },
            ),
        ),
        (
            "added",
            added(
                f,
                &Added {
                    name: "anna-phone",
                    address: "100.64.0.7/32",
                    conf: CONF,
                    qr_svg: &qr,
                },
            ),
        ),
        ("remove", remove_device(f, "tablet", status)),
        ("remove-self", remove_device(f, "laptop", status)),
        ("remove-unknown", remove_device(f, "ghost", status)),
        (
            "message",
            message(Some(f), "404", "There is no page at this address."),
        ),
    ]
}

/// The inner text of the element that starts with `open` (no nesting).
fn inner<'a>(html: &'a str, open: &str) -> &'a str {
    let start = html.find(open).unwrap_or_else(|| panic!("{open} in page")) + open.len();
    let rest = &html[start..];
    let body = &rest[rest.find('>').expect("tag ends") + 1..];
    &body[..body.find('<').expect("element ends")]
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn rows_of<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    html.split("<tr ")
        .skip(1)
        .filter(|r| r.starts_with(attr))
        .map(|r| &r[..r.find("</tr>").expect("row ends")])
        .collect()
}

#[test]
fn every_page_renders_from_the_fixture() {
    let status = fixture();
    let tags = vec!["admin".to_owned()];
    let f = frame(&tags, None);
    for (name, html) in all_pages(&f, &status) {
        assert!(html.starts_with("<!doctype html>"), "{name}");
        assert!(html.trim_end().ends_with("</html>"), "{name}");
        assert_eq!(inner(&html, "<span id=\"whoami\""), "laptop", "{name}");
        for nav in ["Overview", "Peers", "Routes", "Certificates", "Add device"] {
            assert!(html.contains(&format!(">{nav}</a>")), "{name}: nav {nav}");
        }
        assert!(!html.contains("id=\"read-only\""), "{name}");
    }
}

#[test]
fn overview_shows_node_reachability_reload_and_problems() {
    let tags = vec![];
    let html = overview(&frame(&tags, None), &fixture());
    for want in [
        "192.168.1.20",
        "100.64.0.2/24",
        "hX4c0Q3m8yq2Lk6B1vZ0cJk7tE9s2RyN5uWfPa3GdXw=",
        "51820",
        "0.1.0",
        "3 d 4 h",
        "203.0.113.7:41620",
        "port mapping on the router",
        "NAT-PMP",
        "failed",
        "unknown field `helth_check`",
        "photos.example.com",
        "Connection refused",
        "2 / 4",
        "1 backend down",
        "2 need attention",
    ] {
        assert!(html.contains(want), "overview lacks {want:?}");
    }
}

#[test]
fn peers_page_has_the_cells_app_js_and_the_lab_read() {
    let tags = vec!["admin".to_owned()];
    let html = peers(&frame(&tags, None), &fixture());
    let rows = rows_of(&html, "data-peer=");
    assert_eq!(rows.len(), 4);
    for row in &rows {
        for class in ["endpoint", "handshake", "transfer", "state"] {
            assert!(row.contains(&format!("class=\"{class}\"")), "{row}");
        }
        assert!(row.contains("<svg class=\"graph\""), "{row}");
        assert!(row.contains("<path class=\"rx\" d=\"\"/>"), "{row}");
    }
    let tablet = rows.iter().find(|r| r.contains("\"tablet\"")).unwrap();
    assert_eq!(inner(tablet, "class=\"handshake\""), "never");
    assert_eq!(inner(tablet, "class=\"endpoint\""), "—");
    let laptop = rows.iter().find(|r| r.contains("\"laptop\"")).unwrap();
    assert_eq!(inner(laptop, "class=\"handshake\""), "12 s ago");
    assert_eq!(inner(laptop, "class=\"endpoint\""), "10.99.1.1:40211");
    assert_eq!(inner(laptop, "class=\"transfer\""), "5.0 MiB / 70 MiB");
}

#[test]
fn no_remove_link_on_the_viewers_own_row() {
    let tags = vec!["admin".to_owned()];
    let html = peers(&frame(&tags, None), &fixture());
    for row in rows_of(&html, "data-peer=") {
        let own = row.starts_with("data-peer=\"laptop\"");
        assert_eq!(row.contains("class=\"remove\""), !own, "{row}");
        if !own {
            assert!(row.contains("href=\"/peers/"), "{row}");
        }
    }
    assert!(html.contains("<a class=\"remove\" href=\"/peers/tablet/remove\""));
    assert!(!remove_device(&frame(&tags, None), "laptop", &fixture()).contains("<form"));
}

/// A certificate viewer has no device among the peers, even one whose
/// name equals the subject; the header says how they signed in.
#[test]
fn a_certificate_viewer_owns_no_row() {
    let tags = vec![];
    let f = Frame {
        by_certificate: true,
        ..frame(&tags, None)
    };
    let html = peers(&f, &fixture());
    for row in rows_of(&html, "data-peer=") {
        assert!(row.contains("class=\"remove\""), "{row}");
    }
    assert!(html.contains("title=\"signed in with a client certificate\""));
    assert!(html.contains("<span id=\"whoami\">laptop</span>"));
    assert!(remove_device(&f, "laptop", &fixture()).contains("<form"));
}

#[test]
fn forms_carry_the_contracted_ids_and_the_token() {
    let tags = vec![];
    let f = frame(&tags, None);
    let add = add_device(
        &f,
        &AddForm {
            name: "",
            tags: "",
            error: None,
        },
    );
    assert!(add.contains("<form id=\"add-device\" method=\"post\" action=\"/peers/add\">"));
    assert!(add.contains("name=\"name\""));
    assert!(add.contains("name=\"tags\""));
    assert!(add.contains("<input type=\"hidden\" name=\"csrf\" value=\"5f2b9c0e\">"));
    assert!(add.contains("id=\"add-submit\""));

    let remove = remove_device(&f, "tablet", &fixture());
    assert!(remove
        .contains("<form id=\"remove-device\" method=\"post\" action=\"/peers/tablet/remove\">"));
    assert!(remove.contains("<input type=\"hidden\" name=\"csrf\" value=\"5f2b9c0e\">"));
    assert!(remove.contains("id=\"remove-submit\""));
    // Unknown peers get no form.
    assert!(!remove_device(&f, "ghost", &fixture()).contains("<form"));
}

#[test]
fn added_page_shows_the_exact_conf_the_qr_and_a_download() {
    let tags = vec![];
    let qr = qr_svg(CONF);
    let html = added(
        &frame(&tags, None),
        &Added {
            name: "phone",
            address: "100.64.0.1/32",
            conf: CONF,
            qr_svg: &qr,
        },
    );
    assert_eq!(unescape(inner(&html, "<pre id=\"client-conf\"")), CONF);
    assert!(html.contains(&format!("<div id=\"qr\" class=\"qr\">{qr}</div>")));
    assert!(html.contains("download=\"phone.conf\""));
    assert!(html.contains("id=\"copy-conf\""));
    assert!(html.contains("private key is shown only once"));
    let href = html
        .split("href=\"data:text/plain;charset=utf-8,")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a data: URL");
    let mut decoded = Vec::new();
    let mut bytes = href.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex: String = bytes.by_ref().take(2).map(char::from).collect();
            decoded.push(u8::from_str_radix(&hex, 16).expect("hex"));
        } else {
            decoded.push(b);
        }
    }
    assert_eq!(String::from_utf8(decoded).unwrap(), CONF);
    // Something that is not an SVG element is not inserted as markup.
    let bad = added(
        &frame(&tags, None),
        &Added {
            name: "phone",
            address: "100.64.0.1/32",
            conf: CONF,
            qr_svg: "<img src=x>",
        },
    );
    assert!(!bad.contains("<img src=x>"));
}

#[test]
fn read_only_shows_why_and_no_form_anywhere() {
    let tags = vec!["admin".to_owned()];
    let why = "/etc/wingress/wingress.toml is on a read-only filesystem (a ConfigMap?)";
    let f = frame(&tags, Some(why));
    for (name, html) in all_pages(&f, &fixture()) {
        assert!(!html.contains("<form"), "{name} has a form when read-only");
        assert!(!html.contains("class=\"remove\""), "{name}");
        assert!(html.contains("<div id=\"read-only\""), "{name}");
        assert!(html.contains(&Esc(why).to_string()), "{name}");
    }
}

#[test]
fn hostile_text_is_escaped_everywhere() {
    let evil = "<script>alert(1)</script>\"'&x";
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;x";
    let status = json!({
        "version": evil,
        "node": {"ip": evil, "public_key": evil, "tunnel_address": evil},
        "public_endpoint": {"address": evil, "source": evil},
        "nat": {"port_mapping": {"state": evil, "last_error": evil}, "stun": {"state": evil}, "notes": [evil]},
        "peers": [{"name": evil, "tags": [evil], "endpoint": evil, "allowed_ips": [evil], "public_key": evil}],
        "listeners": [{"name": evil, "kind": evil, "listen": evil, "backend": evil}],
        "routes": [{"host": evil, "path_prefix": evil, "access": evil, "entrypoints": [evil],
                    "backends": [{"address": evil, "healthy": false}]}],
        "certificates": [{"names": [evil], "issuer": evil, "state": evil, "source": evil,
                          "last_error": evil, "path": evil, "next_renewal": evil}],
        "config": {"path": evil, "last_reload_error": evil, "restart_required": [evil]}
    });
    let tags = vec![evil.to_owned()];
    let f = Frame {
        viewer: evil,
        viewer_tags: &tags,
        by_certificate: false,
        csrf: evil,
        read_only: None,
    };
    let mut pages = all_pages(&f, &status);
    pages.push(("remove-evil", remove_device(&f, evil, &status)));
    pages.push((
        "add-evil",
        add_device(
            &f,
            &AddForm {
                name: evil,
                tags: evil,
                error: Some(evil),
            },
        ),
    ));
    pages.push((
        "added-evil",
        added(
            &f,
            &Added {
                name: evil,
                address: evil,
                conf: evil,
                qr_svg: "<svg></svg>",
            },
        ),
    ));
    pages.push(("message-evil", message(None, evil, evil)));
    pages.push((
        "read-only-evil",
        peers(
            &Frame {
                read_only: Some(evil),
                ..f
            },
            &status,
        ),
    ));
    for (name, html) in pages {
        assert!(!html.contains("<script>alert"), "{name}: raw markup");
        assert!(!html.contains("\"'&x"), "{name}: raw quotes");
        assert!(html.contains(escaped), "{name}: not shown escaped");
    }
    // In a URL path the name is percent-encoded.
    let html = peers(&frame(&tags, None), &status);
    assert!(
        html.contains("href=\"/peers/%3Cscript%3Ealert%281%29%3C%2Fscript%3E%22%27%26x/remove\"")
    );
}

#[test]
fn missing_or_odd_fields_render_as_a_dash() {
    let tags = vec![];
    let f = frame(&tags, None);
    let odd = json!({
        "node": 7,
        "peers": [{"name": "x"}, {"tags": "not a list", "latest_handshake_secs": -1}, 3],
        "routes": [{}, {"stats": {"requests": "no", "latency_buckets": [1]}}],
        "certificates": [{}, {"state": "pending"}],
        "config": [],
        "nat": "off",
        "listeners": {}
    });
    for status in [Value::Null, json!({}), json!([]), odd] {
        for (name, html) in all_pages(&f, &status) {
            assert!(html.ends_with("</html>\n"), "{name}");
        }
        let html = overview(&f, &status);
        assert!(html.contains("—"));
    }
    let html = peers(&f, &json!({"peers": [{"name": "x"}]}));
    let row = rows_of(&html, "data-peer=\"x\"")[0];
    assert_eq!(inner(row, "class=\"handshake\""), "never");
    assert_eq!(inner(row, "class=\"transfer\""), "—");
}

#[test]
fn no_inline_script_or_style_for_the_csp() {
    let tags = vec!["admin".to_owned()];
    for (name, html) in all_pages(&frame(&tags, None), &fixture()) {
        assert!(!html.contains("style="), "{name}");
        assert!(!html.contains("<style"), "{name}");
        assert_eq!(
            html.matches("<script").count(),
            html.matches("<script src=\"/assets/app.js\" defer></script>")
                .count(),
            "{name}"
        );
        for handler in [" onclick=", " onload=", " onerror=", "javascript:"] {
            assert!(!html.contains(handler), "{name}: {handler}");
        }
    }
}

#[test]
fn routes_and_certificates_pages_show_health_and_problems() {
    let tags = vec![];
    let f = frame(&tags, None);
    let html = routes(&f, &fixture());
    assert_eq!(rows_of(&html, "data-route=").len(), 5);
    assert!(html.contains("<span class=\"pill bad\">down</span> <code>192.168.1.32:2342</code>"));
    assert!(html.contains("class=\"num rps\""));
    assert!(html.contains("class=\"num errors\""));
    assert!(html.contains("52,119")); // total responses of photos
    assert!(html.contains("1.6 %")); // its 5xx share
    assert!(html.contains("forward-auth"));

    let html = certificates(&f, &fixture());
    assert!(html.contains("<span class=\"pill bad\">pending</span>"));
    assert!(html.contains("no certificate yet"));
    assert!(html.contains("next try 2026-12-06 18:30 UTC"));
    assert!(html.contains("urn:ietf:params:acme:error:connection"));
    assert!(html.contains("<span class=\"pill warn\">expiring</span>"));
    assert!(html.contains("Kubernetes Secret"));
}

#[test]
fn message_pages_without_a_viewer_name_nobody() {
    let html = message(None, "403", "This page is for peers with the admin tag.");
    assert!(html.contains("403"));
    assert!(!html.contains("id=\"whoami\""));
    assert!(!html.contains("<nav"));
}

#[test]
fn assets_are_served_with_their_types() {
    let css = asset("app.css").expect("app.css");
    assert_eq!(css.content_type, "text/css; charset=utf-8");
    let js = asset("app.js").expect("app.js");
    assert_eq!(js.content_type, "text/javascript; charset=utf-8");
    assert!(std::str::from_utf8(js.body)
        .unwrap()
        .contains("EventSource"));
    let icon = asset("icon.svg").expect("icon.svg");
    assert_eq!(icon.content_type, "image/svg+xml");
    assert!(icon.body.starts_with(b"<svg"));
    for bad in [
        "",
        "../mod.rs",
        "app.css/",
        "APP.CSS",
        "assets/app.css",
        "app.css?v=1",
    ] {
        assert!(asset(bad).is_none(), "{bad}");
    }
    let total = css.body.len() + js.body.len() + icon.body.len();
    assert!(total < 50 * 1024, "assets are {total} bytes");
}

#[test]
fn helpers_format_for_people() {
    assert_eq!(html::span(0), "0 s");
    assert_eq!(html::span(3725), "1 h 2 min");
    assert_eq!(html::span(273_845), "3 d 4 h");
    assert_eq!(html::bytes(1023), "1023 B");
    assert_eq!(html::bytes(10_995_116_277), "10 GiB");
    assert_eq!(html::count(1_234_567), "1,234,567");
    assert_eq!(html::percent(1, 3), "33.3 %");
    assert_eq!(html::utc(0), "1970-01-01 00:00 UTC");
    assert_eq!(html::utc(1_804_352_400), "2027-03-06 17:00 UTC");
    assert_eq!(html::path_segment("a b/ü"), "a%20b%2F%C3%BC");
}

/// Writes every page and the assets under `$DASH_PREVIEW_DIR` (default
/// `/tmp/dash-preview`) for `tests/preview.py` to serve:
/// `cargo test -p wingress --lib dashboard::pages::tests::preview -- --ignored`.
#[test]
#[ignore]
fn preview() {
    let dir = std::path::PathBuf::from(
        std::env::var("DASH_PREVIEW_DIR").unwrap_or_else(|_| "/tmp/dash-preview".into()),
    );
    let status = fixture();
    let tags = vec!["admin".to_owned()];
    let write = |path: &str, body: &[u8]| {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    };
    for (prefix, read_only) in [
        ("", None),
        (
            "ro/",
            Some("/etc/wingress/wingress.toml is on a read-only filesystem (a ConfigMap?)"),
        ),
    ] {
        let f = frame(&tags, read_only);
        for (name, html) in all_pages(&f, &status) {
            write(&format!("{prefix}{name}.html"), html.as_bytes());
        }
    }
    write(
        "forbidden.html",
        message(
            None,
            "403",
            "This dashboard is for peers with the admin tag; this peer has none.",
        )
        .as_bytes(),
    );
    write("status.json", FIXTURE.as_bytes());
    for name in ["app.css", "app.js", "icon.svg"] {
        write(&format!("assets/{name}"), asset(name).unwrap().body);
    }
}
