//! The dashboard's pages: server-rendered HTML5 from the status document
//! (`control::status::document`, as `/status` serves it), and the assets
//! they load, embedded in the binary.
//!
//! Every page works without JavaScript; `assets/app.js` only adds the
//! live parts (throughput graphs and counters from `GET /events`, the
//! copy button). The server's Content-Security-Policy allows scripts and
//! styles from 'self' only, so nothing here writes an inline script, an
//! inline `<style>` or a `style=""` attribute.
//!
//! Everything that comes from the config, the peers or the status
//! document is escaped ([`html::Esc`]); a field that is missing, null or
//! of another type shows as "—". The status document is read, never
//! trusted to be complete: an older or newer daemon section renders too.
//!
//! DOM ids and classes the lab's Selenium driver (tests/dashboard/drive.py)
//! and app.js rely on: `#whoami`, `#read-only`, `form#add-device`
//! (`#add-submit`), `pre#client-conf`, `a#download-conf`, `button#copy-conf`,
//! `#qr`, `tr[data-peer]` with `.endpoint`, `.handshake`, `.transfer`,
//! `svg.graph path` and `a.remove`, `form#remove-device` (`#remove-submit`),
//! `tr[data-route]` with `.requests`, `.rps`, `.errors`.

mod certificates;
mod devices;
mod html;
mod overview;
mod peers;
mod routes;

pub(crate) use certificates::certificates;
pub(crate) use devices::{add_device, added};
pub(crate) use overview::overview;
pub(crate) use peers::{peers, remove_device};
pub(crate) use routes::routes;

use html::{heading, layout, Esc};

/// Who is looking, and whether changes are possible: what every page's
/// frame (header, navigation, forms) needs.
pub(crate) struct Frame<'a> {
    /// The signed-in peer's name, or the client certificate's subject.
    pub(crate) viewer: &'a str,
    pub(crate) viewer_tags: &'a [String],
    /// Signed in with a client certificate (`viewer` is its subject, and
    /// no peer is the viewer's own device).
    pub(crate) by_certificate: bool,
    /// The CSRF token for this viewer, put in every form.
    pub(crate) csrf: &'a str,
    /// Why changes are off; `Some` means no form on any page.
    pub(crate) read_only: Option<&'a str>,
}

// === impl Frame ===

impl Frame<'_> {
    /// Whether `peer` is the device the viewer is signed in with.
    pub(crate) fn is_own_device(&self, peer: &str) -> bool {
        !self.by_certificate && peer == self.viewer
    }
}

/// What the add form shows: empty at first, the rejected input and why
/// after a bad POST.
pub(crate) struct AddForm<'a> {
    pub(crate) name: &'a str,
    pub(crate) tags: &'a str,
    pub(crate) error: Option<&'a str>,
}

/// A device just added: its wg-quick config (with its private key, shown
/// this once) and that config as a QR code.
pub(crate) struct Added<'a> {
    pub(crate) name: &'a str,
    pub(crate) address: &'a str,
    pub(crate) conf: &'a str,
    /// A whole `<svg>` element made by the daemon from `conf`; inserted as
    /// markup, not text.
    pub(crate) qr_svg: &'a str,
}

/// A plain page for 400, 403, 404, 405, 409 and the like. Without a frame
/// (no signed-in peer) it has no navigation and names nobody.
pub(crate) fn message(f: Option<&Frame<'_>>, title: &str, detail: &str) -> String {
    // Without a signed-in peer the overview would only answer 403 again.
    let back = if f.is_some() {
        "<p><a class=\"button\" href=\"/\">Back to the overview</a></p>"
    } else {
        ""
    };
    let main = format!(
        "{}<section class=\"card message\"><p>{}</p>{back}</section>\n",
        heading(title, None),
        Esc(detail)
    );
    layout(f, "message", title, None, None, &main)
}

/// A file under `/assets/`.
pub(crate) struct Asset {
    pub(crate) content_type: &'static str,
    pub(crate) body: &'static [u8],
}

/// The asset at `path` (what follows `/assets/`); `None` for anything else,
/// so no path can reach beyond these three.
pub(crate) fn asset(path: &str) -> Option<Asset> {
    let (content_type, body): (&'static str, &'static [u8]) = match path {
        "app.css" => (
            "text/css; charset=utf-8",
            include_str!("assets/app.css").as_bytes(),
        ),
        "app.js" => (
            "text/javascript; charset=utf-8",
            include_str!("assets/app.js").as_bytes(),
        ),
        "icon.svg" => ("image/svg+xml", include_bytes!("assets/icon.svg")),
        _ => return None,
    };
    Some(Asset { content_type, body })
}

#[cfg(test)]
mod tests;
