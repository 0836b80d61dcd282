//! `Status` objects and JSON responses, shaped as the real server's.

use std::convert::Infallible;

use bytes::Bytes;
use http::{header, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use serde_json::{json, Value};

/// The body type of every response.
pub(super) type Body = BoxBody<Bytes, Infallible>;

/// A JSON response with `Content-Type: application/json`.
pub(super) fn json_response(code: StatusCode, body: &Value) -> Response<Body> {
    let mut bytes = body.to_string().into_bytes();
    bytes.push(b'\n');
    let mut resp = Response::new(Full::new(Bytes::from(bytes)).boxed());
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// A `Status` object: `status: Failure`, `reason`, `message`, `code`, and
/// `details` when given.
pub(super) fn status_object(
    code: StatusCode,
    reason: &str,
    message: &str,
    details: Option<Value>,
) -> Value {
    let mut s = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    });
    if let Some(d) = details {
        s["details"] = d;
    }
    s
}

/// A failure response carrying a `Status`.
pub(super) fn failure(
    code: StatusCode,
    reason: &str,
    message: &str,
    details: Option<Value>,
) -> Response<Body> {
    json_response(code, &status_object(code, reason, message, details))
}
