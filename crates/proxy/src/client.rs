//! The HTTP/1.1 client towards backends: pooled keep-alive connections
//! (hyper-util's legacy client over an `HttpConnector` with TCP_NODELAY and
//! the route's connect timeout), and the response-headers timeout.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::{PathAndQuery, Uri};
use http::{Request, Response, Version};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::oneshot;

use crate::dns::CachingResolver;
use crate::spec::BackendAddr;

pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;
pub(crate) type ReqBody = UnsyncBoxBody<Bytes, BoxError>;

/// How long an unused pooled backend connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);

type Pooled = Client<HttpConnector<CachingResolver>, ReqBody>;

/// A route's backend client. The connection pool is per thread: a pooled
/// connection's socket and its hyper driver task belong to the runtime of
/// the thread that opened it, so each event-loop thread keeps its own pool
/// and never hands requests across threads.
#[derive(Clone, Debug)]
pub(crate) struct BackendClient {
    id: usize,
    connect_timeout: Duration,
    resolver: CachingResolver,
}

static NEXT_CLIENT_ID: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static POOLS: RefCell<HashMap<usize, Pooled>> = RefCell::new(HashMap::new());
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// No connection could be made: the backend is down or unreachable.
    #[error("cannot connect to backend")]
    Connect(#[source] BoxError),
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

    /// This thread's pool for this client (a cheap handle clone).
    fn pool(&self) -> Pooled {
        POOLS.with(|pools| {
            pools
                .borrow_mut()
                .entry(self.id)
                .or_insert_with(|| {
                    let mut connector = HttpConnector::new_with_resolver(self.resolver.clone());
                    connector.set_nodelay(true);
                    connector.set_connect_timeout(nonzero(self.connect_timeout));
                    Client::builder(TokioExecutor::new())
                        .pool_timer(TokioTimer::new())
                        .pool_idle_timeout(POOL_IDLE)
                        .build(connector)
                })
                .clone()
        })
    }

    /// Sends `req` (its URI only supplies path and query) to `target`. The
    /// `timeout` for the response headers starts once the request body has
    /// been sent (`body_sent` resolves), like Traefik's
    /// `responseHeaderTimeout`; `None` means the body is already complete.
    pub(crate) async fn send(
        &self,
        target: &BackendAddr,
        mut req: Request<ReqBody>,
        timeout: Duration,
        body_sent: Option<oneshot::Receiver<()>>,
    ) -> Result<Response<Incoming>, SendError> {
        let path = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let uri = Uri::builder()
            .scheme("http")
            .authority(target.to_string())
            .path_and_query(path)
            .build()
            .map_err(|e| SendError::Failed(e.into()))?;
        *req.uri_mut() = uri;
        *req.version_mut() = Version::HTTP_11;
        let response = self.pool().request(req);
        let Some(timeout) = nonzero(timeout) else {
            return response.await.map_err(classify);
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
            result = response => result.map_err(classify),
            () = deadline => Err(SendError::Timeout),
        }
    }
}

fn classify(e: hyper_util::client::legacy::Error) -> SendError {
    if e.is_connect() {
        SendError::Connect(e.into())
    } else {
        SendError::Failed(e.into())
    }
}

pub(crate) fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

pub(crate) fn empty_body() -> ReqBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// Wraps a streamed client body, signalling when it has been sent in full.
pub(crate) fn streamed_body(body: Incoming) -> (ReqBody, oneshot::Receiver<()>) {
    let (tx, rx) = oneshot::channel();
    let body = SignalOnEnd {
        inner: body,
        done: Some(tx),
    };
    (body.boxed_unsync(), rx)
}

struct SignalOnEnd {
    inner: Incoming,
    done: Option<oneshot::Sender<()>>,
}

impl Body for SignalOnEnd {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => {
                if let Some(done) = self.done.take() {
                    let _ = done.send(());
                }
            }
            Poll::Ready(Some(Err(_))) => self.done = None,
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
