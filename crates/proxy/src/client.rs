//! The HTTP/1.1 client towards backends: a request goes out on a pooled
//! keep-alive connection of this thread (`pool`), or a new one made within
//! the route's connect timeout; the response-headers timeout starts once the
//! request body is sent. The response body hands its connection back to the
//! pool when it has been read to the end.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::{PathAndQuery, Uri};
use http::{Request, Response, StatusCode, Version};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

use crate::conn::ConnState;
use crate::dns::CachingResolver;
use crate::limits::Limit;
use crate::pool::{self, Idle, Sender};
use crate::spec::BackendAddr;
use crate::stats::ProxyStats;

pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;
pub(crate) type ReqBody = UnsyncBoxBody<Bytes, BoxError>;

/// A route's backend client. Connections are pooled per thread (see
/// `pool`): a connection's socket and driver task belong to the event loop
/// that opened it, so requests are never handed across threads.
#[derive(Clone, Debug)]
pub(crate) struct BackendClient {
    id: usize,
    connect_timeout: Duration,
    resolver: CachingResolver,
}

static NEXT_CLIENT_ID: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// No connection could be made: the backend is down or unreachable.
    /// The request, never sent, comes back for another attempt.
    #[error("cannot connect to backend")]
    Connect(#[source] BoxError, Option<Box<Request<ReqBody>>>),
    /// The backend did not answer within the route's timeout.
    #[error("backend response timed out")]
    Timeout,
    /// Anything else: the connection broke, the response was malformed.
    #[error("backend request failed")]
    Failed(#[source] BoxError),
}

/// Displays an error followed by its sources: `a: b: c`.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}

impl BackendClient {
    pub(crate) fn new(connect_timeout: Duration, resolver: CachingResolver) -> Self {
        BackendClient {
            id: NEXT_CLIENT_ID.fetch_add(1, Ordering::Relaxed),
            connect_timeout,
            resolver,
        }
    }

    /// Sends `req` (its URI only supplies path and query) to `target`. The
    /// `timeout` for the response headers starts once the request body has
    /// been sent (`body_sent` resolves), like Traefik's
    /// `responseHeaderTimeout`; `None` means the body is already complete.
    /// On [`SendError::Connect`] the request was not sent.
    pub(crate) async fn send(
        &self,
        target: &BackendAddr,
        mut req: Request<ReqBody>,
        timeout: Duration,
        body_sent: Option<oneshot::Receiver<()>>,
    ) -> Result<Response<BackendBody>, SendError> {
        // Backends get origin-form targets (`/path?query`); Host says whom.
        if req.uri().scheme().is_some() || req.uri().authority().is_some() {
            let path = req
                .uri()
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            *req.uri_mut() = Uri::from(path);
        }
        *req.version_mut() = Version::HTTP_11;
        let response = self.exchange(target, req);
        let Some(timeout) = nonzero(timeout) else {
            return response.await;
        };
        let deadline = async move {
            if let Some(sent) = body_sent {
                // A dropped sender means the body ended with an error; the
                // response future reports that.
                let _ = sent.await;
            }
            tokio::time::sleep(timeout).await;
        };
        tokio::select! {
            result = response => result,
            () = deadline => Err(SendError::Timeout),
        }
    }

    /// One request on a pooled connection, or a new one. A pooled
    /// connection can turn out closed (the backend's keep-alive timeout ran
    /// out while it sat idle): then the request, not yet sent, goes to the
    /// next one, and finally to a new connection.
    async fn exchange(
        &self,
        target: &BackendAddr,
        mut req: Request<ReqBody>,
    ) -> Result<Response<BackendBody>, SendError> {
        let idle = pool::idle_for(self.id, target);
        loop {
            let (mut sender, reused) = match idle.take(Instant::now()) {
                Some(sender) => (sender, true),
                None => match pool::connect(target, &self.resolver, self.connect_timeout).await {
                    Ok(sender) => (sender, false),
                    Err(e) => return Err(SendError::Connect(e, Some(Box::new(req)))),
                },
            };
            if let Err(e) = sender.ready().await {
                if reused {
                    continue;
                }
                return Err(SendError::Failed(e.into()));
            }
            match sender.try_send_request(req).await {
                Ok(response) => return Ok(BackendBody::wrap(response, sender, idle)),
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => req = unsent,
                    _ => return Err(SendError::Failed(e.into_error().into())),
                },
            }
        }
    }
}

/// A backend response body that returns its connection to the pool once it
/// has been read to the end. Dropped early, it takes the connection with it
/// (hyper closes a connection whose response was abandoned).
pub(crate) struct BackendBody {
    inner: Incoming,
    reuse: Option<(Sender, Arc<Idle>)>,
}

impl BackendBody {
    fn wrap(response: Response<Incoming>, sender: Sender, idle: Arc<Idle>) -> Response<Self> {
        // An upgraded connection belongs to the upgrade; one the backend is
        // closing is of no further use.
        let reusable = response.status() != StatusCode::SWITCHING_PROTOCOLS
            && !response
                .headers()
                .get_all(header::CONNECTION)
                .iter()
                .any(is_close);
        let mut reuse = reusable.then_some((sender, idle));
        if response.body().is_end_stream() {
            if let Some((sender, idle)) = reuse.take() {
                idle.put(sender);
            }
        }
        response.map(|inner| BackendBody { inner, reuse })
    }

    /// As a boxed body for responses that go back to the client.
    pub(crate) fn boxed(self) -> UnsyncBoxBody<Bytes, BoxError> {
        self.boxed_unsync()
    }
}

impl BackendBody {
    /// The body has been read to the end: the connection can take the
    /// next request.
    fn release(&mut self) {
        if let Some((sender, idle)) = self.reuse.take() {
            idle.put(sender);
        }
    }
}

impl Drop for BackendBody {
    fn drop(&mut self) {
        if self.inner.is_end_stream() {
            self.release();
        }
    }
}

fn is_close(v: &HeaderValue) -> bool {
    v.to_str()
        .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
}

impl Body for BackendBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            // Consumers stop polling once `is_end_stream` says so, so the
            // end is noticed after the last frame, not only at `None`.
            Poll::Ready(None) => self.release(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.release(),
            Poll::Ready(Some(Err(_))) => self.reuse = None,
            _ => {}
        }
        polled.map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pub(crate) fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

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
