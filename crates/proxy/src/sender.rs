//! One backend connection's request handle, HTTP/1.1 or HTTP/2, and the
//! request shape each wants: HTTP/1.1 takes origin-form targets
//! (`/path?query`) with `Host`; HTTP/2 needs `:scheme` and `:authority`,
//! so its requests carry an absolute URI, the Host value as authority and
//! no `Host` header.
//!
//! An HTTP/1.1 connection carries one request at a time and goes back to
//! the pool when its response body ends; an HTTP/2 connection is shared:
//! the pool hands out clones of its handle while it is open.

use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery, Uri};
use http::{Request, Response, Version};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2, TrySendError};

use crate::body::ReqBody;
use crate::spec::BackendAddr;

/// A request handle on one backend connection.
pub(crate) enum Sender {
    Http1(http1::SendRequest<ReqBody>),
    Http2(http2::SendRequest<ReqBody>),
}

impl Sender {
    /// The connection is gone (closed by either side, or broken).
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Sender::Http1(s) => s.is_closed(),
            Sender::Http2(s) => s.is_closed(),
        }
    }

    /// A second handle on the same connection, for HTTP/2 (multiplexed);
    /// `None` for HTTP/1.1.
    pub(crate) fn share(&self) -> Option<Sender> {
        match self {
            Sender::Http1(_) => None,
            Sender::Http2(s) => Some(Sender::Http2(s.clone())),
        }
    }

    /// Waits until the connection can take a request.
    pub(crate) async fn ready(&mut self) -> hyper::Result<()> {
        match self {
            Sender::Http1(s) => s.ready().await,
            Sender::Http2(s) => s.ready().await,
        }
    }

    /// Sends `req`, first shaped for this connection's protocol; a request
    /// the connection did not take comes back in the error.
    pub(crate) async fn try_send_request(
        &mut self,
        mut req: Request<ReqBody>,
        target: &BackendAddr,
    ) -> Result<Response<Incoming>, TrySendError<Request<ReqBody>>> {
        match self {
            Sender::Http1(s) => {
                shape_http1(&mut req);
                s.try_send_request(req).await
            }
            Sender::Http2(s) => {
                shape_http2(&mut req, target);
                s.try_send_request(req).await
            }
        }
    }
}

/// Origin-form target, HTTP/1.1.
pub(crate) fn shape_http1(req: &mut Request<ReqBody>) {
    // A request shaped for HTTP/2 that came back unsent has its Host in
    // the URI's authority.
    if !req.headers().contains_key(header::HOST) {
        let host = req.uri().authority().map(|a| a.as_str().to_owned());
        if let Some(host) = host.and_then(|h| HeaderValue::from_str(&h).ok()) {
            req.headers_mut().insert(header::HOST, host);
        }
    }
    if req.uri().scheme().is_some() || req.uri().authority().is_some() {
        let path = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        *req.uri_mut() = Uri::from(path);
    }
    *req.version_mut() = Version::HTTP_11;
}

/// Absolute URI (`:scheme` from the backend, `:authority` from `Host`, or
/// the backend's address without one), HTTP/2.
fn shape_http2(req: &mut Request<ReqBody>, target: &BackendAddr) {
    let authority = req
        .headers()
        .get(header::HOST)
        .and_then(|h| Authority::try_from(h.as_bytes()).ok())
        .or_else(|| Authority::try_from(target.to_string()).ok());
    let path = req
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(target.scheme.uri_scheme());
    parts.authority = authority;
    parts.path_and_query = Some(path);
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
    // `:authority` replaces Host: nginx refuses both ("duplicate host
    // header").
    req.headers_mut().remove(header::HOST);
    *req.version_mut() = Version::HTTP_2;
}
