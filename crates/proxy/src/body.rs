//! The bodies of proxied requests: the boxed request body every backend
//! request carries, and the client's streamed body, which reports when it
//! has been sent and ends with an error when the client goes quiet for the
//! connection's `body_timeout`.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

use crate::conn::ConnState;
use crate::limits::Limit;
use crate::spec::nonzero;
use crate::stats::ProxyStats;

pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;
pub(crate) type ReqBody = UnsyncBoxBody<Bytes, BoxError>;

pub(crate) fn empty_body() -> ReqBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// Wraps a streamed client body, signalling when it has been sent in full,
/// and ending it with [`BodyIdle`] when the client sends nothing for the
/// connection's `body_timeout` (counted on the connection).
pub(crate) fn streamed_body(
    body: Incoming,
    conn: &Rc<ConnState>,
) -> (ReqBody, oneshot::Receiver<()>) {
    let (tx, rx) = oneshot::channel();
    let body = ClientBody {
        inner: body,
        done: Some(tx),
        idle: nonzero(conn.body_timeout),
        waiting_since: None,
        timer: None,
        stats: conn.stats.clone(),
        entrypoint: conn.info.entrypoint.clone(),
    };
    (body.boxed_unsync(), rx)
}

/// The client went `body_timeout` without sending a byte of the body.
#[derive(Debug, thiserror::Error)]
#[error("no request body bytes from the client in time")]
pub(crate) struct BodyIdle;

/// The client's request body could not be read (a broken chunked
/// encoding, the client gone).
#[derive(Debug, thiserror::Error)]
#[error("request body from the client failed")]
pub(crate) struct ClientBodyFailed(#[source] hyper::Error);

/// Why a backend request failed, when the client's body was the cause
/// (hyper wraps the body's error): the status to answer with.
pub(crate) fn client_body_status(e: &(dyn StdError + 'static)) -> Option<StatusCode> {
    let mut source = Some(e);
    while let Some(e) = source {
        if e.is::<BodyIdle>() {
            return Some(StatusCode::REQUEST_TIMEOUT);
        }
        if e.is::<ClientBodyFailed>() {
            return Some(StatusCode::BAD_REQUEST);
        }
        source = e.source();
    }
    None
}

struct ClientBody {
    inner: Incoming,
    done: Option<oneshot::Sender<()>>,
    idle: Option<Duration>,
    /// Since when the body has been waiting for the client (its last poll
    /// found nothing). Time the body is not polled (the backend is not
    /// reading) does not count against the client: the next poll finds
    /// the bytes the client sent meanwhile.
    waiting_since: Option<Instant>,
    /// Made only for a body that has waited once.
    timer: Option<Pin<Box<Sleep>>>,
    /// Where the timeout is counted (bodies are `Send`: no `ConnState`).
    stats: Arc<ProxyStats>,
    entrypoint: Arc<str>,
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => {
                this.waiting_since = None;
                if let Some(done) = this.done.take() {
                    let _ = done.send(());
                }
            }
            Poll::Ready(Some(Err(_))) => this.done = None,
            Poll::Ready(Some(Ok(_))) => this.waiting_since = None,
            Poll::Pending => {
                if let Some(idle) = this.idle {
                    let deadline = *this.waiting_since.get_or_insert_with(Instant::now) + idle;
                    let timer = this
                        .timer
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                    if timer.deadline() != deadline {
                        timer.as_mut().reset(deadline);
                    }
                    if timer.as_mut().poll(cx).is_ready() {
                        this.done = None;
                        tracing::debug!(entrypoint = &*this.entrypoint, "request body timed out");
                        this.stats.limit_hit(&this.entrypoint, Limit::BodyTimeout);
                        return Poll::Ready(Some(Err(Box::new(BodyIdle))));
                    }
                }
            }
        }
        polled.map_err(|e| Box::new(ClientBodyFailed(e)) as BoxError)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
