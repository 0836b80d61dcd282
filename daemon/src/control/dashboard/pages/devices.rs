//! Adding a device: the form (`GET /peers/add`, and again with the error
//! after a rejected POST) and the page with the new device's config and
//! QR code (the answer to a successful `POST /peers/add`).

use std::fmt::Write;

use super::html::{heading, layout, path_segment, Esc, Nav};
use super::{AddForm, Added, Frame};

pub(crate) fn add_device(f: &Frame<'_>, form: &AddForm<'_>) -> String {
    let mut main = heading(
        "Add a device",
        Some(
            "A phone, a laptop or a server: it gets its own key and the next free tunnel address.",
        ),
    );
    main.push_str("<div class=\"grid\">\n<section class=\"card\">\n");
    if f.read_only.is_some() {
        main.push_str(
            "<h2>Changes are off</h2><p>This node's config cannot be changed from here (see \
             above). Add the device with <code>wingress peer add</code> where the config is \
             managed.</p>\n",
        );
    } else {
        main.push_str("<h2>New device</h2>\n");
        if let Some(err) = form.error {
            let _ = writeln!(
                main,
                "<div class=\"alert\" role=\"alert\">{}</div>",
                Esc(err)
            );
        }
        let _ = write!(
            main,
            "<form id=\"add-device\" method=\"post\" action=\"/peers/add\">\n\
             <label for=\"name\">Name</label>\n\
             <input id=\"name\" name=\"name\" value=\"{}\" required maxlength=\"64\" \
             autocomplete=\"off\" autocapitalize=\"none\" spellcheck=\"false\" \
             placeholder=\"anna-phone\" aria-describedby=\"name-hint\">\n\
             <p id=\"name-hint\" class=\"hint\">How the peer appears here, in the config and in \
             the X-Wingress-Peer header.</p>\n\
             <label for=\"tags\">Tags</label>\n\
             <input id=\"tags\" name=\"tags\" value=\"{}\" maxlength=\"256\" autocomplete=\"off\" \
             autocapitalize=\"none\" spellcheck=\"false\" placeholder=\"phone, family\" \
             aria-describedby=\"tags-hint\">\n\
             <p id=\"tags-hint\" class=\"hint\">Comma or space separated. Routes allow peers by \
             tag; <code>admin</code> opens this dashboard.</p>\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\n\
             <div class=\"buttons\"><button id=\"add-submit\" class=\"button primary\" \
             type=\"submit\">Add device</button>\
             <a class=\"button\" href=\"/peers\">Cancel</a></div>\n</form>\n",
            Esc(form.name),
            Esc(form.tags),
            Esc(f.csrf),
        );
    }
    main.push_str("</section>\n");
    if f.read_only.is_none() {
        main.push_str(WHAT_HAPPENS);
    }
    main.push_str("</div>\n");
    layout(Some(f), "add", "Add a device", Some(Nav::Add), None, &main)
}

/// The side card of the add form.
const WHAT_HAPPENS: &str = "<section class=\"card\">\n<h2>What happens</h2>\n<ol class=\"steps\">\
         <li>The node makes a key pair for the device and keeps only the public key.</li>\
         <li>The peer is written to the config file (its comments stay) and the config is \
         reloaded, as <code>wingress peer add</code> does.</li>\
         <li>You get the device's WireGuard config once: scan its QR code with the WireGuard \
         app, or download the <code>.conf</code> file.</li></ol>\n</section>\n";

pub(crate) fn added(f: &Frame<'_>, a: &Added<'_>) -> String {
    let mut main = heading(
        &format!("{} is added", a.name),
        Some(&format!("Tunnel address {}", a.address)),
    );
    main.push_str(
        "<p class=\"notice\" role=\"status\"><strong>The private key is shown only once.</strong> \
         The node does not keep it: scan the code or save the config before leaving this \
         page.</p>\n<div class=\"grid added\">\n<section class=\"card\">\n<h2>Scan</h2>\n",
    );
    // The SVG comes from the daemon's own QR renderer, never from a
    // request; anything else is refused rather than inserted as markup.
    if a.qr_svg.trim_start().starts_with("<svg") {
        let _ = writeln!(main, "<div id=\"qr\" class=\"qr\">{}</div>", a.qr_svg);
    } else {
        main.push_str("<div id=\"qr\" class=\"qr missing\">No QR code.</div>\n");
    }
    main.push_str(
        "<p class=\"hint\">In the WireGuard app: <strong>+</strong>, then <em>Scan from QR \
         code</em>.</p>\n</section>\n<section class=\"card\">\n<h2>Config</h2>\n",
    );
    let _ = write!(
        main,
        "<pre id=\"client-conf\" class=\"conf\">{}</pre>\n<div class=\"buttons\">\
         <a id=\"download-conf\" class=\"button primary\" download=\"{}.conf\" \
         href=\"data:text/plain;charset=utf-8,{}\">Download {}.conf</a>\
         <button id=\"copy-conf\" class=\"button\" type=\"button\" hidden>Copy</button>\
         <span id=\"copy-done\" class=\"muted\" role=\"status\"></span></div>\n\
         <p class=\"hint\">On a phone, open the downloaded file with the WireGuard app \
         (<em>Import from file</em>).</p>\n</section>\n</div>\n\
         <p><a class=\"button\" href=\"/peers\">Done</a></p>\n",
        Esc(a.conf),
        Esc(a.name),
        path_segment(a.conf),
        Esc(a.name),
    );
    layout(
        Some(f),
        "added",
        &format!("{} is added", a.name),
        Some(Nav::Add),
        None,
        &main,
    )
}
