//! Forward authentication, as Traefik's `forwardAuth`: ask an auth service
//! with the client's headers; 2xx lets the request through (carrying the
//! headers the service chose to add), anything else is the answer.

use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode};

use crate::body::empty_body;
use crate::client::{BackendClient, Chain, SendError};
use crate::conn::ConnState;
use crate::headers::{
    add_identity, name_equals, name_has_prefix, remove_where, set_forwarded, strip_hop_by_hop,
    strip_proxy_only, X_FORWARDED_METHOD, X_FORWARDED_URI,
};
use crate::pages::RespBody;
use crate::pool::BackendBody;
use crate::spec::{BackendAddr, ForwardAuthSpec};

/// Which auth response headers travel on to the backend.
#[derive(Debug)]
pub(crate) enum CopyRule {
    /// `remote-*` and `x-auth*`.
    Default,
    /// These names (lowercase).
    Named(Vec<String>),
}

impl CopyRule {
    fn new(names: &[String]) -> Self {
        if names.is_empty() {
            CopyRule::Default
        } else {
            CopyRule::Named(
                names
                    .iter()
                    .map(|n| n.to_ascii_lowercase().replace('_', "-"))
                    .collect(),
            )
        }
    }

    pub(crate) fn selects(&self, name: &str) -> bool {
        match self {
            CopyRule::Default => {
                name_has_prefix(name, "remote-") || name_has_prefix(name, "x-auth")
            }
            CopyRule::Named(names) => names.iter().any(|n| name_equals(name, n)),
        }
    }

    /// Removes client-supplied copies of the headers the auth service
    /// vouches for, so a client cannot claim to be `Remote-User: admin` when
    /// the service (or a skipped check) did not say so.
    pub(crate) fn strip(&self, headers: &mut HeaderMap) {
        remove_where(headers, |name| self.selects(name));
    }
}

/// A route's compiled forward-auth settings.
#[derive(Debug)]
pub(crate) struct AuthTarget {
    addr: BackendAddr,
    host: HeaderValue,
    /// `None` when the configured path is not a valid path: fail closed.
    path: Option<PathAndQuery>,
    pub(crate) copy: CopyRule,
}

impl AuthTarget {
    pub(crate) fn new(spec: &ForwardAuthSpec) -> Self {
        let raw = if spec.path_and_query.starts_with('/') {
            spec.path_and_query.clone()
        } else {
            format!("/{}", spec.path_and_query)
        };
        let path = PathAndQuery::try_from(raw).ok();
        if path.is_none() {
            tracing::error!(path = %spec.path_and_query, "invalid forward-auth path; requests will fail");
        }
        let host = HeaderValue::from_str(&spec.url.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("localhost"));
        AuthTarget {
            addr: spec.url.clone(),
            host,
            path,
            copy: CopyRule::new(&spec.copy_headers),
        }
    }
}

pub(crate) enum AuthOutcome {
    /// Proceed, adding these headers to the upstream request.
    Allow(Vec<(HeaderName, HeaderValue)>),
    /// Return the auth service's response to the client.
    Deny(Response<RespBody>),
    /// The auth service could not be asked.
    Failed(StatusCode),
}

/// Asks the auth service about the request described by `parts` (the
/// request with the canonical path the backend will get, in origin form).
/// `host` is the host the client asked for.
pub(crate) async fn check(
    target: &AuthTarget,
    client: &BackendClient,
    timeout: Duration,
    parts: &Parts,
    conn: &ConnState,
    host: Option<&str>,
) -> AuthOutcome {
    let Some(path) = target.path.clone() else {
        return AuthOutcome::Failed(StatusCode::BAD_GATEWAY);
    };
    let mut headers = parts.headers.clone();
    strip_hop_by_hop(&mut headers);
    headers.remove(header::CONTENT_LENGTH);
    strip_proxy_only(&mut headers);
    if let Some(peer) = &conn.info.peer {
        add_identity(&mut headers, peer);
    }
    set_forwarded(&mut headers, &conn.forwarded_for, conn.info.scheme, host);
    if let Ok(method) = HeaderValue::from_str(parts.method.as_str()) {
        headers.insert(X_FORWARDED_METHOD, method);
    }
    let uri = parts.uri.path_and_query().map_or("/", PathAndQuery::as_str);
    if let Ok(uri) = HeaderValue::from_str(uri) {
        headers.insert(X_FORWARDED_URI, uri);
    }
    headers.insert(header::HOST, target.host.clone());

    let mut req = Request::new(empty_body());
    *req.method_mut() = Method::GET;
    *req.uri_mut() = path.into();
    *req.headers_mut() = headers;
    let response = match client.send(&target.addr, req, timeout, None).await {
        Ok(response) => response,
        Err(SendError::Timeout) => return AuthOutcome::Failed(StatusCode::GATEWAY_TIMEOUT),
        // Logged with its cause by the client.
        Err(SendError::Tls(_)) => return AuthOutcome::Failed(StatusCode::BAD_GATEWAY),
        Err(SendError::Connect(e, _) | SendError::Failed(e)) => {
            tracing::debug!(error = %Chain(&*e), "forward-auth request failed");
            return AuthOutcome::Failed(StatusCode::BAD_GATEWAY);
        }
    };
    if response.status().is_success() {
        let copied = response
            .headers()
            .iter()
            .filter(|(name, _)| target.copy.selects(name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        return AuthOutcome::Allow(copied);
    }
    let mut response = response.map(BackendBody::boxed);
    strip_hop_by_hop(response.headers_mut());
    AuthOutcome::Deny(response)
}

#[cfg(test)]
#[path = "forward_auth_tests.rs"]
mod tests;
