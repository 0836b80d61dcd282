//! The request path, top-down: route → access policy → forward-auth →
//! header rewrite → backend selection and send (one retry for bodyless
//! GET/HEAD after a connect failure) → response rewrite.

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::atomic::Ordering;

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode, Version};
use hyper::body::{Body, Incoming};
use tokio::time::Instant;

use crate::body::{client_body_status, empty_body, streamed_body};
use crate::client::{Chain, SendError};
use crate::conn::ConnState;
use crate::forward_auth::{self, AuthOutcome};
use crate::grpc;
use crate::headers::{
    add_identity, merge_cookies, protocols_allowed, restore_upgrade, set_forwarded,
    strip_hop_by_hop, strip_proxy_only, upgrade_protocol, X_WINGRESS_CLIENT_SUBJECT,
};
use crate::host::request_host;
use crate::pages::{error_page, RespBody};
use crate::policy::{self, Verdict};
use crate::pool::BackendBody;
use crate::server::Handled;
use crate::spec::{Access, ConnInfo};
use crate::table::{Route, RouteTable};

pub(crate) async fn handle(
    table: &RouteTable,
    req: Request<Incoming>,
    conn: Rc<ConnState>,
) -> Handled {
    let info = &conn.info;
    if req.method() == Method::CONNECT {
        return error_page(StatusCode::METHOD_NOT_ALLOWED).into();
    }
    let http11 = req.version() == Version::HTTP_11;
    if !single_chunked(req.headers()) {
        // hyper refused codings that do not end in chunked; others (gzip,
        // chunked twice) would reach the backend with the coding lost.
        return error_page(StatusCode::NOT_IMPLEMENTED).into();
    }
    let host = match request_host(req.uri(), req.headers(), http11) {
        Ok(host) => host,
        Err(e) => {
            tracing::trace!(error = %e, "request refused");
            return error_page(StatusCode::BAD_REQUEST).into();
        }
    };
    let selected = table
        .router
        .select(&host.name, req.uri().path(), &info.entrypoint);
    // `Some` only when the canonical path differs (rare): otherwise the
    // request's own target goes to the backend as it is.
    let (index, canonical) = match selected {
        Ok(Some(selected)) => (selected.index, owned(selected.path)),
        Ok(None) => return error_page(StatusCode::NOT_FOUND).into(),
        Err(e) => {
            tracing::trace!(error = %e, "request refused");
            return error_page(StatusCode::BAD_REQUEST).into();
        }
    };
    let route = &table.routes[index];
    let mut handled = through(route, req, host.raw, canonical, &conn).await;
    handled.stats = Some(route.stats.clone());
    handled
}

/// No `Transfer-Encoding`, or exactly one saying `chunked`: the only
/// transfer coding this proxy forwards.
fn single_chunked(headers: &http::HeaderMap) -> bool {
    let mut codings = headers.get_all(header::TRANSFER_ENCODING).iter();
    match (codings.next(), codings.next()) {
        (None, _) => true,
        (Some(value), None) => value
            .to_str()
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("chunked")),
        _ => false,
    }
}

fn owned(path: Cow<'_, str>) -> Option<String> {
    match path {
        Cow::Borrowed(_) => None,
        Cow::Owned(path) => Some(path),
    }
}

