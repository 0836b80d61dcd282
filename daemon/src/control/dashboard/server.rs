//! The dashboard's HTTP/1.1 server: one hyper connection per in-process
//! stream from the proxy, on the admin thread's runtime.
//!
//! Bounds: at most [`MAX_CONNECTIONS`] open (more are closed at once and
//! counted), [`HEADER_TIMEOUT`] for a request head (and between keep-alive
//! requests), heads of at most [`MAX_HEAD`] bytes, form bodies as
//! `form` bounds them, at most `max_event_streams` open `/events`.
//! Connections have no lifetime limit: an `/events` stream stays open as
//! long as its page.

use std::cell::Cell;
use std::convert::Infallible;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::anyhow;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame as BodyFrame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;
use tokio::sync::Mutex;

use super::csrf::{self, CrossSite, Csrf};
use super::events::{self, Hub, StreamSlot};
use super::form::{self, Form};
use super::pages::{self, AddForm, Added, Frame};
use super::read_only;
use super::stats::{Change, Forbidden};
use super::viewer::Viewer;
use super::{Accept, Deps};
use crate::control::devices::{self, ConfigFile, DeviceError, NewDevice, Node};

/// Open connections from the proxy (its pool keeps a few per client).
pub(crate) const MAX_CONNECTIONS: usize = 128;
/// To send a request head, and to start the next one on a kept-alive
/// connection (the proxy's pool reuses them).
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Request heads larger than this are not a browser's.
pub(crate) const MAX_HEAD: usize = 16 * 1024;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// The server's state, shared by its connections.
struct App {
    deps: Deps,
    csrf: Csrf,
    hub: Rc<Hub>,
    /// Device changes happen one at a time: each reads the file, edits it
    /// and reloads before the next reads it.
    changing: Mutex<()>,
}

/// Serves every connection `listener` yields until it yields `None`.
/// Runs on a `LocalSet` (connections are local tasks).
pub(crate) async fn serve(listener: impl Accept, deps: Deps) {
    let Ok(csrf) = Csrf::random() else {
        tracing::error!(
            "dashboard: no system random source for its form tokens; the dashboard is off"
        );
        return;
    };
    serve_with(listener, deps, csrf).await;
}

/// [`serve`] with the token secret given (tests know theirs).
async fn serve_with(mut listener: impl Accept, deps: Deps, csrf: Csrf) {
    let app = Rc::new(App {
        hub: Rc::new(Hub::new(deps.daemon.clone())),
        deps,
        csrf,
        changing: Mutex::new(()),
    });
    let open = Rc::new(Cell::new(0usize));
    tracing::debug!("dashboard serving");
    while let Some(io) = listener.accept().await {
        if open.get() >= MAX_CONNECTIONS {
            app.deps
                .stats
                .connections_refused
                .fetch_add(1, Ordering::Relaxed);
            tracing::trace!("dashboard connection refused: too many open");
            continue;
        }
        let slot = ConnectionSlot::take(&open);
        let app = app.clone();
        tokio::task::spawn_local(async move {
            let _slot = slot;
            let service = service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(app.handle(req).await) }
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEAD);
            if let Err(e) = builder.serve_connection(TokioIo::new(io), service).await {
                tracing::trace!(error = %e, "dashboard connection ended");
            }
        });
    }
}

/// One open connection, counted while it lives.
struct ConnectionSlot(Rc<Cell<usize>>);

