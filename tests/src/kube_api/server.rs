//! The HTTPS listener and the request handler: authentication, the RBAC
//! decision, then list, watch, get, create, patch or delete on the store.
//!
//! Each request is recorded (after authentication, with the answer's
//! status) for the tests' assertions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::discovery;
use super::resource::{ApiResource, Target, RESOURCES};
use super::selector::Selectors;
use super::status::{failure, json_response, Body};
use super::store::{strip_type, with_type};
use super::watch::{self, WatchRequest};
use super::{RecordedRequest, Shared};

/// Binds `addr` and serves until the returned task is aborted; every
/// connection also ends when `shared.stop` changes.
pub(super) async fn listen(
    shared: Arc<Shared>,
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("bind {addr}"))?;
    let local = listener.local_addr()?;
    let acceptor = TlsAcceptor::from(tls);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let shared = shared.clone();
            let mut stop = shared.stop.subscribe();
            let conns = shared.connections.clone();
            let handle = tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(move |req| {
                    let shared = shared.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(shared, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc);
                tokio::select! {
                    _ = conn => {}
                    _ = stop.changed() => {}
                }
            });
            let mut conns = conns
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            conns.retain(|h| !h.is_finished());
            conns.push(handle);
        }
    });
    Ok((local, task))
}

/// The query string's pairs, decoded as `application/x-www-form-urlencoded`.
fn query_pairs(query: &str) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn not_found_path() -> Response<Body> {
    failure(
        StatusCode::NOT_FOUND,
        "NotFound",
        "the server could not find the requested resource",
        Some(json!({})),
    )
}

fn not_found(api: &ApiResource, name: &str) -> Response<Body> {
    failure(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{} \"{name}\" not found", api.qualified()),
        Some(json!({"name": name, "group": api.group, "kind": api.plural})),
    )
}

fn bad_request(message: &str) -> Response<Body> {
    failure(StatusCode::BAD_REQUEST, "BadRequest", message, None)
}

/// Answers one request.
pub(super) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let params = query_pairs(&query);
    let watch = matches!(
        params.get("watch").map(String::as_str),
        Some("1" | "true" | "True")
    );
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let target = Target::parse(&method, &path, watch);
    let mut record = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        verb: target.as_ref().map(|t| t.verb.to_owned()),
        group: target.as_ref().map(|t| t.api().group.to_owned()),
        resource: target.as_ref().map(|t| t.api().plural.to_owned()),
        subresource: target.as_ref().and_then(|t| t.subresource.clone()),
        namespace: target.as_ref().and_then(|t| t.namespace.clone()),
        name: target.as_ref().and_then(|t| t.name.clone()),
        code: 0,
        old_token: false,
    };

    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let resp = {
        let state = shared.lock();
        let valid = token.as_deref().and_then(|t| state.token_valid(t));
        record.old_token = valid == Some(true);
        if valid.is_none() {
            Some(failure(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "Unauthorized",
                None,
            ))
        } else {
            match &target {
                None => Some(match discovery::document(&path) {
                    Some(doc) if method == http::Method::GET => json_response(StatusCode::OK, &doc),
                    _ => not_found_path(),
                }),
                Some(t) if !state.role.as_ref().is_none_or(|r| r.allows_target(t)) => {
                    Some(forbidden(&state.user, t))
                }
                Some(_) => None,
            }
        }
    };
    let resp = match (resp, target) {
        (Some(resp), _) => resp,
        (None, None) => not_found_path(),
        (None, Some(t)) => serve(
            &shared,
            Call {
                target: &t,
                params: &params,
                content_type: &content_type,
                body: &body,
            },
        ),
    };
    record.code = resp.status().as_u16();
    // Unauthenticated requests are not the client's requests (the RBAC
    // check covers what an authenticated client asked for); keep them
    // anyway, marked by their 401, so a test sees them.
    shared.lock().requests.push(record);
    resp
}

fn forbidden(user: &str, t: &Target) -> Response<Body> {
    let api = t.api();
    let resource = match &t.subresource {
        Some(sub) => format!("{}/{sub}", api.plural),
        None => api.plural.to_owned(),
    };
    let scope = match &t.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_owned(),
    };
    let subject = match &t.name {
        Some(n) => format!("{} \"{n}\"", api.qualified()),
        None => api.qualified(),
    };
    failure(
        StatusCode::FORBIDDEN,
        "Forbidden",
        &format!(
            "{subject} is forbidden: User \"{user}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
            t.verb, api.group
        ),
        Some(json!({"name": t.name.clone().unwrap_or_default(), "group": api.group, "kind": api.plural})),
    )
}

