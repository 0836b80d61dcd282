//! The short pages the proxy answers with when it cannot forward a request.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::body::BoxError;

/// Response bodies: streamed from a backend or one of these pages.
pub(crate) type RespBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// The message shown for a status the proxy generates itself.
pub(crate) fn message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "400 bad request",
        StatusCode::FORBIDDEN => "403 forbidden",
        StatusCode::NOT_FOUND => "404 no route for this host",
        StatusCode::METHOD_NOT_ALLOWED => "405 method not allowed",
        StatusCode::REQUEST_TIMEOUT => "408 request body not received in time",
        StatusCode::NOT_IMPLEMENTED => "501 transfer coding not supported",
        StatusCode::BAD_GATEWAY => "502 bad gateway",
        StatusCode::SERVICE_UNAVAILABLE => "503 no healthy backend",
        StatusCode::GATEWAY_TIMEOUT => "504 gateway timeout",
        _ => "500 internal error",
    }
}

pub(crate) fn error_page(status: StatusCode) -> Response<RespBody> {
    page(status, message(status))
}

/// A small HTML page carrying `text`.
pub(crate) fn page(status: StatusCode, text: &str) -> Response<RespBody> {
    let html =
        format!("<!doctype html>\n<title>{text}</title>\n<h1>{text}</h1>\n<p>wingress</p>\n");
    let mut response = Response::new(full(html));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) fn full(body: impl Into<Bytes>) -> RespBody {
    Full::new(body.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

#[cfg(test)]
#[path = "pages_tests.rs"]
mod tests;