impl ConnectionSlot {
    fn take(open: &Rc<Cell<usize>>) -> ConnectionSlot {
        open.set(open.get() + 1);
        ConnectionSlot(open.clone())
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

// === impl App ===

impl App {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        self.deps.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut response = self.route(req).await;
        secure(response.headers_mut());
        response
    }

    async fn route(&self, req: Request<Incoming>) -> Response<Body> {
        let Some(viewer) = Viewer::from_headers(req.headers()) else {
            self.deps.stats.forbidden(Forbidden::Identity);
            return html(
                403,
                pages::message(
                    None,
                    "403 Forbidden",
                    "This page is served only through wingress's dashboard route: to tunnel peers, or with a client certificate on a host entrypoint.",
                ),
            );
        };
        let read_only = read_only::reason(self.deps.config_path.as_deref());
        let token = self.csrf.token(&viewer.key);
        let frame = Frame {
            viewer: &viewer.name,
            viewer_tags: &viewer.tags,
            by_certificate: viewer.by_certificate,
            csrf: &token,
            read_only: read_only.as_deref(),
        };
        let path = req.uri().path().to_string();
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let get = matches!(*req.method(), Method::GET | Method::HEAD);
        let post = req.method() == Method::POST;
        match (segments.as_slice(), get, post) {
            ([""], true, _) => html(200, pages::overview(&frame, &self.status().await)),
            (["peers"], true, _) => html(200, pages::peers(&frame, &self.status().await)),
            (["routes"], true, _) => html(200, pages::routes(&frame, &self.status().await)),
            (["certificates"], true, _) => {
                html(200, pages::certificates(&frame, &self.status().await))
            }
            (["peers", "add"], true, _) => html(200, pages::add_device(&frame, &EMPTY_FORM)),
            (["peers", "add"], _, true) => self.add(req, &viewer, &frame).await,
            (["peers", name, "remove"], true, _) => {
                self.confirm_removal(&viewer, &frame, name).await
            }
            (["peers", name, "remove"], _, true) => self.remove(req, &viewer, &frame, name).await,
            // Not HEAD: a stream nobody reads would hold a slot.
            (["events"], true, _) if req.method() == Method::GET => self.events(),
            (["assets", file], true, _) => match pages::asset(file) {
                Some(a) => asset(a),
                None => not_found(&frame),
            },
            (["peers", "add"] | ["peers", _, "remove"], _, _) => {
                not_allowed(&frame, "GET, HEAD, POST")
            }
            (
                [""] | ["peers"] | ["routes"] | ["certificates"] | ["events"] | ["assets", _],
                _,
                _,
            ) => not_allowed(&frame, "GET, HEAD"),
            _ => not_found(&frame),
        }
    }

    /// The status document, or `null` (pages show "—") when the data plane
    /// does not answer.
    async fn status(&self) -> Value {
        self.deps.daemon.status().await.unwrap_or(Value::Null)
    }

    /// The form of a POST, after the checks every change needs: same
    /// origin, a writable config, a bounded form body, the viewer's token.
    async fn form(
        &self,
        req: Request<Incoming>,
        viewer: &Viewer,
        frame: &Frame<'_>,
    ) -> Result<Form, Response<Body>> {
        let stats = &self.deps.stats;
        let forbidden =
            |detail: &str| html(403, pages::message(Some(frame), "403 Forbidden", detail));
        if let Err(why) = csrf::check_origin(req.headers()) {
            tracing::info!(
                by = %viewer.name,
                reason = ?why,
                "dashboard: refused a change from another site"
            );
            tracing::debug!(
                origin = ?req.headers().get(header::ORIGIN),
                host = ?req.headers().get(header::HOST),
                sec_fetch_site = ?req.headers().get("sec-fetch-site"),
                "dashboard: cross-site check"
            );
            stats.forbidden(match why {
                CrossSite::FetchSite => Forbidden::FetchSite,
                CrossSite::Origin => Forbidden::Origin,
            });
            return Err(forbidden(
                "This change was sent from another site, and was refused.",
            ));
        }
        // Before the token: a read-only page has no form to take one from,
        // and nothing can change anyway.
        if let Some(why) = frame.read_only {
            return Err(html(409, pages::message(Some(frame), "409 Read-only", why)));
        }
        let (parts, body) = req.into_parts();
        let form = form::read(&parts.headers, body).await.map_err(|e| {
            let title = format!("{} {}", e.status(), reason_phrase(e.status()));
            html(e.status(), pages::message(Some(frame), &title, e.message()))
        })?;
        if !self.csrf.accepts(&viewer.key, form.get("csrf")) {
            tracing::info!(by = %viewer.name, "dashboard: refused a change without a valid token");
            stats.forbidden(Forbidden::Token);
            return Err(forbidden(
                "The form's token is missing or out of date: open the page again and retry.",
            ));
        }
        Ok(form)
    }

    async fn add(
        &self,
        req: Request<Incoming>,
        viewer: &Viewer,
        frame: &Frame<'_>,
    ) -> Response<Body> {
        let form = match self.form(req, viewer, frame).await {
            Ok(f) => f,
            Err(r) => return r,
        };
        let (name, tags) = (form.get("name").trim(), form.get("tags"));
        let again = |status: u16, error: &str| {
            let form = AddForm {
                name,
                tags,
                error: Some(error),
            };
            html(status, pages::add_device(frame, &form))
        };
        let device = NewDevice {
            name: name.to_string(),
            tags: form::split_tags(tags),
        };
        if let Err(e) = devices::check_request(&device) {
            return again(400, &e.to_string());
        }
        let _turn = self.changing.lock().await;
        let Some(path) = self.deps.config_path.clone() else {
            return again(409, "there is no config file to edit");
        };
        let status = self.status().await;
        let added = match add_to_file(path, &device, &status) {
            Ok(a) => a,
            Err(DeviceError::Input(e)) => return again(400, &e),
            Err(DeviceError::Failed(e)) => {
                tracing::warn!(error = %format!("{e:#}"), peer = %device.name, "dashboard: adding a peer failed");
                return html(
                    500,
                    pages::message(Some(frame), "500 Not added", &format!("{e:#}")),
                );
            }
        };
        self.deps.stats.changed(Change::Add);
        tracing::info!(by = %viewer.name, peer = %device.name, address = %added.address, "dashboard: added peer");
        self.reload().await;
        let qr_svg = devices::qr_svg(&added.conf).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "dashboard: no QR code for the new peer's config");
            String::new()
        });
        let address = added.address.to_string();
        let page = Added {
            name: &device.name,
            address: &address,
            conf: &added.conf,
            qr_svg: &qr_svg,
        };
        html(200, pages::added(frame, &page))
    }

    async fn confirm_removal(
        &self,
        viewer: &Viewer,
        frame: &Frame<'_>,
        name: &str,
    ) -> Response<Body> {
        if viewer.is_own_device(name) {
            return own_device(frame);
        }
        let status = self.status().await;
        let known = status["peers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == name);
        if !known {
            return not_found(frame);
        }
        html(200, pages::remove_device(frame, name, &status))
    }

    async fn remove(
        &self,
        req: Request<Incoming>,
        viewer: &Viewer,
        frame: &Frame<'_>,
        name: &str,
    ) -> Response<Body> {
        if let Err(r) = self.form(req, viewer, frame).await {
            return r;
        }
        if viewer.is_own_device(name) {
            return own_device(frame);
        }
        let _turn = self.changing.lock().await;
        let Some(path) = self.deps.config_path.clone() else {
            return html(
                409,
                pages::message(
                    Some(frame),
                    "409 Read-only",
                    "there is no config file to edit",
                ),
            );
        };
        let address = match remove_from_file(path, name) {
            Ok(a) => a,
            Err(DeviceError::Input(e)) => {
                return html(400, pages::message(Some(frame), "400 Not removed", &e))
            }
            Err(DeviceError::Failed(e)) => {
                tracing::warn!(error = %format!("{e:#}"), peer = %name, "dashboard: removing a peer failed");
                return html(
                    500,
                    pages::message(Some(frame), "500 Not removed", &format!("{e:#}")),
                );
            }
        };
        self.deps.stats.changed(Change::Remove);
        tracing::info!(by = %viewer.name, peer = %name, address = %address, "dashboard: removed peer");
        self.reload().await;
        let mut r = Response::new(empty());
        *r.status_mut() = StatusCode::SEE_OTHER;
        r.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/peers"));
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }

    /// The reload `POST /reload` does. The file is changed either way; a
    /// refused reload leaves the daemon on its previous config, as after
    /// `wingress peer add`.
    async fn reload(&self) {
        if let Err(why) = self.deps.daemon.reload().await {
            tracing::warn!(error = %why, "dashboard: the config file changed but the daemon did not reload it");
        }
    }

    fn events(&self) -> Response<Body> {
        let stats = &self.deps.stats;
        let open = usize::try_from(stats.event_streams.load(Ordering::Relaxed)).unwrap_or(0);
        if open >= self.deps.max_event_streams {
            stats.event_streams_refused.fetch_add(1, Ordering::Relaxed);
            let mut r = text(503, "too many open event streams\n");
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
            return r;
        }
        let slot = StreamSlot::take(stats);
        let rx = self.hub.subscribe();
        let frames = events::stream(rx, slot).map(|b| Ok::<_, Infallible>(BodyFrame::data(b)));
        let mut r = Response::new(BodyExt::boxed_unsync(StreamBody::new(frames)));
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // Buffering proxies in front would hold the events back.
        h.insert("x-accel-buffering", HeaderValue::from_static("no"));
        r
    }
}

