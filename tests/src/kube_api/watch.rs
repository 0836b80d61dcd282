//! One watch request's stream: newline-delimited JSON events written as
//! HTTP/1.1 chunks, one event per chunk, as the real server flushes them.
//!
//! Order: the initial state when asked for (resourceVersion unset or `0`:
//! `ADDED` for every object; `sendInitialEvents=true`: the same, then a
//! `BOOKMARK` annotated `k8s.io/initial-events-end`), or `ERROR` 410 and
//! the end when the requested version was compacted; then every later
//! write in order, `BOOKMARK`s (when allowed) every bookmark interval and
//! on the test hook, until `timeoutSeconds`, the client leaving, the
//! end-watches hook or the server stopping.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::selector::Selectors;
use super::status::{status_object, Body};
use super::store::with_type;
use super::Shared;

/// What a watch request asked for.
#[derive(Debug)]
pub(super) struct WatchRequest {
    /// The index into the resources.
    pub(super) resource: usize,
    /// The namespace, `None` for all.
    pub(super) namespace: Option<String>,
    /// The selectors.
    pub(super) selectors: Selectors,
    /// `resourceVersion`, `None` when unset.
    pub(super) rv: Option<u64>,
    /// `allowWatchBookmarks=true`.
    pub(super) bookmarks: bool,
    /// `sendInitialEvents=true`.
    pub(super) initial_events: bool,
    /// `timeoutSeconds`.
    pub(super) timeout: Option<Duration>,
}

type Chunk = Result<Frame<Bytes>, Infallible>;

/// Starts the stream's task and returns the response whose body it feeds.
pub(super) fn respond(shared: Arc<Shared>, req: WatchRequest) -> Response<Body> {
    let (tx, mut rx) = mpsc::channel::<Chunk>(64);
    tokio::spawn(run(shared, req, tx));
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut resp = Response::new(StreamBody::new(stream).boxed());
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn event(kind: &str, object: &Value) -> Chunk {
    let mut line = json!({"type": kind, "object": object})
        .to_string()
        .into_bytes();
    line.push(b'\n');
    Ok(Frame::data(Bytes::from(line)))
}

fn bookmark(resource: usize, rv: u64, initial_end: bool) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    with_type(resource, &json!({"metadata": meta}))
}

async fn run(shared: Arc<Shared>, req: WatchRequest, tx: mpsc::Sender<Chunk>) {
    let mut changed = shared.changed.subscribe();
    let mut bookmark_hook = shared.bookmark_hook.subscribe();
    let mut end_hook = shared.end_watches.subscribe();
    let deadline = req.timeout.map(|t| tokio::time::Instant::now() + t);
    let ns = req.namespace.as_deref();

    // The starting point and the initial events, under one lock with the
    // store so nothing is missed or repeated.
    let (mut last, first, gone) = {
        let state = shared.lock();
        let store = &state.store;
        match req.rv {
            Some(rv) if rv != 0 && !req.initial_events => {
                if store.too_old(rv) {
                    let status = status_object(
                        StatusCode::GONE,
                        "Expired",
                        &format!("too old resource version: {rv} ({})", store.compacted()),
                        None,
                    );
                    (0, vec![event("ERROR", &status)], true)
                } else {
                    (rv, Vec::new(), false)
                }
            }
            _ => {
                let mut first: Vec<Chunk> = store
                    .list(req.resource, ns, &req.selectors)
                    .iter()
                    .map(|o| event("ADDED", &with_type(req.resource, o)))
                    .collect();
                if req.initial_events {
                    first.push(event("BOOKMARK", &bookmark(req.resource, store.rv(), true)));
                }
                (store.rv(), first, false)
            }
        }
    };
    for chunk in first {
        if tx.send(chunk).await.is_err() {
            return;
        }
    }
    if gone {
        return;
    }
    let interval = shared.lock().bookmark_interval;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        // Everything written since `last`, then wait for more.
        let (pending, broken, now_rv) = {
            let state = shared.lock();
            let store = &state.store;
            if store.writes_lost_after(last) {
                (Vec::new(), true, store.rv())
            } else {
                (
                    store.changes_since(last, req.resource, ns, &req.selectors),
                    false,
                    store.rv(),
                )
            }
        };
        if broken {
            let status = status_object(
                StatusCode::GONE,
                "Expired",
                &format!("too old resource version: {last} ({now_rv})"),
                None,
            );
            let _ = tx.send(event("ERROR", &status)).await;
            return;
        }
        for c in pending {
            last = c.rv;
            if tx
                .send(event(c.kind.as_str(), &with_type(c.resource, &c.object)))
                .await
                .is_err()
            {
                return;
            }
        }
        let send_bookmark = tokio::select! {
            r = changed.changed() => { if r.is_err() { return; } false }
            r = bookmark_hook.changed() => { if r.is_err() { return; } true }
            _ = ticker.tick() => true,
            _ = end_hook.changed() => return,
            () = tx.closed() => return,
            () = sleep_until(deadline) => return,
        };
        if send_bookmark && req.bookmarks {
            // A bookmark promises every earlier write was sent: send what
            // is pending first, then mark the store's current version.
            let (pending, rv) = {
                let state = shared.lock();
                (
                    state
                        .store
                        .changes_since(last, req.resource, ns, &req.selectors),
                    state.store.rv(),
                )
            };
            for c in pending {
                if tx
                    .send(event(c.kind.as_str(), &with_type(c.resource, &c.object)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            last = rv;
            if tx
                .send(event("BOOKMARK", &bookmark(req.resource, rv, false)))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
