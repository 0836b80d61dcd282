//! The peers page (`GET /peers`) and the removal confirmation
//! (`GET /peers/NAME/remove`).
//!
//! Each peer is a `tr[data-peer="NAME"]` whose `.state`, `.endpoint`,
//! `.handshake` and `.transfer` cells app.js rewrites from `/events`, and
//! whose `svg.graph` it draws the last 60 s of throughput into. Without
//! JavaScript the cells keep the values rendered here.

use std::fmt::Write;

use serde_json::Value;

use super::html::{
    bytes, chips, heading, layout, list, path_segment, pill, span, str_of, strs, text, u64_of, Esc,
    Nav, Tone, NONE,
};
use super::overview::node_label;
use super::Frame;

/// A peer whose last handshake is at most this old counts as online:
/// WireGuard re-handshakes every 2 minutes while traffic flows, so an
/// active peer never gets older than that plus a little. app.js uses the
/// same number.
pub(super) const ONLINE_SECS: u64 = 180;

pub(super) fn is_online(peer: &Value) -> bool {
    u64_of(peer, "latest_handshake_secs").is_some_and(|s| s <= ONLINE_SECS)
}

/// The state pill of a peer: online, idle, or never (no handshake yet).
fn state_pill(peer: &Value) -> String {
    match u64_of(peer, "latest_handshake_secs") {
        Some(s) if s <= ONLINE_SECS => pill(Tone::Ok, "online"),
        Some(_) => pill(Tone::Quiet, "idle"),
        None => pill(Tone::Quiet, "never"),
    }
}

/// `12 s ago`, or `never`.
fn handshake(peer: &Value) -> String {
    u64_of(peer, "latest_handshake_secs").map_or_else(|| "never".to_owned(), |s| span(s) + " ago")
}

/// `1.2 MiB / 300 KiB`: received from the peer, sent to it.
fn transfer(peer: &Value) -> String {
    match (u64_of(peer, "rx_bytes"), u64_of(peer, "tx_bytes")) {
        (None, None) => NONE.to_owned(),
        (rx, tx) => format!(
            "{} / {}",
            rx.map_or_else(|| NONE.to_owned(), bytes),
            tx.map_or_else(|| NONE.to_owned(), bytes)
        ),
    }
}

pub(crate) fn peers(f: &Frame<'_>, status: &Value) -> String {
    let peers = list(status, "peers");
    let online = peers.iter().filter(|p| is_online(p)).count();
    let mut main = heading(
        "Peers",
        Some(&format!(
            "{} peers, {online} online. Graphs show the last 60 seconds.",
            peers.len()
        )),
    );
    main.push_str("<div class=\"actions\">");
    if f.read_only.is_none() {
        main.push_str("<a class=\"button primary\" href=\"/peers/add\">Add device</a>");
    }
    main.push_str("<span id=\"live\" class=\"live\" hidden>live</span></div>\n");
    main.push_str(
        "<div class=\"table-wrap\"><table class=\"stack peers\"><thead><tr>\
         <th>Peer</th><th>State</th><th>Address</th><th>Endpoint</th><th>Handshake</th>\
         <th>Received / sent</th><th>Throughput</th><th><span class=\"sr\">Actions</span></th>\
         </tr></thead><tbody>\n",
    );
    if peers.is_empty() {
        main.push_str("<tr><td colspan=\"8\" class=\"empty\">No peers yet.</td></tr>\n");
    }
    for p in peers {
        let name = str_of(p, "name").unwrap_or("");
        let own = f.is_own_device(name);
        let _ = write!(
            main,
            "<tr data-peer=\"{}\"><td data-label=\"Peer\"><span class=\"name\">{}</span>{}\
             <span class=\"tags\">{}</span></td>\
             <td data-label=\"State\" class=\"state\">{}</td>\
             <td data-label=\"Address\"><code>{}</code></td>\
             <td data-label=\"Endpoint\" class=\"endpoint\">{}</td>\
             <td data-label=\"Handshake\" class=\"handshake\">{}</td>\
             <td data-label=\"Received / sent\" class=\"transfer\">{}</td>\
             <td data-label=\"Throughput\" class=\"throughput\"><div class=\"spark\">\
             <svg class=\"graph\" viewBox=\"0 0 120 32\" preserveAspectRatio=\"none\" \
             role=\"img\" aria-label=\"throughput over the last 60 s\">\
             <path class=\"rx\" d=\"\"/><path class=\"tx\" d=\"\"/></svg>\
             <span class=\"rate\">{NONE}</span></div></td><td class=\"act\">",
            Esc(name),
            Esc(if name.is_empty() { NONE } else { name }),
            if own {
                "<span class=\"chip you\">you</span>"
            } else {
                ""
            },
            chips(&strs(p, "tags")),
            state_pill(p),
            Esc(&allowed_ips(p)),
            Esc(&text(p, "endpoint")),
            Esc(&handshake(p)),
            Esc(&transfer(p)),
        );
        if !own && f.read_only.is_none() && !name.is_empty() {
            let _ = write!(
                main,
                "<a class=\"remove\" href=\"/peers/{}/remove\" aria-label=\"Remove {}\">Remove</a>",
                path_segment(name),
                Esc(name)
            );
        }
        main.push_str("</td></tr>\n");
    }
    main.push_str("</tbody></table></div>\n");
    main.push_str(
        "<p class=\"muted legend\"><span class=\"key-rx\">received</span> \
         <span class=\"key-tx\">sent</span> by this node, per peer.</p>\n",
    );
    layout(
        Some(f),
        "peers",
        "Peers",
        Some(Nav::Peers),
        node_label(status),
        &main,
    )
}