const EMPTY_FORM: AddForm<'static> = AddForm {
    name: "",
    tags: "",
    error: None,
};

/// Adds `device` to the file at `path` as `wingress peer add` does, with
/// the running daemon's key and public endpoint from `status`.
fn add_to_file(
    path: PathBuf,
    device: &NewDevice,
    status: &Value,
) -> Result<devices::Added, DeviceError> {
    let file = ConfigFile::read(path)?;
    let cfg = file
        .parse()
        .map_err(|e| anyhow!("the config file is not valid as it is; fix it first:\n{e}"))?;
    let running_key = status["node"]["public_key"]
        .as_str()
        .and_then(|k| k.parse().ok());
    let server_key = match running_key {
        Some(k) => k,
        None => devices::daemon_public_key(&cfg)?,
    };
    let endpoint = devices::endpoint(&cfg, &file.text, devices::published_endpoint(status))?;
    devices::add(
        &file,
        &cfg,
        device,
        &Node {
            server_key,
            endpoint,
        },
    )
}

/// Removes peer `name` from the file at `path`; its addresses, for the log.
fn remove_from_file(path: PathBuf, name: &str) -> Result<String, DeviceError> {
    let file = ConfigFile::read(path)?;
    let address = file
        .parse()
        .ok()
        .and_then(|cfg| {
            let peer = cfg.peers.iter().find(|p| p.name == name)?;
            let ips: Vec<String> = peer.allowed_ips.iter().map(|c| c.to_string()).collect();
            Some(ips.join(","))
        })
        .unwrap_or_default();
    devices::remove(&file, name)?;
    Ok(address)
}

