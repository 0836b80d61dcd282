//! The client towards backends: a request goes out on a pooled connection
//! of this thread (`pool`), or a new one made within the route's connect
//! timeout (TLS for `https://` backends, as the route's [`BackendTls`]
//! says), in HTTP/1.1 or HTTP/2 (`sender`); the response-headers timeout
//! starts once the request body is sent. An HTTP/1.1 response body
//! (`pool::BackendBody`) hands its connection back to the pool when it has
//! been read to the end; an HTTP/2 connection is shared while it is open.

use std::error::Error as StdError;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::body::{BoxError, ReqBody};
use crate::dns::CachingResolver;
use wingress_sync::lock;

use crate::backend_tls::TlsConnectError;
use crate::in_process::InProcessConnector;
use crate::pool::{self, BackendBody, ConnectError};
use crate::sender::shape_http1;
use crate::spec::{nonzero, BackendAddr, BackendScheme, BackendTls};

/// A route's backend client. Connections are pooled per thread (see
/// `pool`): a connection's socket and driver task belong to the event loop
/// that opened it, so requests are never handed across threads.
///
/// Pools are keyed by how a connection is made ([`ConnSettings`]) and the
/// backend's address, not by route or table: a reload, or a snapshot of
/// Kubernetes discovery, builds new routes that keep using the
/// connections the previous ones opened.
#[derive(Clone, Debug)]
pub(crate) struct BackendClient {
    settings: ConnSettings,
    resolver: CachingResolver,
    tls: Option<BackendTls>,
    /// For [`crate::BackendScheme::InProcess`] backends.
    in_process: Option<InProcessConnector>,
    /// When a failed TLS handshake was last logged at WARN: at most one
    /// such line per [`TLS_WARN_EVERY`], the others at DEBUG, so requests
    /// cannot flood the log.
    tls_warned: Arc<Mutex<Option<Instant>>>,
}

/// What a backend connection was opened with. Two routes whose settings
/// are equal share idle connections to the same address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ConnSettings {
    /// Bounds opening a connection (resolving included); zero: none.
    pub(crate) connect_timeout: Duration,
    /// The transport's [`BackendTls::key`]: what its TLS configuration was
    /// built from (files included), so a reload that rebuilt it unchanged
    /// keeps the connections, and a changed CA or client certificate does
    /// not reuse those made with the old one.
    pub(crate) tls: Option<u64>,
    /// The in-process pair the connections belong to (its id): streams to
    /// one listener are no use for another.
    pub(crate) in_process: Option<u64>,
}

/// How often a route's failing TLS handshakes are logged at WARN.
const TLS_WARN_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// No connection could be made: the backend is down or unreachable.
    /// The request, never sent, comes back for another attempt.
    #[error("cannot connect to backend")]
    Connect(#[source] BoxError, Option<Box<Request<ReqBody>>>),
    /// Connected, but the TLS handshake failed (the cause is logged). The
    /// backend stays in rotation: it is up, the transport is wrong.
    #[error("tls to backend failed")]
    Tls(#[source] TlsConnectError),
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
    pub(crate) fn new(
        connect_timeout: Duration,
        resolver: CachingResolver,
        tls: Option<BackendTls>,
        in_process: Option<InProcessConnector>,
    ) -> Self {
        BackendClient {
            settings: ConnSettings {
                connect_timeout,
                tls: tls.as_ref().map(|t| t.key),
                in_process: in_process.as_ref().map(InProcessConnector::id),
            },
            resolver,
            tls,
            in_process,
            tls_warned: Arc::default(),
        }
    }

    /// Logs a failed handshake with its cause: at WARN at most once per
    /// [`TLS_WARN_EVERY`], otherwise at DEBUG.
    fn log_tls_failure(&self, target: &BackendAddr, e: &TlsConnectError) {
        let now = Instant::now();
        let warn = {
            let mut last = lock(&self.tls_warned);
            let due = last.is_none_or(|at| now.duration_since(at) >= TLS_WARN_EVERY);
            if due {
                *last = Some(now);
            }
            due
        };
        if warn {
            tracing::warn!(backend = %target, error = %Chain(e), "backend tls handshake failed");
        } else {
            tracing::debug!(backend = %target, error = %Chain(e), "backend tls handshake failed");
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
        // HTTP/1.1 backends get origin-form targets (`/path?query`); Host
        // says whom. HTTP/2 ones get theirs from `sender` once the
        // connection's protocol is known.
        shape_http1(&mut req);
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
        let idle = pool::idle_for(self.settings, target);
        loop {
            let (mut sender, reused) = match idle.take(Instant::now()) {
                Some(sender) => (sender, true),
                None => {
                    let tls = self.tls.as_ref();
                    let timeout = self.settings.connect_timeout;
                    let connected = if target.scheme == BackendScheme::InProcess {
                        pool::connect_in_process(self.in_process.as_ref(), timeout).await
                    } else {
                        pool::connect(target, &self.resolver, timeout, tls).await
                    };
                    match connected {
                        Ok(sender) => {
                            // Later requests share a new HTTP/2 connection
                            // at once, not only after this response.
                            if let Some(shared) = sender.share() {
                                idle.put(shared);
                            }
                            (sender, false)
                        }
                        Err(ConnectError::Tls(e)) => {
                            self.log_tls_failure(target, &e);
                            return Err(SendError::Tls(e));
                        }
                        Err(e) => return Err(SendError::Connect(e.into(), Some(Box::new(req)))),
                    }
                }
            };
            if let Err(e) = sender.ready().await {
                if reused {
                    continue;
                }
                return Err(SendError::Failed(e.into()));
            }
            match sender.try_send_request(req, target).await {
                Ok(response) => return Ok(BackendBody::wrap(response, sender, idle)),
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => req = unsent,
                    _ => return Err(SendError::Failed(e.into_error().into())),
                },
            }
        }
    }
}
