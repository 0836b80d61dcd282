//! The plain-HTTP entrypoint that only sends clients to HTTPS.

use std::rc::Rc;

use http::header::{self, HeaderValue};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::conn::ConnState;
use crate::pages::{error_page, page};
use crate::router::normalize_host;
use crate::server::{serve_connection, Drain, Handler, HandlerFuture};
use crate::spec::{ConnInfo, ProxyOptions};

/// ACME HTTP-01 challenge responses will be served under this path.
const ACME_CHALLENGE: &str = "/.well-known/acme-challenge/";

/// Serves a plain-HTTP connection that answers every request with a 308 to
/// `https://` + the requested host (without its port) + path and query.
/// ACME HTTP-01 challenge paths get 404 for now. Must run inside a tokio
/// `LocalSet`, like [`crate::Proxy::serve`].
pub async fn serve_redirect<IO>(io: IO, conn: ConnInfo)
where
    IO: AsyncRead + AsyncWrite + Unpin + 'static,
{
    serve_redirect_draining(io, conn, None).await;
}

/// [`serve_redirect`] that closes once `drain` turns true (see
/// [`crate::LiveProxy::drain`]).
pub(crate) async fn serve_redirect_draining<IO>(io: IO, conn: ConnInfo, drain: Drain)
where
    IO: AsyncRead + AsyncWrite + Unpin + 'static,
{
    serve_connection(io, conn, ProxyOptions::default(), Rc::new(Redirect), drain).await;
}

struct Redirect;

impl Handler for Redirect {
    fn handle(&self, req: Request<Incoming>, _conn: Rc<ConnState>) -> HandlerFuture {
        let response = if req.uri().path().starts_with(ACME_CHALLENGE) {
            page(StatusCode::NOT_FOUND, "404 not found")
        } else {
            match location(&req) {
                Some(location) => {
                    let mut response = page(StatusCode::PERMANENT_REDIRECT, "308 moved to https");
                    response.headers_mut().insert(header::LOCATION, location);
                    response
                }
                None => error_page(StatusCode::BAD_REQUEST),
            }
        };
        Box::pin(std::future::ready(response.into()))
    }
}

fn location(req: &Request<Incoming>) -> Option<HeaderValue> {
    let raw = req.uri().authority().map(|a| a.as_str()).or_else(|| {
        req.headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
    })?;
    let host = normalize_host(raw);
    // Only hosts that are valid authorities: the Location must not be
    // steerable into another URL shape.
    if host.is_empty()
        || host
            .parse::<http::uri::Authority>()
            .map(|a| a.as_str() != host)
            .unwrap_or(true)
    {
        return None;
    }
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let path = if path.starts_with('/') { path } else { "/" };
    HeaderValue::from_str(&format!("https://{host}{path}")).ok()
}