/// What a resource request asked for, past authentication and RBAC: what
/// [`serve`] answers and hands on (to [`patch`], ...).
#[derive(Clone, Copy)]
struct Call<'a> {
    /// The verb, resource and object.
    target: &'a Target,
    /// The query parameters.
    params: &'a HashMap<String, String>,
    /// The `Content-Type` header (empty without one).
    content_type: &'a str,
    /// The request body.
    body: &'a Bytes,
}

/// Answers a resource request by its verb.
fn serve(shared: &Arc<Shared>, call: Call<'_>) -> Response<Body> {
    let Call {
        target: t,
        params,
        body,
        ..
    } = call;
    let api = t.api();
    let ns = t.namespace.as_deref();
    match t.verb {
        "list" | "watch" => {
            let selectors = match Selectors::parse(
                api.kind,
                params.get("fieldSelector").map(String::as_str),
                params.get("labelSelector").map(String::as_str),
            ) {
                Ok(s) => s,
                Err(e) => return bad_request(&e),
            };
            let rv = match params.get("resourceVersion").filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => match s.parse::<u64>() {
                    Ok(v) => Some(v),
                    Err(_) => return bad_request(&format!("invalid resource version: {s}")),
                },
            };
            if t.verb == "watch" {
                let initial_events = params.get("sendInitialEvents").is_some_and(|v| v == "true");
                let bookmarks = params
                    .get("allowWatchBookmarks")
                    .is_some_and(|v| v == "true");
                if initial_events
                    && (params.get("resourceVersionMatch").map(String::as_str)
                        != Some("NotOlderThan")
                        || !bookmarks)
                {
                    return failure(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "Invalid",
                        "sendInitialEvents requires resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true",
                        None,
                    );
                }
                let timeout = params
                    .get("timeoutSeconds")
                    .and_then(|s| s.parse::<u64>().ok())
                    .map(Duration::from_secs);
                return watch::respond(
                    shared.clone(),
                    WatchRequest {
                        resource: t.resource,
                        namespace: t.namespace.clone(),
                        selectors,
                        rv,
                        bookmarks,
                        initial_events,
                        timeout,
                    },
                );
            }
            list(shared, t, params, &selectors, rv)
        }
        "get" => {
            let name = t.name.as_deref().unwrap_or_default();
            match shared
                .lock()
                .store
                .get(t.resource, ns.unwrap_or_default(), name)
            {
                Some(o) => json_response(StatusCode::OK, &with_type(t.resource, o)),
                None => not_found(api, name),
            }
        }
        "create" => {
            let mut object: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return bad_request(&format!("the body is not JSON: {e}")),
            };
            let ns = ns.unwrap_or("default");
            let meta_ns = object["metadata"]["namespace"].as_str();
            if meta_ns.is_some_and(|m| m != ns) {
                return bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                );
            }
            object["metadata"]["namespace"] = json!(ns);
            let mut state = shared.lock();
            if object["metadata"]["name"]
                .as_str()
                .is_none_or(str::is_empty)
            {
                let prefix = object["metadata"]["generateName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if prefix.is_empty() {
                    return failure(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "Invalid",
                        "metadata.name: Required value: name or generateName is required",
                        None,
                    );
                }
                object["metadata"]["name"] = json!(format!("{prefix}{:05x}", state.store.rv() + 1));
            }
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if state.store.get(t.resource, ns, &name).is_some() {
                return failure(
                    StatusCode::CONFLICT,
                    "AlreadyExists",
                    &format!("{} \"{name}\" already exists", api.qualified()),
                    Some(json!({"name": name, "group": api.group, "kind": api.plural})),
                );
            }
            let stored = state.store.put(t.resource, object);
            drop(state);
            shared.notify();
            json_response(StatusCode::CREATED, &with_type(t.resource, &stored))
        }
        "patch" => patch(shared, call),
        "delete" => {
            let name = t.name.as_deref().unwrap_or_default();
            let deleted = shared
                .lock()
                .store
                .delete(t.resource, ns.unwrap_or_default(), name);
            match deleted {
                Some(o) => {
                    shared.notify();
                    json_response(StatusCode::OK, &with_type(t.resource, &o))
                }
                None => not_found(api, name),
            }
        }
        verb => failure(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            &format!("the fake API server does not implement {verb}"),
            None,
        ),
    }
}