/// The rest of the request path once `route` took the request.
async fn through(
    route: &Route,
    req: Request<Incoming>,
    raw_host: Option<String>,
    canonical: Option<String>,
    conn: &Rc<ConnState>,
) -> Handled {
    let info = &conn.info;
    let verdict = policy::decide(&route.spec.access, &route.spec.allow, info);
    if verdict == Verdict::Deny {
        return error_page(StatusCode::FORBIDDEN).into();
    }

    // Held until the response has been sent; waited for when the
    // connection's HTTP/2 streams hold all they may.
    let slot = conn.backend_slot().await;
    let (mut parts, body) = req.into_parts();
    // Origin form with the canonical path, before forward-auth sees it.
    parts.uri = match (canonical, parts.uri.query()) {
        (None, _) => parts.uri.path_and_query().cloned().map(Ok),
        (Some(path), Some(query)) => Some(PathAndQuery::try_from(format!("{path}?{query}"))),
        (Some(path), None) => Some(PathAndQuery::try_from(path)),
    }
    .and_then(Result::ok)
    .unwrap_or_else(|| PathAndQuery::from_static("/"))
    .into();
    let mut auth_headers = Vec::new();
    if let (Verdict::ForwardAuth, Some(auth)) = (&verdict, &route.auth) {
        let outcome = forward_auth::check(
            auth,
            &route.client,
            route.spec.timeout,
            &parts,
            conn,
            raw_host.as_deref(),
        )
        .await;
        match outcome {
            AuthOutcome::Allow(headers) => auth_headers = headers,
            AuthOutcome::Deny(response) => {
                let mut handled = Handled::from(response);
                handled.slot = slot;
                return handled;
            }
            AuthOutcome::Failed(status) => return error_page(status).into(),
        }
    }

    let upgrade = match parts.version {
        Version::HTTP_11 => upgrade_protocol(&parts.headers, &route.spec.upgrades),
        _ => None,
    };
    // `TE: trailers` says the client takes trailers (gRPC servers want it
    // before they answer); it is hop-by-hop, so it is said again here, for
    // this proxy, which passes trailers on.
    let te_trailers = accepts_trailers(&parts.headers);
    let headers = &mut parts.headers;
    strip_hop_by_hop(headers);
    if let Some(protocol) = &upgrade {
        restore_upgrade(headers, protocol.clone());
    }
    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    strip_proxy_only(headers);
    if let Some(auth) = &route.auth {
        auth.copy.strip(headers);
        for (name, value) in auth_headers {
            headers.append(name, value);
        }
    }
    if let Some(peer) = &info.peer {
        add_identity(headers, peer);
    }
    if let Some(subject) = client_subject(&route.spec.access, info) {
        headers.insert(X_WINGRESS_CLIENT_SUBJECT, subject);
    }
    set_forwarded(
        headers,
        &conn.forwarded_for,
        info.scheme,
        raw_host.as_deref(),
    );
    if let Some(host) = raw_host
        .as_deref()
        .and_then(|h| HeaderValue::from_str(h).ok())
    {
        headers.insert(header::HOST, host);
    }
    if parts.version == Version::HTTP_2 {
        merge_cookies(headers);
    }

    let mut handled = send(route, parts, body, upgrade.is_some(), conn).await;
    handled.slot = slot;
    handled
}

/// Whether the request's `TE` lists `trailers`.
fn accepts_trailers(headers: &http::HeaderMap) -> bool {
    headers.get_all(header::TE).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',').any(|t| {
                t.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("trailers")
            })
        })
    })
}

fn client_subject(access: &Access, info: &ConnInfo) -> Option<HeaderValue> {
    let Access::Mtls(check) = access else {
        return None;
    };
    let subject = check.subject(info.client_chain.as_deref()?)?;
    HeaderValue::from_str(&subject).ok()
}

