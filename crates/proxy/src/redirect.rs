//! The plain-HTTP entrypoint: sends clients to HTTPS, and answers ACME
//! HTTP-01 challenges for the certificates being ordered.

use std::rc::Rc;
use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::conn::ConnState;
use crate::host::normalize_host;
use crate::pages::{error_page, full, page};
use crate::server::{serve_connection, Drain, Handler, HandlerFuture};
use crate::spec::{ConnInfo, ProxyOptions};
use crate::stats::ProxyStats;

/// ACME HTTP-01 challenge responses are served under this path (RFC 8555,
/// section 8.3).
const ACME_CHALLENGE: &str = "/.well-known/acme-challenge/";

/// Looks up the key authorization for an HTTP-01 token of a running order.
pub type Http01Responder = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Serves a plain-HTTP connection that answers every request with a 308 to
/// `https://` + the requested host (without its port) + path and query,
/// except ACME HTTP-01 challenge paths: the key authorization `http01`
/// knows for the token (200, text/plain), else 404. Must run inside a tokio
/// `LocalSet`, like [`crate::Proxy::serve`].
pub async fn serve_redirect<IO>(io: IO, conn: ConnInfo, http01: Option<Http01Responder>)
where
    IO: AsyncRead + AsyncWrite + Unpin + 'static,
{
    serve_redirect_draining(io, conn, None, http01, ProxyStats::new()).await;
}

/// [`serve_redirect`] that closes once `drain` turns true (see
/// [`crate::LiveProxy::drain`]).
pub(crate) async fn serve_redirect_draining<IO>(
    io: IO,
    conn: ConnInfo,
    drain: Drain,
    http01: Option<Http01Responder>,
    stats: Arc<ProxyStats>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let handler = Rc::new(Redirect { http01 });
    serve_connection(io, conn, ProxyOptions::default(), handler, drain, stats).await;
}

struct Redirect {
    http01: Option<Http01Responder>,
}

impl Handler for Redirect {
    fn handle(&self, req: Request<Incoming>, _conn: Rc<ConnState>) -> HandlerFuture {
        let response = if let Some(token) = req.uri().path().strip_prefix(ACME_CHALLENGE) {
            let answer = self
                .http01
                .as_ref()
                .filter(|_| is_token(token))
                .and_then(|lookup| lookup(token));
            match answer {
                Some(key_authorization) => {
                    tracing::debug!("answered an ACME http-01 challenge");
                    let mut response = http::Response::new(full(key_authorization));
                    response
                        .headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                    response
                }
                None => page(StatusCode::NOT_FOUND, "404 not found"),
            }
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

/// Tokens are base64url (RFC 8555, section 8.1); anything else is not one.
fn is_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 256
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn location(req: &Request<Incoming>) -> Option<HeaderValue> {
    let raw = req.uri().authority().map(|a| a.as_str()).or_else(|| {
        req.headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
    })?;
    let host = normalize_host(raw).ok()?;
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