fn list(
    shared: &Arc<Shared>,
    t: &Target,
    params: &HashMap<String, String>,
    selectors: &Selectors,
    rv: Option<u64>,
) -> Response<Body> {
    let api = t.api();
    let limit = params
        .get("limit")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0);
    let mut state = shared.lock();
    let store = &mut state.store;
    if let Some(rv) = rv {
        let exact = params
            .get("resourceVersionMatch")
            .is_some_and(|m| m == "Exact");
        if exact && rv != store.rv() && rv != 0 {
            return failure(
                StatusCode::GONE,
                "Expired",
                &format!("too old resource version: {rv} ({})", store.compacted()),
                None,
            );
        }
    }
    let (items, list_rv, next, remaining) = match params.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => match store.page(token, limit) {
            Ok(page) => page,
            Err(true) => {
                return failure(
                    StatusCode::GONE,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                    None,
                )
            }
            Err(false) => return bad_request("continue key is not valid"),
        },
        None => {
            let all = store.list(t.resource, t.namespace.as_deref(), selectors);
            let now = store.rv();
            match limit {
                Some(n) if n < all.len() => {
                    let rest = all[n..].to_vec();
                    let remaining = rest.len();
                    let first = all[..n].to_vec();
                    let token = store.keep_pages(now, rest);
                    (first, now, Some(token), remaining)
                }
                _ => (all, now, None, 0),
            }
        }
    };
    let mut metadata = json!({"resourceVersion": list_rv.to_string()});
    if let Some(token) = next {
        metadata["continue"] = json!(token);
        if remaining > 0 {
            metadata["remainingItemCount"] = json!(remaining);
        }
    }
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut o| {
            strip_type(&mut o);
            o
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "kind": api.list_kind(),
            "apiVersion": api.api_version(),
            "metadata": metadata,
            "items": items,
        }),
    )
}

/// A `patch` of an object or its status: a merge patch or an apply patch.
fn patch(shared: &Arc<Shared>, call: Call<'_>) -> Response<Body> {
    let Call {
        target: t,
        params,
        content_type,
        body,
    } = call;
    let api = t.api();
    let name = t.name.as_deref().unwrap_or_default();
    let ns = t.namespace.as_deref().unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let patch: Value = match media {
        "application/merge-patch+json" => match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return bad_request(&format!("the patch is not JSON: {e}")),
        },
        "application/apply-patch+yaml" => {
            if params.get("fieldManager").is_none_or(String::is_empty) {
                return failure(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                    None,
                );
            }
            let text = String::from_utf8_lossy(body);
            let v: Value = match serde_saphyr::from_str(&text) {
                Ok(v) => v,
                Err(e) => return bad_request(&format!("the apply patch is not YAML: {e}")),
            };
            if v["apiVersion"] != json!(api.api_version()) || v["kind"] != json!(api.kind) {
                return bad_request("apply patches must carry the object's apiVersion and kind");
            }
            v
        }
        other => {
            return failure(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                &format!("the fake API server does not implement the patch type {other:?}"),
                None,
            )
        }
    };
    let mut state = shared.lock();
    let Some(current) = state.store.get(t.resource, ns, name).cloned() else {
        return not_found(api, name);
    };
    let mut updated = current.clone();
    match t.subresource.as_deref() {
        // The status subresource changes only `status`.
        Some("status") => merge(&mut updated["status"], &patch["status"]),
        None => {
            let mut p = patch.clone();
            if let Some(m) = p.as_object_mut() {
                // The main resource ignores `status` when the kind has a
                // status subresource (Ingress); Events have none.
                if RESOURCES[t.resource].kind == "Ingress" {
                    m.remove("status");
                }
                m.remove("kind");
                m.remove("apiVersion");
            }
            merge(&mut updated, &p);
        }
        Some(other) => {
            return failure(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("the fake API server has no subresource {other}"),
                None,
            )
        }
    }
    // A patch that changes nothing writes nothing, as the real server
    // skips no-op updates: no new resource version, no event.
    if updated == current {
        return json_response(StatusCode::OK, &with_type(t.resource, &current));
    }
    let stored = state.store.put(t.resource, updated);
    drop(state);
    shared.notify();
    json_response(StatusCode::OK, &with_type(t.resource, &stored))
}

/// RFC 7386 JSON merge patch.
pub(super) fn merge(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        if !patch.is_null() {
            *target = patch.clone();
        }
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (k, v) in fields {
        if v.is_null() {
            if let Some(m) = target.as_object_mut() {
                m.remove(k);
            }
        } else {
            merge(&mut target[k.as_str()], v);
        }
    }
}