// === answers ===

fn own_device(frame: &Frame<'_>) -> Response<Body> {
    html(
        400,
        pages::message(
            Some(frame),
            "400 Not your own device",
            "This is the device you are using: removing it would end this session. Remove it from another device.",
        ),
    )
}

fn not_found(frame: &Frame<'_>) -> Response<Body> {
    html(
        404,
        pages::message(Some(frame), "404 Not found", "There is no such page."),
    )
}

fn not_allowed(frame: &Frame<'_>, allow: &'static str) -> Response<Body> {
    let mut r = html(
        405,
        pages::message(
            Some(frame),
            "405 Method not allowed",
            "This page does not take that method.",
        ),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

fn reason_phrase(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

fn empty() -> Body {
    BodyExt::boxed_unsync(Full::new(Bytes::new()))
}

fn with_body(status: u16, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut r = Response::new(BodyExt::boxed_unsync(Full::new(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn html(status: u16, page: String) -> Response<Body> {
    let mut r = with_body(status, "text/html; charset=utf-8", Bytes::from(page));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn text(status: u16, body: &'static str) -> Response<Body> {
    let mut r = with_body(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(body.as_bytes()),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Asset names carry no version, so a browser asks again (and a new binary's
/// assets are used at once).
fn asset(a: pages::Asset) -> Response<Body> {
    let mut r = with_body(200, a.content_type, Bytes::from_static(a.body));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The headers every answer carries: no framing, no sniffing, no referrer,
/// and a policy that allows only this origin's own scripts and styles.
fn secure(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: under that policy browsers send `Origin: null` on
    // a form POST (Fetch, "serializing a request origin"), which the
    // cross-site check must refuse. `same-origin` still keeps the
    // dashboard's URLs from every other site.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