fn allowed_ips(p: &Value) -> String {
    let ips = strs(p, "allowed_ips");
    if ips.is_empty() {
        NONE.to_owned()
    } else {
        ips.join(", ")
    }
}

pub(crate) fn remove_device(f: &Frame<'_>, name: &str, status: &Value) -> String {
    let peer = list(status, "peers")
        .iter()
        .find(|p| str_of(p, "name") == Some(name));
    let mut main = heading(&format!("Remove {name}"), None);
    main.push_str("<section class=\"card narrow\">\n");
    match peer {
        None => {
            let _ = writeln!(
                main,
                "<p>There is no peer named <strong>{}</strong>.</p>",
                Esc(name)
            );
        }
        Some(p) => {
            main.push_str("<dl>\n");
            let _ = write!(
                main,
                "<dt>Address</dt><dd><code>{}</code></dd>\n<dt>Tags</dt><dd>{}</dd>\n\
                 <dt>Handshake</dt><dd>{}</dd>\n<dt>Endpoint</dt><dd>{}</dd>\n\
                 <dt>Public key</dt><dd><code class=\"key\">{}</code></dd>\n</dl>\n",
                Esc(&allowed_ips(p)),
                match strs(p, "tags") {
                    t if t.is_empty() => NONE.to_owned(),
                    t => chips(&t),
                },
                Esc(&handshake(p)),
                Esc(&text(p, "endpoint")),
                Esc(&text(p, "public_key")),
            );
            if f.is_own_device(name) {
                main.push_str(
                    "<p class=\"notice\">This is the device you are signed in with: \
                     remove it from another admin device.</p>\n",
                );
            } else if f.read_only.is_some() {
                main.push_str("<p class=\"notice\">Changes are off (see above).</p>\n");
            } else {
                let _ = write!(
                    main,
                    "<p>Its key stops working at once: its open connections end and it cannot \
                     connect again. The peer is deleted from the config file (comments stay) and \
                     the config is reloaded.</p>\n\
                     <form id=\"remove-device\" method=\"post\" action=\"/peers/{}/remove\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                     <div class=\"buttons\"><button id=\"remove-submit\" class=\"button danger\" \
                     type=\"submit\">Remove {}</button>\
                     <a class=\"button\" href=\"/peers\">Cancel</a></div></form>\n",
                    path_segment(name),
                    Esc(f.csrf),
                    Esc(name),
                );
            }
        }
    }
    main.push_str("<p><a href=\"/peers\">Back to the peers</a></p>\n</section>\n");
    layout(
        Some(f),
        "remove",
        &format!("Remove {name}"),
        Some(Nav::Peers),
        node_label(status),
        &main,
    )
}