/// Picks a backend and sends the request; a connect failure ejects the
/// backend and, for a bodyless GET/HEAD, tries once more elsewhere.
async fn send(
    route: &Route,
    parts: Parts,
    body: Incoming,
    upgrade: bool,
    conn: &Rc<ConnState>,
) -> Handled {
    let client_deadline = route
        .spec
        .grpc_deadline
        .then(|| grpc::timeout(&parts.headers))
        .flatten();
    let timeout = client_deadline.map_or(route.spec.timeout, grpc::with_grace);
    let bodyless = body.is_end_stream();
    let retryable = bodyless && (parts.method == Method::GET || parts.method == Method::HEAD);
    let (req_body, mut body_sent) = if bodyless {
        (empty_body(), None)
    } else {
        let (body, sent) = streamed_body(body, conn);
        (body, Some(sent))
    };
    let mut req = Request::new(req_body);
    *req.method_mut() = parts.method;
    *req.uri_mut() = parts.uri;
    *req.headers_mut() = parts.headers;
    if !bodyless && !req.headers().contains_key(header::CONTENT_LENGTH) {
        // hyper's client would send a GET's body of unknown length with
        // no framing at all (and so drop it): say it is chunked.
        req.headers_mut().insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
    }
    let mut exclude = None;
    for attempt in 0..2 {
        let now = Instant::now();
        let Some(index) = route.upstream.pick(now, exclude) else {
            let status = if attempt == 0 {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::BAD_GATEWAY
            };
            return error_page(status).into();
        };
        let backend = &route.upstream.backends[index];
        let name = Some(backend.name.clone());
        let failed = |status| Handled {
            backend: name.clone(),
            ..error_page(status).into()
        };
        backend.requests.fetch_add(1, Ordering::Relaxed);
        match route
            .client
            .send(&backend.addr, req, timeout, body_sent.take())
            .await
        {
            Ok(response) => {
                let upgrade = upgrade.then_some(route.spec.upgrades.as_slice());
                return Handled {
                    backend: name,
                    ..respond(response, upgrade, conn).into()
                };
            }
            Err(SendError::Connect(e, unsent)) => {
                tracing::debug!(backend = %backend.addr, error = %Chain(&*e), "backend connect failed");
                eject(route, index, now);
                // Nothing was sent, but only a bodyless GET/HEAD is tried
                // again: a streamed body's timing belongs to one attempt.
                match unsent {
                    Some(unsent) if retryable && attempt == 0 => {
                        req = *unsent;
                        exclude = Some(index);
                        continue;
                    }
                    _ => return failed(StatusCode::BAD_GATEWAY),
                }
            }
            // Logged with its cause by the client.
            Err(SendError::Tls(_)) => return failed(StatusCode::BAD_GATEWAY),
            Err(SendError::Timeout) => return failed(StatusCode::GATEWAY_TIMEOUT),
            Err(SendError::Failed(e)) => {
                tracing::debug!(backend = %backend.addr, error = %Chain(&*e), "backend request failed");
                // The client's body failing is the client's doing (a body
                // timeout is counted where it happened, in `ClientBody`).
                return failed(client_body_status(&*e).unwrap_or(StatusCode::BAD_GATEWAY));
            }
        }
    }
    error_page(StatusCode::BAD_GATEWAY).into()
}

fn eject(route: &Route, index: usize, now: Instant) {
    if route.upstream.eject(index, now) {
        tracing::info!(
            route_host = %route.spec.host,
            backend = %route.upstream.backends[index].addr,
            "backend down: connection failed"
        );
    }
}

/// Rewrites the backend's response for the client. A 101 to an upgrade
/// request (`upgrade`: the route's protocols) hands the backend's upgraded
/// connection to the connection driver, which joins it to the client once
/// hyper has sent the 101.
fn respond(
    mut response: Response<BackendBody>,
    upgrade: Option<&[String]>,
    conn: &ConnState,
) -> Response<RespBody> {
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let protocol = response.headers().get(header::UPGRADE).cloned();
        let (Some(allowed), Some(protocol)) = (upgrade, protocol) else {
            tracing::debug!("backend switched protocols without an upgrade request");
            return error_page(StatusCode::BAD_GATEWAY);
        };
        if !protocols_allowed(&protocol, allowed) {
            tracing::debug!("backend switched to a protocol the route does not allow");
            return error_page(StatusCode::BAD_GATEWAY);
        }
        conn.set_upgrade(hyper::upgrade::on(&mut response));
        strip_hop_by_hop(response.headers_mut());
        restore_upgrade(response.headers_mut(), protocol);
    } else {
        strip_hop_by_hop(response.headers_mut());
    }
    response.map(BackendBody::boxed)
}
